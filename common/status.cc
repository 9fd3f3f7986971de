#include "common/status.h"

#include <fmt/format.h>

namespace chainfs {

namespace {
constexpr std::string_view kTooOld = "version too old";
}  // namespace

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message().data(), status.message().size()));
}

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

absl::Status VersionTooOld(std::string_view detail) {
  return absl::FailedPreconditionError(fmt::format("{}: {}", kTooOld, detail));
}

bool IsVersionTooOld(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition &&
         std::string_view(status.message().data(), status.message().size()).starts_with(kTooOld);
}

}  // namespace chainfs
