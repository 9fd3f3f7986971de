// Sparse objects in the FileStore's object store: holes skipped by the writer stay holes on
// disk, read back as zeros, and are covered by the block-list checksum (common/block_checksum.h)
// that start-up recovery, CheckStored and copies verify like the whole-content one.
#include <fcntl.h>
#include <sys/stat.h>

#include "common/block_checksum.h"
#include "tests/unit/filestore_object_store_fixture.h"

namespace chainfs::filestore {
namespace {

constexpr int64_t kHole = int64_t{16} << 20;

// Disk bytes of a file (its allocated blocks).
int64_t DiskBytes(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return int64_t{st.st_blocks} * 512;
}

// The block-list checksum of `content` followed by `zeros` zero bytes.
uint64_t BlockListOf(std::string_view content, int64_t zeros = 0) {
  BlockChecksummer blocks;
  blocks.Data(content);
  blocks.Zeros(zeros);
  return blocks.Digest();
}

class SparseObjectTest : public ObjectStoreTest {
 protected:
  // "head" + a hole of kHole + "tail" + a hole of kHole at the end, as name@version.
  absl::StatusOr<v1::FileInfo> PutSparse(const std::string& name, int64_t version) {
    CHAINFS_ASSIGN_OR_RETURN(auto writer, store_->StartCreate(Info(name, version)));
    CHAINFS_RETURN_IF_ERROR(writer->Append("head"));
    CHAINFS_RETURN_IF_ERROR(writer->Skip(kHole));
    CHAINFS_RETURN_IF_ERROR(writer->Append("tail"));
    return writer->Commit(SparseSize(), SparseChecksum(), /*block_checksum=*/true);
  }
  static int64_t SparseSize() { return 8 + 2 * kHole; }
  static uint64_t SparseChecksum() {
    BlockChecksummer blocks;
    blocks.Data("head");
    blocks.Zeros(kHole);
    blocks.Data("tail");
    blocks.Zeros(kHole);
    return blocks.Digest();
  }
  std::string Read(const std::string& name, int64_t offset, size_t length) {
    auto reader = store_->OpenObject(name, 0);
    EXPECT_TRUE(reader.ok()) << reader.status();
    if (!reader.ok()) return "";
    std::string out(length, '?');
    auto n = (*reader)->ReadAt(offset, length, out.data());
    EXPECT_TRUE(n.ok()) << n.status();
    out.resize(n.ok() ? *n : 0);
    return out;
  }
};

TEST(BlockChecksumTest, ZerosHashedOncePerBlock_SameAsStreamingTheZeros) {
  const int64_t length = 3 * kChecksumBlockBytes + 123;
  BlockChecksummer streamed;
  streamed.Data("ab");
  streamed.Data(std::string(static_cast<size_t>(length), '\0'));
  EXPECT_EQ(streamed.Digest(), BlockListOf("ab", length));
  EXPECT_EQ(streamed.size(), 2 + length);
  EXPECT_NE(BlockListOf("ab", length), BlockListOf("ac", length));
  EXPECT_NE(BlockListOf("ab", length), BlockListOf("ab", length + 1));
}

TEST_F(SparseObjectTest, SkippedRanges_AreHolesOnDisk_ReadAsZeros_AndTheSizeIsKept) {
  auto info = PutSparse("/sparse", 1);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->size(), SparseSize());
  EXPECT_LT(DiskBytes(store_->ObjectPath("/sparse", 1, false)), 1 << 20);
  EXPECT_EQ(Read("/sparse", 0, 6), std::string("head\0\0", 6));
  EXPECT_EQ(Read("/sparse", kHole, 8), std::string(4, '\0') + "tail");
  EXPECT_EQ(Read("/sparse", SparseSize() - 3, 10), std::string(3, '\0'));
  EXPECT_TRUE(store_->CheckStored("/sparse", 1).ok());
}

TEST_F(SparseObjectTest, SparseObject_SurvivesReopenAndVerifiesAfterAnUncleanStop) {
  // Replicated durability (the daemon's default) records whether a stop was clean; a sync
  // store has nothing to verify after any stop.
  auto open = [&] {
    store_.reset();
    auto store = ObjectStore::Open(
        {.dir = (root_ / "data").string(), .env = &fault_, .durability = Durability::kReplicated});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  };
  open();
  ASSERT_TRUE(PutSparse("/sparse", 1).ok());
  open();  // no clean stop recorded: recovery verifies what the last flush did not cover
  EXPECT_GE(store_->recovery_stats().verified, 1);
  EXPECT_EQ(store_->recovery_stats().dropped, 0);
  ASSERT_TRUE(store_->Lookup("/sparse").has_value());
  EXPECT_EQ(store_->Lookup("/sparse")->size(), SparseSize());
  EXPECT_EQ(Read("/sparse", kHole + 4, 4), "tail");
}

TEST_F(SparseObjectTest, FlippedByteInASparseObject_DetectedNotServed) {
  ASSERT_TRUE(PutSparse("/sparse", 1).ok());
  const std::string data = store_->ObjectPath("/sparse", 1, false);
  {
    auto file = Env::Default()->Open(data, O_WRONLY, 0);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->WriteAt("T", kHole + 4).ok());
  }
  EXPECT_EQ(store_->CheckStored("/sparse", 1).code(), absl::StatusCode::kDataLoss);
  auto reader = store_->OpenObject("/sparse", 0);
  ASSERT_TRUE(reader.ok());
  std::string out(8, '\0');
  EXPECT_EQ((*reader)->ReadAt(kHole, 8, out.data()).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(SparseObjectTest, WrongBlockListChecksum_RefusedAndTheOlderVersionStays) {
  ASSERT_TRUE(Put("/f", 1, "old").ok());
  auto writer = store_->StartCreate(Info("/f", 2));
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append("new").ok());
  ASSERT_TRUE((*writer)->Skip(kHole).ok());
  EXPECT_EQ((*writer)->Commit(3 + kHole, BlockListOf("neW", kHole), true).status().code(),
            absl::StatusCode::kDataLoss);
  writer->reset();
  EXPECT_EQ(*Get("/f"), "old");
  EXPECT_TRUE(TempFiles().empty());
}

TEST_F(SparseObjectTest, AHoleWithTheWholeContentChecksum_Refused) {
  auto writer = store_->StartCreate(Info("/f", 1));
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append("x").ok());
  ASSERT_TRUE((*writer)->Skip(kHole).ok());
  std::string dense(static_cast<size_t>(1 + kHole), '\0');
  dense[0] = 'x';
  EXPECT_FALSE((*writer)->Commit(1 + kHole, Checksum(dense)).ok());
  EXPECT_FALSE(store_->Lookup("/f").has_value());
}

TEST_F(SparseObjectTest, CloseSizeBeyondTheData_EndsInAHole) {
  auto writer = store_->StartCreate(Info("/f", 1));
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Skip(kHole).ok());
  ASSERT_TRUE((*writer)->Append("x").ok());
  BlockChecksummer expected;
  expected.Zeros(kHole);
  expected.Data("x");
  expected.Zeros(kHole - 1);
  auto info = (*writer)->Commit(2 * kHole, expected.Digest(), true);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->size(), 2 * kHole);
  EXPECT_EQ(Read("/f", kHole, 2), std::string("x\0", 2));
  EXPECT_LT(DiskBytes(store_->ObjectPath("/f", 1, false)), 1 << 20);
}

TEST_F(SparseObjectTest, SmallSparseContent_StaysInline) {
  auto writer = store_->StartCreate(Info("/small", 1));
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Skip(100).ok());
  ASSERT_TRUE((*writer)->Append("x").ok());
  ASSERT_TRUE((*writer)->Commit(200, BlockListOf(std::string(100, '\0') + "x", 99), true).ok());
  EXPECT_EQ(*Get("/small"), std::string(100, '\0') + "x" + std::string(99, '\0'));
  EXPECT_FALSE(fs::exists(store_->ObjectPath("/small", 1, false)));
}

TEST_F(SparseObjectTest, AppendSparse_LeavesBlocksOfZerosAsHoles) {
  std::string content = Content(1000) + std::string(kHole, '\0') + "end";
  auto writer = store_->StartCreate(Info("/copy", 1));
  ASSERT_TRUE(writer.ok());
  for (size_t at = 0; at < content.size(); at += 1 << 20) {
    ASSERT_TRUE((*writer)->AppendSparse(std::string_view(content).substr(at, 1 << 20)).ok());
  }
  ASSERT_TRUE((*writer)->Commit((*writer)->size(), (*writer)->block_checksum(), true).ok());
  EXPECT_LT(DiskBytes(store_->ObjectPath("/copy", 1, false)), 1 << 20);
  EXPECT_EQ(*Get("/copy"), content);
  EXPECT_TRUE(store_->CheckStored("/copy", 1).ok());
}

}  // namespace
}  // namespace chainfs::filestore
