// POSIX's time rules that the NameServer and its in-memory twin both apply, written once:
// how a SetAttributes request changes a version's attributes (mode, owner, atime, mtime,
// ctime), and how a directory's times move when an entry is created or removed in it.
// Attributes with atime_ns or ctime_ns 0 (versions written before they existed) read as
// mtime_ns.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "proto/chainfs.pb.h"

namespace chainfs {

inline int64_t AtimeOf(const v1::Attributes& a) {
  return a.atime_ns() != 0 ? a.atime_ns() : a.mtime_ns();
}
inline int64_t CtimeOf(const v1::Attributes& a) {
  return a.ctime_ns() != 0 ? a.ctime_ns() : a.mtime_ns();
}

// Applies `req` to `attrs` at `now_ns` (the server's clock): mode (INVALID_ARGUMENT above
// 07777), uid, gid, mtime and atime as asked; ctime to the request's value with set_ctime,
// else to now_ns when mode, uid, gid or mtime is set; atime alone leaves ctime (a read's
// atime update is no status change).
absl::Status ApplySetAttributes(const v1::SetAttributesRequest& req, int64_t now_ns,
                                v1::Attributes* attrs);

// An entry was created in or removed from the directory: its mtime and ctime become now_ns.
void TouchDirectoryTimes(int64_t now_ns, v1::Attributes* attrs);

}  // namespace chainfs
