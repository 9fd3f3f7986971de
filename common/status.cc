#include "common/status.h"

#include <fmt/format.h>

#include "proto/chainfs.pb.h"

namespace chainfs {

namespace {
constexpr std::string_view kTooOld = "version too old";
constexpr char kChainFailureUrl[] = "type.googleapis.com/chainfs.v1.ChainFailure";
// A host:port; anything longer is not an address and is not carried.
constexpr size_t kMaxMemberBytes = 300;
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
  std::string member = FailedMember(status);
  if (member.empty()) return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message);
  v1::ChainFailure failure;
  failure.set_failed_member(std::move(member));
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message,
                      failure.SerializeAsString());
}

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  if (!status.error_details().empty()) {
    v1::ChainFailure failure;
    if (failure.ParseFromString(status.error_details())) {
      out = WithFailedMember(std::move(out), failure.failed_member());
    }
  }
  return out;
}

absl::Status WithFailedMember(absl::Status status, std::string_view member) {
  if (status.ok() || member.empty() || member.size() > kMaxMemberBytes) return status;
  if (status.GetPayload(kChainFailureUrl).has_value()) return status;
  status.SetPayload(kChainFailureUrl, absl::Cord(std::string(member)));
  return status;
}

std::string FailedMember(const absl::Status& status) {
  auto member = status.GetPayload(kChainFailureUrl);
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
  return absl::FailedPreconditionError(fmt::format("{}: {}", kTooOld, detail));
}

bool IsVersionTooOld(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition &&
         std::string_view(status.message().data(), status.message().size()).starts_with(kTooOld);
}

}  // namespace chainfs
