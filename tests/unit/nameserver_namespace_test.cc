#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "servers/nameserver/namespace.h"
#include "servers/nameserver/placement.h"

namespace chainfs::nameserver {
namespace {

v1::FileInfo File(const std::string& name, int64_t version, bool tombstone = false,
                  v1::Kind kind = v1::KIND_FILE) {
  v1::FileInfo f;
  f.set_name(name);
  f.set_version(version);
  f.set_tombstone(tombstone);
  f.set_kind(kind);
  f.set_size(tombstone ? 0 : 10);
  f.mutable_attributes()->set_mode(0644);
  return f;
}

class NamespaceTest : public ::testing::Test {
 protected:
  FileStoreId Register(const std::string& address) {
    FileStoreId id = ns_.BeginRegistration(address, 0, 1000, TimePoint{});
    ns_.EndRegistration(id);
    return id;
  }
  Namespace ns_;
};

TEST(PathLess, SubtreeFollowsItsDirectoryImmediately) {
  PathLess less;
  EXPECT_TRUE(less("/a/b", "/a/b/x"));
  EXPECT_TRUE(less("/a/b/x", "/a/b-c"));
  EXPECT_TRUE(less("/a/b/x", "/a/b.c"));
  EXPECT_FALSE(less("/a/b", "/a/b"));
}

TEST_F(NamespaceTest, NewerVersionReplacesHoldersAndOlderIsAStaleCopy) {
  FileStoreId a = Register("a:1"), b = Register("b:1"), c = Register("c:1");
  ns_.Apply(a, File("/f", 5));
  ns_.Apply(b, File("/f", 5));
  ns_.Apply(c, File("/f", 7));
  auto st = ns_.Get("/f");
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->info.version(), 7);
  EXPECT_EQ(st->holders, std::vector<std::string>{"c:1"});
  EXPECT_EQ(ns_.stale_copies(), 2u);
  // b catches up: a holder of the latest again.
  ns_.Apply(b, File("/f", 7));
  EXPECT_EQ(ns_.Get("/f")->holders.size(), 2u);
  EXPECT_EQ(ns_.stale_copies(), 1u);
  // An older report never becomes the latest.
  ns_.Apply(a, File("/f", 3));
  EXPECT_EQ(ns_.Get("/f")->info.version(), 7);
}

TEST_F(NamespaceTest, TombstoneHidesTheNameButKeepsItsVersion) {
  FileStoreId a = Register("a:1");
  ns_.Apply(a, File("/f", 5));
  ns_.Apply(a, File("/f", 6, /*tombstone=*/true));
  EXPECT_FALSE(ns_.GetLive("/f").ok());
  EXPECT_FALSE(ns_.Stat("/f").ok());
  EXPECT_EQ(ns_.Get("/f")->info.version(), 6);
  EXPECT_EQ(ns_.live_names(), 0u);
}

TEST_F(NamespaceTest, ImpliedDirectoriesAndRoot) {
  FileStoreId a = Register("a:1");
  ns_.Apply(a, File("/x/y/z", 1));
  auto x = ns_.Stat("/x");
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x->kind(), v1::KIND_DIRECTORY);
  EXPECT_EQ(x->version(), 0);
  EXPECT_TRUE(ns_.Stat("/x/y").ok());
  EXPECT_TRUE(ns_.Stat("/").ok());
  EXPECT_FALSE(ns_.Stat("/x/y/z/w").ok());
  ns_.Apply(a, File("/x/y/z", 2, true));
  EXPECT_FALSE(ns_.Stat("/x").ok());
  EXPECT_EQ(ns_.Stat("/")->kind(), v1::KIND_DIRECTORY);
}

TEST_F(NamespaceTest, DroppedFileStoreTakesItsReportsAlong) {
  FileStoreId a = Register("a:1"), b = Register("b:1");
  ns_.Apply(a, File("/only-a", 1));
  ns_.Apply(a, File("/both", 2));
  ns_.Apply(b, File("/both", 2));
  ns_.DropFileStore(a, TimePoint{});
  EXPECT_FALSE(ns_.Get("/only-a").has_value());
  EXPECT_EQ(ns_.Get("/both")->holders, std::vector<std::string>{"b:1"});
  EXPECT_EQ(ns_.live_filestores(), 1u);
  EXPECT_FALSE(ns_.Apply("a:1", File("/x", 3)));
}

TEST_F(NamespaceTest, DroppingTheLastHolderPromotesTheNewestStaleCopy) {
  FileStoreId a = Register("a:1"), b = Register("b:1"), c = Register("c:1");
  v1::FileInfo mid = File("/f", 5);
  mid.set_size(55);
  mid.mutable_attributes()->set_mode(0600);
  ns_.Apply(c, File("/f", 3));
  ns_.Apply(b, mid);
  ns_.Apply(a, File("/f", 7));
  ASSERT_EQ(ns_.Get("/f")->info.version(), 7);
  ns_.DropFileStore(a, TimePoint{});
  auto st = ns_.Get("/f");
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->info.version(), 5);
  EXPECT_EQ(st->info.size(), 55);
  EXPECT_EQ(st->info.attributes().mode(), 0600u);
  EXPECT_EQ(st->holders, std::vector<std::string>{"b:1"});
  EXPECT_EQ(ns_.stale_copies(), 1u);  // c's copy is still known
  EXPECT_EQ(ns_.live_names(), 1u);
  ns_.DropFileStore(b, TimePoint{});
  EXPECT_EQ(ns_.Get("/f")->info.version(), 3);
  ns_.DropFileStore(c, TimePoint{});
  EXPECT_FALSE(ns_.Get("/f").has_value());
  EXPECT_EQ(ns_.live_names(), 0u);
}

TEST_F(NamespaceTest, DroppedTombstoneHolderKeepsTheNameDeletedWhileOlderCopiesExist) {
  FileStoreId a = Register("a:1"), b = Register("b:1");
  ns_.Apply(b, File("/f", 5));
  ns_.Apply(a, File("/f", 9, /*tombstone=*/true));
  ns_.DropFileStore(a, TimePoint{});
  auto st = ns_.Get("/f");
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->info.tombstone());
  EXPECT_EQ(st->info.version(), 9);
  EXPECT_TRUE(st->holders.empty());
  EXPECT_FALSE(ns_.GetLive("/f").ok());
  // It needs re-writing (no source needed for a tombstone).
  EXPECT_EQ(ns_.CountUnderReplicated(3), 1u);
  auto tasks = ns_.UnderReplicated(3, 10);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_TRUE(tasks[0].sources.empty());
  ns_.DropFileStore(b, TimePoint{});
  EXPECT_FALSE(ns_.Get("/f").has_value());
}

TEST_F(NamespaceTest, BadReplicaOfTheLastHolderPromotesTheStaleCopies) {
  FileStoreId a = Register("a:1"), b = Register("b:1"), c = Register("c:1");
  ns_.Apply(b, File("/f", 5));
  ns_.Apply(c, File("/f", 5));
  ns_.Apply(a, File("/f", 8));
  ns_.RemoveHolder(a, "/f", 8);
  auto st = ns_.Get("/f");
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->info.version(), 5);
  EXPECT_EQ(st->holders.size(), 2u);
  // A bad stale copy is forgotten too.
  ns_.Apply(a, File("/g", 4));
  ns_.Apply(b, File("/g", 6));
  ns_.RemoveHolder(a, "/g", 4);
  EXPECT_EQ(ns_.stale_copies(), 0u);
}

TEST_F(NamespaceTest, DroppedFileStoresAreRememberedUntilTheyRegisterCompletely) {
  const TimePoint t0 = TimePoint{} + std::chrono::seconds(100);
  FileStoreId a = Register("a:1");
  Register("b:1");
  uint64_t drops = ns_.drops();
  EXPECT_TRUE(ns_.AllLiveRegistered());
  ns_.DropFileStore(a, t0);
  EXPECT_EQ(ns_.drops(), drops + 1);
  EXPECT_EQ(ns_.RecentlyDropped(t0 - std::chrono::seconds(1)), std::vector<std::string>{"a:1"});
  EXPECT_TRUE(ns_.RecentlyDropped(t0).empty());  // remembered for a while only
  FileStoreId again = ns_.BeginRegistration("a:1", 0, 0, t0);
  EXPECT_FALSE(ns_.AllLiveRegistered());
  EXPECT_EQ(ns_.RecentlyDropped(TimePoint{}).size(), 1u);
  ns_.AbortRegistration(again, t0);  // the stream broke
  EXPECT_EQ(ns_.drops(), drops + 2);
  EXPECT_FALSE(ns_.Find("a:1").has_value());
  again = ns_.BeginRegistration("a:1", 0, 0, t0);
  ns_.EndRegistration(again);
  EXPECT_TRUE(ns_.RecentlyDropped(TimePoint{}).empty());
  EXPECT_TRUE(ns_.AllLiveRegistered());
}

// A registered FileStore that registers again (a new leader heard its heartbeat before its
// registration) keeps its names visible while the new list streams in; only what the new
// list leaves out is forgotten at its end.
TEST_F(NamespaceTest, RegisteringAgainKeepsNamesVisibleAndForgetsOnlyWhatIsNotListed) {
  FileStoreId a = Register("a:1");
  ns_.Apply(a, File("/kept", 3));
  ns_.Apply(a, File("/gone", 4));
  uint64_t drops = ns_.drops();
  FileStoreId again = ns_.BeginRegistration("a:1", 0, 1000, TimePoint{});
  ASSERT_EQ(again, a);
  EXPECT_TRUE(ns_.GetLive("/kept").ok());
  EXPECT_TRUE(ns_.GetLive("/gone").ok());
  EXPECT_FALSE(ns_.AllLiveRegistered());
  ns_.Apply(a, File("/kept", 3));
  EXPECT_TRUE(ns_.GetLive("/gone").ok());
  ns_.EndRegistration(a);
  EXPECT_TRUE(ns_.GetLive("/kept").ok());
  EXPECT_FALSE(ns_.GetLive("/gone").ok());
  EXPECT_EQ(ns_.drops(), drops + 1);  // something went: a GC round under way starts over
  EXPECT_TRUE(ns_.AllLiveRegistered());
}

TEST_F(NamespaceTest, ListDirectoryShowsDirectChildrenWithImpliedDirectories) {
  FileStoreId a = Register("a:1");
  ns_.Apply(a, File("/d/b", 1));
  ns_.Apply(a, File("/d/b-c", 2));
  ns_.Apply(a, File("/d/b.x/deep/file", 3));
  ns_.Apply(a, File("/d/sub", 4, false, v1::KIND_DIRECTORY));
  ns_.Apply(a, File("/d/sub/f", 5));
  ns_.Apply(a, File("/d/gone", 6, true));
  ns_.Apply(a, File("/d/gonedir/f", 7, true));
  ns_.Apply(a, File("/e", 8));
  v1::ListDirectoryReply reply;
  ns_.ListDirectory("/d", "", 100, &reply);
  std::vector<std::string> names;
  for (const auto& e : reply.entries()) names.push_back(e.name());
  EXPECT_EQ(names, (std::vector<std::string>{"b", "b-c", "b.x", "sub"}));
  EXPECT_EQ(reply.entries(2).kind(), v1::KIND_DIRECTORY);
  EXPECT_EQ(reply.entries(2).version(), 0);
  EXPECT_EQ(reply.entries(3).version(), 4);
  EXPECT_FALSE(reply.more());

  v1::ListDirectoryReply root;
  ns_.ListDirectory("/", "", 100, &root);
  ASSERT_EQ(root.entries_size(), 2);
  EXPECT_EQ(root.entries(0).name(), "d");
  EXPECT_EQ(root.entries(1).name(), "e");
}

TEST_F(NamespaceTest, ListDirectoryOver100000NamesPagesThroughEveryChildOnce) {
  FileStoreId a = Register("a:1");
  constexpr int kNames = 100'000;
  for (int i = 0; i < kNames; ++i) {
    ns_.Apply(a, File("/big/f" + std::to_string(i), i + 1));
  }
  // Neighbours that must not show up or slow the listing down.
  ns_.Apply(a, File("/big/sub/x", 1));
  ns_.Apply(a, File("/bigger", 1));
  std::set<std::string> seen;
  std::string after;
  int pages = 0;
  while (true) {
    v1::ListDirectoryReply reply;
    ns_.ListDirectory("/big", after, 1000, &reply);
    ++pages;
    for (const auto& e : reply.entries()) EXPECT_TRUE(seen.insert(e.name()).second) << e.name();
    if (!reply.more()) break;
    after = reply.entries(reply.entries_size() - 1).name();
  }
  EXPECT_EQ(seen.size(), kNames + 1u);
  EXPECT_TRUE(seen.contains("sub"));
  EXPECT_FALSE(seen.contains("x"));
  EXPECT_EQ(pages, 101);
}

TEST_F(NamespaceTest, GlobListUsesLiveNamesOnly) {
  FileStoreId a = Register("a:1");
  ns_.Apply(a, File("/logs/a.txt", 1));
  ns_.Apply(a, File("/logs/b.txt", 2));
  ns_.Apply(a, File("/logs/c.log", 3));
  ns_.Apply(a, File("/logs/old/d.txt", 4));
  ns_.Apply(a, File("/logs/e.txt", 5, true));
  EXPECT_EQ(ns_.List("/logs/*.txt"), (std::vector<std::string>{"/logs/a.txt", "/logs/b.txt"}));
  EXPECT_EQ(ns_.List("/logs/*/*.txt"), (std::vector<std::string>{"/logs/old/d.txt"}));
}

TEST_F(NamespaceTest, UnderReplicatedCountsAgainstLiveFileStores) {
  FileStoreId a = Register("a:1");
  Register("b:1");
  ns_.Apply(a, File("/f", 1));
  EXPECT_EQ(ns_.CountUnderReplicated(3), 1u);  // 1 holder, 2 FileStores alive
  auto tasks = ns_.UnderReplicated(3, 10);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].sources, std::vector<std::string>{"a:1"});
}

TEST_F(NamespaceTest, ExpiryDropsSilentFileStores) {
  FileStoreId a = ns_.BeginRegistration("a:1", 0, 0, TimePoint{} + std::chrono::seconds(1));
  ns_.EndRegistration(a);
  FileStoreId b = ns_.BeginRegistration("b:1", 0, 0, TimePoint{} + std::chrono::seconds(5));
  ns_.EndRegistration(b);
  auto dropped = ns_.ExpireFileStores(TimePoint{} + std::chrono::seconds(3), TimePoint{});
  EXPECT_EQ(dropped, std::vector<std::string>{"a:1"});
  EXPECT_FALSE(ns_.HeartBeat("a:1", 0, 0, TimePoint{}));
  EXPECT_TRUE(ns_.HeartBeat("b:1", 0, 0, TimePoint{}));
}

TEST(Placement, ChoosesDistinctFileStoresWithTheMostFreeSpace) {
  std::vector<FileStoreInfo> fs;
  for (int i = 0; i < 6; ++i) {
    FileStoreInfo f;
    f.address = "fs" + std::to_string(i) + ":1";
    f.bytes_available = (i + 1) * 100;
    fs.push_back(f);
  }
  Placement placement(42);
  auto chain = placement.Choose(fs, 3);
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(chain[0].address, "fs5:1");
  EXPECT_EQ(chain[1].address, "fs4:1");
  EXPECT_EQ(chain[2].address, "fs3:1");
  auto excluded = placement.Choose(fs, 3, {"fs5:1", "fs3:1"});
  ASSERT_EQ(excluded.size(), 3u);
  EXPECT_EQ(excluded[0].address, "fs4:1");
  EXPECT_EQ(excluded[1].address, "fs2:1");
  // Too few FileStores: as many as there are, never one twice.
  EXPECT_EQ(placement.Choose({fs[0], fs[1]}, 3).size(), 2u);
  // A FileStore with too little room is skipped for a large file.
  auto big = placement.Choose(fs, 3, {}, 550);
  ASSERT_EQ(big.size(), 1u);
  EXPECT_EQ(big[0].address, "fs5:1");
}

TEST(Placement, TiesAreSpreadAcrossFileStores) {
  std::vector<FileStoreInfo> fs(5);
  for (int i = 0; i < 5; ++i) fs[i].address = "fs" + std::to_string(i) + ":1";
  Placement placement(7);
  std::set<std::string> heads;
  for (int i = 0; i < 50; ++i) {
    auto chain = placement.Choose(fs, 3);
    std::set<std::string> distinct;
    for (auto& c : chain) distinct.insert(c.address);
    EXPECT_EQ(distinct.size(), 3u);
    heads.insert(chain[0].address);
  }
  EXPECT_GT(heads.size(), 2u);
}

}  // namespace
}  // namespace chainfs::nameserver
