// Sparse uploads down a real chain of two FileStoreServices on loopback (each on its own
// ObjectStore, no NameServer): only data extents travel, every member stores the holes as
// holes with the same content, copies stay sparse, and a member lost in the middle of an
// extent upload leaves the previous version intact. Uploads on a base version: only the
// changes travel, every member builds the same new content from its own base, and a member
// that lacks the base, holds a corrupt one or builds other content refuses with
// ERROR_BASE_MISSING and commits nothing.
#include <fcntl.h>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/block_checksum.h"
#include "common/checksum.h"
#include "common/client/filestore_channels.h"
#include "common/client/filestore_client.h"
#include "common/client/sparse_upload.h"
#include "common/status.h"
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
    service = std::make_unique<FileStoreService>(store.get(), forward, nullptr, FileStoreSettings{},
                                                 SystemClock::Get(), &registry);
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
  // chainfs_filestore_chain_forward_errors_total.
  double ForwardErrors() {
    for (const prometheus::MetricFamily& family : registry.Collect()) {
      if (family.name == "chainfs_filestore_chain_forward_errors_total") {
        return family.metric.at(0).counter.value;
      }
    }
    return -1;
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

  prometheus::Registry registry;
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

class BaseChainTest : public SparseChainTest {
 protected:
  static constexpr int64_t kSize = int64_t{4} << 20;

  // A local file of kSize with a different byte in every 4 KiB, stored as version 1 on `chain`.
  void StoreVersionOne(const std::vector<std::string>& chain) {
    const std::string path = (root_ / "local").string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    std::string page(4096, '\0');
    for (int64_t at = 0; at < kSize; at += 4096) {
      page.assign(4096, static_cast<char>('a' + at / 4096 % 26));
      ASSERT_EQ(::pwrite(fd_, page.data(), page.size(), at), 4096);
    }
    auto stored = client_.CreateFromFd(Info("/f", 1), chain, fd_);
    ASSERT_TRUE(stored.ok()) << stored.status();
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
    SparseChainTest::TearDown();
  }
  // Version 2 of /f on version 1, sending `changed` of the local file.
  absl::StatusOr<v1::CreateReply> UploadOnBase(const std::vector<DataExtent>& changed) {
    const int64_t size = ::lseek(fd_, 0, SEEK_END);
    CHAINFS_ASSIGN_OR_RETURN(auto stream,
                             client_.OpenCreateStream(Info("/f", 2), Chain(), 0, nullptr, {}, 1));
    CHAINFS_RETURN_IF_ERROR(SendChanges(*stream, fd_, size, changed, kMaxChunkBytes));
    return stream->Finish();
  }
  // The head verifies and commits while the tail still builds (as for every create): when the
  // tail then refuses, the head holds the old version or, unacknowledged, a whole new one.
  void ExpectHeadWhole() {
    const int64_t version = head_->store->Lookup("/f")->version();
    EXPECT_TRUE(head_->store->CheckStored("/f", version).ok());
    if (version == 2) {
      EXPECT_TRUE(head_->Read("/f", 0, kSize + 1) == Local());
    }
  }
  std::string Local() {
    std::string out(static_cast<size_t>(::lseek(fd_, 0, SEEK_END)), '\0');
    EXPECT_EQ(::pread(fd_, out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
    return out;
  }

  int fd_ = -1;
};

TEST_F(BaseChainTest, OnlyTheChangesTravel_EveryMemberBuildsTheSameNewContent) {
  ASSERT_NO_FATAL_FAILURE(StoreVersionOne(Chain()));
  ASSERT_EQ(::pwrite(fd_, "CHANGED", 7, (1 << 20) + 5), 7);
  ASSERT_EQ(::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 << 20, 128 << 10), 0);
  ASSERT_EQ(::pwrite(fd_, "appended", 8, kSize), 8);
  auto stored = UploadOnBase(
      {{(1 << 20) + 5, (1 << 20) + 12}, {2 << 20, (2 << 20) + (128 << 10)}, {kSize, kSize + 8}});
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->committed_on_size(), 2);
  const std::string want = Local();
  for (Member* m : {head_.get(), tail_.get()}) {
    EXPECT_EQ(m->store->Lookup("/f")->version(), 2);
    EXPECT_TRUE(m->Read("/f", 0, want.size() + 1) == want);
    EXPECT_TRUE(m->store->CheckStored("/f", 2).ok());
    EXPECT_LT(DiskBytesOf(m->store->ObjectPath("/f", 2, false)), kSize);  // the hole stayed one
  }
}

TEST_F(BaseChainTest, AMemberWithoutTheBase_BaseMissing_ItCommitsNothing) {
  ASSERT_NO_FATAL_FAILURE(StoreVersionOne({head_->address}));
  ASSERT_EQ(::pwrite(fd_, "x", 1, 100), 1);
  auto stored = UploadOnBase({{100, 101}});
  EXPECT_TRUE(IsBaseMissing(stored.status())) << stored.status();
  EXPECT_FALSE(tail_->store->Lookup("/f").has_value());
  ExpectHeadWhole();
  EXPECT_EQ(head_->ForwardErrors(), 0);  // a refusal passed back, not a forwarding fault
}

TEST_F(BaseChainTest, ACorruptBase_BaseMissing_TheCopyIsDroppedAndTheOtherStays) {
  ASSERT_NO_FATAL_FAILURE(StoreVersionOne(Chain()));
  {  // a flipped byte in an unchanged part of the tail's copy
    const std::string data = tail_->store->ObjectPath("/f", 1, false);
    int fd = ::open(data.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "#", 1, 3 << 20), 1);
    ::close(fd);
  }
  ASSERT_EQ(::pwrite(fd_, "x", 1, 100), 1);
  auto stored = UploadOnBase({{100, 101}});
  EXPECT_TRUE(IsBaseMissing(stored.status())) << stored.status();
  EXPECT_FALSE(tail_->store->Lookup("/f").has_value());  // dropped, as a corrupt replica
  ExpectHeadWhole();
}

TEST_F(BaseChainTest, ABaseOtherThanTheClientsContent_FailsItsChecksumAsBaseMissing) {
  ASSERT_NO_FATAL_FAILURE(StoreVersionOne(Chain()));
  ASSERT_EQ(::pwrite(fd_, "x", 1, 100), 1);
  ASSERT_EQ(::pwrite(fd_, "not said", 8, 3 << 20), 8);  // changed, but not in the ranges sent
  auto stored = UploadOnBase({{100, 101}});
  EXPECT_TRUE(IsBaseMissing(stored.status())) << stored.status();
  for (Member* m : {head_.get(), tail_.get()}) {
    EXPECT_EQ(m->store->Lookup("/f")->version(), 1);
    EXPECT_TRUE(m->store->CheckStored("/f", 1).ok());
  }
}

// The in-process form of kill -9 of a member while it builds on its base.
TEST_F(BaseChainTest, MemberLostWhileBuilding_TheBaseStaysTheLatestEverywhere) {
  ASSERT_NO_FATAL_FAILURE(StoreVersionOne(Chain()));
  auto stream = client_.OpenCreateStream(Info("/f", 2), Chain(), 0, nullptr, {}, 1);
  ASSERT_TRUE(stream.ok());
  std::string data(64 << 10, 'x');
  ASSERT_TRUE((*stream)->WriteExtent(1 << 20, &data).ok());
  tail_->Kill();
  (*stream)->WriteExtent(3 << 20, &data).IgnoreError();
  (*stream)->Close(kSize, 0, true).IgnoreError();
  EXPECT_FALSE((*stream)->Finish().ok());
  for (Member* m : {head_.get(), tail_.get()}) {
    EXPECT_EQ(m->store->Lookup("/f")->version(), 1);
    EXPECT_TRUE(m->store->CheckStored("/f", 1).ok());
  }
  EXPECT_GE(head_->ForwardErrors(), 1);
}

TEST_F(BaseChainTest, HoleExtentsWithoutABase_AndBaseOnCreateSmall_AreInvalidArguments) {
  auto stream = client_.OpenCreateStream(Info("/g", 2), Chain(), 0);
  ASSERT_TRUE(stream.ok());
  (*stream)->WriteHole(0, 100).IgnoreError();
  (*stream)->Close(100, 0, true).IgnoreError();
  EXPECT_EQ((*stream)->Finish().status().code(), absl::StatusCode::kInvalidArgument);
  FileStoreChannels channels(2);
  auto stub = *channels.Get(head_->address);
  grpc::ClientContext ctx;
  v1::CreateSmallRequest small;
  *small.mutable_header()->mutable_file() = Info("/g", 2);
  small.mutable_header()->set_base_version(1);
  v1::CreateReply reply;
  EXPECT_EQ(stub->CreateSmall(&ctx, small, &reply).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(head_->store->Lookup("/g").has_value());
}

}  // namespace
}  // namespace chainfs::filestore
