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

// Defect 5: a raise whose reply was lost although it applied. The allocator re-reads
// /maxver, finds its own value and adopts the new znode version, so the next raise works.
TEST(VersionAllocator, RaiseWithLostReplyThatApplied_AdoptsItAndGoesOn) {
  auto ensemble = zk::NewMemoryEnsemble();
  auto zk = zk::NewMemoryZooKeeper(ensemble);
  VersionAllocator alloc(zk.get(), 10);
  ASSERT_TRUE(alloc.TakeOver().ok());
  zk::MemoryLoseNextReply(zk.get(), /*applied=*/true);
  for (int64_t want = 1; want <= 40; ++want) {
    absl::StatusOr<int64_t> v = alloc.Allocate();
    ASSERT_TRUE(v.ok()) << "version " << want << ": " << v.status();
    EXPECT_EQ(*v, want);
    EXPECT_LE(*v, MaxVer(zk.get()));
  }
  EXPECT_TRUE(alloc.active());
}

TEST(VersionAllocator, RaiseWithLostReplyThatDidNotApply_IsWrittenAgain) {
  auto ensemble = zk::NewMemoryEnsemble();
  auto zk = zk::NewMemoryZooKeeper(ensemble);
  VersionAllocator alloc(zk.get(), 10);
  ASSERT_TRUE(alloc.TakeOver().ok());
  zk::MemoryLoseNextReply(zk.get(), /*applied=*/false);
  for (int64_t want = 1; want <= 40; ++want) {
    absl::StatusOr<int64_t> v = alloc.Allocate();
    ASSERT_TRUE(v.ok()) << "version " << want << ": " << v.status();
    EXPECT_LE(*v, MaxVer(zk.get()));
  }
}

// The connection stays lost after the ambiguous write: the outcome is settled once
// ZooKeeper answers again, before any other raise.
TEST(VersionAllocator, RaiseWithUnknownOutcome_SettledWhenZooKeeperIsBack) {
  auto ensemble = zk::NewMemoryEnsemble();
  auto zk = zk::NewMemoryZooKeeper(ensemble);
  auto reader = zk::NewMemoryZooKeeper(ensemble);
  VersionAllocator alloc(zk.get(), 10);
  ASSERT_TRUE(alloc.TakeOver().ok());
  zk::MemoryLoseNextReply(zk.get(), /*applied=*/true, /*then_suspend=*/true);
  for (int64_t want = 1; want <= 10; ++want) ASSERT_EQ(*alloc.Allocate(), want);
  EXPECT_TRUE(absl::IsUnavailable(alloc.Allocate().status()));
  EXPECT_EQ(MaxVer(reader.get()), 20);  // applied, though the allocator could not know
  zk::MemoryResume(zk.get());
  for (int64_t want = 11; want <= 40; ++want) {
    absl::StatusOr<int64_t> v = alloc.Allocate();
    ASSERT_TRUE(v.ok()) << "version " << want << ": " << v.status();
    EXPECT_EQ(*v, want);
    EXPECT_LE(*v, MaxVer(zk.get()));
  }
}

// Someone else wrote /maxver while our write's outcome was unknown: step down (fenced).
TEST(VersionAllocator, RaiseWithUnknownOutcomeAndAnotherWriter_StepsDown) {
  auto ensemble = zk::NewMemoryEnsemble();
  auto zk = zk::NewMemoryZooKeeper(ensemble);
  auto other = zk::NewMemoryZooKeeper(ensemble);
  VersionAllocator alloc(zk.get(), 10);
  ASSERT_TRUE(alloc.TakeOver().ok());
  zk::MemoryLoseNextReply(zk.get(), /*applied=*/false, /*then_suspend=*/true);
  for (int64_t want = 1; want <= 10; ++want) ASSERT_EQ(*alloc.Allocate(), want);
  ASSERT_TRUE(other->Set(kMaxVerPath, "5000", -1).ok());
  zk::MemoryResume(zk.get());
  EXPECT_TRUE(absl::IsUnavailable(alloc.Allocate().status()));
  EXPECT_FALSE(alloc.active());
  EXPECT_EQ(MaxVer(zk.get()), 5000);
}

TEST(ResolveSet, SettlesAppliedNotAppliedAndForeignWrites) {
  auto ensemble = zk::NewMemoryEnsemble();
  auto zk = zk::NewMemoryZooKeeper(ensemble);
  ASSERT_TRUE(zk->Create("/minver", "0", false).ok());
  zk::MemoryLoseNextReply(zk.get(), /*applied=*/true);
  EXPECT_EQ(*zk::SetAndResolve(zk.get(), "/minver", "7", 0), 1);
  zk::MemoryLoseNextReply(zk.get(), /*applied=*/false);
  EXPECT_EQ(*zk::SetAndResolve(zk.get(), "/minver", "8", 1), 2);
  EXPECT_EQ(zk->Get("/minver")->data, "8");
  ASSERT_TRUE(zk->Set("/minver", "9", 2).ok());  // someone else
  EXPECT_TRUE(absl::IsFailedPrecondition(zk::ResolveSet(zk.get(), "/minver", "8", 1).status()));
}

// Defect 6: a version near 2^63-1 is refused and cannot wedge the cluster.
TEST(VersionAllocator, HugeVersionIsRefusedAndTheNextLeaderStillAllocates) {
  auto ensemble = zk::NewMemoryEnsemble();
  auto zk1 = zk::NewMemoryZooKeeper(ensemble);
  VersionAllocator first(zk1.get(), 10);
  ASSERT_TRUE(first.TakeOver().ok());
  EXPECT_TRUE(absl::IsInvalidArgument(first.SkipPast(INT64_MAX)));
  EXPECT_TRUE(absl::IsInvalidArgument(first.SkipPast(kMaxAcceptedVersion + 1)));
  EXPECT_TRUE(absl::IsInvalidArgument(first.SkipPast(-1)));
  EXPECT_GT(MaxVer(zk1.get()), 0);
  ASSERT_TRUE(first.Allocate().ok());
  first.Deactivate();
  auto zk2 = zk::NewMemoryZooKeeper(ensemble);
  VersionAllocator second(zk2.get(), 10);
  ASSERT_TRUE(second.TakeOver().ok());
  absl::StatusOr<int64_t> v = second.Allocate();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_GT(*v, 0);
  // The largest accepted version still leaves room to allocate above it.
  ASSERT_TRUE(second.SkipPast(kMaxAcceptedVersion).ok());
  for (int i = 0; i < 25; ++i) {
    v = second.Allocate();
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_GT(*v, kMaxAcceptedVersion);
    EXPECT_LE(*v, MaxVer(zk2.get()));
  }
}

// A /maxver left corrupt (e.g. negative, by an older release's overflow) is logged and
// treated as lost instead of keeping every NameServer from leading.
TEST(VersionAllocator, CorruptMaxVerIsTreatedAsLost) {
  for (const char* corrupt : {"-9223372036854775799", "garbage", "9223372036854775807"}) {
    auto ensemble = zk::NewMemoryEnsemble();
    auto zk = zk::NewMemoryZooKeeper(ensemble);
    ASSERT_TRUE(zk->Create(kMaxVerPath, corrupt, false).ok());
    VersionAllocator alloc(zk.get(), 10);
    ASSERT_TRUE(alloc.TakeOver().ok()) << corrupt;
    EXPECT_EQ(*alloc.Allocate(), 1) << corrupt;
    EXPECT_EQ(MaxVer(zk.get()), 10) << corrupt;
    ASSERT_TRUE(alloc.SkipPast(500).ok());
    EXPECT_EQ(*alloc.Allocate(), 501);
  }
}

}  // namespace
}  // namespace chainfs::nameserver
