// Placement with suspects and excluded FileStores, and doCreate's exclude list: a chain
// never goes to an excluded FileStore, and a FileStore a client reported as failed gets no
// chain until it heartbeats again (unless too few others are left). Also doCreate's input
// checks (negative expected size, a parent that is a file).
#include <gtest/gtest.h>

#include <set>

#include "common/client/memory_filestores.h"
#include "common/status.h"
#include "servers/nameserver/nameserver.h"
#include "servers/nameserver/placement.h"

namespace chainfs::nameserver {
namespace {

using std::chrono::seconds;

FileStoreInfo Store(const std::string& address, int64_t available = 1000) {
  FileStoreInfo fs;
  fs.address = address;
  fs.bytes_available = available;
  return fs;
}

std::set<std::string> Addresses(const std::vector<FileStoreInfo>& chosen) {
  std::set<std::string> out;
  for (const FileStoreInfo& fs : chosen) out.insert(fs.address);
  return out;
}

const std::vector<FileStoreInfo> kFour = {Store("a:1"), Store("b:1"), Store("c:1"), Store("d:1")};

TEST(PlacementTest, ExcludedFileStoresAreNeverChosen) {
  Placement placement(1);
  for (int i = 0; i < 50; ++i) {
    auto chosen = Addresses(placement.Choose(kFour, 3, {"b:1"}));
    EXPECT_EQ(chosen, (std::set<std::string>{"a:1", "c:1", "d:1"}));
  }
  // Fewer than asked rather than an excluded one.
  EXPECT_EQ(Addresses(placement.Choose(kFour, 3, {"a:1", "b:1"})),
            (std::set<std::string>{"c:1", "d:1"}));
  EXPECT_TRUE(placement.Choose(kFour, 3, {"a:1", "b:1", "c:1", "d:1"}).empty());
}

TEST(PlacementTest, SuspectIsSkippedWhileEnoughOthersRemain) {
  Placement placement(2);
  EXPECT_TRUE(placement.MarkSuspect("c:1"));
  EXPECT_FALSE(placement.MarkSuspect("c:1"));
  EXPECT_TRUE(placement.IsSuspect("c:1"));
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(Addresses(placement.Choose(kFour, 3)), (std::set<std::string>{"a:1", "b:1", "d:1"}));
  }
}

TEST(PlacementTest, SuspectIsUsedRatherThanAShortChain) {
  Placement placement(3);
  placement.MarkSuspect("a:1");
  placement.MarkSuspect("b:1");
  // Two trusted ones: the chain of three takes one suspect, last.
  for (int i = 0; i < 20; ++i) {
    auto chosen = placement.Choose(kFour, 3);
    ASSERT_EQ(chosen.size(), 3u);
    EXPECT_TRUE(chosen[2].address == "a:1" || chosen[2].address == "b:1") << chosen[2].address;
    EXPECT_FALSE(placement.IsSuspect(chosen[0].address));
    EXPECT_FALSE(placement.IsSuspect(chosen[1].address));
  }
  // Excluded beats suspect: never chosen, even when it leaves fewer.
  EXPECT_EQ(Addresses(placement.Choose(kFour, 3, {"a:1", "c:1"})),
            (std::set<std::string>{"b:1", "d:1"}));
}

TEST(PlacementTest, ClearedSuspectIsChosenAgainByFreeSpace) {
  Placement placement(4);
  std::vector<FileStoreInfo> stores = {Store("a:1", 10), Store("b:1", 20), Store("c:1", 30),
                                       Store("d:1", 40)};
  placement.MarkSuspect("d:1");
  EXPECT_EQ(Addresses(placement.Choose(stores, 3)), (std::set<std::string>{"a:1", "b:1", "c:1"}));
  placement.ClearSuspect("d:1");
  EXPECT_FALSE(placement.IsSuspect("d:1"));
  auto chosen = placement.Choose(stores, 3);
  ASSERT_EQ(chosen.size(), 3u);
  EXPECT_EQ(chosen[0].address, "d:1");
  EXPECT_EQ(Addresses(chosen), (std::set<std::string>{"b:1", "c:1", "d:1"}));
}

class DoCreatePlacementTest : public ::testing::Test {
 protected:
  DoCreatePlacementTest()
      : ensemble_(zk::NewMemoryEnsemble()),
        zk_(zk::NewMemoryZooKeeper(ensemble_)),
        ns_(Settings(), &clock_, zk_.get(), &stores_, "ns1:9000", "host1") {
    (void)zk_->EnsurePath(kFileStoresPath);
  }
  static NameServerSettings Settings() {
    NameServerSettings s;
    s.heartbeat_interval = seconds(15);
    s.startup_wait = seconds(30);
    return s;
  }
  void StartServing(const std::vector<std::string>& filestores = {"a:1", "b:1", "c:1", "d:1"}) {
    ns_.election().Step();
    ASSERT_TRUE(ns_.election().is_leader());
    for (const std::string& a : filestores) {
      (void)zk_->Create(std::string(kFileStoresPath) + "/" + a, "", false);
      v1::RegisterRequest first;
      first.set_filestore(a);
      first.set_bytes_available(1000);
      absl::StatusOr<FileStoreId> id = ns_.RegisterBegin(first);
      ASSERT_TRUE(id.ok()) << id.status();
      ns_.RegisterEnd(*id);
    }
    ns_.Housekeep();
    ASSERT_TRUE(ns_.serving());
  }
  absl::StatusOr<std::set<std::string>> Create(const std::string& path,
                                               const std::vector<std::string>& exclude = {}) {
    v1::DoCreateRequest req;
    req.set_path(path);
    for (const std::string& e : exclude) req.add_exclude(e);
    v1::DoCreateReply reply;
    CHAINFS_RETURN_IF_ERROR(ns_.DoCreate(req, &reply));
    return std::set<std::string>(reply.chain().begin(), reply.chain().end());
  }
  void HeartBeat(const std::string& address) {
    v1::HeartBeatRequest req;
    req.set_filestore(address);
    req.set_bytes_available(1000);
    v1::HeartBeatReply reply;
    ASSERT_TRUE(ns_.HeartBeat(req, &reply).ok());
  }

  FakeClock clock_;
  std::shared_ptr<zk::MemoryEnsemble> ensemble_;
  std::unique_ptr<zk::ZooKeeper> zk_;
  MemoryFileStores stores_;  // doCreate does not talk to FileStores
  NameServer ns_;
};

TEST_F(DoCreatePlacementTest, ExcludedFileStore_IsSkippedByEveryCreateUntilItsNextHeartbeat) {
  StartServing();
  auto first = Create("/retry", {"c:1"});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, (std::set<std::string>{"a:1", "b:1", "d:1"}));
  // Other clients' creates, which exclude nothing, avoid it too.
  for (int i = 0; i < 30; ++i) {
    auto chain = Create("/other" + std::to_string(i));
    ASSERT_TRUE(chain.ok()) << chain.status();
    EXPECT_FALSE(chain->contains("c:1")) << i;
  }
  HeartBeat("c:1");
  bool used_again = false;
  for (int i = 0; i < 30 && !used_again; ++i) {
    auto chain = Create("/later" + std::to_string(i));
    ASSERT_TRUE(chain.ok()) << chain.status();
    used_again = chain->contains("c:1");
  }
  EXPECT_TRUE(used_again);
}

TEST_F(DoCreatePlacementTest, OnABase_ItsHoldersComeFirst_OtherwiseByFreeSpace) {
  StartServing();
  v1::DoCreateRequest req;
  req.set_path("/f");
  v1::DoCreateReply created;
  ASSERT_TRUE(ns_.DoCreate(req, &created).ok());
  v1::AddFileOrTombstoneRequest add;  // the latest version of /f is on b:1 and d:1 only
  add.set_filestore("b:1");
  add.add_also_on("d:1");
  add.mutable_file()->set_name("/f");
  add.mutable_file()->set_version(created.version());
  v1::AddFileOrTombstoneReply added;
  ASSERT_TRUE(ns_.AddFileOrTombstone(add, &added).ok());
  for (int i = 0; i < 10; ++i) {
    req.set_base_version(created.version());
    v1::DoCreateReply reply;
    ASSERT_TRUE(ns_.DoCreate(req, &reply).ok());
    ASSERT_EQ(reply.chain_size(), 3);
    EXPECT_EQ((std::set<std::string>{reply.chain(0), reply.chain(1)}),
              (std::set<std::string>{"b:1", "d:1"}));
  }
  req.set_base_version(-1);
  v1::DoCreateReply reply;
  EXPECT_TRUE(absl::IsInvalidArgument(ns_.DoCreate(req, &reply)));
}

TEST_F(DoCreatePlacementTest, SuspectsAreUsedWhenTooFewOthersRemain) {
  StartServing({"a:1", "b:1", "c:1"});
  ASSERT_TRUE(Create("/x", {"a:1"}).ok());
  // a:1 is suspect, and only two others are alive: a full chain takes it.
  auto chain = Create("/y");
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(*chain, (std::set<std::string>{"a:1", "b:1", "c:1"}));
}

TEST_F(DoCreatePlacementTest, EveryLiveFileStoreExcluded_IsRefusedAtOnce) {
  StartServing({"a:1", "b:1"});
  auto chain = Create("/x", {"a:1", "b:1"});
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kFailedPrecondition) << chain.status();
}

TEST_F(DoCreatePlacementTest, BadExcludeAddressesAreInvalidArgument) {
  StartServing();
  EXPECT_TRUE(absl::IsInvalidArgument(Create("/x", {"no-port"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Create("/x", std::vector<std::string>(65, "a:1")).status()));
}

TEST_F(DoCreatePlacementTest, NegativeExpectedSizeIsInvalidArgument) {
  StartServing();
  v1::DoCreateRequest req;
  req.set_path("/f");
  req.set_expected_size(-1);
  v1::DoCreateReply reply;
  EXPECT_TRUE(absl::IsInvalidArgument(ns_.DoCreate(req, &reply)));
}

TEST_F(DoCreatePlacementTest, CreateBeneathAFileOrSymlink_IsNotADirectory) {
  StartServing();
  for (auto [name, kind] : std::vector<std::pair<std::string, v1::Kind>>{
           {"/file", v1::KIND_FILE}, {"/link", v1::KIND_SYMLINK}, {"/dir", v1::KIND_DIRECTORY}}) {
    v1::DoCreateRequest req;
    req.set_path(name);
    v1::DoCreateReply created;
    ASSERT_TRUE(ns_.DoCreate(req, &created).ok());
    v1::AddFileOrTombstoneRequest add;
    add.set_filestore("a:1");
    add.mutable_file()->set_name(name);
    add.mutable_file()->set_version(created.version());
    add.mutable_file()->set_kind(kind);
    v1::AddFileOrTombstoneReply reply;
    ASSERT_TRUE(ns_.AddFileOrTombstone(add, &reply).ok());
  }
  for (std::string path : {"/file/child", "/file/a/b", "/link/child"}) {
    auto st = Create(path).status();
    EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << path << ": " << st;
    EXPECT_EQ(ErrorCodeOf(st), v1::ERROR_NOT_A_DIRECTORY) << st;
  }
  EXPECT_TRUE(Create("/dir/child").ok());
  EXPECT_TRUE(Create("/implied/child").ok());
}

}  // namespace
}  // namespace chainfs::nameserver
