// Errors are values: absl::Status everywhere inside chainfs. This header is the one place
// they are mapped to and from gRPC status codes (errno mapping lives in fuse/errors.h).
#pragma once

#include <grpcpp/support/status.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/chainfs.pb.h"

namespace chainfs {

// Trailing-metadata key that carries the current leader's host:port with an UNAVAILABLE
// "not leader" answer.
inline constexpr char kLeaderMetadataKey[] = "chainfs-leader";

// Status messages cross gRPC as metadata (8 KiB in all, non-ASCII bytes percent-encoded to
// three): a message that echoes a long name is cut to this many bytes, so the caller
// still gets its code instead of RESOURCE_EXHAUSTED.
inline constexpr size_t kMaxStatusMessageBytes = 1024;
std::string BoundedMessage(std::string_view message);
grpc::Status ToGrpc(const absl::Status& status);
absl::Status FromGrpc(const grpc::Status& status);

// A typed chainfs error: `code` decides the gRPC status code (see v1::ErrorCode) and
// travels with the status, inside chainfs as an absl::Status payload and across processes
// in the gRPC status's binary error details (a serialized v1::ErrorDetail). The mount and
// the CLI map these codes, never the message.
absl::Status Error(v1::ErrorCode code, std::string_view message);
// The status's chainfs code; ERROR_CODE_UNSPECIFIED when it carries none (or is ok).
v1::ErrorCode ErrorCodeOf(const absl::Status& status);

// `status` with `message` in place of its own (context added on the way up), keeping its
// gRPC code, its chainfs code and its failed member.
absl::Status WithMessage(const absl::Status& status, std::string_view message);

// The chain member (host:port) whose failure ended a chain upload, carried like the code
// (v1::ErrorDetail.failed_member). Attaching keeps a member already named further down the
// chain; ok statuses stay ok.
absl::Status WithFailedMember(absl::Status status, std::string_view member);
// The failed member, or "" when the status names none.
std::string FailedMember(const absl::Status& status);
// Whether a failed call says more about the FileStore that answered (or did not) than
// about the request: unreachable, broke, timed out, overloaded, full, corrupted a stream.
// Refusals of the request itself (bad argument, version too old, ...) are not.
bool IsMemberFault(const absl::Status& status);

// "version too old": FAILED_PRECONDITION with ERROR_VERSION_TOO_OLD.
absl::Status VersionTooOld(std::string_view detail);
bool IsVersionTooOld(const absl::Status& status);
// A chain member lacks the base version a create builds on (CreateHeader.base_version).
bool IsBaseMissing(const absl::Status& status);

// Evaluates an expression yielding absl::Status and returns it from the caller if not OK.
#define CHAINFS_RETURN_IF_ERROR(expr)             \
  do {                                            \
    if (::absl::Status _st = (expr); !_st.ok()) { \
      return _st;                                 \
    }                                             \
  } while (0)

#define CHAINFS_CONCAT_INNER(a, b) a##b
#define CHAINFS_CONCAT(a, b) CHAINFS_CONCAT_INNER(a, b)
// CHAINFS_ASSIGN_OR_RETURN(auto x, FunctionReturningStatusOr());
#define CHAINFS_ASSIGN_OR_RETURN(lhs, expr) \
  CHAINFS_ASSIGN_OR_RETURN_IMPL(CHAINFS_CONCAT(_statusor_, __LINE__), lhs, expr)
#define CHAINFS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(*tmp)

}  // namespace chainfs
