// MemoryFileStores, the in-memory twin of the FileStores: the real FileStore's version rules,
// chain uploads committed and reported member by member, reads with fail-over, and the
// faults tests inject.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>

#include "common/block_checksum.h"
#include "common/checksum.h"
#include "common/client/memory_filestores.h"
#include "common/status.h"
#include "tests/fixtures/file_info.h"

namespace chainfs {
namespace {

using Method = MemoryFileStores::Method;

const std::string kA = "10.0.0.1:7000";
const std::string kB = "10.0.0.2:7000";
const std::string kC = "10.0.0.3:7000";

using testing::Info;

// Records the FileStores' reports; answers AddFileOrTombstone as the test says.
class RecordingNameServer final : public NameServerApi {
 public:
  absl::StatusOr<v1::AddFileOrTombstoneReply> AddFileOrTombstone(
      const v1::AddFileOrTombstoneRequest& req) override {
    std::lock_guard lock(mu);
    if (!answer.ok()) return answer;
    std::string also;
    for (const std::string& member : req.also_on()) also += " +" + member;
    adds.push_back(req.filestore() + " " + req.file().name() + "@" +
                   std::to_string(req.file().version()) + (req.file().tombstone() ? " (t)" : "") +
                   also);
    return v1::AddFileOrTombstoneReply();
  }
  absl::StatusOr<v1::ReportBadReplicaReply> ReportBadReplica(
      const v1::ReportBadReplicaRequest& req) override {
    std::lock_guard lock(mu);
    bad.push_back(req.filestore() + " " + req.file().name());
    return v1::ReportBadReplicaReply();
  }
  absl::StatusOr<v1::DoCreateReply> DoCreate(const v1::DoCreateRequest&) override {
    return Unused();
  }
  absl::StatusOr<v1::DoReadReply> DoRead(const v1::DoReadRequest&) override { return Unused(); }
  absl::StatusOr<v1::DoDeleteReply> DoDelete(const v1::DoDeleteRequest&) override {
    return Unused();
  }
  absl::StatusOr<v1::ListReply> List(const v1::ListRequest&) override { return Unused(); }
  absl::StatusOr<v1::StatReply> Stat(const v1::StatRequest&) override { return Unused(); }
  absl::StatusOr<v1::ListDirectoryReply> ListDirectory(const v1::ListDirectoryRequest&) override {
    return Unused();
  }
  absl::StatusOr<v1::RenameReply> Rename(const v1::RenameRequest&) override { return Unused(); }
  absl::StatusOr<v1::SetAttributesReply> SetAttributes(const v1::SetAttributesRequest&) override {
    return Unused();
  }
  absl::StatusOr<v1::StatFsReply> StatFs(const v1::StatFsRequest&) override { return Unused(); }
  absl::StatusOr<v1::ClusterStatusReply> ClusterStatus(const v1::ClusterStatusRequest&) override {
    return Unused();
  }
  absl::StatusOr<v1::HeartBeatReply> HeartBeat(const v1::HeartBeatRequest&) override {
    return Unused();
  }
  absl::Status RegisterFilesAndTombstones(const std::string&, const std::vector<v1::FileInfo>&,
                                          int64_t, int64_t) override {
    return Unused();
  }

  std::vector<std::string> Adds() {
    std::lock_guard lock(mu);
    return adds;
  }

  std::mutex mu;
  absl::Status answer;
  std::vector<std::string> adds;
  std::vector<std::string> bad;

 private:
  static absl::Status Unused() { return absl::UnimplementedError("not used by the twin"); }
};

class MemoryFileStoresTest : public ::testing::Test {
 protected:
  RecordingNameServer ns_;
  MemoryFileStores stores_{&ns_};
};

TEST_F(MemoryFileStoresTest, Create_CommitsOnEveryMemberInChainOrderAndTheHeadReportsForAll) {
  auto reply = stores_.CreateFromString(Info("/f", 5), {kA, kB, kC}, "hello");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->file().size(), 5);
  EXPECT_EQ(std::vector<std::string>(reply->committed_on().begin(), reply->committed_on().end()),
            (std::vector<std::string>{kA, kB, kC}));
  for (const std::string& address : {kA, kB, kC}) {
    EXPECT_EQ(*stores_.Content(address, "/f"), "hello") << address;
  }
  EXPECT_EQ(ns_.Adds(), (std::vector<std::string>{kA + " /f@5 +" + kB + " +" + kC}));
  EXPECT_EQ(stores_.Holders("/f", 5), (std::vector<std::string>{kA, kB, kC}));
  EXPECT_EQ(stores_.Calls(Method::kCreate), 3);
}

TEST_F(MemoryFileStoresTest, Create_VersionNotAboveAMembersLatest_TooOldAndNothingCommitted) {
  stores_.Put(kB, Info("/f", 7), "newer");
  absl::Status st = stores_.CreateFromString(Info("/f", 7), {kA, kB, kC}, "x").status();
  EXPECT_TRUE(IsVersionTooOld(st)) << st;
  EXPECT_EQ(FailedMember(st), "");  // a refusal, not the member's fault
  EXPECT_FALSE(stores_.Lookup(kA, "/f").has_value());
  EXPECT_FALSE(stores_.Lookup(kC, "/f").has_value());
  EXPECT_EQ(*stores_.Content(kB, "/f"), "newer");
  EXPECT_TRUE(ns_.Adds().empty());
}

TEST_F(MemoryFileStoresTest, Create_ThroughADeadMember_NamesItAndCommitsNothing) {
  stores_.SetDead(kB);
  absl::Status st = stores_.CreateFromString(Info("/f", 1), {kA, kB, kC}, "x").status();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_EQ(FailedMember(st), kB);
  EXPECT_TRUE(stores_.Holders("/f").empty());
  stores_.SetDead(kB, false);
  EXPECT_TRUE(stores_.CreateFromString(Info("/f", 2), {kA, kB, kC}, "x").ok());
}

TEST_F(MemoryFileStoresTest, FailNext_FailsOnlyThatManyCallsOfThatMethodOnThatAddress) {
  stores_.FailNext(Method::kCreate, 1, absl::ResourceExhaustedError("disk full"), kC);
  absl::Status st = stores_.CreateFromString(Info("/f", 1), {kA, kB, kC}, "x").status();
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_EQ(FailedMember(st), kC);
  EXPECT_TRUE(stores_.Delete(kC, "/g", 2).ok());  // another method is not affected
  EXPECT_TRUE(stores_.CreateFromString(Info("/f", 3), {kA, kB, kC}, "x").ok());
  EXPECT_EQ(stores_.Calls(Method::kCreate, kC), 2);
  EXPECT_EQ(stores_.Calls(Method::kDelete), 1);
}

TEST_F(MemoryFileStoresTest, ReportRefused_CommitStaysAndTheCallFailsNamingTheHead) {
  ns_.answer = absl::UnavailableError("NameServer away");
  absl::Status st = stores_.CreateFromString(Info("/f", 1), {kA, kB}, "x").status();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_EQ(FailedMember(st), kA);  // the head's report failed
  EXPECT_EQ(stores_.Holders("/f", 1), (std::vector<std::string>{kA, kB}));
  ns_.answer = VersionTooOld("below /minver");
  EXPECT_TRUE(IsVersionTooOld(stores_.CreateFromString(Info("/f", 2), {kA, kB}, "x").status()));
  // A tombstone the NameServer asked for is not reported back to it before the answer.
  EXPECT_TRUE(stores_.Delete(kA, "/g", 3).ok());
}

TEST_F(MemoryFileStoresTest, ForwardedCreate_IsTheForwardingHeadsToReport) {
  grpc::ServerContext forwarding;  // the call a FileStore forwards
  auto call = stores_.StartCreateSmall(Info("/f", 1), {kB, kC}, "x", Checksum("x"), &forwarding);
  ASSERT_TRUE(call.ok()) << call.status();
  ASSERT_TRUE((*call)->Finish().ok());
  EXPECT_EQ(stores_.Holders("/f", 1), (std::vector<std::string>{kB, kC}));
  EXPECT_TRUE(ns_.Adds().empty());
}

TEST_F(MemoryFileStoresTest, Create_StreamedFromASourceAndFromAFileDescriptor) {
  std::string big(3 * kMaxChunkBytes + 17, 'z');
  size_t pos = 0;
  auto reply = stores_.Create(Info("/big", 1), {kA}, [&](char* buf, size_t max) {
    size_t n = std::min(max, big.size() - pos);
    std::memcpy(buf, big.data() + pos, n);
    pos += n;
    return absl::StatusOr<size_t>(n);
  });
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*stores_.Content(kA, "/big"), big);
  absl::Status st =
      stores_
          .Create(Info("/bad", 1), {kA},
                  [](char*, size_t) {
                    return absl::StatusOr<size_t>(absl::DataLossError("source broke"));
                  })
          .status();
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(stores_.Lookup(kA, "/bad").has_value());

  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  std::fputs("from a file", file);
  std::fflush(file);
  ASSERT_TRUE(stores_.CreateFromFd(Info("/fd", 2), {kA, kB}, ::fileno(file)).ok());
  std::fclose(file);
  EXPECT_EQ(*stores_.Content(kB, "/fd"), "from a file");
}

TEST_F(MemoryFileStoresTest, CreateStream_CommitsAtCloseAndNothingOnAMismatchedClose) {
  auto stream = stores_.OpenCreateStream(Info("/s", 1), {kA, kB}, 0);
  ASSERT_TRUE(stream.ok()) << stream.status();
  std::string chunk = "abc";
  ASSERT_TRUE((*stream)->Write(&chunk).ok());
  EXPECT_EQ(chunk, "abc");  // handed back unchanged
  EXPECT_FALSE(stores_.Lookup(kA, "/s").has_value());
  ASSERT_TRUE((*stream)->Close(3, Checksum("abc")).ok());
  auto reply = (*stream)->Finish();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*stores_.Content(kB, "/s"), "abc");
  auto small = stores_.StartCreateSmall(Info("/t", 1), {kA}, "abc", Checksum("abd"));
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ((*small)->Finish().status().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(stores_.Lookup(kA, "/t").has_value());
}

TEST_F(MemoryFileStoresTest, CreateStream_Extents_HolesAreZeros_BlockListChecksumVerified) {
  auto stream = stores_.OpenCreateStream(Info("/sparse", 1), {kA, kB}, 0);
  ASSERT_TRUE(stream.ok()) << stream.status();
  std::string chunk = "xy";
  ASSERT_TRUE((*stream)->WriteExtent(5, &chunk).ok());
  std::string before = "z";
  EXPECT_FALSE((*stream)->WriteExtent(0, &before).ok());  // extents go forward
  BlockChecksummer expected;
  expected.Zeros(5);
  expected.Data("xy");
  expected.Zeros(3);
  ASSERT_TRUE((*stream)->Close(10, expected.Digest(), /*block_checksum=*/true).ok());
  ASSERT_TRUE((*stream)->Finish().ok());
  EXPECT_EQ(*stores_.Content(kB, "/sparse"), std::string(5, '\0') + "xy" + std::string(3, '\0'));

  auto wrong = stores_.OpenCreateStream(Info("/wrong", 1), {kA}, 0);
  ASSERT_TRUE(wrong.ok());
  ASSERT_TRUE((*wrong)->WriteExtent(5, &chunk).ok());
  ASSERT_TRUE((*wrong)->Close(9, expected.Digest(), true).ok());
  EXPECT_EQ((*wrong)->Finish().status().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(stores_.Lookup(kA, "/wrong").has_value());
}

TEST_F(MemoryFileStoresTest, Delete_RecordsATombstoneForAnUnknownNameAndRefusesOlderVersions) {
  ASSERT_TRUE(stores_.Delete(kA, "/never", 4).ok());
  EXPECT_TRUE(stores_.Lookup(kA, "/never")->tombstone());
  EXPECT_TRUE(stores_.Delete(kA, "/never", 4).ok());  // the same tombstone again
  EXPECT_TRUE(IsVersionTooOld(stores_.Delete(kA, "/never", 3)));
  EXPECT_EQ(stores_.Content(kA, "/never").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(ns_.Adds().empty());  // the NameServer that asked records it
}

TEST_F(MemoryFileStoresTest, BumpVersion_RelabelsOnlyALiveLatestVersionEqualToTheExpectedOne) {
  stores_.Put(kA, Info("/live", 5), "x");
  stores_.Put(kA, Info("/old", 6), "y");
  v1::FileInfo tomb = Info("/dead", 5);
  tomb.set_tombstone(true);
  stores_.Put(kA, tomb);
  v1::BumpVersionRequest req;
  req.set_new_version(20);
  for (auto [name, expected] : {std::pair{"/live", 5}, {"/old", 5}, {"/dead", 5}, {"/none", 5}}) {
    v1::NameVersion* file = req.add_files();
    file->set_name(name);
    file->set_version(expected);
  }
  auto reply = stores_.BumpVersion(kA, req);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->bumped(), 1);
  ASSERT_EQ(reply->skipped_size(), 3);
  EXPECT_EQ(reply->skipped(0).version(), 6);  // with the stored version
  EXPECT_EQ(stores_.Lookup(kA, "/live")->version(), 20);
  EXPECT_EQ(*stores_.Content(kA, "/live"), "x");
  EXPECT_EQ(stores_.Lookup(kA, "/old")->version(), 6);
}

TEST_F(MemoryFileStoresTest, Clone_MakesANewNameWithTheSourcesContentAndTheTargetsAttributes) {
  stores_.Put(kA, Info("/src", 5), "content");
  v1::CloneRequest req;
  req.mutable_source()->set_name("/src");
  req.mutable_source()->set_version(5);
  *req.mutable_target() = Info("/dst", 6, 0600);
  auto reply = stores_.Clone(kA, req);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->file().attributes().mode(), 0600u);
  EXPECT_EQ(reply->file().size(), 7);
  EXPECT_EQ(*stores_.Content(kA, "/dst"), "content");
  EXPECT_EQ(*stores_.Content(kA, "/src"), "content");
  EXPECT_TRUE(IsVersionTooOld(stores_.Clone(kA, req).status()));
  req.mutable_source()->set_version(4);
  req.mutable_target()->set_version(7);
  EXPECT_EQ(stores_.Clone(kA, req).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(stores_.Clone(kB, req).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(MemoryFileStoresTest, CopyFile_PullsFromTheFirstSourceThatAnswers) {
  stores_.Put(kA, Info("/f", 5), "aaa");
  stores_.Put(kB, Info("/f", 5), "aaa");
  stores_.SetDead(kA);
  v1::CopyFileRequest req;
  req.set_name("/f");
  req.set_version(5);
  req.add_sources(kA);
  req.add_sources(kB);
  auto reply = stores_.CopyFile(kC, req);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*stores_.Content(kC, "/f"), "aaa");
  EXPECT_EQ(ns_.Adds(), (std::vector<std::string>{kC + " /f@5"}));
  req.set_version(9);
  EXPECT_EQ(stores_.CopyFile(kC, req).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(MemoryFileStoresTest, Reader_FailsOverMidFileAndKeepsTheVersionItOpened) {
  std::string content(100, 'a');
  ASSERT_TRUE(stores_.CreateFromString(Info("/f", 5), {kA, kB}, content).ok());
  auto reader = stores_.OpenReader("/f", 0, {kA, kB});
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->info().version(), 5);
  char buf[100];
  ASSERT_EQ(*(*reader)->ReadAt(0, 10, buf), 10u);
  stores_.SetDead(kA);
  ASSERT_EQ(*(*reader)->ReadAt(10, 90, buf), 90u);
  EXPECT_EQ(stores_.Calls(Method::kRead, kB), 2);  // the open and the read
  // A newer version on its holder: the open reader still reads the version it opened, as
  // an open descriptor does.
  ASSERT_TRUE(stores_.CreateFromString(Info("/f", 6), {kB}, "new").ok());
  ASSERT_EQ(*(*reader)->ReadAt(0, 10, buf), 10u);
  EXPECT_EQ(std::string(buf, 10), content.substr(0, 10));
  stores_.SetDead(kA, false);
  EXPECT_EQ(*stores_.ReadAll("/f", 0, {kB, kA}), "new");
  EXPECT_EQ(*stores_.ReadAll("/f", 5, {kB, kA}), content);
}

TEST_F(MemoryFileStoresTest, CorruptReplica_NotServedButDroppedAndReported) {
  ASSERT_TRUE(stores_.CreateFromString(Info("/f", 5), {kA, kB}, "good").ok());
  stores_.Corrupt(kA, "/f");
  EXPECT_EQ(*stores_.ReadAll("/f", 5, {kA, kB}), "good");
  EXPECT_FALSE(stores_.Lookup(kA, "/f").has_value());
  EXPECT_EQ(ns_.bad, (std::vector<std::string>{kA + " /f"}));
}

TEST_F(MemoryFileStoresTest, ReadSmall_FailsOverADeadAndACorruptHolder_TheCorruptOneReported) {
  ASSERT_TRUE(stores_.CreateFromString(Info("/f", 5), {kA, kB, kC}, "content").ok());
  stores_.SetDead(kA);
  stores_.Corrupt(kB, "/f");
  auto reply = stores_.ReadSmall("/f", 5, {kA, kB, kC});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->content(), "content");
  EXPECT_EQ(reply->info().version(), 5);
  EXPECT_EQ(reply->info().size(), 7);
  EXPECT_EQ(stores_.Calls(Method::kReadSmall), 3);
  EXPECT_EQ(stores_.Calls(Method::kRead), 0);
  EXPECT_FALSE(stores_.Lookup(kB, "/f").has_value());
  EXPECT_EQ(ns_.bad, (std::vector<std::string>{kB + " /f"}));
}

TEST_F(MemoryFileStoresTest, ReadSmall_RefusesTombstonesOtherVersionsAndLargeObjects) {
  ASSERT_TRUE(stores_.CreateFromString(Info("/f", 5), {kA, kB}, "content").ok());
  ASSERT_TRUE(
      stores_.CreateFromString(Info("/large", 6), {kA, kB}, std::string(kMaxChunkBytes + 1, 'l'))
          .ok());
  ASSERT_TRUE(stores_.Delete(kA, "/gone", 7).ok());
  EXPECT_EQ(stores_.ReadSmall("/f", 4, {kA, kB}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(stores_.ReadSmall("/gone", 0, {kA}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(stores_.ReadSmall("relative", 0, {kA}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const int64_t before = stores_.Calls(Method::kReadSmall);
  EXPECT_EQ(stores_.ReadSmall("/large", 6, {kA, kB}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(stores_.Calls(Method::kReadSmall), before + 1);  // every holder would say the same
  stores_.FailNext(Method::kReadSmall, 2, absl::UnimplementedError("an old FileStore"));
  EXPECT_EQ(stores_.ReadSmall("/f", 5, {kA, kB}).status().code(), absl::StatusCode::kUnimplemented);
}

TEST_F(MemoryFileStoresTest, MinVersion_DropsEverythingBelowAndRefusesSuchVersions) {
  stores_.Put(kA, Info("/old", 5), "x");
  stores_.Put(kA, Info("/new", 15), "y");
  stores_.SetMinVersion(10);
  auto listed = stores_.ListFilesAndTombstones(kA);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name(), "/new");
  EXPECT_TRUE(IsVersionTooOld(stores_.CreateFromString(Info("/old", 9), {kA}, "x").status()));
}

TEST_F(MemoryFileStoresTest, Hook_RunsBeforeEveryCallAndCanFailIt) {
  std::vector<std::string> seen;
  stores_.SetHook([&](Method method, const std::string& address) {
    seen.push_back(address);
    if (method == Method::kClone) return absl::DeadlineExceededError("slow");
    return absl::OkStatus();
  });
  EXPECT_TRUE(stores_.CreateFromString(Info("/f", 1), {kA, kB}, "x").ok());
  v1::CloneRequest req;
  req.mutable_source()->set_name("/f");
  req.mutable_source()->set_version(1);
  *req.mutable_target() = Info("/g", 2);
  EXPECT_EQ(stores_.Clone(kA, req).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(seen, (std::vector<std::string>{kA, kB, kA}));
}

TEST_F(MemoryFileStoresTest, BadInput_RefusedLikeTheRealFileStore) {
  EXPECT_EQ(stores_.Delete("unix:/x:1", "/f", 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(stores_.Delete(kA, "relative", 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(stores_.CreateFromString(Info("/f", 1), {}, "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(stores_.CreateFromString(Info("/f", 1), {kA, kA}, "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(stores_.CreateFromString(Info("/f", 1, 010000), {kA}, "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(stores_.Holders("/f").empty());
}

}  // namespace
}  // namespace chainfs
