// Rules of the namespace that more than one place applies, written once: what the NameServer
// accepts from FileStores, how it shows a directory without an entry of its own, and when a
// rename may replace its target. Shared by the NameServer (servers/nameserver), its
// in-memory twin (MemoryNameServer) and the client's rename policy (Client), so all refuse
// alike.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/chainfs.pb.h"

namespace chainfs {

// A FileStore's own address in a request: present and host:port.
absl::Status ValidateFileStore(const std::string& address);
// Space figures a FileStore reports: never negative.
absl::Status ValidateBytes(int64_t bytes_used, int64_t bytes_available);
// A file or tombstone as a FileStore reports it: a valid name, a positive version, a size
// that is not negative, a known kind, mode bits within 07777, no content for a special file
// and extended attributes within their limits (common/client/xattr_rules.h).
absl::Status ValidateReported(const v1::FileInfo& f);
// An addFileOrTombstone request: the FileStore's address, `file` and each of `more` as
// ValidateReported checks them, at most kMaxReportBatch in `more`, and at most
// kMaxAlsoOn other chain members in `also_on`, each host:port.
inline constexpr int kMaxReportBatch = 10'000;
inline constexpr int kMaxAlsoOn = 16;
absl::Status ValidateAddFileOrTombstone(const v1::AddFileOrTombstoneRequest& req);
// A doCreate request: a valid path, a size hint that is not negative, at most 64 excluded
// FileStores, each host:port.
absl::Status ValidateDoCreate(const v1::DoCreateRequest& req);
// A listDirectory request; returns how many entries one page may hold (the request's limit,
// 1000 when it gives none, at most 10000).
absl::StatusOr<size_t> ValidateListDirectory(const v1::ListDirectoryRequest& req);
// A replicate request (fsck --repair): 1 to kMaxReplicatePaths valid paths.
inline constexpr int kMaxReplicatePaths = 10'000;
absl::Status ValidateReplicate(const v1::ReplicateRequest& req);

// A directory implied by its descendants: kind directory, version 0, mode 0755.
v1::FileInfo ImpliedDirectory(const std::string& name);

// rename(2) onto the live `target`: ALREADY_EXISTS (EEXIST) under no_replace; for a
// non-directory over a directory "is a directory" (EISDIR), for a directory over a
// non-directory "not a directory" (ENOTDIR), for a directory over a directory with children
// "not empty" (ENOTEMPTY), all FAILED_PRECONDITION; OK when the target may be replaced.
// `target_has_children` is asked only for a directory over a directory.
absl::Status CheckRenameOver(bool source_is_directory, const v1::FileInfo& target, bool no_replace,
                             const std::function<bool()>& target_has_children);
// INVALID_ARGUMENT (EINVAL): a directory cannot move beneath itself.
absl::Status RenameBeneathItselfError(std::string_view from, std::string_view to);

}  // namespace chainfs
