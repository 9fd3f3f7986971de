// Version numbers under the /maxver lease. On taking over, the leader reads M from
// /maxver, assigns from M+1 and first sets /maxver to M+step. It raises /maxver by step
// before handing out a number above it. Every write is a conditional set on the znode
// version last seen, so a deposed leader's raise fails and it stops assigning: no version
// is ever handed out twice.
//
// The raise for the next lease starts while the current one still has step/2 numbers
// left (done by the caller that crosses that mark, without the lock), so creates only
// wait for ZooKeeper when the ZooKeeper write is slower than step creates.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "absl/status/statusor.h"
#include "common/zk/zookeeper.h"

namespace chainfs::nameserver {

inline constexpr char kMaxVerPath[] = "/maxver";

class VersionAllocator {
 public:
  VersionAllocator(zk::ZooKeeper* zk, int64_t step);

  // Reads /maxver and takes the first lease. Fails (and stays inactive) when ZooKeeper
  // refuses, e.g. another leader moved /maxver in between.
  absl::Status TakeOver();
  // Stops assigning (leadership lost). Waiters get UNAVAILABLE.
  void Deactivate();

  // The next version; UNAVAILABLE when not active or fenced off.
  absl::StatusOr<int64_t> Allocate();

  // Versions handed out from now on are above `seen`, a version a FileStore holds. Only a
  // lost or rolled back /maxver (ZooKeeper without its data) lets one reach next(): then
  // /maxver is raised past it first.
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
};

}  // namespace chainfs::nameserver
