// Client: the policies that every writer of the namespace shares (the mount, the CLI), over a
// NameServerApi and a FileStoreApi, so that each exists once:
// - Upload: doCreate, then the chain; when a chain member fails, a fresh doCreate that
//   excludes it (the whole chain when the failed member is unknown; nothing when the version
//   was merely too old), up to retry.attempts times with a backoff measured on the clock.
//   `exclusive` is asked only on the first attempt (a retry would find the first attempt's
//   half-committed copy). The final failure is the last chain's error when there was one.
//   Errors of the content (reading the local source) and refusals (ALREADY_EXISTS, a bad
//   name, no space) end it at once. Returns only after every member committed and the
//   NameServer recorded the version (the FileStores report before they reply).
// - Mkdir: a directory entry, created exclusively (ALREADY_EXISTS when the path is live,
//   implied directories included); MkdirAll creates missing parents and accepts an existing
//   directory (`mkdir -p`).
// - Symlink: an entry of kind symlink whose content is the target, created exclusively.
// - MakeSpecial: a fifo, device or socket entry without content, created exclusively.
// - Rename: the POSIX checks (RENAME_NOREPLACE, a directory only over an empty directory, a
//   non-directory only over a non-directory, never beneath itself), then the NameServer's
//   Rename. The errors carry the codes (gRPC and v1::ErrorCode) that the mount maps to
//   EEXIST, EISDIR, ENOTDIR, ENOTEMPTY and EINVAL, and the CLI to its exit codes.
// Thread-safe when the two APIs are; holds no state of its own besides the settings.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/client/chain_upload.h"
#include "common/client/filestore_api.h"
#include "common/client/nameserver_api.h"
#include "common/client/sparse_upload.h"
#include "common/clock.h"
#include "proto/chainfs.pb.h"

namespace chainfs {

struct UploadOptions {
  // ALREADY_EXISTS when the path is live (O_EXCL, mkdir, symlink); first attempt only.
  bool exclusive = false;
  // Hint for placement and for a full FileStore to refuse early; 0 = unknown. With it, the
  // NameServer refuses at once (RESOURCE_EXHAUSTED) when no FileStore has room.
  int64_t expected_size = 0;
  // UploadFd: the version the content of the file descriptor was staged from, and the ranges
  // of it changed since (in order, not overlapping). When building on that version saves
  // most of the transfer, only those ranges are sent and each chain member copies the rest
  // from its own copy (CreateHeader.base_version); a chain that lacks that version gets the
  // whole content after all.
  int64_t base_version = 0;
  std::vector<DataExtent> changed = {};
};

class Client {
 public:
  // Neither API is owned; both must outlive the Client.
  Client(NameServerApi* nameserver, FileStoreApi* filestores, UploadRetrySettings retry = {},
         const Clock* clock = SystemClock::Get());

  NameServerApi* nameserver() const { return nameserver_; }
  FileStoreApi* filestores() const { return filestores_; }

  // The content of one attempt, from its beginning. Called once per attempt with that
  // attempt's version; an error (content that cannot be read again, such as a pipe) ends
  // the upload with that error.
  using SourceForAttempt = std::function<absl::StatusOr<ContentSource>(int64_t version)>;

  // Uploads a new version of file.name() with file's kind and attributes (its version and
  // size are ignored). The reply's file carries the committed version.
  absl::StatusOr<v1::CreateReply> Upload(const v1::FileInfo& file, const SourceForAttempt& source,
                                         const UploadOptions& options = {});
  // The whole content of `fd` (read from offset 0 on every attempt), or only its changes
  // since options.base_version.
  absl::StatusOr<v1::CreateReply> UploadFd(const v1::FileInfo& file, int fd,
                                           const UploadOptions& options = {});
  absl::StatusOr<v1::CreateReply> UploadString(const v1::FileInfo& file, std::string_view content,
                                               const UploadOptions& options = {});

  // mkdir: the entry `path` of kind directory with `attributes`.
  absl::StatusOr<v1::CreateReply> Mkdir(const std::string& path, const v1::Attributes& attributes);
  // mkdir -p: missing parents are created with the same attributes; an existing directory
  // (with an entry or implied) is fine; ALREADY_EXISTS when `path` or a parent is not one.
  absl::Status MkdirAll(const std::string& path, const v1::Attributes& attributes);
  // symlink: the entry `path` of kind symlink pointing at `target`.
  absl::StatusOr<v1::CreateReply> Symlink(const std::string& path, std::string_view target,
                                          const v1::Attributes& attributes);

  // mknod/mkfifo/bind: the entry `path` of a special kind (fifo, device, socket), without
  // content, with `attributes` (rdev for a device), created exclusively.
  absl::StatusOr<v1::CreateReply> MakeSpecial(const std::string& path, v1::Kind kind,
                                              const v1::Attributes& attributes);

  // fsync()/fdatasync(): returns once every holder of path's latest version has it on stable
  // storage (FileStore Flush on each holder, in parallel; at once under sync durability).
  absl::Status FlushToDisk(const std::string& path);

  // rename(2) of `from` (which must exist at the NameServer) to `to`: CheckRenameTarget, then
  // the NameServer's Rename. Renaming a path to itself succeeds at once.
  absl::Status Rename(const std::string& from, const std::string& to, bool no_replace = false);
  // The POSIX checks of a rename onto `to`, for a source of the given kind (the mount calls
  // this alone for a file that exists only in its staging): EINVAL for a move beneath
  // itself, EEXIST with no_replace, EISDIR for a non-directory over a directory, ENOTDIR
  // for a directory over a non-directory, ENOTEMPTY over a non-empty directory.
  absl::Status CheckRenameTarget(const std::string& from, bool source_is_directory,
                                 const std::string& to, bool no_replace);

 private:
  // One attempt's upload of `file` (its version set) to a chain, with doCreate's write token.
  using Attempt = std::function<absl::StatusOr<v1::CreateReply>(
      const v1::FileInfo& file, const std::vector<std::string>& chain, const std::string& token)>;
  // The retry loop around one attempt's upload to a fresh doCreate's chain.
  absl::StatusOr<v1::CreateReply> Run(const v1::FileInfo& file, const UploadOptions& options,
                                      const Attempt& attempt);

  NameServerApi* const nameserver_;
  FileStoreApi* const filestores_;
  const UploadRetrySettings retry_;
  const Clock* const clock_;
};

}  // namespace chainfs
