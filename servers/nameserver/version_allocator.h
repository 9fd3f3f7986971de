// Version numbers under the /maxver lease. On taking over, the leader reads M from
// /maxver, assigns from M+1 and first sets /maxver to M+step. It raises /maxver by step
// before handing out a number above it. Every write is a conditional set on the znode
// version last seen, so a deposed leader's raise fails and it stops assigning: no version
// is ever handed out twice.
//
// The raise for the next lease starts while the current one still has step/2 numbers
// left (done by the caller that crosses that mark, without the lock), so creates only
// wait for ZooKeeper when the ZooKeeper write is slower than step creates.
//
// A raise whose reply was lost (connection loss, timeout) is resolved by re-reading
// /maxver (zk::SetAndResolve): our value there -> adopted; someone else's -> fenced off;
// unreadable -> resolved before the next raise. All arithmetic is overflow-checked:
// versions from outside above kMaxAcceptedVersion are refused, and /maxver never goes above
// kMaxLease, negative or wrapped.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>

#include "absl/status/statusor.h"
#include "common/zk/zookeeper.h"

namespace chainfs::nameserver {

inline constexpr char kMaxVerPath[] = "/maxver";
// The highest version accepted from outside (SkipPast): 2^62, far above any real use and
// far enough below 2^63 that no lease arithmetic can overflow.
inline constexpr int64_t kMaxAcceptedVersion = int64_t{1} << 62;
// /maxver never goes above this (2^62 + 2^61); a /maxver above it, negative or not a number
// is corrupt, and TakeOver treats it as lost.
inline constexpr int64_t kMaxLease = kMaxAcceptedVersion + (kMaxAcceptedVersion >> 1);
// The largest /maxver step accepted (larger settings are clamped).
inline constexpr int64_t kMaxStep = int64_t{1} << 40;

class VersionAllocator {
 public:
  VersionAllocator(zk::ZooKeeper* zk, int64_t step);

  // Reads /maxver and takes the first lease. Fails (and stays inactive) when ZooKeeper
  // refuses, e.g. another leader moved /maxver in between. A corrupt /maxver (see
  // kMaxLease) is logged and treated as lost: assigning starts at 1, and the versions the
  // FileStores register move it past theirs (SkipPast).
  absl::Status TakeOver();
  // Stops assigning (leadership lost). Waiters get UNAVAILABLE.
  void Deactivate();

  // The next version; UNAVAILABLE when not active or fenced off.
  absl::StatusOr<int64_t> Allocate();

  // Versions handed out from now on are above `seen`, a version a FileStore holds. Only a
  // lost or rolled back /maxver (ZooKeeper without its data) lets one reach next(): then
  // /maxver is raised past it first. INVALID_ARGUMENT for a negative `seen` or one above
  // kMaxAcceptedVersion (nothing changes then).
  absl::Status SkipPast(int64_t seen);

  bool active() const;
  int64_t next() const;   // the version Allocate would return
  int64_t limit() const;  // the /maxver this leader last wrote

 private:
  // Runs one raise of /maxver to `target` without the lock; `lock` is held on entry and
  // exit. limit() is `target` when it worked.
  void RaiseLocked(std::unique_lock<std::mutex>& lock, int64_t target);

  zk::ZooKeeper* const zk_;
  const int64_t step_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool active_ = false;
  bool raising_ = false;
  uint64_t generation_ = 0;  // bumped by TakeOver/Deactivate: a raise in flight is void
  int64_t next_ = 0;
  int64_t limit_ = 0;
  int32_t znode_version_ = -1;
  // A raise whose outcome is still unknown: /maxver may hold `target` at znode version
  // expected + 1. Resolved before any other raise.
  struct Unresolved {
    int64_t target;
    int32_t expected;
  };
  std::optional<Unresolved> unresolved_;
};

}  // namespace chainfs::nameserver
