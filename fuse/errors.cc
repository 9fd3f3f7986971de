#include "fuse/errors.h"

#include <cerrno>
#include <string_view>

#include "absl/strings/cord.h"

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

bool Mentions(const absl::Status& status, std::string_view text) {
  std::string_view message(status.message().data(), status.message().size());
  return message.find(text) != std::string_view::npos;
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
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return ENOENT;
    case absl::StatusCode::kAlreadyExists:
      return EEXIST;
    case absl::StatusCode::kResourceExhausted:
      return ENOSPC;
    case absl::StatusCode::kInvalidArgument:
      // The daemons' name checks: a component or a whole name over the limit.
      if (Mentions(status, "the limit is")) return ENAMETOOLONG;
      return EINVAL;
    case absl::StatusCode::kOutOfRange:
      return EINVAL;
    case absl::StatusCode::kFailedPrecondition:
      // The NameServer's precondition failures say what was wrong.
      if (Mentions(status, "not empty")) return ENOTEMPTY;
      if (Mentions(status, "not a directory")) return ENOTDIR;
      if (Mentions(status, "is a directory")) return EISDIR;
      return EIO;
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
