// `chainfs fsck` against the in-memory twins of the NameServer and the FileStores: a healthy
// namespace passes; a corrupt, lost or unreachable copy is reported with its name and its
// FileStore (and the bad copy stops counting); --repair brings the names back to full
// replication; bad input is refused.
#include <gtest/gtest.h>

#include <cstdio>

#include "common/client/memory_filestores.h"
#include "common/client/memory_nameserver.h"
#include "tools/fsck.h"

namespace chainfs::cli {
namespace {

const std::string kA = "10.0.0.1:7000";
const std::string kB = "10.0.0.2:7000";
const std::string kC = "10.0.0.3:7000";
const std::string kD = "10.0.0.4:7000";

class FsckTest : public ::testing::Test {
 protected:
  FsckTest() : ns_({kA, kB, kC, kD}), fs_(&ns_) { ns_.SetFileStores(&fs_); }

  void Write(const std::string& path, const std::string& content, v1::Kind kind = v1::KIND_FILE) {
    v1::DoCreateRequest req;
    req.set_path(path);
    absl::StatusOr<v1::DoCreateReply> created = ns_.DoCreate(req);
    ASSERT_TRUE(created.ok()) << created.status();
    v1::FileInfo file;
    file.set_name(path);
    file.set_version(created->version());
    file.set_kind(kind);
    file.mutable_attributes()->set_mode(0644);
    auto done =
        fs_.CreateFromString(file, {created->chain().begin(), created->chain().end()}, content);
    ASSERT_TRUE(done.ok()) << done.status();
  }
  void WriteTree() {
    Write("/d", "", v1::KIND_DIRECTORY);
    Write("/d/a", "alpha");
    Write("/d/sub/b", "beta");
    Write("/top", "top");
  }
  // Runs the whole command; its output is kept in output_.
  absl::StatusOr<bool> Run(FsckOptions options) {
    char* buf = nullptr;
    size_t size = 0;
    std::FILE* out = ::open_memstream(&buf, &size);
    absl::StatusOr<bool> healthy = RunFsck(&ns_, &fs_, options, &clock_, out);
    std::fclose(out);
    output_.assign(buf, size);
    std::free(buf);
    return healthy;
  }
  bool Mentions(const FsckReport& report, const std::string& name, const std::string& filestore,
                const std::string& what) {
    for (const FsckProblem& p : report.problems) {
      if (p.name == name && p.filestore == filestore && p.what.find(what) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  MemoryNameServer ns_;
  MemoryFileStores fs_;
  FakeClock clock_;
  std::string output_;
};

TEST_F(FsckTest, HealthyNamespace_EveryCopyVerified_Healthy) {
  WriteTree();
  absl::StatusOr<FsckReport> report = CheckNamespace(&ns_, &fs_, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->healthy());
  EXPECT_EQ(report->names, 4);
  EXPECT_EQ(report->good_copies, 12);
  EXPECT_EQ(report->replication, 3);
  absl::StatusOr<bool> healthy = Run({});
  ASSERT_TRUE(healthy.ok());
  EXPECT_TRUE(*healthy);
  EXPECT_NE(output_.find("checked 4 names under /"), std::string::npos) << output_;
  EXPECT_NE(output_.find("HEALTHY"), std::string::npos);
}

TEST_F(FsckTest, CorruptCopy_ReportedWithItsFileStore_AndNoLongerCounted) {
  WriteTree();
  std::vector<std::string> holders = ns_.Holders("/d/a");
  ASSERT_EQ(holders.size(), 3u);
  fs_.Corrupt(holders[1], "/d/a");
  absl::StatusOr<FsckReport> report = CheckNamespace(&ns_, &fs_, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->healthy());
  EXPECT_TRUE(Mentions(*report, "/d/a", holders[1], "corrupt"));
  EXPECT_TRUE(Mentions(*report, "/d/a", "", "2 good copies of 3"));
  EXPECT_EQ(report->under_replicated, std::vector<std::string>{"/d/a"});
  EXPECT_EQ(ns_.Holders("/d/a").size(), 2u);
}

TEST_F(FsckTest, LostCopy_ReportedMissing_ExitUnhealthy) {
  WriteTree();
  std::vector<std::string> holders = ns_.Holders("/d/sub/b");
  fs_.Lose(holders[0], "/d/sub/b");
  absl::StatusOr<bool> healthy = Run({});
  ASSERT_TRUE(healthy.ok());
  EXPECT_FALSE(*healthy);
  EXPECT_NE(output_.find("/d/sub/b: copy of version"), std::string::npos) << output_;
  EXPECT_NE(output_.find("missing on " + holders[0]), std::string::npos) << output_;
  EXPECT_NE(output_.find("UNHEALTHY"), std::string::npos);
}

TEST_F(FsckTest, UnreachableHolder_EachOfItsNamesReported) {
  Write("/one", "1");
  fs_.SetDead(ns_.Holders("/one")[2]);
  absl::StatusOr<FsckReport> report = CheckNamespace(&ns_, &fs_, {});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(Mentions(*report, "/one", ns_.Holders("/one")[2], "not verified"));
  EXPECT_EQ(report->under_replicated.size(), 1u);
}

TEST_F(FsckTest, PathGiven_OnlyNamesBeneathItChecked) {
  WriteTree();
  fs_.Corrupt(ns_.Holders("/top")[0], "/top");
  absl::StatusOr<FsckReport> report = CheckNamespace(&ns_, &fs_, {.path = "/d"});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->names, 3);
  EXPECT_TRUE(report->healthy());
  EXPECT_EQ(ns_.Holders("/top").size(), 3u);  // never asked about
}

TEST_F(FsckTest, Repair_CopiesWhatIsShort_SecondCheckHealthy) {
  WriteTree();
  fs_.Lose(ns_.Holders("/d/a")[0], "/d/a");
  fs_.Corrupt(ns_.Holders("/top")[2], "/top");
  absl::StatusOr<bool> healthy = Run({.repair = true});
  ASSERT_TRUE(healthy.ok()) << healthy.status();
  EXPECT_TRUE(*healthy) << output_;
  EXPECT_EQ(ns_.calls("Replicate"), 1);
  EXPECT_EQ(ns_.Holders("/d/a").size(), 3u);
  EXPECT_EQ(ns_.Holders("/top").size(), 3u);
  EXPECT_NE(output_.find("repair: every name is back at 3 copies"), std::string::npos) << output_;
  EXPECT_EQ(output_.rfind("status: HEALTHY"),
            output_.size() - std::string("status: HEALTHY\n").size());
}

TEST_F(FsckTest, BadPathOrTimeout_InvalidArgument) {
  EXPECT_TRUE(absl::IsInvalidArgument(CheckNamespace(&ns_, &fs_, {.path = "no/slash"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckNamespace(&ns_, &fs_, {.path = "/a//b"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Run({.timeout = Duration::zero()}).status()));
}

TEST_F(FsckTest, UnknownPath_NotFound) {
  EXPECT_TRUE(absl::IsNotFound(CheckNamespace(&ns_, &fs_, {.path = "/nothing"}).status()));
}

}  // namespace
}  // namespace chainfs::cli
