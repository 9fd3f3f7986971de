// A file being written through the mount: its bytes live in a local staging file under the
// cache directory until they are uploaded (on flush/fsync). One StagedFile per inode is
// shared by every handle open on it, so reads see the writes of other handles before close.
// When an upload fails for good the staged file is kept on disk (Keep) and its path logged:
// data is never silently dropped.
//
// Write-behind: while a file is written strictly in order from empty (create/O_TRUNC, then
// appends), a background upload may stream its bytes before close. The staged file stays
// the source of truth: the upload reads them back with ReadAppended, which waits for more
// appends. Any other write or truncation ends the append-only state for good, and the
// upload's next read fails, which cancels it (nothing is committed).
//
// Every file operation goes through an Env, so tests make writes fail or the disk fill up: a
// failed write or truncation is an error for the caller, never silently dropped.
//
// Base: the stored version whose content the staging file held when it was staged or last
// uploaded, and the ranges changed since. The next upload sends only those ranges when the
// chain still holds that version (Client::UploadFd, CreateHeader.base_version).
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/client/sparse_upload.h"
#include "common/env.h"
#include "proto/chainfs.pb.h"

namespace chainfs::mount {

class StagedFile {
 public:
  // Creates an empty staging file at `path` (which must not exist), through `env`.
  static absl::StatusOr<std::unique_ptr<StagedFile>> Create(const std::string& path,
                                                            const v1::Attributes& attributes,
                                                            Env* env = Env::Default());
  ~StagedFile();  // closes the file and removes it unless Keep() was called
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;

  // Data access; writes and truncation mark the file dirty and move mtime and ctime to
  // `now_ns`.
  absl::StatusOr<size_t> Read(char* buf, size_t size, int64_t offset);
  absl::StatusOr<size_t> Write(const char* data, size_t size, int64_t offset, int64_t now_ns);
  absl::Status Truncate(int64_t size, int64_t now_ns);
  absl::StatusOr<int64_t> Size() const;
  // fallocate(2) on the staging file (fuse/extents.h): mode 0 and FALLOC_FL_KEEP_SIZE reserve
  // (the size grows without KEEP_SIZE), FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE and
  // FALLOC_FL_ZERO_RANGE (with or without KEEP_SIZE) zero a range; other modes EOPNOTSUPP.
  // Like a write: dirty, mtime moved, appends ended.
  absl::Status Allocate(int mode, int64_t offset, int64_t length, int64_t now_ns);
  // lseek(2) with SEEK_DATA or SEEK_HOLE on the staging file: its holes are the file's.
  absl::StatusOr<int64_t> Seek(int64_t offset, int whence) const;

  // Attributes the next upload carries; set_mtime pins mtime until the next write.
  v1::Attributes attributes() const;
  void SetAttributes(const v1::Attributes& attributes, bool mode, bool uid, bool gid, bool mtime,
                     bool atime = false, bool ctime = false);
  // Applies `change` (extended attributes, mode) to them; its error leaves them unchanged.
  absl::Status UpdateAttributes(const std::function<absl::Status(v1::Attributes*)>& change);

  // Dirty = modified since the last successful upload. An upload takes generation() before
  // reading the file and calls MarkUploaded with it, so writes racing the upload stay dirty.
  bool dirty() const;
  void MarkDirty();
  uint64_t generation() const;
  // `version`: what the upload stored, the base of the next one when nothing changed
  // meanwhile (0: none). Staging a stored version marks it uploaded with its version.
  void MarkUploaded(uint64_t generation, int64_t version = 0);
  // The base version (0: none) and the ranges changed since it, in order.
  struct Base {
    int64_t version = 0;
    std::vector<DataExtent> changed;
  };
  Base base() const;

  // Write-behind. True while every write so far appended at the end of an empty file.
  bool append_only() const;
  // Marks the file as not append-only (a second writer, content staged from elsewhere).
  void StopAppends();
  // Whether MaybeStartWriteBehind would start an upload now (cheap, for every write).
  bool WriteBehindDue(int64_t threshold) const;
  // Starts `upload` on a thread of this file, once per file, when the file is append-only
  // and holds at least `threshold` bytes; `path` is the name it stores the file under.
  // Returns whether it started it.
  bool MaybeStartWriteBehind(int64_t threshold, const std::string& path,
                             std::function<void()> upload);
  std::string write_behind_path() const;
  // The upload's content source: up to `max` bytes at `offset` (where the previous call
  // ended). Waits until `max` bytes are appended or EndWriteBehind was called; returns 0
  // when it ended there, and an error once the file is not append-only any more.
  absl::StatusOr<size_t> ReadAppended(char* buf, size_t max, int64_t offset);
  // Ends a running write-behind upload, letting it send the rest and close (`finish`) or
  // failing its reads (cancel), and waits for its thread. Returns whether one was running;
  // its outcome is then in write_behind_outcome.
  bool EndWriteBehind(bool finish);
  struct WriteBehindOutcome {
    absl::Status status = absl::UnknownError("not run");
    int64_t version = 0;        // the version it committed
    v1::Attributes attributes;  // the attributes it carried
  };
  // Set by the upload's thread when it ends; read after EndWriteBehind returned true.
  void SetWriteBehindOutcome(WriteBehindOutcome outcome) {
    write_behind_outcome_ = std::move(outcome);
  }
  const WriteBehindOutcome& write_behind_outcome() const { return write_behind_outcome_; }

  void Keep();    // leave the file on disk when this object goes away
  void Unkeep();  // stored after all: removed with this object again
  bool kept() const;
  int fd() const { return file_->fd(); }
  const std::string& path() const { return path_; }
  // Serializes uploads of this file (held for the whole upload).
  std::mutex& upload_mutex() { return upload_mu_; }

  // Open write handles; the last one to release drops the inode's staging. Counted under
  // the caller's lock (the one that serializes staging an inode).
  int writers() const { return writers_; }
  void AddWriter() { ++writers_; }
  // Returns how many are left.
  int DropWriter() { return --writers_; }

 private:
  StagedFile(Env* env, std::string path, std::unique_ptr<File> file,
             const v1::Attributes& attributes);

  // Under modify_mu_, before a write or truncation at `offset` changes the file: ends the
  // append-only state unless `offset` is where the appends end; returns whether the file is
  // still append-only (the change continues the appends).
  bool EndAppendsUnlessAt(int64_t offset);
  // Under mu_: [begin, end) differs from the base now.
  void ChangedLocked(int64_t begin, int64_t end);

  Env* const env_;
  const std::string path_;
  std::unique_ptr<File> file_;
  std::mutex upload_mu_;
  std::mutex modify_mu_;  // serializes writes and truncations (held across their I/O)
  mutable std::mutex mu_;
  v1::Attributes attributes_;
  uint64_t generation_ = 0;
  uint64_t uploaded_generation_ = 0;
  int64_t base_version_ = 0;
  std::map<int64_t, int64_t> changed_;  // begin -> end, merged
  bool kept_ = false;
  // Write-behind, under mu_: [0, append_end_) was written in order, and nothing else.
  bool append_only_ = true;
  int64_t append_end_ = 0;
  bool write_behind_started_ = false;
  std::string write_behind_path_;
  bool write_behind_ending_ = false;  // the source ends once it caught up with append_end_
  std::condition_variable appended_;
  std::mutex end_mu_;         // serializes EndWriteBehind
  std::thread write_behind_;  // joined by EndWriteBehind or the destructor
  WriteBehindOutcome write_behind_outcome_;
  int writers_ = 0;
};

}  // namespace chainfs::mount
