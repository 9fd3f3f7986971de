// The mount's Prometheus metrics (chainfs_mount_*): every FUSE operation by type with its
// latency (handler entry to return: each handler replies before it returns), bytes read and
// written through the mount, and closes that failed. Metrics are resolved once, so a FUSE
// call costs one clock read pair and a histogram observation.
#pragma once

#include <array>
#include <memory>

#include "common/metrics/metrics.h"

namespace chainfs::mount {

enum class FuseOp {
  kLookup,
  kForget,
  kGetAttr,
  kSetAttr,
  kReadLink,
  kMkNod,
  kMkDir,
  kSymlink,
  kUnlink,
  kRmDir,
  kRename,
  kLink,
  kOpen,
  kCreate,
  kRead,
  kWrite,
  kFlush,
  kRelease,
  kFsync,
  kOpenDir,
  kReadDir,
  kReleaseDir,
  kFsyncDir,
  kStatFs,
  kFallocate,
  kLseek,
  kGetXattr,
  kListXattr,
  kSetXattr,
  kRemoveXattr,
  kCount
};

struct MountMetrics {
  // Registers in `registry`, or in a registry of its own when null (unit tests).
  explicit MountMetrics(prometheus::Registry* registry);

  std::unique_ptr<prometheus::Registry> own;
  prometheus::Registry& registry;
  std::array<prometheus::Histogram*, static_cast<size_t>(FuseOp::kCount)> op_seconds;
  prometheus::Counter& bytes_read;
  prometheus::Counter& bytes_written;
  prometheus::Counter& failed_closes;
};

}  // namespace chainfs::mount
