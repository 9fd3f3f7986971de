// The in-memory NameServer twin behaves as the real one does for what its users observe.
#include <gtest/gtest.h>

#include "common/client/memory_nameserver.h"
#include "tests/unit/client_fixtures.h"

namespace chainfs {
namespace {

using testing::kTwinStores;

v1::FileInfo File(const std::string& name, int64_t version, v1::Kind kind = v1::KIND_FILE) {
  v1::FileInfo f;
  f.set_name(name);
  f.set_version(version);
  f.set_kind(kind);
  f.set_size(kind == v1::KIND_FILE ? 10 : 0);
  f.mutable_attributes()->set_mode(0644);
  return f;
}

class MemoryNameServerTest : public ::testing::Test {
 protected:
  absl::StatusOr<v1::DoCreateReply> Create(const std::string& path, bool exclusive = false,
                                           std::vector<std::string> exclude = {}) {
    v1::DoCreateRequest req;
    req.set_path(path);
    req.set_exclusive(exclusive);
    for (auto& e : exclude) req.add_exclude(e);
    return ns_.DoCreate(req);
  }
  // doCreate, then every chain member reports the new version.
  int64_t Store(const std::string& path, v1::Kind kind = v1::KIND_FILE) {
    auto created = Create(path);
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return 0;
    for (const std::string& member : created->chain()) {
      v1::AddFileOrTombstoneRequest report;
      report.set_filestore(member);
      *report.mutable_file() = File(path, created->version(), kind);
      EXPECT_TRUE(ns_.AddFileOrTombstone(report).ok());
    }
    return created->version();
  }
  absl::StatusOr<v1::FileInfo> Stat(const std::string& path) { return ns_.StatPath(path); }
  absl::Status Rename(const std::string& from, const std::string& to, bool no_replace = false) {
    v1::RenameRequest req;
    req.set_from(from);
    req.set_to(to);
    req.set_no_replace(no_replace);
    return ns_.Rename(req).status();
  }
  std::vector<std::string> List(const std::string& glob) {
    v1::ListRequest req;
    req.set_glob(glob);
    auto reply = ns_.List(req);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return {reply->paths().begin(), reply->paths().end()};
  }

  MemoryNameServer ns_{kTwinStores, 3};
};

TEST_F(MemoryNameServerTest, DoCreateHandsIncreasingVersionsAndAChainOfThree) {
  auto first = Create("/f");
  auto second = Create("/f");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_GT(second->version(), first->version());
  EXPECT_EQ(std::vector<std::string>(first->chain().begin(), first->chain().end()),
            (std::vector<std::string>{"a:1", "b:1", "c:1"}));
}

TEST_F(MemoryNameServerTest, ACreateIsVisibleOnlyOnceAFileStoreReportsIt) {
  auto created = Create("/f");
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(Stat("/f").status().code(), absl::StatusCode::kNotFound);
  v1::AddFileOrTombstoneRequest report;
  report.set_filestore("b:1");
  *report.mutable_file() = File("/f", created->version());
  ASSERT_TRUE(ns_.AddFileOrTombstone(report).ok());
  v1::DoReadRequest read;
  read.set_path("/f");
  auto reply = ns_.DoRead(read);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->file().version(), created->version());
  EXPECT_EQ(std::vector<std::string>(reply->holders().begin(), reply->holders().end()),
            std::vector<std::string>{"b:1"});
}

TEST_F(MemoryNameServerTest, HeadReport_NamesLiveMembersAsHolders_UnknownOrDroppedOnesAreNot) {
  ns_.DropFileStore("d:1");
  auto created = Create("/f");
  ASSERT_TRUE(created.ok());
  v1::AddFileOrTombstoneRequest report;
  report.set_filestore("a:1");
  *report.mutable_file() = File("/f", created->version());
  for (const char* member : {"b:1", "d:1", "zz:9"}) report.add_also_on(member);
  auto reply = ns_.AddFileOrTombstone(report);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_FALSE(reply->reregister());
  EXPECT_EQ(ns_.Holders("/f"), (std::vector<std::string>{"a:1", "b:1"}));
  report.add_also_on("not an address");
  EXPECT_EQ(ns_.AddFileOrTombstone(report).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(MemoryNameServerTest, ExcludedFileStoresAreLeftOutUntilTheyHeartBeat) {
  auto created = Create("/f", false, {"a:1"});
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->chain(0), "b:1");
  auto other = Create("/g");  // someone else's create: a:1 is suspect
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->chain(0), "b:1");
  v1::HeartBeatRequest hb;
  hb.set_filestore("a:1");
  ASSERT_TRUE(ns_.HeartBeat(hb).ok());
  EXPECT_EQ(Create("/h")->chain(0), "a:1");
}

TEST_F(MemoryNameServerTest, EveryFileStoreExcluded_IsAFailedPrecondition) {
  auto created = Create("/f", false, kTwinStores);
  EXPECT_EQ(created.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(MemoryNameServerTest, ExclusiveCreateOfALivePathIsRefused) {
  Store("/f");
  EXPECT_EQ(Create("/f", true).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(Create("/f", false).ok());
}

TEST_F(MemoryNameServerTest, NothingIsCreatedBeneathAFile) {
  Store("/f");
  auto created = Create("/f/g");
  EXPECT_EQ(created.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(created.status().message().find("not a directory"), std::string::npos);
}

TEST_F(MemoryNameServerTest, ADirectoryIsImpliedByItsDescendants) {
  Store("/d/e/f");
  auto d = Stat("/d");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind(), v1::KIND_DIRECTORY);
  EXPECT_EQ(d->version(), 0);
  EXPECT_EQ(Stat("/").value().kind(), v1::KIND_DIRECTORY);
  EXPECT_EQ(Stat("/x").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(MemoryNameServerTest, ListDirectoryGivesDirectChildrenInPages) {
  Store("/d/a");
  Store("/d/b/x");
  Store("/d/c", v1::KIND_DIRECTORY);
  Store("/d-other");
  v1::ListDirectoryRequest req;
  req.set_path("/d");
  req.set_limit(2);
  auto page = ns_.ListDirectory(req);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->entries_size(), 2);
  EXPECT_EQ(page->entries(0).name(), "a");
  EXPECT_EQ(page->entries(1).name(), "b");
  EXPECT_EQ(page->entries(1).kind(), v1::KIND_DIRECTORY);
  EXPECT_TRUE(page->more());
  req.set_start_after("b");
  page = ns_.ListDirectory(req);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries_size(), 1);
  EXPECT_EQ(page->entries(0).name(), "c");
  EXPECT_FALSE(page->more());
}

TEST_F(MemoryNameServerTest, GlobsDoNotCrossSlashes) {
  Store("/a/x1");
  Store("/a/y2");
  Store("/a/b/x3");
  EXPECT_EQ(List("/a/*"), (std::vector<std::string>{"/a/x1", "/a/y2"}));
  EXPECT_EQ(List("/a/[!x]?"), (std::vector<std::string>{"/a/y2"}));
  EXPECT_EQ(List("/*/*/x?"), (std::vector<std::string>{"/a/b/x3"}));
}

TEST_F(MemoryNameServerTest, DeleteTombstonesAndRefusesANonEmptyDirectory) {
  Store("/d", v1::KIND_DIRECTORY);
  int64_t v = Store("/d/f");
  v1::DoDeleteRequest req;
  req.set_path("/d");
  auto refused = ns_.DoDelete(req);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("not empty"), std::string::npos);
  req.set_path("/d/f");
  auto deleted = ns_.DoDelete(req);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_GT(deleted->version(), v);
  EXPECT_EQ(Stat("/d/f").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(ns_.Latest("/d/f")->tombstone());
}

TEST_F(MemoryNameServerTest, RenameMovesADirectoryWithEverythingBeneath) {
  Store("/d", v1::KIND_DIRECTORY);
  Store("/d/f");
  ASSERT_TRUE(Rename("/d", "/e").ok());
  EXPECT_EQ(Stat("/d").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Stat("/e").value().kind(), v1::KIND_DIRECTORY);
  EXPECT_EQ(Stat("/e/f").value().size(), 10);
  EXPECT_EQ(ns_.Holders("/e/f").size(), 3u);
}

TEST_F(MemoryNameServerTest, RenameFollowsTheDirectoryRules) {
  Store("/f");
  Store("/g");
  Store("/d", v1::KIND_DIRECTORY);
  Store("/full/x");
  EXPECT_EQ(Rename("/f", "/g", true).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(Rename("/f", "/d").message().find("is a directory"), std::string::npos);
  EXPECT_NE(Rename("/d", "/f").message().find("not a directory"), std::string::npos);
  EXPECT_NE(Rename("/d", "/full").message().find("not empty"), std::string::npos);
  EXPECT_NE(Rename("/f", "/full").message().find("is a directory"), std::string::npos);
  EXPECT_EQ(Rename("/d", "/d/x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Rename("/missing", "/x").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(Rename("/f", "/g").ok());  // a file replaces a file
  EXPECT_EQ(Stat("/f").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(MemoryNameServerTest, SetAttributesMakesANewVersionWithTheChosenFields) {
  int64_t v = Store("/f");
  v1::SetAttributesRequest req;
  req.set_path("/f");
  req.mutable_attributes()->set_mode(0600);
  req.mutable_attributes()->set_uid(42);
  req.set_set_mode(true);
  auto reply = ns_.SetAttributes(req);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_GT(reply->file().version(), v);
  auto f = Stat("/f");
  EXPECT_EQ(f->attributes().mode(), 0600u);
  EXPECT_EQ(f->attributes().uid(), 0u);  // not chosen
  EXPECT_EQ(f->size(), 10);
}

TEST_F(MemoryNameServerTest, ADroppedHolderLetsTheOlderCopyBecomeTheLatestAgain) {
  int64_t old_version = Store("/f");
  ns_.Put(File("/f", old_version + 100), {"d:1"});
  EXPECT_EQ(Stat("/f")->version(), old_version + 100);
  ns_.DropFileStore("d:1");
  EXPECT_EQ(Stat("/f")->version(), old_version);
  EXPECT_EQ(ns_.Holders("/f").size(), 3u);
}

TEST_F(MemoryNameServerTest, ABadReplicaReportRemovesThatHolder) {
  int64_t v = Store("/f");
  v1::ReportBadReplicaRequest req;
  req.set_filestore("a:1");
  req.mutable_file()->set_name("/f");
  req.mutable_file()->set_version(v);
  ASSERT_TRUE(ns_.ReportBadReplica(req).ok());
  EXPECT_EQ(ns_.Holders("/f"), (std::vector<std::string>{"b:1", "c:1"}));
}

TEST_F(MemoryNameServerTest, RegistrationReplacesWhatAFileStoreHolds) {
  Store("/f");
  ASSERT_TRUE(ns_.RegisterFilesAndTombstones("a:1", {File("/g", 50)}, 1, 2).ok());
  EXPECT_EQ(ns_.Holders("/f"), (std::vector<std::string>{"b:1", "c:1"}));
  EXPECT_EQ(ns_.Holders("/g"), std::vector<std::string>{"a:1"});
  EXPECT_GT(Create("/h")->version(), 50);  // never hands out a version already held
}

TEST_F(MemoryNameServerTest, FailNextFailsThatManyCallsAndCountsThem) {
  ns_.FailNext("DoCreate", absl::UnavailableError("injected"), 2);
  EXPECT_EQ(Create("/f").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Create("/f").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(Create("/f").ok());
  EXPECT_EQ(ns_.calls("DoCreate"), 3);
  EXPECT_EQ(ns_.calls("Rename"), 0);
}

TEST_F(MemoryNameServerTest, HookSeesEveryCallByName) {
  std::vector<std::string> seen;
  ns_.SetHook([&](std::string_view method) { seen.emplace_back(method); });
  Store("/f");
  EXPECT_EQ(seen, (std::vector<std::string>{"DoCreate", "AddFileOrTombstone", "AddFileOrTombstone",
                                            "AddFileOrTombstone"}));
}

TEST_F(MemoryNameServerTest, StatFsSumsTheLiveFileStores) {
  Store("/f");
  ns_.SetSpace("a:1", 100, 900);
  ns_.DropFileStore("d:1");
  auto fs = ns_.StatFs(v1::StatFsRequest());
  ASSERT_TRUE(fs.ok());
  EXPECT_EQ(fs->bytes_used(), 100);
  EXPECT_EQ(fs->bytes_available(), 900 + 2 * MemoryNameServer::kDefaultBytesAvailable);
  EXPECT_EQ(fs->files(), 1);
  EXPECT_EQ(fs->replication(), 3);
}

}  // namespace
}  // namespace chainfs
