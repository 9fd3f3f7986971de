// Extended attributes and special files: the rules the NameServer, its in-memory twin, the
// FileStores and the mount share, written once.
//
// Extended attributes live in Attributes.xattrs of a version; a change is a SetAttributes (a
// Clone: no data moves). Names are "user.*", "trusted.*", "security.*",
// "system.posix_acl_access" and "system.posix_acl_default" (anything else is refused: ENOTSUP
// at the mount). Who may set which is the kernel's check, as on a local filesystem.
//
// Special files (fifo, character and block device, socket) are entries without content:
// mode, owner, times and, for devices, Attributes.rdev. Their I/O stays on each machine.
#pragma once

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"
#include "proto/chainfs.pb.h"

namespace chainfs {

// The limits, in one place: a name (with its prefix) at most 255 bytes, a value at most
// 64 KiB (Linux's XATTR_NAME_MAX and XATTR_SIZE_MAX), and all names and values of one entry
// together at most 128 KiB (the NameServer keeps them in memory).
inline constexpr size_t kMaxXattrNameBytes = 255;
inline constexpr size_t kMaxXattrValueBytes = 64 << 10;
inline constexpr size_t kMaxXattrTotalBytes = 128 << 10;

// setxattr(2) flags as SetAttributesRequest.xattr_flags carries them.
inline constexpr int kXattrCreate = 1;
inline constexpr int kXattrReplace = 2;

inline constexpr std::string_view kAclAccessXattr = "system.posix_acl_access";
inline constexpr std::string_view kAclDefaultXattr = "system.posix_acl_default";

// A name of a namespace chainfs stores (non-empty after its prefix).
bool KnownXattrName(std::string_view name);
// Bytes of every name and value of `attributes`.
size_t XattrBytes(const v1::Attributes& attributes);
// INVALID_ARGUMENT, saying which limit, when `attributes` carries a name that is unknown or
// too long, a value too large, or more than kMaxXattrTotalBytes together.
absl::Status ValidateXattrs(const v1::Attributes& attributes);
// Applies the xattr part of a SetAttributes request to `attributes`: the flags (ALREADY_EXISTS,
// FAILED_PRECONDITION for a missing name), then the limits (INVALID_ARGUMENT).
absl::Status ApplyXattrChanges(const v1::SetAttributesRequest& req, v1::Attributes* attributes);

// Adds to `req` the xattr changes that turn `from`'s extended attributes into `to`'s;
// returns whether there are any.
bool XattrChanges(const v1::Attributes& from, const v1::Attributes& to,
                  v1::SetAttributesRequest* req);

// What a FileStore stores and the NameServer accepts of any entry: a known kind, mode bits
// within 07777 and extended attributes as ValidateXattrs wants them (INVALID_ARGUMENT).
absl::Status ValidateEntry(const v1::FileInfo& file);

// Fifo, character or block device, socket: entries without content.
bool IsSpecialKind(v1::Kind kind);
// What a FileStore accepts as the content of an entry of `kind`: special files have none.
absl::Status ValidateContentSize(v1::Kind kind, int64_t size);

}  // namespace chainfs
