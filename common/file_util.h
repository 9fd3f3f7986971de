// Crash-safe files. Everything that must survive a crash is written through
// WriteFileAtomically or an AtomicFile: temp file, fsync, rename, fsync of the directory,
// so a reader sees either the old file or the whole new one, never a torn one. The object
// store commits an object's content and its meta with one directory fsync for both: the meta
// is an AtomicFile committed without its own directory fsync, the content is written by
// ObjectWriter (O_DIRECT) and renamed in the same commit (servers/filestore/object_store.h).
// All of it goes through an Env (common/env.h), so tests inject failures and crashes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/env.h"

namespace chainfs {

// Suffix of temp files; start-up recovery removes any file carrying it.
inline constexpr std::string_view kTempSuffix = ".tmp";

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents,
                                 Env* env = Env::Default());
absl::StatusOr<std::string> ReadFileToString(const std::string& path, Env* env = Env::Default());
absl::Status FsyncDirectory(const std::string& dir, Env* env = Env::Default());
absl::Status MakeDirectories(const std::string& dir, Env* env = Env::Default());
// The directory part of a path ("." for a bare name).
std::string DirOf(const std::string& path);

// A file written sequentially under a temp name ("<path>.tmp" unless given) that appears at
// <path> only on Commit(). Destroying it uncommitted removes the temp file.
class AtomicFile {
 public:
  static absl::StatusOr<AtomicFile> Create(const std::string& path, Env* env = Env::Default(),
                                           std::string temp_path = "");
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  ~AtomicFile();

  absl::Status Append(std::string_view data);
  // fsync of the content under the temp name: durable, not yet visible. Commit does it
  // when it was not done.
  absl::Status Sync();
  // Sync, rename into place, fsync the directory (unless sync_dir is false, for callers
  // that commit several files and sync the directory once; without `sync`, neither fsync:
  // for callers that make it durable later, as the object store's group flush does).
  absl::Status Commit(bool sync_dir = true, bool sync = true);
  int fd() const { return file_ ? file_->fd() : -1; }
  int64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  AtomicFile(Env* env, std::string path, std::string temp_path, std::unique_ptr<File> file);
  Env* env_;
  std::string path_;
  std::string temp_path_;  // empty once committed (or moved from)
  std::unique_ptr<File> file_;
  int64_t size_ = 0;
  bool synced_ = false;
};

}  // namespace chainfs
