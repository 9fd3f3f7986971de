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
