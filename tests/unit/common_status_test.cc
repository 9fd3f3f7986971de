#include <gtest/gtest.h>

#include "common/status.h"

namespace chainfs {
namespace {

TEST(Status, RoundTripsThroughGrpc) {
  for (absl::Status st : {absl::OkStatus(), absl::NotFoundError("no /a"),
                          absl::UnavailableError("not leader"), VersionTooOld("v3 < v5")}) {
    absl::Status back = FromGrpc(ToGrpc(st));
    EXPECT_EQ(back.code(), st.code());
    EXPECT_EQ(back.message(), st.message());
  }
}

// A valid 2.7 KB name of two-byte characters, echoed in a message, would exceed gRPC's
// 8 KiB metadata once percent-encoded: the caller would get RESOURCE_EXHAUSTED.
TEST(Status, LongNonAsciiMessageIsCutAtACharacterBoundaryAndKeepsItsCode) {
  std::string name = "/";
  while (name.size() < 2700) name += "\xc3\xa9";
  grpc::Status st = ToGrpc(absl::NotFoundError(name + ": no such file"));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_LE(st.error_message().size(), kMaxStatusMessageBytes + 32);
  size_t cut = st.error_message().find("...");
  ASSERT_NE(cut, std::string::npos);
  // The kept prefix ends on a whole character: an even number of bytes after the '/'.
  EXPECT_EQ((cut - 1) % 2, 0u);
  std::string short_message = "version too old: 3 < 5";
  EXPECT_EQ(ToGrpc(absl::FailedPreconditionError(short_message)).error_message(), short_message);
}

TEST(Status, VersionTooOldIsRecognised) {
  EXPECT_TRUE(IsVersionTooOld(VersionTooOld("x")));
  EXPECT_TRUE(IsVersionTooOld(FromGrpc(ToGrpc(VersionTooOld("x")))));
  EXPECT_FALSE(IsVersionTooOld(absl::FailedPreconditionError("not empty")));
  // The text alone does not make it so.
  EXPECT_FALSE(IsVersionTooOld(absl::FailedPreconditionError("version too old: x")));
}

TEST(Status, ErrorCodeDecidesTheGrpcCodeAndTravelsWithTheFailedMember) {
  absl::Status st = WithFailedMember(Error(v1::ERROR_NO_SPACE, "full"), "10.0.0.1:7000");
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  absl::Status back = FromGrpc(ToGrpc(st));
  EXPECT_EQ(ErrorCodeOf(back), v1::ERROR_NO_SPACE);
  EXPECT_EQ(FailedMember(back), "10.0.0.1:7000");
  EXPECT_EQ(ErrorCodeOf(absl::NotFoundError("x")), v1::ERROR_CODE_UNSPECIFIED);
  EXPECT_EQ(ErrorCodeOf(FromGrpc(ToGrpc(absl::NotFoundError("x")))), v1::ERROR_CODE_UNSPECIFIED);
}

TEST(Status, ACodeThatContradictsItsGrpcCodeIsDropped) {
  v1::ErrorDetail detail;
  detail.set_code(v1::ERROR_NOT_EMPTY);  // implies FAILED_PRECONDITION
  grpc::Status forged(grpc::StatusCode::NOT_FOUND, "x", detail.SerializeAsString());
  absl::Status back = FromGrpc(forged);
  EXPECT_EQ(back.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorCodeOf(back), v1::ERROR_CODE_UNSPECIFIED);
  detail.set_code(static_cast<v1::ErrorCode>(999));
  EXPECT_EQ(ErrorCodeOf(FromGrpc(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "x",
                                              detail.SerializeAsString()))),
            v1::ERROR_CODE_UNSPECIFIED);
}

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  CHAINFS_ASSIGN_OR_RETURN(int half, Half(x));
  CHAINFS_ASSIGN_OR_RETURN(int quarter, Half(half));
  CHAINFS_RETURN_IF_ERROR(absl::OkStatus());
  return quarter;
}

TEST(Status, MacrosReturnTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chainfs
