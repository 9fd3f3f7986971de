// The FileStore's side of special files and extended attributes: content for a fifo is
// refused and nothing is stored, and queued reports of entries with large extended
// attributes go to the NameServer in calls bounded by bytes, none lost when the NameServer
// was away for one of them.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/checksum.h"
#include "common/client/memory_filestores.h"
#include "common/client/memory_nameserver.h"
#include "common/client/xattr_rules.h"
#include "common/status.h"
#include "servers/filestore/filestore_service.h"
#include "servers/filestore/object_store.h"
#include "servers/filestore/reporter.h"
#include "tests/fixtures/file_info.h"

namespace chainfs::filestore {
namespace {

namespace fs = std::filesystem;
const std::string kSelf = "10.0.0.1:7000";

v1::CreateSmallRequest Small(const v1::FileInfo& file, const std::string& content) {
  v1::CreateSmallRequest req;
  *req.mutable_header()->mutable_file() = file;
  req.mutable_header()->set_forwarded(true);  // its report is queued
  req.set_content(content);
  req.mutable_close()->set_size(static_cast<int64_t>(content.size()));
  req.mutable_close()->set_checksum(Checksum(content));
  return req;
}

class FileStoreXattrTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("chainfs-fsxattr-{}", ::getpid());
    fs::remove_all(dir_);
    auto store = ObjectStore::Open({.dir = dir_.string()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    reporter_ = std::make_unique<Reporter>(store_.get(), nullptr, &nameserver_, SystemClock::Get(),
                                           ReporterSettings{.self = kSelf});
    service_ = std::make_unique<FileStoreService>(store_.get(), &downstream_, reporter_.get(),
                                                  FileStoreSettings{.self = kSelf});
    reporter_->RunOnce();  // registered
  }
  void TearDown() override {
    service_.reset();
    reporter_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  absl::Status CreateSmall(const v1::CreateSmallRequest& req) {
    grpc::ServerContext ctx;
    v1::CreateReply reply;
    return FromGrpc(service_->CreateSmall(&ctx, &req, &reply));
  }

  fs::path dir_;
  std::unique_ptr<ObjectStore> store_;
  MemoryNameServer nameserver_{{kSelf}, 1};
  MemoryFileStores downstream_{&nameserver_};
  std::unique_ptr<Reporter> reporter_;
  std::unique_ptr<FileStoreService> service_;
};

TEST_F(FileStoreXattrTest, FifoWithContent_IsRefusedAndNothingStored_WithoutIsStored) {
  v1::FileInfo fifo = testing::Info("/p", 5);
  fifo.set_kind(v1::KIND_FIFO);
  EXPECT_EQ(CreateSmall(Small(fifo, "bytes")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->List().empty());
  ASSERT_TRUE(CreateSmall(Small(fifo, "")).ok());
  reporter_->RunOnce();
  EXPECT_EQ(nameserver_.Latest("/p")->kind(), v1::KIND_FIFO);
}

TEST_F(FileStoreXattrTest, XattrsOverTheLimit_AreRefused) {
  v1::FileInfo file = testing::Info("/f", 5);
  (*file.mutable_attributes()->mutable_xattrs())["user.big"] =
      std::string(kMaxXattrValueBytes + 1, 'v');
  EXPECT_EQ(CreateSmall(Small(file, "x")).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(FileStoreXattrTest, QueuedReportsWithLargeXattrs_GoInCallsBoundedByBytes_NoneLost) {
  constexpr int kFiles = 40;  // 40 x ~120 KiB: more than one 4 MiB call
  for (int i = 0; i < kFiles; ++i) {
    v1::FileInfo file = testing::Info(fmt::format("/f{}", i), 10 + i);
    (*file.mutable_attributes()->mutable_xattrs())["user.a"] = std::string(60 << 10, 'a');
    (*file.mutable_attributes()->mutable_xattrs())["user.b"] = std::string(60 << 10, 'b');
    ASSERT_TRUE(CreateSmall(Small(file, "x")).ok());
  }
  nameserver_.FailNext("AddFileOrTombstone", absl::UnavailableError("NameServer away"));
  reporter_->RunOnce();
  EXPECT_GT(reporter_->pending_reports(), 0u);
  reporter_->HeartBeat();  // the NameServer answers again
  reporter_->RunOnce();
  EXPECT_EQ(reporter_->pending_reports(), 0u);
  EXPECT_GE(nameserver_.calls("AddFileOrTombstone"), 3);  // the failed one and at least two
  for (int i = 0; i < kFiles; ++i) {
    auto latest = nameserver_.Latest(fmt::format("/f{}", i));
    ASSERT_TRUE(latest) << i;
    EXPECT_EQ(latest->attributes().xattrs().at("user.b").size(), 60u << 10);
  }
}

}  // namespace
}  // namespace chainfs::filestore
