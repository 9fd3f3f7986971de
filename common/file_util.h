// Crash-safe files. Everything that must survive a crash is written through
// WriteFileAtomically or an AtomicFile: temp file, fsync, rename, fsync of the directory,
// so a reader sees either the old file or the whole new one, never a torn one.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace chainfs {

// Suffix of temp files; start-up recovery removes any file carrying it.
inline constexpr std::string_view kTempSuffix = ".tmp";

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents);
absl::StatusOr<std::string> ReadFileToString(const std::string& path);
absl::Status FsyncDirectory(const std::string& dir);
absl::Status MakeDirectories(const std::string& dir);
// Reads up to `size` bytes at `offset`, retrying short reads and EINTR: fewer only at the
// end of the file. -1 with errno on failure.
ssize_t PreadFull(int fd, char* buf, size_t size, int64_t offset);
// An absl::Status for a failed system call: the errno mapped to a code, with context.
absl::Status ErrnoStatus(std::string_view what, int err);

// A file written sequentially under "<path>.tmp" that appears at <path> only on Commit().
// Destroying it uncommitted removes the temp file.
class AtomicFile {
 public:
  static absl::StatusOr<AtomicFile> Create(const std::string& path);
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  ~AtomicFile();

  absl::Status Append(std::string_view data);
  // fsync, rename into place, fsync the directory (unless sync_dir is false, for callers
  // that commit several files and sync the directory once).
  absl::Status Commit(bool sync_dir = true);
  int fd() const { return fd_; }
  int64_t size() const { return size_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  AtomicFile(std::string path, std::string temp_path, int fd);
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  int64_t size_ = 0;
};

}  // namespace chainfs
