// The pieces of write availability that need no cluster: the failed chain member travels
// typed (gRPC binary error details) from FileStore to FileStore to client, and the retry
// policy tells chain failures from errors a retry cannot fix.
#include <gtest/gtest.h>

#include "common/client/chain_upload.h"
#include "common/status.h"

namespace chainfs {
namespace {

TEST(ChainFailureTest, FailedMemberSurvivesTheTripThroughGrpc) {
  absl::Status st = WithFailedMember(absl::UnavailableError("stream broke"), "10.0.0.2:7000");
  EXPECT_EQ(FailedMember(st), "10.0.0.2:7000");
  grpc::Status wire = ToGrpc(st);
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(wire.error_details().empty());
  absl::Status back = FromGrpc(wire);
  EXPECT_EQ(back.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(std::string(back.message()), "stream broke");
  EXPECT_EQ(FailedMember(back), "10.0.0.2:7000");
}

TEST(ChainFailureTest, TheMemberNamedFurthestDownTheChainIsKept) {
  absl::Status st = WithFailedMember(absl::UnavailableError("x"), "c:1");
  st = WithFailedMember(FromGrpc(ToGrpc(st)), "b:1");
  EXPECT_EQ(FailedMember(st), "c:1");
}

TEST(ChainFailureTest, NoMemberWithoutOneOrOnOk) {
  EXPECT_EQ(FailedMember(absl::UnavailableError("x")), "");
  EXPECT_EQ(FailedMember(FromGrpc(grpc::Status(grpc::StatusCode::UNAVAILABLE, "x"))), "");
  EXPECT_EQ(FailedMember(FromGrpc(grpc::Status(grpc::StatusCode::UNAVAILABLE, "x", "junk\xff"))),
            "");
  EXPECT_TRUE(WithFailedMember(absl::OkStatus(), "a:1").ok());
  EXPECT_EQ(FailedMember(WithFailedMember(absl::UnavailableError("x"), std::string(400, 'a'))), "");
}

TEST(ChainFailureTest, MemberFaultsAreTransportAndCapacityNotRefusals) {
  EXPECT_TRUE(IsMemberFault(absl::UnavailableError("x")));
  EXPECT_TRUE(IsMemberFault(absl::DeadlineExceededError("x")));
  EXPECT_TRUE(IsMemberFault(absl::ResourceExhaustedError("x")));
  EXPECT_TRUE(IsMemberFault(absl::DataLossError("x")));
  EXPECT_FALSE(IsMemberFault(absl::InvalidArgumentError("x")));
  EXPECT_FALSE(IsMemberFault(VersionTooOld("x")));
  EXPECT_FALSE(IsMemberFault(absl::OkStatus()));
}

TEST(ChainFailureTest, RetryOnChainFailuresOnly) {
  EXPECT_TRUE(IsChainFailure(WithFailedMember(absl::ResourceExhaustedError("full"), "a:1")));
  EXPECT_TRUE(IsChainFailure(absl::UnavailableError("no member named")));
  EXPECT_TRUE(IsChainFailure(VersionTooOld("x")));
  // The local source failed (a write-behind cancelled, a read error): no retry.
  EXPECT_FALSE(IsChainFailure(absl::AbortedError("no longer written in order")));
  EXPECT_FALSE(IsChainFailure(absl::InternalError("read upload source: EIO")));
  EXPECT_FALSE(IsChainFailure(absl::InvalidArgumentError("bad name")));
  EXPECT_FALSE(IsChainFailure(absl::OkStatus()));
}

}  // namespace
}  // namespace chainfs
