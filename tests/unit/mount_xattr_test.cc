// The mount's special files, extended attributes and POSIX ACLs (fuse/special_files.cc,
// fuse/filesystem_xattr.cc, fuse/posix_acl.h) against the in-memory NameServer and
// FileStores: what mknod stores and stat shows, setxattr's flags and errnos, xattr changes as
// new versions without moving data, a file being written keeping its xattrs through the
// upload, security.capability answered without a call, and ACLs kept in step with the mode
// and inherited as ext4 does.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/client/memory_filestores.h"
#include "common/client/memory_nameserver.h"
#include "common/client/xattr_rules.h"
#include "common/clock.h"
#include "fuse/errors.h"
#include "fuse/filesystem.h"
#include "fuse/posix_acl.h"

namespace chainfs::mount {
namespace {

constexpr uint64_t kRoot = 1;
const std::vector<std::string> kStores = {"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"};
constexpr int kSetMode = 1 << 0;  // FUSE_SET_ATTR_MODE
constexpr uint16_t kUserObj = 1, kUser = 2, kGroupObj = 4, kMask = 0x10, kOther = 0x20;

int Errno(const absl::Status& status) { return ErrnoFromStatus(status); }

// user::rw-, user:2000:r--, group::r--, mask::r--, other::---
std::string AclGivingUserRead(uint32_t uid) {
  return SerializeAcl(
      {{kUserObj, 6, 0}, {kUser, 4, uid}, {kGroupObj, 4, 0}, {kMask, 4, 0}, {kOther, 0, 0}});
}

TEST(PosixAcl, SerializedAcl_ParsesBackAndGarbageIsEINVAL) {
  std::string bytes = AclGivingUserRead(2000);
  EXPECT_EQ(bytes.size(), 4u + 5 * 8);
  auto acl = ParseAcl(bytes);
  ASSERT_TRUE(acl.ok());
  EXPECT_EQ(SerializeAcl(*acl), bytes);
  EXPECT_EQ(Errno(ParseAcl("xyz").status()), EINVAL);
  EXPECT_EQ(Errno(ParseAcl(bytes.substr(0, 7)).status()), EINVAL);
}

TEST(PosixAcl, AclToMode_TakesGroupBitsFromTheMaskAndSaysWhetherToKeepIt) {
  mode_t mode = 01777;
  EXPECT_TRUE(AclToMode(*ParseAcl(AclGivingUserRead(2000)), &mode));
  EXPECT_EQ(mode, 01640u);
  mode = 0;
  EXPECT_FALSE(AclToMode({{kUserObj, 7, 0}, {kGroupObj, 5, 0}, {kOther, 1, 0}}, &mode));
  EXPECT_EQ(mode, 0751u);
}

TEST(PosixAcl, Chmod_RewritesOwnerMaskAndOtherButNotNamedEntries) {
  Acl acl = *ParseAcl(AclGivingUserRead(2000));
  AclChmod(&acl, 0705);
  EXPECT_EQ(acl[0].perm, 7);  // user::
  EXPECT_EQ(acl[1].perm, 4);  // user:2000: unchanged
  EXPECT_EQ(acl[2].perm, 4);  // group:: unchanged (the mask stands for it)
  EXPECT_EQ(acl[3].perm, 0);  // mask::
  EXPECT_EQ(acl[4].perm, 5);  // other::
}

TEST(PosixAcl, Inherit_WithoutDefaultAppliesTheUmaskWithOneIgnoresIt) {
  auto plain = InheritAcl(std::nullopt, 0666, 022, false);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->mode, 0644u);
  EXPECT_FALSE(plain->access);
  const std::string def = AclGivingUserRead(2000);
  auto file = InheritAcl(def, 0666, 077, false);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->mode, 0640u);  // masked by the ACL, not by the umask
  ASSERT_TRUE(file->access);
  EXPECT_EQ(*file->access, def);
  EXPECT_FALSE(file->default_);
  auto dir = InheritAcl(def, 0700, 0, true);
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(dir->mode, 0600u);  // the owner entry is rw-
  ASSERT_TRUE(dir->default_);
  EXPECT_EQ(*dir->default_, def);
  // The mode masks the access ACL: mask 0 from group bits 0.
  EXPECT_EQ((*ParseAcl(*dir->access))[3].perm, 0);
}

class MountXattrTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mount-xattr-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    nameserver_.SetFileStores(&filestores_);
    nameserver_.SetHook([this](std::string_view method) {
      if (method != "AddFileOrTombstone") calls_.emplace_back(method);
    });
    FilesystemSettings settings;
    settings.cache_dir = base_;
    settings.cache_base = base_;
    settings.attr_timeout = std::chrono::seconds(1);
    fs_ = std::make_unique<Filesystem>(&nameserver_, &filestores_, &clock_, settings);
  }
  void TearDown() override {
    fs_.reset();
    ASSERT_EQ(system(("rm -rf " + base_).c_str()), 0);
  }

  uint64_t WriteFile(const std::string& name, const std::string& content) {
    auto created = fs_->Create(kRoot, name, 0644, 1000, 1000);
    EXPECT_TRUE(created.ok()) << created.status();
    EXPECT_TRUE(fs_->Write(created->second, content.data(), content.size(), 0).ok());
    EXPECT_TRUE(fs_->Flush(created->second).ok());
    fs_->Release(created->second);
    return created->first.ino;
  }

  std::string Stored(const std::string& path) {
    auto latest = nameserver_.Latest(path);
    if (!latest) return "<none>";
    auto content = filestores_.ReadAll(path, latest->version(), nameserver_.Holders(path));
    return content.ok() ? *content : "<error>";
  }

  FakeClock clock_;
  MemoryNameServer nameserver_{kStores};
  MemoryFileStores filestores_{&nameserver_};
  std::vector<std::string> calls_;
  std::string base_;
  std::unique_ptr<Filesystem> fs_;
};

TEST_F(MountXattrTest, Mknod_StoresEachSpecialKindWithModeOwnerAndRdev) {
  struct Case {
    const char* name;
    mode_t type;
    v1::Kind kind;
  } cases[] = {{"fifo", S_IFIFO, v1::KIND_FIFO},
               {"chr", S_IFCHR, v1::KIND_CHAR_DEVICE},
               {"blk", S_IFBLK, v1::KIND_BLOCK_DEVICE},
               {"sock", S_IFSOCK, v1::KIND_SOCKET}};
  for (const Case& c : cases) {
    auto entry = fs_->MkSpecial(kRoot, c.name, c.type | 0666, makedev(8, 1), 1000, 100, 022);
    ASSERT_TRUE(entry.ok()) << c.name << ": " << entry.status();
    EXPECT_EQ(entry->attr.st_mode, c.type | 0644) << c.name;
    EXPECT_EQ(entry->attr.st_uid, 1000u);
    EXPECT_EQ(entry->attr.st_gid, 100u);
    const bool device = c.type == S_IFCHR || c.type == S_IFBLK;
    EXPECT_EQ(entry->attr.st_rdev, device ? makedev(8, 1) : 0) << c.name;
    auto stored = nameserver_.Latest(std::string("/") + c.name);
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->kind(), c.kind);
    EXPECT_EQ(stored->size(), 0);
    EXPECT_EQ(nameserver_.Holders(std::string("/") + c.name).size(), 3u);
    // What a later lookup (a Stat) says is the same.
    clock_.Advance(std::chrono::seconds(2));
    auto looked = fs_->Lookup(kRoot, c.name);
    ASSERT_TRUE(looked.ok());
    EXPECT_EQ(looked->attr.st_mode, entry->attr.st_mode);
    EXPECT_EQ(looked->attr.st_rdev, entry->attr.st_rdev);
  }
  EXPECT_EQ(Errno(fs_->MkSpecial(kRoot, "fifo", S_IFIFO | 0600, 0, 0, 0).status()), EEXIST);
}

TEST_F(MountXattrTest, Fifo_RenamesChmodsAndUnlinksLikeAnyEntry) {
  auto fifo = fs_->MkSpecial(kRoot, "p", S_IFIFO | 0600, 0, 1000, 1000);
  ASSERT_TRUE(fifo.ok());
  ASSERT_TRUE(fs_->Rename(kRoot, "p", kRoot, "q", 0).ok());
  EXPECT_EQ(nameserver_.Latest("/q")->kind(), v1::KIND_FIFO);
  auto q = fs_->Lookup(kRoot, "q");
  ASSERT_TRUE(q.ok());
  struct stat want = {};
  want.st_mode = 0640;
  auto changed = fs_->SetAttr(q->ino, want, kSetMode, nullptr);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(changed->st_mode, S_IFIFO | 0640);
  ASSERT_TRUE(fs_->Unlink(kRoot, "q").ok());
  EXPECT_EQ(Errno(fs_->Lookup(kRoot, "q").status()), ENOENT);
}

TEST_F(MountXattrTest, SpecialFileWithContent_IsRefusedByTheFileStores) {
  v1::FileInfo fifo;
  fifo.set_name("/p");
  fifo.set_kind(v1::KIND_FIFO);
  Client client(&nameserver_, &filestores_);
  EXPECT_EQ(client.UploadString(fifo, "bytes").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(nameserver_.Latest("/p"));
}

TEST_F(MountXattrTest, Xattrs_SetGetListRemoveWithFlagsAndErrnos) {
  uint64_t ino = WriteFile("f", "content");
  ASSERT_TRUE(fs_->SetXattr(ino, "user.color", "blue", 0).ok());
  EXPECT_EQ(fs_->GetXattr(ino, "user.color").value_or(""), "blue");
  EXPECT_EQ(Errno(fs_->SetXattr(ino, "user.color", "red", XATTR_CREATE)), EEXIST);
  EXPECT_EQ(Errno(fs_->SetXattr(ino, "user.size", "1", XATTR_REPLACE)), ENODATA);
  ASSERT_TRUE(fs_->SetXattr(ino, "user.color", "red", XATTR_REPLACE).ok());
  ASSERT_TRUE(fs_->SetXattr(ino, "trusted.t", "x", 0).ok());
  EXPECT_EQ(fs_->ListXattr(ino, true).value_or(""), std::string("trusted.t\0user.color\0", 21));
  EXPECT_EQ(fs_->ListXattr(ino, false).value_or(""), std::string("user.color\0", 11));
  EXPECT_EQ(Errno(fs_->GetXattr(ino, "user.none").status()), ENODATA);
  EXPECT_EQ(Errno(fs_->RemoveXattr(ino, "user.none")), ENODATA);
  EXPECT_EQ(Errno(fs_->SetXattr(ino, "other.x", "1", 0)), ENOTSUP);
  EXPECT_EQ(Errno(fs_->GetXattr(ino, "system.foo").status()), ENOTSUP);
  EXPECT_EQ(Errno(fs_->SetXattr(ino, "user.big", std::string(kMaxXattrValueBytes + 1, 'v'), 0)),
            E2BIG);
  ASSERT_TRUE(fs_->SetXattr(ino, "user.a", std::string(kMaxXattrValueBytes, 'v'), 0).ok());
  EXPECT_EQ(Errno(fs_->SetXattr(ino, "user.b", std::string(kMaxXattrValueBytes, 'v'), 0)), ENOSPC);
  ASSERT_TRUE(fs_->RemoveXattr(ino, "user.color").ok());
  EXPECT_EQ(Errno(fs_->GetXattr(ino, "user.color").status()), ENODATA);
  // Every change was a new version of the same content, and the NameServer has them.
  EXPECT_EQ(Stored("/f"), "content");
  EXPECT_FALSE(nameserver_.Latest("/f")->attributes().xattrs().contains("user.color"));
  EXPECT_TRUE(nameserver_.Latest("/f")->attributes().xattrs().contains("trusted.t"));
}

TEST_F(MountXattrTest, XattrSetWhileWriting_SurvivesTheUpload) {
  auto created = fs_->Create(kRoot, "w", 0644, 1000, 1000);
  ASSERT_TRUE(created.ok());
  FileHandle* fh = created->second;
  ASSERT_TRUE(fs_->Write(fh, "abc", 3, 0).ok());
  ASSERT_TRUE(fs_->SetXattr(created->first.ino, "user.k", "v", 0).ok());
  EXPECT_EQ(fs_->GetXattr(created->first.ino, "user.k").value_or(""), "v");
  ASSERT_TRUE(fs_->Flush(fh).ok());
  // Stored, not dirty any more: a change now goes to the NameServer and to the staging too.
  ASSERT_TRUE(fs_->SetXattr(created->first.ino, "user.k2", "v2", 0).ok());
  ASSERT_TRUE(fs_->Write(fh, "d", 1, 3).ok());
  ASSERT_TRUE(fs_->Flush(fh).ok());
  fs_->Release(fh);
  EXPECT_EQ(Stored("/w"), "abcd");
  auto stored = nameserver_.Latest("/w");
  EXPECT_EQ(stored->attributes().xattrs().at("user.k"), "v");
  EXPECT_EQ(stored->attributes().xattrs().at("user.k2"), "v2");
}

TEST_F(MountXattrTest, XattrSetDuringWriteBehind_IsStoredWithTheFile) {
  FilesystemSettings settings;
  settings.cache_dir = base_;
  settings.cache_base = base_;
  settings.write_behind = 4;  // streams once 4 bytes are staged
  Filesystem fs(&nameserver_, &filestores_, &clock_, settings);
  auto created = fs.Create(kRoot, "wb", 0644, 1000, 1000);
  ASSERT_TRUE(created.ok());
  FileHandle* fh = created->second;
  ASSERT_TRUE(fs.Write(fh, "12345678", 8, 0).ok());  // the stream starts with the old xattrs
  ASSERT_TRUE(fs.SetXattr(created->first.ino, "user.late", "yes", 0).ok());
  ASSERT_TRUE(fs.Write(fh, "9", 1, 8).ok());
  ASSERT_TRUE(fs.Flush(fh).ok());
  fs.Release(fh);
  EXPECT_EQ(Stored("/wb"), "123456789");
  EXPECT_EQ(nameserver_.Latest("/wb")->attributes().xattrs().at("user.late"), "yes");
}

TEST_F(MountXattrTest, SecurityCapability_IsAnsweredWithoutACall) {
  uint64_t ino = WriteFile("f", "x");
  clock_.Advance(std::chrono::seconds(5));  // past attr_timeout
  calls_.clear();
  EXPECT_EQ(Errno(fs_->GetXattr(ino, "security.capability").status()), ENODATA);
  EXPECT_TRUE(calls_.empty());
}

TEST_F(MountXattrTest, AccessAcl_SetsTheModeAndAnAclTheModeSaysIsNotKept) {
  uint64_t ino = WriteFile("f", "x");
  ASSERT_TRUE(fs_->SetXattr(ino, std::string(kAclAccessXattr), AclGivingUserRead(2000), 0).ok());
  auto st = fs_->GetAttr(ino);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_mode, S_IFREG | 0640);
  EXPECT_EQ(fs_->GetXattr(ino, std::string(kAclAccessXattr)).value_or(""), AclGivingUserRead(2000));
  // chmod moves the mask (group bits) and keeps the named user.
  struct stat want = {};
  want.st_mode = 0600;
  ASSERT_TRUE(fs_->SetAttr(ino, want, kSetMode, nullptr).ok());
  Acl after = *ParseAcl(fs_->GetXattr(ino, std::string(kAclAccessXattr)).value_or(""));
  EXPECT_EQ(after[1].perm, 4);
  EXPECT_EQ(after[3].perm, 0);
  // A plain ACL is only a mode.
  std::string plain = SerializeAcl({{kUserObj, 7, 0}, {kGroupObj, 5, 0}, {kOther, 4, 0}});
  ASSERT_TRUE(fs_->SetXattr(ino, std::string(kAclAccessXattr), plain, 0).ok());
  EXPECT_EQ(fs_->GetAttr(ino)->st_mode, S_IFREG | 0754);
  EXPECT_EQ(Errno(fs_->GetXattr(ino, std::string(kAclAccessXattr)).status()), ENODATA);
  EXPECT_EQ(Errno(fs_->SetXattr(ino, std::string(kAclAccessXattr), "junk", 0)), EINVAL);
}

TEST_F(MountXattrTest, DefaultAcl_IsInheritedByNewFilesAndDirectoriesInsteadOfTheUmask) {
  auto dir = fs_->Mkdir(kRoot, "d", 0755, 1000, 1000, 022);
  ASSERT_TRUE(dir.ok());
  const std::string def = AclGivingUserRead(2000);
  ASSERT_TRUE(fs_->SetXattr(dir->ino, std::string(kAclDefaultXattr), def, 0).ok());
  auto file = fs_->Create(dir->ino, "f", 0666, 1000, 1000, 077);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->first.attr.st_mode, S_IFREG | 0640);
  ASSERT_TRUE(fs_->Flush(file->second).ok());
  fs_->Release(file->second);
  auto stored = nameserver_.Latest("/d/f");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->attributes().xattrs().at(std::string(kAclAccessXattr)), def);
  EXPECT_FALSE(stored->attributes().xattrs().contains(std::string(kAclDefaultXattr)));
  auto sub = fs_->Mkdir(dir->ino, "sub", 0777, 1000, 1000, 077);
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(sub->attr.st_mode, S_IFDIR | 0640);
  EXPECT_EQ(nameserver_.Latest("/d/sub")->attributes().xattrs().at(std::string(kAclDefaultXattr)),
            def);
  auto fifo = fs_->MkSpecial(dir->ino, "p", S_IFIFO | 0666, 0, 1000, 1000, 077);
  ASSERT_TRUE(fifo.ok());
  EXPECT_EQ(fifo->attr.st_mode, S_IFIFO | 0640);
}

}  // namespace
}  // namespace chainfs::mount
