// Replication: every latest version (file or tombstone) with fewer live holders than the
// replication factor (or than the live FileStores, when fewer) gets copyFile on new
// FileStores, chosen by placement, pulling from its live holders. At most
// max_concurrent_copies copies run at once.
//
// Stale copies (older versions a FileStore still has) are not deleted here: they are
// below the next GC's /minver and the FileStores drop them then. A version that doCreate
// handed out less than create_grace ago is left to its chain.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <string>

#include "servers/nameserver/filestore_ops.h"
#include "servers/nameserver/namespace.h"
#include "servers/nameserver/placement.h"
#include "servers/nameserver/settings.h"

namespace chainfs::nameserver {

class Replicator {
 public:
  Replicator(Namespace* ns, FileStoreOps* ops, Placement* placement, const Clock* clock,
             const NameServerSettings& settings);

  // doCreate handed out name@version to a chain.
  void CreateStarted(const std::string& name, int64_t version);

  struct Result {
    size_t copied = 0;
    size_t failed = 0;
  };
  // One pass over every under-replicated name. Passes never overlap.
  Result RunOnce();

 private:
  Namespace* const ns_;
  FileStoreOps* const ops_;
  Placement* const placement_;
  const Clock* const clock_;
  const NameServerSettings settings_;
  std::mutex pass_mu_;
  std::mutex creates_mu_;
  // Versions being created: name -> (version, until when it is left alone).
  std::map<std::string, std::pair<int64_t, TimePoint>> creates_;
};

}  // namespace chainfs::nameserver
