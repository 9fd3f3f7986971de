// Garbage collection, as the spec has it. Every gc_interval the leader reserves a
// version (never handed to a client) and remembers when. A round runs when more than
// gc_min_new_versions versions were allocated since the last one: it takes the newest
// reserved version G at least gc_version_age old, relabels every live latest file below G
// to G with bumpVersion on the FileStores holding that latest version — (name, expected
// version) pairs, so an outdated copy is never promoted —, makes sure everything is fully
// replicated, and only then sets /minver to G (conditional set: a deposed leader's write
// fails). FileStores then drop every file and tombstone below G.
//
// What GC deletes cannot come back, so it acts only on a complete view:
// - a round starts only when every FileStore listed under /filestores, and every live
//   one, has finished its registration, at least one is live, and none was dropped less
//   than dropped_filestore_memory ago without registering again since;
// - a round in which any FileStore was dropped (or its registration restarted) is
//   abandoned before /minver is written;
// - G is below every create still in flight (Replicator::OldestCreateInFlight);
// - bumps go to every holder at once and are applied per name only after all holders
//   answered, so replication never sees a name half-way; a name that some holders could
//   not relabel keeps the others' copies (stale, never below /minver until the name is
//   whole again) and the round does not move /minver;
// - a round that stopped short is retried with the same G, so only names not yet at G
//   are bumped again.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>

#include "absl/status/statusor.h"
#include "common/client/filestore_api.h"
#include "common/clock.h"
#include "common/zk/zookeeper.h"
#include "servers/nameserver/namespace.h"
#include "servers/nameserver/replicator.h"
#include "servers/nameserver/settings.h"
#include "servers/nameserver/version_allocator.h"

namespace chainfs::nameserver {

inline constexpr char kMinVerPath[] = "/minver";
inline constexpr char kFileStoresPath[] = "/filestores";

class GarbageCollector {
 public:
  GarbageCollector(Namespace* ns, FileStoreApi* ops, VersionAllocator* allocator,
                   Replicator* replicator, zk::ZooKeeper* zk, Clock* clock,
                   const NameServerSettings& settings);

  // Just became leader (the allocator has its lease): reads /minver, reserves a version.
  absl::Status TakeOver();
  // One GC tick: reserves a version and runs a round when one is due. Returns the new
  // /minver, 0 when no round was due, or why the round stopped short.
  absl::StatusOr<int64_t> RunOnce();

  int64_t min_version() const;

 private:
  struct Reserved {
    int64_t version;
    TimePoint at;
  };
  absl::Status Reserve();
  // Settles an unresolved /minver write; OK when there is none (left).
  absl::Status SettleMinVer();
  // /minver is now g at znode version zv: adopt it.
  void Adopt(int64_t g, int32_t zv);
  // Why the NameServer's view is not complete enough for GC; OK when it is.
  absl::Status CheckCompleteView() const;
  // Relabels every live latest file below g; how many names were relabelled on all their
  // holders, or why some were not.
  absl::StatusOr<size_t> Bump(int64_t g);

  Namespace* const ns_;
  FileStoreApi* const ops_;
  VersionAllocator* const allocator_;
  Replicator* const replicator_;
  zk::ZooKeeper* const zk_;
  Clock* const clock_;
  const NameServerSettings settings_;

  mutable std::mutex mu_;
  std::deque<Reserved> reserved_;
  int64_t min_version_ = 0;
  int32_t minver_znode_version_ = -1;
  int64_t baseline_next_ = 0;  // allocator_->next() after the last round
  int64_t reserved_since_baseline_ = 0;
  int64_t retry_version_ = 0;  // G of a round that stopped short (0: none)
  // A /minver write whose outcome is unknown (its reply was lost): settled with
  // zk::ResolveSet before anything else is written there. 0: none.
  int64_t unresolved_minver_ = 0;
};

}  // namespace chainfs::nameserver
