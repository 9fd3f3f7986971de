// The mount's uploads of staged files: on flush/fsync, and the write-behind stream of a file
// written in order from empty. The upload policy itself (doCreate, the chain, a fresh
// doCreate without the failed member) is the Client's; this adds what the mount promises on
// top: a staged file whose upload fails for good is kept on disk and recorded
// (fuse/kept.h), never silently dropped, and a write-behind stream is finished or
// cancelled at close.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/client/client.h"
#include "fuse/kept.h"
#include "fuse/staging.h"
#include "proto/chainfs.pb.h"

namespace chainfs::mount {

struct UploaderSettings {
  // Where kept files are recorded (every mount's cache_dir is beneath it; empty = the
  // directory above the staging file's) and the bound on them all.
  std::string cache_base;
  KeptLimits kept_limits;
  // A file written in order from empty starts uploading once it holds this many bytes;
  // 0 = never (it is uploaded at close in one go).
  int64_t write_behind = 0;
  // Every upload sends the whole file (no base version).
  bool whole_uploads = false;
};

class Uploader {
 public:
  // `client` is not owned.
  Uploader(Client* client, UploaderSettings settings);

  // Stores the staged file as a new version of `path`; the caller holds its upload mutex.
  // A write-behind stream under `path` is finished and its version kept (one under another
  // name is cancelled); otherwise the whole file is uploaded. On failure the file is kept
  // and the error returned. Returns the entry now current (version, kind, size, attributes).
  absl::StatusOr<v1::FileInfo> StoreStaged(const std::string& path, StagedFile& staged);
  // Starts the write-behind of `staged` under `path` when it is due (cheap otherwise).
  void MaybeWriteBehind(const std::string& path, StagedFile& staged);

 private:
  // The write-behind stream (on the file's own thread), fed by StagedFile::ReadAppended.
  StagedFile::WriteBehindOutcome WriteBehind(const std::string& path, StagedFile& staged);
  // After a write-behind stream committed: makes the stored attributes those of the staged
  // file (mtime moved on since the stream began). Returns the entry now current.
  absl::StatusOr<v1::FileInfo> SettleWriteBehind(const std::string& path, StagedFile& staged);
  void Keep(const std::string& path, StagedFile& staged);

  Client* const client_;
  const UploaderSettings settings_;
};

}  // namespace chainfs::mount
