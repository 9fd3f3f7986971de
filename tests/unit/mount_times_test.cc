// POSIX times through the mount's Filesystem, against the in-memory NameServer and
// FileStores with a FakeClock: what writes, truncation, chmod, utimensat (atime alone, mtime
// alone, UTIME_NOW) and creating or removing entries do to atime, mtime and ctime of a file
// and of its directory; atime on reads under relatime, noatime and strictatime (a clone,
// never an upload, and never twice for one open); directory link counts.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <memory>
#include <string>
#include <vector>

#include "common/client/memory_filestores.h"
#include "common/client/memory_nameserver.h"
#include "common/clock.h"
#include "fuse/filesystem.h"
#include "fuse/times.h"

namespace chainfs::mount {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using Method = MemoryFileStores::Method;

constexpr uint64_t kRoot = 1;
const std::vector<std::string> kStores = {"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"};

int64_t Nanos(const timespec& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }

// Which of a stat's times changed from `before` to `after`: "a", "m", "c" or "-".
std::string Changed(const struct stat& before, const struct stat& after) {
  std::string out;
  if (Nanos(before.st_atim) != Nanos(after.st_atim)) out += "a";
  if (Nanos(before.st_mtim) != Nanos(after.st_mtim)) out += "m";
  if (Nanos(before.st_ctim) != Nanos(after.st_ctim)) out += "c";
  return out.empty() ? "-" : out;
}

class MountTimesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mount-times-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    nameserver_.SetFileStores(&filestores_);
    nameserver_.SetClock(&clock_);
    fs_ = Make(AtimeMode::kRelatime);
    auto dir = fs_->Mkdir(kRoot, "d", 0755, 1000, 1000);
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = dir->ino;
    Tick();
  }
  void TearDown() override {
    fs_.reset();
    std::string cmd = "rm -rf " + base_;
    ASSERT_EQ(system(cmd.c_str()), 0);
  }
  std::unique_ptr<Filesystem> Make(AtimeMode atime) {
    std::string dir = base_ + "/" + std::to_string(++mounts_);
    EXPECT_EQ(::mkdir(dir.c_str(), 0700), 0);
    FilesystemSettings settings;
    settings.cache_dir = dir;
    settings.cache_base = base_;
    settings.times.atime = atime;
    return std::make_unique<Filesystem>(&nameserver_, &filestores_, &clock_, settings);
  }
  // Time passes between steps, so that every change shows.
  void Tick() { clock_.Advance(seconds(2)); }
  struct stat Stat(uint64_t ino) {
    auto st = fs_->GetAttr(ino);
    EXPECT_TRUE(st.ok()) << st.status();
    return st.ok() ? *st : (struct stat){};
  }
  uint64_t WriteFile(const std::string& name, const std::string& content) {
    auto created = fs_->Create(dir_, name, 0644, 1000, 1000);
    EXPECT_TRUE(created.ok()) << created.status();
    FileHandle* fh = created->second;
    EXPECT_TRUE(fs_->Write(fh, content.data(), content.size(), 0).ok());
    EXPECT_TRUE(fs_->Flush(fh).ok());
    fs_->Release(fh);
    return created->first.ino;
  }
  void Read(uint64_t ino) {
    bool keep = false;
    auto fh = fs_->Open(ino, O_RDONLY, &keep);
    ASSERT_TRUE(fh.ok()) << fh.status();
    ASSERT_TRUE(fs_->Read(*fh, 100, 0, [](const iovec*, int) {}).ok());
    ASSERT_TRUE(fs_->Read(*fh, 100, 0, [](const iovec*, int) {}).ok());
    fs_->Release(*fh);
    fs_->DrainAtimeUpdates();
  }
  absl::Status SetAttr(uint64_t ino, const struct stat& attr, int to_set) {
    return fs_->SetAttr(ino, attr, to_set, nullptr).status();
  }

  FakeClock clock_;
  MemoryNameServer nameserver_{kStores};
  MemoryFileStores filestores_{&nameserver_};
  std::string base_;
  int mounts_ = 0;
  std::unique_ptr<Filesystem> fs_;
  uint64_t dir_ = 0;
};

TEST_F(MountTimesTest, ANewFile_HasThreeEqualTimes_AndMovesItsDirectorysMtimeAndCtime) {
  struct stat dir_before = Stat(dir_);
  uint64_t f = WriteFile("f", "x");
  struct stat st = Stat(f);
  EXPECT_EQ(Nanos(st.st_atim), Nanos(st.st_mtim));
  EXPECT_EQ(Nanos(st.st_ctim), Nanos(st.st_mtim));
  EXPECT_EQ(Changed(dir_before, Stat(dir_)), "mc");
}

TEST_F(MountTimesTest, WriteAndTruncate_MoveMtimeAndCtime_NotAtime_NorTheDirectory) {
  uint64_t f = WriteFile("f", "hello");
  Tick();
  struct stat before = Stat(f), dir_before = Stat(dir_);
  bool keep = false;
  auto fh = fs_->Open(f, O_WRONLY, &keep);
  ASSERT_TRUE(fh.ok());
  ASSERT_TRUE(fs_->Write(*fh, "J", 1, 0).ok());
  ASSERT_TRUE(fs_->Flush(*fh).ok());
  fs_->Release(*fh);
  EXPECT_EQ(Changed(before, Stat(f)), "mc");
  Tick();
  before = Stat(f);
  struct stat attr = {};
  attr.st_size = 2;
  ASSERT_TRUE(SetAttr(f, attr, FUSE_SET_ATTR_SIZE).ok());
  EXPECT_EQ(Changed(before, Stat(f)), "mc");
  EXPECT_EQ(Changed(dir_before, Stat(dir_)), "-");
}

TEST_F(MountTimesTest, ChmodAndChown_MoveCtimeOnly) {
  uint64_t f = WriteFile("f", "x");
  Tick();
  struct stat before = Stat(f);
  struct stat attr = {};
  attr.st_mode = 0600;
  ASSERT_TRUE(SetAttr(f, attr, FUSE_SET_ATTR_MODE).ok());
  EXPECT_EQ(Changed(before, Stat(f)), "c");
  Tick();
  before = Stat(f);
  attr.st_uid = 1001;
  ASSERT_TRUE(SetAttr(f, attr, FUSE_SET_ATTR_UID).ok());
  EXPECT_EQ(Changed(before, Stat(f)), "c");
}

TEST_F(MountTimesTest, Utimensat_SetsAtimeAlone_MtimeAlone_OrNow_AndAlwaysMovesCtime) {
  uint64_t f = WriteFile("f", "x");
  Tick();
  struct stat before = Stat(f);
  struct stat attr = {};
  attr.st_atim = {.tv_sec = 1000, .tv_nsec = 5};
  ASSERT_TRUE(SetAttr(f, attr, FUSE_SET_ATTR_ATIME).ok());  // mtime UTIME_OMIT
  struct stat after = Stat(f);
  EXPECT_EQ(Changed(before, after), "ac");
  EXPECT_EQ(Nanos(after.st_atim), 1000'000'000'005);
  EXPECT_EQ(Nanos(after.st_ctim), clock_.WallNanos());
  Tick();
  before = after;
  attr.st_mtim = {.tv_sec = 2000, .tv_nsec = 7};
  ASSERT_TRUE(SetAttr(f, attr, FUSE_SET_ATTR_MTIME).ok());  // atime UTIME_OMIT
  after = Stat(f);
  EXPECT_EQ(Changed(before, after), "mc");
  EXPECT_EQ(Nanos(after.st_mtim), 2000'000'000'007);
  Tick();
  before = after;
  ASSERT_TRUE(SetAttr(f, attr,
                      FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME |
                          FUSE_SET_ATTR_MTIME_NOW)
                  .ok());  // utimensat(NULL): both UTIME_NOW
  after = Stat(f);
  EXPECT_EQ(Changed(before, after), "amc");
  EXPECT_EQ(Nanos(after.st_atim), clock_.WallNanos());
  EXPECT_EQ(Nanos(after.st_mtim), clock_.WallNanos());
}

TEST_F(MountTimesTest, MkdirRmdirRenameAndUnlink_MoveTheirDirectories_AndCountSubdirectories) {
  EXPECT_EQ(Stat(dir_).st_nlink, 2u);
  struct stat before = Stat(dir_);
  auto sub = fs_->Mkdir(dir_, "sub", 0755, 1000, 1000);
  ASSERT_TRUE(sub.ok());
  struct stat after = Stat(dir_);
  EXPECT_EQ(Changed(before, after), "mc");
  EXPECT_EQ(after.st_nlink, 3u);
  Tick();
  uint64_t f = WriteFile("f", "x");
  Tick();
  before = Stat(dir_);
  struct stat sub_before = Stat(sub->ino), f_before = Stat(f);
  ASSERT_TRUE(fs_->Rename(dir_, "f", sub->ino, "g", 0).ok());
  EXPECT_EQ(Changed(before, Stat(dir_)), "mc");
  EXPECT_EQ(Changed(sub_before, Stat(sub->ino)), "mc");
  EXPECT_EQ(Changed(f_before, Stat(f)), "c");
  Tick();
  sub_before = Stat(sub->ino);
  ASSERT_TRUE(fs_->Unlink(sub->ino, "g").ok());
  EXPECT_EQ(Changed(sub_before, Stat(sub->ino)), "mc");
  Tick();
  before = Stat(dir_);
  ASSERT_TRUE(fs_->Rmdir(dir_, "sub").ok());
  after = Stat(dir_);
  EXPECT_EQ(Changed(before, after), "mc");
  EXPECT_EQ(after.st_nlink, 2u);
}

TEST_F(MountTimesTest, Relatime_FirstReadAfterAWriteMovesAtime_ByAClone_TheNextOnlyAfterADay) {
  uint64_t f = WriteFile("f", "hello");
  Tick();
  struct stat before = Stat(f), dir_before = Stat(dir_);
  const int creates = filestores_.Calls(Method::kCreate);
  Read(f);
  EXPECT_EQ(Changed(before, Stat(f)), "a");
  EXPECT_EQ(Changed(dir_before, Stat(dir_)), "-");
  EXPECT_EQ(filestores_.Calls(Method::kCreate), creates);  // no upload
  EXPECT_EQ(nameserver_.Latest("/d/f")->attributes().atime_ns(), clock_.WallNanos());
  Tick();
  before = Stat(f);
  Read(f);
  EXPECT_EQ(Changed(before, Stat(f)), "-");  // atime is newer than mtime and ctime
  clock_.Advance(hours(25));
  Read(f);
  EXPECT_EQ(Changed(before, Stat(f)), "a");
}

TEST_F(MountTimesTest, AnAtimeUpdate_AnotherHandleOfTheVersionItReplacedReadsOn) {
  uint64_t f = WriteFile("f", "hello");
  Tick();
  bool keep = false;
  auto other = fs_->Open(f, O_RDONLY, &keep);  // opened before the update, not read yet
  ASSERT_TRUE(other.ok()) << other.status();
  const int64_t opened = nameserver_.Latest("/d/f")->version();
  Read(f);  // its close moves atime: a clone replaces the version `other` opened
  ASSERT_NE(nameserver_.Latest("/d/f")->version(), opened);
  std::string got;
  ASSERT_TRUE(fs_->Read(*other, 100, 0,
                        [&](const iovec* pieces, int count) {
                          for (int i = 0; i < count; ++i) {
                            got.append(static_cast<const char*>(pieces[i].iov_base),
                                       pieces[i].iov_len);
                          }
                        })
                  .ok());
  EXPECT_EQ(got, "hello");
  fs_->Release(*other);
}

TEST_F(MountTimesTest, AnAtimeUpdate_LetsTheNextOpenKeepTheKernelsCachedPages) {
  uint64_t f = WriteFile("f", "hello");
  Tick();
  Read(f);  // moves atime: a new version, a clone of the one read
  ASSERT_EQ(nameserver_.calls("SetAttributes"), 1);
  bool keep_cache = false;
  auto fh = fs_->Open(f, O_RDONLY, &keep_cache);
  ASSERT_TRUE(fh.ok());
  fs_->Release(*fh);
  EXPECT_TRUE(keep_cache);
}

TEST_F(MountTimesTest, Noatime_ReadsNeverMoveAtime_Strictatime_EveryReadAfterTheInterval) {
  uint64_t f = WriteFile("f", "hello");
  fs_ = Make(AtimeMode::kNoatime);
  auto entry = fs_->Lookup(kRoot, "d");
  ASSERT_TRUE(entry.ok());
  auto file = fs_->Lookup(entry->ino, "f");
  ASSERT_TRUE(file.ok());
  f = file->ino;
  Tick();
  struct stat before = Stat(f);
  Read(f);
  EXPECT_EQ(Changed(before, Stat(f)), "-");
  EXPECT_EQ(nameserver_.calls("SetAttributes"), 0);

  fs_ = Make(AtimeMode::kStrictatime);
  entry = fs_->Lookup(kRoot, "d");
  ASSERT_TRUE(entry.ok());
  file = fs_->Lookup(entry->ino, "f");
  ASSERT_TRUE(file.ok());
  f = file->ino;
  for (int i = 0; i < 2; ++i) {
    Tick();
    before = Stat(f);
    Read(f);
    EXPECT_EQ(Changed(before, Stat(f)), "a") << "read " << i;
  }
  EXPECT_EQ(nameserver_.calls("SetAttributes"), 2);  // one per read, two reads each
}

TEST_F(MountTimesTest, AFailedAtimeUpdate_DoesNotFailTheRead) {
  uint64_t f = WriteFile("f", "hello");
  Tick();
  nameserver_.FailNext("SetAttributes", absl::UnavailableError("no leader"));
  Read(f);  // asserts the reads succeeded
  EXPECT_EQ(nameserver_.calls("SetAttributes"), 1);
}

TEST(AtimeRuleTest, Relatime_UpdatesWhenAtimeIsNotNewerThanMtimeOrCtime_OrADayOld) {
  v1::Attributes a;
  a.set_mtime_ns(100);
  a.set_atime_ns(100);
  a.set_ctime_ns(100);
  EXPECT_TRUE(AtimeDue(AtimeMode::kRelatime, a, 200));
  a.set_atime_ns(150);
  EXPECT_FALSE(AtimeDue(AtimeMode::kRelatime, a, 200));
  a.set_ctime_ns(160);
  EXPECT_TRUE(AtimeDue(AtimeMode::kRelatime, a, 200));
  a.set_ctime_ns(100);
  EXPECT_TRUE(AtimeDue(AtimeMode::kRelatime, a, 150 + kRelatimeMaxAgeNs + 1));
  EXPECT_FALSE(AtimeDue(AtimeMode::kNoatime, a, 150 + kRelatimeMaxAgeNs + 1));
  EXPECT_TRUE(AtimeDue(AtimeMode::kStrictatime, a, 151));
}

TEST(AtimeRuleTest, MountOptions_NameTheThreeRules) {
  AtimeMode mode = AtimeMode::kStrictatime;
  EXPECT_TRUE(ParseAtimeOption("relatime", &mode));
  EXPECT_EQ(mode, AtimeMode::kRelatime);
  EXPECT_TRUE(ParseAtimeOption("noatime", &mode));
  EXPECT_EQ(mode, AtimeMode::kNoatime);
  EXPECT_TRUE(ParseAtimeOption("strictatime", &mode));
  EXPECT_EQ(mode, AtimeMode::kStrictatime);
  EXPECT_FALSE(ParseAtimeOption("atime", &mode));
}

}  // namespace
}  // namespace chainfs::mount
