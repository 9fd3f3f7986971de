// The one place where absl::Status values become errno values for the kernel. Codes map as
// the FUSE client contract says (NOT_FOUND -> ENOENT, RESOURCE_EXHAUSTED -> ENOSPC, ...);
// errors that have no natural status code (ENAMETOOLONG, ENOTEMPTY, EPERM, ...) travel as a
// status carrying the errno in a payload, made by ErrnoError.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace chainfs::mount {

// A status that maps back to exactly `err` (its code is the closest absl code).
absl::Status ErrnoError(int err, const std::string& message);

// The errno for a status: 0 for OK, EIO for anything without a better match.
int ErrnoFromStatus(const absl::Status& status);

}  // namespace chainfs::mount
