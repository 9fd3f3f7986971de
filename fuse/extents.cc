#include "fuse/extents.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "common/status.h"
#include "fuse/errors.h"

namespace chainfs::mount {
namespace {

constexpr size_t kZeroRunBytes = 4096;

absl::Status FromErrno(int err, std::string_view what) {
  return ErrnoError(err, fmt::format("{}: {}", what, std::strerror(err)));
}

// Zeros written over [offset, end) (as much of it as lies inside the file when keep_size).
absl::Status WriteZeros(int fd, int64_t offset, int64_t end) {
  const std::string zeros(1 << 20, '\0');
  for (int64_t at = offset; at < end;) {
    const auto n = static_cast<size_t>(std::min<int64_t>(zeros.size(), end - at));
    if (::pwrite(fd, zeros.data(), n, at) != static_cast<ssize_t>(n)) {
      return FromErrno(errno ? errno : EIO, "write zeros");
    }
    at += static_cast<int64_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> FileSize(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return FromErrno(errno, "stat staging file");
  return int64_t{st.st_size};
}

}  // namespace

absl::Status AllocateRange(int fd, int mode, int64_t offset, int64_t length) {
  if (offset < 0 || length <= 0) return ErrnoError(EINVAL, "fallocate: bad range");
  const bool keep = mode & FALLOC_FL_KEEP_SIZE;
  const int kind = mode & ~FALLOC_FL_KEEP_SIZE;
  if (kind != 0 && kind != FALLOC_FL_PUNCH_HOLE && kind != FALLOC_FL_ZERO_RANGE) {
    return ErrnoError(EOPNOTSUPP, fmt::format("fallocate mode {:#x} is not supported", mode));
  }
  if (kind == FALLOC_FL_PUNCH_HOLE && !keep) {
    return ErrnoError(EOPNOTSUPP, "fallocate: PUNCH_HOLE needs KEEP_SIZE");
  }
  if (::fallocate(fd, mode, offset, length) == 0) return absl::OkStatus();
  const int err = errno;
  if (err != EOPNOTSUPP || kind == 0) return FromErrno(err, "fallocate");
  // The staging file system lacks this mode: the same content by other means.
  CHAINFS_ASSIGN_OR_RETURN(int64_t size, FileSize(fd));
  const int64_t end = offset + length;
  if (kind == FALLOC_FL_ZERO_RANGE &&
      ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) != 0) {
    CHAINFS_RETURN_IF_ERROR(WriteZeros(fd, offset, std::min(end, size)));
  } else if (kind == FALLOC_FL_PUNCH_HOLE) {
    CHAINFS_RETURN_IF_ERROR(WriteZeros(fd, offset, std::min(end, size)));
  }
  if (!keep && end > size && ::ftruncate(fd, end) != 0) return FromErrno(errno, "extend");
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SeekExtent(int fd, int64_t offset, int whence) {
  if (whence != SEEK_DATA && whence != SEEK_HOLE) {
    return ErrnoError(EINVAL, "only SEEK_DATA and SEEK_HOLE are answered here");
  }
  const off_t at = ::lseek(fd, offset, whence);
  if (at < 0) return FromErrno(errno, "seek");
  return int64_t{at};
}

absl::Status WriteSkippingZeros(int fd, const char* data, size_t size, int64_t offset) {
  size_t at = 0;
  while (at < size) {
    // The next run of data, cut at block boundaries of the file.
    const size_t first = static_cast<size_t>(offset + at) % kZeroRunBytes;
    size_t len = std::min(size - at, kZeroRunBytes - first);
    if (std::string_view(data + at, len).find_first_not_of('\0') == std::string_view::npos) {
      at += len;
      continue;
    }
    size_t end = at + len;
    while (end < size) {
      const size_t next = std::min(size - end, kZeroRunBytes);
      if (std::string_view(data + end, next).find_first_not_of('\0') == std::string_view::npos) {
        break;
      }
      end += next;
    }
    const ssize_t n = ::pwrite(fd, data + at, end - at, offset + static_cast<int64_t>(at));
    if (n != static_cast<ssize_t>(end - at)) return FromErrno(errno ? errno : EIO, "write");
    at = end;
  }
  return absl::OkStatus();
}

}  // namespace chainfs::mount
