// NameServers, FileStores and ZooKeeper as real processes with short timings: election
// and failover, version uniqueness across failovers, re-replication after a FileStore
// dies, GC end to end, NOT_FOUND after delete, and bad input.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "common/client/filestore_client.h"
#include "common/client/nameserver_client.h"
#include "common/file_util.h"
#include "common/status.h"
#include "common/zk/zookeeper.h"
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

constexpr auto kSessionTimeout = seconds(2);
constexpr auto kStartupWait = seconds(1);
constexpr auto kReplicationDeadline = seconds(3);

// A loopback port nothing listens on (free when this returns).
int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

class NameServerClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    zk_server_ = testing::SharedZkServer();
    chroot_ = testing::UniqueChroot();
    auto zk = zk::NewZooKeeper(ZkAddress{zk_server_->hosts(), chroot_}, seconds(10),
                               chainfs::testing::TestZkDigest());
    ASSERT_TRUE(zk.ok()) << zk.status();
    zk_ = std::move(*zk);
    ASSERT_TRUE(zk_->WaitConnected(seconds(10)).ok());
    NameServerClientSettings settings;
    settings.call_timeout = seconds(15);
    settings.credentials = chainfs::testing::TestChannelCredentials();
    client_ = std::make_unique<NameServerClient>(zk_.get(), settings);
  }
  void TearDown() override {
    client_.reset();
    nameservers_.clear();
    // The FileStores' data is thrown away: no need for a graceful stop.
    for (Daemon& fs : filestores_) {
      if (fs.process) fs.process->Kill(SIGKILL);
    }
    filestores_.clear();
  }

  Daemon StartNameServer(const std::string& listen = "127.0.0.1:0") {
    int n = next_nameserver_++;
    std::vector<std::string> args = {"--zk", zk_server_->ConnectString(chroot_), "--listen", listen,
                                     "--session-timeout", "2s", "--heartbeat-interval", "200ms",
                                     "--startup-wait", "1s", "--replication-deadline", "3s",
                                     "--replication-interval", "300ms", "--create-grace", "1s",
                                     "--gc-interval", "1s", "--gc-version-age", "2s",
                                     // The tests' bare doCreates are never committed: they
                                     // hold GC below them only this long.
                                     "--create-timeout", "2s"};
    auto d = testing::StartDaemon(BinaryPath("servers/nameserver/chainfs-nameserver"), args,
                                  fmt::format("{}/ns{}.log", dir_.path(), n));
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? std::move(*d) : Daemon{};
  }

  Daemon StartFileStore() {
    int n = next_filestore_++;
    std::string data = fmt::format("{}/fs{}", dir_.path(), n);
    std::filesystem::create_directories(data);
    std::vector<std::string> args = {"--zk",
                                     zk_server_->ConnectString(chroot_),
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--data-dir",
                                     data,
                                     "--session-timeout",
                                     "2s",
                                     "--heartbeat-interval",
                                     "200ms"};
    auto d = testing::StartDaemon(BinaryPath("servers/filestore/chainfs-filestore"), args,
                                  fmt::format("{}/fs{}.log", dir_.path(), n));
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? std::move(*d) : Daemon{};
  }

  // Starts `nameservers` NameServers and `filestores` FileStores and waits until the
  // leader serves with every FileStore registered.
  void StartCluster(int nameservers, int filestores) {
    for (int i = 0; i < nameservers; ++i) nameservers_.push_back(StartNameServer());
    for (int i = 0; i < filestores; ++i) filestores_.push_back(StartFileStore());
    ASSERT_TRUE(WaitServing(filestores));
  }

  // Says, when it fails, what the leader last answered.
  ::testing::AssertionResult WaitServing(int filestores, Duration timeout = seconds(20)) {
    std::string last = "no answer";
    if (Eventually(
            [&] {
              auto st = client_->ClusterStatus({});
              last = st.ok() ? fmt::format("leader {} serving {} with {} FileStores", st->leader(),
                                           st->serving(), st->filestores_size())
                             : st.status().ToString();
              return st.ok() && st->serving() && st->filestores_size() == filestores;
            },
            timeout)) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << "not serving with " << filestores << " FileStores; last answer: " << last;
  }

  // doCreate + chain upload; returns the version.
  int64_t Write(const std::string& path, const std::string& content,
                v1::Kind kind = v1::KIND_FILE) {
    v1::DoCreateRequest req;
    req.set_path(path);
    auto created = client_->DoCreate(req);
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return 0;
    v1::FileInfo info;
    info.set_name(path);
    info.set_version(created->version());
    info.set_kind(kind);
    info.mutable_attributes()->set_mode(0644);
    std::vector<std::string> chain(created->chain().begin(), created->chain().end());
    auto up = filestore_client_.CreateFromString(info, chain, content);
    EXPECT_TRUE(up.ok()) << up.status();
    return created->version();
  }

  absl::StatusOr<std::string> ReadBack(const std::string& path) {
    v1::DoReadRequest req;
    req.set_path(path);
    CHAINFS_ASSIGN_OR_RETURN(v1::DoReadReply r, client_->DoRead(req));
    std::vector<std::string> holders(r.holders().begin(), r.holders().end());
    return filestore_client_.ReadAll(path, r.file().version(), holders);
  }

  std::string Leader() {
    auto st = client_->ClusterStatus({});
    return st.ok() ? st->leader() : "";
  }

  testing::ZkServer* zk_server_ = nullptr;
  std::string chroot_;
  TempDir dir_;
  std::unique_ptr<zk::ZooKeeper> zk_;
  std::unique_ptr<NameServerClient> client_;
  FileStoreClient filestore_client_{{.credentials = chainfs::testing::TestChannelCredentials()}};
  std::vector<Daemon> nameservers_;
  std::vector<Daemon> filestores_;
  int next_nameserver_ = 0;
  int next_filestore_ = 0;
};

TEST_F(NameServerClusterTest, OneLeaderServes_StandbysRedirectToIt) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(2, 3));
  std::string leader = Leader();
  ASSERT_FALSE(leader.empty());
  int standbys = 0;
  for (const Daemon& ns : nameservers_) {
    if (ns.address == leader) continue;
    ++standbys;
    auto stub = v1::NameServer::NewStub(
        grpc::CreateChannel(ns.address, chainfs::testing::TestChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(5));
    v1::DoReadRequest req;
    req.set_path("/x");
    v1::DoReadReply reply;
    grpc::Status st = stub->DoRead(&ctx, req, &reply);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
    auto md = ctx.GetServerTrailingMetadata();
    auto it = md.find(kLeaderMetadataKey);
    ASSERT_NE(it, md.end());
    EXPECT_EQ(std::string(it->second.data(), it->second.size()), leader);
  }
  EXPECT_EQ(standbys, 1);
  Write("/hello", "world");
  EXPECT_EQ(*ReadBack("/hello"), "world");
}

TEST_F(NameServerClusterTest, LeaderKilledThreeTimes_StandbyTakesOverAndNoVersionRepeats) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3, 3));
  std::set<int64_t> versions;
  std::map<std::string, std::string> files;
  auto record = [&](int64_t v) { EXPECT_TRUE(versions.insert(v).second) << "repeated " << v; };
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 5; ++i) {
      std::string path = fmt::format("/r{}/f{}", round, i);
      std::string content = fmt::format("round {} file {}", round, i);
      record(Write(path, content));
      files[path] = content;
    }
    // Versions handed out without uploads count too.
    for (int i = 0; i < 12; ++i) {
      v1::DoCreateRequest req;
      req.set_path("/unused");
      auto r = client_->DoCreate(req);
      ASSERT_TRUE(r.ok()) << r.status();
      record(r->version());
    }
    std::string leader = Leader();
    auto killed = std::find_if(nameservers_.begin(), nameservers_.end(),
                               [&](const Daemon& d) { return d.address == leader; });
    ASSERT_NE(killed, nameservers_.end()) << leader;
    killed->process->Kill(SIGKILL);
    auto start = std::chrono::steady_clock::now();
    nameservers_.erase(killed);
    // A standby serves within the session timeout plus the start-up wait (plus slack
    // for process scheduling on a busy machine).
    ASSERT_TRUE(WaitServing(3, seconds(15)));
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, kSessionTimeout + kStartupWait + seconds(3))
        << std::chrono::duration_cast<milliseconds>(took).count() << " ms";
    EXPECT_NE(Leader(), leader);
    // Clients and FileStores followed: everything written so far reads back.
    for (const auto& [path, content] : files) {
      auto got = ReadBack(path);
      ASSERT_TRUE(got.ok()) << path << ": " << got.status();
      EXPECT_EQ(*got, content);
    }
    nameservers_.push_back(StartNameServer());  // keep two standbys
  }
  record(Write("/after", "x"));
}

TEST_F(NameServerClusterTest, FileStoreKilled_FilesBackToThreeCopiesWithinDeadline) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1, 4));
  for (int i = 0; i < 10; ++i) Write(fmt::format("/data/f{}", i), fmt::format("content {}", i));
  // Kill a FileStore that holds /data/f0.
  v1::DoReadRequest req;
  req.set_path("/data/f0");
  auto before = client_->DoRead(req);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->holders_size(), 3);
  std::string victim = before->holders(0);
  auto it = std::find_if(filestores_.begin(), filestores_.end(),
                         [&](const Daemon& d) { return d.address == victim; });
  ASSERT_NE(it, filestores_.end());
  it->process->Kill(SIGKILL);
  auto start = std::chrono::steady_clock::now();
  bool healed = Eventually(
      [&] {
        for (int i = 0; i < 10; ++i) {
          v1::DoReadRequest r;
          r.set_path(fmt::format("/data/f{}", i));
          auto got = client_->DoRead(r);
          if (!got.ok() || got->holders_size() < 3) return false;
          for (const auto& h : got->holders()) {
            if (h == victim) return false;
          }
        }
        return true;
      },
      seconds(15));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(healed);
  // Dropped after two missed heartbeats (400 ms), then replicated within the deadline.
  EXPECT_LT(took, kReplicationDeadline + seconds(1))
      << std::chrono::duration_cast<milliseconds>(took).count() << " ms";
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(*ReadBack(fmt::format("/data/f{}", i)), fmt::format("content {}", i));
  }
}

TEST_F(NameServerClusterTest, GarbageCollection_OldVersionsAndTombstonesGoneLiveFilesIntact) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1, 3));
  Write("/gc/a", "first");
  int64_t a2 = Write("/gc/a", "second");
  int64_t b = Write("/gc/b", "doomed");
  v1::DoDeleteRequest del;
  del.set_path("/gc/b");
  auto deleted = client_->DoDelete(del);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  Write("/gc/c", "kept");
  int64_t newest = std::max({a2, b, deleted->version()});
  // Keep versions flowing so that GC rounds are due, until /minver passes our files.
  int64_t minver = 0;
  bool moved = Eventually(
      [&] {
        for (int i = 0; i < 12; ++i) {
          v1::DoCreateRequest req;
          req.set_path("/gc/filler");
          (void)client_->DoCreate(req);
        }
        auto node = zk_->Get("/minver");
        minver = node.ok() ? std::stoll(node->data) : 0;
        return minver > newest;
      },
      seconds(30));
  ASSERT_TRUE(moved) << "/minver stuck at " << minver;
  // Every FileStore drops what is below /minver; the live files were relabelled.
  for (const Daemon& fs : filestores_) {
    bool clean = Eventually([&] {
      auto files = filestore_client_.ListFilesAndTombstones(fs.address);
      if (!files.ok()) return false;
      for (const v1::FileInfo& f : *files) {
        if (f.version() < minver) return false;
      }
      return true;
    });
    EXPECT_TRUE(clean) << fs.address;
    auto files = filestore_client_.ListFilesAndTombstones(fs.address);
    ASSERT_TRUE(files.ok());
    std::map<std::string, v1::FileInfo> by_name;
    for (const v1::FileInfo& f : *files) by_name[f.name()] = f;
    EXPECT_FALSE(by_name.contains("/gc/b")) << fs.address;
    ASSERT_TRUE(by_name.contains("/gc/a")) << fs.address;
    EXPECT_FALSE(by_name["/gc/a"].tombstone());
    EXPECT_TRUE(by_name.contains("/gc/c")) << fs.address;
  }
  EXPECT_EQ(*ReadBack("/gc/a"), "second");
  EXPECT_EQ(*ReadBack("/gc/c"), "kept");
  v1::DoReadRequest read_b;
  read_b.set_path("/gc/b");
  EXPECT_TRUE(absl::IsNotFound(client_->DoRead(read_b).status()));
}

TEST_F(NameServerClusterTest, DeleteThenEveryCallSaysNotFound) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1, 3));
  Write("/d/f", "bytes");
  v1::DoDeleteRequest del;
  del.set_path("/d/f");
  ASSERT_TRUE(client_->DoDelete(del).ok());
  v1::DoReadRequest read;
  read.set_path("/d/f");
  EXPECT_TRUE(absl::IsNotFound(client_->DoRead(read).status()));
  v1::StatRequest stat;
  stat.set_path("/d/f");
  EXPECT_TRUE(absl::IsNotFound(client_->Stat(stat).status()));
  stat.set_path("/d");
  EXPECT_TRUE(absl::IsNotFound(client_->Stat(stat).status()));
  EXPECT_TRUE(absl::IsNotFound(client_->DoDelete(del).status()));
  v1::RenameRequest rename;
  rename.set_from("/d/f");
  rename.set_to("/d/g");
  EXPECT_TRUE(absl::IsNotFound(client_->Rename(rename).status()));
  v1::SetAttributesRequest attrs;
  attrs.set_path("/d/f");
  attrs.set_set_mode(true);
  EXPECT_TRUE(absl::IsNotFound(client_->SetAttributes(attrs).status()));
  v1::ListDirectoryRequest ls;
  ls.set_path("/d");
  EXPECT_TRUE(absl::IsNotFound(client_->ListDirectory(ls).status()));
  v1::ListRequest glob;
  glob.set_glob("/d/*");
  auto listed = client_->List(glob);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->paths_size(), 0);
}

TEST_F(NameServerClusterTest, BadInputIsInvalidArgumentAndTheDaemonServesOn) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1, 3));
  for (const std::string& bad :
       {std::string("relative"), std::string("/a/../b"), std::string("/a//b"),
        std::string("/x\0y", 4), std::string(""), "/" + std::string(5000, 'n')}) {
    v1::DoReadRequest read;
    read.set_path(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(client_->DoRead(read).status())) << bad.size();
    v1::DoCreateRequest create;
    create.set_path(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(client_->DoCreate(create).status()));
  }
  v1::ListDirectoryRequest ls;
  ls.set_path("/");
  ls.set_start_after("a/b");
  EXPECT_TRUE(absl::IsInvalidArgument(client_->ListDirectory(ls).status()));
  v1::AddFileOrTombstoneRequest add;
  add.set_filestore("not an address");
  add.mutable_file()->set_name("/ok");
  add.mutable_file()->set_version(1);
  EXPECT_TRUE(absl::IsInvalidArgument(client_->AddFileOrTombstone(add).status()));
  v1::HeartBeatRequest hb;
  EXPECT_TRUE(absl::IsInvalidArgument(client_->HeartBeat(hb).status()));
  // Still serving.
  Write("/fine", "yes");
  EXPECT_EQ(*ReadBack("/fine"), "yes");
  EXPECT_TRUE(nameservers_[0].process->Running());
}

// Failover through the client: kill -9 of the leader, then one doCreate through the client
// library (which retries on its own) succeeds within the bound: the dead leader's session
// (2 s here) plus the start-up wait ended by the FileStores' registration, with slack.
TEST_F(NameServerClusterTest, LeaderKilled_CreateThroughTheClientSucceedsWithinBound) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(2, 3));
  Write("/before", "x");
  std::string leader = Leader();
  auto killed = std::find_if(nameservers_.begin(), nameservers_.end(),
                             [&](const Daemon& d) { return d.address == leader; });
  ASSERT_NE(killed, nameservers_.end()) << leader;
  killed->process->Kill(SIGKILL);
  auto start = std::chrono::steady_clock::now();
  v1::DoCreateRequest req;
  req.set_path("/after");
  auto created = client_->DoCreate(req);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(created.ok()) << created.status();
  std::cerr << "failover: first create " << std::chrono::duration_cast<milliseconds>(took).count()
            << " ms after kill -9\n";
  EXPECT_LT(took, kSessionTimeout + seconds(3))
      << std::chrono::duration_cast<milliseconds>(took).count() << " ms";
  EXPECT_NE(Leader(), leader);
}

// A client whose first calls found no NameServer at an address reaches the one that starts
// there next within a reconnect backoff. gRPC's synchronous client polls only inside calls,
// and its channel, having failed to connect, fails calls at once: without the client
// waiting on the channel, the reconnect would be seen only by gRPC's 5 s backup poller
// (failovers that took 15-40 s).
TEST_F(NameServerClusterTest, NameServerStartingAfterFailedCalls_IsReachedWithinABackoff) {
  int port = FreeLoopbackPort();
  ASSERT_NE(port, 0);
  std::string address = fmt::format("127.0.0.1:{}", port);
  NameServerClientSettings settings;
  settings.call_timeout = seconds(4);
  settings.credentials = chainfs::testing::TestChannelCredentials();
  NameServerClient client(address, settings);
  absl::StatusOr<v1::ClusterStatusReply> reply;
  std::thread caller([&] { reply = client.ClusterStatus({}); });
  // The call is refused and backs off, its channel in TRANSIENT_FAILURE; then the
  // NameServer starts on that address (well within the call's 4 s).
  std::this_thread::sleep_for(milliseconds(300));
  nameservers_.push_back(StartNameServer(address));
  caller.join();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->leader(), address);
}

// utime + stime of a process in seconds, from /proc/PID/stat.
double CpuSeconds(int pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long ticks = 0;
  // Fields 3.. follow the command name; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::stol(field);
  }
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Defect 13: a NameServer whose ZooKeeper is gone idles (backs off) instead of spinning,
// and stops promptly on SIGTERM.
TEST(NameServerWithoutZooKeeper, IdlesAndStopsPromptlyOnSigterm) {
  auto zk_server = testing::ZkServer::Start();
  ASSERT_TRUE(zk_server.ok()) << zk_server.status();
  TempDir dir;
  std::string connect = (*zk_server)->ConnectString("/idle");
  auto ns = testing::StartDaemon(BinaryPath("servers/nameserver/chainfs-nameserver"),
                                 {"--zk", connect, "--listen", "127.0.0.1:0", "--session-timeout",
                                  "2s", "--startup-wait", "1s", "--heartbeat-interval", "200ms"},
                                 dir.path() + "/ns.log");
  ASSERT_TRUE(ns.ok()) << ns.status();
  auto zk = zk::NewZooKeeper(ZkAddress{(*zk_server)->hosts(), "/idle"}, seconds(10),
                             chainfs::testing::TestZkDigest());
  ASSERT_TRUE(zk.ok()) << zk.status();
  ASSERT_TRUE((*zk)->WaitConnected(seconds(10)).ok());
  ASSERT_TRUE(Eventually([&] { return (*zk)->Get("/leader").ok(); }, seconds(10)));
  zk->reset();
  (*zk_server)->process().Kill(SIGKILL);
  // Past the loss, the session timeout and the give-up of the session.
  std::this_thread::sleep_for(seconds(4));
  ASSERT_TRUE(ns->process->Running());
  double before = CpuSeconds(ns->process->pid());
  auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(seconds(2));
  double used = CpuSeconds(ns->process->pid()) - before;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(used / elapsed, 0.2) << used << " s of CPU in " << elapsed << " s";
  auto stop = std::chrono::steady_clock::now();
  ns->process->Kill(SIGTERM);
  auto took = std::chrono::steady_clock::now() - stop;
  EXPECT_LT(took, seconds(2)) << std::chrono::duration_cast<milliseconds>(took).count() << " ms";
  EXPECT_TRUE(WIFEXITED(ns->process->wait_status())) << ns->process->wait_status();
}

// Defect 13, start-up: a NameServer started while ZooKeeper is gone stops promptly too (it
// used to wait for a session for a whole session timeout before taking signals).
TEST(NameServerWithoutZooKeeper, StartedWithoutZooKeeperStopsPromptlyOnSigterm) {
  TempDir dir;
  auto ns = testing::Process::Start(
      BinaryPath("servers/nameserver/chainfs-nameserver"),
      {"--zk", "127.0.0.1:1/gone", "--listen", "127.0.0.1:0", "--session-timeout", "10s"},
      dir.path() + "/ns.log");
  ASSERT_TRUE(ns.ok()) << ns.status();
  std::this_thread::sleep_for(seconds(2));
  ASSERT_TRUE((*ns)->Running());
  double used = CpuSeconds((*ns)->pid());
  EXPECT_LT(used, 0.4) << used << " s of CPU in its first 2 s";
  auto stop = std::chrono::steady_clock::now();
  (*ns)->Kill(SIGTERM);
  auto took = std::chrono::steady_clock::now() - stop;
  EXPECT_LT(took, seconds(1)) << std::chrono::duration_cast<milliseconds>(took).count() << " ms";
  EXPECT_TRUE(WIFEXITED((*ns)->wait_status())) << (*ns)->wait_status();
}

// By hand, for the failover figure with default settings (the spec's timings, a ZooKeeper
// with Debian's default 2 s tick): kill -9 of the leader of 2 NameServers and 3 FileStores,
// then the time to the first successful doCreate through a default client. ctest skips it:
//   CHAINFS_FAILOVER_KILLS=5 build/tests/integration/nameserver_cluster_test
//     --gtest_also_run_disabled_tests --gtest_filter='*DefaultSettingsFailover*'
TEST(NameServerFailover, DISABLED_DefaultSettingsFailoverFigures) {
  TempDir dir;
  int port = FreeLoopbackPort();
  ASSERT_NE(port, 0);
  ASSERT_TRUE(WriteFileAtomically(dir.path() + "/zoo.cfg",
                                  fmt::format("tickTime=2000\ndataDir={}/zk\nclientPort={}\n"
                                              "clientPortAddress=127.0.0.1\n"
                                              "admin.enableServer=false\n",
                                              dir.path(), port))
                  .ok());
  auto zk_process = testing::Process::Start(
      "/usr/bin/java",
      {"-Xmx256m", "-cp", "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar",
       "org.apache.zookeeper.server.ZooKeeperServerMain", dir.path() + "/zoo.cfg"},
      dir.path() + "/zookeeper.log");
  ASSERT_TRUE(zk_process.ok()) << zk_process.status();
  std::string hosts = fmt::format("127.0.0.1:{}", port);
  auto zk = zk::NewZooKeeper(ZkAddress{hosts, "/failover"}, seconds(10),
                             chainfs::testing::TestZkDigest());
  ASSERT_TRUE(zk.ok()) << zk.status();
  ASSERT_TRUE((*zk)->WaitConnected(seconds(60)).ok());
  std::string connect = hosts + "/failover";
  int started = 0;
  auto start_nameserver = [&] {
    auto d = testing::StartDaemon(BinaryPath("servers/nameserver/chainfs-nameserver"),
                                  {"--zk", connect, "--listen", "127.0.0.1:0"},
                                  fmt::format("{}/ns{}.log", dir.path(), started++));
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? std::move(*d) : Daemon{};
  };
  std::vector<Daemon> nameservers, filestores;
  for (int i = 0; i < 2; ++i) nameservers.push_back(start_nameserver());
  for (int i = 0; i < 3; ++i) {
    std::string data = fmt::format("{}/fs{}", dir.path(), i);
    std::filesystem::create_directories(data);
    auto d = testing::StartDaemon(BinaryPath("servers/filestore/chainfs-filestore"),
                                  {"--zk", connect, "--listen", "127.0.0.1:0", "--data-dir", data},
                                  fmt::format("{}/fs{}.log", dir.path(), i));
    ASSERT_TRUE(d.ok()) << d.status();
    filestores.push_back(std::move(*d));
  }
  NameServerClient client(zk->get());
  auto serving = [&] {
    return Eventually(
        [&] {
          auto st = client.ClusterStatus({});
          return st.ok() && st->serving() && st->filestores_size() == 3;
        },
        seconds(90));
  };
  ASSERT_TRUE(serving());
  const char* env = getenv("CHAINFS_FAILOVER_KILLS");
  int kills = env != nullptr ? atoi(env) : 5;
  std::vector<double> figures;
  for (int k = 0; k < kills; ++k) {
    std::this_thread::sleep_for(seconds(3));  // the standby's session settles
    auto status = client.ClusterStatus({});
    ASSERT_TRUE(status.ok()) << status.status();
    auto killed = std::find_if(nameservers.begin(), nameservers.end(),
                               [&](const Daemon& d) { return d.address == status->leader(); });
    ASSERT_NE(killed, nameservers.end());
    killed->process->Kill(SIGKILL);
    auto start = std::chrono::steady_clock::now();
    v1::DoCreateRequest req;
    req.set_path(fmt::format("/failover{}", k));
    absl::StatusOr<v1::DoCreateReply> created;
    do {
      created = client.DoCreate(req);
    } while (!created.ok() && std::chrono::steady_clock::now() - start < seconds(60));
    ASSERT_TRUE(created.ok()) << created.status();
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    figures.push_back(took);
    std::cerr << fmt::format("kill {}: first create {:.2f} s after kill -9\n", k + 1, took);
    nameservers.erase(killed);
    nameservers.push_back(start_nameserver());
  }
  std::sort(figures.begin(), figures.end());
  std::cerr << fmt::format("failover over {} kills: min {:.2f} s, median {:.2f} s, max {:.2f} s\n",
                           figures.size(), figures.front(), figures[figures.size() / 2],
                           figures.back());
  for (Daemon& d : filestores) d.process->Kill(SIGKILL);
}

}  // namespace
}  // namespace chainfs
