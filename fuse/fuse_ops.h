// The libfuse low-level operations table over a Filesystem: each handler calls into the
// Filesystem and answers with exactly one fuse_reply_*.
#pragma once

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include "common/clock.h"
#include "fuse/filesystem.h"
#include "fuse/mount_metrics.h"

namespace chainfs::mount {

// The session's userdata.
struct MountContext {
  Filesystem* fs = nullptr;
  double attr_timeout = 1.0;        // seconds
  double entry_timeout = 1.0;       // seconds
  double negative_timeout = 0;      // seconds; 0: ENOENT is not cached
  std::string mountpoint;           // absolute, as processes on this machine name it
  MountMetrics* metrics = nullptr;  // none: operations are not measured
  const Clock* clock = SystemClock::Get();
};

const fuse_lowlevel_ops& Operations();

}  // namespace chainfs::mount
