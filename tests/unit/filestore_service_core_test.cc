// FileStoreService, the FileStore's core class, against the twins: a real ObjectStore in a
// temporary directory, MemoryFileStores as the rest of its chain and MemoryNameServer as the
// NameServer its Reporter reports to. Unary calls are made directly on the service; only the
// Create stream goes through a loopback server.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "common/checksum.h"
#include "common/client/filestore_client.h"
#include "common/client/memory_filestores.h"
#include "common/client/memory_nameserver.h"
#include "common/status.h"
#include "servers/filestore/filestore_service.h"
#include "servers/filestore/object_store.h"
#include "servers/filestore/reporter.h"
#include "tests/fixtures/file_info.h"

namespace chainfs::filestore {
namespace {

namespace fs = std::filesystem;
using Method = MemoryFileStores::Method;

const std::string kSelf = "10.0.0.1:7000";
const std::string kB = "10.0.0.2:7000";
const std::string kC = "10.0.0.3:7000";

using testing::Info;

v1::CreateSmallRequest Small(const std::string& name, int64_t version, const std::string& content,
                             const std::vector<std::string>& rest = {}) {
  v1::CreateSmallRequest req;
  *req.mutable_header()->mutable_file() = Info(name, version);
  for (const std::string& address : rest) req.mutable_header()->add_chain(address);
  req.set_content(content);
  req.mutable_close()->set_size(static_cast<int64_t>(content.size()));
  req.mutable_close()->set_checksum(Checksum(content));
  return req;
}

std::vector<std::string> CommittedOn(const v1::CreateReply& reply) {
  return {reply.committed_on().begin(), reply.committed_on().end()};
}

class FileStoreServiceCoreTest : public ::testing::Test {
 protected:
  // One data directory for the suite: creating the store's shard directories costs far more
  // than a test, so each test only empties them.
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / fmt::format("chainfs-fscore-{}", ::getpid()));
    fs::remove_all(*dir_);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  void SetUp() override {
    auto store = ObjectStore::Open({.dir = dir_->string()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    reporter_ = std::make_unique<Reporter>(store_.get(), nullptr, &nameserver_, SystemClock::Get(),
                                           ReporterSettings{.self = kSelf});
    service_ = std::make_unique<FileStoreService>(store_.get(), &downstream_, reporter_.get(),
                                                  FileStoreSettings{.self = kSelf});
  }
  void TearDown() override {
    service_.reset();
    reporter_.reset();
    store_.reset();
    for (const auto& entry : fs::recursive_directory_iterator(*dir_)) {
      if (entry.is_regular_file()) fs::remove(entry.path());
    }
  }

  absl::StatusOr<v1::CreateReply> CreateSmall(const v1::CreateSmallRequest& req) {
    grpc::ServerContext ctx;
    v1::CreateReply reply;
    absl::Status st = FromGrpc(service_->CreateSmall(&ctx, &req, &reply));
    if (!st.ok()) return st;
    return reply;
  }

  static fs::path* dir_;
  std::unique_ptr<ObjectStore> store_;
  MemoryNameServer nameserver_{{kSelf, kB, kC}};
  MemoryFileStores downstream_{&nameserver_};
  std::unique_ptr<Reporter> reporter_;
  std::unique_ptr<FileStoreService> service_;
};

fs::path* FileStoreServiceCoreTest::dir_ = nullptr;

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST_F(FileStoreServiceCoreTest, CreateSmall_ForwardedDownTheChain_AcknowledgedOnceAllCommitted) {
  auto reply = CreateSmall(Small("/f", 5, "hello", {kB, kC}));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(CommittedOn(*reply), (std::vector<std::string>{kSelf, kB, kC}));
  EXPECT_EQ(store_->Lookup("/f")->size(), 5);
  EXPECT_EQ(*downstream_.Content(kB, "/f"), "hello");
  EXPECT_EQ(*downstream_.Content(kC, "/f"), "hello");
  // Every member reported its copy before the acknowledgement.
  EXPECT_EQ(nameserver_.Latest("/f")->version(), 5);
  EXPECT_EQ(Sorted(nameserver_.Holders("/f")), (std::vector<std::string>{kSelf, kB, kC}));
  EXPECT_EQ(downstream_.Calls(Method::kCreate), 2);
}

TEST_F(FileStoreServiceCoreTest, CreateSmall_DownstreamMemberFails_NamedInTheErrorAndNotAcked) {
  downstream_.SetDead(kC);
  auto reply = CreateSmall(Small("/f", 5, "hello", {kB, kC}));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_EQ(FailedMember(reply.status()), kC);
  EXPECT_FALSE(downstream_.Lookup(kC, "/f").has_value());
  // A refusal down the chain is not a member's fault: nobody is named.
  downstream_.SetDead(kC, false);
  downstream_.Put(kB, Info("/g", 9), "newer");
  reply = CreateSmall(Small("/g", 8, "older", {kB, kC}));
  EXPECT_TRUE(IsVersionTooOld(reply.status())) << reply.status();
  EXPECT_EQ(FailedMember(reply.status()), "");
}

TEST_F(FileStoreServiceCoreTest, Create_VersionNotAboveTheStoredOne_RefusedAsTooOld) {
  ASSERT_TRUE(CreateSmall(Small("/f", 5, "first")).ok());
  for (int64_t version : {5, 4}) {
    auto reply = CreateSmall(Small("/f", version, "again", {kB}));
    EXPECT_TRUE(IsVersionTooOld(reply.status())) << version << ": " << reply.status();
  }
  // Refused before anything was forwarded.
  EXPECT_EQ(downstream_.Calls(Method::kCreate), 0);
  EXPECT_EQ(store_->Lookup("/f")->version(), 5);
}

TEST_F(FileStoreServiceCoreTest, Delete_OfAnUnknownName_RecordsATombstoneReportedInTheBackground) {
  reporter_->RunOnce();  // registered
  grpc::ServerContext ctx;
  v1::DeleteRequest req;
  req.set_name("/never-held");
  req.set_version(7);
  v1::DeleteReply reply;
  ASSERT_TRUE(service_->Delete(&ctx, &req, &reply).ok());
  auto held = store_->Lookup("/never-held");
  ASSERT_TRUE(held.has_value());
  EXPECT_TRUE(held->tombstone());
  EXPECT_EQ(held->version(), 7);
  // The NameServer asked for it and records it itself: no second round trip to it.
  EXPECT_EQ(nameserver_.calls("AddFileOrTombstone"), 0);
  EXPECT_EQ(reporter_->pending_reports(), 1u);
  reporter_->RunOnce();
  EXPECT_TRUE(nameserver_.Latest("/never-held")->tombstone());
}

TEST_F(FileStoreServiceCoreTest, ReportRefused_CommitStaysButTheCreateIsNotAcknowledged) {
  nameserver_.FailNext("AddFileOrTombstone", absl::UnavailableError("NameServer away"));
  auto reply = CreateSmall(Small("/f", 5, "hello"));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_TRUE(store_->Lookup("/f").has_value());
}

// --- one report per create, from the chain's head (issue 12) ---

TEST_F(FileStoreServiceCoreTest, Head_ReportsOnceForTheWholeChain_AfterEveryMemberCommitted) {
  ASSERT_TRUE(CreateSmall(Small("/f", 5, "hello", {kB, kC})).ok());
  EXPECT_EQ(nameserver_.calls("AddFileOrTombstone"), 1);
  EXPECT_EQ(Sorted(nameserver_.Holders("/f")), (std::vector<std::string>{kSelf, kB, kC}));
  // Nothing left for the background: the head's report covered its own copy.
  EXPECT_EQ(reporter_->pending_reports(), 0u);
}

TEST_F(FileStoreServiceCoreTest, HeadReportFails_AfterTheMembersCommitted_NotAckedAndCopiesStay) {
  nameserver_.FailNext("AddFileOrTombstone", absl::UnavailableError("NameServer away"));
  auto reply = CreateSmall(Small("/f", 5, "hello", {kB, kC}));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_FALSE(nameserver_.Latest("/f").has_value());
  EXPECT_EQ(store_->Lookup("/f")->version(), 5);
  EXPECT_EQ(*downstream_.Content(kB, "/f"), "hello");
  EXPECT_EQ(*downstream_.Content(kC, "/f"), "hello");
  // The client's retry, with a newer version, is acknowledged once all of it is recorded.
  ASSERT_TRUE(CreateSmall(Small("/f", 6, "hello", {kB, kC})).ok());
  EXPECT_EQ(nameserver_.Latest("/f")->version(), 6);
  EXPECT_EQ(Sorted(nameserver_.Holders("/f")), (std::vector<std::string>{kSelf, kB, kC}));
}

TEST_F(FileStoreServiceCoreTest,
       ForwardedMember_HeadDies_TheQueuedReportStillReachesTheNameServer) {
  reporter_->RunOnce();  // registered
  // Copies that a head forwarded here; that head died before it could report them.
  for (int64_t v : {5, 6, 7}) {
    v1::CreateSmallRequest req = Small(fmt::format("/f{}", v), v, "hello");
    req.mutable_header()->set_forwarded(true);
    ASSERT_TRUE(CreateSmall(req).ok());
  }
  EXPECT_EQ(nameserver_.calls("AddFileOrTombstone"), 0);  // nothing before the acknowledgement
  EXPECT_EQ(reporter_->pending_reports(), 3u);
  reporter_->RunOnce();
  // One call for all three, and the NameServer knows this copy of each.
  EXPECT_EQ(nameserver_.calls("AddFileOrTombstone"), 1);
  EXPECT_EQ(reporter_->pending_reports(), 0u);
  for (int64_t v : {5, 6, 7}) {
    EXPECT_EQ(nameserver_.Holders(fmt::format("/f{}", v)), (std::vector<std::string>{kSelf}));
  }
}

TEST_F(FileStoreServiceCoreTest, QueuedReports_NameServerAway_KeptAndSentOnceItAnswers) {
  reporter_->RunOnce();
  v1::CreateSmallRequest req = Small("/f", 5, "hello");
  req.mutable_header()->set_forwarded(true);
  ASSERT_TRUE(CreateSmall(req).ok());
  nameserver_.FailNext("AddFileOrTombstone", absl::UnavailableError("NameServer away"));
  reporter_->RunOnce();
  EXPECT_EQ(reporter_->pending_reports(), 1u);
  EXPECT_FALSE(nameserver_.Latest("/f").has_value());
  reporter_->HeartBeat();  // the NameServer answers again
  reporter_->RunOnce();
  EXPECT_EQ(reporter_->pending_reports(), 0u);
  EXPECT_EQ(nameserver_.Holders("/f"), (std::vector<std::string>{kSelf}));
}

TEST_F(FileStoreServiceCoreTest, QueuedReports_ARefusedOneIsDropped_TheRestOfItsBatchIsSent) {
  reporter_->RunOnce();
  for (int64_t v : {5, 6, 7}) {
    v1::CreateSmallRequest req = Small(fmt::format("/f{}", v), v, "hello");
    req.mutable_header()->set_forwarded(true);
    ASSERT_TRUE(CreateSmall(req).ok());
  }
  nameserver_.FailNext("AddFileOrTombstone", VersionTooOld("below /minver"));
  reporter_->RunOnce();
  EXPECT_EQ(reporter_->pending_reports(), 0u);
  EXPECT_EQ(nameserver_.calls("AddFileOrTombstone"), 2);
  EXPECT_FALSE(nameserver_.Latest("/f5").has_value());
  EXPECT_EQ(nameserver_.Holders("/f6"), (std::vector<std::string>{kSelf}));
  EXPECT_EQ(nameserver_.Holders("/f7"), (std::vector<std::string>{kSelf}));
}

// The Create stream needs a real stream: the service listens on loopback, and forwards to
// the twins.
TEST_F(FileStoreServiceCoreTest, CreateStream_ForwardedChunkByChunk_FailedMemberNamed) {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service_.get());
  auto server = builder.BuildAndStart();
  ASSERT_TRUE(server);
  const std::string self = fmt::format("127.0.0.1:{}", port);
  service_->SetSelf(self, reporter_.get());
  FileStoreClient client;
  const std::string content(3 * kMaxChunkBytes + 5, 'c');
  auto reply = client.CreateFromString(Info("/big", 3), {self, kB, kC}, content, false);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(CommittedOn(*reply), (std::vector<std::string>{self, kB, kC}));
  EXPECT_EQ(*downstream_.Content(kC, "/big"), content);
  EXPECT_EQ(store_->Lookup("/big")->size(), static_cast<int64_t>(content.size()));

  downstream_.FailNext(Method::kCreate, 1, absl::ResourceExhaustedError("disk full"), kB);
  absl::Status st =
      client.CreateFromString(Info("/big", 4), {self, kB, kC}, content, false).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_EQ(FailedMember(st), kB);
  server->Shutdown();
}

}  // namespace
}  // namespace chainfs::filestore
