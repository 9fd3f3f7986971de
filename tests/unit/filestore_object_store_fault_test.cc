// The object store under injected faults: a failed fsync, a full disk, and a crash between
// any two steps of a commit. Each ends with nothing half-written visible and nothing
// acknowledged lost.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>

#include "tests/unit/filestore_object_store_fixture.h"

namespace chainfs::filestore {
namespace {

using Op = FaultEnv::Op;

class ObjectStoreFaultTest : public ObjectStoreTest {
 protected:
  // After a crash or power loss: the store as a restart finds it, on the real file system.
  void Restart() {
    store_.reset();
    fault_.DropUnsyncedData();
    fault_.Heal();
    Reopen(/*capacity=*/0, Env::Default());
  }
  // The object the name holds, checked against the two versions it may be: its version, or
  // 0 when it holds none.
  int64_t VersionServed(const std::string& name, const std::string& old_content,
                        const std::string& new_content, int64_t old_version) {
    std::optional<v1::FileInfo> info = store_->Lookup(name);
    if (!info.has_value()) return 0;
    auto content = Get(name);
    EXPECT_TRUE(content.ok()) << content.status();
    if (content.ok()) {
      EXPECT_EQ(*content, info->version() == old_version ? old_content : new_content)
          << name << "@" << info->version() << " is not a whole version";
    }
    return info->version();
  }
};

const std::string kOld = "the old content";

TEST_F(ObjectStoreFaultTest, FailedFsyncOfContentOrMeta_FailsTheCommit_OldVersionServed) {
  const std::string big = Content(kInlineBytes + 5000);
  ASSERT_TRUE(Put("/f", 1, kOld).ok());
  const std::set<std::string> before = AllFiles();
  int64_t version = 2;
  // A large object syncs its content, then its meta; a small one only its meta.
  for (const auto& [content, skip] :
       std::vector<std::pair<std::string, int>>{{big, 0}, {big, 1}, {"small", 0}}) {
    fault_.FailFrom(Op::kSync, EIO, skip);
    auto put = Put("/f", version++, content);
    EXPECT_FALSE(put.ok()) << content.size() << " bytes, fsync " << skip;
    fault_.Heal();
    EXPECT_EQ(store_->Lookup("/f")->version(), 1);
    EXPECT_EQ(*Get("/f"), kOld);
    EXPECT_EQ(AllFiles(), before) << "nothing of the failed commit is left";
  }
  Restart();
  EXPECT_EQ(store_->Lookup("/f")->version(), 1);
  EXPECT_EQ(*Get("/f"), kOld);
}

TEST_F(ObjectStoreFaultTest, DiskFullInTheMiddleOfAWrite_ResourceExhausted_OldVersionIntact) {
  const std::string old_big = Content(kInlineBytes * 2, 2);
  ASSERT_TRUE(Put("/f", 1, old_big).ok());
  const std::set<std::string> before = AllFiles();
  const std::string content = Content(9 << 20, 3);  // three write buffers
  int64_t version = 2;
  // Full inside the first buffer, inside the second, and with only the meta left to write.
  for (int64_t space : {int64_t{1000}, int64_t{5 << 20}, int64_t{9 << 20}}) {
    fault_.LimitSpace(space);
    auto put = Put("/f", version++, content);
    EXPECT_EQ(put.status().code(), absl::StatusCode::kResourceExhausted) << space;
    fault_.Heal();
    EXPECT_EQ(*Get("/f"), old_big);
    EXPECT_EQ(AllFiles(), before) << space;
  }
  // The process dies with the disk full in the middle of a write: the restart removes what
  // it left, and the older version is intact.
  auto writer = store_->StartCreate(Info("/f", version++));
  ASSERT_TRUE(writer.ok());
  fault_.LimitSpace(6 << 20);
  EXPECT_EQ((*writer)->Append(content).code(), absl::StatusCode::kResourceExhausted);
  fault_.CrashAfter(0);
  writer->reset();
  EXPECT_FALSE(TempFiles().empty()) << "the crash kept the writer from cleaning up";
  Restart();
  EXPECT_TRUE(TempFiles().empty());
  EXPECT_EQ(store_->Lookup("/f")->version(), 1);
  EXPECT_EQ(*Get("/f"), old_big);
}

// One commit of each kind, applied to a store holding /f@1: what it does, the name it
// commits and the content that name holds once it succeeded.
struct Commit {
  std::string what;
  std::string name;
  std::function<absl::Status()> run;
  std::string new_content;
};

TEST_F(ObjectStoreFaultTest, CrashAtEveryStepOfACommit_OldOrNewVersion_AcknowledgedKept) {
  const std::string big = Content(kInlineBytes * 3 + 17, 4);
  const std::string old_content = Content(kInlineBytes + 100, 5);  // in a .data file
  auto put = [this](const std::string& content) {
    return [this, content] { return Put("/f", 2, content).status(); };
  };
  const std::vector<Commit> commits = {
      {"small file", "/f", put("new"), "new"},
      {"large file", "/f", put(big), big},
      {"tombstone", "/f", [this] { return store_->AddTombstone("/f", 2).status(); }, ""},
      {"clone", "/g",
       [this] {
         v1::NameVersion source;
         source.set_name("/f");
         source.set_version(1);
         return store_->Clone(source, Info("/g", 2)).status();
       },
       old_content},
  };
  for (const Commit& commit : commits) {
    std::set<std::string> crashed_at;
    for (int64_t steps = 0;; ++steps) {
      SCOPED_TRACE(fmt::format("{}, crash after {} steps", commit.what, steps));
      fault_.Heal();
      fs::remove_all(root_ / "data");
      Reopen();
      ASSERT_TRUE(Put("/f", 1, old_content).ok());
      fault_.CrashAfter(steps);
      const bool acknowledged = commit.run().ok();
      if (!fault_.crashed()) {
        EXPECT_TRUE(acknowledged);
        EXPECT_GE(crashed_at.size(), 3u);
        break;
      }
      crashed_at.insert(std::string(FaultEnv::Name(*fault_.crashed_at())));
      Restart();
      EXPECT_TRUE(TempFiles().empty());
      const int64_t version = VersionServed(commit.name, old_content, commit.new_content, 1);
      if (acknowledged) {
        EXPECT_EQ(version, 2) << "an acknowledged commit was lost";
      } else {
        EXPECT_EQ(version, commit.name == "/f" ? 1 : 0);
      }
      if (commit.what == "tombstone" && version == 2) {
        EXPECT_TRUE(store_->Lookup("/f")->tombstone());
      }
      EXPECT_TRUE(store_->Lookup("/f").has_value()) << "the source of a clone is kept";
    }
    // Every step of the commit was a crash point.
    for (const char* step : {"write", "fsync", "rename", "fsync directory"}) {
      EXPECT_TRUE(crashed_at.contains(step)) << commit.what << " never crashed at " << step;
    }
  }
}

}  // namespace
}  // namespace chainfs::filestore
