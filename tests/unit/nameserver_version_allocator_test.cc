#include <gtest/gtest.h>

#include <set>

#include "servers/nameserver/version_allocator.h"

namespace chainfs::nameserver {
namespace {

int64_t MaxVer(zk::ZooKeeper* zk) { return std::stoll(zk->Get(kMaxVerPath)->data); }

TEST(VersionAllocator, StartsAfterMaxVerAndSetsItTenAhead) {
  auto ensemble = zk::NewMemoryEnsemble();
  auto zk = zk::NewMemoryZooKeeper(ensemble);
  ASSERT_TRUE(zk->Create(kMaxVerPath, "41", false).ok());
  VersionAllocator alloc(zk.get(), 10);
  ASSERT_TRUE(alloc.TakeOver().ok());
  EXPECT_EQ(MaxVer(zk.get()), 51);
  EXPECT_EQ(*alloc.Allocate(), 42);
  EXPECT_EQ(alloc.next(), 43);
}

TEST(VersionAllocator, MissingMaxVerStartsAtOne) {
  auto ensemble = zk::NewMemoryEnsemble();
  auto zk = zk::NewMemoryZooKeeper(ensemble);
  VersionAllocator alloc(zk.get(), 10);
  ASSERT_TRUE(alloc.TakeOver().ok());
  EXPECT_EQ(*alloc.Allocate(), 1);
  EXPECT_EQ(MaxVer(zk.get()), 10);
}

// ZooKeeper without its data: /maxver starts again at 0 while FileStores hold versions
// far above it. The registered versions move the lease past them first.
TEST(VersionAllocator, SkipPastAVersionInUseRaisesMaxVerFirst) {
  auto ensemble = zk::NewMemoryEnsemble();
  auto zk = zk::NewMemoryZooKeeper(ensemble);
  VersionAllocator alloc(zk.get(), 10);
  ASSERT_TRUE(alloc.TakeOver().ok());
  ASSERT_TRUE(alloc.SkipPast(23740).ok());
  EXPECT_EQ(MaxVer(zk.get()), 23750);
  EXPECT_EQ(*alloc.Allocate(), 23741);
  // A version below the next one changes nothing.
  ASSERT_TRUE(alloc.SkipPast(100).ok());
  EXPECT_EQ(*alloc.Allocate(), 23742);
  EXPECT_EQ(MaxVer(zk.get()), 23750);
  // One within the lease moves next() without a ZooKeeper write.
  ASSERT_TRUE(alloc.SkipPast(23745).ok());
  EXPECT_EQ(MaxVer(zk.get()), 23750);
  EXPECT_EQ(alloc.next(), 23746);
  EXPECT_EQ(*alloc.Allocate(), 23746);
  // A deposed leader cannot move /maxver: it stops assigning instead.
  ASSERT_TRUE(zk->Set(kMaxVerPath, "99999", -1).ok());
  EXPECT_FALSE(alloc.SkipPast(50000).ok());
  EXPECT_FALSE(alloc.Allocate().ok());
  EXPECT_EQ(MaxVer(zk.get()), 99999);
}

TEST(VersionAllocator, RaisesByStepBeforeCrossingMaxVer) {
  auto ensemble = zk::NewMemoryEnsemble();
  auto zk = zk::NewMemoryZooKeeper(ensemble);
  VersionAllocator alloc(zk.get(), 10);
  ASSERT_TRUE(alloc.TakeOver().ok());
  for (int64_t want = 1; want <= 95; ++want) {
    absl::StatusOr<int64_t> v = alloc.Allocate();
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(*v, want);
    int64_t maxver = MaxVer(zk.get());
    // Never hands out a number above /maxver, and /maxver moves in steps of 10.
    EXPECT_LE(*v, maxver);
    EXPECT_EQ(maxver % 10, 0);
    EXPECT_EQ(maxver, alloc.limit());
    // The next lease is taken while the current one still has numbers left.
    EXPECT_GE(maxver - *v, 5 - 1);
  }
}

TEST(VersionAllocator, DeposedLeaderIsFencedAndNoVersionRepeats) {
  auto ensemble = zk::NewMemoryEnsemble();
  auto zk1 = zk::NewMemoryZooKeeper(ensemble);
  auto zk2 = zk::NewMemoryZooKeeper(ensemble);
  VersionAllocator old_leader(zk1.get(), 10);
  ASSERT_TRUE(old_leader.TakeOver().ok());
  std::set<int64_t> seen;
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(seen.insert(*old_leader.Allocate()).second);
  // A new leader takes over while the old one still believes it leads.
  VersionAllocator new_leader(zk2.get(), 10);
  ASSERT_TRUE(new_leader.TakeOver().ok());
  int old_ok = 0;
  for (int i = 0; i < 30; ++i) {
    absl::StatusOr<int64_t> v = old_leader.Allocate();
    if (!v.ok()) {
      EXPECT_TRUE(absl::IsUnavailable(v.status())) << v.status();
      break;
    }
    ++old_ok;
    ASSERT_TRUE(seen.insert(*v).second) << *v;
  }
  // Only what was left of its last lease (at most two leases of 10 in all).
  EXPECT_LE(7 + old_ok, 20);
  EXPECT_FALSE(old_leader.active());
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<int64_t> v = new_leader.Allocate();
    ASSERT_TRUE(v.ok());
    ASSERT_TRUE(seen.insert(*v).second) << *v;
  }
}

TEST(VersionAllocator, DeactivatedAllocatorRefuses) {
  auto ensemble = zk::NewMemoryEnsemble();
  auto zk = zk::NewMemoryZooKeeper(ensemble);
  VersionAllocator alloc(zk.get(), 10);
  EXPECT_TRUE(absl::IsUnavailable(alloc.Allocate().status()));
  ASSERT_TRUE(alloc.TakeOver().ok());
  alloc.Deactivate();
  EXPECT_TRUE(absl::IsUnavailable(alloc.Allocate().status()));
}

}  // namespace
}  // namespace chainfs::nameserver
