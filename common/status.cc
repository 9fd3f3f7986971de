#include "common/status.h"

#include <fmt/format.h>

#include "absl/strings/numbers.h"

namespace chainfs {

namespace {
constexpr char kMemberUrl[] = "type.googleapis.com/chainfs.v1.ErrorDetail.failed_member";
constexpr char kCodeUrl[] = "type.googleapis.com/chainfs.v1.ErrorCode";
// A host:port; anything longer is not an address and is not carried.
constexpr size_t kMaxMemberBytes = 300;

absl::StatusCode CanonicalCode(v1::ErrorCode code) {
  switch (code) {
    case v1::ERROR_NAME_TOO_LONG:
      return absl::StatusCode::kInvalidArgument;
    case v1::ERROR_NOT_EMPTY:
    case v1::ERROR_NOT_A_DIRECTORY:
    case v1::ERROR_IS_A_DIRECTORY:
    case v1::ERROR_VERSION_TOO_OLD:
    case v1::ERROR_BASE_MISSING:
      return absl::StatusCode::kFailedPrecondition;
    case v1::ERROR_NO_SPACE:
      return absl::StatusCode::kResourceExhausted;
    default:
      return absl::StatusCode::kUnknown;
  }
}

absl::Status WithCode(absl::Status status, v1::ErrorCode code) {
  if (status.ok() || code == v1::ERROR_CODE_UNSPECIFIED || !v1::ErrorCode_IsValid(code)) {
    return status;
  }
  status.SetPayload(kCodeUrl, absl::Cord(std::to_string(static_cast<int>(code))));
  return status;
}

}  // namespace

std::string BoundedMessage(std::string_view message) {
  if (message.size() <= kMaxStatusMessageBytes) return std::string(message);
  size_t keep = kMaxStatusMessageBytes;
  // Never cut a UTF-8 sequence: back up over continuation bytes to a lead byte.
  while (keep > 0 && (static_cast<unsigned char>(message[keep]) & 0xC0) == 0x80) --keep;
  return fmt::format("{}... ({} bytes cut)", message.substr(0, keep), message.size() - keep);
}

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  std::string message =
      BoundedMessage(std::string_view(status.message().data(), status.message().size()));
  auto code = static_cast<grpc::StatusCode>(status.code());
  v1::ErrorDetail detail;
  detail.set_failed_member(FailedMember(status));
  detail.set_code(ErrorCodeOf(status));
  if (detail.failed_member().empty() && detail.code() == v1::ERROR_CODE_UNSPECIFIED) {
    return grpc::Status(code, message);
  }
  return grpc::Status(code, message, detail.SerializeAsString());
}

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  v1::ErrorDetail detail;
  if (!status.error_details().empty() && detail.ParseFromString(status.error_details())) {
    // A code is believed only with the gRPC code it implies (details from a peer are input).
    if (CanonicalCode(detail.code()) == out.code()) out = WithCode(std::move(out), detail.code());
    out = WithFailedMember(std::move(out), detail.failed_member());
  }
  return out;
}

absl::Status Error(v1::ErrorCode code, std::string_view message) {
  // Debian's absl has its own string_view.
  absl::string_view text(message.data(), message.size());
  absl::StatusCode canonical = CanonicalCode(code);
  if (canonical == absl::StatusCode::kUnknown) return absl::UnknownError(text);
  return WithCode(absl::Status(canonical, text), code);
}

absl::Status WithMessage(const absl::Status& status, std::string_view message) {
  if (status.ok()) return status;
  absl::Status out(status.code(), absl::string_view(message.data(), message.size()));
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

v1::ErrorCode ErrorCodeOf(const absl::Status& status) {
  auto payload = status.GetPayload(kCodeUrl);
  if (!payload) return v1::ERROR_CODE_UNSPECIFIED;
  int code = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &code) || !v1::ErrorCode_IsValid(code)) {
    return v1::ERROR_CODE_UNSPECIFIED;
  }
  return static_cast<v1::ErrorCode>(code);
}

absl::Status WithFailedMember(absl::Status status, std::string_view member) {
  if (status.ok() || member.empty() || member.size() > kMaxMemberBytes) return status;
  if (status.GetPayload(kMemberUrl).has_value()) return status;
  status.SetPayload(kMemberUrl, absl::Cord(std::string(member)));
  return status;
}

std::string FailedMember(const absl::Status& status) {
  auto member = status.GetPayload(kMemberUrl);
  if (!member) return "";
  return std::string(*member);
}

bool IsMemberFault(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

absl::Status VersionTooOld(std::string_view detail) {
  return Error(v1::ERROR_VERSION_TOO_OLD, fmt::format("version too old: {}", detail));
}

bool IsVersionTooOld(const absl::Status& status) {
  return ErrorCodeOf(status) == v1::ERROR_VERSION_TOO_OLD;
}

bool IsBaseMissing(const absl::Status& status) {
  return ErrorCodeOf(status) == v1::ERROR_BASE_MISSING;
}

}  // namespace chainfs
