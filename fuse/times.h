// The mount's side of POSIX times:
// - atime on reads, as the -o relatime (default), noatime and strictatime options say. A
//   read never waits for it and never fails because of it: AtimeUpdater sends the change
//   (SetAttributes with set_atime alone: a clone of the version, no data moves) from a
//   thread of its own, at most once per inode per interval.
// - LocalTimes: times this mount knows before the NameServer does (a directory in which a
//   file was created here and is stored only at close; an atime update on its way). They are
//   laid over what the NameServer says until it says as much, or for `hold` at most.
#pragma once

#include <sys/stat.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "absl/status/status.h"
#include "common/clock.h"
#include "proto/chainfs.pb.h"

namespace chainfs::mount {

// A timespec as nanoseconds since the epoch.
inline int64_t Nanos(const timespec& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }

enum class AtimeMode { kRelatime, kNoatime, kStrictatime };

struct TimesSettings {
  AtimeMode atime = AtimeMode::kRelatime;
  // At most one atime update per inode per this (strictatime on a file read again and again).
  Duration atime_interval = std::chrono::seconds(1);
  // How long a time known only here is laid over the NameServer's answer at most.
  Duration local_hold = std::chrono::seconds(60);
};

// relatime's 24 hours: an atime older than this is updated by a read even when it is newer
// than mtime and ctime.
inline constexpr int64_t kRelatimeMaxAgeNs = int64_t{24} * 3600 * 1'000'000'000;

// Parses a mount option "relatime", "noatime" or "strictatime"; false for anything else.
bool ParseAtimeOption(const std::string& option, AtimeMode* mode);

// Whether a read at `now_ns` moves atime: never with noatime, always with strictatime; with
// relatime when atime <= mtime, atime <= ctime, or atime is more than 24 hours old.
bool AtimeDue(AtimeMode mode, const v1::Attributes& attributes, int64_t now_ns);

// Sets st_atim, st_mtim and st_ctim from `attributes` (atime and ctime 0 read as mtime).
void FillTimes(const v1::Attributes& attributes, struct stat* st);

class LocalTimes {
 public:
  LocalTimes(const Clock* clock, Duration hold) : clock_(clock), hold_(hold) {}

  // An entry was created in or removed from directory `ino` here at `now_ns`.
  void EntriesChanged(uint64_t ino, int64_t now_ns);
  // File `ino` was read at `now_ns` and its atime update is on its way.
  void Accessed(uint64_t ino, int64_t now_ns);
  // Times of `ino` were set explicitly (utimensat, chmod): what was known here is obsolete.
  void Forget(uint64_t ino);
  // Lays the times known here over `st` (of inode st->st_ino) where they are newer; forgets
  // those the NameServer's answer caught up with.
  void Apply(struct stat* st);

 private:
  struct Times {
    int64_t atime_ns = 0;
    int64_t mtime_ns = 0;  // also ctime: only entry changes set it
    TimePoint until;
  };
  const Clock* const clock_;
  const Duration hold_;
  std::mutex mu_;
  std::unordered_map<uint64_t, Times> times_;
};

class AtimeUpdater {
 public:
  // `send(ino, atime_ns)` stores the atime of inode `ino` (on this updater's thread).
  using Send = std::function<absl::Status(uint64_t ino, int64_t atime_ns)>;
  AtimeUpdater(const Clock* clock, Duration interval, Send send);
  ~AtimeUpdater();
  AtimeUpdater(const AtimeUpdater&) = delete;
  AtimeUpdater& operator=(const AtimeUpdater&) = delete;

  // Queues an update of `ino`'s atime to `atime_ns`; false (nothing queued) when the inode
  // had one less than the interval ago.
  bool Request(uint64_t ino, int64_t atime_ns);
  // Waits until every queued update was sent (tests).
  void Drain();
  uint64_t sent() const;

 private:
  void Run();

  const Clock* const clock_;
  const Duration interval_;
  const Send send_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, int64_t> queue_;             // ino -> atime, coalesced
  std::unordered_map<uint64_t, TimePoint> last_;  // ino -> last request
  bool busy_ = false;
  bool stop_ = false;
  uint64_t sent_ = 0;
  std::thread thread_;
};

}  // namespace chainfs::mount
