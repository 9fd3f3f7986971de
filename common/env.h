// The file system as the object store and the mount's staging see it, after LevelDB's Env:
// every call that reads, changes or makes durable a file or a directory goes through an Env,
// so a test swaps in one that fails an fsync, fills the disk or "crashes" between two steps
// of a commit (common/fault_env.h). PosixEnv (Env::Default()) is the real thing.
//
// Files stay plain descriptors underneath (File::fd()): hints (posix_fadvise,
// sync_file_range), O_DIRECT and handing a descriptor to an upload keep working; only what
// changes the disk or its durability must use the File's methods.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace chainfs {

// An absl::Status for a failed system call: the errno mapped to a code, with context.
absl::Status ErrnoStatus(std::string_view what, int err);
// Reads up to `size` bytes at `offset`, retrying short reads and EINTR: fewer only at the
// end of the file. -1 with errno on failure.
ssize_t PreadFull(int fd, char* buf, size_t size, int64_t offset);

// An open file. Closed when destroyed.
class File {
 public:
  virtual ~File() = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Writes all of `data` at `offset` (retrying short writes and EINTR), or fails; on failure
  // part of it may be in the file.
  virtual absl::Status WriteAt(std::string_view data, int64_t offset) = 0;
  // Up to `size` bytes at `offset`: fewer only at the end of the file.
  virtual absl::StatusOr<size_t> ReadAt(char* buf, size_t size, int64_t offset) = 0;
  // fsync: the content and size are on stable storage (not yet the directory entry).
  virtual absl::Status Sync() = 0;
  virtual absl::Status Truncate(int64_t size) = 0;
  virtual absl::StatusOr<int64_t> Size() const = 0;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 protected:
  File(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

 private:
  const std::string path_;
  const int fd_;
};

class Env {
 public:
  virtual ~Env() = default;
  // The process-wide PosixEnv; never destroyed.
  static Env* Default();

  // open(2) with `flags` (O_CREAT, O_EXCL, O_DIRECT, ...); O_CLOEXEC is added.
  virtual absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, int flags,
                                                     mode_t mode = 0644) = 0;
  // rename(2): replaces `to` atomically; durable once the directory is synced.
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  // link(2): a second name for the content of `from`.
  virtual absl::Status Link(const std::string& from, const std::string& to) = 0;
  // NOT_FOUND when there is no such file.
  virtual absl::Status Unlink(const std::string& path) = 0;
  // mkdir -p.
  virtual absl::Status MakeDirectories(const std::string& dir) = 0;
  // The names in `dir` (files and directories, without "." and "..").
  virtual absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& dir) = 0;
  // stat(2)'s size of the file at `path`.
  virtual absl::StatusOr<int64_t> FileSize(const std::string& path) = 0;
  // Makes the entries of `dir` (creates, renames, unlinks) durable.
  virtual absl::Status SyncDirectory(const std::string& dir) = 0;
  // syncfs(2) through an open file (a directory) on the file system: everything written there
  // is durable, files and directory entries alike. Keep `on` open between calls: syncfs
  // reports the write-back errors that happened since it was opened.
  virtual absl::Status SyncFileSystem(const File& on) = 0;
};

// What the operating system does; stateless.
class PosixEnv : public Env {
 public:
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, int flags,
                                             mode_t mode) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Link(const std::string& from, const std::string& to) override;
  absl::Status Unlink(const std::string& path) override;
  absl::Status MakeDirectories(const std::string& dir) override;
  absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& dir) override;
  absl::StatusOr<int64_t> FileSize(const std::string& path) override;
  absl::Status SyncDirectory(const std::string& dir) override;
  absl::Status SyncFileSystem(const File& on) override;
};

}  // namespace chainfs
