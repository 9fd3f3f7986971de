#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "common/names.h"
#include "fuse/errors.h"
#include "fuse/inode_table.h"

namespace chainfs::mount {
namespace {

TEST(InodeTable, Root_IsInodeOneAndNeverForgotten) {
  InodeTable table;
  EXPECT_EQ(table.Path(kRootInode), "/");
  table.Forget(kRootInode, 100);
  EXPECT_EQ(table.Path(kRootInode), "/");
}

TEST(InodeTable, SamePath_SameInode_LookupsCounted) {
  InodeTable table;
  uint64_t a = table.Ref("/a");
  EXPECT_EQ(table.Ref("/a"), a);
  EXPECT_NE(table.Ref("/b"), a);
  table.Forget(a, 1);
  EXPECT_EQ(table.Path(a), "/a");  // one lookup left
  table.Forget(a, 1);
  EXPECT_EQ(table.Path(a), std::nullopt);
  EXPECT_EQ(table.Find("/a"), std::nullopt);
  EXPECT_NE(table.Ref("/a"), a);  // a fresh inode after the kernel forgot the old one
}

TEST(InodeTable, RenameDirectory_MovesEverythingBeneath) {
  InodeTable table;
  uint64_t dir = table.Ref("/d");
  uint64_t file = table.Ref("/d/x/f");
  uint64_t sibling = table.Ref("/d-other");
  table.Rename("/d", "/e");
  EXPECT_EQ(table.Path(dir), "/e");
  EXPECT_EQ(table.Path(file), "/e/x/f");
  EXPECT_EQ(table.Path(sibling), "/d-other");
  EXPECT_EQ(table.Find("/e/x/f"), file);
  EXPECT_EQ(table.Find("/d/x/f"), std::nullopt);
}

TEST(InodeTable, RenameOverExisting_DetachesTheTarget) {
  InodeTable table;
  uint64_t a = table.Ref("/a");
  uint64_t b = table.Ref("/b");
  table.Rename("/a", "/b");
  EXPECT_EQ(table.Path(a), "/b");
  EXPECT_EQ(table.Path(b), std::nullopt);
  EXPECT_EQ(table.Find("/b"), a);
  table.Forget(b, 1);  // a detached inode is still forgettable
  EXPECT_EQ(table.size(), 2u);
}

TEST(InodeTable, Detach_RemovesPathAndDescendants) {
  InodeTable table;
  uint64_t d = table.Ref("/d");
  uint64_t f = table.Ref("/d/f");
  table.Detach("/d");
  EXPECT_EQ(table.Path(d), std::nullopt);
  EXPECT_EQ(table.Path(f), std::nullopt);
  EXPECT_NE(table.Ref("/d"), d);
}

TEST(InodeTable, ExchangeVersion_ReturnsThePreviousOne) {
  InodeTable table;
  uint64_t a = table.Ref("/a");
  EXPECT_EQ(table.ExchangeVersion(a, 7), 0);
  EXPECT_EQ(table.ExchangeVersion(a, 7), 7);
  EXPECT_EQ(table.ExchangeVersion(a, 9), 7);
}

TEST(InodeTable, Info_AnsweredWhenLearntSinceTheGivenTime_AndDroppedByDetachOrRename) {
  InodeTable table;
  const uint64_t a = table.Ref("/a");
  const uint64_t b = table.Ref("/b");
  const TimePoint t0{std::chrono::seconds(10)};
  v1::FileInfo info;
  info.set_version(7);
  info.set_size(42);
  table.SetInfo(a, info, t0);
  table.SetInfo(b, info, t0);
  ASSERT_TRUE(table.Info(a, t0).has_value());
  EXPECT_EQ(table.Info(a, t0)->size(), 42);
  EXPECT_FALSE(table.Info(a, t0 + std::chrono::nanoseconds(1)).has_value());  // too old
  table.Rename("/a", "/c");
  EXPECT_FALSE(table.Info(a, t0).has_value());
  table.Detach("/b");
  EXPECT_FALSE(table.Info(b, t0).has_value());
  table.SetInfo(b, info, t0);  // a detached inode learns nothing
  EXPECT_FALSE(table.Info(b, t0).has_value());
}

TEST(ChildPath, JoinsAndChecksLimits) {
  EXPECT_EQ(*ChildPath("/", "a"), "/a");
  EXPECT_EQ(*ChildPath("/a", "b"), "/a/b");
  EXPECT_EQ(ErrnoFromStatus(ChildPath("/", std::string(256, 'x')).status()), ENAMETOOLONG);
  EXPECT_TRUE(ChildPath("/", std::string(255, 'x')).ok());
  EXPECT_EQ(ErrnoFromStatus(ChildPath("/", "..").status()), EINVAL);
  EXPECT_EQ(ErrnoFromStatus(ChildPath("/", "a/b").status()), EINVAL);
  // Deeper than PATH_MAX is fine; beyond the stored name limit is not.
  std::string deep = "/" + std::string(250, 'd');
  while (deep.size() < 4096) deep += "/" + std::string(250, 'd');
  EXPECT_TRUE(ChildPath(deep, std::string(200, 'x')).ok());
  while (deep.size() + 200 <= kMaxNameBytes) deep += "/" + std::string(250, 'd');
  EXPECT_EQ(ErrnoFromStatus(ChildPath(deep, std::string(200, 'x')).status()), ENAMETOOLONG);
}

}  // namespace
}  // namespace chainfs::mount
