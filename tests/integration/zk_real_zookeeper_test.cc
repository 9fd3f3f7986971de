// The ZooKeeper wrapper against a real ZooKeeper server: data and versions, ephemerals,
// one-shot watches, the chroot, and what connection loss and session expiry look like.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/zk/zookeeper.h"
#include "tests/fixtures/zk_server.h"

namespace chainfs::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using zk::SessionEvent;
using zk::ZooKeeper;

constexpr Duration kWait = seconds(20);

// Counts how often a watch or listener fired and what the listener heard.
class Recorder {
 public:
  zk::WatchFn Watch() {
    return [this] {
      std::lock_guard lock(mu_);
      ++fired_;
      cv_.notify_all();
    };
  }
  zk::SessionFn Listener() {
    return [this](SessionEvent e) {
      std::lock_guard lock(mu_);
      events_.push_back(e);
      cv_.notify_all();
    };
  }
  bool WaitFired(int n, Duration timeout = kWait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return fired_ >= n; });
  }
  // Waits until the listener heard `e` (after the first connection) `n` times.
  bool WaitEvent(SessionEvent e, int n = 1, Duration timeout = kWait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      auto heard = EventsLocked();
      return std::count(heard.begin(), heard.end(), e) >= n;
    });
  }
  int fired() {
    std::lock_guard lock(mu_);
    return fired_;
  }
  // What the listener heard, without the first session's kConnected (which may or may not
  // arrive after the listener was set).
  std::vector<SessionEvent> events() {
    std::lock_guard lock(mu_);
    return EventsLocked();
  }

 private:
  std::vector<SessionEvent> EventsLocked() const {
    if (!events_.empty() && events_.front() == SessionEvent::kConnected) {
      return {events_.begin() + 1, events_.end()};
    }
    return events_;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int fired_ = 0;
  std::vector<SessionEvent> events_;
};

std::unique_ptr<ZooKeeper> Connect(const std::string& connect_string,
                                   Duration session_timeout = seconds(10),
                                   const std::string& digest = "") {
  auto address = ParseZkAddress(connect_string);
  EXPECT_TRUE(address.ok()) << address.status();
  auto zk = zk::NewZooKeeper(*address, session_timeout, digest);
  EXPECT_TRUE(zk.ok()) << zk.status();
  EXPECT_TRUE((*zk)->WaitConnected(kWait).ok());
  return *std::move(zk);
}

class RealZooKeeper : public ::testing::Test {
 protected:
  std::string connect_ = SharedZkServer()->ConnectString(UniqueChroot());
  std::unique_ptr<ZooKeeper> zk_ = Connect(connect_);
};

TEST_F(RealZooKeeper, CreateGetSetDeleteFollowVersions) {
  ASSERT_TRUE(zk_->Create("/a", "one", false).ok());
  auto node = zk_->Get("/a");
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->data, "one");
  EXPECT_EQ(node->version, 0);

  EXPECT_EQ(*zk_->Set("/a", "two", 0), 1);
  EXPECT_EQ(*zk_->Set("/a", "three", -1), 2);
  EXPECT_EQ(zk_->Set("/a", "stale", 1).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(zk_->Get("/a")->data, "three");

  EXPECT_EQ(zk_->Create("/a", "again", false).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(zk_->Get("/missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(zk_->Set("/missing", "x", -1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(zk_->Create("/no/parent", "", false).code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(zk_->Create("relative", "", false).ok());
  EXPECT_FALSE(zk_->Get("/trailing/").ok());

  EXPECT_EQ(zk_->Delete("/a", 1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(zk_->Delete("/a", 2).ok());
  EXPECT_EQ(zk_->Delete("/a", -1).code(), absl::StatusCode::kNotFound);
}

TEST_F(RealZooKeeper, EmptyAndLargeDataRoundTrip) {
  ASSERT_TRUE(zk_->Create("/empty", "", false).ok());
  EXPECT_EQ(zk_->Get("/empty")->data, "");
  std::string big(200 * 1024, 'x');
  ASSERT_TRUE(zk_->Create("/big", big, false).ok());
  EXPECT_EQ(zk_->Get("/big")->data, big);
}

TEST_F(RealZooKeeper, EnsurePathCreatesMissingParentsAndToleratesExisting) {
  ASSERT_TRUE(zk_->EnsurePath("/x/y/z").ok());
  ASSERT_TRUE(zk_->EnsurePath("/x/y/z").ok());
  ASSERT_TRUE(zk_->EnsurePath("/x/w").ok());
  EXPECT_THAT(*zk_->Children("/x"), ::testing::UnorderedElementsAre("y", "w"));
}

TEST_F(RealZooKeeper, ChrootIsCreatedAndPathsAreRelativeToIt) {
  std::string chroot = UniqueChroot() + "/deep/er";
  auto rooted = Connect(SharedZkServer()->ConnectString(chroot));
  ASSERT_TRUE(rooted->Create("/leader", "h:1\nhost", true).ok());
  EXPECT_THAT(*rooted->Children("/"), ::testing::ElementsAre("leader"));
  auto plain = Connect(SharedZkServer()->hosts());
  auto node = plain->Get(chroot + "/leader");
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->data, "h:1\nhost");
}

TEST_F(RealZooKeeper, WithADigestOnlyThatIdentityChangesTheNodesAndAnyoneReads) {
  const std::string connect = SharedZkServer()->ConnectString(UniqueChroot());
  auto daemon = Connect(connect, seconds(10), "chainfs:secret");
  ASSERT_TRUE(daemon->Create("/maxver", "10", false).ok());
  ASSERT_TRUE(daemon->Create("/leader", "h:1\nhost", true).ok());
  ASSERT_TRUE(daemon->EnsurePath("/filestores").ok());
  ASSERT_TRUE(daemon->Create("/filestores/h:2", "", true).ok());

  for (const std::string& digest : {std::string(), std::string("chainfs:wrong")}) {
    auto other = Connect(connect, seconds(10), digest);
    EXPECT_EQ(other->Get("/maxver")->data, "10");
    EXPECT_TRUE(absl::IsPermissionDenied(other->Set("/maxver", "999", -1).status()));
    EXPECT_TRUE(absl::IsPermissionDenied(other->Delete("/leader", -1)));
    EXPECT_TRUE(absl::IsPermissionDenied(other->Delete("/filestores/h:2", -1)));
    EXPECT_TRUE(absl::IsPermissionDenied(other->Create("/minver", "0", false)));
    EXPECT_TRUE(absl::IsPermissionDenied(other->Create("/filestores/evil:1", "", true)));
  }
  EXPECT_EQ(daemon->Get("/maxver")->data, "10");
  EXPECT_TRUE(daemon->Get("/leader").ok());
  // Another session of the same identity (a new leader) may change them.
  auto successor = Connect(connect, seconds(10), "chainfs:secret");
  EXPECT_TRUE(successor->Set("/maxver", "20", -1).ok());
  EXPECT_TRUE(successor->Create("/minver", "0", false).ok());
}

TEST_F(RealZooKeeper, EphemeralNodeDisappearsWhenItsHandleCloses) {
  auto owner = Connect(connect_);
  ASSERT_TRUE(owner->Create("/eph", "mine", true).ok());
  EXPECT_TRUE(zk_->Get("/eph").ok());
  owner.reset();
  EXPECT_EQ(zk_->Get("/eph").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RealZooKeeper, WatchFiresOnceOnChangeAndMayCallBack) {
  ASSERT_TRUE(zk_->Create("/w", "1", false).ok());
  Recorder recorder;
  std::string seen;
  auto watch = [&, fire = recorder.Watch()] {
    seen = zk_->Get("/w")->data;  // blocking calls are fine on the event thread
    fire();
  };
  ASSERT_TRUE(zk_->Get("/w", watch).ok());
  auto other = Connect(connect_);
  ASSERT_TRUE(other->Set("/w", "2", -1).ok());
  ASSERT_TRUE(recorder.WaitFired(1));
  EXPECT_EQ(seen, "2");
  ASSERT_TRUE(other->Set("/w", "3", -1).ok());
  EXPECT_FALSE(recorder.WaitFired(2, milliseconds(300)));
}

TEST_F(RealZooKeeper, WatchFiresOnDeletion) {
  ASSERT_TRUE(zk_->Create("/d", "", false).ok());
  Recorder recorder;
  ASSERT_TRUE(zk_->Get("/d", recorder.Watch()).ok());
  ASSERT_TRUE(zk_->Delete("/d", -1).ok());
  EXPECT_TRUE(recorder.WaitFired(1));
}

TEST_F(RealZooKeeper, WatchOnAnAbsentNodeFiresOnItsCreation) {
  Recorder recorder;
  EXPECT_EQ(zk_->Get("/later", recorder.Watch()).status().code(), absl::StatusCode::kNotFound);
  auto other = Connect(connect_);
  ASSERT_TRUE(other->Create("/later", "here", true).ok());
  EXPECT_TRUE(recorder.WaitFired(1));
  EXPECT_EQ(zk_->Get("/later")->data, "here");
}

TEST_F(RealZooKeeper, ChildrenWatchFiresWhenAChildComesOrGoes) {
  ASSERT_TRUE(zk_->EnsurePath("/filestores").ok());
  Recorder added;
  EXPECT_TRUE(zk_->Children("/filestores", added.Watch())->empty());
  auto other = Connect(connect_);
  ASSERT_TRUE(other->Create("/filestores/h:1", "", true).ok());
  ASSERT_TRUE(added.WaitFired(1));

  Recorder removed;
  EXPECT_THAT(*zk_->Children("/filestores", removed.Watch()), ::testing::ElementsAre("h:1"));
  other.reset();  // its ephemeral child goes
  ASSERT_TRUE(removed.WaitFired(1));
  EXPECT_TRUE(zk_->Children("/filestores")->empty());
}

TEST(RealZooKeeperOffline, CallsFailUnavailableWithoutAServer) {
  auto address = ParseZkAddress("127.0.0.1:1/x");
  ASSERT_TRUE(address.ok());
  auto zk = zk::NewZooKeeper(*address, seconds(2));
  ASSERT_TRUE(zk.ok()) << zk.status();
  EXPECT_EQ((*zk)->WaitConnected(milliseconds(200)).code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE((*zk)->connected());
  EXPECT_EQ((*zk)->Get("/leader").status().code(), absl::StatusCode::kUnavailable);
}

// A daemon may start before ZooKeeper answers (scripts and systemd start them together).
// Between a refused connection and the next try the C client refuses to take credentials;
// the wrapper must wait that out, not fail the start, and the session that follows must
// carry the identity.
TEST(RealZooKeeperOffline, ADigestIdentityStartsBeforeTheServerAnswersAndIsUsedOnceItDoes) {
  // A bound socket that never listens: connecting to it is refused at once. The client tries
  // its hosts in turn, so each daemon meets a refusal before it finds the server.
  int refuser = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(refuser, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(refuser, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string chroot = UniqueChroot();
  auto address = ParseZkAddress(fmt::format("127.0.0.1:{},{}", ntohs(addr.sin_port),
                                            SharedZkServer()->ConnectString(chroot)));
  ASSERT_TRUE(address.ok()) << address.status();
  std::vector<std::unique_ptr<ZooKeeper>> daemons;
  for (int i = 0; i < 16; ++i) {
    auto zk = zk::NewZooKeeper(*address, seconds(5), "chainfs:secret");
    ASSERT_TRUE(zk.ok()) << "start " << i << ": " << zk.status();
    daemons.push_back(*std::move(zk));
  }
  for (size_t i = 0; i < daemons.size(); ++i) {
    ASSERT_TRUE(daemons[i]->WaitConnected(kWait).ok()) << i;
    ASSERT_TRUE(daemons[i]->Create(fmt::format("/n{}", i), "", false).ok()) << i;
  }
  close(refuser);
  auto stranger = Connect(SharedZkServer()->ConnectString(chroot));
  EXPECT_TRUE(absl::IsPermissionDenied(stranger->Delete("/n0", -1)));
  EXPECT_TRUE(daemons.back()->Delete("/n0", -1).ok());  // same identity, another session
}

// This one stops its own server (SIGSTOP), so it does not disturb the shared one: the\n// client
// notices the silence through its own timeouts.
class RealZooKeeperSession : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = ZkServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  std::unique_ptr<ZkServer> server_;
};

TEST_F(RealZooKeeperSession, ShortOutageSuspendsThenReconnectsTheSameSession) {
  Recorder recorder;
  auto zk = Connect(server_->ConnectString("/chainfs"), seconds(5));
  zk->SetSessionListener(recorder.Listener());
  ASSERT_TRUE(zk->Create("/eph", "", true).ok());

  server_->process().Kill(SIGSTOP);
  ASSERT_TRUE(recorder.WaitEvent(SessionEvent::kSuspended));
  EXPECT_FALSE(zk->connected());
  EXPECT_EQ(zk->Get("/eph").status().code(), absl::StatusCode::kUnavailable);
  server_->process().Kill(SIGCONT);

  ASSERT_TRUE(recorder.WaitEvent(SessionEvent::kConnected));
  EXPECT_THAT(recorder.events(),
              ::testing::ElementsAre(SessionEvent::kSuspended, SessionEvent::kConnected));
  EXPECT_TRUE(zk->Get("/eph").ok());  // same session: the ephemeral survived
}

// A proxy cut keeps the client away while the server runs on and expires the session.
TEST(RealZooKeeperExpiry, LongOutageExpiresTheSessionAndANewOneFollows) {
  auto proxy = TcpProxy::Start("127.0.0.1", SharedZkServer()->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  std::string chroot = UniqueChroot();
  Recorder recorder;
  Recorder watch;
  auto zk = Connect((*proxy)->address() + chroot, seconds(1));
  zk->SetSessionListener(recorder.Listener());
  ASSERT_TRUE(zk->Create("/eph", "", true).ok());
  ASSERT_TRUE(zk->Get("/eph", watch.Watch()).ok());
  auto observer = Connect(SharedZkServer()->ConnectString(chroot));
  Recorder gone;
  ASSERT_TRUE(observer->Get("/eph", gone.Watch()).ok());

  (*proxy)->Cut();
  ASSERT_TRUE(recorder.WaitEvent(SessionEvent::kSuspended));
  ASSERT_TRUE(gone.WaitFired(1));  // the server expired the session: its ephemeral went
  EXPECT_EQ(observer->Get("/eph").status().code(), absl::StatusCode::kNotFound);
  (*proxy)->Restore();

  ASSERT_TRUE(recorder.WaitEvent(SessionEvent::kExpired));
  ASSERT_TRUE(recorder.WaitEvent(SessionEvent::kConnected));
  EXPECT_THAT(recorder.events(),
              ::testing::ElementsAre(SessionEvent::kSuspended, SessionEvent::kExpired,
                                     SessionEvent::kConnected));
  EXPECT_TRUE(watch.WaitFired(1));  // pending watches fire so owners re-read
  EXPECT_TRUE(zk->connected());
  EXPECT_EQ(zk->Get("/eph").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(zk->Create("/eph", "", true).ok());
}

// A server that lost its data (here: a fresh one in its place) refuses a client that saw
// newer transactions, and never says its session expired: the client gives the session up
// after a whole session timeout without a connection and opens a new one.
TEST(RealZooKeeperExpiry, ServerReplacedByAnEmptyOne_ANewSessionFollows) {
  auto first = ZkServer::Start();
  ASSERT_TRUE(first.ok()) << first.status();
  auto proxy = TcpProxy::Start("127.0.0.1", (*first)->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  Recorder recorder;
  auto zk = Connect((*proxy)->address() + "/chainfs", seconds(1));
  zk->SetSessionListener(recorder.Listener());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(zk->Create(fmt::format("/n{}", i), "", false).ok());
  Recorder watch;
  ASSERT_TRUE(zk->Get("/n0", watch.Watch()).ok());

  (*proxy)->Cut();
  ASSERT_TRUE(recorder.WaitEvent(SessionEvent::kSuspended));
  first->reset();  // stopped, its data gone
  auto second = ZkServer::Start();
  ASSERT_TRUE(second.ok()) << second.status();
  (*proxy)->Retarget((*second)->port());
  (*proxy)->Restore();

  ASSERT_TRUE(recorder.WaitEvent(SessionEvent::kExpired));
  ASSERT_TRUE(recorder.WaitEvent(SessionEvent::kConnected));
  EXPECT_TRUE(watch.WaitFired(1));  // owners re-read, as after any expiry
  EXPECT_EQ(zk->Get("/n0").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(zk->Create("/n0", "again", true).ok());
}

TEST(RealZooKeeperExpiry, ShortCutReconnectsTheSameSession) {
  auto proxy = TcpProxy::Start("127.0.0.1", SharedZkServer()->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  Recorder recorder;
  auto zk = Connect((*proxy)->address() + UniqueChroot(), seconds(10));
  zk->SetSessionListener(recorder.Listener());
  ASSERT_TRUE(zk->Create("/eph", "", true).ok());
  (*proxy)->Cut();
  ASSERT_TRUE(recorder.WaitEvent(SessionEvent::kSuspended));
  EXPECT_EQ(zk->Create("/other", "", false).code(), absl::StatusCode::kUnavailable);
  (*proxy)->Restore();
  ASSERT_TRUE(recorder.WaitEvent(SessionEvent::kConnected));
  EXPECT_THAT(recorder.events(),
              ::testing::ElementsAre(SessionEvent::kSuspended, SessionEvent::kConnected));
  EXPECT_TRUE(zk->Get("/eph").ok());
}

}  // namespace
}  // namespace chainfs::testing
