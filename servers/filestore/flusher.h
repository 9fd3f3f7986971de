// Group commit for replicated durability (DESIGN.md "Durability"): a background loop that makes
// everything the store committed durable within the flush interval (ObjectStore::
// FlushCommitted), and the wait behind the Flush call (fsync()/fdatasync()/syncfs on the mount):
// it wakes the loop and returns once a flush that started after it completed. In sync mode
// every commit is durable already: no loop, and a wait returns at once.
//
// A failed flush is logged and retried at the next interval; until one succeeds the store
// refuses commits, and waits return the failure.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "common/clock.h"
#include "servers/filestore/object_store.h"

namespace chainfs::filestore {

struct FlushSettings {
  Durability durability = Durability::kReplicated;
  // Replicated mode: the longest a commit waits for its flush to stable storage.
  Duration interval = std::chrono::seconds(1);
};

class Flusher {
 public:
  // The store must have been opened with settings.durability.
  Flusher(ObjectStore* store, FlushSettings settings, const Clock* clock = SystemClock::Get());
  ~Flusher();

  void Start();  // the loop, in replicated mode
  // Ends the loop, flushes what is left and records a clean stop (nothing to verify at the
  // next start). Waits still pending get the final flush's result; later ones UNAVAILABLE.
  absl::Status Stop();

  // Returns once everything committed before the call is on stable storage: OK, the failure
  // of the flush that should have covered it, DEADLINE_EXCEEDED at `deadline`, or
  // UNAVAILABLE once stopped.
  absl::Status WaitFlushed(TimePoint deadline);
  // One flush now (what the loop runs); public for tests.
  absl::Status FlushNow();

  int64_t flushes() const;  // completed, failed or not
  int64_t failures() const;

 private:
  // One flush (flush_mu_ held); with `clean`, the last one, recording a clean stop.
  absl::Status RunFlush(bool clean);

  ObjectStore* const store_;

  const FlushSettings settings_;
  const Clock* const clock_;
  std::mutex flush_mu_;  // one flush at a time
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t started_ = 0;    // flushes begun
  int64_t completed_ = 0;  // flushes ended
  int64_t failures_ = 0;
  absl::Status last_;  // of the last flush that ended
  bool stopped_ = false;
  Ticker ticker_;
  std::thread thread_;
};

}  // namespace chainfs::filestore
