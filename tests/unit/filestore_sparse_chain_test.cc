// Sparse uploads down a real chain of two FileStoreServices on loopback (each on its own
// ObjectStore, no NameServer): only data extents travel, every member stores the holes as
// holes with the same content, copies stay sparse, and a member lost in the middle of an
// extent upload leaves the previous version intact.
#include <fcntl.h>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/block_checksum.h"
#include "common/checksum.h"
#include "common/client/filestore_channels.h"
#include "common/client/filestore_client.h"
#include "common/client/sparse_upload.h"
#include "servers/filestore/filestore_service.h"
#include "servers/filestore/object_store.h"
#include "tests/fixtures/file_info.h"

namespace chainfs::filestore {
namespace {

namespace fs = std::filesystem;
using testing::Info;

constexpr int64_t kSparseSize = int64_t{64} << 20;

int64_t DiskBytesOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return int64_t{st.st_blocks} * 512;
}

// One FileStore: its store, service and server on a loopback port.
struct Member {
  Member(const fs::path& dir, FileStoreApi* forward) {
    store = *ObjectStore::Open({.dir = dir.string()});
    service =
        std::make_unique<FileStoreService>(store.get(), forward, nullptr, FileStoreSettings{});
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service.get());
    server = builder.BuildAndStart();
    address = fmt::format("127.0.0.1:{}", port);
    service->SetSelf(address, nullptr);
  }
  ~Member() { Kill(); }
  void Kill() {
    if (server) server->Shutdown(std::chrono::system_clock::now());
    server.reset();
  }
  std::string Read(const std::string& name, int64_t offset, size_t length) {
    auto reader = store->OpenObject(name, 0);
    if (!reader.ok()) return reader.status().ToString();
    std::string out(length, '?');
    auto n = (*reader)->ReadAt(offset, length, out.data());
    if (!n.ok()) return n.status().ToString();
    out.resize(*n);
    return out;
  }

  std::unique_ptr<ObjectStore> store;
  std::unique_ptr<FileStoreService> service;
  std::unique_ptr<grpc::Server> server;
  std::string address;
};

class SparseChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            fmt::format("chainfs-sparsechain-{}-{}", ::getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    head_ = std::make_unique<Member>(root_ / "head", &forward_);
    tail_ = std::make_unique<Member>(root_ / "tail", &forward_);
  }
  void TearDown() override {
    head_.reset();
    tail_.reset();
    fs::remove_all(root_);
  }
  std::vector<std::string> Chain() const { return {head_->address, tail_->address}; }
  // A local file of kSparseSize with "first" at 0 and "middle" at half of it, holes elsewhere.
  int SparseSource() {
    const std::string path = (root_ / "source").string();
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    EXPECT_EQ(::pwrite(fd, "first", 5, 0), 5);
    EXPECT_EQ(::pwrite(fd, "middle", 6, kSparseSize / 2), 6);
    EXPECT_EQ(::ftruncate(fd, kSparseSize), 0);
    return fd;
  }

  fs::path root_;
  FileStoreClient forward_;  // what the members forward with
  FileStoreClient client_;
  std::unique_ptr<Member> head_;
  std::unique_ptr<Member> tail_;
};

TEST(SparseUploadTest, DataExtents_RoundedToBlocksAndMerged) {
  char path[] = "/tmp/chainfs-extents-XXXXXX";
  int fd = ::mkstemp(path);
  ::unlink(path);
  ASSERT_EQ(::pwrite(fd, "a", 1, 10), 1);
  ASSERT_EQ(::pwrite(fd, "b", 1, 10 << 20), 1);
  ASSERT_EQ(::ftruncate(fd, 20 << 20), 0);
  auto extents = BlockDataExtents(fd, 20 << 20);
  ASSERT_TRUE(extents.ok()) << extents.status();
  ASSERT_EQ(extents->size(), 2u);
  EXPECT_EQ((*extents)[0].offset, 0);
  EXPECT_EQ((*extents)[0].end % kChecksumBlockBytes, 0);
  EXPECT_EQ((*extents)[1].offset, (10 << 20));
  EXPECT_LE(ExtentBytes(*extents), 2 * 64 * 1024 + 2 * 4096);
  ::close(fd);
}

TEST_F(SparseChainTest, SparseFile_OnlyDataSent_EveryMemberStoresTheHoles_SameContent) {
  int fd = SparseSource();
  auto reply = client_.CreateFromFd(Info("/sparse", 1), Chain(), fd);
  ::close(fd);
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->committed_on_size(), 2);
  for (Member* m : {head_.get(), tail_.get()}) {
    ASSERT_TRUE(m->store->Lookup("/sparse").has_value());
    EXPECT_EQ(m->store->Lookup("/sparse")->size(), kSparseSize);
    EXPECT_LT(DiskBytesOf(m->store->ObjectPath("/sparse", 1, false)), 1 << 20);
    EXPECT_EQ(m->Read("/sparse", 0, 7), std::string("first\0\0", 7));
    EXPECT_EQ(m->Read("/sparse", kSparseSize / 2 - 1, 8), std::string("\0middle\0", 8));
    EXPECT_TRUE(m->store->CheckStored("/sparse", 1).ok());
  }
}

TEST_F(SparseChainTest, CopyOfASparseObject_StaysSparse) {
  int fd = SparseSource();
  ASSERT_TRUE(client_.CreateFromFd(Info("/sparse", 1), {head_->address}, fd).ok());
  ::close(fd);
  v1::CopyFileRequest copy;
  copy.set_name("/sparse");
  copy.set_version(1);
  copy.add_sources(head_->address);
  auto copied = client_.CopyFile(tail_->address, copy);
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_LT(DiskBytesOf(tail_->store->ObjectPath("/sparse", 1, false)), 1 << 20);
  EXPECT_EQ(tail_->Read("/sparse", kSparseSize / 2, 6), "middle");
  EXPECT_TRUE(tail_->store->CheckStored("/sparse", 1).ok());
}

TEST_F(SparseChainTest, ExtentGoingBackwards_RefusedAndNothingCommitted) {
  FileStoreChannels channels(2);
  auto stub = *channels.Get(head_->address);
  grpc::ClientContext ctx;
  v1::CreateReply reply;
  auto writer = stub->Create(&ctx, &reply);
  v1::CreateRequest req;
  *req.mutable_header()->mutable_file() = Info("/back", 1);
  ASSERT_TRUE(writer->Write(req));
  req.mutable_extent()->set_offset(1 << 20);
  req.mutable_extent()->set_data("late");
  ASSERT_TRUE(writer->Write(req));
  req.mutable_extent()->set_offset(0);
  writer->Write(req);
  writer->WritesDone();
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(head_->store->Lookup("/back").has_value());
}

// The in-process form of kill -9 of a chain member: its server goes away mid-upload.
TEST_F(SparseChainTest, MemberLostDuringAnExtentUpload_PreviousVersionIntactEverywhere) {
  ASSERT_TRUE(client_.CreateFromString(Info("/f", 1), Chain(), "version one").ok());
  auto stream = client_.OpenCreateStream(Info("/f", 2), Chain(), 0);
  ASSERT_TRUE(stream.ok());
  std::string data(64 * 1024, 'x');
  ASSERT_TRUE((*stream)->WriteExtent(0, &data).ok());
  tail_->Kill();
  data.assign(64 * 1024, 'y');
  (*stream)->WriteExtent(kSparseSize / 2, &data).IgnoreError();
  BlockChecksummer sent;
  sent.Data(std::string(64 * 1024, 'x'));
  sent.Zeros(kSparseSize / 2 - 64 * 1024);
  sent.Data(data);
  sent.Zeros(kSparseSize - sent.size());
  (*stream)->Close(kSparseSize, sent.Digest(), true).IgnoreError();
  auto finished = (*stream)->Finish();
  EXPECT_FALSE(finished.ok());
  for (Member* m : {head_.get(), tail_.get()}) {
    ASSERT_TRUE(m->store->Lookup("/f").has_value());
    EXPECT_EQ(m->store->Lookup("/f")->version(), 1);
    EXPECT_EQ(m->Read("/f", 0, 100), "version one");
  }
}

TEST_F(SparseChainTest, WrongChecksumInTheClose_RefusedByTheChain_OlderVersionStays) {
  ASSERT_TRUE(client_.CreateFromString(Info("/f", 1), Chain(), "version one").ok());
  auto stream = client_.OpenCreateStream(Info("/f", 2), Chain(), 0);
  ASSERT_TRUE(stream.ok());
  std::string data = "abc";
  ASSERT_TRUE((*stream)->WriteExtent(1 << 20, &data).ok());
  BlockChecksummer other;
  other.Zeros(1 << 20);
  other.Data("abd");
  ASSERT_TRUE((*stream)->Close((1 << 20) + 3, other.Digest(), true).ok());
  EXPECT_EQ((*stream)->Finish().status().code(), absl::StatusCode::kDataLoss);
  for (Member* m : {head_.get(), tail_.get()}) {
    EXPECT_EQ(m->store->Lookup("/f")->version(), 1);
  }
}

}  // namespace
}  // namespace chainfs::filestore
