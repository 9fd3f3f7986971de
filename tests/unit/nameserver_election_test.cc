// Election timing with a FakeClock and the memory ZooKeeper: a leader whose ZooKeeper
// connection is lost stops answering as leader 2/3 of the session timeout after ZooKeeper
// last heard from it, not after the loss was noticed.
#include <gtest/gtest.h>

#include "servers/nameserver/election.h"

namespace chainfs::nameserver {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class ElectionTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  std::shared_ptr<zk::MemoryEnsemble> ensemble_ = zk::NewMemoryEnsemble();
  std::unique_ptr<zk::ZooKeeper> zk_ = zk::NewMemoryZooKeeper(ensemble_);
  Election election_{zk_.get(), &clock_, "ns1:9000", "host1", {}, seconds(1)};
  const Duration grace_ = zk_->session_timeout() * 2 / 3;
};

TEST_F(ElectionTest, LostConnection_LeaderStopsTwoThirdsOfTheTimeoutAfterLastContact) {
  election_.Step();
  ASSERT_TRUE(election_.is_leader());
  // ZooKeeper last heard from this leader 5 s before the client noticed the loss.
  clock_.Advance(seconds(5));
  zk::MemorySuspend(zk_.get());
  zk::MemoryWaitIdle(zk_.get());
  clock_.Advance(grace_ - seconds(5) - milliseconds(1));
  EXPECT_TRUE(election_.is_leader());
  clock_.Advance(milliseconds(1));
  EXPECT_FALSE(election_.is_leader());
  zk::MemoryResume(zk_.get());
  zk::MemoryWaitIdle(zk_.get());
  EXPECT_TRUE(election_.is_leader());
}

TEST_F(ElectionTest, EveryAnsweredCampaignStepIsContact) {
  election_.Step();
  ASSERT_TRUE(election_.is_leader());
  clock_.Advance(seconds(5));
  election_.Step();  // reads /leader: ZooKeeper heard from us now
  zk::MemorySuspend(zk_.get());
  zk::MemoryWaitIdle(zk_.get());
  clock_.Advance(grace_ - milliseconds(1));
  EXPECT_TRUE(election_.is_leader());
  clock_.Advance(milliseconds(1));
  EXPECT_FALSE(election_.is_leader());
  // A step while disconnected is no contact.
  election_.Step();
  EXPECT_FALSE(election_.is_leader());
  zk::MemoryResume(zk_.get());
  zk::MemoryWaitIdle(zk_.get());
  EXPECT_TRUE(election_.is_leader());
  // The reconnection is contact: a new loss starts a full grace.
  zk::MemorySuspend(zk_.get());
  zk::MemoryWaitIdle(zk_.get());
  clock_.Advance(grace_ - milliseconds(1));
  EXPECT_TRUE(election_.is_leader());
  clock_.Advance(milliseconds(1));
  EXPECT_FALSE(election_.is_leader());
  zk::MemoryResume(zk_.get());
}

}  // namespace
}  // namespace chainfs::nameserver
