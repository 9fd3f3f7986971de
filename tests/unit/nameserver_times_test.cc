// POSIX times and directory link counts in the NameServer: the Namespace's counts and
// times, DirTimes' pacing of directory-time clones, and the NameServer's rules for parent
// directories, renames and set-attributes, driven by a FakeClock and metadata-only
// FileStores.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/zk/zookeeper.h"
#include "servers/nameserver/dir_times.h"
#include "servers/nameserver/nameserver.h"
#include "servers/nameserver/namespace.h"

namespace chainfs::nameserver {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

v1::FileInfo Entry(const std::string& name, int64_t version, v1::Kind kind,
                   bool tombstone = false) {
  v1::FileInfo f;
  f.set_name(name);
  f.set_version(version);
  f.set_kind(kind);
  f.set_tombstone(tombstone);
  f.mutable_attributes()->set_mode(0755);
  f.mutable_attributes()->set_mtime_ns(1000);
  return f;
}

uint32_t Links(const Namespace& ns, const std::string& dir) {
  absl::StatusOr<v1::FileInfo> info = ns.Stat(dir);
  EXPECT_TRUE(info.ok()) << info.status();
  return info.ok() ? info->nlink() : 0;
}

class NamespaceTimesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    id_ = ns_.BeginRegistration("a:1", 0, 1000, clock_.Now());
    ns_.EndRegistration(id_);
  }
  void Put(const std::string& name, v1::Kind kind, bool tombstone = false) {
    ns_.Apply(id_, Entry(name, ++version_, kind, tombstone));
  }
  FakeClock clock_;
  Namespace ns_;
  FileStoreId id_ = 0;
  int64_t version_ = 0;
};

TEST_F(NamespaceTimesTest, DirectoryLinks_AreTwoPlusSubdirectories_EntriesAndImpliedOnes) {
  Put("/d", v1::KIND_DIRECTORY);
  EXPECT_EQ(Links(ns_, "/d"), 2u);
  Put("/d/a", v1::KIND_DIRECTORY);
  Put("/d/b", v1::KIND_DIRECTORY);
  Put("/d/f", v1::KIND_FILE);
  EXPECT_EQ(Links(ns_, "/d"), 4u);
  Put("/d/x/y", v1::KIND_FILE);  // /d/x is implied
  EXPECT_EQ(Links(ns_, "/d"), 5u);
  EXPECT_EQ(Links(ns_, "/d/x"), 2u);
  Put("/d/x", v1::KIND_DIRECTORY);  // now an entry too: counted once
  EXPECT_EQ(Links(ns_, "/d"), 5u);
  Put("/d/a", v1::KIND_DIRECTORY, /*tombstone=*/true);
  EXPECT_EQ(Links(ns_, "/d"), 4u);
  Put("/d/x/y", v1::KIND_FILE, /*tombstone=*/true);
  EXPECT_EQ(Links(ns_, "/d"), 4u);  // /d/x stays as an entry
  Put("/d/x", v1::KIND_DIRECTORY, /*tombstone=*/true);
  EXPECT_EQ(Links(ns_, "/d"), 3u);
  EXPECT_EQ(Links(ns_, "/"), 3u);  // the root holds /d
}

TEST_F(NamespaceTimesTest, DirectoryLinks_FollowImpliedDirectoriesThatComeAndGo) {
  Put("/p/q/r/file", v1::KIND_FILE);
  EXPECT_EQ(Links(ns_, "/"), 3u);
  EXPECT_EQ(Links(ns_, "/p"), 3u);
  EXPECT_EQ(Links(ns_, "/p/q"), 3u);
  Put("/p/q/r/file", v1::KIND_FILE, /*tombstone=*/true);
  EXPECT_EQ(Links(ns_, "/"), 2u);
}

TEST_F(NamespaceTimesTest, DirectoryLinks_OfAListedDirectory_AreCountedToo) {
  Put("/d", v1::KIND_DIRECTORY);
  Put("/d/s", v1::KIND_DIRECTORY);
  Put("/d/s/t", v1::KIND_DIRECTORY);
  Put("/d/i/j", v1::KIND_FILE);
  v1::ListDirectoryReply reply;
  ns_.ListDirectory("/d", "", 10, &reply);
  std::map<std::string, uint32_t> links;
  for (const v1::FileInfo& e : reply.entries()) links[e.name()] = e.nlink();
  EXPECT_EQ(links, (std::map<std::string, uint32_t>{{"i", 2}, {"s", 3}}));
}

TEST_F(NamespaceTimesTest, DirectoryLinks_OfAHundredThousandChildren_NeedNoScan) {
  Put("/big", v1::KIND_DIRECTORY);
  for (int i = 0; i < 100'000; ++i) {
    Put("/big/" + std::to_string(i), i % 2 ? v1::KIND_FILE : v1::KIND_DIRECTORY);
  }
  EXPECT_EQ(ns_.DirectoryLinks("/big"), 2u + 50'000u);
}

TEST_F(NamespaceTimesTest, ThreeTimes_SurviveTheSoftState) {
  v1::FileInfo f = Entry("/f", ++version_, v1::KIND_FILE);
  f.mutable_attributes()->set_atime_ns(2000);
  f.mutable_attributes()->set_ctime_ns(3000);
  ns_.Apply(id_, f);
  absl::StatusOr<v1::FileInfo> info = ns_.Stat("/f");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->attributes().mtime_ns(), 1000);
  EXPECT_EQ(info->attributes().atime_ns(), 2000);
  EXPECT_EQ(info->attributes().ctime_ns(), 3000);
}

TEST_F(NamespaceTimesTest, TouchDirectory_MovesMtimeAndCtime_AndSaysWhetherThereIsAnEntry) {
  Put("/d", v1::KIND_DIRECTORY);
  Put("/i/f", v1::KIND_FILE);
  EXPECT_TRUE(ns_.TouchDirectory("/d", 5000));
  EXPECT_FALSE(ns_.TouchDirectory("/i", 5000));  // implied: nothing to persist
  EXPECT_FALSE(ns_.TouchDirectory("/", 6000));
  v1::Attributes d = ns_.Stat("/d")->attributes();
  EXPECT_EQ(d.mtime_ns(), 5000);
  EXPECT_EQ(d.ctime_ns(), 5000);
  EXPECT_EQ(d.atime_ns(), 1000);  // atime is no part of it
  EXPECT_EQ(ns_.Stat("/")->attributes().mtime_ns(), 6000);
}

TEST_F(NamespaceTimesTest, ACloneOfADirectoryThatRacedATouch_DoesNotTakeItsTimesBack) {
  Put("/d", v1::KIND_DIRECTORY);
  ASSERT_TRUE(ns_.TouchDirectory("/d", 5000));
  v1::FileInfo snapshot = Entry("/d", ++version_, v1::KIND_DIRECTORY);  // times of before
  snapshot.mutable_attributes()->set_mode(0700);
  ns_.Apply(id_, snapshot);
  v1::Attributes d = ns_.Stat("/d")->attributes();
  EXPECT_EQ(d.mode(), 0700u);
  EXPECT_EQ(d.mtime_ns(), 5000);
  EXPECT_EQ(d.ctime_ns(), 5000);
}

// FileStores that keep metadata only (what the NameServer's Delete and Clone calls need).
class MetadataStores final : public FileStoreApi {
 public:
  absl::StatusOr<v1::CreateReply> Create(const v1::FileInfo&, const std::vector<std::string>&,
                                         const ContentSource&, int64_t, std::string_view) override {
    return absl::UnimplementedError("metadata only");
  }
  absl::StatusOr<v1::CreateReply> CreateFromString(const v1::FileInfo&,
                                                   const std::vector<std::string>&,
                                                   std::string_view, bool,
                                                   std::string_view) override {
    return absl::UnimplementedError("metadata only");
  }
  absl::StatusOr<v1::CreateReply> CreateFromFd(const v1::FileInfo&, const std::vector<std::string>&,
                                               int, std::string_view) override {
    return absl::UnimplementedError("metadata only");
  }
  absl::StatusOr<v1::CopyFileReply> CopyFile(const std::string&,
                                             const v1::CopyFileRequest&) override {
    return absl::UnimplementedError("metadata only");
  }
  absl::StatusOr<v1::BumpVersionReply> BumpVersion(const std::string&,
                                                   const v1::BumpVersionRequest&) override {
    return absl::UnimplementedError("metadata only");
  }
  absl::StatusOr<std::unique_ptr<Reader>> OpenReader(const std::string&, int64_t,
                                                     const std::vector<std::string>&,
                                                     const grpc::ServerContext*) override {
    return absl::UnimplementedError("metadata only");
  }
  absl::StatusOr<std::string> ReadAll(const std::string&, int64_t,
                                      const std::vector<std::string>&) override {
    return absl::UnimplementedError("metadata only");
  }
  absl::StatusOr<std::vector<v1::FileInfo>> ListFilesAndTombstones(
      const std::string& address) override {
    std::lock_guard lock(mu_);
    std::vector<v1::FileInfo> out;
    for (const auto& [name, f] : stores_[address]) out.push_back(f);
    return out;
  }
  absl::Status Delete(const std::string& address, const std::string& name,
                      int64_t version) override {
    std::lock_guard lock(mu_);
    v1::FileInfo f;
    f.set_name(name);
    f.set_version(version);
    f.set_tombstone(true);
    stores_[address][name] = f;
    return absl::OkStatus();
  }
  absl::StatusOr<v1::CloneReply> Clone(const std::string& address,
                                       const v1::CloneRequest& req) override {
    std::lock_guard lock(mu_);
    auto it = stores_[address].find(req.source().name());
    if (it == stores_[address].end() || it->second.version() != req.source().version()) {
      return absl::NotFoundError("no such source");
    }
    v1::FileInfo f = it->second;
    f.set_name(req.target().name());
    f.set_version(req.target().version());
    *f.mutable_attributes() = req.target().attributes();
    stores_[address][f.name()] = f;
    ++clones_[f.name()];
    v1::CloneReply reply;
    *reply.mutable_file() = f;
    return reply;
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
  void Put(const std::string& address, const v1::FileInfo& f) {
    std::lock_guard lock(mu_);
    stores_[address][f.name()] = f;
  }
  // Clones made with `name` as their target, on any FileStore.
  int clones(const std::string& name) {
    std::lock_guard lock(mu_);
    return clones_[name];
  }
  v1::FileInfo Stored(const std::string& address, const std::string& name) {
    std::lock_guard lock(mu_);
    return stores_[address][name];
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::map<std::string, v1::FileInfo>> stores_;
  std::map<std::string, int> clones_;
};

const std::vector<std::string> kHolders = {"a:1", "b:1", "c:1"};

class NameServerTimesTest : public ::testing::Test {
 protected:
  NameServerTimesTest()
      : ensemble_(zk::NewMemoryEnsemble()),
        zk_(zk::NewMemoryZooKeeper(ensemble_)),
        ns_(Settings(), &clock_, zk_.get(), &stores_, "ns1:9000", "host1") {}
  static NameServerSettings Settings() {
    NameServerSettings s;
    s.startup_wait = seconds(0);
    s.dir_times_interval = seconds(1);
    return s;
  }
  void SetUp() override {
    ns_.election().Step();
    ASSERT_TRUE(ns_.election().is_leader());
    for (const std::string& a : kHolders) {
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
  // doCreate, then the chain's report, as a mount's mkdir or close does.
  void Create(const std::string& path, v1::Kind kind) {
    v1::DoCreateRequest req;
    req.set_path(path);
    v1::DoCreateReply created;
    ASSERT_TRUE(ns_.DoCreate(req, &created).ok());
    v1::FileInfo f = Entry(path, created.version(), kind);
    for (const std::string& a : kHolders) stores_.Put(a, f);
    v1::AddFileOrTombstoneRequest report;
    report.set_filestore(kHolders[0]);
    *report.mutable_file() = f;
    for (size_t i = 1; i < kHolders.size(); ++i) report.add_also_on(kHolders[i]);
    v1::AddFileOrTombstoneReply reply;
    ASSERT_TRUE(ns_.AddFileOrTombstone(report, &reply).ok());
  }
  v1::Attributes Attributes(const std::string& path) {
    v1::StatRequest req;
    req.set_path(path);
    v1::StatReply reply;
    absl::Status st = ns_.Stat(req, &reply);
    EXPECT_TRUE(st.ok()) << st;
    return reply.file().attributes();
  }
  absl::StatusOr<v1::FileInfo> SetAttributes(const v1::SetAttributesRequest& req) {
    v1::SetAttributesReply reply;
    CHAINFS_RETURN_IF_ERROR(ns_.SetAttributes(req, &reply));
    return reply.file();
  }

  FakeClock clock_;
  std::shared_ptr<zk::MemoryEnsemble> ensemble_;
  std::unique_ptr<zk::ZooKeeper> zk_;
  MetadataStores stores_;
  NameServer ns_;
};

TEST_F(NameServerTimesTest, ACreatedEntry_MovesItsParentsTimesAtOnce_AndOneCloneStoresThemLater) {
  Create("/d", v1::KIND_DIRECTORY);
  clock_.Advance(milliseconds(100));
  const int64_t first = clock_.WallNanos();
  Create("/d/f", v1::KIND_FILE);
  EXPECT_EQ(Attributes("/d").mtime_ns(), first);
  EXPECT_EQ(Attributes("/d").ctime_ns(), first);
  clock_.Advance(milliseconds(100));
  const int64_t second = clock_.WallNanos();
  Create("/d/g", v1::KIND_DIRECTORY);
  EXPECT_EQ(Attributes("/d").mtime_ns(), second);
  EXPECT_EQ(stores_.clones("/d"), 0);  // nothing written yet
  clock_.Advance(seconds(1));
  EXPECT_EQ(ns_.dir_times().Flush(), 1u);
  EXPECT_EQ(stores_.clones("/d"), 3);  // one new version, on each holder
  EXPECT_EQ(stores_.Stored("a:1", "/d").attributes().mtime_ns(), second);
  EXPECT_EQ(Attributes("/d").mtime_ns(), second);
  EXPECT_EQ(ns_.dir_times().Flush(), 0u);
}

TEST_F(NameServerTimesTest, DeleteAndRename_MoveTheParents_AndTheMovedEntrysCtimeOnly) {
  Create("/d", v1::KIND_DIRECTORY);
  Create("/e", v1::KIND_DIRECTORY);
  Create("/d/f", v1::KIND_FILE);
  Create("/d/g", v1::KIND_FILE);
  clock_.Advance(seconds(5));
  const int64_t now = clock_.WallNanos();
  v1::RenameRequest rename;
  rename.set_from("/d/f");
  rename.set_to("/e/f");
  v1::RenameReply renamed;
  ASSERT_TRUE(ns_.Rename(rename, &renamed).ok());
  EXPECT_EQ(Attributes("/d").mtime_ns(), now);
  EXPECT_EQ(Attributes("/e").mtime_ns(), now);
  EXPECT_EQ(Attributes("/e").ctime_ns(), now);
  EXPECT_EQ(Attributes("/e/f").ctime_ns(), now);
  EXPECT_EQ(Attributes("/e/f").mtime_ns(), 1000);  // content unchanged
  clock_.Advance(seconds(5));
  v1::DoDeleteRequest del;
  del.set_path("/d/g");
  v1::DoDeleteReply deleted;
  ASSERT_TRUE(ns_.DoDelete(del, &deleted).ok());
  EXPECT_EQ(Attributes("/d").mtime_ns(), clock_.WallNanos());
  EXPECT_EQ(Attributes("/e").mtime_ns(), now);
}

TEST_F(NameServerTimesTest, SetAttributes_StatusChangesMoveCtime_AtimeAloneDoesNot) {
  Create("/f", v1::KIND_FILE);
  clock_.Advance(seconds(5));
  v1::SetAttributesRequest atime;
  atime.set_path("/f");
  atime.mutable_attributes()->set_atime_ns(7777);
  atime.set_set_atime(true);
  ASSERT_TRUE(SetAttributes(atime).ok());
  EXPECT_EQ(Attributes("/f").atime_ns(), 7777);
  EXPECT_EQ(Attributes("/f").mtime_ns(), 1000);
  EXPECT_EQ(Attributes("/f").ctime_ns(), 1000);
  v1::SetAttributesRequest chmod;
  chmod.set_path("/f");
  chmod.mutable_attributes()->set_mode(0600);
  chmod.set_set_mode(true);
  ASSERT_TRUE(SetAttributes(chmod).ok());
  EXPECT_EQ(Attributes("/f").ctime_ns(), clock_.WallNanos());
  EXPECT_EQ(Attributes("/f").atime_ns(), 7777);
  v1::SetAttributesRequest mtime;
  mtime.set_path("/f");
  mtime.mutable_attributes()->set_mtime_ns(5);
  mtime.mutable_attributes()->set_ctime_ns(9999);
  mtime.set_set_mtime(true);
  mtime.set_set_ctime(true);
  ASSERT_TRUE(SetAttributes(mtime).ok());
  EXPECT_EQ(Attributes("/f").mtime_ns(), 5);
  EXPECT_EQ(Attributes("/f").ctime_ns(), 9999);
  EXPECT_EQ(Attributes("/f").atime_ns(), 7777);
}

TEST_F(NameServerTimesTest, AfterANewLeader_PersistedDirectoryTimesRemain_UnpersistedOnesFallBack) {
  Create("/d", v1::KIND_DIRECTORY);
  clock_.Advance(seconds(1));
  Create("/d/f", v1::KIND_FILE);
  const int64_t persisted = clock_.WallNanos();
  clock_.Advance(seconds(1));
  ns_.dir_times().Flush();
  Create("/d/g", v1::KIND_FILE);  // within the interval: not stored when the leader goes
  EXPECT_EQ(Attributes("/d").mtime_ns(), clock_.WallNanos());
  // What the next leader rebuilds its soft state from: the FileStores' copies.
  Namespace rebuilt;
  FileStoreId id = rebuilt.BeginRegistration("a:1", 0, 1000, clock_.Now());
  absl::StatusOr<std::vector<v1::FileInfo>> stored = stores_.ListFilesAndTombstones("a:1");
  ASSERT_TRUE(stored.ok());
  for (const v1::FileInfo& f : *stored) rebuilt.Apply(id, f);
  EXPECT_EQ(rebuilt.Stat("/d")->attributes().mtime_ns(), persisted);
  EXPECT_EQ(rebuilt.Stat("/d")->nlink(), 2u);
}

TEST(DirTimesTest, TouchesWithinTheInterval_ArePersistedOnce_AfterIt) {
  FakeClock clock;
  std::map<std::string, int> persisted;
  DirTimes times(&clock, seconds(1), [&](const std::string& dir) {
    ++persisted[dir];
    return absl::OkStatus();
  });
  times.Touched("/d");
  clock.Advance(milliseconds(600));
  times.Touched("/d");
  times.Touched("/e");
  EXPECT_EQ(times.Flush(), 0u);
  clock.Advance(milliseconds(400));
  EXPECT_EQ(times.Flush(), 1u);  // /d, first touched a second ago
  EXPECT_EQ(persisted, (std::map<std::string, int>{{"/d", 1}}));
  clock.Advance(milliseconds(600));
  EXPECT_EQ(times.Flush(), 1u);
  EXPECT_EQ(persisted, (std::map<std::string, int>{{"/d", 1}, {"/e", 1}}));
  EXPECT_EQ(times.pending(), 0u);
}

TEST(DirTimesTest, AFailedPersist_StaysPending_AndIsTriedAgain) {
  FakeClock clock;
  int attempts = 0;
  DirTimes times(&clock, seconds(1), [&](const std::string&) {
    return ++attempts == 1 ? absl::UnavailableError("holder down") : absl::OkStatus();
  });
  times.Touched("/d");
  clock.Advance(seconds(1));
  EXPECT_EQ(times.Flush(), 0u);
  EXPECT_EQ(times.pending(), 1u);
  EXPECT_EQ(times.Flush(), 1u);
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(times.pending(), 0u);
}

}  // namespace
}  // namespace chainfs::nameserver
