// Hard links in the NameServer (servers/nameserver/links.cc), driven by hand: a FakeClock,
// the memory ZooKeeper and FileStores that keep metadata only. Covers the link rules (same
// inode, nlink, writes and attributes through any name, unlink and rename semantics, hidden
// inode names) and the crash safety of link(): a link that fails part way (a FileStore
// refusing, the NameServer killed between steps) keeps the file's content reachable under
// its name, and the orphan sweep removes only inodes that no link names.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/inode_names.h"
#include "common/status.h"
#include "servers/nameserver/nameserver.h"

namespace chainfs::nameserver {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

// FileStores keeping what the NameServer's calls (Create of a link entry, Clone, Delete)
// leave, per address. `fail_creates` makes the next creates fail.
class LinkFileStores final : public FileStoreApi {
 public:
  absl::StatusOr<v1::CreateReply> Create(const v1::FileInfo&, const std::vector<std::string>&,
                                         const ContentSource&, int64_t, std::string_view) override {
    return absl::UnimplementedError("no streams here");
  }
  absl::StatusOr<v1::CreateReply> CreateFromString(const v1::FileInfo& file,
                                                   const std::vector<std::string>& chain,
                                                   std::string_view content, bool,
                                                   std::string_view) override {
    std::lock_guard lock(mu_);
    if (fail_creates > 0) {
      --fail_creates;
      return absl::UnavailableError("chain member down");
    }
    v1::CreateReply reply;
    for (const std::string& a : chain) {
      stores_[a][file.name()] = file;
      stores_[a][file.name()].set_size(static_cast<int64_t>(content.size()));
      reply.add_committed_on(a);
    }
    *reply.mutable_file() = file;
    return reply;
  }
  absl::StatusOr<v1::CreateReply> CreateFromFd(const v1::FileInfo&, const std::vector<std::string>&,
                                               int, std::string_view) override {
    return absl::UnimplementedError("no streams here");
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
  absl::Status Delete(const std::string& address, const std::string& name,
                      int64_t version) override {
    std::lock_guard lock(mu_);
    v1::FileInfo& f = stores_[address][name];
    f.set_name(name);
    f.set_version(version);
    f.set_tombstone(true);
    return absl::OkStatus();
  }
  std::vector<absl::Status> DeleteOnEach(const std::vector<std::string>& addresses,
                                         const std::string& name, int64_t version) override {
    std::vector<absl::Status> out;
    for (const std::string& a : addresses) out.push_back(Delete(a, name, version));
    return out;
  }
  absl::StatusOr<v1::CopyFileReply> CopyFile(const std::string&,
                                             const v1::CopyFileRequest&) override {
    return absl::UnimplementedError("no copies here");
  }
  absl::StatusOr<v1::BumpVersionReply> BumpVersion(const std::string&,
                                                   const v1::BumpVersionRequest&) override {
    return absl::UnimplementedError("no bumps here");
  }
  absl::StatusOr<v1::CloneReply> Clone(const std::string& address,
                                       const v1::CloneRequest& req) override {
    std::lock_guard lock(mu_);
    if (down.contains(address)) return absl::UnavailableError(address + " is down");
    auto it = stores_[address].find(req.source().name());
    if (it == stores_[address].end() || it->second.version() != req.source().version()) {
      return absl::NotFoundError("no such source");
    }
    v1::FileInfo f = it->second;
    f.set_name(req.target().name());
    f.set_version(req.target().version());
    *f.mutable_attributes() = req.target().attributes();
    stores_[address][f.name()] = f;
    v1::CloneReply reply;
    *reply.mutable_file() = f;
    return reply;
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
  std::vector<v1::FileInfo> All(const std::string& address) {
    std::lock_guard lock(mu_);
    std::vector<v1::FileInfo> out;
    for (auto& [n, f] : stores_[address]) out.push_back(f);
    return out;
  }

  int fail_creates = 0;
  std::set<std::string> down;  // FileStores whose Clone fails (dropped, unreachable)

 private:
  std::mutex mu_;
  std::map<std::string, std::map<std::string, v1::FileInfo>> stores_;
};

const std::vector<std::string> kStores = {"a:1", "b:1", "c:1"};

NameServerSettings LinkSettings() {
  NameServerSettings s;
  s.orphan_inode_grace = minutes(10);
  return s;
}

// One NameServer over the shared FileStores, elected and serving once every FileStore
// registered what it holds. A new one over the same FileStores is a NameServer restarted
// after kill -9: its soft state comes from their registrations only.
class LinkCluster {
 public:
  LinkCluster(LinkFileStores* stores, FakeClock* clock)
      : ensemble_(zk::NewMemoryEnsemble()),
        zk_(zk::NewMemoryZooKeeper(ensemble_)),
        ns_(LinkSettings(), clock, zk_.get(), stores, "ns1:9000", "host1") {
    (void)zk_->EnsurePath(kFileStoresPath);
    ns_.election().Step();
    for (const std::string& a : kStores) {
      (void)zk_->Create(std::string(kFileStoresPath) + "/" + a, "", false);
      v1::RegisterRequest first;
      first.set_filestore(a);
      first.set_bytes_available(1000);
      for (const v1::FileInfo& f : stores->All(a)) *first.add_files() = f;
      absl::StatusOr<FileStoreId> id = ns_.RegisterBegin(first);
      EXPECT_TRUE(id.ok()) << id.status();
      if (id.ok()) ns_.RegisterEnd(*id);
    }
    ns_.Housekeep();
    EXPECT_TRUE(ns_.serving());
  }
  NameServer& ns() { return ns_; }

 private:
  std::shared_ptr<zk::MemoryEnsemble> ensemble_;
  std::unique_ptr<zk::ZooKeeper> zk_;
  NameServer ns_;
};

class NameServerLinksTest : public ::testing::Test {
 protected:
  NameServerLinksTest() { Restart(); }

  // Kill -9 and restart: a new NameServer rebuilds everything from the FileStores.
  void Restart() {
    cluster_.reset();
    cluster_ = std::make_unique<LinkCluster>(&stores_, &clock_);
  }
  NameServer& ns() { return cluster_->ns(); }

  // A file `path` of 3 bytes stored on every FileStore (as an upload leaves it).
  int64_t PutFile(const std::string& path, v1::Kind kind = v1::KIND_FILE) {
    v1::DoCreateRequest req;
    req.set_path(path);
    v1::DoCreateReply created;
    EXPECT_TRUE(ns().DoCreate(req, &created).ok());
    v1::FileInfo f;
    f.set_name(path);
    f.set_version(created.version());
    f.set_kind(kind);
    f.set_size(3);
    f.mutable_attributes()->set_mode(0640);
    for (const std::string& a : kStores) {
      stores_.Put(a, f);
      EXPECT_TRUE(ns().names().Apply(a, f));
    }
    return created.version();
  }
  absl::StatusOr<v1::FileInfo> Link(const std::string& from, const std::string& to) {
    v1::LinkRequest req;
    req.set_from(from);
    req.set_to(to);
    v1::LinkReply reply;
    CHAINFS_RETURN_IF_ERROR(ns().Link(req, &reply));
    return reply.file();
  }
  absl::StatusOr<v1::FileInfo> Stat(const std::string& path) {
    v1::StatRequest req;
    req.set_path(path);
    v1::StatReply reply;
    CHAINFS_RETURN_IF_ERROR(ns().Stat(req, &reply));
    return reply.file();
  }
  absl::StatusOr<v1::DoReadReply> Read(const std::string& path) {
    v1::DoReadRequest req;
    req.set_path(path);
    v1::DoReadReply reply;
    CHAINFS_RETURN_IF_ERROR(ns().DoRead(req, &reply));
    return reply;
  }
  absl::Status Delete(const std::string& path) {
    v1::DoDeleteRequest req;
    req.set_path(path);
    v1::DoDeleteReply reply;
    return ns().DoDelete(req, &reply);
  }
  absl::Status Rename(const std::string& from, const std::string& to) {
    v1::RenameRequest req;
    req.set_from(from);
    req.set_to(to);
    v1::RenameReply reply;
    return ns().Rename(req, &reply);
  }
  // Where the content of `path` is: the name its holders store it under (and they exist).
  std::string ContentName(const std::string& path) {
    absl::StatusOr<v1::DoReadReply> read = Read(path);
    if (!read.ok()) return "unreadable: " + std::string(read.status().message());
    if (read->holders_size() == 0 || read->file().size() != 3) return "no holders";
    return read->read_name().empty() ? path : read->read_name();
  }

  FakeClock clock_;
  LinkFileStores stores_;
  std::unique_ptr<LinkCluster> cluster_;
};

TEST_F(NameServerLinksTest, LinkMakesBothNamesOneFileWithTwoLinks) {
  PutFile("/p");
  absl::StatusOr<v1::FileInfo> q = Link("/p", "/q");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->name(), "/q");
  EXPECT_EQ(q->kind(), v1::KIND_FILE);
  EXPECT_EQ(q->size(), 3);
  EXPECT_EQ(q->nlink(), 2u);
  EXPECT_EQ(q->attributes().mode(), 0640u);
  const std::string inode = q->attributes().inode();
  EXPECT_NE(InodeId(inode), 0);
  absl::StatusOr<v1::FileInfo> p = Stat("/p");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->attributes().inode(), inode);
  EXPECT_EQ(p->nlink(), 2u);
  EXPECT_EQ(p->version(), q->version());
  EXPECT_EQ(ContentName("/p"), inode);
  EXPECT_EQ(ContentName("/q"), inode);
  absl::StatusOr<v1::DoReadReply> read = Read("/q");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->file().name(), "/q");
  EXPECT_EQ(read->file().attributes().inode(), inode);
  EXPECT_EQ(read->file().nlink(), 2u);
}

TEST_F(NameServerLinksTest, LinkOfALinkAddsANameToTheSameInode) {
  PutFile("/p");
  ASSERT_TRUE(Link("/p", "/q").ok());
  absl::StatusOr<v1::FileInfo> r = Link("/q", "/d/r");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->nlink(), 3u);
  EXPECT_EQ(r->attributes().inode(), Stat("/p")->attributes().inode());
}

TEST_F(NameServerLinksTest, LinkRefusesDirectoriesExistingNamesAndMissingSources) {
  PutFile("/dir", v1::KIND_DIRECTORY);
  PutFile("/p");
  PutFile("/taken");
  EXPECT_TRUE(absl::IsPermissionDenied(Link("/dir", "/x").status()));
  EXPECT_TRUE(absl::IsPermissionDenied(Link("/implied", "/x").status()) ||
              absl::IsNotFound(Link("/implied", "/x").status()));
  EXPECT_TRUE(absl::IsAlreadyExists(Link("/p", "/taken").status()));
  EXPECT_TRUE(absl::IsNotFound(Link("/missing", "/x").status()));
  EXPECT_FALSE(Stat("/x").ok());
  EXPECT_EQ(Stat("/p")->nlink(), 0u);  // untouched: still a plain file
}

TEST_F(NameServerLinksTest, LinkOfASymlinkLinksTheSymlinkItself) {
  PutFile("/s", v1::KIND_SYMLINK);
  absl::StatusOr<v1::FileInfo> t = Link("/s", "/t");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->kind(), v1::KIND_SYMLINK);
  EXPECT_EQ(t->nlink(), 2u);
}

TEST_F(NameServerLinksTest, WritesThroughAnyNameGoToTheInode) {
  PutFile("/p");
  const std::string inode = Link("/p", "/q")->attributes().inode();
  v1::DoCreateRequest req;
  req.set_path("/q");
  v1::DoCreateReply created;
  ASSERT_TRUE(ns().DoCreate(req, &created).ok());
  EXPECT_EQ(created.write_name(), inode);
  // The chain commits the new version under the inode name: both names show it.
  v1::FileInfo written;
  written.set_name(inode);
  written.set_version(created.version());
  written.set_size(3);
  written.mutable_attributes()->set_mode(0600);
  for (const std::string& a : created.chain()) ASSERT_TRUE(ns().names().Apply(a, written));
  EXPECT_EQ(Stat("/p")->version(), created.version());
  EXPECT_EQ(Stat("/p")->attributes().mode(), 0600u);
  EXPECT_EQ(Stat("/p")->nlink(), 2u);
  req.set_path("/plain");
  v1::DoCreateReply plain;
  ASSERT_TRUE(ns().DoCreate(req, &plain).ok());
  EXPECT_EQ(plain.write_name(), "");
}

TEST_F(NameServerLinksTest, AttributesSetThroughOneNameShowThroughTheOther) {
  PutFile("/p");
  ASSERT_TRUE(Link("/p", "/q").ok());
  v1::SetAttributesRequest req;
  req.set_path("/q");
  req.mutable_attributes()->set_mode(0604);
  req.set_set_mode(true);
  v1::SetAttributesReply reply;
  ASSERT_TRUE(ns().SetAttributes(req, &reply).ok());
  EXPECT_EQ(reply.file().name(), "/q");
  EXPECT_EQ(reply.file().nlink(), 2u);
  EXPECT_EQ(Stat("/p")->attributes().mode(), 0604u);
}

TEST_F(NameServerLinksTest, UnlinkOfOneNameKeepsTheFileForTheOthersAndTheLastTakesIt) {
  PutFile("/p");
  const std::string inode = Link("/p", "/q")->attributes().inode();
  ASSERT_TRUE(Delete("/p").ok());
  EXPECT_TRUE(absl::IsNotFound(Stat("/p").status()));
  EXPECT_EQ(Stat("/q")->nlink(), 1u);
  EXPECT_EQ(ContentName("/q"), inode);
  ASSERT_TRUE(Delete("/q").ok());
  EXPECT_TRUE(absl::IsNotFound(Stat("/q").status()));
  std::optional<NameState> gone = ns().names().Get(inode);
  ASSERT_TRUE(gone.has_value());
  EXPECT_TRUE(gone->info.tombstone());
}

TEST_F(NameServerLinksTest, RenameOntoAnotherNameOfTheSameFileDoesNothing) {
  PutFile("/p");
  ASSERT_TRUE(Link("/p", "/q").ok());
  ASSERT_TRUE(Rename("/p", "/q").ok());
  EXPECT_TRUE(Stat("/p").ok());
  EXPECT_EQ(Stat("/q")->nlink(), 2u);
}

TEST_F(NameServerLinksTest, RenameOfALinkMovesTheNameAndKeepsTheCount) {
  PutFile("/p");
  const std::string inode = Link("/p", "/q")->attributes().inode();
  ASSERT_TRUE(Rename("/q", "/dir/r").ok());
  EXPECT_FALSE(Stat("/q").ok());
  EXPECT_EQ(Stat("/dir/r")->nlink(), 2u);
  EXPECT_EQ(ContentName("/dir/r"), inode);
}

TEST_F(NameServerLinksTest, RenameOverTheLastLinkOfAFileReleasesItsInode) {
  PutFile("/p");
  const std::string inode = Link("/p", "/q")->attributes().inode();
  ASSERT_TRUE(Delete("/q").ok());
  PutFile("/other");
  ASSERT_TRUE(Rename("/other", "/p").ok());
  EXPECT_TRUE(ns().names().Get(inode)->info.tombstone());
}

TEST_F(NameServerLinksTest, InodeNamesAreHiddenFromClients) {
  PutFile("/p");
  const std::string inode = Link("/p", "/q")->attributes().inode();
  EXPECT_TRUE(absl::IsNotFound(Stat(inode).status()));
  EXPECT_TRUE(absl::IsNotFound(Stat(std::string(kInodeDirectory)).status()));
  EXPECT_TRUE(absl::IsNotFound(Read(inode).status()));
  EXPECT_TRUE(absl::IsNotFound(Delete(inode)));
  v1::DoCreateRequest create;
  create.set_path(inode);
  v1::DoCreateReply created;
  EXPECT_TRUE(absl::IsNotFound(ns().DoCreate(create, &created)));
  v1::ListDirectoryRequest list;
  list.set_path("/");
  v1::ListDirectoryReply listed;
  ASSERT_TRUE(ns().ListDirectory(list, &listed).ok());
  std::set<std::string> names;
  for (const v1::FileInfo& e : listed.entries()) names.insert(e.name());
  EXPECT_EQ(names, (std::set<std::string>{"p", "q"}));
  for (const v1::FileInfo& e : listed.entries()) EXPECT_EQ(e.nlink(), 2u) << e.name();
  v1::ListRequest glob;
  glob.set_glob("/*");
  v1::ListReply globbed;
  ASSERT_TRUE(ns().List(glob, &globbed).ok());
  EXPECT_EQ(globbed.paths_size(), 2);
}

TEST_F(NameServerLinksTest, LinkCountsAreRebuiltFromRegistrations) {
  PutFile("/p");
  ASSERT_TRUE(Link("/p", "/q").ok());
  ASSERT_TRUE(Link("/p", "/r").ok());
  Restart();
  EXPECT_EQ(Stat("/q")->nlink(), 3u);
  EXPECT_EQ(Stat("/p")->size(), 3);
}

// Data safety: the entry over /p cannot be written (its chain fails). The link fails, /p
// keeps its content under its own name, and the inode clone left behind is swept only
// after the grace period, while /p stays whole.
TEST_F(NameServerLinksTest, LinkFailingBeforeItsNameMovedKeepsTheFileAndSweepsTheClone) {
  PutFile("/p");
  stores_.fail_creates = 1;
  EXPECT_FALSE(Link("/p", "/q").ok());
  EXPECT_EQ(ContentName("/p"), "/p");
  EXPECT_FALSE(Stat("/q").ok());
  ASSERT_EQ(ns().names().UnlinkedInodes().size(), 1u);
  const std::string orphan = ns().names().UnlinkedInodes()[0];
  EXPECT_EQ(ns().SweepUnlinkedInodes(), 0u);  // first seen now
  clock_.Advance(minutes(9));
  EXPECT_EQ(ns().SweepUnlinkedInodes(), 0u);
  clock_.Advance(minutes(2));
  EXPECT_EQ(ns().SweepUnlinkedInodes(), 1u);
  EXPECT_TRUE(ns().names().Get(orphan)->info.tombstone());
  EXPECT_EQ(ContentName("/p"), "/p");
  // Nothing was lost: a retry links as if nothing had happened.
  ASSERT_TRUE(Link("/p", "/q").ok());
  EXPECT_EQ(Stat("/p")->nlink(), 2u);
}

// Data safety: the NameServer is killed -9 between the steps of link(): after the clone (the
// entry over /p never written), and after /p became a link (the new name never written).
// The restarted NameServer finds /p's content under /p in both cases.
TEST_F(NameServerLinksTest, NameServerKilledBetweenLinkStepsLosesNothing) {
  PutFile("/p");
  stores_.fail_creates = 1;  // the kill: nothing after the clone happens
  EXPECT_FALSE(Link("/p", "/q").ok());
  Restart();
  EXPECT_EQ(ContentName("/p"), "/p");
  EXPECT_EQ(ns().names().UnlinkedInodes().size(), 1u);

  // Killed after /f became a link entry, before /g was written: the same state as a whole
  // link whose new name went again.
  PutFile("/f");
  ASSERT_TRUE(Link("/f", "/g").ok());
  ASSERT_TRUE(Delete("/g").ok());
  Restart();
  const std::string content = ContentName("/f");
  EXPECT_NE(InodeId(content), 0) << content;
  EXPECT_EQ(Stat("/f")->nlink(), 1u);
  clock_.Advance(minutes(11));
  ns().SweepUnlinkedInodes();
  clock_.Advance(minutes(11));
  ns().SweepUnlinkedInodes();
  EXPECT_EQ(ContentName("/f"), content);  // named by /f: never swept
}

// Data safety: a holder of /p is unreachable while /p is linked. The others' clones would be
// the only copies of the inode once /p became a link: link() refuses and /p keeps all three.
TEST_F(NameServerLinksTest, LinkWithAHolderDownLeavesTheFileWhole) {
  PutFile("/p");
  stores_.down.insert("b:1");
  absl::Status st = Link("/p", "/q").status();
  EXPECT_TRUE(absl::IsUnavailable(st)) << st;
  EXPECT_EQ(ContentName("/p"), "/p");
  EXPECT_EQ(Read("/p")->holders_size(), 3);
  EXPECT_FALSE(Stat("/q").ok());
  stores_.down.clear();
  ASSERT_TRUE(Link("/p", "/q").ok());
  EXPECT_EQ(Read("/q")->holders_size(), 3);
}

TEST_F(NameServerLinksTest, OrphanSweepWaitsForEveryAnnouncedFileStore) {
  PutFile("/p");
  stores_.fail_creates = 1;
  EXPECT_FALSE(Link("/p", "/q").ok());
  clock_.Advance(minutes(11));
  EXPECT_EQ(ns().SweepUnlinkedInodes(), 0u);  // first seen
  clock_.Advance(minutes(11));
  // A FileStore in /filestores that has not registered may hold a link naming the inode.
  ns().names().DropFileStore(*ns().names().Find("c:1"), clock_.Now());
  EXPECT_EQ(ns().SweepUnlinkedInodes(), 0u);
  EXPECT_EQ(ns().names().UnlinkedInodes().size(), 1u);
}

}  // namespace
}  // namespace chainfs::nameserver
