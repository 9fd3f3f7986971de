// Replication: every latest version (file or tombstone) with fewer live holders than the
// replication factor (or than the live FileStores, when fewer) gets copyFile on new
// FileStores, chosen by placement, pulling from its live holders. At most
// max_concurrent_copies copies run at once.
//
// Stale copies (older versions a FileStore still has) are not deleted here: they are
// below the next GC's /minver and the FileStores drop them then. A version that doCreate
// handed out less than create_grace ago is left to its chain. A tombstone without a live
// holder (its holders were dropped, older copies remain) is re-written with Delete.
//
// It also tracks the creates in flight (handed out, not yet reported by any FileStore,
// younger than create_timeout) so GC picks its version below all of them, and it leaves
// alone the names GC is relabelling right now: holders answer one after another, and a
// name relabelled on some of them is not under-replicated, only half-way.
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/client/filestore_api.h"
#include "servers/nameserver/namespace.h"
#include "servers/nameserver/placement.h"
#include "servers/nameserver/settings.h"

namespace chainfs::nameserver {

class Replicator {
 public:
  Replicator(Namespace* ns, FileStoreApi* ops, Placement* placement, const Clock* clock,
             const NameServerSettings& settings);

  // doCreate handed out name@version to a chain.
  void CreateStarted(const std::string& name, int64_t version);
  // A FileStore reported name@version: that create is no longer in flight.
  void CreateReported(const std::string& name, int64_t version);
  // The oldest version handed out by doCreate that is still in flight.
  std::optional<int64_t> OldestCreateInFlight();
  // GC is relabelling names to `version` (0: no longer): names at that version are left
  // alone until it has applied every holder's answer.
  void SetBumping(int64_t version) { bumping_ = version; }

  struct Result {
    size_t copied = 0;
    size_t failed = 0;
  };
  // One pass over every under-replicated name. Passes never overlap.
  Result RunOnce();
  // Copies the pass under way planned and has not started yet (for metrics).
  size_t queued() const { return queued_; }

 private:
  Namespace* const ns_;
  FileStoreApi* const ops_;
  Placement* const placement_;
  const Clock* const clock_;
  const NameServerSettings settings_;
  std::mutex pass_mu_;
  std::mutex creates_mu_;
  // Versions being created: name -> (version, until when it is left alone).
  std::map<std::string, std::pair<int64_t, TimePoint>> creates_;
  // Creates in flight: version -> (name, until when it counts as in flight).
  std::map<int64_t, std::pair<std::string, TimePoint>> in_flight_;
  std::atomic<int64_t> bumping_{0};
  std::atomic<size_t> queued_{0};
};

}  // namespace chainfs::nameserver
