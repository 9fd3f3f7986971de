// DirTimes: persists the times of directories lazily. Creating or removing an entry moves
// its directory's mtime and ctime in the NameServer's soft state at once (Namespace::
// TouchDirectory), so every stat sees them; writing them to the FileStores costs a new
// version of the directory's entry (a Clone on its holders: no data moves), which DirTimes
// does at most once per `interval` per directory, for every change in that interval
// together, off the caller's path (Flush, run by the NameServer's loop).
//
// What a NameServer crash can lose: the times of changes from the last `interval` (a
// directory's mtime and ctime fall back to the last persisted ones when the next leader
// rebuilds its soft state). Never an entry and never file data: those are stored before
// the call that made them returns.
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/clock.h"

namespace chainfs::nameserver {

class DirTimes {
 public:
  // `persist(dir)` writes the soft state's times of `dir` as a new version of its entry
  // (OK when there is nothing to write any more).
  using Persist = std::function<absl::Status(const std::string& dir)>;
  DirTimes(Clock* clock, Duration interval, Persist persist);

  // `dir`'s times changed in the soft state: persist them within the interval.
  void Touched(const std::string& dir);
  // Persists each directory first touched at least `interval` ago (later touches ride
  // along); a failed one stays pending and is tried again. Returns how many were written.
  size_t Flush();
  // Directories with times not yet persisted.
  size_t pending() const;
  // The soft state is gone (leadership changed): nothing is pending any more.
  void Clear();

 private:
  Clock* const clock_;
  const Duration interval_;
  const Persist persist_;
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, TimePoint> pending_;  // dir -> first unpersisted touch
};

}  // namespace chainfs::nameserver
