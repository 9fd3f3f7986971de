// The mount's uploads of new versions: a staged file on flush/fsync, a directory or symlink
// on mkdir/symlink, and the write-behind stream of a file written in order from empty.
// Each is doCreate, then the chain; a failed chain is retried with a fresh doCreate that
// excludes the failed member (CreateWithRetry). A staged file whose upload fails for good
// is kept on disk and recorded (fuse/kept.h), never silently dropped.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/client/chain_upload.h"
#include "common/client/filestore_api.h"
#include "common/client/nameserver_api.h"
#include "fuse/kept.h"
#include "fuse/staging.h"
#include "proto/chainfs.pb.h"

namespace chainfs::mount {

struct UploaderSettings {
  // doCreate + chain attempts and the backoff between them.
  UploadRetrySettings retry;
  // Where kept files are recorded (every mount's cache_dir is beneath it; empty = the
  // directory above the staging file's) and the bound on them all.
  std::string cache_base;
  KeptLimits kept_limits;
  // A file written in order from empty starts uploading once it holds this many bytes;
  // 0 = never (it is uploaded at close in one go).
  int64_t write_behind = 0;
};

class Uploader {
 public:
  Uploader(NameServerApi* nameserver, FileStoreApi* filestores, UploaderSettings settings);

  // Stores `content` as a new version of `path` (a directory or symlink); `exclusive` fails
  // with ALREADY_EXISTS when the name exists. Returns the version.
  absl::StatusOr<int64_t> StoreContent(const std::string& path, v1::Kind kind,
                                       const v1::Attributes& attributes, bool exclusive,
                                       const std::string& content);
  // Stores the staged file as a new version of `path`; the caller holds its upload mutex.
  // A write-behind stream under `path` is finished and its version kept (one under another
  // name is cancelled); otherwise the whole file is uploaded. On failure the file is kept
  // and the error returned. Returns the version now current.
  absl::StatusOr<int64_t> StoreStaged(const std::string& path, StagedFile& staged);
  // Starts the write-behind of `staged` under `path` when it is due (cheap otherwise).
  void MaybeWriteBehind(const std::string& path, StagedFile& staged);

 private:
  // doCreate + chain with retries; content from the staged file or a string.
  absl::StatusOr<int64_t> Upload(const std::string& path, v1::Kind kind,
                                 const v1::Attributes& attributes, bool exclusive,
                                 StagedFile* staged, const std::string& content);
  // The write-behind stream (on the file's own thread), fed by StagedFile::ReadAppended.
  StagedFile::WriteBehindOutcome WriteBehind(const std::string& path, StagedFile& staged);
  // After a write-behind stream committed: makes the stored attributes those of the staged
  // file (mtime moved on since the stream began). Returns the version now current.
  absl::StatusOr<int64_t> SettleWriteBehind(const std::string& path, StagedFile& staged);
  void Keep(const std::string& path, StagedFile& staged);

  NameServerApi* const nameserver_;
  FileStoreApi* const filestores_;
  const UploaderSettings settings_;
};

}  // namespace chainfs::mount
