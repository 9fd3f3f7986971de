// The NameServer's calls and background duties, driven by hand: a FakeClock, the memory
// ZooKeeper and in-memory FileStores. Nothing here sleeps on the timings under test.
#include "servers/nameserver/nameserver.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <thread>

#include "common/status.h"
#include "common/write_token.h"
#include "servers/nameserver/status_page.h"

namespace chainfs::nameserver {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// In-memory FileStores: name -> latest stored FileInfo per address. The calls the NameServer
// makes follow the FileStore contract (Delete records a tombstone, BumpVersion only relabels
// the expected version of a live file, Clone copies metadata); content is not kept, so the
// data calls (which the NameServer never makes) are refused.
class FakeFileStores final : public FileStoreApi {
 public:
  absl::StatusOr<v1::CreateReply> Create(const v1::FileInfo&, const std::vector<std::string>&,
                                         const ContentSource&, int64_t, std::string_view) override {
    return absl::UnimplementedError("no content here");
  }
  absl::StatusOr<v1::CreateReply> CreateFromString(const v1::FileInfo&,
                                                   const std::vector<std::string>&,
                                                   std::string_view, bool,
                                                   std::string_view) override {
    return absl::UnimplementedError("no content here");
  }
  absl::StatusOr<v1::CreateReply> CreateFromFd(const v1::FileInfo&, const std::vector<std::string>&,
                                               int, std::string_view) override {
    return absl::UnimplementedError("no content here");
  }
  absl::StatusOr<std::vector<v1::FileInfo>> ListFilesAndTombstones(
      const std::string& address) override {
    return All(address);
  }
  absl::StatusOr<std::unique_ptr<Reader>> OpenReader(const std::string&, int64_t,
                                                     const std::vector<std::string>&,
                                                     const grpc::ServerContext*) override {
    return absl::UnimplementedError("no content here");
  }
  absl::StatusOr<std::string> ReadAll(const std::string&, int64_t,
                                      const std::vector<std::string>&) override {
    return absl::UnimplementedError("no content here");
  }
  std::vector<absl::Status> DeleteOnEach(const std::vector<std::string>& addresses,
                                         const std::string& name, int64_t version) override {
    std::vector<absl::Status> out;
    for (const std::string& a : addresses) out.push_back(Delete(a, name, version));
    return out;
  }
  std::vector<absl::StatusOr<v1::CloneReply>> CloneOnEach(const std::vector<std::string>& addresses,
                                                          const v1::CloneRequest& req) override {
    std::vector<absl::StatusOr<v1::CloneReply>> out;
    for (const std::string& a : addresses) out.push_back(Clone(a, req));
    return out;
  }

  absl::Status Delete(const std::string& address, const std::string& name,
                      int64_t version) override {
    std::lock_guard lock(mu_);
    CHAINFS_RETURN_IF_ERROR(Check(address));
    v1::FileInfo f;
    f.set_name(name);
    f.set_version(version);
    f.set_tombstone(true);
    stores_[address][name] = f;
    return absl::OkStatus();
  }
  absl::StatusOr<v1::CopyFileReply> CopyFile(const std::string& address,
                                             const v1::CopyFileRequest& req) override {
    std::lock_guard lock(mu_);
    CHAINFS_RETURN_IF_ERROR(Check(address));
    for (const std::string& s : req.sources()) {
      if (!Check(s).ok()) continue;
      auto it = stores_[s].find(req.name());
      if (it == stores_[s].end() || it->second.version() != req.version()) continue;
      if (corrupt_.contains({s, req.name()})) {
        bad_reads.push_back({s, it->second});  // the checksum does not match: not copied
        continue;
      }
      stores_[address][req.name()] = it->second;
      corrupt_.erase({address, req.name()});
      ++copies;
      v1::CopyFileReply reply;
      *reply.mutable_file() = it->second;
      return reply;
    }
    return absl::NotFoundError("no source has it");
  }
  absl::StatusOr<v1::BumpVersionReply> BumpVersion(const std::string& address,
                                                   const v1::BumpVersionRequest& req) override {
    if (on_bump) on_bump(address);
    std::lock_guard lock(mu_);
    CHAINFS_RETURN_IF_ERROR(Check(address));
    bumps[address].push_back(req);
    v1::BumpVersionReply reply;
    for (const v1::NameVersion& nv : req.files()) {
      auto it = stores_[address].find(nv.name());
      if (it == stores_[address].end() || it->second.version() != nv.version() ||
          it->second.tombstone()) {
        v1::NameVersion* s = reply.add_skipped();
        s->set_name(nv.name());
        s->set_version(it == stores_[address].end() ? 0 : it->second.version());
        continue;
      }
      it->second.set_version(req.new_version());
      reply.set_bumped(reply.bumped() + 1);
    }
    return reply;
  }
  absl::StatusOr<v1::CloneReply> Clone(const std::string& address,
                                       const v1::CloneRequest& req) override {
    std::lock_guard lock(mu_);
    CHAINFS_RETURN_IF_ERROR(Check(address));
    auto it = stores_[address].find(req.source().name());
    if (it == stores_[address].end() || it->second.version() != req.source().version()) {
      return absl::NotFoundError("no such source");
    }
    v1::FileInfo f = it->second;
    f.set_name(req.target().name());
    f.set_version(req.target().version());
    *f.mutable_attributes() = req.target().attributes();
    stores_[address][f.name()] = f;
    // A clone is a hard link: the same (possibly corrupt) bytes.
    if (corrupt_.contains({address, req.source().name()})) corrupt_.insert({address, f.name()});
    v1::CloneReply reply;
    *reply.mutable_file() = f;
    return reply;
  }

  void Put(const std::string& address, const v1::FileInfo& f) {
    std::lock_guard lock(mu_);
    stores_[address][f.name()] = f;
    corrupt_.erase({address, f.name()});
  }
  // A flipped byte: the object is still listed, but reading it fails its checksum.
  void Corrupt(const std::string& address, const std::string& name) {
    std::lock_guard lock(mu_);
    corrupt_.insert({address, name});
  }
  std::optional<v1::FileInfo> Held(const std::string& address, const std::string& name) {
    std::lock_guard lock(mu_);
    auto it = stores_[address].find(name);
    if (it == stores_[address].end()) return std::nullopt;
    return it->second;
  }
  std::vector<v1::FileInfo> All(const std::string& address) {
    std::lock_guard lock(mu_);
    std::vector<v1::FileInfo> out;
    for (auto& [n, f] : stores_[address]) out.push_back(f);
    return out;
  }
  void SetDown(const std::string& address, bool down) {
    std::lock_guard lock(mu_);
    if (down) {
      down_.insert(address);
    } else {
      down_.erase(address);
    }
  }

  std::map<std::string, std::vector<v1::BumpVersionRequest>> bumps;
  int copies = 0;
  // Copies refused because the source's checksum did not match: (source, what it holds).
  std::vector<std::pair<std::string, v1::FileInfo>> bad_reads;
  // Called (without the lock) at the start of every BumpVersion, with the address.
  std::function<void(const std::string&)> on_bump;

 private:
  absl::Status Check(const std::string& address) {
    if (down_.contains(address)) return absl::UnavailableError(address + " is down");
    return absl::OkStatus();
  }
  std::mutex mu_;
  std::map<std::string, std::map<std::string, v1::FileInfo>> stores_;
  std::set<std::string> down_;
  std::set<std::pair<std::string, std::string>> corrupt_;  // (address, name)
};

v1::FileInfo File(const std::string& name, int64_t version, bool tombstone = false,
                  v1::Kind kind = v1::KIND_FILE) {
  v1::FileInfo f;
  f.set_name(name);
  f.set_version(version);
  f.set_tombstone(tombstone);
  f.set_kind(kind);
  f.set_size(tombstone ? 0 : 3);
  f.mutable_attributes()->set_mode(0644);
  return f;
}

NameServerSettings TestSettings() {
  NameServerSettings s;
  s.heartbeat_interval = seconds(15);
  s.startup_wait = seconds(30);
  s.gc_interval = seconds(60);
  s.gc_version_age = seconds(120);
  s.gc_min_new_versions = 10;
  return s;
}

class NameServerTest : public ::testing::Test {
 protected:
  NameServerTest()
      : ensemble_(zk::NewMemoryEnsemble()),
        zk_(zk::NewMemoryZooKeeper(ensemble_)),
        ns_(TestSettings(), &clock_, zk_.get(), &stores_, "ns1:9000", "host1") {
    (void)zk_->EnsurePath(kFileStoresPath);
  }

  // Announces a FileStore in /filestores (as the real one does) and registers its files.
  void Register(const std::string& address, bool announce = true) {
    if (announce) (void)zk_->Create(std::string(kFileStoresPath) + "/" + address, "", false);
    v1::RegisterRequest first;
    first.set_filestore(address);
    first.set_bytes_available(1000);
    for (const v1::FileInfo& f : stores_.All(address)) *first.add_files() = f;
    absl::StatusOr<FileStoreId> id = ns_.RegisterBegin(first);
    ASSERT_TRUE(id.ok()) << id.status();
    ns_.RegisterEnd(*id);
  }
  void HeartBeat(const std::string& address) {
    v1::HeartBeatRequest req;
    req.set_filestore(address);
    v1::HeartBeatReply reply;
    ASSERT_TRUE(ns_.HeartBeat(req, &reply).ok());
    EXPECT_FALSE(reply.reregister());
  }
  // Stores f on the FileStores and reports it as they would.
  void Store(const v1::FileInfo& f, const std::vector<std::string>& on) {
    for (const std::string& a : on) {
      stores_.Put(a, f);
      v1::AddFileOrTombstoneRequest req;
      req.set_filestore(a);
      *req.mutable_file() = f;
      v1::AddFileOrTombstoneReply reply;
      ASSERT_TRUE(ns_.AddFileOrTombstone(req, &reply).ok());
      EXPECT_FALSE(reply.reregister());
    }
  }
  // Elected, four FileStores registered, serving.
  void StartServing(const std::vector<std::string>& filestores = {"a:1", "b:1", "c:1", "d:1"}) {
    ns_.election().Step();
    ASSERT_TRUE(ns_.election().is_leader());
    for (const std::string& a : filestores) Register(a);
    ns_.Housekeep();
    ASSERT_TRUE(ns_.serving());
  }
  int64_t Create(const std::string& path, const std::vector<std::string>& on,
                 v1::Kind kind = v1::KIND_FILE) {
    v1::DoCreateRequest req;
    req.set_path(path);
    v1::DoCreateReply reply;
    absl::Status st = ns_.DoCreate(req, &reply);
    EXPECT_TRUE(st.ok()) << st;
    Store(File(path, reply.version(), false, kind), on);
    return reply.version();
  }
  absl::StatusOr<v1::DoReadReply> Read(const std::string& path) {
    v1::DoReadRequest req;
    req.set_path(path);
    v1::DoReadReply reply;
    CHAINFS_RETURN_IF_ERROR(ns_.DoRead(req, &reply));
    return reply;
  }
  absl::Status Delete(const std::string& path, bool must_be_empty = false) {
    v1::DoDeleteRequest req;
    req.set_path(path);
    req.set_directory_must_be_empty(must_be_empty);
    v1::DoDeleteReply reply;
    return ns_.DoDelete(req, &reply);
  }
  absl::Status Rename(const std::string& from, const std::string& to, bool no_replace = false) {
    v1::RenameRequest req;
    req.set_from(from);
    req.set_to(to);
    req.set_no_replace(no_replace);
    v1::RenameReply reply;
    return ns_.Rename(req, &reply);
  }

  FakeClock clock_;
  std::shared_ptr<zk::MemoryEnsemble> ensemble_;
  std::unique_ptr<zk::ZooKeeper> zk_;
  FakeFileStores stores_;
  NameServer ns_;
};

// --- start-up wait, election, expiry ---

TEST_F(NameServerTest, StartupWaitEndsOnceEveryAnnouncedFileStoreRegistered) {
  ns_.election().Step();
  ASSERT_TRUE(ns_.election().is_leader());
  (void)zk_->Create(std::string(kFileStoresPath) + "/a:1", "", false);
  (void)zk_->Create(std::string(kFileStoresPath) + "/b:1", "", false);
  Register("a:1", /*announce=*/false);
  ns_.Housekeep();
  EXPECT_FALSE(ns_.serving());
  v1::DoReadReply reply;
  v1::DoReadRequest req;
  req.set_path("/x");
  EXPECT_TRUE(absl::IsUnavailable(ns_.DoRead(req, &reply)));
  Register("b:1", /*announce=*/false);
  ns_.Housekeep();
  EXPECT_TRUE(ns_.serving());
}

TEST_F(NameServerTest, StartupWaitEndsAfterTheWaitWhenAFileStoreNeverRegisters) {
  ns_.election().Step();
  (void)zk_->Create(std::string(kFileStoresPath) + "/a:1", "", false);
  (void)zk_->Create(std::string(kFileStoresPath) + "/silent:1", "", false);
  Register("a:1", /*announce=*/false);
  clock_.Advance(seconds(10));
  HeartBeat("a:1");
  ns_.Housekeep();
  EXPECT_FALSE(ns_.serving());
  clock_.Advance(seconds(10));
  HeartBeat("a:1");
  ns_.Housekeep();
  EXPECT_FALSE(ns_.serving());
  clock_.Advance(seconds(10));
  HeartBeat("a:1");
  ns_.Housekeep();
  EXPECT_TRUE(ns_.serving());
}

TEST_F(NameServerTest, EmptyFileStoreListWaitsTheFullStartupWait) {
  ns_.election().Step();
  ns_.Housekeep();
  EXPECT_FALSE(ns_.serving());
  clock_.Advance(seconds(30));
  ns_.Housekeep();
  EXPECT_TRUE(ns_.serving());
}

TEST_F(NameServerTest, StandbyAnswersUnavailableWithTheLeader) {
  auto zk2 = zk::NewMemoryZooKeeper(ensemble_);
  NameServer standby(TestSettings(), &clock_, zk2.get(), &stores_, "ns2:9000", "host2");
  ns_.election().Step();
  standby.election().Step();
  EXPECT_TRUE(ns_.election().is_leader());
  EXPECT_FALSE(standby.election().is_leader());
  EXPECT_EQ(standby.leader_address(), "ns1:9000");
  v1::DoCreateRequest req;
  req.set_path("/x");
  v1::DoCreateReply reply;
  absl::Status st = standby.DoCreate(req, &reply);
  EXPECT_TRUE(absl::IsUnavailable(st));
  EXPECT_NE(std::string(st.message()).find("ns1:9000"), std::string::npos);
  v1::HeartBeatRequest hb;
  hb.set_filestore("a:1");
  v1::HeartBeatReply hb_reply;
  EXPECT_TRUE(absl::IsUnavailable(standby.HeartBeat(hb, &hb_reply)));
}

TEST_F(NameServerTest, StandbyTakesOverWhenTheLeaderSessionExpires) {
  auto zk2 = zk::NewMemoryZooKeeper(ensemble_);
  NameServer standby(TestSettings(), &clock_, zk2.get(), &stores_, "ns2:9000", "host2");
  StartServing();
  int64_t v1 = Create("/f", {"a:1", "b:1", "c:1"});
  standby.election().Step();
  zk::MemoryExpire(zk_.get());
  // Session events arrive on the memory ZooKeeper's event thread.
  for (int i = 0; i < 200 && ns_.election().is_leader(); ++i) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  standby.election().Step();  // the standby's watch fired first
  ns_.election().Step();
  EXPECT_TRUE(standby.election().is_leader());
  EXPECT_FALSE(ns_.election().is_leader());
  EXPECT_FALSE(ns_.serving());
  EXPECT_EQ(ns_.names().names(), 0u);  // soft state dropped with leadership
  // The new leader assigns above everything the old one could have handed out.
  EXPECT_GT(standby.allocator().next(), v1);
  EXPECT_GT(standby.allocator().next(), ns_.allocator().limit());
}

TEST_F(NameServerTest, SuspendedLeaderServesForTwoThirdsOfTheSessionTimeoutThenStops) {
  StartServing({"a:1"});
  Create("/x", {"a:1"});
  const Duration grace = zk_->session_timeout() * 2 / 3;
  zk::MemorySuspend(zk_.get());
  zk::MemoryWaitIdle(zk_.get());
  clock_.Advance(grace - milliseconds(1));
  EXPECT_TRUE(ns_.serving());
  EXPECT_TRUE(Read("/x").ok());
  clock_.Advance(milliseconds(1));
  EXPECT_FALSE(ns_.serving());
  EXPECT_TRUE(absl::IsUnavailable(Read("/x").status()));
  zk::MemoryResume(zk_.get());
  zk::MemoryWaitIdle(zk_.get());
  EXPECT_TRUE(ns_.serving());
  EXPECT_TRUE(Read("/x").ok());
  // A second loss starts a new grace period.
  zk::MemorySuspend(zk_.get());
  zk::MemoryWaitIdle(zk_.get());
  EXPECT_TRUE(ns_.serving());
  clock_.Advance(grace);
  EXPECT_FALSE(ns_.serving());
  zk::MemoryResume(zk_.get());
}

TEST_F(NameServerTest, HeartbeatsRefusedWhileSuspendedDoNotDropFileStores) {
  StartServing({"a:1"});
  Create("/x", {"a:1"});
  zk::MemorySuspend(zk_.get());
  ns_.Housekeep();
  clock_.Advance(seconds(40));
  ns_.Housekeep();
  zk::MemoryResume(zk_.get());
  ns_.Housekeep();
  EXPECT_TRUE(Read("/x").ok());
  clock_.Advance(seconds(38));
  ns_.Housekeep();
  EXPECT_TRUE(absl::IsNotFound(Read("/x").status()));
}

TEST_F(NameServerTest, FileStoreMissingTwoHeartbeatsIsDroppedWithItsFiles) {
  StartServing({"a:1", "b:1"});
  Create("/only-a", {"a:1"});
  Create("/both", {"a:1", "b:1"});
  clock_.Advance(seconds(20));
  HeartBeat("b:1");
  ns_.Housekeep();
  EXPECT_TRUE(Read("/only-a").ok());  // one missed heartbeat is fine
  clock_.Advance(seconds(18));
  HeartBeat("b:1");
  ns_.Housekeep();
  EXPECT_TRUE(absl::IsNotFound(Read("/only-a").status()));
  auto both = Read("/both");
  ASSERT_TRUE(both.ok());
  ASSERT_EQ(both->holders_size(), 1);
  EXPECT_EQ(both->holders(0), "b:1");
  // It must register again.
  v1::HeartBeatRequest req;
  req.set_filestore("a:1");
  v1::HeartBeatReply reply;
  ASSERT_TRUE(ns_.HeartBeat(req, &reply).ok());
  EXPECT_TRUE(reply.reregister());
  v1::AddFileOrTombstoneRequest add;
  add.set_filestore("a:1");
  *add.mutable_file() = File("/z", ns_.allocator().limit());
  v1::AddFileOrTombstoneReply add_reply;
  ASSERT_TRUE(ns_.AddFileOrTombstone(add, &add_reply).ok());
  EXPECT_TRUE(add_reply.reregister());
}

// --- calls ---

TEST_F(NameServerTest, CreateGivesDistinctChainAndIncreasingVersions) {
  StartServing();
  int64_t last = 0;
  for (int i = 0; i < 30; ++i) {
    v1::DoCreateRequest req;
    req.set_path("/f" + std::to_string(i));
    v1::DoCreateReply reply;
    ASSERT_TRUE(ns_.DoCreate(req, &reply).ok());
    std::set<std::string> chain(reply.chain().begin(), reply.chain().end());
    EXPECT_EQ(chain.size(), 3u);
    EXPECT_GT(reply.version(), last);
    last = reply.version();
  }
}

TEST_F(NameServerTest, CreateWithAKey_AnswersATokenForThePathVersionAndChain) {
  const std::string key(kWriteTokenKeyBytes, 'k');
  WriteTokenSigner signer(key, seconds(60), &clock_);
  ns_.SetWriteTokens(&signer);
  StartServing();
  v1::DoCreateRequest req;
  req.set_path("/f");
  v1::DoCreateReply reply;
  ASSERT_TRUE(ns_.DoCreate(req, &reply).ok());
  const std::vector<std::string> chain(reply.chain().begin(), reply.chain().end());
  EXPECT_TRUE(
      VerifyWriteToken(key, reply.token(), "/f", reply.version(), chain, clock_.WallNanos()).ok());
  EXPECT_FALSE(
      VerifyWriteToken(key, reply.token(), "/g", reply.version(), chain, clock_.WallNanos()).ok());
  clock_.Advance(seconds(60));
  EXPECT_FALSE(
      VerifyWriteToken(key, reply.token(), "/f", reply.version(), chain, clock_.WallNanos()).ok());
}

TEST_F(NameServerTest, CreateWithoutAKey_AnswersNoToken) {
  StartServing();
  v1::DoCreateRequest req;
  req.set_path("/f");
  v1::DoCreateReply reply;
  ASSERT_TRUE(ns_.DoCreate(req, &reply).ok());
  EXPECT_TRUE(reply.token().empty());
}

TEST_F(NameServerTest, CreateThatFitsNowhereIsResourceExhausted) {
  StartServing({"a:1", "b:1"});
  for (const char* address : {"a:1", "b:1"}) {
    v1::HeartBeatRequest hb;
    hb.set_filestore(address);
    hb.set_bytes_available(1000);
    v1::HeartBeatReply hb_reply;
    ASSERT_TRUE(ns_.HeartBeat(hb, &hb_reply).ok());
  }
  v1::DoCreateRequest req;
  req.set_path("/big");
  req.set_expected_size(5000);
  v1::DoCreateReply reply;
  absl::Status st = ns_.DoCreate(req, &reply);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  req.set_expected_size(500);
  EXPECT_TRUE(ns_.DoCreate(req, &reply).ok());
  EXPECT_EQ(reply.chain_size(), 2);
}

TEST_F(NameServerTest, ExclusiveCreateOfALiveNameIsAlreadyExists) {
  StartServing();
  Create("/f", {"a:1"});
  v1::DoCreateRequest req;
  req.set_path("/f");
  req.set_exclusive(true);
  v1::DoCreateReply reply;
  EXPECT_TRUE(absl::IsAlreadyExists(ns_.DoCreate(req, &reply)));
}

TEST_F(NameServerTest, BadNamesAreInvalidArgument) {
  StartServing();
  for (std::string bad :
       std::vector<std::string>{"", "relative", "/a//b", "/a/./b", "/a/../b",
                                std::string("/a\0b", 4), "/" + std::string(300, 'x')}) {
    v1::DoReadRequest req;
    req.set_path(bad);
    v1::DoReadReply reply;
    EXPECT_TRUE(absl::IsInvalidArgument(ns_.DoRead(req, &reply))) << bad;
    v1::DoCreateRequest create;
    create.set_path(bad);
    v1::DoCreateReply create_reply;
    EXPECT_TRUE(absl::IsInvalidArgument(ns_.DoCreate(create, &create_reply))) << bad;
  }
  v1::DoDeleteRequest root;
  root.set_path("/");
  v1::DoDeleteReply reply;
  EXPECT_TRUE(absl::IsInvalidArgument(ns_.DoDelete(root, &reply)));
}

TEST_F(NameServerTest, DeleteTombstonesOnHoldersAndUpToTheReplicationFactor) {
  StartServing();
  int64_t v = Create("/f", {"a:1"});
  ASSERT_TRUE(Delete("/f").ok());
  EXPECT_TRUE(absl::IsNotFound(Read("/f").status()));
  auto held = stores_.Held("a:1", "/f");
  ASSERT_TRUE(held.has_value());
  EXPECT_TRUE(held->tombstone());
  EXPECT_GT(held->version(), v);
  int tombstones = 0;
  for (const char* a : {"a:1", "b:1", "c:1", "d:1"}) {
    auto h = stores_.Held(a, "/f");
    tombstones += h.has_value() && h->tombstone();
  }
  EXPECT_EQ(tombstones, 3);
  EXPECT_TRUE(absl::IsNotFound(Delete("/f")));
  v1::StatRequest stat;
  stat.set_path("/f");
  v1::StatReply stat_reply;
  EXPECT_TRUE(absl::IsNotFound(ns_.Stat(stat, &stat_reply)));
}

TEST_F(NameServerTest, DeletingANonEmptyDirectoryIsRefused) {
  StartServing();
  Create("/d", {"a:1"}, v1::KIND_DIRECTORY);
  Create("/d/f", {"a:1"});
  absl::Status st = Delete("/d", /*must_be_empty=*/true);
  EXPECT_TRUE(absl::IsFailedPrecondition(st));
  EXPECT_EQ(ErrorCodeOf(st), v1::ERROR_NOT_EMPTY);
  EXPECT_TRUE(absl::IsFailedPrecondition(Delete("/d")));
  ASSERT_TRUE(Delete("/d/f").ok());
  EXPECT_TRUE(Delete("/d", true).ok());
}

TEST_F(NameServerTest, RenameFileClonesThenTombstonesTheSource) {
  StartServing();
  int64_t v = Create("/f", {"a:1", "b:1"});
  ASSERT_TRUE(Rename("/f", "/g").ok());
  EXPECT_TRUE(absl::IsNotFound(Read("/f").status()));
  auto g = Read("/g");
  ASSERT_TRUE(g.ok());
  EXPECT_GT(g->file().version(), v);
  EXPECT_EQ(g->holders().size(), 2);
  auto f_tomb = stores_.Held("a:1", "/f");
  ASSERT_TRUE(f_tomb.has_value());
  EXPECT_TRUE(f_tomb->tombstone());
  // The destination's version is older than the source's tombstone.
  EXPECT_LT(g->file().version(), f_tomb->version());
}

TEST_F(NameServerTest, RenameDirectoryMovesEverythingBeneath) {
  StartServing();
  Create("/d", {"a:1"}, v1::KIND_DIRECTORY);
  Create("/d/x", {"a:1", "b:1"});
  Create("/d/sub/y", {"c:1"});
  ASSERT_TRUE(Rename("/d", "/e").ok());
  EXPECT_TRUE(Read("/e").ok());
  EXPECT_TRUE(Read("/e/x").ok());
  EXPECT_TRUE(Read("/e/sub/y").ok());
  EXPECT_TRUE(absl::IsNotFound(Read("/d/x").status()));
  EXPECT_TRUE(absl::IsNotFound(Read("/d/sub/y").status()));
  v1::StatRequest stat;
  stat.set_path("/d");
  v1::StatReply stat_reply;
  EXPECT_TRUE(absl::IsNotFound(ns_.Stat(stat, &stat_reply)));
}

TEST_F(NameServerTest, RenameRulesForExistingDestinations) {
  StartServing();
  Create("/a", {"a:1"});
  Create("/b", {"a:1"});
  Create("/full", {"a:1"}, v1::KIND_DIRECTORY);
  Create("/full/x", {"a:1"});
  Create("/dir2", {"a:1"}, v1::KIND_DIRECTORY);
  EXPECT_TRUE(absl::IsAlreadyExists(Rename("/a", "/b", /*no_replace=*/true)));
  EXPECT_TRUE(absl::IsFailedPrecondition(Rename("/dir2", "/full")));
  EXPECT_TRUE(absl::IsFailedPrecondition(Rename("/a", "/dir2")));
  EXPECT_TRUE(absl::IsInvalidArgument(Rename("/full", "/full/x/y")));
  EXPECT_TRUE(absl::IsNotFound(Rename("/missing", "/c")));
  ASSERT_TRUE(Rename("/a", "/b").ok());  // replaces a file
  EXPECT_TRUE(absl::IsNotFound(Read("/a").status()));
  EXPECT_TRUE(Read("/b").ok());
}

TEST_F(NameServerTest, SetAttributesMakesANewVersionOnEveryHolder) {
  StartServing();
  int64_t v = Create("/f", {"a:1", "b:1"});
  v1::SetAttributesRequest req;
  req.set_path("/f");
  req.mutable_attributes()->set_mode(0600);
  req.set_set_mode(true);
  v1::SetAttributesReply reply;
  ASSERT_TRUE(ns_.SetAttributes(req, &reply).ok());
  EXPECT_EQ(reply.file().attributes().mode(), 0600u);
  EXPECT_GT(reply.file().version(), v);
  auto r = Read("/f");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->file().attributes().mode(), 0600u);
  EXPECT_EQ(r->holders().size(), 2);
  EXPECT_EQ(stores_.Held("b:1", "/f")->attributes().mode(), 0600u);
}

TEST_F(NameServerTest, SetAttributesRefusesModeBitsAbove07777) {
  StartServing();
  int64_t v = Create("/f", {"a:1", "b:1"});
  v1::SetAttributesRequest req;
  req.set_path("/f");
  req.mutable_attributes()->set_mode(0100644);
  req.set_set_mode(true);
  v1::SetAttributesReply reply;
  EXPECT_TRUE(absl::IsInvalidArgument(ns_.SetAttributes(req, &reply)));
  EXPECT_EQ(Read("/f")->file().version(), v);
  req.mutable_attributes()->set_mode(07777);
  EXPECT_TRUE(ns_.SetAttributes(req, &reply).ok());
}

TEST_F(NameServerTest, StatFsSumsSaturateInsteadOfWrapping) {
  ns_.election().Step();
  for (const char* a : {"a:1", "b:1"}) {
    (void)zk_->Create(std::string(kFileStoresPath) + "/" + a, "", false);
    v1::RegisterRequest first;
    first.set_filestore(a);
    first.set_bytes_used(INT64_MAX - 1);
    first.set_bytes_available(INT64_MAX);
    absl::StatusOr<FileStoreId> id = ns_.RegisterBegin(first);
    ASSERT_TRUE(id.ok()) << id.status();
    ns_.RegisterEnd(*id);
  }
  ns_.Housekeep();
  ASSERT_TRUE(ns_.serving());
  v1::StatFsReply fs;
  ASSERT_TRUE(ns_.StatFs({}, &fs).ok());
  EXPECT_EQ(fs.bytes_used(), INT64_MAX);
  EXPECT_EQ(fs.bytes_available(), INT64_MAX);
  EXPECT_EQ(fs.bytes_total(), INT64_MAX);
}

TEST_F(NameServerTest, ListDirectoryAndStatFsAndList) {
  StartServing();
  Create("/d/a", {"a:1"});
  Create("/d/b", {"a:1"});
  Create("/d/sub/c", {"a:1"});
  v1::ListDirectoryRequest req;
  req.set_path("/d");
  req.set_limit(2);
  v1::ListDirectoryReply reply;
  ASSERT_TRUE(ns_.ListDirectory(req, &reply).ok());
  ASSERT_EQ(reply.entries_size(), 2);
  EXPECT_TRUE(reply.more());
  req.set_start_after(reply.entries(1).name());
  v1::ListDirectoryReply rest;
  ASSERT_TRUE(ns_.ListDirectory(req, &rest).ok());
  ASSERT_EQ(rest.entries_size(), 1);
  EXPECT_EQ(rest.entries(0).name(), "sub");
  EXPECT_EQ(rest.entries(0).kind(), v1::KIND_DIRECTORY);
  v1::ListDirectoryRequest file_req;
  file_req.set_path("/d/a");
  v1::ListDirectoryReply file_reply;
  EXPECT_TRUE(absl::IsFailedPrecondition(ns_.ListDirectory(file_req, &file_reply)));

  v1::ListRequest list;
  list.set_glob("/d/?");
  v1::ListReply list_reply;
  ASSERT_TRUE(ns_.List(list, &list_reply).ok());
  EXPECT_EQ(list_reply.paths_size(), 2);

  v1::StatFsReply fs;
  ASSERT_TRUE(ns_.StatFs({}, &fs).ok());
  EXPECT_EQ(fs.bytes_available(), 4000);
  EXPECT_EQ(fs.files(), 3);
}

// --- reports: one per create from the chain's head, batches from the queue (issue 12) ---

v1::AddFileOrTombstoneRequest Report(const std::string& from, const v1::FileInfo& f,
                                     const std::vector<std::string>& also_on = {}) {
  v1::AddFileOrTombstoneRequest req;
  req.set_filestore(from);
  *req.mutable_file() = f;
  for (const std::string& a : also_on) req.add_also_on(a);
  return req;
}

std::vector<std::string> SortedHolders(const v1::DoReadReply& reply) {
  std::vector<std::string> out(reply.holders().begin(), reply.holders().end());
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(NameServerTest, HeadReport_EveryLiveMemberItNamesBecomesAHolder_UnknownOnesDoNot) {
  StartServing();
  v1::AddFileOrTombstoneReply reply;
  ASSERT_TRUE(
      ns_.AddFileOrTombstone(Report("a:1", File("/f", 5), {"b:1", "c:1", "zz:9"}), &reply).ok());
  EXPECT_FALSE(reply.reregister());
  absl::StatusOr<v1::DoReadReply> read = Read("/f");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(SortedHolders(*read), (std::vector<std::string>{"a:1", "b:1", "c:1"}));
  // A name in also_on does not make a FileStore known.
  EXPECT_EQ(ns_.names().live_filestores(), 4u);
  EXPECT_FALSE(ns_.names().Find("zz:9").has_value());
}

TEST_F(NameServerTest, HeadReport_NamingADroppedFileStore_DoesNotMakeItAHolderAgain) {
  StartServing();
  clock_.Advance(seconds(40));
  for (const char* a : {"a:1", "b:1", "c:1"}) HeartBeat(a);
  ns_.Housekeep();  // d:1 missed two heartbeats
  ASSERT_EQ(ns_.names().live_filestores(), 3u);
  v1::AddFileOrTombstoneReply reply;
  ASSERT_TRUE(ns_.AddFileOrTombstone(Report("a:1", File("/f", 5), {"d:1"}), &reply).ok());
  EXPECT_EQ(SortedHolders(*Read("/f")), (std::vector<std::string>{"a:1"}));
  // A head the NameServer does not know registers first: nobody is recorded meanwhile.
  ASSERT_TRUE(ns_.AddFileOrTombstone(Report("d:1", File("/g", 6), {"a:1"}), &reply).ok());
  EXPECT_TRUE(reply.reregister());
  EXPECT_TRUE(absl::IsNotFound(Read("/g").status()));
}

TEST_F(NameServerTest, Report_WithBadMembersOrBatch_IsInvalidArgumentAndRecordsNothing) {
  StartServing();
  std::vector<v1::AddFileOrTombstoneRequest> bad;
  for (const char* member : {"", "no-port", "a:1/../x", "a:99999"}) {
    bad.push_back(Report("a:1", File("/f", 5), {member}));
  }
  bad.push_back(Report("a:1", File("/f", 5), std::vector<std::string>(17, "b:1")));
  bad.push_back(Report("a:1", File("/f", 5)));
  *bad.back().add_more() = File("relative", 6);
  bad.push_back(Report("a:1", File("/f", 5)));
  *bad.back().add_more() = File("/g", -1);
  for (const v1::AddFileOrTombstoneRequest& req : bad) {
    v1::AddFileOrTombstoneReply reply;
    EXPECT_TRUE(absl::IsInvalidArgument(ns_.AddFileOrTombstone(req, &reply)))
        << req.ShortDebugString();
  }
  EXPECT_TRUE(absl::IsNotFound(Read("/f").status()));
}

TEST_F(NameServerTest, BatchedReports_EveryOneIsRecorded_ARefusedOneIsSkipped) {
  StartServing();
  v1::AddFileOrTombstoneRequest req = Report("b:1", File("/file", 5));
  *req.add_more() = File("/file/beneath", 6);  // beneath a file: refused, skipped
  *req.add_more() = File("/x", 7);
  *req.add_more() = File("/y", 8, /*tombstone=*/true);
  v1::AddFileOrTombstoneReply reply;
  ASSERT_TRUE(ns_.AddFileOrTombstone(req, &reply).ok());
  EXPECT_FALSE(reply.reregister());
  EXPECT_EQ(SortedHolders(*Read("/file")), (std::vector<std::string>{"b:1"}));
  EXPECT_EQ(SortedHolders(*Read("/x")), (std::vector<std::string>{"b:1"}));
  EXPECT_TRUE(ns_.names().Get("/y")->info.tombstone());
  EXPECT_FALSE(ns_.names().Get("/file/beneath").has_value());
}

// --- replication ---

TEST_F(NameServerTest, UnderReplicatedFilesAndTombstonesGetCopied) {
  StartServing();
  Create("/f", {"a:1"});
  Create("/t", {"b:1"});
  ASSERT_TRUE(Delete("/t").ok());
  // Just created: its chain is still at work, replication leaves it alone for a while.
  EXPECT_EQ(ns_.Replicate().failed, 0u);
  auto f = Read("/f");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->holders().size(), 1);
  clock_.Advance(TestSettings().create_grace);
  auto r = ns_.Replicate();
  EXPECT_EQ(r.failed, 0u);
  f = Read("/f");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->holders().size(), 3);
  EXPECT_EQ(ns_.names().CountUnderReplicated(3), 0u);
}

TEST_F(NameServerTest, DroppedFileStoreIsReplacedByReplication) {
  StartServing();
  Create("/f", {"a:1", "b:1", "c:1"});
  clock_.Advance(seconds(38));
  for (const char* a : {"b:1", "c:1", "d:1"}) HeartBeat(a);
  ns_.Housekeep();
  ns_.Replicate();
  auto f = Read("/f");
  ASSERT_TRUE(f.ok());
  std::set<std::string> holders(f->holders().begin(), f->holders().end());
  EXPECT_EQ(holders, (std::set<std::string>{"b:1", "c:1", "d:1"}));
}

// --- garbage collection ---

TEST_F(NameServerTest, GcWaitsForEnoughNewVersionsAndAnOldEnoughVersion) {
  StartServing();
  for (int i = 0; i < 5; ++i) Create("/f" + std::to_string(i), {"a:1", "b:1", "c:1"});
  clock_.Advance(seconds(200));
  // Only 5 new versions: no round.
  EXPECT_EQ(*ns_.CollectGarbage(), 0);
  for (int i = 5; i < 20; ++i) Create("/f" + std::to_string(i), {"a:1", "b:1", "c:1"});
  // Enough versions, and the version reserved at take-over is 200 s old.
  absl::StatusOr<int64_t> g = ns_.CollectGarbage();
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_GT(*g, 0);
  EXPECT_EQ(zk_->Get(kMinVerPath)->data, std::to_string(*g));
  // Right after a round: too few new versions, and the newest reserved one is too young.
  for (int i = 20; i < 40; ++i) Create("/f" + std::to_string(i), {"a:1", "b:1", "c:1"});
  clock_.Advance(seconds(60));
  EXPECT_EQ(*ns_.CollectGarbage(), 0);  // reserved versions are at most 60 s old
  clock_.Advance(seconds(61));
  absl::StatusOr<int64_t> g2 = ns_.CollectGarbage();
  ASSERT_TRUE(g2.ok()) << g2.status();
  EXPECT_GT(*g2, *g);
}

TEST_F(NameServerTest, GcBumpsOnlyLatestLiveFilesOnTheirHolders) {
  StartServing();
  // /f: latest on a and b; c has an outdated copy.
  int64_t old_v = Create("/f", {"a:1", "b:1", "c:1"});
  int64_t new_v = Create("/f", {"a:1", "b:1"});
  ASSERT_GT(new_v, old_v);
  // /t: deleted (tombstones are never bumped).
  Create("/t", {"a:1", "b:1", "c:1"});
  ASSERT_TRUE(Delete("/t").ok());
  // This tick reserves a version above everything so far (too few new versions for a round).
  ASSERT_TRUE(ns_.CollectGarbage().ok());
  EXPECT_TRUE(stores_.bumps.empty());
  clock_.Advance(seconds(121));
  for (int i = 0; i < 15; ++i) Create("/g" + std::to_string(i), {"b:1", "c:1", "d:1"});
  absl::StatusOr<int64_t> g = ns_.CollectGarbage();
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_GT(*g, new_v);
  // Below G: /f's latest version on its two holders, nothing else (the /g files are newer).
  std::set<std::string> bumped_f;
  for (auto& [address, reqs] : stores_.bumps) {
    for (auto& req : reqs) {
      EXPECT_EQ(req.new_version(), *g);
      for (auto& nv : req.files()) {
        EXPECT_EQ(nv.name(), "/f") << "bumped " << nv.name() << " on " << address;
        EXPECT_EQ(nv.version(), new_v);
        bumped_f.insert(address);
      }
    }
  }
  EXPECT_EQ(bumped_f, (std::set<std::string>{"a:1", "b:1"}));
}

TEST_F(NameServerTest, GcRelabelsOldFilesAndMovesMinVer) {
  // FileStores that already hold files from an earlier leader's time.
  stores_.Put("a:1", File("/old", 3));
  stores_.Put("b:1", File("/old", 3));
  stores_.Put("c:1", File("/old", 2));  // outdated copy
  stores_.Put("a:1", File("/dead", 4, true));
  stores_.Put("b:1", File("/dead", 4, true));
  stores_.Put("c:1", File("/dead", 4, true));
  ASSERT_TRUE(zk_->Create(kMaxVerPath, "5", false).ok());
  StartServing();
  for (int i = 0; i < 15; ++i) Create("/n" + std::to_string(i), {"a:1", "b:1", "d:1"});
  clock_.Advance(seconds(121));
  absl::StatusOr<int64_t> g = ns_.CollectGarbage();
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_GT(*g, 5);
  EXPECT_EQ(zk_->Get(kMinVerPath)->data, std::to_string(*g));
  // Latest copies relabelled; the outdated copy on c untouched (it was never asked).
  EXPECT_EQ(stores_.Held("a:1", "/old")->version(), *g);
  EXPECT_EQ(stores_.Held("b:1", "/old")->version(), *g);
  ASSERT_EQ(stores_.bumps.count("c:1"), 0u);
  // Replication brought /old back to three holders at G (c or d got a fresh copy).
  auto r = Read("/old");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->file().version(), *g);
  EXPECT_EQ(r->holders().size(), 3);
  // The old tombstone is gone from the namespace.
  EXPECT_FALSE(ns_.names().Get("/dead").has_value());
  EXPECT_EQ(ns_.names().CountLiveFilesBelow(*g), 0u);
}

TEST_F(NameServerTest, GcDoesNotMoveMinVerWhenABumpFails) {
  stores_.Put("a:1", File("/old", 3));
  ASSERT_TRUE(zk_->Create(kMaxVerPath, "5", false).ok());
  StartServing();
  for (int i = 0; i < 15; ++i) Create("/n" + std::to_string(i), {"b:1", "c:1", "d:1"});
  clock_.Advance(seconds(121));
  stores_.SetDown("a:1", true);
  EXPECT_FALSE(ns_.CollectGarbage().ok());
  EXPECT_EQ(zk_->Get(kMinVerPath)->data, "0");
}

// --- GC acts only on a complete view (issue 10, defects 1-4) ---

class GcSafetyTest : public NameServerTest {
 protected:
  // FileStores that hold /old@3 from an earlier leader's time, /maxver 5, then serving
  // with enough new versions and an old enough reserved version for a GC round.
  void SetUpRound(const std::vector<std::string>& filestores = {"a:1", "b:1", "c:1", "d:1"},
                  const std::vector<std::string>& old_on = {"a:1", "b:1", "c:1"}) {
    for (const std::string& a : old_on) stores_.Put(a, File("/old", 3));
    ASSERT_TRUE(zk_->Create(kMaxVerPath, "5", false).ok());
    StartServing(filestores);
    for (int i = 0; i < 15; ++i) Create("/n" + std::to_string(i), {"a:1", "b:1", "c:1"});
    clock_.Advance(seconds(121));
  }
  std::string MinVer() { return zk_->Get(kMinVerPath)->data; }
  // The FileStores that failed to read a replica report it, as the real ones do.
  void ReportBadReads() {
    for (const auto& [address, f] : stores_.bad_reads) {
      v1::ReportBadReplicaRequest req;
      req.set_filestore(address);
      req.mutable_file()->set_name(f.name());
      req.mutable_file()->set_version(f.version());
      v1::ReportBadReplicaReply reply;
      ASSERT_TRUE(ns_.ReportBadReplica(req, &reply).ok());
    }
    stores_.bad_reads.clear();
  }
  std::set<std::string> Holders(const v1::DoReadReply& r) {
    return std::set<std::string>(r.holders().begin(), r.holders().end());
  }
};

// Defect 5: the /minver write applied but its reply was lost, and ZooKeeper could not be
// read right after. The write is settled first thing in the next round, so GC goes on
// (with a stale znode version every later conditional write would fail for good).
TEST_F(GcSafetyTest, MinVerWriteWithALostReplyIsSettledAndGcGoesOn) {
  SetUpRound();
  auto reader = zk::NewMemoryZooKeeper(ensemble_);
  zk::MemoryLoseNextReply(zk_.get(), /*applied=*/true, /*then_suspend=*/true);
  EXPECT_FALSE(ns_.CollectGarbage().ok());
  std::string written = reader->Get(kMinVerPath)->data;
  ASSERT_NE(written, "0");  // it did apply
  zk::MemoryResume(zk_.get());
  absl::StatusOr<int64_t> settled = ns_.CollectGarbage();
  ASSERT_TRUE(settled.ok()) << settled.status();
  v1::ClusterStatusReply status;
  ASSERT_TRUE(ns_.ClusterStatus({}, &status).ok());
  EXPECT_EQ(std::to_string(status.min_version()), written);
  // A later round moves /minver further.
  for (int i = 0; i < 15; ++i) Create("/m" + std::to_string(i), {"a:1", "b:1", "c:1"});
  clock_.Advance(seconds(121));
  (void)ns_.CollectGarbage();
  clock_.Advance(seconds(121));
  for (int i = 0; i < 15; ++i) Create("/k" + std::to_string(i), {"a:1", "b:1", "c:1"});
  absl::StatusOr<int64_t> g = ns_.CollectGarbage();
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_GT(std::stoll(reader->Get(kMinVerPath)->data), std::stoll(written));
}

TEST_F(GcSafetyTest, StallDropsEveryFileStore_NoRoundUntilEveryOneRegisteredAgain) {
  SetUpRound();
  // The NameServer stalled: nobody's heartbeat got through, so every FileStore is dropped.
  ns_.Housekeep();
  ASSERT_EQ(ns_.names().live_filestores(), 0u);
  absl::StatusOr<int64_t> g = ns_.CollectGarbage();
  EXPECT_FALSE(g.ok() && *g > 0);
  EXPECT_EQ(MinVer(), "0");
  // They come back one after another: no round while one of them is still missing.
  Register("a:1");
  Register("b:1");
  Register("c:1");
  g = ns_.CollectGarbage();
  EXPECT_FALSE(g.ok() && *g > 0);
  EXPECT_EQ(MinVer(), "0");
  Register("d:1");
  g = ns_.CollectGarbage();
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_GT(*g, 5);
  EXPECT_EQ(MinVer(), std::to_string(*g));
  auto old = Read("/old");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->file().version(), *g);
  EXPECT_EQ(old->holders_size(), 3);
}

TEST_F(GcSafetyTest, DroppedFileStoreThatNeverReturnsBlocksGcForTheDroppedMemoryOnly) {
  SetUpRound();
  for (const char* a : {"a:1", "b:1", "c:1"}) HeartBeat(a);
  clock_.Advance(seconds(38));
  for (const char* a : {"a:1", "b:1", "c:1"}) HeartBeat(a);
  ns_.Housekeep();  // d is dropped
  ASSERT_EQ(ns_.names().live_filestores(), 3u);
  (void)zk_->Delete(std::string(kFileStoresPath) + "/d:1", -1);  // its session ended too
  EXPECT_FALSE(ns_.CollectGarbage().ok());
  EXPECT_EQ(MinVer(), "0");
  clock_.Advance(TestSettings().dropped_filestore_memory);
  for (const char* a : {"a:1", "b:1", "c:1"}) HeartBeat(a);
  absl::StatusOr<int64_t> g = ns_.CollectGarbage();
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(MinVer(), std::to_string(*g));
}

TEST_F(GcSafetyTest, HalfStreamedOrBrokenRegistrationDoesNotEnableGc) {
  SetUpRound();
  // e announced itself and started streaming its files, but has not finished.
  ASSERT_TRUE(zk_->Create(std::string(kFileStoresPath) + "/e:1", "", false).ok());
  v1::RegisterRequest first;
  first.set_filestore("e:1");
  *first.add_files() = File("/e-only", 4);
  absl::StatusOr<FileStoreId> id = ns_.RegisterBegin(first);
  ASSERT_TRUE(id.ok()) << id.status();
  absl::StatusOr<int64_t> g = ns_.CollectGarbage();
  EXPECT_FALSE(g.ok() && *g > 0);
  EXPECT_EQ(MinVer(), "0");
  // The stream broke: e is not registered and must register again.
  ns_.RegisterAbort(*id);
  v1::HeartBeatRequest hb;
  hb.set_filestore("e:1");
  v1::HeartBeatReply hb_reply;
  ASSERT_TRUE(ns_.HeartBeat(hb, &hb_reply).ok());
  EXPECT_TRUE(hb_reply.reregister());
  g = ns_.CollectGarbage();
  EXPECT_FALSE(g.ok() && *g > 0);
  EXPECT_EQ(MinVer(), "0");
  // A whole registration: the round runs, and e's file was relabelled with the rest.
  stores_.Put("e:1", File("/e-only", 4));
  Register("e:1");
  g = ns_.CollectGarbage();
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(MinVer(), std::to_string(*g));
  EXPECT_EQ(stores_.Held("e:1", "/e-only")->version(), *g);
}

TEST_F(GcSafetyTest, FileStoreDroppedDuringTheRound_MinVerDoesNotMove) {
  SetUpRound();
  for (const char* a : {"a:1", "b:1", "c:1"}) HeartBeat(a);
  // While the bumps are out, d (which holds nothing to bump) misses its heartbeats.
  std::once_flag once;
  stores_.on_bump = [&](const std::string&) { std::call_once(once, [&] { ns_.Housekeep(); }); };
  absl::StatusOr<int64_t> g = ns_.CollectGarbage();
  EXPECT_FALSE(g.ok() && *g > 0);
  EXPECT_EQ(MinVer(), "0");
  EXPECT_EQ(ns_.names().live_filestores(), 3u);
}

TEST_F(GcSafetyTest, ReportsBelowMinVerAreRefusedAndRegistrationSkipsThem) {
  SetUpRound();
  absl::StatusOr<int64_t> g = ns_.CollectGarbage();
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_GT(*g, 5);
  v1::AddFileOrTombstoneRequest add;
  add.set_filestore("a:1");
  *add.mutable_file() = File("/late", *g - 1);
  v1::AddFileOrTombstoneReply reply;
  absl::Status st = ns_.AddFileOrTombstone(add, &reply);
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_NE(std::string(st.message()).find("version too old"), std::string::npos);
  EXPECT_TRUE(absl::IsNotFound(Read("/late").status()));
  // At /minver itself it is fine.
  *add.mutable_file() = File("/at-minver", *g);
  EXPECT_TRUE(ns_.AddFileOrTombstone(add, &reply).ok());
  // In a batch, a report below /minver is skipped and the others are recorded.
  add = Report("a:1", File("/batched", *g));
  *add.add_more() = File("/batched-late", *g - 1);
  *add.add_more() = File("/batched-too", *g);
  EXPECT_TRUE(ns_.AddFileOrTombstone(add, &reply).ok());
  EXPECT_TRUE(Read("/batched").ok());
  EXPECT_TRUE(Read("/batched-too").ok());
  EXPECT_FALSE(ns_.names().Get("/batched-late").has_value());
  // A registration skips what the FileStore is about to purge.
  stores_.Put("e:1", File("/late2", *g - 1));
  stores_.Put("e:1", File("/kept", *g));
  Register("e:1");
  EXPECT_FALSE(ns_.names().Get("/late2").has_value());
  EXPECT_TRUE(Read("/kept").ok());
}

TEST_F(GcSafetyTest, GcVersionStaysBelowEveryCreateInFlight) {
  ASSERT_TRUE(zk_->Create(kMaxVerPath, "5", false).ok());
  StartServing();
  // A long upload takes its version now and reports it much later.
  v1::DoCreateRequest req;
  req.set_path("/slow");
  v1::DoCreateReply slow;
  ASSERT_TRUE(ns_.DoCreate(req, &slow).ok());
  clock_.Advance(seconds(1));
  EXPECT_EQ(*ns_.CollectGarbage(), 0);  // reserves a version above /slow's
  for (int i = 0; i < 15; ++i) Create("/n" + std::to_string(i), {"a:1", "b:1", "c:1"});
  clock_.Advance(seconds(130));
  absl::StatusOr<int64_t> g = ns_.CollectGarbage();
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_GT(*g, 0);
  EXPECT_LT(*g, slow.version());
  // Once a FileStore reported it, it no longer holds GC back.
  Store(File("/slow", slow.version()), {"a:1", "b:1", "c:1"});
  for (int i = 0; i < 15; ++i) Create("/m" + std::to_string(i), {"a:1", "b:1", "c:1"});
  clock_.Advance(seconds(130));
  absl::StatusOr<int64_t> g2 = ns_.CollectGarbage();
  ASSERT_TRUE(g2.ok()) << g2.status();
  EXPECT_GT(*g2, slow.version());
  EXPECT_EQ(Read("/slow")->file().version(), *g2);
}

TEST_F(GcSafetyTest, CreateNeverReportedHoldsGcBackOnlyUntilTheCreateTimeout) {
  ASSERT_TRUE(zk_->Create(kMaxVerPath, "5", false).ok());
  StartServing();
  v1::DoCreateRequest req;
  req.set_path("/abandoned");
  v1::DoCreateReply abandoned;
  ASSERT_TRUE(ns_.DoCreate(req, &abandoned).ok());
  clock_.Advance(seconds(1));
  EXPECT_EQ(*ns_.CollectGarbage(), 0);
  for (int i = 0; i < 15; ++i) Create("/n" + std::to_string(i), {"a:1", "b:1", "c:1"});
  clock_.Advance(TestSettings().create_timeout);
  for (const char* a : {"a:1", "b:1", "c:1", "d:1"}) HeartBeat(a);
  absl::StatusOr<int64_t> g = ns_.CollectGarbage();
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_GT(*g, abandoned.version());
}

// Issue 10 defect 3, as reported: a flipped byte on A, B and C dropped, chmod reaches only
// A, B and C come back, A's copy is found corrupt: F is still readable from B and C.
TEST_F(GcSafetyTest, ChmodReachesOnlyACorruptCopy_TheIntactOlderCopiesStillServe) {
  StartServing({"a:1", "b:1", "c:1"});
  int64_t v = Create("/F", {"a:1", "b:1", "c:1"});
  stores_.Corrupt("a:1", "/F");
  clock_.Advance(seconds(38));
  HeartBeat("a:1");
  ns_.Housekeep();
  ASSERT_EQ(ns_.names().live_filestores(), 1u);
  v1::SetAttributesRequest chmod;
  chmod.set_path("/F");
  chmod.mutable_attributes()->set_mode(0600);
  chmod.set_set_mode(true);
  v1::SetAttributesReply chmod_reply;
  ASSERT_TRUE(ns_.SetAttributes(chmod, &chmod_reply).ok());
  ASSERT_GT(chmod_reply.file().version(), v);
  Register("b:1");
  Register("c:1");
  clock_.Advance(TestSettings().create_grace);
  ns_.Replicate();  // copies F's newest version from A: the checksum does not match
  ASSERT_FALSE(stores_.bad_reads.empty());
  ReportBadReads();
  auto f = Read("/F");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->file().version(), v);
  EXPECT_EQ(Holders(*f), (std::set<std::string>{"b:1", "c:1"}));
  // Replication completes it from the intact copies.
  ns_.Replicate();
  EXPECT_EQ(ns_.names().CountUnderReplicated(3), 0u);
  EXPECT_EQ(Read("/F")->holders_size(), 3);
}

// The loss the fault run hit: GC's bump reached one holder (whose copy is corrupt) and the
// others' bump calls failed.
TEST_F(GcSafetyTest, BumpReachesOnlyACorruptCopy_TheIntactCopiesSurviveAndTheRoundIsRetried) {
  SetUpRound({"a:1", "b:1", "c:1"});
  stores_.Corrupt("a:1", "/old");
  stores_.on_bump = [&](const std::string& address) {
    if (address != "a:1") stores_.SetDown(address, true);
  };
  EXPECT_FALSE(ns_.CollectGarbage().ok());
  EXPECT_EQ(MinVer(), "0");
  ASSERT_FALSE(stores_.bumps["a:1"].empty());
  const int64_t g1 = stores_.bumps["a:1"][0].new_version();
  ASSERT_EQ(stores_.Held("a:1", "/old")->version(), g1);
  stores_.on_bump = nullptr;
  stores_.SetDown("b:1", false);
  stores_.SetDown("c:1", false);
  ns_.Replicate();  // completing /old@G1 from A fails its checksum
  ReportBadReads();
  auto old = Read("/old");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->file().version(), 3);
  EXPECT_EQ(Holders(*old), (std::set<std::string>{"b:1", "c:1"}));
  EXPECT_EQ(MinVer(), "0");
  // The next round finishes the same G: B and C relabel, A gets a good copy.
  absl::StatusOr<int64_t> g = ns_.CollectGarbage();
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(*g, g1);
  old = Read("/old");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->file().version(), g1);
  EXPECT_EQ(old->holders_size(), 3);
}

TEST_F(GcSafetyTest, ReplicationDuringARoundDoesNotCopyHalfRelabelledNames) {
  for (int i = 0; i < 5; ++i) {
    for (const char* a : {"a:1", "b:1", "c:1"}) stores_.Put(a, File("/o" + std::to_string(i), 3));
  }
  SetUpRound();
  const int copies_before = stores_.copies;
  // Replication passes run while the bumps are out, as the 5 s ticker does.
  stores_.on_bump = [&](const std::string&) { ns_.Replicate(); };
  absl::StatusOr<int64_t> g = ns_.CollectGarbage();
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(stores_.copies, copies_before);
  for (int i = 0; i < 5; ++i) {
    auto r = Read("/o" + std::to_string(i));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->file().version(), *g);
    EXPECT_EQ(r->holders_size(), 3);
  }
}

TEST_F(GcSafetyTest, AfterARoundStoppedShort_TheNextRoundReusesGAndBumpsOnlyWhatIsLeft) {
  stores_.Put("b:1", File("/y", 4));
  stores_.Put("c:1", File("/y", 4));
  stores_.Put("d:1", File("/y", 4));
  SetUpRound();
  stores_.SetDown("d:1", true);
  EXPECT_FALSE(ns_.CollectGarbage().ok());
  EXPECT_EQ(MinVer(), "0");
  int64_t g1 = 0;
  for (auto& [address, reqs] : stores_.bumps) {
    if (!reqs.empty()) g1 = reqs[0].new_version();
  }
  ASSERT_GT(g1, 0);
  stores_.SetDown("d:1", false);
  for (int i = 0; i < 20; ++i) Create("/m" + std::to_string(i), {"a:1", "b:1", "c:1"});
  clock_.Advance(seconds(121));
  for (const char* a : {"a:1", "b:1", "c:1", "d:1"}) HeartBeat(a);
  stores_.bumps.clear();
  absl::StatusOr<int64_t> g = ns_.CollectGarbage();
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(*g, g1);
  size_t rebumped = 0;
  for (auto& [address, reqs] : stores_.bumps) {
    for (auto& r : reqs) rebumped += r.files_size();
  }
  EXPECT_EQ(rebumped, 0u);  // everything below G1 was relabelled or replicated already
  EXPECT_EQ(Read("/y")->file().version(), g1);
}

TEST_F(GcSafetyTest, ExcessCopiesAreReportedButAreNoProblem) {
  SetUpRound();
  Store(File("/old", 3), {"d:1"});  // a paused FileStore came back with its copy
  EXPECT_EQ(ns_.names().CountOverReplicated(3), 1u);
  EXPECT_EQ(ns_.names().CountUnderReplicated(3), 0u);
  absl::StatusOr<int64_t> g = ns_.CollectGarbage();
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(MinVer(), std::to_string(*g));
}

TEST_F(GcSafetyTest, RenameThatSomeHoldersCannotCloneKeepsTheSource) {
  StartServing();
  int64_t v = Create("/src", {"a:1", "b:1", "c:1"});
  stores_.SetDown("c:1", true);
  EXPECT_TRUE(absl::IsUnavailable(Rename("/src", "/dst")));
  // c's only copy is under /src: it must not be tombstoned.
  auto src = Read("/src");
  ASSERT_TRUE(src.ok()) << src.status();
  EXPECT_EQ(src->file().version(), v);
  EXPECT_FALSE(stores_.Held("a:1", "/src")->tombstone());
  stores_.SetDown("c:1", false);
  ASSERT_TRUE(Rename("/src", "/dst").ok());
  EXPECT_TRUE(absl::IsNotFound(Read("/src").status()));
  EXPECT_EQ(Read("/dst")->holders_size(), 3);
}

// --- FileStore calls: bad input (issue 10 defect 14) ---

TEST_F(NameServerTest, FileStoreCallsRefuseNegativeNumbersUnknownKindsAndHighModeBits) {
  StartServing();
  std::vector<v1::FileInfo> bad(4, File("/bad", 3));
  bad[0].set_version(-1);
  bad[1].set_size(-1);
  bad[2].set_kind(static_cast<v1::Kind>(99));
  bad[3].mutable_attributes()->set_mode(010000);
  for (const v1::FileInfo& f : bad) {
    v1::AddFileOrTombstoneRequest add;
    add.set_filestore("a:1");
    *add.mutable_file() = f;
    v1::AddFileOrTombstoneReply reply;
    EXPECT_TRUE(absl::IsInvalidArgument(ns_.AddFileOrTombstone(add, &reply))) << f.DebugString();
    v1::RegisterRequest reg;
    reg.set_filestore("e:1");
    *reg.add_files() = f;
    EXPECT_TRUE(absl::IsInvalidArgument(ns_.RegisterBegin(reg).status())) << f.DebugString();
  }
  EXPECT_FALSE(ns_.names().Get("/bad").has_value());
  v1::HeartBeatRequest hb;
  hb.set_filestore("a:1");
  hb.set_bytes_used(-1);
  v1::HeartBeatReply hb_reply;
  EXPECT_TRUE(absl::IsInvalidArgument(ns_.HeartBeat(hb, &hb_reply)));
  hb.set_bytes_used(0);
  hb.set_bytes_available(-5);
  EXPECT_TRUE(absl::IsInvalidArgument(ns_.HeartBeat(hb, &hb_reply)));
  v1::RegisterRequest reg;
  reg.set_filestore("e:1");
  reg.set_bytes_used(-1);
  EXPECT_TRUE(absl::IsInvalidArgument(ns_.RegisterBegin(reg).status()));
  v1::ReportBadReplicaRequest bad_replica;
  bad_replica.set_filestore("a:1");
  bad_replica.mutable_file()->set_name("/x");
  bad_replica.mutable_file()->set_version(-1);
  v1::ReportBadReplicaReply bad_replica_reply;
  EXPECT_TRUE(absl::IsInvalidArgument(ns_.ReportBadReplica(bad_replica, &bad_replica_reply)));
  // A version never handed out is refused in a report; in a registration it moves the lease.
  v1::AddFileOrTombstoneRequest add;
  add.set_filestore("a:1");
  *add.mutable_file() = File("/future", ns_.allocator().limit() + 1);
  v1::AddFileOrTombstoneReply reply;
  EXPECT_TRUE(absl::IsInvalidArgument(ns_.AddFileOrTombstone(add, &reply)));
  const int64_t far = ns_.allocator().limit() + 100;
  stores_.Put("e:1", File("/far", far));
  Register("e:1");
  EXPECT_GT(ns_.allocator().next(), far);
}

// --- operators: status page, fsck --repair ---

TEST_F(NameServerTest, StatusPage_DroppedFileStoreStaysListedAsDroppedUntilItRegisters) {
  StartServing();
  clock_.Advance(seconds(38));
  for (const char* a : {"b:1", "c:1", "d:1"}) HeartBeat(a);
  ns_.Housekeep();
  std::string json = StatusJson(CollectStatus(ns_, clock_.WallNanos()));
  EXPECT_NE(json.find(R"({"address":"a:1","state":"dropped")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"({"address":"b:1","state":"live")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("is_leader":true,"leader":"ns1:9000")"), std::string::npos) << json;
  std::vector<std::string> texts;
  for (const Event& e : ns_.events().Recent()) texts.push_back(e.kind + ": " + e.text);
  ASSERT_GE(texts.size(), 3u);
  EXPECT_EQ(texts.front(), "filestore: FileStore a:1 dropped: missed two heartbeats");
  EXPECT_EQ(texts.back(), "election: ns1:9000 became the leader");
  Register("a:1");
  json = StatusJson(CollectStatus(ns_, clock_.WallNanos()));
  EXPECT_EQ(json.find(R"("state":"dropped")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"({"address":"a:1","state":"live")"), std::string::npos) << json;
}

TEST_F(NameServerTest, ReplicateNow_CountsTheShortPaths_RefusesBadInput) {
  StartServing();
  Create("/short", {"a:1"});
  Create("/full", {"a:1", "b:1", "c:1"});
  v1::ReplicateRequest req;
  for (const char* p : {"/short", "/full", "/unknown"}) req.add_paths(p);
  v1::ReplicateReply reply;
  ASSERT_TRUE(ns_.ReplicateNow(req, &reply).ok());
  EXPECT_EQ(reply.under_replicated(), 1);
  req.add_paths("no/slash");
  EXPECT_TRUE(absl::IsInvalidArgument(ns_.ReplicateNow(req, &reply)));
  EXPECT_TRUE(absl::IsInvalidArgument(ns_.ReplicateNow(v1::ReplicateRequest(), &reply)));
}

}  // namespace
}  // namespace chainfs::nameserver
