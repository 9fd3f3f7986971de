// The FileStore service in the test process: a real ObjectStore in a temporary directory,
// the in-memory ZooKeeper, and a fake NameServer on loopback whose answers the tests choose.
#include "servers/filestore/filestore_service.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <tuple>

#include "common/checksum.h"
#include "common/client/filestore_client.h"
#include "common/client/nameserver_client.h"
#include "common/file_util.h"
#include "common/status.h"
#include "common/zk/zookeeper.h"
#include "servers/filestore/object_store.h"
#include "servers/filestore/reporter.h"
#include "tests/fixtures/file_info.h"

namespace chainfs::filestore {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::unique_ptr<grpc::Server> ServeOnLoopback(grpc::Service* service, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

// Polls cond for up to `limit` of real time (the threads under test run in real time).
template <typename F>
bool Within(Duration limit, F cond) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return cond();
}

using testing::Info;

// Records what the FileStore tells it; the test picks the answer to AddFileOrTombstone and
// may hold registrations until released.
class FakeNameServer final : public v1::NameServer::Service {
 public:
  grpc::Status RegisterFilesAndTombstones(grpc::ServerContext* ctx,
                                          grpc::ServerReader<v1::RegisterRequest>* reader,
                                          v1::RegisterReply*) override {
    v1::RegisterRequest req;
    while (reader->Read(&req)) {
    }
    std::unique_lock lock(mu);
    ++registrations;
    cv.notify_all();
    while (stall_register && !ctx->IsCancelled()) cv.wait_for(lock, milliseconds(10));
    return grpc::Status::OK;
  }
  grpc::Status HeartBeat(grpc::ServerContext*, const v1::HeartBeatRequest*,
                         v1::HeartBeatReply* reply) override {
    std::lock_guard lock(mu);
    ++heartbeats;
    reply->set_reregister(ask_reregister.exchange(false));
    return grpc::Status::OK;
  }
  grpc::Status AddFileOrTombstone(grpc::ServerContext*, const v1::AddFileOrTombstoneRequest* req,
                                  v1::AddFileOrTombstoneReply*) override {
    std::lock_guard lock(mu);
    ++add_calls;
    if (!add_answer.ok()) return ToGrpc(add_answer);
    if (req->filestore() == lose_reports_from)
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "lost");
    adds.push_back(req->file());
    also_on[req->file().name()].assign(req->also_on().begin(), req->also_on().end());
    for (const v1::FileInfo& f : req->more()) adds.push_back(f);
    return grpc::Status::OK;
  }
  grpc::Status ReportBadReplica(grpc::ServerContext*, const v1::ReportBadReplicaRequest* req,
                                v1::ReportBadReplicaReply*) override {
    std::lock_guard lock(mu);
    bad.push_back(req->file());
    return grpc::Status::OK;
  }
  bool Added(const std::string& name, int64_t version) {
    std::lock_guard lock(mu);
    for (const auto& f : adds) {
      if (f.name() == name && f.version() == version) return true;
    }
    return false;
  }
  void SetAddAnswer(absl::Status st) {
    std::lock_guard lock(mu);
    add_answer = std::move(st);
  }
  void Release() {
    std::lock_guard lock(mu);
    stall_register = false;
    cv.notify_all();
  }

  std::mutex mu;
  std::condition_variable cv;
  int registrations = 0;
  int heartbeats = 0;
  int add_calls = 0;
  std::string lose_reports_from;                            // its reports never arrive
  std::map<std::string, std::vector<std::string>> also_on;  // name -> the head's also_on
  bool stall_register = false;
  absl::Status add_answer;
  std::vector<v1::FileInfo> adds;
  std::vector<v1::NameVersion> bad;
  std::atomic<bool> ask_reregister{false};
};

class FileStoreServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            fmt::format("chainfs-fsservice-{}-{}", ::getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    auto store = ObjectStore::Open({.dir = (root_ / "data").string()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    ns_server_ = ServeOnLoopback(&fake_ns_, &ns_port_);
    ASSERT_TRUE(ns_server_);
    ensemble_ = zk::NewMemoryEnsemble();
    zk_ = zk::NewMemoryZooKeeper(ensemble_);
    admin_zk_ = zk::NewMemoryZooKeeper(ensemble_);
  }
  void TearDown() override {
    Stop();
    ns_server_->Shutdown();
    fs::remove_all(root_);
  }

  // Starts the service (with a reporter talking to the fake NameServer unless !with_ns).
  void Start(bool with_ns = true, int max_streams = 64) {
    FileStoreSettings settings;
    settings.max_streams = max_streams;
    settings.stream_timeout = seconds(60);
    service_ =
        std::make_unique<FileStoreService>(store_.get(), &service_client_, nullptr, settings);
    server_ = ServeOnLoopback(service_.get(), &port_);
    ASSERT_TRUE(server_);
    self_ = fmt::format("127.0.0.1:{}", port_);
    if (with_ns) {
      ASSERT_TRUE(
          admin_zk_->Create("/leader", fmt::format("127.0.0.1:{}\nhost", ns_port_), false).ok());
      NameServerClientSettings ns_settings;
      ns_settings.call_timeout = seconds(2);
      ns_settings.attempt_timeout = seconds(1);
      ns_client_ = std::make_unique<NameServerClient>(zk_.get(), ns_settings);
      reporter_ =
          std::make_unique<Reporter>(store_.get(), zk_.get(), ns_client_.get(), SystemClock::Get(),
                                     ReporterSettings{self_, milliseconds(50)});
      reporter_->Start();
      ASSERT_TRUE(Within(seconds(5), [&] {
        std::lock_guard lock(fake_ns_.mu);
        return fake_ns_.registrations > 0;
      }));
    }
    service_->SetSelf(self_, reporter_.get());
  }
  void Stop() {
    if (server_) server_->Shutdown();
    if (reporter_) reporter_->Stop();
    server_.reset();
    service_.reset();
    reporter_.reset();
    ns_client_.reset();
  }
  absl::Status Put(const std::string& name, int64_t version, const std::string& content = "x") {
    return client_.CreateFromString(Info(name, version), {self_}, content).status();
  }
  absl::Status PutStreamed(const std::string& name, int64_t version) {
    return client_.CreateFromString(Info(name, version), {self_}, "streamed", false).status();
  }

  fs::path root_;
  std::unique_ptr<ObjectStore> store_;
  FakeNameServer fake_ns_;
  int ns_port_ = 0;
  std::unique_ptr<grpc::Server> ns_server_;
  std::shared_ptr<zk::MemoryEnsemble> ensemble_;
  std::unique_ptr<zk::ZooKeeper> zk_;
  std::unique_ptr<zk::ZooKeeper> admin_zk_;
  std::unique_ptr<NameServerClient> ns_client_;
  std::unique_ptr<Reporter> reporter_;
  FileStoreClient service_client_;
  std::unique_ptr<FileStoreService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string self_;
  FileStoreClient client_;
  FileStoreChannels channels_{4};  // raw stubs, for streams the client never sends
};

// Defect 7: the chain is told OK only once the NameServer recorded the commit.
TEST_F(FileStoreServiceTest, NameServerRefusesReports_CommitsFailButStayAndAreReportedLater) {
  Start();
  fake_ns_.SetAddAnswer(absl::UnavailableError("NameServer busy"));
  absl::Status st = Put("/small", 10);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  st = PutStreamed("/streamed", 11);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  // The NameServer that asks for a tombstone records it itself: the report is queued.
  EXPECT_TRUE(client_.Delete(self_, "/gone", 12).ok());
  v1::CloneRequest clone;
  clone.mutable_source()->set_name("/small");
  clone.mutable_source()->set_version(10);
  *clone.mutable_target() = Info("/renamed", 13);
  st = client_.Clone(self_, clone).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  // Committed here all the same, and told to the NameServer once it listens again.
  EXPECT_TRUE(store_->Lookup("/small").has_value());
  EXPECT_TRUE(store_->Lookup("/streamed").has_value());
  EXPECT_TRUE(store_->Lookup("/gone").has_value());
  EXPECT_TRUE(store_->Lookup("/renamed").has_value());
  fake_ns_.SetAddAnswer(absl::OkStatus());
  EXPECT_TRUE(Within(seconds(5), [&] {
    return fake_ns_.Added("/small", 10) && fake_ns_.Added("/streamed", 11) &&
           fake_ns_.Added("/gone", 12) && fake_ns_.Added("/renamed", 13);
  }));
  // Recorded: OK.
  EXPECT_TRUE(Put("/ok", 20).ok());
  EXPECT_TRUE(fake_ns_.Added("/ok", 20));
}

TEST_F(FileStoreServiceTest, NameServerRefusesAVersionBelowMinver_VersionTooOld) {
  Start();
  fake_ns_.SetAddAnswer(VersionTooOld("below /minver"));
  absl::Status st = Put("/old", 10);
  EXPECT_TRUE(IsVersionTooOld(st)) << st;
}

TEST_F(FileStoreServiceTest, CopyFile_FailsWhenTheNameServerDoesNotRecordIt) {
  Start();
  ASSERT_TRUE(Put("/src", 5, "content").ok());
  // A second store to copy into, sharing the fake NameServer.
  auto other = ObjectStore::Open({.dir = (root_ / "other").string()});
  ASSERT_TRUE(other.ok());
  auto other_zk = zk::NewMemoryZooKeeper(ensemble_);
  NameServerClientSettings ns_settings;
  ns_settings.call_timeout = seconds(1);
  NameServerClient other_ns(other_zk.get(), ns_settings);
  FileStoreClient other_client;
  FileStoreService other_service(other->get(), &other_client, nullptr, {});
  int other_port = 0;
  auto other_server = ServeOnLoopback(&other_service, &other_port);
  const std::string other_self = fmt::format("127.0.0.1:{}", other_port);
  Reporter other_reporter(other->get(), other_zk.get(), &other_ns, SystemClock::Get(),
                          ReporterSettings{other_self, milliseconds(50)});
  other_service.SetSelf(other_self, &other_reporter);
  fake_ns_.SetAddAnswer(absl::UnavailableError("NameServer busy"));
  v1::CopyFileRequest copy;
  copy.set_name("/src");
  copy.set_version(5);
  copy.add_sources(self_);
  absl::Status st = client_.CopyFile(other_self, copy).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_TRUE((*other)->Lookup("/src").has_value());
  other_server->Shutdown();
  other_reporter.Stop();
}

// Issue 12: one report per create, from the head, naming every member. The member's own
// report is queued for the background; here it is lost, and the NameServer still learns of
// the member's copy from the head.
TEST_F(FileStoreServiceTest, Chain_HeadReportsForEveryMember_EvenWhenAMembersOwnReportIsLost) {
  Start();
  auto member_store = ObjectStore::Open({.dir = (root_ / "member").string()});
  ASSERT_TRUE(member_store.ok());
  auto member_zk = zk::NewMemoryZooKeeper(ensemble_);
  NameServerClientSettings ns_settings;
  ns_settings.call_timeout = seconds(1);
  NameServerClient member_ns(member_zk.get(), ns_settings);
  FileStoreClient member_client;
  FileStoreService member(member_store->get(), &member_client, nullptr, {});
  int member_port = 0;
  auto member_server = ServeOnLoopback(&member, &member_port);
  const std::string member_self = fmt::format("127.0.0.1:{}", member_port);
  Reporter member_reporter(member_store->get(), member_zk.get(), &member_ns, SystemClock::Get(),
                           ReporterSettings{member_self, milliseconds(50)});
  member.SetSelf(member_self, &member_reporter);
  member_reporter.Start();
  {
    std::lock_guard lock(fake_ns_.mu);
    fake_ns_.lose_reports_from = member_self;
  }
  for (bool small : {true, false}) {
    const std::string name = small ? "/small" : "/streamed";
    auto reply =
        client_.CreateFromString(Info(name, small ? 5 : 6), {self_, member_self}, "data", small);
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->committed_on_size(), 2);
    std::lock_guard lock(fake_ns_.mu);
    EXPECT_EQ(fake_ns_.also_on[name], (std::vector<std::string>{member_self}));
  }
  EXPECT_TRUE((*member_store)->Lookup("/small").has_value());
  EXPECT_TRUE((*member_store)->Lookup("/streamed").has_value());
  member_server->Shutdown();
  member_reporter.Stop();
}

// Defect 2: the watch applies /minver at once, even while the reporter's loop is stuck.
TEST_F(FileStoreServiceTest, MinVersion_AppliedByTheWatchWhileTheLoopIsStuckInARegistration) {
  Start();
  ASSERT_TRUE(Put("/a", 5).ok());
  {
    std::lock_guard lock(fake_ns_.mu);
    fake_ns_.stall_register = true;
  }
  fake_ns_.ask_reregister = true;
  ASSERT_TRUE(Within(seconds(5), [&] {
    std::lock_guard lock(fake_ns_.mu);
    return fake_ns_.registrations >= 2;  // the loop is now held in the registration
  }));
  ASSERT_TRUE(admin_zk_->Create("/minver", "50", false).ok());
  zk::MemoryWaitIdle(zk_.get());
  EXPECT_EQ(store_->min_version(), 50);
  EXPECT_FALSE(store_->Lookup("/a").has_value());
  EXPECT_TRUE(IsVersionTooOld(Put("/b", 40)));
  ASSERT_TRUE(admin_zk_->Set("/minver", "60", -1).ok());
  zk::MemoryWaitIdle(zk_.get());
  EXPECT_EQ(store_->min_version(), 60);
  fake_ns_.Release();
}

// Defect 8: heartbeats have a thread of their own.
TEST_F(FileStoreServiceTest, HeartBeats_KeepComingWhileARegistrationIsStuck) {
  Start();
  {
    std::lock_guard lock(fake_ns_.mu);
    fake_ns_.stall_register = true;
  }
  fake_ns_.ask_reregister = true;
  ASSERT_TRUE(Within(seconds(5), [&] {
    std::lock_guard lock(fake_ns_.mu);
    return fake_ns_.registrations >= 2;
  }));
  int before;
  {
    std::lock_guard lock(fake_ns_.mu);
    before = fake_ns_.heartbeats;
  }
  // 50 ms interval: several heartbeats while the registration hangs.
  EXPECT_TRUE(Within(seconds(2), [&] {
    std::lock_guard lock(fake_ns_.mu);
    return fake_ns_.heartbeats >= before + 4;
  }));
  fake_ns_.Release();
}

// Defect 2 and 6: versions above the lease, or absurdly high, are refused.
TEST_F(FileStoreServiceTest, VersionAboveMaxver_RefusedUntilTheLeaseIsRaised) {
  ASSERT_TRUE(admin_zk_->Create("/maxver", "100", false).ok());
  Start();
  EXPECT_TRUE(Put("/a", 100).ok());
  absl::Status st = Put("/b", 150);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_NE(st.message().find("version above the lease"), std::string::npos) << st;
  st = client_.Delete(self_, "/c", 150);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  v1::BumpVersionRequest bump;
  bump.set_new_version(150);
  auto* file = bump.add_files();
  file->set_name("/a");
  file->set_version(100);
  EXPECT_EQ(client_.BumpVersion(self_, bump).status().code(), absl::StatusCode::kInvalidArgument);
  v1::CloneRequest clone;
  clone.mutable_source()->set_name("/a");
  clone.mutable_source()->set_version(100);
  *clone.mutable_target() = Info("/d", 150);
  EXPECT_EQ(client_.Clone(self_, clone).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(store_->Lookup("/b").has_value());
  EXPECT_FALSE(store_->Lookup("/c").has_value());
  EXPECT_FALSE(store_->Lookup("/d").has_value());
  // Raised a moment ago: read again at once, so the create is not refused.
  ASSERT_TRUE(admin_zk_->Set("/maxver", "200", -1).ok());
  EXPECT_TRUE(Put("/b", 150).ok());
}

TEST_F(FileStoreServiceTest, VersionNearInt64Max_RefusedByAnyCallEvenWithoutNameServer) {
  Start(/*with_ns=*/false);
  constexpr int64_t kHuge = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(client_.Delete(self_, "/x", kHuge).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_.Delete(self_, "/x", kMaxVersion + 1).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Put("/y", kHuge).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->List().empty());
  EXPECT_TRUE(client_.Delete(self_, "/x", kMaxVersion).ok());
}

// Defect 10: a copy from a source that never answers ends with the caller's deadline.
TEST_F(FileStoreServiceTest, CopyFromASilentSource_EndsAtTheCallersDeadlineAndFreesItsSlot) {
  Start(/*with_ns=*/false, /*max_streams=*/1);
  // Accepts connections (the kernel does) and never says a word.
  int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(silent, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(silent, 16), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string source = fmt::format("127.0.0.1:{}", ntohs(addr.sin_port));

  auto stub = *channels_.Get(self_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + seconds(1));
  v1::CopyFileRequest copy;
  copy.set_name("/f");
  copy.set_version(3);
  copy.add_sources(source);
  v1::CopyFileReply reply;
  const auto start = std::chrono::steady_clock::now();
  grpc::Status st = stub->CopyFile(&ctx, copy, &reply);
  EXPECT_TRUE(st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
              st.error_code() == grpc::StatusCode::CANCELLED)
      << st.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(3));
  // The only slot is free again: the copy is over on the server too.
  EXPECT_TRUE(Within(seconds(2), [&] { return Put("/next", 4).ok(); }));
  ::close(silent);
}

// Defect 14: a message after close is refused and nothing is committed.
TEST_F(FileStoreServiceTest, MessageAfterClose_RefusedAndNothingCommitted) {
  Start(/*with_ns=*/false);
  auto stub = *channels_.Get(self_);
  grpc::ClientContext ctx;
  v1::CreateReply reply;
  auto writer = stub->Create(&ctx, &reply);
  v1::CreateRequest req;
  *req.mutable_header()->mutable_file() = Info("/late", 1);
  ASSERT_TRUE(writer->Write(req));
  req.set_data("12345");
  ASSERT_TRUE(writer->Write(req));
  req.mutable_close()->set_size(5);
  req.mutable_close()->set_checksum(Checksum("12345"));
  ASSERT_TRUE(writer->Write(req));
  req.set_data("more");
  writer->Write(req);
  writer->WritesDone();
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(store_->Lookup("/late").has_value());
}

// Flips one byte of an object's file (the .data, or the .meta of an inline one) where `near`
// occurs in it.
void FlipByteOf(const std::string& path, const std::string& near) {
  auto bytes = ReadFileToString(path);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  size_t at = bytes->find(near);
  ASSERT_NE(at, std::string::npos);
  (*bytes)[at] ^= 0x01;
  ASSERT_TRUE(WriteFileAtomically(path, *bytes).ok());
}

TEST_F(FileStoreServiceTest, ReadSmall_AnswersMetadataAndWholeContent_InlineOrNot) {
  Start(/*with_ns=*/false);
  const std::string inline_content = "small content";
  const std::string data_content(200000, 'd');  // beyond the inline limit: a .data file
  ASSERT_TRUE(Put("/inline", 1, inline_content).ok());
  ASSERT_TRUE(Put("/data", 2, data_content).ok());
  ASSERT_TRUE(Put("/empty", 3, "").ok());
  for (const auto& [name, version, content] :
       {std::tuple{"/inline", 1, inline_content}, {"/data", 2, data_content}, {"/empty", 3, ""}}) {
    auto reply = client_.ReadSmall(name, version, {self_});
    ASSERT_TRUE(reply.ok()) << name << ": " << reply.status();
    EXPECT_EQ(reply->content(), content);
    EXPECT_EQ(reply->info().name(), name);
    EXPECT_EQ(reply->info().version(), version);
    EXPECT_EQ(reply->info().size(), static_cast<int64_t>(content.size()));
  }
  auto latest = client_.ReadSmall("/inline", 0, {self_});
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->info().version(), 1);
}

TEST_F(FileStoreServiceTest, ReadSmall_RefusesTombstonesOtherVersionsBadNamesAndLargeObjects) {
  Start(/*with_ns=*/false);
  ASSERT_TRUE(Put("/f", 2, "x").ok());
  ASSERT_TRUE(
      client_.CreateFromString(Info("/large", 3), {self_}, std::string(kMaxChunkBytes + 1, 'l'))
          .ok());
  ASSERT_TRUE(store_->AddTombstone("/gone", 4).ok());
  EXPECT_EQ(client_.ReadSmall("/f", 5, {self_}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_.ReadSmall("/gone", 0, {self_}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_.ReadSmall("/nothing", 0, {self_}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_.ReadSmall("/large", 3, {self_}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client_.ReadSmall("no/slash", 0, {self_}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A holder that does not answer: the next one does.
  auto reply = client_.ReadSmall("/f", 2, {"127.0.0.1:1", self_});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->content(), "x");
}

TEST_F(FileStoreServiceTest, ReadSmall_FlippedByte_DataLoss_ReplicaDroppedAndReported) {
  Start();
  const std::string inline_content(4096, 'i');
  const std::string data_content(300000, 'd');
  ASSERT_TRUE(Put("/inline", 1, inline_content).ok());
  ASSERT_TRUE(Put("/data", 2, data_content).ok());
  FlipByteOf(store_->ObjectPath("/inline", 1, /*meta=*/true), inline_content.substr(0, 64));
  FlipByteOf(store_->ObjectPath("/data", 2, /*meta=*/false), data_content.substr(0, 64));
  EXPECT_EQ(client_.ReadSmall("/inline", 1, {self_}).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(client_.ReadSmall("/data", 2, {self_}).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(store_->Lookup("/inline").has_value());
  EXPECT_FALSE(store_->Lookup("/data").has_value());
  EXPECT_TRUE(Within(seconds(5), [&] {
    std::lock_guard lock(fake_ns_.mu);
    return fake_ns_.bad.size() == 2;
  }));
}

}  // namespace
}  // namespace chainfs::filestore
