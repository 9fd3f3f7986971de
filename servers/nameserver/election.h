// Leadership through ZooKeeper's ephemeral /leader ("host:port\nhostname"). Every
// NameServer tries to create it; the winner leads until its process exits or its session
// expires; the others watch it and try again when it goes.
//
// Session events only set flags and wake the campaign thread, which makes every
// ZooKeeper call (none run inside the wrapper's callbacks):
// - suspended (connection lost): is_leader() stays true until two thirds of the session
//   timeout after ZooKeeper last heard from us (the session may still come back, and no
//   other NameServer can have taken over before it expires), then false until the session
//   reconnects. "Last heard" is the start of the last campaign call that ZooKeeper answered
//   (the campaign reads /leader every `retry`, so it is at most `retry` old) or the last
//   (re)connection: ZooKeeper received that request no earlier, so its session cannot
//   expire before we stop;
// - expired: leadership is lost (on_deposed) and, once reconnected, the campaign resumes.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "common/clock.h"
#include "common/zk/zookeeper.h"

namespace chainfs::nameserver {

inline constexpr char kLeaderPath[] = "/leader";

class Election {
 public:
  struct Callbacks {
    // Runs on the campaign thread right after /leader was created; an error resigns.
    std::function<absl::Status()> on_elected;
    // Runs on the campaign thread when leadership is lost.
    std::function<void()> on_deposed;
  };

  // `retry` is how often the campaign re-checks /leader without a watch firing
  // (NameServerSettings::election_retry, --election-retry: a third of the session timeout).
  Election(zk::ZooKeeper* zk, const Clock* clock, std::string address, std::string hostname,
           Callbacks callbacks, Duration retry);
  ~Election();

  void Start();
  // Stops campaigning and, when leading, deletes /leader so a standby takes over at once.
  void Stop();
  // One campaign step (the thread's loop body; tests call it directly).
  void Step();

  // Leading with a connected session, or one whose connection was lost and that ZooKeeper
  // last heard from less than 2/3 of the session timeout ago.
  bool is_leader() const;
  // host:port of the current leader as last read from /leader ("" when unknown).
  std::string leader_address() const;
  const std::string& address() const { return address_; }

 private:
  void Depose();
  zk::WatchFn Watch();
  // ZooKeeper answered a call sent at `sent`.
  void Heard(TimePoint sent);

  zk::ZooKeeper* const zk_;
  const Clock* const clock_;
  const std::string address_;
  const std::string data_;
  const Callbacks callbacks_;
  const Duration retry_;
  Ticker ticker_;
  std::thread thread_;
  std::mutex step_mu_;  // one Step at a time
  std::atomic<bool> leader_{false};
  std::atomic<bool> expired_{false};
  std::atomic<bool> watch_armed_{false};
  // When ZooKeeper last heard from us (clock ticks since its epoch); see is_leader().
  std::atomic<int64_t> last_contact_{INT64_MIN};
  mutable std::mutex mu_;
  std::string leader_address_;
};

}  // namespace chainfs::nameserver
