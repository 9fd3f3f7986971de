// Hard links through the mount's Filesystem against the in-memory NameServer and FileStores:
// every name of a file has one inode number and the link count, content written through one
// name reads through the other (after close), attributes are shared, unlink of one name keeps
// the inode for the others, lookup counts and forget stay right; and InodeTable's own rules
// for an inode with several paths.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <memory>
#include <string>

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include "common/client/memory_filestores.h"
#include "common/client/memory_nameserver.h"
#include "common/clock.h"
#include "fuse/errors.h"
#include "fuse/filesystem.h"

namespace chainfs::mount {
namespace {

constexpr uint64_t kRoot = 1;
const std::vector<std::string> kStores = {"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"};

class MountLinksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mount-links-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    nameserver_.SetFileStores(&filestores_);
    fs_ = Make("a");
  }
  void TearDown() override {
    fs_.reset();
    std::string cmd = "rm -rf " + base_;
    ASSERT_EQ(system(cmd.c_str()), 0);
  }
  std::unique_ptr<Filesystem> Make(const std::string& name) {
    std::string dir = base_ + "/" + name;
    EXPECT_EQ(::mkdir(dir.c_str(), 0700), 0);
    FilesystemSettings settings;
    settings.cache_dir = dir;
    settings.cache_base = base_;
    settings.upload_retry.backoff = Duration::zero();
    settings.write_behind = 0;
    settings.attr_timeout = std::chrono::seconds(1);
    return std::make_unique<Filesystem>(&nameserver_, &filestores_, &clock_, settings);
  }
  // open(O_WRONLY|O_TRUNC or O_CREAT) + write + close of `name` in the root.
  absl::Status WriteFile(const std::string& name, const std::string& content) {
    FileHandle* fh = nullptr;
    auto entry = fs_->Lookup(kRoot, name);
    if (entry.ok()) {
      bool keep = false;
      auto opened = fs_->Open(entry->ino, O_WRONLY | O_TRUNC, &keep);
      if (!opened.ok()) return opened.status();
      fh = *opened;
    } else {
      auto created = fs_->Create(kRoot, name, 0644, 1000, 1000);
      if (!created.ok()) return created.status();
      fh = created->second;
    }
    absl::Status status = fs_->Write(fh, content.data(), content.size(), 0).status();
    if (status.ok()) status = fs_->Flush(fh);
    fs_->Release(fh);
    return status;
  }
  absl::StatusOr<std::string> ReadFile(Filesystem& fs, const std::string& name) {
    auto entry = fs.Lookup(kRoot, name);
    if (!entry.ok()) return entry.status();
    bool keep = false;
    auto fh = fs.Open(entry->ino, O_RDONLY, &keep);
    if (!fh.ok()) return fh.status();
    std::string out;
    absl::Status status = fs.Read(*fh, 1 << 20, 0, [&](const iovec* pieces, int count) {
      for (int i = 0; i < count; ++i) {
        out.append(static_cast<const char*>(pieces[i].iov_base), pieces[i].iov_len);
      }
    });
    fs.Release(*fh);
    if (!status.ok()) return status;
    return out;
  }

  FakeClock clock_;
  MemoryNameServer nameserver_{kStores};
  MemoryFileStores filestores_{&nameserver_};
  std::string base_;
  std::unique_ptr<Filesystem> fs_;
};

TEST_F(MountLinksTest, LinkGivesBothNamesOneInodeAndTwoLinks) {
  ASSERT_TRUE(WriteFile("p", "hello").ok());
  auto p = fs_->Lookup(kRoot, "p");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->attr.st_nlink, 1u);
  auto q = fs_->Link(p->ino, kRoot, "q");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->ino, p->ino);
  EXPECT_EQ(q->attr.st_nlink, 2u);
  EXPECT_EQ(q->attr.st_size, 5);
  EXPECT_TRUE(S_ISREG(q->attr.st_mode));
  auto again = fs_->Lookup(kRoot, "q");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ino, p->ino);
  EXPECT_EQ(fs_->GetAttr(p->ino)->st_nlink, 2u);
  // A second mount, knowing nothing, also gives both names one inode.
  auto other = Make("b");
  auto op = other->Lookup(kRoot, "p");
  auto oq = other->Lookup(kRoot, "q");
  ASSERT_TRUE(op.ok() && oq.ok());
  EXPECT_EQ(op->ino, oq->ino);
  EXPECT_EQ(oq->attr.st_nlink, 2u);
}

TEST_F(MountLinksTest, WriteThroughOneNameReadsThroughTheOther) {
  ASSERT_TRUE(WriteFile("p", "old").ok());
  auto p = fs_->Lookup(kRoot, "p");
  ASSERT_TRUE(fs_->Link(p->ino, kRoot, "q").ok());
  ASSERT_TRUE(WriteFile("q", "new content").ok());
  auto other = Make("b");
  EXPECT_EQ(*ReadFile(*other, "p"), "new content");
  EXPECT_EQ(*ReadFile(*fs_, "p"), "new content");
  EXPECT_EQ(other->Lookup(kRoot, "p")->attr.st_nlink, 2u);
  EXPECT_EQ(fs_->GetAttr(p->ino)->st_nlink, 2u);
}

TEST_F(MountLinksTest, ChmodThroughOneNameShowsThroughTheOther) {
  ASSERT_TRUE(WriteFile("p", "x").ok());
  auto p = fs_->Lookup(kRoot, "p");
  ASSERT_TRUE(fs_->Link(p->ino, kRoot, "q").ok());
  struct stat attr = {};
  attr.st_mode = 0600;
  auto set = fs_->SetAttr(p->ino, attr, FUSE_SET_ATTR_MODE, nullptr);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->st_mode & 07777, 0600u);
  EXPECT_EQ(set->st_nlink, 2u);
  auto other = Make("b");
  EXPECT_EQ(other->Lookup(kRoot, "q")->attr.st_mode & 07777, 0600u);
}

TEST_F(MountLinksTest, UnlinkOfOneNameKeepsTheInodeForTheOther) {
  ASSERT_TRUE(WriteFile("p", "kept").ok());
  auto p = fs_->Lookup(kRoot, "p");
  ASSERT_TRUE(fs_->Link(p->ino, kRoot, "q").ok());
  ASSERT_TRUE(fs_->Unlink(kRoot, "p").ok());
  auto st = fs_->GetAttr(p->ino);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->st_nlink, 1u);
  EXPECT_EQ(*ReadFile(*fs_, "q"), "kept");
  EXPECT_EQ(ErrnoFromStatus(fs_->Lookup(kRoot, "p").status()), ENOENT);
  ASSERT_TRUE(fs_->Unlink(kRoot, "q").ok());
  EXPECT_EQ(ErrnoFromStatus(fs_->GetAttr(p->ino).status()), ENOENT);
}

TEST_F(MountLinksTest, LinkRefusesAnExistingNameAndADirectory) {
  ASSERT_TRUE(WriteFile("p", "x").ok());
  ASSERT_TRUE(WriteFile("taken", "y").ok());
  auto p = fs_->Lookup(kRoot, "p");
  EXPECT_EQ(ErrnoFromStatus(fs_->Link(p->ino, kRoot, "taken").status()), EEXIST);
  auto dir = fs_->Mkdir(kRoot, "d", 0755, 1000, 1000);
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(ErrnoFromStatus(fs_->Link(dir->ino, kRoot, "dl").status()), EPERM);
  EXPECT_EQ(fs_->GetAttr(p->ino)->st_nlink, 1u);
}

TEST_F(MountLinksTest, RenameOverTheLastOtherNameLeavesOneLink) {
  ASSERT_TRUE(WriteFile("p", "linked").ok());
  ASSERT_TRUE(WriteFile("x", "other").ok());
  auto p = fs_->Lookup(kRoot, "p");
  ASSERT_TRUE(fs_->Link(p->ino, kRoot, "q").ok());
  ASSERT_TRUE(fs_->Rename(kRoot, "x", kRoot, "q", 0).ok());
  auto other = Make("b");
  EXPECT_EQ(other->Lookup(kRoot, "p")->attr.st_nlink, 1u);
  EXPECT_EQ(*ReadFile(*other, "q"), "other");
  EXPECT_EQ(*ReadFile(*other, "p"), "linked");
  const std::string inode = nameserver_.StatPath("/p")->attributes().inode();
  ASSERT_FALSE(inode.empty());
  ASSERT_TRUE(fs_->Unlink(kRoot, "p").ok());
  EXPECT_TRUE(nameserver_.Latest(inode)->tombstone());  // its last name went: so did it
}

TEST_F(MountLinksTest, ForgetOfEveryLookupDropsEveryPathOfTheInode) {
  ASSERT_TRUE(WriteFile("p", "x").ok());
  // create counted one lookup, lookup another, link a third.
  auto p = fs_->Lookup(kRoot, "p");
  ASSERT_TRUE(fs_->Link(p->ino, kRoot, "q").ok());
  EXPECT_EQ(fs_->inodes().Find("/q"), p->ino);
  fs_->inodes().Forget(p->ino, 2);
  EXPECT_EQ(fs_->inodes().Find("/p"), p->ino);
  fs_->inodes().Forget(p->ino, 1);
  EXPECT_FALSE(fs_->inodes().Find("/p").has_value());
  EXPECT_FALSE(fs_->inodes().Find("/q").has_value());
  EXPECT_FALSE(fs_->inodes().Path(p->ino).has_value());
}

TEST(InodeTableLinksTest, RenameOfOnePathOfALinkedInodeKeepsTheOther) {
  InodeTable table;
  uint64_t a = table.Ref("/a", "/.chainfs-inodes/7");
  uint64_t b = table.Ref("/b", "/.chainfs-inodes/7");
  EXPECT_EQ(a, b);
  table.Rename("/a", "/c");
  EXPECT_EQ(table.Find("/c"), a);
  EXPECT_EQ(table.Find("/b"), a);
  EXPECT_FALSE(table.Find("/a").has_value());
  table.Detach("/b");
  EXPECT_EQ(table.Path(a), "/c");
  table.Detach("/c");
  EXPECT_FALSE(table.Path(a).has_value());
  // Another name of the same file comes back to the same inode while the kernel holds it.
  EXPECT_EQ(table.Ref("/d", "/.chainfs-inodes/7"), a);
  EXPECT_EQ(table.Path(a), "/d");
}

TEST(InodeTableLinksTest, APathThatBecameALinkElsewhereJoinsTheLinkedInode) {
  InodeTable table;
  uint64_t p = table.Ref("/p");  // a plain file, then linked by another mount
  uint64_t q = table.Ref("/q", "/.chainfs-inodes/9");
  EXPECT_NE(p, q);
  EXPECT_EQ(table.Ref("/p", "/.chainfs-inodes/9"), q);
  EXPECT_FALSE(table.Path(p).has_value());
  EXPECT_EQ(table.Find("/p"), q);
}

}  // namespace
}  // namespace chainfs::mount
