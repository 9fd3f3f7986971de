// Replication: every latest version (file or tombstone) with fewer live holders than the
// replication factor (or than the live FileStores, when fewer) gets copyFile on new
// FileStores, chosen by placement, pulling from its live holders. At most
// max_concurrent_copies copies run at once.
//
// Stale copies (older versions a FileStore still has) are not deleted here: they are
// below the next GC's /minver and the FileStores drop them then.
#pragma once

#include <cstddef>
#include <mutex>

#include "servers/nameserver/filestore_ops.h"
#include "servers/nameserver/namespace.h"
#include "servers/nameserver/placement.h"
#include "servers/nameserver/settings.h"

namespace chainfs::nameserver {

class Replicator {
 public:
  Replicator(Namespace* ns, FileStoreOps* ops, Placement* placement,
             const NameServerSettings& settings);

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
  const NameServerSettings settings_;
  std::mutex pass_mu_;
};

}  // namespace chainfs::nameserver
