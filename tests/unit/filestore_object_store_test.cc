#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <set>

#include "common/names.h"
#include "tests/unit/filestore_object_store_fixture.h"

namespace chainfs::filestore {
namespace {

TEST_F(ObjectStoreTest, CommitThenReopen_SameIndex) {
  ASSERT_TRUE(Put("/a", 3, Content(1000)).ok());
  ASSERT_TRUE(Put("/b/c", 4, Content(300000, 2)).ok());
  ASSERT_TRUE(Put("/empty", 5, "").ok());
  ASSERT_TRUE(store_->AddTombstone("/gone", 6).ok());
  auto before = store_->List();
  int64_t used = store_->bytes_used();
  Reopen();
  auto after = store_->List();
  ASSERT_EQ(before.size(), 4u);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].SerializeAsString(), before[i].SerializeAsString()) << i;
  }
  EXPECT_EQ(store_->bytes_used(), used);
  EXPECT_EQ(*Get("/b/c"), Content(300000, 2));
  EXPECT_TRUE(store_->Lookup("/gone")->tombstone());
}

TEST_F(ObjectStoreTest, FailedDirectoryFsync_FailsTheCommitAndKeepsTheOlderVersion) {
  const std::string big = Content(300000);
  ASSERT_TRUE(Put("/f", 1, "old").ok());
  const std::set<std::string> before = AllFiles();
  fault_.FailFrom(FaultEnv::Op::kSyncDirectory, EIO);
  EXPECT_FALSE(Put("/f", 2, "new").ok());
  EXPECT_FALSE(Put("/f", 3, big).ok());
  EXPECT_FALSE(store_->AddTombstone("/f", 4).ok());
  v1::NameVersion source;
  source.set_name("/f");
  source.set_version(1);
  EXPECT_FALSE(store_->Clone(source, Info("/g", 5)).ok());
  EXPECT_FALSE(Put("/h", 6, big).ok());
  // Nothing of the failed commits is visible or left on disk; the older version serves.
  EXPECT_EQ(store_->Lookup("/f")->version(), 1);
  EXPECT_FALSE(store_->Lookup("/g").has_value());
  EXPECT_FALSE(store_->Lookup("/h").has_value());
  EXPECT_EQ(*Get("/f"), "old");
  EXPECT_EQ(AllFiles(), before);
  fault_.Heal();
  ASSERT_TRUE(Put("/f", 7, "newer").ok());
  Reopen();
  EXPECT_EQ(*Get("/f"), "newer");
}

TEST_F(ObjectStoreTest, VersionNotAboveLatest_RefusedAsTooOld) {
  ASSERT_TRUE(Put("/f", 5, "five").ok());
  EXPECT_TRUE(IsVersionTooOld(Put("/f", 5, "again").status()));
  EXPECT_TRUE(IsVersionTooOld(Put("/f", 4, "older").status()));
  EXPECT_TRUE(IsVersionTooOld(store_->AddTombstone("/f", 5).status()));
  ASSERT_TRUE(Put("/f", 6, "six").ok());
  EXPECT_EQ(*Get("/f"), "six");
  ASSERT_TRUE(store_->AddTombstone("/f", 7).ok());
  EXPECT_TRUE(store_->AddTombstone("/f", 7).ok()) << "the same tombstone again is fine";
  EXPECT_TRUE(IsVersionTooOld(Put("/f", 7, "x").status()));
  ASSERT_TRUE(Put("/f", 8, "eight").ok());
  EXPECT_EQ(*Get("/f"), "eight");
  EXPECT_EQ(store_->OpenObject("/f", 6).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ObjectStoreTest, NewerCommit_UnlinksOlderButOpenReaderStillReads) {
  std::string old_content = Content(200000, 3);
  ASSERT_TRUE(Put("/f", 1, old_content).ok());
  auto reader = store_->OpenObject("/f", 1);
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(Put("/f", 2, "new").ok());
  EXPECT_FALSE(fs::exists(store_->ObjectPath("/f", 1, false)));
  EXPECT_FALSE(fs::exists(store_->ObjectPath("/f", 1, true)));
  std::string out(old_content.size(), '\0');
  ASSERT_EQ(*(*reader)->ReadAt(0, out.size(), out.data()), out.size());
  EXPECT_EQ(out, old_content);
}

TEST_F(ObjectStoreTest, MinVersion_DropsOlderObjectsAndTombstonesAndRefusesThem) {
  ASSERT_TRUE(Put("/old", 3, "x").ok());
  ASSERT_TRUE(store_->AddTombstone("/oldgone", 4).ok());
  ASSERT_TRUE(Put("/new", 10, "y").ok());
  ASSERT_TRUE(store_->SetMinVersion(10).ok());
  auto list = store_->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name(), "/new");
  EXPECT_FALSE(fs::exists(store_->ObjectPath("/old", 3, false)));
  EXPECT_FALSE(fs::exists(store_->ObjectPath("/oldgone", 4, true)));
  EXPECT_TRUE(IsVersionTooOld(Put("/other", 9, "z").status()));
  EXPECT_TRUE(IsVersionTooOld(store_->AddTombstone("/other", 9).status()));
  Reopen();
  EXPECT_EQ(store_->min_version(), 10);
  EXPECT_TRUE(IsVersionTooOld(Put("/other", 9, "z").status()));
  EXPECT_TRUE(Put("/other", 11, "z").ok());
}

TEST_F(ObjectStoreTest, FlippedByte_ReadRefusedOtherBlocksServed) {
  std::string content = Content(300000, 4);
  ASSERT_TRUE(Put("/f", 1, content).ok());
  {
    int fd = ::open(store_->ObjectPath("/f", 1, false).c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    char c = static_cast<char>(content[200000] ^ 0x01);
    ASSERT_EQ(::pwrite(fd, &c, 1, 200000), 1);
    ::close(fd);
  }
  EXPECT_EQ(Get("/f").status().code(), absl::StatusCode::kDataLoss);
  auto reader = store_->OpenObject("/f", 0);
  ASSERT_TRUE(reader.ok());
  std::string buf(1000, '\0');
  EXPECT_EQ((*reader)->ReadAt(199990, 20, buf.data()).status().code(), absl::StatusCode::kDataLoss);
  auto n = (*reader)->ReadAt(1001, 1000, buf.data());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(buf, content.substr(1001, 1000));
  store_->DropCorrupt("/f", 1);
  EXPECT_FALSE(store_->Lookup("/f").has_value());
}

TEST_F(ObjectStoreTest, RangedReadsAtOddOffsets_MatchContent) {
  std::string content = Content(kBlockBytes * 5 + 123, 5);
  ASSERT_TRUE(Put("/f", 1, content).ok());
  auto reader = store_->OpenObject("/f", 1);
  ASSERT_TRUE(reader.ok());
  std::mt19937 rng(7);
  std::string buf;
  for (int i = 0; i < 200; ++i) {
    int64_t offset = rng() % (content.size() + 10);
    size_t length = rng() % (3 * kBlockBytes);
    buf.assign(length, '\0');
    auto n = (*reader)->ReadAt(offset, length, buf.data());
    ASSERT_TRUE(n.ok()) << n.status();
    size_t want = offset >= static_cast<int64_t>(content.size())
                      ? 0
                      : std::min(length, content.size() - static_cast<size_t>(offset));
    ASSERT_EQ(*n, want);
    if (want > 0) {
      EXPECT_EQ(buf.substr(0, want), content.substr(offset, want));
    }
  }
}

TEST_F(ObjectStoreTest, WrongChecksumOrSize_NothingCommitted) {
  auto writer = store_->StartCreate(Info("/f", 1));
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append("hello").ok());
  EXPECT_EQ((*writer)->Commit(5, Checksum("hellO")).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ((*writer)->Commit(6, Checksum("hello")).status().code(), absl::StatusCode::kDataLoss);
  writer->reset();
  EXPECT_FALSE(store_->Lookup("/f").has_value());
  Reopen();
  EXPECT_TRUE(store_->List().empty());
}

TEST_F(ObjectStoreTest, Capacity_ResourceExhaustedAndNothingPartialLeft) {
  Reopen(/*capacity=*/100000);
  ASSERT_TRUE(Put("/small", 1, Content(60000)).ok());
  auto files = AllFiles();
  EXPECT_EQ(Put("/big", 2, Content(60000)).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(store_->StartCreate(Info("/big", 3), 50000).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(AllFiles(), files);
  EXPECT_FALSE(store_->Lookup("/big").has_value());
  EXPECT_TRUE(Put("/fits", 4, Content(40000)).ok());
}

TEST_F(ObjectStoreTest, LeftoversOfACrash_RemovedOnReopen) {
  ASSERT_TRUE(Put("/kept", 1, "kept").ok());
  // An unfinished writer (its temp file) and a data file whose meta never got renamed.
  auto writer = store_->StartCreate(Info("/partial", 2));
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append(Content(5 << 20)).ok());  // beyond one write buffer
  std::string orphan = store_->ObjectPath("/orphan", 3, false);
  std::string bad_meta = store_->ObjectPath("/badmeta", 3, true);
  for (const std::string& path : {orphan, bad_meta}) {
    fs::create_directories(fs::path(path).parent_path());
    ASSERT_TRUE(WriteFileAtomically(path, "orphan data, or not a meta").ok());
  }
  // Reopen on a copy taken while the writer was mid-file, as a crash would leave it.
  fs::copy(root_ / "data", root_ / "crashed", fs::copy_options::recursive);
  writer->reset();
  store_.reset();
  auto store = ObjectStore::Open({.dir = (root_ / "crashed").string()});
  ASSERT_TRUE(store.ok());
  auto list = (*store)->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name(), "/kept");
  for (const auto& e : fs::recursive_directory_iterator(root_ / "crashed")) {
    if (!e.is_regular_file()) continue;
    std::string file = e.path().filename().string();
    EXPECT_FALSE(file.ends_with(".tmp")) << file;
    EXPECT_TRUE(file == "minver" || e.path().parent_path().parent_path().filename() == "objects");
  }
  int objects = 0;
  for (const auto& e : fs::recursive_directory_iterator(root_ / "crashed")) {
    if (e.is_regular_file()) ++objects;
  }
  EXPECT_EQ(objects, 1) << "only /kept's meta remains (a small file lives in its meta)";
}

TEST_F(ObjectStoreTest, Clone_HardLinksLargeContent) {
  std::string content = Content(kInlineBytes + 1, 7);
  ASSERT_TRUE(Put("/big", 1, content).ok());
  v1::NameVersion source;
  source.set_name("/big");
  source.set_version(1);
  ASSERT_TRUE(store_->Clone(source, Info("/copy", 2)).ok());
  struct stat a, b;
  ASSERT_EQ(::stat(store_->ObjectPath("/big", 1, false).c_str(), &a), 0);
  ASSERT_EQ(::stat(store_->ObjectPath("/copy", 2, false).c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(*Get("/copy"), content);
}

TEST_F(ObjectStoreTest, SmallContent_LivesInTheMetaAndSurvivesReopen) {
  std::string content = Content(kInlineBytes, 8);
  ASSERT_TRUE(Put("/small", 1, content).ok());
  ASSERT_TRUE(Put("/empty", 2, "").ok());
  EXPECT_FALSE(fs::exists(store_->ObjectPath("/small", 1, false)));
  EXPECT_FALSE(fs::exists(store_->ObjectPath("/empty", 2, false)));
  Reopen();
  EXPECT_EQ(*Get("/small"), content);
  EXPECT_EQ(*Get("/empty"), "");
  EXPECT_EQ(store_->bytes_used(), static_cast<int64_t>(kInlineBytes));
  // A flipped byte inside the meta's copy of the content is caught by the block checksum.
  std::string meta_path = store_->ObjectPath("/small", 1, true);
  auto bytes = ReadFileToString(meta_path);
  ASSERT_TRUE(bytes.ok());
  size_t at = bytes->find(content.substr(1000, 64));
  ASSERT_NE(at, std::string::npos);
  (*bytes)[at] ^= 0x01;
  ASSERT_TRUE(WriteFileAtomically(meta_path, *bytes).ok());
  EXPECT_EQ(Get("/small").status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(ObjectStoreTest, UnalignedLargeSizes_ReadBackIdentical) {
  // Content goes to disk in aligned direct writes plus a buffered tail.
  for (size_t size :
       {kInlineBytes + 1, size_t{4 << 20}, size_t{(4 << 20) + 1}, size_t{(9 << 20) + 4095}}) {
    std::string content = Content(size, static_cast<int>(size % 1000));
    std::string name = fmt::format("/f{}", size);
    ASSERT_TRUE(Put(name, 1, content).ok()) << size;
    EXPECT_EQ(*Get(name), content) << size;
    EXPECT_EQ(fs::file_size(store_->ObjectPath(name, 1, false)), size);
  }
  Reopen();
  EXPECT_EQ(*Get("/f4194305"), Content((4 << 20) + 1, static_cast<int>(((4 << 20) + 1) % 1000)));
}

TEST_F(ObjectStoreTest, Clone_CopiesSmallContentWithNewAttributesAndKindFromSource) {
  v1::FileInfo dir = Info("/d", 1);
  dir.set_kind(v1::KIND_SYMLINK);
  {
    auto writer = store_->StartCreate(dir);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append("/target").ok());
    ASSERT_TRUE((*writer)->Commit(7, Checksum("/target")).ok());
  }
  v1::NameVersion source;
  source.set_name("/d");
  source.set_version(1);
  v1::FileInfo target = Info("/e", 5);
  target.mutable_attributes()->set_mode(0600);
  target.mutable_attributes()->set_uid(42);
  target.set_kind(v1::KIND_FILE);
  auto cloned = store_->Clone(source, target);
  ASSERT_TRUE(cloned.ok()) << cloned.status();
  EXPECT_EQ(cloned->kind(), v1::KIND_SYMLINK);
  EXPECT_EQ(cloned->attributes().uid(), 42u);
  EXPECT_EQ(cloned->size(), 7);
  EXPECT_EQ(*Get("/e"), "/target");
  // Same name, new version (an attribute change) replaces the old one.
  target.set_name("/d");
  target.set_version(6);
  ASSERT_TRUE(store_->Clone(source, target).ok());
  EXPECT_EQ(store_->Lookup("/d")->version(), 6);
  EXPECT_EQ(store_->Clone(source, target).status().code(), absl::StatusCode::kNotFound);
  source.set_version(6);
  EXPECT_TRUE(IsVersionTooOld(store_->Clone(source, target).status()));
  ASSERT_TRUE(store_->AddTombstone("/t", 9).ok());
  source.set_name("/t");
  source.set_version(9);
  target.set_name("/u");
  target.set_version(10);
  EXPECT_EQ(store_->Clone(source, target).status().code(), absl::StatusCode::kFailedPrecondition);
  Reopen();
  EXPECT_EQ(*Get("/e"), "/target");
  EXPECT_EQ(*Get("/d"), "/target");
}

TEST_F(ObjectStoreTest, Bump_OnlyWhenExpectedMatchesAndNotTombstone) {
  ASSERT_TRUE(Put("/f", 5, "content").ok());
  ASSERT_TRUE(store_->AddTombstone("/t", 5).ok());
  int64_t stored = 0;
  EXPECT_FALSE(*store_->Bump("/f", 4, 20, &stored));
  EXPECT_EQ(stored, 5);
  EXPECT_EQ(store_->Lookup("/f")->version(), 5);
  EXPECT_FALSE(*store_->Bump("/t", 5, 20, &stored));
  EXPECT_TRUE(store_->Lookup("/t")->tombstone());
  EXPECT_FALSE(*store_->Bump("/missing", 5, 20, &stored));
  EXPECT_EQ(stored, 0);
  EXPECT_TRUE(*store_->Bump("/f", 5, 20, &stored));
  EXPECT_EQ(store_->Lookup("/f")->version(), 20);
  EXPECT_EQ(*Get("/f", 20), "content");
  EXPECT_TRUE(*store_->Bump("/f", 20, 20, &stored)) << "a repeated bump is fine";
  Reopen();
  EXPECT_EQ(store_->Lookup("/f")->version(), 20);
  EXPECT_EQ(store_->List().size(), 2u);
}

TEST_F(ObjectStoreTest, ThousandHostileNames_RefusedOrStoredSafely) {
  std::vector<std::string> names = {"../../etc/passwd",
                                    "/../../etc/passwd",
                                    "/a/../../b",
                                    "/./x",
                                    "/a/./b",
                                    "/a//b",
                                    "",
                                    "/",
                                    "relative",
                                    std::string("/nul\0byte", 9),
                                    std::string(5000, 'a'),
                                    "/" + std::string(5000, 'b'),
                                    "/" + std::string(256, 'c'),
                                    "/\xff\xfe\x80",
                                    "/objects/00/../../minver",
                                    "/minver",
                                    "/a/b/",
                                    "//",
                                    "/.",
                                    "/.."};
  std::mt19937 rng(11);
  constexpr char kAlphabet[] =
      "/./\0\xff\x80"
      "abc\\:*~$\n";
  const std::string alphabet(kAlphabet, sizeof(kAlphabet) - 1);  // keeps the NUL inside
  while (names.size() < 1000) {
    std::string name;
    size_t len = rng() % 40;
    if (rng() % 10 == 0) len = 4000 + rng() % 200;
    for (size_t i = 0; i < len; ++i) name += alphabet[rng() % alphabet.size()];
    if (rng() % 2) name = "/" + name;
    names.push_back(name);
  }
  const size_t fixed = 20;  // the hand-picked ones go to the store even when invalid
  std::set<std::string> stored;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    absl::Status valid = ValidateName(name);
    if (!valid.ok()) {
      EXPECT_EQ(valid.code(), absl::StatusCode::kInvalidArgument);
      if (i >= fixed) continue;
    }
    auto put = Put(name, static_cast<int64_t>(i + 1), "content of " + std::to_string(i));
    if (!put.ok()) {
      EXPECT_TRUE(IsVersionTooOld(put.status())) << put.status();  // a repeated random name
      continue;
    }
    stored.insert(name);
    EXPECT_EQ(*Get(name), "content of " + std::to_string(i));
  }
  EXPECT_GE(stored.size(), fixed);
  for (const std::string& path : AllFiles()) {
    EXPECT_TRUE(path.starts_with((root_ / "data/objects/").string())) << path;
  }
  Reopen();
  EXPECT_EQ(store_->List().size(), stored.size());
}

}  // namespace
}  // namespace chainfs::filestore
