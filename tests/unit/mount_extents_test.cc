// Holes of staging files: fallocate modes, SEEK_DATA/SEEK_HOLE, and writes that leave zeros as
// holes (fuse/extents.h, StagedFile::Allocate and Seek).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "fuse/errors.h"
#include "fuse/extents.h"
#include "fuse/staging.h"

namespace chainfs::mount {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kMiB = 1 << 20;

class StagingExtentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("chainfs-extents-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto staged = StagedFile::Create((dir_ / "s").string(), v1::Attributes());
    ASSERT_TRUE(staged.ok()) << staged.status();
    staged_ = std::move(*staged);
  }
  void TearDown() override {
    staged_.reset();
    fs::remove_all(dir_);
  }
  std::string ReadAt(int64_t offset, size_t n) {
    std::string out(n, '?');
    auto got = staged_->Read(out.data(), n, offset);
    out.resize(got.ok() ? *got : 0);
    return out;
  }
  void Write(const std::string& data, int64_t offset) {
    ASSERT_TRUE(staged_->Write(data.data(), data.size(), offset, 1).ok());
  }

  fs::path dir_;
  std::unique_ptr<StagedFile> staged_;
};

TEST_F(StagingExtentsTest, OneByteFarOut_IsOneExtent_SeekDataAndHoleFindIt) {
  Write("x", 64 * kMiB);
  EXPECT_EQ(*staged_->Size(), 64 * kMiB + 1);
  auto data = staged_->Seek(0, SEEK_DATA);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(*data, 64 * kMiB - (64 * kMiB) % 4096);
  EXPECT_EQ(*staged_->Seek(0, SEEK_HOLE), 0);
  EXPECT_EQ(ErrnoFromStatus(staged_->Seek(65 * kMiB, SEEK_DATA).status()), ENXIO);
}

TEST_F(StagingExtentsTest, PunchHoleAndZeroRange_ZeroTheRangeKeepTheSize_MarkDirty) {
  Write(std::string(kMiB, 'a'), 0);
  const uint64_t before = staged_->generation();
  ASSERT_TRUE(staged_->Allocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192, 2).ok());
  EXPECT_GT(staged_->generation(), before);
  EXPECT_EQ(ReadAt(4095, 3), std::string("a\0\0", 3));
  ASSERT_TRUE(staged_->Allocate(FALLOC_FL_ZERO_RANGE, 100, 10, 3).ok());
  EXPECT_EQ(ReadAt(99, 12), "a" + std::string(10, '\0') + "a");
  EXPECT_EQ(*staged_->Size(), kMiB);
}

TEST_F(StagingExtentsTest, DefaultModeExtends_KeepSizeDoesNot) {
  ASSERT_TRUE(staged_->Allocate(FALLOC_FL_KEEP_SIZE, 0, kMiB, 1).ok());
  EXPECT_EQ(*staged_->Size(), 0);
  ASSERT_TRUE(staged_->Allocate(0, 0, kMiB, 1).ok());
  EXPECT_EQ(*staged_->Size(), kMiB);
  ASSERT_TRUE(staged_->Allocate(FALLOC_FL_ZERO_RANGE, kMiB, 10, 1).ok());
  EXPECT_EQ(*staged_->Size(), kMiB + 10);
}

TEST_F(StagingExtentsTest, UnsupportedModes_EOPNOTSUPP) {
  EXPECT_EQ(ErrnoFromStatus(staged_->Allocate(FALLOC_FL_COLLAPSE_RANGE, 0, 4096, 1)), EOPNOTSUPP);
  EXPECT_EQ(ErrnoFromStatus(staged_->Allocate(FALLOC_FL_PUNCH_HOLE, 0, 4096, 1)), EOPNOTSUPP);
  EXPECT_EQ(ErrnoFromStatus(staged_->Allocate(0, 0, 0, 1)), EINVAL);
}

TEST(WriteSkippingZerosTest, BlocksOfZerosStayHoles_DataLands) {
  char path[] = "/tmp/chainfs-skipzeros-XXXXXX";
  int fd = ::mkstemp(path);
  ::unlink(path);
  std::string data(8 * kMiB, '\0');
  data[5] = 'a';
  data[7 * kMiB] = 'b';
  ASSERT_TRUE(WriteSkippingZeros(fd, data.data(), data.size(), 0).ok());
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(data.size())), 0);
  struct stat st {};
  ::fstat(fd, &st);
  EXPECT_LE(st.st_blocks * 512, 64 * 1024);
  std::string back(data.size(), '?');
  ASSERT_EQ(::pread(fd, back.data(), back.size(), 0), static_cast<ssize_t>(back.size()));
  EXPECT_TRUE(back == data);
  ::close(fd);
}

}  // namespace
}  // namespace chainfs::mount
