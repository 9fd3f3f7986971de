// Filesystem (the mount's POSIX mapping) against the in-memory twins of the NameServer and
// the FileStores, with a FakeClock and a temporary cache directory: errno values, the
// create-write-close-read round trip, chain retries and kept data, close-to-open
// revalidation between two mounts, write-behind finished or cancelled, and the calls each
// operation costs (small reads in one ReadSmall, attributes answered from what is known).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/client/memory_filestores.h"
#include "common/client/memory_nameserver.h"
#include "common/clock.h"
#include "fuse/errors.h"
#include "fuse/filesystem.h"
#include "fuse/kept.h"

namespace chainfs::mount {
namespace {

constexpr uint64_t kRoot = 1;
const std::vector<std::string> kStores = {"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"};
using Method = MemoryFileStores::Method;

int Errno(const absl::Status& status) { return ErrnoFromStatus(status); }

class FilesystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mount-filesystem-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    nameserver_.SetFileStores(&filestores_);
    nameserver_.SetHook([this](std::string_view method) {
      // The calls a mount makes; the FileStores' own reports are not among them.
      if (method == "AddFileOrTombstone" || method == "ReportBadReplica") return;
      std::lock_guard lock(calls_mu_);
      mount_calls_.emplace_back(method);
    });
    fs_ = Make("a");
  }
  void TearDown() override {
    fs_.reset();
    other_.reset();
    std::string cmd = "rm -rf " + base_;
    ASSERT_EQ(system(cmd.c_str()), 0);
  }

  // A mount over the shared twins with its own staging directory `name` under base_.
  std::unique_ptr<Filesystem> Make(const std::string& name, int64_t write_behind = 0,
                                   Duration backoff = Duration::zero()) {
    std::string dir = base_ + "/" + name;
    EXPECT_EQ(::mkdir(dir.c_str(), 0700), 0);
    FilesystemSettings settings;
    settings.cache_dir = dir;
    settings.cache_base = base_;
    settings.upload_retry.backoff = backoff;
    settings.write_behind = write_behind;
    settings.attr_timeout = std::chrono::seconds(1);
    // Counts the calls of reads: no atime updates among them (mount_times_test covers those).
    settings.times.atime = AtimeMode::kNoatime;
    return std::make_unique<Filesystem>(&nameserver_, &filestores_, &clock_, settings);
  }

  // create(2) + write(2) + close(2) of `name` in the root of `fs`.
  absl::Status WriteFile(Filesystem& fs, const std::string& name, const std::string& content) {
    auto created = fs.Create(kRoot, name, 0644, 1000, 1000);
    if (!created.ok()) return created.status();
    FileHandle* fh = created->second;
    absl::Status status = fs.Write(fh, content.data(), content.size(), 0).status();
    if (status.ok()) status = fs.Flush(fh);
    fs.Release(fh);
    return status;
  }

  // open(2) + read(2)s of `piece` bytes to the end + close(2) of `name` in the root of `fs`;
  // `keep_cache` gets open's answer.
  absl::StatusOr<std::string> ReadFile(Filesystem& fs, const std::string& name,
                                       bool* keep_cache = nullptr, size_t piece = 1 << 20) {
    auto entry = fs.Lookup(kRoot, name);
    if (!entry.ok()) return entry.status();
    bool keep = false;
    auto fh = fs.Open(entry->ino, O_RDONLY, &keep);
    if (!fh.ok()) return fh.status();
    if (keep_cache) *keep_cache = keep;
    std::string out;
    absl::Status status;
    for (size_t before = 1; status.ok() && out.size() != before;) {
      before = out.size();
      status = fs.Read(
          *fh, piece, static_cast<int64_t>(out.size()), [&](const iovec* pieces, int count) {
            for (int i = 0; i < count; ++i) {
              out.append(static_cast<const char*>(pieces[i].iov_base), pieces[i].iov_len);
            }
          });
    }
    fs.Release(*fh);
    if (!status.ok()) return status;
    return out;
  }

  std::string Stored(const std::string& path) {
    auto latest = nameserver_.Latest(path);
    if (!latest || latest->tombstone()) return "<none>";
    auto content = filestores_.ReadAll(path, latest->version(), nameserver_.Holders(path));
    return content.ok() ? *content : "<" + content.status().ToString() + ">";
  }

  // The NameServer calls mounts made since the last call of this.
  std::vector<std::string> TakeMountCalls() {
    std::lock_guard lock(calls_mu_);
    return std::exchange(mount_calls_, {});
  }

  // The holders open() is told about, in the order it is told.
  std::vector<std::string> HoldersOpenSees(const std::string& path) {
    v1::DoReadRequest req;
    req.set_path(path);
    auto file = nameserver_.DoRead(req);
    EXPECT_TRUE(file.ok()) << file.status();
    return file.ok() ? std::vector<std::string>(file->holders().begin(), file->holders().end())
                     : std::vector<std::string>{};
  }

  std::mutex calls_mu_;
  std::vector<std::string> mount_calls_;
  FakeClock clock_;
  MemoryNameServer nameserver_{kStores};
  MemoryFileStores filestores_{&nameserver_};
  std::string base_;
  std::unique_ptr<Filesystem> fs_;
  std::unique_ptr<Filesystem> other_;
};

TEST_F(FilesystemTest, CreateWriteClose_ThenOpenAndRead_GivesTheBytesWithTheirAttributes) {
  ASSERT_TRUE(WriteFile(*fs_, "f", "hello").ok());
  EXPECT_EQ(Stored("/f"), "hello");
  EXPECT_EQ(nameserver_.Holders("/f").size(), 3u);
  EXPECT_EQ(ReadFile(*fs_, "f").value_or("<error>"), "hello");
  auto entry = fs_->Lookup(kRoot, "f");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->attr.st_size, 5);
  EXPECT_EQ(entry->attr.st_mode, S_IFREG | 0644);
  EXPECT_EQ(entry->attr.st_uid, 1000u);
  EXPECT_EQ(int64_t{entry->attr.st_mtim.tv_sec} * 1'000'000'000 + entry->attr.st_mtim.tv_nsec,
            clock_.WallNanos());
}

TEST_F(FilesystemTest, MissingNames_AreENOENT) {
  EXPECT_EQ(Errno(fs_->Lookup(kRoot, "nothing").status()), ENOENT);
  EXPECT_EQ(Errno(fs_->Unlink(kRoot, "nothing")), ENOENT);
  EXPECT_EQ(Errno(fs_->Rename(kRoot, "nothing", kRoot, "else", 0)), ENOENT);
  EXPECT_EQ(Errno(fs_->GetAttr(12345).status()), ENOENT);  // an inode the kernel never got
}

TEST_F(FilesystemTest, MkdirOrSymlinkOverAnExistingName_IsEEXIST) {
  ASSERT_TRUE(fs_->Mkdir(kRoot, "d", 0755, 0, 0).ok());
  ASSERT_TRUE(WriteFile(*fs_, "f", "x").ok());
  EXPECT_EQ(Errno(fs_->Mkdir(kRoot, "d", 0755, 0, 0).status()), EEXIST);
  EXPECT_EQ(Errno(fs_->Mkdir(kRoot, "f", 0755, 0, 0).status()), EEXIST);
  EXPECT_EQ(Errno(fs_->Symlink("/target", kRoot, "f", 0, 0).status()), EEXIST);
  EXPECT_EQ(Stored("/f"), "x");  // untouched
}

TEST_F(FilesystemTest, RmdirOfADirectoryWithAChild_IsENOTEMPTY_AndOfAnEmptyOne_Succeeds) {
  auto dir = fs_->Mkdir(kRoot, "d", 0755, 0, 0);
  ASSERT_TRUE(dir.ok()) << dir.status();
  ASSERT_TRUE(fs_->Mkdir(dir->ino, "child", 0755, 0, 0).ok());
  EXPECT_EQ(Errno(fs_->Rmdir(kRoot, "d")), ENOTEMPTY);
  ASSERT_TRUE(fs_->Rmdir(dir->ino, "child").ok());
  EXPECT_TRUE(fs_->Rmdir(kRoot, "d").ok());
  EXPECT_EQ(Errno(fs_->Lookup(kRoot, "d").status()), ENOENT);
}

TEST_F(FilesystemTest, RenameBetweenAFileAndADirectory_IsENOTDIR_OrEISDIR) {
  ASSERT_TRUE(fs_->Mkdir(kRoot, "d", 0755, 0, 0).ok());
  ASSERT_TRUE(WriteFile(*fs_, "f", "x").ok());
  EXPECT_EQ(Errno(fs_->Rename(kRoot, "d", kRoot, "f", 0)), ENOTDIR);
  EXPECT_EQ(Errno(fs_->Rename(kRoot, "f", kRoot, "d", 0)), EISDIR);
  EXPECT_EQ(Errno(fs_->Rename(kRoot, "f", kRoot, "d", RENAME_NOREPLACE)), EEXIST);
  ASSERT_TRUE(fs_->Rename(kRoot, "f", kRoot, "g", 0).ok());
  EXPECT_EQ(Stored("/g"), "x");
  EXPECT_EQ(Stored("/f"), "<none>");
}

TEST_F(FilesystemTest, NamesOverTheComponentLimit_AreENAMETOOLONG) {
  std::string long_name(256, 'n');
  EXPECT_EQ(Errno(fs_->Lookup(kRoot, long_name).status()), ENAMETOOLONG);
  EXPECT_EQ(Errno(fs_->Mkdir(kRoot, long_name, 0755, 0, 0).status()), ENAMETOOLONG);
  EXPECT_EQ(Errno(fs_->Create(kRoot, long_name, 0644, 0, 0).status()), ENAMETOOLONG);
  EXPECT_EQ(Errno(fs_->Symlink(std::string(5000, 't'), kRoot, "l", 0, 0).status()), ENAMETOOLONG);
}

TEST_F(FilesystemTest, OneChainMemberDead_CloseSucceeds_OnAChainWithoutIt) {
  filestores_.SetDead(kStores[1]);
  ASSERT_TRUE(WriteFile(*fs_, "f", "survives").ok());
  std::vector<std::string> holders = nameserver_.Holders("/f");
  std::sort(holders.begin(), holders.end());
  EXPECT_EQ(holders, (std::vector<std::string>{kStores[0], kStores[2]}));
  EXPECT_EQ(Stored("/f"), "survives");
  EXPECT_EQ(nameserver_.calls("DoCreate"), 2);  // the chain through it, then one without it
  EXPECT_TRUE(ListKept(base_).empty());
}

TEST_F(FilesystemTest, OneChainMemberDead_TheRetryWaitsItsBackoffOnTheClock) {
  fs_ = Make("backoff", /*write_behind=*/0, /*backoff=*/std::chrono::seconds(10));
  filestores_.SetDead(kStores[0]);
  auto created = fs_->Create(kRoot, "f", 0644, 0, 0);
  ASSERT_TRUE(created.ok()) << created.status();
  FileHandle* fh = created->second;
  ASSERT_TRUE(fs_->Write(fh, "late", 4, 0).ok());
  absl::Status flushed = absl::UnknownError("not flushed");
  std::thread closer([&] { flushed = fs_->Flush(fh); });
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (clock_.waiters() == 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::yield();
  }
  ASSERT_EQ(clock_.waiters(), 1) << "the retry never waited on the clock";
  EXPECT_EQ(nameserver_.calls("DoCreate"), 1);  // the second attempt waits for the backoff
  clock_.Advance(std::chrono::seconds(10));
  closer.join();
  EXPECT_TRUE(flushed.ok()) << flushed;
  EXPECT_EQ(nameserver_.calls("DoCreate"), 2);
  fs_->Release(fh);
  EXPECT_EQ(Stored("/f"), "late");
}

TEST_F(FilesystemTest, EveryFileStoreDead_CloseFailsWithEIO_AndTheStagedDataIsKept) {
  for (const std::string& address : kStores) filestores_.SetDead(address);
  absl::Status closed = WriteFile(*fs_, "f", "precious");
  EXPECT_EQ(Errno(closed), EIO) << closed;
  std::vector<KeptFile> kept = ListKept(base_);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].file.name(), "/f");
  EXPECT_EQ(kept[0].size, 8);
  // The kept file is stored by --retry-kept once the FileStores are back (and heartbeat: the
  // NameServer places no chain on a member a client excluded until then).
  for (const std::string& address : kStores) {
    filestores_.SetDead(address, false);
    v1::HeartBeatRequest beat;
    beat.set_filestore(address);
    ASSERT_TRUE(nameserver_.HeartBeat(beat).ok());
  }
  EXPECT_EQ(RetryKept(base_, &nameserver_, &filestores_, {.backoff = Duration::zero()}), 0);
  EXPECT_EQ(Stored("/f"), "precious");
  EXPECT_TRUE(ListKept(base_).empty());
}

TEST_F(FilesystemTest, OpenAfterAnotherMountStoredANewVersion_SeesIt_AndDropsTheCachedPages) {
  other_ = Make("b");
  std::vector<uint64_t> invalidated;
  fs_->SetAttributeInvalidator([&](uint64_t ino) { invalidated.push_back(ino); });
  ASSERT_TRUE(WriteFile(*fs_, "f", "one").ok());
  bool keep_cache = true;
  EXPECT_EQ(ReadFile(*fs_, "f", &keep_cache).value_or("<error>"), "one");
  EXPECT_TRUE(ReadFile(*fs_, "f", &keep_cache).ok());
  EXPECT_TRUE(keep_cache);  // unchanged since the last open
  invalidated.clear();

  ASSERT_TRUE(WriteFile(*other_, "f", "two!").ok());
  EXPECT_EQ(ReadFile(*fs_, "f", &keep_cache).value_or("<error>"), "two!");
  EXPECT_FALSE(keep_cache);
  EXPECT_EQ(invalidated.size(), 1u);  // the kernel's size of the old version is dropped too
}

TEST_F(FilesystemTest, WriteBehind_FinishedAtClose_IsTheOnlyUpload) {
  fs_ = Make("wb", /*write_behind=*/4);
  ASSERT_TRUE(WriteFile(*fs_, "f", "streamed bytes").ok());
  EXPECT_EQ(Stored("/f"), "streamed bytes");
  EXPECT_EQ(nameserver_.calls("DoCreate"), 1);
}

TEST_F(FilesystemTest, WriteBehind_CancelledByAWriteBeforeTheEnd_CloseStoresTheFinalBytes) {
  fs_ = Make("wb", /*write_behind=*/4);
  auto created = fs_->Create(kRoot, "f", 0644, 0, 0);
  ASSERT_TRUE(created.ok()) << created.status();
  FileHandle* fh = created->second;
  ASSERT_TRUE(fs_->Write(fh, "abcdefgh", 8, 0).ok());  // starts the stream
  ASSERT_TRUE(fs_->Write(fh, "XY", 2, 2).ok());        // not an append: cancels it
  ASSERT_TRUE(fs_->Flush(fh).ok());
  fs_->Release(fh);
  EXPECT_EQ(Stored("/f"), "abXYefgh");
  // The stream's version never became the file's: close uploaded the whole file anew.
  EXPECT_EQ(nameserver_.calls("DoCreate"), 2);
  EXPECT_EQ(nameserver_.Latest("/f")->version(), nameserver_.last_version());
}

TEST_F(FilesystemTest, WriteBehind_CancelledByARename_CloseStoresUnderTheNewNameOnly) {
  fs_ = Make("wb", /*write_behind=*/4);
  auto created = fs_->Create(kRoot, "a", 0644, 0, 0);
  ASSERT_TRUE(created.ok()) << created.status();
  FileHandle* fh = created->second;
  ASSERT_TRUE(fs_->Write(fh, "abcdefgh", 8, 0).ok());  // starts the stream under /a
  ASSERT_TRUE(fs_->Rename(kRoot, "a", kRoot, "b", 0).ok());
  ASSERT_TRUE(fs_->Write(fh, "ij", 2, 8).ok());
  ASSERT_TRUE(fs_->Flush(fh).ok());
  fs_->Release(fh);
  EXPECT_EQ(Stored("/b"), "abcdefghij");
  EXPECT_EQ(Stored("/a"), "<none>");
  EXPECT_EQ(Errno(fs_->Lookup(kRoot, "a").status()), ENOENT);
}

using Calls = std::vector<std::string>;

TEST_F(FilesystemTest, ColdReadOfASmallFile_IsALookupADoReadAndOneReadSmall) {
  other_ = Make("b");
  const std::string content(4096, 'r');
  ASSERT_TRUE(WriteFile(*other_, "f", content).ok());
  TakeMountCalls();
  // Read in pieces: every read of the handle is served from the one ReadSmall.
  EXPECT_EQ(ReadFile(*fs_, "f", nullptr, /*piece=*/1000).value_or("<error>"), content);
  EXPECT_EQ(TakeMountCalls(), (Calls{"Stat", "DoRead"}));
  EXPECT_EQ(filestores_.Calls(Method::kReadSmall), 1);
  EXPECT_EQ(filestores_.Calls(Method::kRead), 0);
}

TEST_F(FilesystemTest, CreateWriteClose_IsALookupAndADoCreate_AGetattrAfterItAsksNothing) {
  ASSERT_TRUE(fs_->GetAttr(kRoot).ok());  // the kernel's at mount: the parent is known
  TakeMountCalls();
  EXPECT_EQ(Errno(fs_->Lookup(kRoot, "f").status()), ENOENT);  // the kernel's, before create
  ASSERT_TRUE(WriteFile(*fs_, "f", std::string(4096, 'w')).ok());
  EXPECT_EQ(filestores_.Calls(Method::kCreate), 3);  // one chain pass, counted per member
  const uint64_t ino = fs_->inodes().Find("/f").value_or(0);
  auto attr = fs_->GetAttr(ino);
  ASSERT_TRUE(attr.ok()) << attr.status();
  EXPECT_EQ(attr->st_size, 4096);
  EXPECT_EQ(attr->st_mode, S_IFREG | 0644);
  EXPECT_EQ(TakeMountCalls(), (Calls{"Stat", "DoCreate"}));
  // Once the attribute timeout passed, getattr asks again.
  clock_.Advance(std::chrono::seconds(2));
  ASSERT_TRUE(fs_->GetAttr(ino).ok());
  EXPECT_EQ(TakeMountCalls(), (Calls{"Stat"}));
}

TEST_F(FilesystemTest, OverwriteOfAFileJustLookedUp_IsALookupAndADoCreate) {
  other_ = Make("b");
  ASSERT_TRUE(WriteFile(*other_, "f", "old").ok());
  TakeMountCalls();
  auto entry = fs_->Lookup(kRoot, "f");
  ASSERT_TRUE(entry.ok()) << entry.status();
  bool keep_cache = false;
  auto fh = fs_->Open(entry->ino, O_WRONLY | O_TRUNC, &keep_cache);  // a shell's `>`
  ASSERT_TRUE(fh.ok()) << fh.status();
  ASSERT_TRUE(fs_->Write(*fh, "new", 3, 0).ok());
  ASSERT_TRUE(fs_->Flush(*fh).ok());
  fs_->Release(*fh);
  EXPECT_EQ(TakeMountCalls(), (Calls{"Stat", "DoCreate"}));
  EXPECT_EQ(Stored("/f"), "new");
}

TEST_F(FilesystemTest, UnlinkOfANameJustLookedUp_IsALookupAndADoDelete) {
  other_ = Make("b");
  ASSERT_TRUE(WriteFile(*other_, "f", "doomed").ok());
  TakeMountCalls();
  ASSERT_TRUE(fs_->Lookup(kRoot, "f").ok());
  ASSERT_TRUE(fs_->Unlink(kRoot, "f").ok());
  EXPECT_EQ(TakeMountCalls(), (Calls{"Stat", "DoDelete"}));
  EXPECT_EQ(filestores_.Calls(Method::kDelete), 3);  // a tombstone on each holder
  EXPECT_EQ(Stored("/f"), "<none>");
}

TEST_F(FilesystemTest,
       OpenOfAVersionNewerThanLookupSaw_DropsTheKernelsAttributes_GetattrAsksNothing) {
  other_ = Make("b");
  std::vector<uint64_t> invalidated;
  fs_->SetAttributeInvalidator([&](uint64_t ino) { invalidated.push_back(ino); });
  ASSERT_TRUE(WriteFile(*other_, "f", "one").ok());
  auto entry = fs_->Lookup(kRoot, "f");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->attr.st_size, 3);
  ASSERT_TRUE(WriteFile(*other_, "f", "longer").ok());
  TakeMountCalls();
  bool keep_cache = true;
  auto fh = fs_->Open(entry->ino, O_RDONLY, &keep_cache);
  ASSERT_TRUE(fh.ok()) << fh.status();
  EXPECT_FALSE(keep_cache);
  EXPECT_EQ(invalidated, std::vector<uint64_t>{entry->ino});  // its size 3 would clip reads
  auto attr = fs_->GetAttr(entry->ino);
  ASSERT_TRUE(attr.ok()) << attr.status();
  EXPECT_EQ(attr->st_size, 6);
  EXPECT_EQ(TakeMountCalls(), (Calls{"DoRead"}));
  fs_->Release(*fh);
}

TEST_F(FilesystemTest, SmallRead_FirstHolderDead_ReadFromTheNext) {
  other_ = Make("b");
  ASSERT_TRUE(WriteFile(*other_, "f", "survives").ok());
  const std::vector<std::string> holders = HoldersOpenSees("/f");
  ASSERT_EQ(holders.size(), 3u);
  filestores_.SetDead(holders[0]);
  EXPECT_EQ(ReadFile(*fs_, "f").value_or("<error>"), "survives");
  EXPECT_EQ(filestores_.Calls(Method::kReadSmall, holders[0]), 1);
  EXPECT_EQ(filestores_.Calls(Method::kReadSmall, holders[1]), 1);
  EXPECT_EQ(filestores_.Calls(Method::kRead), 0);
}

TEST_F(FilesystemTest, SmallRead_FirstHolderCorrupt_ReadFromTheNext_TheBadReplicaReported) {
  other_ = Make("b");
  ASSERT_TRUE(WriteFile(*other_, "f", "intact").ok());
  const std::vector<std::string> holders = HoldersOpenSees("/f");
  ASSERT_EQ(holders.size(), 3u);
  filestores_.Corrupt(holders[0], "/f");  // a flipped byte: DATA_LOSS, dropped and reported
  EXPECT_EQ(ReadFile(*fs_, "f").value_or("<error>"), "intact");
  EXPECT_EQ(filestores_.Calls(Method::kReadSmall, holders[1]), 1);
  EXPECT_EQ(nameserver_.calls("ReportBadReplica"), 1);
  EXPECT_FALSE(filestores_.Lookup(holders[0], "/f").has_value());
  std::vector<std::string> left = nameserver_.Holders("/f");
  EXPECT_EQ(std::count(left.begin(), left.end(), holders[0]), 0);
  EXPECT_EQ(left.size(), 2u);
}

TEST_F(FilesystemTest, SmallRead_HoldersWithoutReadSmall_ReadThroughTheStream) {
  other_ = Make("b");
  ASSERT_TRUE(WriteFile(*other_, "f", "old holders").ok());
  filestores_.FailNext(Method::kReadSmall, 3, absl::UnimplementedError("an old FileStore"));
  EXPECT_EQ(ReadFile(*fs_, "f").value_or("<error>"), "old holders");
  EXPECT_EQ(filestores_.Calls(Method::kReadSmall), 3);
  EXPECT_GT(filestores_.Calls(Method::kRead), 0);
}

TEST_F(FilesystemTest, ReadLink_IsADoReadAndOneReadSmall) {
  auto link = fs_->Symlink("/some/target", kRoot, "l", 0, 0);
  ASSERT_TRUE(link.ok()) << link.status();
  TakeMountCalls();
  EXPECT_EQ(fs_->ReadLink(link->ino).value_or("<error>"), "/some/target");
  EXPECT_EQ(TakeMountCalls(), (Calls{"DoRead"}));
  EXPECT_EQ(filestores_.Calls(Method::kReadSmall), 1);
  EXPECT_EQ(filestores_.Calls(Method::kRead), 0);
}

TEST_F(FilesystemTest, FileOverOneMiB_ReadThroughTheStream) {
  other_ = Make("b");
  std::string content(kMaxChunkBytes + 1, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7 + i / 4096);
  ASSERT_TRUE(WriteFile(*other_, "big", content).ok());
  auto read = ReadFile(*fs_, "big", nullptr, /*piece=*/128 << 10);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(*read == content) << "read " << read->size() << " bytes";
  EXPECT_EQ(filestores_.Calls(Method::kReadSmall), 0);
  EXPECT_GT(filestores_.Calls(Method::kRead), 0);
}

TEST_F(FilesystemTest, Fsync_UploadsThenEveryHolderFlushesToDisk_CloseDoesNot) {
  auto created = fs_->Create(kRoot, "f", 0644, 0, 0);
  ASSERT_TRUE(created.ok()) << created.status();
  FileHandle* fh = created->second;
  ASSERT_TRUE(fs_->Write(fh, "durable", 7, 0).ok());
  ASSERT_TRUE(fs_->Fsync(fh).ok());
  EXPECT_EQ(Stored("/f"), "durable");
  for (const std::string& holder : nameserver_.Holders("/f")) {
    EXPECT_EQ(filestores_.Calls(MemoryFileStores::Method::kFlush, holder), 1) << holder;
  }
  EXPECT_EQ(filestores_.Calls(MemoryFileStores::Method::kFlush), 3);
  ASSERT_TRUE(fs_->Flush(fh).ok());  // close(): replicated, not flushed to disk
  fs_->Release(fh);
  EXPECT_EQ(filestores_.Calls(MemoryFileStores::Method::kFlush), 3);

  filestores_.FailNext(MemoryFileStores::Method::kFlush, 1, absl::InternalError("fsync failed"));
  bool keep_cache = false;
  auto opened = fs_->Open(fs_->Lookup(kRoot, "f")->ino, O_RDONLY, &keep_cache);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(Errno(fs_->Fsync(*opened)), EIO) << "a holder that could not flush fails fsync";
  fs_->Release(*opened);
}

}  // namespace
}  // namespace chainfs::mount
