// A file being written through the mount: its bytes live in a local staging file under the
// cache directory until they are uploaded (on flush/fsync). One StagedFile per inode is
// shared by every handle open on it, so reads see the writes of other handles before close.
// When an upload fails for good the staged file is kept on disk (Keep) and its path logged:
// data is never silently dropped.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/chainfs.pb.h"

namespace chainfs::mount {

class StagedFile {
 public:
  // Creates an empty staging file at `path` (which must not exist).
  static absl::StatusOr<std::unique_ptr<StagedFile>> Create(const std::string& path,
                                                            const v1::Attributes& attributes);
  ~StagedFile();  // closes the file and removes it unless Keep() was called
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;

  // Data access; writes and truncation mark the file dirty and move mtime to `now_ns`.
  absl::StatusOr<size_t> Read(char* buf, size_t size, int64_t offset);
  absl::StatusOr<size_t> Write(const char* data, size_t size, int64_t offset, int64_t now_ns);
  absl::Status Truncate(int64_t size, int64_t now_ns);
  absl::StatusOr<int64_t> Size() const;

  // Attributes the next upload carries; set_mtime pins mtime until the next write.
  v1::Attributes attributes() const;
  void SetAttributes(const v1::Attributes& attributes, bool mode, bool uid, bool gid, bool mtime);

  // Dirty = modified since the last successful upload. An upload takes generation() before
  // reading the file and calls MarkUploaded with it, so writes racing the upload stay dirty.
  bool dirty() const;
  void MarkDirty();
  uint64_t generation() const;
  void MarkUploaded(uint64_t generation);

  void Keep();  // leave the file on disk when this object goes away
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // Serializes uploads of this file (held for the whole upload).
  std::mutex& upload_mutex() { return upload_mu_; }

  // Open write handles; the last one to release drops the inode's staging.
  int writers = 0;

 private:
  StagedFile(std::string path, int fd, const v1::Attributes& attributes);

  const std::string path_;
  const int fd_;
  std::mutex upload_mu_;
  mutable std::mutex mu_;
  v1::Attributes attributes_;
  uint64_t generation_ = 0;
  uint64_t uploaded_generation_ = 0;
  bool kept_ = false;
};

}  // namespace chainfs::mount
