#include <gtest/gtest.h>

#include <string>

#include "common/names.h"

namespace chainfs {
namespace {

bool Valid(std::string_view name) { return ValidateName(name).ok(); }

TEST(ValidateName, AcceptsOrdinaryAbsoluteNames) {
  EXPECT_TRUE(Valid("/a"));
  EXPECT_TRUE(Valid("/a/b.txt"));
  EXPECT_TRUE(Valid("/with space/ünïcode/..dots/.hidden/a..b"));
  EXPECT_TRUE(Valid("/" + std::string(kMaxComponentBytes, 'x')));
}

TEST(ValidateName, RejectsHostileNames) {
  for (std::string_view bad : {"", "a", "a/b", "//", "/a//b", "/a/", "/.", "/..", "/a/./b",
                               "/a/../b", "/../etc/passwd", "/a/.."}) {
    auto st = ValidateName(bad);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << "'" << bad << "'";
    EXPECT_FALSE(st.message().empty());
  }
  EXPECT_FALSE(Valid(std::string("/a\0b", 4)));
}

TEST(ValidateName, RejectsOverlongNamesAndComponents) {
  EXPECT_FALSE(Valid("/" + std::string(kMaxComponentBytes + 1, 'x')));
  std::string long_name;
  while (long_name.size() <= kMaxNameBytes) long_name += "/abcdefgh";
  EXPECT_FALSE(Valid(long_name));
}

TEST(ValidateName, AcceptsNamesFarBeyondPathMax) {
  // A 4095-byte relative path below a mount's directory, and more: PATH_MAX bounds a call,
  // not a tree.
  std::string deep = "/mnt-prefix";
  while (deep.size() < 4 * 4096) deep += "/" + std::string(kMaxComponentBytes, 'd');
  EXPECT_TRUE(Valid(deep));
  EXPECT_GE(kMaxNameBytes, size_t{16} << 10);
}

TEST(NameBatchEnd, CutsBatchesByCountAndByNameBytes) {
  auto small = [](size_t) { return size_t{10}; };
  EXPECT_EQ(NameBatchEnd(0, 25, 10, small), 10u);
  EXPECT_EQ(NameBatchEnd(20, 25, 10, small), 25u);
  auto longest = [](size_t) { return kMaxNameBytes; };
  size_t end = NameBatchEnd(0, 10'000, 10'000, longest);
  EXPECT_EQ(end, kNameBatchBytes / kMaxNameBytes);
  EXPECT_LE(end * kMaxNameBytes, kNameBatchBytes);
  // A single name bigger than the byte bound still makes a batch of one.
  EXPECT_EQ(NameBatchEnd(3, 10, 5, [](size_t) { return kNameBatchBytes * 2; }), 4u);
}

TEST(ValidateName, RootIsValidOnlyWhenAllowed) {
  EXPECT_FALSE(ValidateName("/").ok());
  EXPECT_TRUE(ValidateName("/", /*allow_root=*/true).ok());
}

TEST(NameHelpers, SplitAndJoinNames) {
  EXPECT_EQ(ParentOf("/a/b"), "/a");
  EXPECT_EQ(ParentOf("/a"), "/");
  EXPECT_EQ(ParentOf("/"), "/");
  EXPECT_EQ(BaseName("/a/b"), "b");
  EXPECT_EQ(BaseName("/"), "");
  EXPECT_EQ(JoinName("/a", "b"), "/a/b");
  EXPECT_EQ(JoinName("/", "b"), "/b");
}

TEST(NameHelpers, IsUnderMeansStrictlyBeneath) {
  EXPECT_TRUE(IsUnder("/a/b", "/a"));
  EXPECT_TRUE(IsUnder("/a/b/c", "/a"));
  EXPECT_TRUE(IsUnder("/a", "/"));
  EXPECT_FALSE(IsUnder("/a", "/a"));
  EXPECT_FALSE(IsUnder("/ab", "/a"));
  EXPECT_FALSE(IsUnder("/", "/"));
}

}  // namespace
}  // namespace chainfs

TEST(ValidateName, RefusesNamesThatAreNotUtf8) {
  EXPECT_EQ(chainfs::ValidateName("/caf\xc3\xa9").code(), absl::StatusCode::kOk);
  EXPECT_EQ(chainfs::ValidateName("/\xff\xfe").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(chainfs::ValidateName("/a\xc3").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(chainfs::ValidateName("/\xc0\xaf").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(chainfs::ValidateName("/\xed\xa0\x80").code(), absl::StatusCode::kInvalidArgument);
}
