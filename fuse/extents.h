// Holes and extents of local files, as the mount uses them on staging files: fallocate(2)
// modes mapped onto the staging file's file system (with fallbacks where it lacks one),
// SEEK_DATA/SEEK_HOLE, and writes that leave blocks of zeros as holes (a remote file staged
// for writing stays sparse locally).
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace chainfs::mount {

// fallocate(fd, mode, offset, length) with the modes the mount supports: 0 and
// FALLOC_FL_KEEP_SIZE (reserve), FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE, FALLOC_FL_ZERO_RANGE
// (optionally |FALLOC_FL_KEEP_SIZE). Others, and PUNCH_HOLE without KEEP_SIZE as Linux wants,
// answer EOPNOTSUPP / EINVAL (ErrnoError). A file system without hole punching or zero ranges
// gets the same content by other means (zeros written, the size set).
absl::Status AllocateRange(int fd, int mode, int64_t offset, int64_t length);

// lseek(fd, offset, whence) for SEEK_DATA / SEEK_HOLE; ENXIO at or past the end.
absl::StatusOr<int64_t> SeekExtent(int fd, int64_t offset, int whence);

// pwrite of data at offset, skipping the file-system blocks (4 KiB) that are all zeros, which
// must be holes already (a file being filled from empty, or just truncated). The caller sets
// the size (ftruncate) afterwards. Returns an errno status on failure.
absl::Status WriteSkippingZeros(int fd, const char* data, size_t size, int64_t offset);

}  // namespace chainfs::mount
