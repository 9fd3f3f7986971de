// FaultEnv itself: each fault does what the tests built on it rely on.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "common/fault_env.h"
#include "common/file_util.h"

namespace chainfs {
namespace {

using Op = FaultEnv::Op;

class FaultEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/fault_env-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<File> Create(const std::string& name) {
    auto file = env_.Open(dir_ + "/" + name, O_RDWR | O_CREAT | O_EXCL, 0644);
    EXPECT_TRUE(file.ok()) << file.status();
    return file.ok() ? std::move(*file) : nullptr;
  }
  std::string Contents(const std::string& name) {
    auto text = ReadFileToString(dir_ + "/" + name);
    return text.ok() ? *text : "<" + std::string(text.status().message()) + ">";
  }
  std::string dir_;
  FaultEnv env_;
};

TEST_F(FaultEnvTest, FailFrom_PassesTheSkippedCallsThenFailsEveryOneUntilHealed) {
  auto file = Create("f");
  env_.FailFrom(Op::kSync, EIO, /*skip=*/1);
  EXPECT_TRUE(file->Sync().ok());
  EXPECT_EQ(file->Sync().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(file->Sync().code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(file->WriteAt("other calls pass", 0).ok());
  env_.Heal();
  EXPECT_TRUE(file->Sync().ok());
}

TEST_F(FaultEnvTest, LimitSpace_StoresTheWholeBlocksThatFitThenEnospc) {
  auto file = Create("f");
  env_.LimitSpace(4096 + 10);
  EXPECT_TRUE(file->WriteAt("tiny", 0).ok());
  const std::string big(3 * 4096, 'x');
  EXPECT_EQ(file->WriteAt(big, 4).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(*file->Size(), 4 + 4096);
  EXPECT_EQ(file->WriteAt("y", 0).code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(FaultEnvTest, CrashAfter_DoesTheStepsThenRefusesEverythingAndChangesNothing) {
  auto file = Create("f");
  const int64_t before = env_.steps();
  env_.CrashAfter(1);
  EXPECT_TRUE(file->WriteAt("kept", 0).ok());
  EXPECT_FALSE(env_.crashed());
  EXPECT_FALSE(file->WriteAt("lost", 4).ok());
  EXPECT_FALSE(env_.Rename(dir_ + "/f", dir_ + "/g").ok());
  EXPECT_FALSE(env_.ListDirectory(dir_).ok());
  EXPECT_TRUE(env_.crashed());
  EXPECT_EQ(*env_.crashed_at(), Op::kWrite);
  EXPECT_EQ(env_.steps(), before + 1);
  EXPECT_EQ(Contents("f"), "kept");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/g"));
}

TEST_F(FaultEnvTest, DropUnsyncedData_KeepsOnlyWhatFsyncsCovered) {
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/durable", "durable", &env_).ok());
  auto file = Create("partly");
  ASSERT_TRUE(file->WriteAt("synced", 0).ok());
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(env_.SyncDirectory(dir_).ok());
  ASSERT_TRUE(file->WriteAt(" and not", 6).ok());
  auto fresh = Create("fresh");  // its directory is never synced again
  ASSERT_TRUE(fresh->WriteAt("x", 0).ok());
  ASSERT_TRUE(fresh->Sync().ok());
  ASSERT_TRUE(env_.Rename(dir_ + "/durable", dir_ + "/renamed").ok());
  file.reset();
  fresh.reset();
  env_.DropUnsyncedData();
  EXPECT_EQ(Contents("durable"), "durable") << "an unsynced rename is undone";
  EXPECT_EQ(Contents("partly"), "synced");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/fresh"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/renamed"));
}

}  // namespace
}  // namespace chainfs
