// The background scrub over a real ObjectStore in a temporary directory.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/checksum.h"
#include "servers/filestore/object_store.h"
#include "servers/filestore/scrubber.h"

namespace chainfs::filestore {
namespace {

namespace fs = std::filesystem;

class ScrubberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            fmt::format("chainfs-scrub-{}-{}", ::getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    auto store = ObjectStore::Open({.dir = (root_ / "data").string()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(root_);
  }
  void Put(const std::string& name, int64_t version, const std::string& content) {
    v1::FileInfo info;
    info.set_name(name);
    info.set_version(version);
    auto writer = store_->StartCreate(info);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append(content).ok());
    ASSERT_TRUE((*writer)->Commit(static_cast<int64_t>(content.size()), Checksum(content)).ok());
  }
  // Flips one byte of the object's file at `offset` (the .data, or the .meta of inline ones).
  void Flip(const std::string& name, int64_t version, bool meta, off_t offset) {
    std::string path = store_->ObjectPath(name, version, meta);
    int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0) << path;
    char c;
    ASSERT_EQ(::pread(fd, &c, 1, offset), 1);
    c = static_cast<char>(c ^ 0x5a);
    ASSERT_EQ(::pwrite(fd, &c, 1, offset), 1);
    ::close(fd);
  }

  fs::path root_;
  std::unique_ptr<ObjectStore> store_;
};

TEST_F(ScrubberTest, FlippedByte_ObjectDroppedAndReportedOthersKept) {
  const std::string big(300000, 'b');
  Put("/big", 1, big);
  Put("/good", 2, std::string(200000, 'g'));
  Put("/small", 3, "small content");
  ASSERT_TRUE(store_->AddTombstone("/gone", 4).ok());
  Flip("/big", 1, /*meta=*/false, 150000);
  std::vector<std::pair<std::string, int64_t>> reported;
  Scrubber scrubber(
      store_.get(),
      [&](const std::string& name, int64_t version) { reported.emplace_back(name, version); },
      ScrubSettings{.bytes_per_second = int64_t{1} << 40});
  scrubber.RunPass();
  EXPECT_FALSE(store_->Lookup("/big").has_value());
  EXPECT_TRUE(store_->Lookup("/good").has_value());
  EXPECT_TRUE(store_->Lookup("/small").has_value());
  EXPECT_TRUE(store_->Lookup("/gone").has_value());
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0], std::make_pair(std::string("/big"), int64_t{1}));
  ScrubStats stats = scrubber.stats();
  EXPECT_EQ(stats.objects_checked, 3);
  EXPECT_EQ(stats.bad_found, 1);
  EXPECT_EQ(stats.passes, 1);
  EXPECT_EQ(stats.pass_bytes_total, 300000 + 200000 + 13);
  // A second pass finds nothing more.
  scrubber.RunPass();
  EXPECT_EQ(scrubber.stats().bad_found, 1);
  EXPECT_EQ(scrubber.stats().passes, 2);
}

TEST_F(ScrubberTest, DefaultRate_OnePassPerDayButAtLeastOneMiBPerSecond) {
  Scrubber scrubber(store_.get(), nullptr, ScrubSettings{});
  EXPECT_EQ(scrubber.rate(), 1 << 20);
  Scrubber fixed(store_.get(), nullptr, ScrubSettings{.bytes_per_second = 12345});
  EXPECT_EQ(fixed.rate(), 12345);
}

}  // namespace
}  // namespace chainfs::filestore
