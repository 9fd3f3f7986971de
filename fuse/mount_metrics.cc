#include "fuse/mount_metrics.h"

namespace chainfs::mount {

namespace {

// The `op` label of each FuseOp, in order.
constexpr std::array<const char*, static_cast<size_t>(FuseOp::kCount)> kOpNames = {
    "lookup",    "forget",  "getattr",  "setattr",    "readlink", "mknod",
    "mkdir",     "symlink", "unlink",   "rmdir",      "rename",   "link",
    "open",      "create",  "read",     "write",      "flush",    "release",
    "fsync",     "opendir", "readdir",  "releasedir", "fsyncdir", "statfs",
    "fallocate", "lseek",   "getxattr", "listxattr",  "setxattr", "removexattr"};

}  // namespace

MountMetrics::MountMetrics(prometheus::Registry* r)
    : registry(RegistryOr(r, own)),
      bytes_read(NewCounter(registry, "chainfs_mount_read_bytes_total",
                            "Bytes read by processes through the mount.")),
      bytes_written(NewCounter(registry, "chainfs_mount_written_bytes_total",
                               "Bytes written by processes through the mount.")),
      failed_closes(NewCounter(registry, "chainfs_mount_failed_closes_total",
                               "close() calls that returned an error (the upload failed; the "
                               "staged file is kept).")) {
  auto& family = HistogramFamily(registry, "chainfs_mount_fuse_op_seconds",
                                 "FUSE operations by type and their latency, in seconds.");
  for (size_t i = 0; i < kOpNames.size(); ++i) {
    op_seconds[i] = &family.Add({{"op", kOpNames[i]}}, LatencyBuckets());
  }
}

}  // namespace chainfs::mount
