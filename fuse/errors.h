// The one place where absl::Status values become errno values for the kernel. A chainfs
// error code (v1::ErrorCode, common/status.h) maps first (ERROR_NOT_EMPTY -> ENOTEMPTY,
// ...), then the status code as the FUSE client contract says (NOT_FOUND -> ENOENT,
// RESOURCE_EXHAUSTED -> ENOSPC, ...); message text is never looked at. The mount's own
// errors with no natural code (EPERM, EBADF, ...) carry the errno in a payload (ErrnoError).
#pragma once

#include <string>

#include "absl/status/status.h"

namespace chainfs::mount {

// A status that maps back to exactly `err` (its code is the closest absl code).
absl::Status ErrnoError(int err, const std::string& message);

// The errno for a status: 0 for OK, EIO for anything without a better match.
int ErrnoFromStatus(const absl::Status& status);

}  // namespace chainfs::mount
