// Background scrub: re-reads every stored object at a bounded rate and verifies it against
// its block checksums, so a flipped byte on an object nobody reads is found too. A corrupt
// object is dropped from the store and reported (the NameServer re-replicates it from a
// good copy). Progress and finds are counted for status.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "servers/filestore/object_store.h"

namespace chainfs::filestore {

struct ScrubSettings {
  // Bytes verified per second. Negative: one full pass per day (bytes used / 86400, at
  // least 1 MiB/s). 0: no scrub.
  int64_t bytes_per_second = -1;
  // Pause between passes.
  Duration pass_interval = std::chrono::minutes(1);
};

struct ScrubStats {
  int64_t objects_checked = 0;  // since start
  int64_t bad_found = 0;        // since start
  int64_t passes = 0;           // full passes completed
  int64_t pass_bytes_done = 0;  // of the pass under way
  int64_t pass_bytes_total = 0;
};

class Scrubber {
 public:
  // report_bad(name, version) is called for each corrupt object after it was dropped.
  using ReportBadFn = std::function<void(const std::string& name, int64_t version)>;
  Scrubber(ObjectStore* store, ReportBadFn report_bad, ScrubSettings settings);
  ~Scrubber();

  void Start();  // nothing when the rate is 0
  void Stop();

  // One whole pass over what the store holds now; public for tests.
  void RunPass();
  ScrubStats stats() const;
  // The rate in force now (bytes per second).
  int64_t rate() const;

 private:
  // Verifies one object; false when it was found corrupt (and dropped and reported).
  bool Verify(const v1::FileInfo& file);

  ObjectStore* store_;
  ReportBadFn report_bad_;
  ScrubSettings settings_;
  Ticker ticker_;
  std::thread thread_;
  std::atomic<int64_t> objects_checked_{0};
  std::atomic<int64_t> bad_found_{0};
  std::atomic<int64_t> passes_{0};
  std::atomic<int64_t> pass_bytes_done_{0};
  std::atomic<int64_t> pass_bytes_total_{0};
  std::string buffer_;
};

}  // namespace chainfs::filestore
