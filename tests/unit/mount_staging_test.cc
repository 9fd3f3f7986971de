#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "fuse/staging.h"

namespace chainfs::mount {
namespace {

class StagedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mount-staging-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(system(cmd.c_str()), 0);
  }
  bool Exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
  }
  std::string dir_;
};

TEST_F(StagedFileTest, WritesReadsAndTruncates_LikeALocalFile) {
  v1::Attributes attrs;
  attrs.set_mode(0640);
  auto staged = StagedFile::Create(dir_ + "/s1", attrs);
  ASSERT_TRUE(staged.ok()) << staged.status();
  StagedFile& f = **staged;
  ASSERT_TRUE(f.Write("hello world", 11, 0, 100).ok());
  ASSERT_TRUE(f.Write("XY", 2, 20, 200).ok());  // a hole
  EXPECT_EQ(*f.Size(), 22);
  char buf[32] = {};
  EXPECT_EQ(*f.Read(buf, sizeof buf, 0), 22u);
  EXPECT_EQ(std::string(buf, 11), "hello world");
  EXPECT_EQ(buf[15], '\0');
  EXPECT_EQ(std::string(buf + 20, 2), "XY");
  ASSERT_TRUE(f.Truncate(5, 300).ok());
  EXPECT_EQ(*f.Size(), 5);
  EXPECT_EQ(*f.Read(buf, sizeof buf, 0), 5u);
  EXPECT_EQ(f.attributes().mtime_ns(), 300);
  EXPECT_EQ(f.attributes().mode(), 0640u);
}

TEST_F(StagedFileTest, Dirty_UntilTheGenerationUploadedIsTheLatest) {
  auto staged = StagedFile::Create(dir_ + "/s2", v1::Attributes());
  ASSERT_TRUE(staged.ok());
  StagedFile& f = **staged;
  EXPECT_FALSE(f.dirty());
  ASSERT_TRUE(f.Write("a", 1, 0, 1).ok());
  EXPECT_TRUE(f.dirty());
  uint64_t uploading = f.generation();
  ASSERT_TRUE(f.Write("b", 1, 1, 2).ok());  // a write racing the upload
  f.MarkUploaded(uploading);
  EXPECT_TRUE(f.dirty());
  f.MarkUploaded(f.generation());
  EXPECT_FALSE(f.dirty());
}

TEST_F(StagedFileTest, SetAttributes_OnlyTheChosenFields) {
  v1::Attributes attrs;
  attrs.set_mode(0644);
  attrs.set_uid(1);
  attrs.set_gid(2);
  attrs.set_mtime_ns(3);
  auto staged = StagedFile::Create(dir_ + "/s3", attrs);
  ASSERT_TRUE(staged.ok());
  v1::Attributes wanted;
  wanted.set_mode(0100755);
  wanted.set_uid(9);
  wanted.set_mtime_ns(99);
  (*staged)->SetAttributes(wanted, true, false, false, true);
  v1::Attributes now = (*staged)->attributes();
  EXPECT_EQ(now.mode(), 0755u);
  EXPECT_EQ(now.uid(), 1u);
  EXPECT_EQ(now.gid(), 2u);
  EXPECT_EQ(now.mtime_ns(), 99);
}

TEST_F(StagedFileTest, Removed_UnlessKept) {
  {
    auto staged = StagedFile::Create(dir_ + "/gone", v1::Attributes());
    ASSERT_TRUE(staged.ok());
    EXPECT_TRUE(Exists(dir_ + "/gone"));
  }
  EXPECT_FALSE(Exists(dir_ + "/gone"));
  {
    auto staged = StagedFile::Create(dir_ + "/kept", v1::Attributes());
    ASSERT_TRUE(staged.ok());
    (*staged)->Keep();
  }
  EXPECT_TRUE(Exists(dir_ + "/kept"));
}

TEST_F(StagedFileTest, CreateOverAnExistingFile_Fails) {
  auto first = StagedFile::Create(dir_ + "/same", v1::Attributes());
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(StagedFile::Create(dir_ + "/same", v1::Attributes()).ok());
}

}  // namespace
}  // namespace chainfs::mount
