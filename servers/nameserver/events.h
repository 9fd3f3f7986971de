// What the NameServer's status page remembers beyond the soft state: a bounded log of the
// events an operator acts on (elections, FileStores registered and dropped, replication and
// repairs, GC rounds), one entry per event with its wall time; the FileStores dropped
// recently (the Namespace forgets a dropped FileStore's figures, the page keeps listing it as
// dropped for a while); and the outcome of the last GC round. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"

namespace chainfs::nameserver {

struct Event {
  int64_t wall_ns = 0;
  std::string kind;  // "election", "filestore", "replication", "gc"
  std::string text;
};

struct DroppedFileStore {
  std::string address;
  int64_t wall_ns = 0;  // when it was dropped
  TimePoint at;
};

struct GcOutcome {
  int64_t wall_ns = 0;  // 0: no round yet
  bool ok = true;
  std::string text;
  int64_t rounds = 0;  // rounds that moved /minver
};

class EventLog {
 public:
  // Keeps the newest `capacity` events, and dropped FileStores for `dropped_memory` (at most
  // `capacity` of them).
  EventLog(const Clock* clock, Duration dropped_memory, size_t capacity = 100);

  void Add(std::string kind, std::string text);
  // Newest first.
  std::vector<Event> Recent() const;

  // A FileStore was dropped / completed a registration (and so is no longer dropped).
  void Dropped(const std::string& address);
  void Registered(const std::string& address);
  // Dropped within the memory and not registered since, newest first.
  std::vector<DroppedFileStore> RecentlyDropped() const;

  // A GC tick ended: a round moved /minver to `min_version` (> 0), no round was due (0: the
  // last outcome stands), or the round stopped short (`error`). Rounds and stops are events
  // too (the same stop again is not a new one).
  void GcRound(int64_t min_version, const std::string& error = "");
  GcOutcome gc() const;

 private:
  const Clock* const clock_;
  const Duration dropped_memory_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<Event> events_;  // oldest first
  std::deque<DroppedFileStore> dropped_;
  GcOutcome gc_;
};

}  // namespace chainfs::nameserver
