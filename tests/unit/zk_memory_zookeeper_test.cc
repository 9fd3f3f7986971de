// The in-memory twin behaves like the real wrapper (see the integration tests), so unit
// tests of the NameServer and the FileStore can rely on it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "common/zk/zookeeper.h"

namespace chainfs::zk {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

class MemoryZooKeeper : public ::testing::Test {
 protected:
  std::shared_ptr<MemoryEnsemble> ensemble_ = NewMemoryEnsemble();
  std::unique_ptr<ZooKeeper> a_ = NewMemoryZooKeeper(ensemble_);
  std::unique_ptr<ZooKeeper> b_ = NewMemoryZooKeeper(ensemble_);
};

// Counts the firings of watches made by Watch().
struct Fired {
  std::atomic<int> count{0};
  WatchFn Watch() {
    return [this] { ++count; };
  }
};

// Records session events.
struct Events {
  std::mutex mu;
  std::vector<SessionEvent> heard;
  SessionFn Listener() {
    return [this](SessionEvent e) {
      std::lock_guard lock(mu);
      heard.push_back(e);
    };
  }
};

TEST_F(MemoryZooKeeper, InstancesShareOneTree) {
  EXPECT_TRUE(a_->connected());
  EXPECT_TRUE(a_->WaitConnected(Duration::zero()).ok());
  ASSERT_TRUE(a_->Create("/maxver", "10", false).ok());
  auto node = b_->Get("/maxver");
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->data, "10");
  EXPECT_EQ(node->version, 0);
}

TEST_F(MemoryZooKeeper, ConditionalSetAndDeleteFenceStaleVersions) {
  ASSERT_TRUE(a_->Create("/maxver", "10", false).ok());
  EXPECT_EQ(*a_->Set("/maxver", "20", 0), 1);
  EXPECT_EQ(b_->Set("/maxver", "30", 0).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*b_->Set("/maxver", "30", -1), 2);
  EXPECT_EQ(a_->Get("/maxver")->data, "30");
  EXPECT_EQ(a_->Delete("/maxver", 1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(a_->Delete("/maxver", 2).ok());
  EXPECT_EQ(a_->Get("/maxver").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(MemoryZooKeeper, ErrorsMatchTheRealZooKeeper) {
  ASSERT_TRUE(a_->Create("/a", "", false).ok());
  EXPECT_EQ(b_->Create("/a", "", false).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(a_->Create("/x/y", "", false).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(a_->Set("/x", "", -1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(a_->Delete("/x", -1).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(a_->Children("/x").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(a_->Create("/a/child", "", false).ok());
  EXPECT_FALSE(a_->Delete("/a", -1).ok());  // not empty
  EXPECT_FALSE(a_->Create("relative", "", false).ok());
  EXPECT_FALSE(a_->Create("/trailing/", "", false).ok());
}

TEST_F(MemoryZooKeeper, EnsurePathCreatesParentsAndChildrenListsNamesOnly) {
  ASSERT_TRUE(a_->EnsurePath("/filestores").ok());
  ASSERT_TRUE(a_->EnsurePath("/x/y/z").ok());
  ASSERT_TRUE(a_->EnsurePath("/x/y/z").ok());
  ASSERT_TRUE(a_->Create("/x-sibling", "", false).ok());
  EXPECT_THAT(*a_->Children("/x"), ElementsAre("y"));
  EXPECT_THAT(*a_->Children("/"), UnorderedElementsAre("filestores", "x", "x-sibling"));
}

TEST_F(MemoryZooKeeper, EphemeralNodesBelongToTheirInstance) {
  ASSERT_TRUE(b_->Create("/leader", "h:1\nhost", true).ok());
  EXPECT_FALSE(a_->Create("/leader/child", "", false).ok());  // no children of ephemerals
  b_.reset();
  EXPECT_EQ(a_->Get("/leader").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(MemoryZooKeeper, WatchFiresOnceOnChange) {
  ASSERT_TRUE(a_->Create("/minver", "1", false).ok());
  Fired fired;
  ASSERT_TRUE(a_->Get("/minver", fired.Watch()).ok());
  ASSERT_TRUE(b_->Set("/minver", "2", -1).ok());
  ASSERT_TRUE(b_->Set("/minver", "3", -1).ok());
  MemoryWaitIdle(a_.get());
  EXPECT_EQ(fired.count, 1);
}

TEST_F(MemoryZooKeeper, WatchFiresOnDeletionAndOnCreation) {
  Fired created;
  EXPECT_EQ(a_->Get("/leader", created.Watch()).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(b_->Create("/leader", "x", true).ok());
  MemoryWaitIdle(a_.get());
  EXPECT_EQ(created.count, 1);

  Fired deleted;
  ASSERT_TRUE(a_->Get("/leader", deleted.Watch()).ok());
  b_.reset();
  MemoryWaitIdle(a_.get());
  EXPECT_EQ(deleted.count, 1);
}

TEST_F(MemoryZooKeeper, ChildrenWatchFiresWhenTheSetOfChildrenChanges) {
  ASSERT_TRUE(a_->EnsurePath("/filestores").ok());
  Fired fired;
  ASSERT_TRUE(a_->Children("/filestores", fired.Watch()).ok());
  ASSERT_TRUE(a_->Create("/filestores-not-a-child", "", false).ok());
  MemoryWaitIdle(a_.get());
  EXPECT_EQ(fired.count, 0);
  ASSERT_TRUE(b_->Create("/filestores/h:1", "", true).ok());
  MemoryWaitIdle(a_.get());
  EXPECT_EQ(fired.count, 1);
}

TEST_F(MemoryZooKeeper, WatchCallbacksMayCallBackIntoZooKeeper) {
  ASSERT_TRUE(a_->Create("/leader", "one", false).ok());
  std::string seen;
  ASSERT_TRUE(a_->Get("/leader", [&] { seen = a_->Get("/leader")->data; }).ok());
  ASSERT_TRUE(b_->Set("/leader", "two", -1).ok());
  MemoryWaitIdle(a_.get());
  EXPECT_EQ(seen, "two");
}

TEST_F(MemoryZooKeeper, SuspendFailsCallsAndDefersWatchesUntilResume) {
  Events events;
  a_->SetSessionListener(events.Listener());
  ASSERT_TRUE(a_->Create("/eph", "", true).ok());
  Fired fired;
  ASSERT_TRUE(a_->Get("/minver", fired.Watch()).status().code() == absl::StatusCode::kNotFound);

  MemorySuspend(a_.get());
  EXPECT_FALSE(a_->connected());
  EXPECT_EQ(a_->Get("/eph").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(a_->WaitConnected(std::chrono::milliseconds(1)).code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(b_->Create("/minver", "5", false).ok());
  MemoryWaitIdle(a_.get());
  EXPECT_EQ(fired.count, 0);

  MemoryResume(a_.get());
  MemoryWaitIdle(a_.get());
  EXPECT_EQ(fired.count, 1);
  EXPECT_TRUE(a_->Get("/eph").ok());  // the session survived
  EXPECT_THAT(events.heard, ElementsAre(SessionEvent::kSuspended, SessionEvent::kConnected));
}

TEST_F(MemoryZooKeeper, ExpiryDropsEphemeralsFiresWatchesAndStartsANewSession) {
  Events events;
  a_->SetSessionListener(events.Listener());
  ASSERT_TRUE(a_->Create("/leader", "me", true).ok());
  Fired mine;
  ASSERT_TRUE(a_->Get("/leader", mine.Watch()).ok());
  Fired theirs;
  ASSERT_TRUE(b_->Get("/leader", theirs.Watch()).ok());

  MemoryExpire(a_.get());
  MemoryWaitIdle(a_.get());
  MemoryWaitIdle(b_.get());
  EXPECT_THAT(events.heard, ElementsAre(SessionEvent::kExpired, SessionEvent::kConnected));
  EXPECT_EQ(mine.count, 1);
  EXPECT_EQ(theirs.count, 1);
  EXPECT_EQ(b_->Get("/leader").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(a_->connected());
  EXPECT_TRUE(a_->Create("/leader", "me again", true).ok());
  b_.reset();  // b's session ending leaves a's new ephemeral alone
  EXPECT_EQ(a_->Get("/leader")->data, "me again");
}

// The hook for ambiguous writes: the reply is lost whether or not the write applied.
TEST_F(MemoryZooKeeper, LostReplyAnswersUnavailableWhetherOrNotTheWriteApplied) {
  ASSERT_TRUE(a_->Create("/minver", "1", false).ok());
  MemoryLoseNextReply(a_.get(), /*applied=*/true);
  EXPECT_TRUE(absl::IsUnavailable(a_->Set("/minver", "2", 0).status()));
  EXPECT_EQ(b_->Get("/minver")->data, "2");
  EXPECT_EQ(b_->Get("/minver")->version, 1);
  MemoryLoseNextReply(a_.get(), /*applied=*/false);
  EXPECT_TRUE(absl::IsUnavailable(a_->Set("/minver", "3", 1).status()));
  EXPECT_EQ(b_->Get("/minver")->data, "2");
  EXPECT_EQ(*a_->Set("/minver", "3", 1), 2);  // only the next write
  MemoryLoseNextReply(a_.get(), /*applied=*/true, /*then_suspend=*/true);
  EXPECT_TRUE(absl::IsUnavailable(a_->Create("/x", "", false)));
  EXPECT_TRUE(b_->Get("/x").ok());
  EXPECT_FALSE(a_->connected());
  MemoryResume(a_.get());
  EXPECT_TRUE(a_->connected());
}

}  // namespace
}  // namespace chainfs::zk
