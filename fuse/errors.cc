#include "fuse/errors.h"

#include <cerrno>

#include "absl/strings/cord.h"
#include "common/status.h"

namespace chainfs::mount {

namespace {

constexpr char kErrnoPayload[] = "chainfs/errno";

absl::StatusCode CodeForErrno(int err) {
  switch (err) {
    case ENOENT:
      return absl::StatusCode::kNotFound;
    case EEXIST:
      return absl::StatusCode::kAlreadyExists;
    case ENOSPC:
      return absl::StatusCode::kResourceExhausted;
    case EPERM:
    case EACCES:
      return absl::StatusCode::kPermissionDenied;
    case ENOTSUP:
      return absl::StatusCode::kUnimplemented;
    case ENOTEMPTY:
    case ENOTDIR:
    case EISDIR:
      return absl::StatusCode::kFailedPrecondition;
    case EINVAL:
    case ENAMETOOLONG:
      return absl::StatusCode::kInvalidArgument;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

absl::Status ErrnoError(int err, const std::string& message) {
  absl::Status status(CodeForErrno(err), message);
  status.SetPayload(kErrnoPayload, absl::Cord(std::to_string(err)));
  return status;
}

int ErrnoFromStatus(const absl::Status& status) {
  if (status.ok()) return 0;
  if (auto payload = status.GetPayload(kErrnoPayload)) {
    int err = 0;
    for (char c : std::string(*payload)) {
      if (c < '0' || c > '9') return EIO;
      err = err * 10 + (c - '0');
    }
    return err > 0 ? err : EIO;
  }
  switch (ErrorCodeOf(status)) {
    case v1::ERROR_NAME_TOO_LONG:
      return ENAMETOOLONG;
    case v1::ERROR_NOT_EMPTY:
      return ENOTEMPTY;
    case v1::ERROR_NOT_A_DIRECTORY:
      return ENOTDIR;
    case v1::ERROR_IS_A_DIRECTORY:
      return EISDIR;
    case v1::ERROR_NO_SPACE:
      return ENOSPC;
    default:
      break;
  }
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return ENOENT;
    case absl::StatusCode::kAlreadyExists:
      return EEXIST;
    case absl::StatusCode::kResourceExhausted:
      return ENOSPC;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return EINVAL;
    case absl::StatusCode::kPermissionDenied:
      return EACCES;
    case absl::StatusCode::kUnauthenticated:
      return EPERM;
    case absl::StatusCode::kUnimplemented:
      return ENOTSUP;
    default:
      return EIO;
  }
}

}  // namespace chainfs::mount
