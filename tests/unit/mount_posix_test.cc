// The mount's POSIX corners (issue 15, groups 4, 6 and 7) on Filesystem against the in-memory
// NameServer and FileStores: files unlinked or renamed over while open keep working until
// their last close (staged ones locally, remotely read ones under a hidden name), trees
// deeper than PATH_MAX, set-group-ID directories and the largest file size (EFBIG).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include "common/client/memory_filestores.h"
#include "common/client/memory_nameserver.h"
#include "common/clock.h"
#include "common/names.h"
#include "fuse/errors.h"
#include "fuse/filesystem.h"

namespace chainfs::mount {
namespace {

constexpr uint64_t kRootIno = 1;
const std::vector<std::string> kPosixStores = {"127.0.0.1:7101", "127.0.0.1:7102",
                                               "127.0.0.1:7103"};

class MountPosixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mount-posix-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    cache_ = base_ + "/cache";
    ASSERT_EQ(::mkdir(cache_.c_str(), 0700), 0);
    nameserver_.SetFileStores(&filestores_);
    FilesystemSettings settings;
    settings.cache_dir = cache_;
    settings.cache_base = base_;
    settings.write_behind = 0;
    settings.attr_timeout = std::chrono::seconds(1);
    fs_ = std::make_unique<Filesystem>(&nameserver_, &filestores_, &clock_, settings);
  }
  void TearDown() override {
    fs_.reset();
    std::string cmd = "rm -rf " + base_;
    ASSERT_EQ(system(cmd.c_str()), 0);
  }

  // create(2) + write(2) + close(2) of `name` in directory `dir`.
  void Store(uint64_t dir, const std::string& name, const std::string& content) {
    auto created = fs_->Create(dir, name, 0644, 1000, 1000);
    ASSERT_TRUE(created.ok()) << created.status();
    ASSERT_TRUE(fs_->Write(created->second, content.data(), content.size(), 0).ok());
    ASSERT_TRUE(fs_->Flush(created->second).ok());
    fs_->Release(created->second);
  }

  FileHandle* OpenForReading(uint64_t dir, const std::string& name) {
    auto entry = fs_->Lookup(dir, name);
    EXPECT_TRUE(entry.ok()) << entry.status();
    if (!entry.ok()) return nullptr;
    bool keep = false;
    auto fh = fs_->Open(entry->ino, O_RDONLY, &keep);
    EXPECT_TRUE(fh.ok()) << fh.status();
    return fh.ok() ? *fh : nullptr;
  }

  // pread(2) of up to `size` bytes at `offset`, or "<errno N>".
  std::string Pread(FileHandle* fh, size_t size, int64_t offset = 0) {
    std::string out;
    absl::Status st = fs_->Read(fh, size, offset, [&](const iovec* pieces, int count) {
      for (int i = 0; i < count; ++i) {
        out.append(static_cast<const char*>(pieces[i].iov_base), pieces[i].iov_len);
      }
    });
    return st.ok() ? out : "<errno " + std::to_string(ErrnoFromStatus(st)) + ">";
  }

  std::string Stored(const std::string& path) {
    auto latest = nameserver_.Latest(path);
    if (!latest || latest->tombstone()) return "<none>";
    auto content = filestores_.ReadAll(path, latest->version(), nameserver_.Holders(path));
    return content.ok() ? *content : "<" + content.status().ToString() + ">";
  }

  // The live names beneath `dir` (one level).
  std::vector<std::string> Listed(const std::string& dir) {
    v1::ListDirectoryRequest req;
    req.set_path(dir);
    req.set_limit(100);
    auto reply = nameserver_.ListDirectory(req);
    std::vector<std::string> names;
    if (reply.ok()) {
      for (const auto& e : reply->entries()) names.push_back(e.name());
    }
    return names;
  }

  size_t StagingFiles() {
    std::string cmd = "test -z \"$(ls -A " + cache_ + ")\"";
    return system(cmd.c_str()) == 0 ? 0 : 1;
  }

  FakeClock clock_;
  MemoryNameServer nameserver_{kPosixStores};
  MemoryFileStores filestores_{&nameserver_};
  std::string base_;
  std::string cache_;
  std::unique_ptr<Filesystem> fs_;
};

TEST_F(MountPosixTest, TemporaryFilePattern_UnlinkedWhileOpen_ReadWriteStatWorkUntilClose) {
  // tempfile.TemporaryFile(): open(O_CREAT|O_EXCL|O_RDWR), unlink, then use the descriptor.
  auto created = fs_->Create(kRootIno, "tmpXYZ", 0600, 1000, 1000);
  ASSERT_TRUE(created.ok()) << created.status();
  FileHandle* fh = created->second;
  const uint64_t ino = created->first.ino;
  ASSERT_TRUE(fs_->Unlink(kRootIno, "tmpXYZ").ok());
  EXPECT_EQ(ErrnoFromStatus(fs_->Lookup(kRootIno, "tmpXYZ").status()), ENOENT);

  ASSERT_TRUE(fs_->Write(fh, "hello world", 11, 0).ok());
  EXPECT_EQ(Pread(fh, 100), "hello world");
  ASSERT_TRUE(fs_->Write(fh, "W", 1, 6).ok());  // pwrite
  EXPECT_EQ(Pread(fh, 5, 6), "World");
  auto attr = fs_->GetAttr(ino);
  ASSERT_TRUE(attr.ok()) << attr.status();
  EXPECT_EQ(attr->st_nlink, 0u);
  EXPECT_EQ(attr->st_size, 11);
  struct stat want = {};
  want.st_size = 5;
  auto truncated = fs_->SetAttr(ino, want, FUSE_SET_ATTR_SIZE, fh);  // ftruncate
  ASSERT_TRUE(truncated.ok()) << truncated.status();
  EXPECT_EQ(truncated->st_size, 5);
  EXPECT_EQ(truncated->st_nlink, 0u);
  EXPECT_TRUE(fs_->Flush(fh).ok());  // close: nothing to store
  fs_->Release(fh);

  EXPECT_EQ(Stored("/tmpXYZ"), "<none>");
  EXPECT_TRUE(Listed("/").empty());
  EXPECT_EQ(StagingFiles(), 0u);
  EXPECT_EQ(ErrnoFromStatus(fs_->GetAttr(ino).status()), ENOENT);
}

TEST_F(MountPosixTest, StoredFileUnlinkedWhileOpenForWriting_KeepsItsContentLocally) {
  Store(kRootIno, "f", "stored");
  auto entry = fs_->Lookup(kRootIno, "f");
  ASSERT_TRUE(entry.ok());
  bool keep = false;
  auto fh = fs_->Open(entry->ino, O_RDWR, &keep);
  ASSERT_TRUE(fh.ok()) << fh.status();
  ASSERT_TRUE(fs_->Unlink(kRootIno, "f").ok());
  EXPECT_EQ(Stored("/f"), "<none>");  // deleted at once: the staging file has the content
  EXPECT_EQ(Pread(*fh, 100), "stored");
  ASSERT_TRUE(fs_->Write(*fh, "S", 1, 0).ok());
  EXPECT_EQ(Pread(*fh, 100), "Stored");
  EXPECT_TRUE(fs_->Flush(*fh).ok());
  fs_->Release(*fh);
  EXPECT_EQ(Stored("/f"), "<none>");
  EXPECT_TRUE(Listed("/").empty());
}

TEST_F(MountPosixTest, FileReadRemotelyUnlinkedWhileOpen_IsRenamedAwayUntilTheLastClose) {
  const std::string big(3 << 20, 'b');  // streamed, not read whole
  Store(kRootIno, "small", "content");
  Store(kRootIno, "big", big);
  FileHandle* small = OpenForReading(kRootIno, "small");
  FileHandle* big_fh = OpenForReading(kRootIno, "big");
  FileHandle* second = OpenForReading(kRootIno, "big");
  ASSERT_TRUE(small && big_fh && second);
  EXPECT_EQ(Pread(big_fh, 10), std::string(10, 'b'));  // a stream open before the unlink
  const uint64_t small_ino = small->ino;

  ASSERT_TRUE(fs_->Unlink(kRootIno, "small").ok());
  ASSERT_TRUE(fs_->Unlink(kRootIno, "big").ok());
  EXPECT_EQ(ErrnoFromStatus(fs_->Lookup(kRootIno, "small").status()), ENOENT);
  EXPECT_EQ(Stored("/small"), "<none>");
  EXPECT_EQ(Listed(kUnlinkedDir).size(), 2u);  // findable after a crash of the mount

  EXPECT_EQ(Pread(small, 100), "content");
  EXPECT_EQ(Pread(big_fh, 1 << 20, 2 << 20), std::string(1 << 20, 'b'));
  auto attr = fs_->GetAttr(small_ino);
  ASSERT_TRUE(attr.ok()) << attr.status();
  EXPECT_EQ(attr->st_nlink, 0u);
  EXPECT_EQ(attr->st_size, 7);

  fs_->Release(small);
  fs_->Release(big_fh);
  EXPECT_EQ(Listed(kUnlinkedDir).size(), 1u);  // the big file is still open once
  EXPECT_EQ(Pread(second, 4, (3 << 20) - 4), "bbbb");
  fs_->Release(second);
  EXPECT_TRUE(Listed(kUnlinkedDir).empty());
  EXPECT_TRUE(Listed("/").empty());
}

TEST_F(MountPosixTest, RenameOverAnOpenTarget_ReaderKeepsTheOldContent_NameHasTheNew) {
  Store(kRootIno, "target", "old content");
  Store(kRootIno, "source", "new content");
  FileHandle* reader = OpenForReading(kRootIno, "target");
  ASSERT_NE(reader, nullptr);
  const uint64_t target_ino = reader->ino;
  ASSERT_TRUE(fs_->Rename(kRootIno, "source", kRootIno, "target", 0).ok());
  EXPECT_EQ(Stored("/target"), "new content");
  EXPECT_EQ(Stored("/source"), "<none>");
  EXPECT_EQ(Pread(reader, 100), "old content");
  auto attr = fs_->GetAttr(target_ino);
  ASSERT_TRUE(attr.ok()) << attr.status();
  EXPECT_EQ(attr->st_nlink, 0u);
  fs_->Release(reader);
  EXPECT_EQ(Listed("/"), std::vector<std::string>{"target"});
  EXPECT_EQ(Stored("/target"), "new content");
}

TEST_F(MountPosixTest, RefusedRenameOverAnOpenTarget_LeavesTheTargetInPlace) {
  Store(kRootIno, "target", "kept");
  ASSERT_TRUE(fs_->Mkdir(kRootIno, "dir", 0755, 0, 0).ok());
  FileHandle* reader = OpenForReading(kRootIno, "target");
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(ErrnoFromStatus(fs_->Rename(kRootIno, "dir", kRootIno, "target", 0)), ENOTDIR);
  Store(kRootIno, "other", "x");
  EXPECT_EQ(ErrnoFromStatus(fs_->Rename(kRootIno, "other", kRootIno, "target", RENAME_NOREPLACE)),
            EEXIST);
  EXPECT_EQ(Stored("/target"), "kept");
  EXPECT_TRUE(Listed(kUnlinkedDir).empty());
  fs_->Release(reader);
  EXPECT_EQ(Stored("/target"), "kept");
}

TEST_F(MountPosixTest, RenameOverAnOpenTargetFailingAfterTheMoveAway_PutsTheTargetBack) {
  Store(kRootIno, "target", "precious");
  Store(kRootIno, "source", "new");
  FileHandle* reader = OpenForReading(kRootIno, "target");
  ASSERT_NE(reader, nullptr);
  int renames = 0;
  nameserver_.SetHook([&](std::string_view method) {
    // The silly rename goes through; the rename it prepared fails.
    if (method == "Rename" && ++renames == 2) {
      nameserver_.FailNext("Rename", absl::UnavailableError("NameServer gone"));
    }
  });
  EXPECT_EQ(ErrnoFromStatus(fs_->Rename(kRootIno, "source", kRootIno, "target", 0)), EIO);
  nameserver_.SetHook(nullptr);
  EXPECT_EQ(Stored("/target"), "precious");
  EXPECT_EQ(Stored("/source"), "new");
  EXPECT_TRUE(Listed(kUnlinkedDir).empty());
  EXPECT_EQ(Pread(reader, 100), "precious");
  fs_->Release(reader);
  EXPECT_EQ(Stored("/target"), "precious");  // the last close deleted nothing
}

TEST_F(MountPosixTest, UnlinkWhoseSillyRenameFails_KeepsTheName) {
  Store(kRootIno, "f", "still here");
  FileHandle* reader = OpenForReading(kRootIno, "f");
  ASSERT_NE(reader, nullptr);
  nameserver_.FailNext("Rename", absl::UnavailableError("NameServer gone"));
  EXPECT_EQ(ErrnoFromStatus(fs_->Unlink(kRootIno, "f")), EIO);
  EXPECT_EQ(Stored("/f"), "still here");
  EXPECT_EQ(Pread(reader, 100), "still here");
  fs_->Release(reader);
  EXPECT_EQ(Stored("/f"), "still here");
  EXPECT_TRUE(fs_->Lookup(kRootIno, "f").ok());
}

TEST_F(MountPosixTest, RenamedWhileOpen_ReaderFollowsTheFile) {
  Store(kRootIno, "a", "follows");
  FileHandle* reader = OpenForReading(kRootIno, "a");
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(fs_->Rename(kRootIno, "a", kRootIno, "b", 0).ok());
  EXPECT_EQ(Pread(reader, 100), "follows");
  auto attr = fs_->GetAttr(reader->ino);
  ASSERT_TRUE(attr.ok()) << attr.status();
  EXPECT_EQ(attr->st_nlink, 1u);
  fs_->Release(reader);
  EXPECT_EQ(Stored("/b"), "follows");
}

TEST_F(MountPosixTest, TreeDeeperThanPathMax_WritesReadsListsRenamesAndRemoves) {
  // mkdirat/openat/fchdir go deeper than one system call's PATH_MAX.
  std::vector<uint64_t> dirs = {kRootIno};
  std::vector<std::string> names;
  size_t depth_bytes = 0;
  while (depth_bytes <= 3 * 4096) {
    std::string name = std::string(200, 'a' + names.size() % 26) + std::to_string(names.size());
    auto made = fs_->Mkdir(dirs.back(), name, 0755, 1000, 1000);
    ASSERT_TRUE(made.ok()) << made.status() << " at depth " << names.size();
    dirs.push_back(made->ino);
    names.push_back(name);
    depth_bytes += name.size() + 1;
  }
  Store(dirs.back(), "bottom", "deep content");
  FileHandle* fh = OpenForReading(dirs.back(), "bottom");
  ASSERT_NE(fh, nullptr);
  EXPECT_EQ(Pread(fh, 100), "deep content");
  fs_->Release(fh);
  auto dh = fs_->OpenDir(dirs.back());
  ASSERT_TRUE(dh.ok());
  std::vector<std::string> listed;
  ASSERT_TRUE(fs_->ReadDir(*dh, 0, false,
                           [&](const std::string& n, const Entry&, int64_t) {
                             listed.push_back(n);
                             return true;
                           })
                  .ok());
  fs_->ReleaseDir(*dh);
  EXPECT_EQ(listed, (std::vector<std::string>{".", "..", "bottom"}));

  ASSERT_TRUE(fs_->Rename(kRootIno, names[0], kRootIno, "top", 0).ok());
  FileHandle* moved = OpenForReading(dirs.back(), "bottom");
  ASSERT_NE(moved, nullptr);
  EXPECT_EQ(Pread(moved, 100), "deep content");
  fs_->Release(moved);

  // rm -rf top: depth first.
  ASSERT_TRUE(fs_->Unlink(dirs.back(), "bottom").ok());
  for (size_t i = names.size(); i-- > 1;) {
    ASSERT_TRUE(fs_->Rmdir(dirs[i], names[i]).ok()) << "depth " << i;
  }
  ASSERT_TRUE(fs_->Rmdir(kRootIno, "top").ok());
  EXPECT_TRUE(Listed("/").empty());
}

TEST_F(MountPosixTest, NamesOverTheLimits_AreENAMETOOLONG) {
  EXPECT_EQ(ErrnoFromStatus(fs_->Mkdir(kRootIno, std::string(256, 'x'), 0755, 0, 0).status()),
            ENAMETOOLONG);
  EXPECT_EQ(
      ErrnoFromStatus(ChildPath(std::string(kMaxNameBytes - 10, 'p'), "abcdefghijk").status()),
      ENAMETOOLONG);
  EXPECT_EQ(
      ErrnoFromStatus(
          fs_->Symlink(std::string(kMaxSymlinkTargetBytes + 1, 't'), kRootIno, "l", 0, 0).status()),
      ENAMETOOLONG);
  EXPECT_TRUE(fs_->Symlink(std::string(kMaxSymlinkTargetBytes, 't'), kRootIno, "l", 0, 0).ok());
}

TEST_F(MountPosixTest, EntriesInASetgidDirectory_TakeItsGroup_SubdirectoriesStaySetgid) {
  auto dir = fs_->Mkdir(kRootIno, "team", 0775, 0, 0);
  ASSERT_TRUE(dir.ok()) << dir.status();
  struct stat want = {};
  want.st_mode = 02775;
  want.st_gid = 3000;
  ASSERT_TRUE(fs_->SetAttr(dir->ino, want, FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_GID, nullptr).ok());
  auto file = fs_->Create(dir->ino, "f", 0644, 1000, 1000);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->first.attr.st_gid, 3000u);
  ASSERT_TRUE(fs_->Flush(file->second).ok());
  fs_->Release(file->second);
  auto sub = fs_->Mkdir(dir->ino, "sub", 0755, 1000, 1000);
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->attr.st_gid, 3000u);
  EXPECT_EQ(sub->attr.st_mode, S_IFDIR | 02755);
  auto plain = fs_->Mkdir(kRootIno, "plain", 0755, 1000, 1000);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->attr.st_gid, 1000u);
}

TEST_F(MountPosixTest, SizesBeyondTheLargestFile_AreEFBIG_NotEIO) {
  auto created = fs_->Create(kRootIno, "f", 0644, 0, 0);
  ASSERT_TRUE(created.ok());
  FileHandle* fh = created->second;
  struct stat want = {};
  want.st_size = kMaxFileBytes + 1;
  EXPECT_EQ(
      ErrnoFromStatus(fs_->SetAttr(created->first.ino, want, FUSE_SET_ATTR_SIZE, fh).status()),
      EFBIG);
  want.st_size = int64_t{1} << 62;
  EXPECT_EQ(
      ErrnoFromStatus(fs_->SetAttr(created->first.ino, want, FUSE_SET_ATTR_SIZE, fh).status()),
      EFBIG);
  EXPECT_EQ(ErrnoFromStatus(fs_->Write(fh, "x", 1, kMaxFileBytes).status()), EFBIG);
  ASSERT_TRUE(fs_->Flush(fh).ok());
  fs_->Release(fh);
  // A file nobody has open: truncate(2) answers the same.
  auto entry = fs_->Lookup(kRootIno, "f");
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(ErrnoFromStatus(fs_->SetAttr(entry->ino, want, FUSE_SET_ATTR_SIZE, nullptr).status()),
            EFBIG);
  EXPECT_EQ(Stored("/f"), "");
}

}  // namespace
}  // namespace chainfs::mount
