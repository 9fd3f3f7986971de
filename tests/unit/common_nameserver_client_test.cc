// The NameServer client against fake NameServers in this process: leader discovery through
// (memory) ZooKeeper, redirects in trailing metadata, retries until the deadline.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <optional>
#include <thread>

#include "common/client/nameserver_client.h"
#include "common/status.h"
#include "common/zk/zookeeper.h"

namespace chainfs {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A NameServer that either answers (DoRead names the answering server in file.name) or
// refuses as "not leader", optionally naming another one.
class FakeNameServer final : public v1::NameServer::Service {
 public:
  FakeNameServer() {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  ~FakeNameServer() override { server_->Shutdown(); }

  const std::string& address() const { return address_; }
  void RedirectTo(const std::string& leader) {
    std::lock_guard lock(mu_);
    leader_ = leader;
    leading_ = false;
  }
  void Answer(grpc::Status status) {
    std::lock_guard lock(mu_);
    answer_ = status;
  }
  int calls() const { return calls_; }
  std::vector<v1::RegisterRequest> registered() {
    std::lock_guard lock(mu_);
    return registered_;
  }

  grpc::Status DoRead(grpc::ServerContext* ctx, const v1::DoReadRequest* req,
                      v1::DoReadReply* reply) override {
    ++calls_;
    if (grpc::Status refused = Refusal(ctx); !refused.ok()) return refused;
    reply->mutable_file()->set_name(address_ + req->path());
    std::lock_guard lock(mu_);
    return answer_;
  }

  grpc::Status RegisterFilesAndTombstones(grpc::ServerContext* ctx,
                                          grpc::ServerReader<v1::RegisterRequest>* reader,
                                          v1::RegisterReply*) override {
    ++calls_;
    if (grpc::Status refused = Refusal(ctx); !refused.ok()) return refused;
    v1::RegisterRequest req;
    while (reader->Read(&req)) {
      std::lock_guard lock(mu_);
      registered_.push_back(req);
    }
    return grpc::Status::OK;
  }

 private:
  grpc::Status Refusal(grpc::ServerContext* ctx) {
    std::lock_guard lock(mu_);
    if (leading_) return grpc::Status::OK;
    if (!leader_.empty()) ctx->AddTrailingMetadata(kLeaderMetadataKey, leader_);
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "not leader");
  }

  std::mutex mu_;
  bool leading_ = true;
  std::string leader_;
  grpc::Status answer_ = grpc::Status::OK;
  std::atomic<int> calls_{0};
  std::vector<v1::RegisterRequest> registered_;
  std::string address_;
  std::unique_ptr<grpc::Server> server_;
};

v1::DoReadRequest Read(const std::string& path) {
  v1::DoReadRequest req;
  req.set_path(path);
  return req;
}

NameServerClientSettings Fast(Duration call_timeout = seconds(5)) {
  NameServerClientSettings s;
  s.call_timeout = call_timeout;
  s.retry_backoff_min = milliseconds(5);
  s.retry_backoff_max = milliseconds(50);
  s.reconnect_wait = milliseconds(50);
  return s;
}

// True once `condition` holds, false if it still does not after a long (real) while.
bool Eventually(const std::function<bool()>& condition) {
  auto give_up = std::chrono::steady_clock::now() + seconds(20);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::yield();
  }
  return true;
}

// A call running on its own thread, so that the test can drive the clock meanwhile. When
// the test ends early, the clock is moved past any deadline so that the call returns.
template <typename T>
class Background {
 public:
  Background(FakeClock* clock, std::function<T()> fn)
      : clock_(clock), thread_([this, fn = std::move(fn)] {
          T r = fn();
          std::lock_guard lock(mu_);
          result_ = std::move(r);
        }) {}
  ~Background() {
    while (!done()) {
      clock_->Advance(std::chrono::hours(1));
      std::this_thread::yield();
    }
    thread_.join();
  }
  bool done() {
    std::lock_guard lock(mu_);
    return result_.has_value();
  }
  // Waits for the call to return (false if it does not within a long while).
  bool Finished() {
    return Eventually([&] { return done(); });
  }
  const T& result() {
    std::lock_guard lock(mu_);
    return *result_;
  }

 private:
  FakeClock* const clock_;
  std::mutex mu_;
  std::optional<T> result_;
  std::thread thread_;
};

class NameServerClientTest : public ::testing::Test {
 protected:
  // The client under test is waiting out a backoff on clock_.
  bool WaitingOnTheClock() {
    return Eventually([&] { return clock_.waiters() > 0; });
  }
  // Moves clock_ by `step` whenever the call waits on it, until the call returns.
  template <typename T>
  bool AdvanceWhileWaiting(Background<T>& call, Duration step) {
    return Eventually([&] {
      if (clock_.waiters() > 0) clock_.Advance(step);
      return call.done();
    });
  }
  FakeClock clock_;
  void SetLeader(const std::string& address) {
    std::string data = address + "\nsome-host";
    if (!zk_->Set("/leader", data, -1).ok()) {
      ASSERT_TRUE(zk_->Create("/leader", data, true).ok());
    }
    zk::MemoryWaitIdle(zk_.get());
  }
  std::shared_ptr<zk::MemoryEnsemble> ensemble_ = zk::NewMemoryEnsemble();
  std::unique_ptr<zk::ZooKeeper> zk_ = zk::NewMemoryZooKeeper(ensemble_);
};

TEST_F(NameServerClientTest, FollowsTheLeaderNamedInZooKeeper) {
  FakeNameServer a, b;
  SetLeader(a.address());
  NameServerClient client(zk_.get(), Fast());
  auto reply = client.DoRead(Read("/f"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->file().name(), a.address() + "/f");
  EXPECT_EQ(client.leader(), a.address());

  SetLeader(b.address());  // the watch on /leader re-reads it
  reply = client.DoRead(Read("/g"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->file().name(), b.address() + "/g");
  EXPECT_EQ(client.leader(), b.address());
}

TEST_F(NameServerClientTest, FollowsARedirectGivenInTrailingMetadata) {
  FakeNameServer standby, leader;
  standby.RedirectTo(leader.address());
  NameServerClient client(standby.address(), Fast());
  auto reply = client.DoRead(Read("/f"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->file().name(), leader.address() + "/f");
  EXPECT_EQ(client.leader(), leader.address());
  EXPECT_EQ(standby.calls(), 1);
  ASSERT_TRUE(client.DoRead(Read("/g")).ok());
  EXPECT_EQ(standby.calls(), 1);  // the redirect is remembered
}

TEST_F(NameServerClientTest, RetriesUntilALeaderAppears) {
  FakeNameServer a;
  NameServerClient client(zk_.get(), Fast(), &clock_);
  Background<absl::StatusOr<v1::DoReadReply>> call(&clock_,
                                                   [&] { return client.DoRead(Read("/f")); });
  for (int i = 0; i < 3; ++i) {  // three backoffs pass with no leader
    ASSERT_TRUE(WaitingOnTheClock());
    clock_.Advance(milliseconds(50));
  }
  ASSERT_TRUE(WaitingOnTheClock());
  EXPECT_FALSE(call.done());
  SetLeader(a.address());
  ASSERT_TRUE(call.Finished());
  ASSERT_TRUE(call.result().ok()) << call.result().status();
  EXPECT_EQ(call.result()->file().name(), a.address() + "/f");
}

TEST_F(NameServerClientTest, MovesOnWhenTheLeaderDiesAndZooKeeperNamesAnother) {
  FakeNameServer b;
  std::string dead;
  {
    FakeNameServer a;
    dead = a.address();
  }
  SetLeader(dead);
  NameServerClient client(zk_.get(), Fast(), &clock_);
  Background<absl::StatusOr<v1::DoReadReply>> call(&clock_,
                                                   [&] { return client.DoRead(Read("/f")); });
  ASSERT_TRUE(WaitingOnTheClock());  // the dead leader refused; backing off
  EXPECT_FALSE(call.done());
  SetLeader(b.address());
  ASSERT_TRUE(call.Finished());
  ASSERT_TRUE(call.result().ok()) << call.result().status();
  EXPECT_EQ(call.result()->file().name(), b.address() + "/f");
}

// A leader that died but is still named waits for its channel to connect again (a real
// wait, which polls the channel); ZooKeeper naming another leader ends that wait at once.
TEST_F(NameServerClientTest, NewLeaderInZooKeeperEndsAWaitForAReconnect) {
  FakeNameServer b;
  std::string dead;
  {
    FakeNameServer a;
    dead = a.address();
  }
  SetLeader(dead);
  NameServerClientSettings slow = Fast(seconds(60));
  slow.reconnect_wait = seconds(60);
  NameServerClient client(zk_.get(), slow);
  Background<absl::StatusOr<v1::DoReadReply>> call(&clock_,
                                                   [&] { return client.DoRead(Read("/f")); });
  std::this_thread::sleep_for(milliseconds(300));  // refused, then waiting on the channel
  EXPECT_FALSE(call.done());
  auto named = std::chrono::steady_clock::now();
  SetLeader(b.address());
  ASSERT_TRUE(call.Finished());
  EXPECT_LT(std::chrono::steady_clock::now() - named, seconds(10));
  ASSERT_TRUE(call.result().ok()) << call.result().status();
  EXPECT_EQ(call.result()->file().name(), b.address() + "/f");
}

// Failover: a retry waiting out a long backoff calls the new leader as soon as /leader
// names it, instead of sleeping on (the clock never moves here).
TEST_F(NameServerClientTest, NewLeaderInZooKeeperEndsTheBackoffAtOnce) {
  FakeNameServer standby, b;
  standby.RedirectTo("");  // the old leader's standby: not leader, leader unknown
  SetLeader(standby.address());
  NameServerClientSettings slow;
  slow.call_timeout = seconds(30);
  slow.retry_backoff_min = seconds(5);
  slow.retry_backoff_max = seconds(5);
  NameServerClient client(zk_.get(), slow, &clock_);
  Background<absl::StatusOr<v1::DoReadReply>> call(&clock_,
                                                   [&] { return client.DoRead(Read("/f")); });
  ASSERT_TRUE(WaitingOnTheClock());
  int refused = standby.calls();
  SetLeader(b.address());
  ASSERT_TRUE(call.Finished());
  ASSERT_TRUE(call.result().ok()) << call.result().status();
  EXPECT_EQ(call.result()->file().name(), b.address() + "/f");
  EXPECT_EQ(standby.calls(), refused);
}

// A fixed address that keeps refusing is retried after each backoff, measured on the clock.
TEST_F(NameServerClientTest, ABackoffLastsUntilTheClockPassesIt) {
  FakeNameServer standby;
  standby.RedirectTo("");
  NameServerClientSettings s = Fast(seconds(60));
  s.retry_backoff_min = seconds(1);
  s.retry_backoff_max = seconds(1);
  NameServerClient client(standby.address(), s, &clock_);
  Background<absl::StatusOr<v1::DoReadReply>> call(&clock_,
                                                   [&] { return client.DoRead(Read("/f")); });
  ASSERT_TRUE(WaitingOnTheClock());
  EXPECT_EQ(standby.calls(), 1);
  clock_.Advance(milliseconds(900));
  ASSERT_TRUE(WaitingOnTheClock());
  EXPECT_EQ(standby.calls(), 1);  // still backing off
  clock_.Advance(milliseconds(100));
  ASSERT_TRUE(Eventually([&] { return standby.calls() == 2; }));
  clock_.Advance(seconds(60));  // past the deadline: the call gives up
  ASSERT_TRUE(call.Finished());
  EXPECT_EQ(call.result().status().code(), absl::StatusCode::kUnavailable);
}

TEST(NameServerClientSettings, BackoffIsCappedShortByDefault) {
  EXPECT_LE(NameServerClientSettings{}.retry_backoff_max, milliseconds(250));
}

TEST_F(NameServerClientTest, GivesUpWithUnavailableAtTheDeadline) {
  FakeNameServer standby;
  standby.RedirectTo("");  // not leader, and does not know who is
  NameServerClient client(standby.address(), Fast(milliseconds(300)), &clock_);
  Background<absl::StatusOr<v1::DoReadReply>> call(&clock_,
                                                   [&] { return client.DoRead(Read("/f")); });
  // One longest backoff after each refusal, until the deadline.
  int seen = 0;
  ASSERT_TRUE(Eventually([&] {
    if (clock_.waiters() > 0 && standby.calls() > seen) {
      seen = standby.calls();
      clock_.Advance(Fast().retry_backoff_max);
    }
    return call.done();
  }));
  EXPECT_EQ(call.result().status().code(), absl::StatusCode::kUnavailable)
      << call.result().status();
  EXPECT_GT(standby.calls(), 2);  // retried
}

TEST_F(NameServerClientTest, GivesUpWhenZooKeeperNamesNoLeader) {
  NameServerClient client(zk_.get(), Fast(milliseconds(200)), &clock_);
  Background<absl::StatusOr<v1::DoReadReply>> call(&clock_,
                                                   [&] { return client.DoRead(Read("/f")); });
  ASSERT_TRUE(AdvanceWhileWaiting(call, milliseconds(10)));
  EXPECT_EQ(call.result().status().code(), absl::StatusCode::kUnavailable)
      << call.result().status();
  EXPECT_EQ(client.leader(), "");
}

TEST_F(NameServerClientTest, OtherErrorsAreReturnedAtOnce) {
  FakeNameServer a;
  a.Answer(grpc::Status(grpc::StatusCode::NOT_FOUND, "no /f"));
  NameServerClient client(a.address(), Fast());
  auto reply = client.DoRead(Read("/f"));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(reply.status().message()).find("no /f"), std::string::npos);
  EXPECT_EQ(a.calls(), 1);
}

TEST_F(NameServerClientTest, RegisterStreamsFilesInBatchesNamingTheFileStoreFirst) {
  FakeNameServer a;
  NameServerClient client(a.address(), Fast());
  std::vector<v1::FileInfo> files(2500);
  for (size_t i = 0; i < files.size(); ++i) files[i].set_name("/f" + std::to_string(i));
  ASSERT_TRUE(client.RegisterFilesAndTombstones("h:7000", files, 11, 22).ok());
  auto got = a.registered();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].filestore(), "h:7000");
  EXPECT_EQ(got[0].bytes_used(), 11);
  EXPECT_EQ(got[0].bytes_available(), 22);
  EXPECT_EQ(got[0].files_size() + got[1].files_size() + got[2].files_size(), 2500);
  EXPECT_EQ(got[2].files(got[2].files_size() - 1).name(), "/f2499");
}

TEST_F(NameServerClientTest, RegisterWithNoFilesStillNamesTheFileStore) {
  FakeNameServer standby, a;
  standby.RedirectTo(a.address());
  NameServerClient client(standby.address(), Fast());
  ASSERT_TRUE(client.RegisterFilesAndTombstones("h:7000", {}, 0, 0).ok());
  auto got = a.registered();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].filestore(), "h:7000");
}

}  // namespace
}  // namespace chainfs
