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
