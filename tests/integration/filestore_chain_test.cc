// Real chainfs-filestore processes, a real ZooKeeper, and the FileStoreClient.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "common/checksum.h"
#include "common/client/filestore_client.h"
#include "common/log.h"
#include "common/status.h"
#include "common/zk/zookeeper.h"
#include "tests/fixtures/file_info.h"
#include "tests/fixtures/process.h"
#include "tests/fixtures/tls.h"
#include "tests/fixtures/zk_server.h"

namespace chainfs {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::BinaryPath;
using testing::Daemon;
using testing::Eventually;
using testing::TempDir;
namespace fs = std::filesystem;

// Pseudo-random content, generated on the fly (never the whole file in memory).
class RandomSource {
 public:
  RandomSource(int64_t size, uint64_t seed) : size_(size), rng_(seed) {}
  absl::StatusOr<size_t> operator()(char* buf, size_t max) {
    size_t n = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(max), size_ - pos_));
    for (size_t i = 0; i + 8 <= n; i += 8) {
      uint64_t v = rng_();
      std::memcpy(buf + i, &v, 8);
    }
    for (size_t i = n - n % 8; i < n; ++i) buf[i] = static_cast<char>(rng_());
    pos_ += static_cast<int64_t>(n);
    checksum_.Update(std::string_view(buf, n));
    return n;
  }
  int64_t pos() const { return pos_; }
  uint64_t checksum() const { return checksum_.Digest(); }

 private:
  int64_t size_;
  int64_t pos_ = 0;
  std::mt19937_64 rng_;
  StreamingChecksum checksum_;
};

using testing::Info;

// An in-process gRPC server for `service` on a free loopback port (stored in *port).
std::unique_ptr<grpc::Server> ServeOnLoopback(grpc::Service* service, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0",
                           testing::TestCredentials("nameserver").Server(Logger("test")), port);
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

class FileStoreChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    zk_server_ = testing::SharedZkServer();
    chroot_ = testing::UniqueChroot();
  }

  std::string DataDir(int i) const { return fmt::format("{}/fs{}", dir_.path(), i); }

  // Starts FileStore i (data dir fs<i>), replacing a previous process i. With ZooKeeper, a
  // commit is acknowledged only once a NameServer recorded it; without, it works alone.
  std::string StartStore(int i, std::vector<std::string> extra = {}, bool with_zk = false) {
    std::vector<std::string> args = {"--data-dir",           DataDir(i), "--listen", "127.0.0.1:0",
                                     "--heartbeat-interval", "200ms"};
    if (with_zk) {
      args.insert(args.end(),
                  {"--zk", zk_server_->ConnectString(chroot_), "--session-timeout", "2s"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    auto daemon = testing::StartDaemon(BinaryPath("servers/filestore/chainfs-filestore"), args,
                                       fmt::format("{}/fs{}.log", dir_.path(), i));
    EXPECT_TRUE(daemon.ok()) << daemon.status();
    if (!daemon.ok()) return "";
    if (stores_.size() <= static_cast<size_t>(i)) stores_.resize(i + 1);
    stores_[i] = std::move(*daemon);
    return stores_[i].address;
  }

  std::vector<std::string> StartChain(int n) {
    std::vector<std::string> chain;
    for (int i = 0; i < n; ++i) chain.push_back(StartStore(i));
    return chain;
  }

  std::vector<v1::FileInfo> List(const std::string& address) {
    auto list = client_.ListFilesAndTombstones(address);
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? *list : std::vector<v1::FileInfo>{};
  }

  bool Holds(const std::string& address, const std::string& name, int64_t version) {
    for (const auto& f : List(address)) {
      if (f.name() == name && f.version() == version) return true;
    }
    return false;
  }

  std::unique_ptr<zk::ZooKeeper> ConnectZk() {
    auto address = ParseZkAddress(zk_server_->ConnectString(chroot_));
    EXPECT_TRUE(address.ok());
    auto zk = zk::NewZooKeeper(*address, seconds(5), testing::TestZkDigest());
    EXPECT_TRUE(zk.ok()) << zk.status();
    EXPECT_TRUE((*zk)->WaitConnected(seconds(10)).ok());
    return std::move(*zk);
  }

  testing::ZkServer* zk_server_ = nullptr;
  std::string chroot_;
  TempDir dir_;
  std::vector<Daemon> stores_;
  FileStoreClient client_{{.credentials = testing::TestChannelCredentials()}};
  FileStoreChannels channels_{
      16, testing::TestChannelCredentials()};  // raw stubs, for requests the client never sends
};

TEST_F(FileStoreChainTest, SixtyFourMiBCreate_ByteIdenticalOnAllThree) {
  auto chain = StartChain(3);
  const int64_t size = 64 << 20;
  RandomSource source(size, 1);
  auto reply = client_.Create(Info("/big", 7), chain, std::ref(source), size);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->file().size(), size);
  ASSERT_EQ(reply->committed_on_size(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(reply->committed_on(i), chain[i]);
  for (const std::string& holder : chain) {
    auto content = client_.ReadAll("/big", 7, {holder});
    ASSERT_TRUE(content.ok()) << content.status();
    ASSERT_EQ(static_cast<int64_t>(content->size()), size);
    EXPECT_EQ(Checksum(*content), source.checksum()) << holder;
  }
}

TEST_F(FileStoreChainTest, SmallCreate_OneCallUpToAChunkOnEveryMemberStreamBeyond) {
  auto chain = StartChain(3);
  std::mt19937_64 rng(5);
  int64_t version = 10;
  for (size_t size : {size_t{0}, size_t{5}, size_t{64 << 10}, size_t{(64 << 10) + 1},
                      kMaxChunkBytes, kMaxChunkBytes + 1}) {
    std::string content(size, '\0');
    for (char& c : content) c = static_cast<char>(rng());
    const std::string name = fmt::format("/small-{}", size);
    auto reply = client_.CreateFromString(Info(name, ++version), chain, content);
    ASSERT_TRUE(reply.ok()) << size << ": " << reply.status();
    EXPECT_EQ(reply->file().size(), static_cast<int64_t>(size));
    ASSERT_EQ(reply->committed_on_size(), 3) << size;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(reply->committed_on(i), chain[i]);
    for (const std::string& holder : chain) {
      auto read = client_.ReadAll(name, version, {holder});
      ASSERT_TRUE(read.ok()) << read.status();
      EXPECT_EQ(*read, content) << size << " on " << holder;
    }
    // The same rules as the stream: a version not above the stored one is refused.
    auto again = client_.CreateFromString(Info(name, version), chain, "x");
    EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition) << again.status();
  }
}

TEST_F(FileStoreChainTest, SmallCreate_BadChecksumOrOversizedRefusedAndNothingStored) {
  auto chain = StartChain(3);
  auto call = [&](const v1::CreateSmallRequest& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(10));
    v1::CreateReply reply;
    return (*channels_.Get(chain[0]))->CreateSmall(&ctx, req, &reply);
  };
  auto request = [&](const std::string& name, const std::string& content) {
    v1::CreateSmallRequest req;
    *req.mutable_header()->mutable_file() = Info(name, 3);
    req.mutable_header()->add_chain(chain[1]);
    req.mutable_header()->add_chain(chain[2]);
    req.set_content(content);
    req.mutable_close()->set_size(static_cast<int64_t>(content.size()));
    req.mutable_close()->set_checksum(Checksum(content));
    return req;
  };

  v1::CreateSmallRequest corrupt = request("/corrupt", "hello");
  corrupt.mutable_close()->set_checksum(Checksum("hellO"));
  EXPECT_EQ(call(corrupt).error_code(), grpc::StatusCode::DATA_LOSS);
  v1::CreateSmallRequest short_size = request("/short", "hello");
  short_size.mutable_close()->set_size(6);
  EXPECT_EQ(call(short_size).error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(call(request("/huge", std::string(kMaxChunkBytes + 1, 'h'))).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::CreateSmallRequest loop = request("/loop", "hello");
  loop.mutable_header()->add_chain(chain[0]);
  EXPECT_EQ(call(loop).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  for (const std::string& holder : chain) {
    for (const char* name : {"/corrupt", "/short", "/huge", "/loop"}) {
      EXPECT_FALSE(Holds(holder, name, 3)) << name << " on " << holder;
    }
  }
  // The daemons keep serving.
  EXPECT_TRUE(call(request("/fine", "hello")).ok());
  for (const std::string& holder : chain) EXPECT_TRUE(Holds(holder, "/fine", 3)) << holder;
}

// A FileStore from before CreateSmall: it knows only the Create stream.
class StreamOnlyFileStore final : public v1::FileStore::Service {
 public:
  grpc::Status Create(grpc::ServerContext*, grpc::ServerReader<v1::CreateRequest>* reader,
                      v1::CreateReply* reply) override {
    v1::CreateRequest req;
    std::string content;
    while (reader->Read(&req)) {
      if (req.has_header()) *reply->mutable_file() = req.header().file();
      if (req.has_data()) content += req.data();
    }
    std::lock_guard lock(mu);
    received.push_back(content);
    reply->add_committed_on(address);
    return grpc::Status::OK;
  }
  std::string address;
  std::mutex mu;
  std::vector<std::string> received;
};

TEST_F(FileStoreChainTest, SmallCreate_OlderFileStoreGetsTheStream) {
  StreamOnlyFileStore old;
  int port = 0;
  auto server = ServeOnLoopback(&old, &port);
  ASSERT_TRUE(server);
  old.address = fmt::format("127.0.0.1:{}", port);
  const std::string current = StartStore(0);

  // Older at the head: the client streams. Older further down: the current FileStore
  // streams to it after its own commit.
  for (auto chain : {std::vector<std::string>{old.address, current},
                     std::vector<std::string>{current, old.address}}) {
    const std::string name = fmt::format("/mixed-{}", chain[0] == current);
    auto reply = client_.CreateFromString(Info(name, 4), chain, "small content");
    ASSERT_TRUE(reply.ok()) << reply.status();
    ASSERT_EQ(reply->committed_on_size(), chain[0] == current ? 2 : 1);
    if (chain[0] == current) {
      EXPECT_EQ(reply->committed_on(1), old.address);
      EXPECT_TRUE(Holds(current, name, 4));
    }
  }
  std::lock_guard lock(old.mu);
  EXPECT_EQ(old.received, std::vector<std::string>({"small content", "small content"}));
}

TEST_F(FileStoreChainTest, MiddleKilledMidStream_ErrorAndNoStoreListsTheVersion) {
  auto chain = StartChain(3);
  ASSERT_TRUE(client_.CreateFromString(Info("/f", 1), chain, "old").ok());
  RandomSource random(64 << 20, 2);
  bool killed = false;
  auto reply = client_.Create(Info("/f", 2), chain, [&](char* buf, size_t max) {
    if (!killed && random.pos() >= (8 << 20)) {
      stores_[1].process->Kill(SIGKILL);
      killed = true;
    }
    return random(buf, max);
  });
  EXPECT_FALSE(reply.ok());
  EXPECT_TRUE(killed);
  EXPECT_FALSE(Holds(chain[0], "/f", 2));
  EXPECT_FALSE(Holds(chain[2], "/f", 2));
  EXPECT_TRUE(Holds(chain[0], "/f", 1));
  EXPECT_TRUE(Holds(chain[2], "/f", 1));
  // Restarted, the middle one has no trace of it either.
  StartStore(1);
  EXPECT_FALSE(Holds(stores_[1].address, "/f", 2));
  EXPECT_TRUE(Holds(stores_[1].address, "/f", 1));
}

TEST_F(FileStoreChainTest, KilledMidWriteAndRestarted_NoPartialObjectNoTempFiles) {
  auto chain = StartChain(1);
  ASSERT_TRUE(client_.CreateFromString(Info("/kept", 1), chain, "kept").ok());
  RandomSource random(64 << 20, 3);
  bool killed = false;
  auto reply = client_.Create(Info("/partial", 2), chain, [&](char* buf, size_t max) {
    if (!killed && random.pos() >= (16 << 20)) {
      stores_[0].process->Kill(SIGKILL);
      killed = true;
    }
    return random(buf, max);
  });
  EXPECT_FALSE(reply.ok());
  bool had_temp = false;
  for (const auto& e : fs::recursive_directory_iterator(DataDir(0))) {
    had_temp |= e.path().string().ends_with(".tmp");
  }
  EXPECT_TRUE(had_temp) << "the kill should have left a temp file for recovery to remove";
  std::string address = StartStore(0);
  auto list = List(address);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name(), "/kept");
  for (const auto& e : fs::recursive_directory_iterator(DataDir(0))) {
    EXPECT_FALSE(e.path().string().ends_with(".tmp")) << e.path();
  }
  EXPECT_EQ(*client_.ReadAll("/kept", 0, {address}), "kept");
}

TEST_F(FileStoreChainTest, RangedReadsAtOddOffsets_MatchAndFailOver) {
  auto chain = StartChain(2);
  std::string content(3 * (1 << 20) + 17, '\0');
  std::mt19937 rng(4);
  for (char& c : content) c = static_cast<char>(rng());
  ASSERT_TRUE(client_.CreateFromString(Info("/r", 3), chain, content).ok());
  // The first holder does not exist: the reader moves on to the next.
  auto reader = client_.OpenReader("/r", 0, {"127.0.0.1:1", chain[1], chain[0]});
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->info().version(), 3);
  EXPECT_EQ((*reader)->info().size(), static_cast<int64_t>(content.size()));
  std::vector<std::pair<int64_t, size_t>> ranges = {{0, 1},
                                                    {1, 65535},
                                                    {65535, 2},
                                                    {12345, 1 << 20},
                                                    {(1 << 20) - 3, (1 << 20) + 7},
                                                    {static_cast<int64_t>(content.size()) - 5, 100},
                                                    {static_cast<int64_t>(content.size()), 10},
                                                    {3, content.size()}};
  std::string buf;
  for (auto [offset, length] : ranges) {
    buf.assign(length, '\0');
    auto n = (*reader)->ReadAt(offset, length, buf.data());
    ASSERT_TRUE(n.ok()) << n.status();
    size_t want = offset >= static_cast<int64_t>(content.size())
                      ? 0
                      : std::min(length, content.size() - static_cast<size_t>(offset));
    ASSERT_EQ(*n, want) << offset;
    EXPECT_TRUE(buf.compare(0, want, content, static_cast<size_t>(offset), want) == 0) << offset;
  }
  // The holder in use dies: the reader continues from the other one.
  stores_[1].process->Kill(SIGKILL);
  buf.assign(content.size(), '\0');
  auto n = (*reader)->ReadAt(0, content.size(), buf.data());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(buf, content);
}

TEST_F(FileStoreChainTest, CopyFile_PullsFileAndTombstoneWithTheSameVersion) {
  auto chain = StartChain(2);
  ASSERT_TRUE(client_.CreateFromString(Info("/c", 5), {chain[0]}, "copy me").ok());
  ASSERT_TRUE(client_.Delete(chain[0], "/t", 6).ok());
  v1::CopyFileRequest req;
  req.set_name("/c");
  req.add_sources("127.0.0.1:1");  // dead: the next source is used
  req.add_sources(chain[0]);
  auto copied = client_.CopyFile(chain[1], req);
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(copied->file().version(), 5);
  EXPECT_EQ(*client_.ReadAll("/c", 5, {chain[1]}), "copy me");
  req.set_name("/t");
  req.set_version(6);
  copied = client_.CopyFile(chain[1], req);
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_TRUE(copied->file().tombstone());
  EXPECT_TRUE(Holds(chain[1], "/t", 6));
  req.set_name("/missing");
  req.set_version(0);
  EXPECT_FALSE(client_.CopyFile(chain[1], req).ok());
}

TEST_F(FileStoreChainTest, BumpVersion_WrongExpectedChangesNothing) {
  auto chain = StartChain(1);
  ASSERT_TRUE(client_.CreateFromString(Info("/b", 5), chain, "bump").ok());
  v1::BumpVersionRequest req;
  req.set_new_version(50);
  auto* file = req.add_files();
  file->set_name("/b");
  file->set_version(4);
  auto reply = client_.BumpVersion(chain[0], req);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->bumped(), 0);
  ASSERT_EQ(reply->skipped_size(), 1);
  EXPECT_EQ(reply->skipped(0).version(), 5);
  EXPECT_TRUE(Holds(chain[0], "/b", 5));
  file->set_version(5);
  reply = client_.BumpVersion(chain[0], req);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->bumped(), 1);
  EXPECT_TRUE(Holds(chain[0], "/b", 50));
  EXPECT_EQ(*client_.ReadAll("/b", 50, chain), "bump");
}

TEST_F(FileStoreChainTest, Clone_NewNameAndVersionServeTheSameContent) {
  auto chain = StartChain(1);
  ASSERT_TRUE(client_.CreateFromString(Info("/src", 5), chain, "cloned").ok());
  v1::CloneRequest req;
  req.mutable_source()->set_name("/src");
  req.mutable_source()->set_version(5);
  *req.mutable_target() = Info("/dst", 9);
  req.mutable_target()->mutable_attributes()->set_mode(0600);
  auto reply = client_.Clone(chain[0], req);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->file().attributes().mode(), 0600u);
  EXPECT_EQ(*client_.ReadAll("/dst", 9, chain), "cloned");
}

TEST_F(FileStoreChainTest, MinVersionInZooKeeper_DropsOlderObjectsAndTombstones) {
  auto chain = StartChain(1);
  ASSERT_TRUE(client_.CreateFromString(Info("/old", 5), chain, "old").ok());
  ASSERT_TRUE(client_.Delete(chain[0], "/gone", 6).ok());
  ASSERT_TRUE(client_.CreateFromString(Info("/new", 20), chain, "new").ok());
  chain = {StartStore(0, {}, /*with_zk=*/true)};
  auto zk = ConnectZk();
  ASSERT_TRUE(zk->Create("/minver", "10", false).ok());
  EXPECT_TRUE(Eventually([&] { return List(chain[0]).size() == 1; }));
  auto list = List(chain[0]);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name(), "/new");
  auto too_old = client_.CreateFromString(Info("/other", 9), chain, "x");
  EXPECT_TRUE(IsVersionTooOld(too_old.status())) << too_old.status();
  // A later raise is seen too (the watch is re-armed).
  ASSERT_TRUE(zk->Set("/minver", "30", -1).ok());
  EXPECT_TRUE(Eventually([&] { return List(chain[0]).empty(); }));
}

// A NameServer that only records what FileStores tell it.
class FakeNameServer final : public v1::NameServer::Service {
 public:
  grpc::Status RegisterFilesAndTombstones(grpc::ServerContext*,
                                          grpc::ServerReader<v1::RegisterRequest>* reader,
                                          v1::RegisterReply*) override {
    v1::RegisterRequest req;
    std::vector<v1::FileInfo> files;
    std::string filestore;
    while (reader->Read(&req)) {
      if (!req.filestore().empty()) filestore = req.filestore();
      for (const auto& f : req.files()) files.push_back(f);
    }
    std::lock_guard lock(mu);
    registrations.push_back({filestore, files});
    return grpc::Status::OK;
  }
  grpc::Status HeartBeat(grpc::ServerContext*, const v1::HeartBeatRequest* req,
                         v1::HeartBeatReply* reply) override {
    std::lock_guard lock(mu);
    heartbeats.push_back(*req);
    reply->set_reregister(ask_reregister.exchange(false));
    return grpc::Status::OK;
  }
  grpc::Status AddFileOrTombstone(grpc::ServerContext* ctx,
                                  const v1::AddFileOrTombstoneRequest* req,
                                  v1::AddFileOrTombstoneReply*) override {
    std::unique_lock lock(mu);
    if (req->filestore() == hold_from) {
      // Never answered: the caller waits until it gives up or dies.
      held = true;
      while (!ctx->IsCancelled()) cv.wait_for(lock, milliseconds(10));
      return grpc::Status::CANCELLED;
    }
    adds.push_back(*req);
    return grpc::Status::OK;
  }
  // Whether `filestore` reported name@version (as `file` or among `more`).
  bool Reported(const std::string& filestore, const std::string& name, int64_t version) {
    std::lock_guard lock(mu);
    for (const auto& add : adds) {
      if (add.filestore() != filestore) continue;
      if (add.file().name() == name && add.file().version() == version) return true;
      for (const auto& f : add.more()) {
        if (f.name() == name && f.version() == version) return true;
      }
    }
    return false;
  }

  std::mutex mu;
  std::vector<std::pair<std::string, std::vector<v1::FileInfo>>> registrations;
  std::vector<v1::HeartBeatRequest> heartbeats;
  std::vector<v1::AddFileOrTombstoneRequest> adds;
  std::atomic<bool> ask_reregister{false};
  std::condition_variable cv;
  std::string hold_from;  // AddFileOrTombstone from this FileStore is never answered
  bool held = false;      // one was
};

// Issue 12: the head reports for the whole chain after every member committed. Killed while
// its report is in flight, the create is not acknowledged, and the member's own report,
// queued for the background, still tells the NameServer of its copy.
TEST_F(FileStoreChainTest, HeadKilledWhileReporting_CreateFailsAndTheMembersQueuedReportArrives) {
  const std::string head = StartStore(0, {}, /*with_zk=*/true);
  const std::string member = StartStore(1, {}, /*with_zk=*/true);
  FakeNameServer fake;
  fake.hold_from = head;
  int port = 0;
  auto server = ServeOnLoopback(&fake, &port);
  ASSERT_TRUE(server);
  auto zk = ConnectZk();
  ASSERT_TRUE(zk->Create("/leader", fmt::format("127.0.0.1:{}\ntesthost", port), true).ok());
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(fake.mu);
    return fake.registrations.size() >= 2;
  }));
  absl::Status created;
  std::thread writer([&] {
    created = client_.CreateFromString(Info("/f", 7), {head, member}, "data").status();
  });
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(fake.mu);
    return fake.held;  // the member committed and answered; the head is reporting
  }));
  EXPECT_TRUE(Holds(member, "/f", 7));
  stores_[0].process->Kill(SIGKILL);
  writer.join();
  EXPECT_FALSE(created.ok());
  EXPECT_TRUE(Eventually([&] { return fake.Reported(member, "/f", 7); }));
  server->Shutdown();
}

TEST_F(FileStoreChainTest, FakeNameServer_SeesRegisterHeartbeatAndAdds) {
  auto chain = StartChain(1);
  // Without ZooKeeper the FileStore works alone.
  ASSERT_TRUE(client_.CreateFromString(Info("/before", 3), chain, "before").ok());
  ASSERT_TRUE(client_.Delete(chain[0], "/deleted", 4).ok());
  // With ZooKeeper but no NameServer, commits stay here but are not acknowledged.
  chain = {StartStore(0, {}, /*with_zk=*/true)};
  const std::string& self = chain[0];
  EXPECT_EQ(client_.CreateFromString(Info("/unrecorded", 5), chain, "u").status().code(),
            absl::StatusCode::kUnavailable);

  FakeNameServer fake;
  int port = 0;
  auto server = ServeOnLoopback(&fake, &port);
  ASSERT_TRUE(server);
  auto zk = ConnectZk();
  EXPECT_TRUE(Eventually([&] { return zk->Get("/filestores/" + self).ok(); }));
  ASSERT_TRUE(zk->Create("/leader", fmt::format("127.0.0.1:{}\ntesthost", port), true).ok());

  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(fake.mu);
    return !fake.registrations.empty() && !fake.heartbeats.empty();
  }));
  {
    std::lock_guard lock(fake.mu);
    auto& [filestore, files] = fake.registrations[0];
    EXPECT_EQ(filestore, self);
    ASSERT_EQ(files.size(), 3u);
    EXPECT_EQ(files[0].name(), "/before");
    EXPECT_EQ(files[0].version(), 3);
    EXPECT_FALSE(files[0].tombstone());
    EXPECT_EQ(files[0].size(), 6);
    EXPECT_EQ(files[1].name(), "/deleted");
    EXPECT_TRUE(files[1].tombstone());
    EXPECT_EQ(files[2].name(), "/unrecorded");
    EXPECT_EQ(fake.heartbeats.back().filestore(), self);
    EXPECT_EQ(fake.heartbeats.back().bytes_used(), 7);
    EXPECT_GT(fake.heartbeats.back().bytes_available(), 0);
  }
  ASSERT_TRUE(client_.CreateFromString(Info("/after", 8), chain, "after!!").ok());
  ASSERT_TRUE(client_.Delete(self, "/after", 9).ok());
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(fake.mu);
    return fake.adds.size() >= 2;
  }));
  {
    std::lock_guard lock(fake.mu);
    EXPECT_EQ(fake.adds[0].filestore(), self);
    EXPECT_EQ(fake.adds[0].file().name(), "/after");
    EXPECT_EQ(fake.adds[0].file().version(), 8);
    EXPECT_EQ(fake.adds[0].file().size(), 7);
    EXPECT_FALSE(fake.adds[0].file().tombstone());
    EXPECT_EQ(fake.adds[1].file().version(), 9);
    EXPECT_TRUE(fake.adds[1].file().tombstone());
  }
  // A heartbeat answered "reregister" brings the whole list again.
  fake.ask_reregister = true;
  EXPECT_TRUE(Eventually([&] {
    std::lock_guard lock(fake.mu);
    return fake.registrations.size() >= 2;
  }));
  server->Shutdown();
}

TEST_F(FileStoreChainTest, BadInput_InvalidArgumentAndTheDaemonKeepsServing) {
  auto chain = StartChain(1);
  const std::string& address = chain[0];
  auto expect_invalid = [](const absl::Status& st) {
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  };
  for (std::string name :
       std::vector<std::string>{"relative", "/a/../b", "/a//b", "/./a", "", "/",
                                "/" + std::string(300, 'x'), "/" + std::string(5000, 'y')}) {
    expect_invalid(client_.CreateFromString(Info(name, 1), chain, "x").status());
    expect_invalid(client_.Delete(address, name, 1));
    expect_invalid(client_.ReadAll(name, 0, chain).status());
    v1::CopyFileRequest copy;
    copy.set_name(name);
    copy.add_sources(address);
    expect_invalid(client_.CopyFile(address, copy).status());
    v1::BumpVersionRequest bump;
    bump.set_new_version(10);
    bump.add_files()->set_name(name);
    expect_invalid(client_.BumpVersion(address, bump).status());
    v1::CloneRequest clone;
    clone.mutable_source()->set_name(name);
    clone.mutable_source()->set_version(1);
    *clone.mutable_target() = Info("/ok", 2);
    expect_invalid(client_.Clone(address, clone).status());
  }
  expect_invalid(client_.CreateFromString(Info("/v", 0), chain, "x").status());
  expect_invalid(client_.CreateFromString(Info("/v", -3), chain, "x").status());
  expect_invalid(client_.Delete(address, "/v", 0));
  expect_invalid(client_.CreateFromString(Info("/v", 1), {address, "no-port"}, "x").status());
  expect_invalid(client_.CreateFromString(Info("/v", 1), {address, address}, "x").status());

  auto stub = *channels_.Get(address);
  {  // A stream that does not start with a header.
    grpc::ClientContext ctx;
    v1::CreateReply reply;
    auto writer = stub->Create(&ctx, &reply);
    v1::CreateRequest req;
    req.set_data("data first");
    writer->Write(req);
    writer->WritesDone();
    expect_invalid(FromGrpc(writer->Finish()));
  }
  {  // A chunk above 1 MiB.
    grpc::ClientContext ctx;
    v1::CreateReply reply;
    auto writer = stub->Create(&ctx, &reply);
    v1::CreateRequest req;
    *req.mutable_header()->mutable_file() = Info("/huge", 1);
    writer->Write(req);
    req.set_data(std::string((1 << 20) + 1, 'z'));
    writer->Write(req);
    writer->WritesDone();
    expect_invalid(FromGrpc(writer->Finish()));
  }
  {  // A read that starts with a range, and a negative range.
    grpc::ClientContext ctx;
    auto stream = stub->Read(&ctx);
    v1::ReadRequest req;
    req.mutable_range()->set_offset(0);
    stream->Write(req);
    stream->WritesDone();
    v1::ReadReply reply;
    while (stream->Read(&reply)) {
    }
    expect_invalid(FromGrpc(stream->Finish()));
  }
  {  // Close announcing the wrong size: nothing is committed.
    grpc::ClientContext ctx;
    v1::CreateReply reply;
    auto writer = stub->Create(&ctx, &reply);
    v1::CreateRequest req;
    *req.mutable_header()->mutable_file() = Info("/liar", 1);
    writer->Write(req);
    req.set_data("12345");
    writer->Write(req);
    req.mutable_close()->set_size(6);
    req.mutable_close()->set_checksum(Checksum("12345"));
    writer->Write(req);
    writer->WritesDone();
    EXPECT_FALSE(writer->Finish().ok());
  }
  // Still serving, and nothing of the above was stored.
  ASSERT_TRUE(client_.CreateFromString(Info("/fine", 1), chain, "fine").ok());
  auto list = List(address);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name(), "/fine");
  EXPECT_TRUE(stores_[0].process->Running());
}

TEST_F(FileStoreChainTest, StalledStream_LimitedByMaxStreamsAndCancelledAtStreamTimeout) {
  std::string address = StartStore(0, {"--max-streams", "1", "--stream-timeout", "2s"});
  auto stub = *channels_.Get(address);
  grpc::ClientContext ctx;  // no deadline: only the server's stream timeout ends it
  v1::CreateReply reply;
  auto writer = stub->Create(&ctx, &reply);
  v1::CreateRequest req;
  *req.mutable_header()->mutable_file() = Info("/stalled", 1);
  ASSERT_TRUE(writer->Write(req));
  req.set_data("some bytes, then nothing");
  ASSERT_TRUE(writer->Write(req));
  // The only slot is taken (a fresh version each try: one that got in before the stalled
  // stream reached the server must not make the later ones "version too old").
  int64_t version = 0;
  EXPECT_TRUE(Eventually([&] {
    return client_.CreateFromString(Info("/second", ++version), {address}, "x").status().code() ==
           absl::StatusCode::kResourceExhausted;
  }));
  grpc::Status status = writer->Finish();  // returns once the server cancelled the stream
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(Eventually(
      [&] { return client_.CreateFromString(Info("/second", ++version), {address}, "x").ok(); }));
  EXPECT_FALSE(Holds(address, "/stalled", 1));
}

}  // namespace
}  // namespace chainfs
