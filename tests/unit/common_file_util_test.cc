#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "common/fault_env.h"
#include "common/file_util.h"

namespace chainfs {
namespace {

using Op = FaultEnv::Op;

class FileUtil : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/file_util-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(FileUtil, AtomicFileAppearsOnlyOnCommit) {
  std::string path = dir_ + "/obj";
  auto file = AtomicFile::Create(path);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE(file->Append("hello ").ok());
  ASSERT_TRUE(file->Append("world").ok());
  EXPECT_EQ(file->size(), 11);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::exists(path + std::string(kTempSuffix)));
  ASSERT_TRUE(file->Commit().ok());
  EXPECT_EQ(*ReadFileToString(path), "hello world");
  EXPECT_FALSE(std::filesystem::exists(path + std::string(kTempSuffix)));
}

TEST_F(FileUtil, AbandonedAtomicFileLeavesNothingAndKeepsTheOldContent) {
  std::string path = dir_ + "/obj";
  ASSERT_TRUE(WriteFileAtomically(path, "old").ok());
  {
    auto file = AtomicFile::Create(path);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE(file->Append("new, never committed").ok());
  }
  EXPECT_EQ(*ReadFileToString(path), "old");
  EXPECT_FALSE(std::filesystem::exists(path + std::string(kTempSuffix)));
}

TEST_F(FileUtil, MovedAtomicFileCommitsOnce) {
  std::string path = dir_ + "/moved";
  auto file = AtomicFile::Create(path);
  ASSERT_TRUE(file.ok());
  AtomicFile moved(std::move(*file));
  ASSERT_TRUE(moved.Append("x").ok());
  ASSERT_TRUE(moved.Commit().ok());
  EXPECT_EQ(*ReadFileToString(path), "x");
}

TEST_F(FileUtil, WriteFileAtomicallyReplacesContent) {
  std::string path = dir_ + "/f";
  ASSERT_TRUE(WriteFileAtomically(path, "one").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "").ok());
  EXPECT_EQ(*ReadFileToString(path), "");
}

TEST_F(FileUtil, MissingFilesAndDirectoriesAreNotFound) {
  EXPECT_EQ(ReadFileToString(dir_ + "/none").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(AtomicFile::Create(dir_ + "/no/such/dir/f").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(FileUtil, MakeDirectoriesCreatesParentsAndIsIdempotent) {
  ASSERT_TRUE(MakeDirectories(dir_ + "/a/b/c").ok());
  ASSERT_TRUE(MakeDirectories(dir_ + "/a/b/c").ok());
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/a/b/c"));
  EXPECT_TRUE(FsyncDirectory(dir_ + "/a").ok());
}

TEST_F(FileUtil, FailedFsyncOrRename_FailsTheWrite_AndNoTempIsLeft) {
  FaultEnv env;
  const std::string path = dir_ + "/f";
  ASSERT_TRUE(WriteFileAtomically(path, "old", &env).ok());
  for (Op op : {Op::kSync, Op::kRename, Op::kSyncDirectory}) {
    env.FailFrom(op, EIO);
    EXPECT_FALSE(WriteFileAtomically(path, "new", &env).ok()) << FaultEnv::Name(op);
    env.Heal();
    // A failed directory fsync comes after the rename: the new file is in place, not durable.
    EXPECT_EQ(*ReadFileToString(path), op == Op::kSyncDirectory ? "new" : "old");
    EXPECT_FALSE(std::filesystem::exists(path + std::string(kTempSuffix)));
  }
}

TEST_F(FileUtil, CrashAtEveryStepOfWriteFileAtomically_OldOrNewFile_AndOkMeansNew) {
  const std::string path = dir_ + "/f";
  for (int64_t steps = 0;; ++steps) {
    SCOPED_TRACE(steps);
    FaultEnv env;
    ASSERT_TRUE(WriteFileAtomically(path, "old", &env).ok());
    env.CrashAfter(steps);
    const bool acknowledged = WriteFileAtomically(path, "the new content", &env).ok();
    const bool crashed = env.crashed();
    env.DropUnsyncedData();
    auto content = ReadFileToString(path);
    ASSERT_TRUE(content.ok()) << content.status();
    EXPECT_TRUE(*content == "old" || *content == "the new content") << *content;
    if (acknowledged) {
      EXPECT_EQ(*content, "the new content");
    }
    if (!crashed) break;
  }
}

TEST(ErrnoStatus, MapsErrnoToCodes) {
  EXPECT_EQ(ErrnoStatus("x", ENOENT).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrnoStatus("x", ENOSPC).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoStatus("x", EEXIST).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrnoStatus("x", EIO).code(), absl::StatusCode::kInternal);
  EXPECT_NE(std::string(ErrnoStatus("open /p", ENOENT).message()).find("open /p"),
            std::string::npos);
}

}  // namespace
}  // namespace chainfs
