#include "servers/nameserver/election.h"

#include "common/duration.h"
#include "common/log.h"

namespace chainfs::nameserver {

Election::Election(zk::ZooKeeper* zk, const Clock* clock, std::string address, std::string hostname,
                   Callbacks callbacks, Duration retry)
    : zk_(zk),
      clock_(clock),
      address_(std::move(address)),
      data_(address_ + "\n" + hostname),
      callbacks_(std::move(callbacks)),
      retry_(retry) {
  zk_->SetSessionListener([this](zk::SessionEvent event) {
    if (event == zk::SessionEvent::kExpired) {
      expired_ = true;
      watch_armed_ = false;
    }
    if (event == zk::SessionEvent::kSuspended) {
      if (leader_) {
        Duration since = clock_->Now() - TimePoint(TimePoint::duration(last_contact_.load()));
        Logger("nameserver")
            ->warn(
                "ZooKeeper connection lost ({} after it last answered): serving until two "
                "thirds of the session timeout after that, then not until it is back",
                FormatDuration(since));
      }
    } else if (event == zk::SessionEvent::kConnected) {
      Heard(clock_->Now());
    }
    ticker_.Wake();
  });
}

Election::~Election() { Stop(); }

void Election::Start() {
  thread_ = std::thread([this] {
    Step();
    while (ticker_.WaitFor(retry_)) Step();
  });
}

void Election::Stop() {
  if (ticker_.stopped()) return;
  ticker_.Stop();
  if (thread_.joinable()) thread_.join();
  std::lock_guard step(step_mu_);
  if (leader_) {
    auto node = zk_->Get(kLeaderPath);
    if (node.ok() && node->data == data_) {
      absl::Status st = zk_->Delete(kLeaderPath, node->version);
      Logger("nameserver")
          ->info("resigned leadership: {}",
                 st.ok() ? "deleted /leader" : std::string(st.message()));
    }
    Depose();
  }
  zk_->SetSessionListener(nullptr);
}

void Election::Depose() {
  if (!leader_.exchange(false)) return;
  Logger("nameserver")->warn("{} lost leadership", address_);
  if (callbacks_.on_deposed) callbacks_.on_deposed();
}

void Election::Step() {
  std::lock_guard step(step_mu_);
  if (expired_.exchange(false)) {
    Logger("nameserver")->warn("ZooKeeper session expired");
    Depose();
  }
  if (!zk_->connected()) return;
  TimePoint sent = clock_->Now();
  absl::StatusOr<zk::Node> node = zk_->Get(kLeaderPath, Watch());
  if (node.ok() || absl::IsNotFound(node.status())) Heard(sent);
  if (node.ok()) {
    std::string first = node->data.substr(0, node->data.find('\n'));
    {
      std::lock_guard lock(mu_);
      leader_address_ = first;
    }
    if (node->data != data_) Depose();
    // Our own node with leader_ false happens only after a resignation that failed half
    // way; treat it as someone else's and wait for it to go.
    return;
  }
  if (!absl::IsNotFound(node.status())) {
    watch_armed_ = false;  // the watch may not have been set
    return;                // connection trouble: retry later
  }
  Depose();
  sent = clock_->Now();
  absl::Status st = zk_->Create(kLeaderPath, data_, /*ephemeral=*/true);
  if (st.ok() || absl::IsAlreadyExists(st)) Heard(sent);
  if (absl::IsAlreadyExists(st)) {
    ticker_.Wake();
    return;
  }
  if (!st.ok()) {
    Logger("nameserver")->warn("creating {} failed: {}", kLeaderPath, std::string(st.message()));
    return;
  }
  {
    std::lock_guard lock(mu_);
    leader_address_ = address_;
  }
  Logger("nameserver")->info("{} won the election", address_);
  leader_ = true;
  absl::Status elected = callbacks_.on_elected ? callbacks_.on_elected() : absl::OkStatus();
  if (!elected.ok()) {
    Logger("nameserver")
        ->error("taking over failed, resigning: {}", std::string(elected.message()));
    Depose();
    auto mine = zk_->Get(kLeaderPath);
    if (mine.ok() && mine->data == data_) (void)zk_->Delete(kLeaderPath, mine->version);
  }
  // Arm the watch on our own node so a deletion wakes us.
  (void)zk_->Get(kLeaderPath, Watch());
}

void Election::Heard(TimePoint sent) {
  int64_t ticks = sent.time_since_epoch().count();
  int64_t last = last_contact_.load();
  while (last < ticks && !last_contact_.compare_exchange_weak(last, ticks)) {
  }
}

zk::WatchFn Election::Watch() {
  // One pending watch at a time: ZooKeeper keeps every distinct watcher until it fires.
  if (watch_armed_.exchange(true)) return nullptr;
  return [this] {
    watch_armed_ = false;
    ticker_.Wake();
  };
}

bool Election::is_leader() const {
  if (!leader_ || expired_) return false;
  if (zk_->connected()) return true;
  // Counted from ZooKeeper's last contact, not from when the loss was noticed: the client
  // notices a dead connection only after up to 2/3 of the timeout itself.
  Duration silent = clock_->Now() - TimePoint(TimePoint::duration(last_contact_.load()));
  return silent < zk_->session_timeout() * 2 / 3;
}

std::string Election::leader_address() const {
  std::lock_guard lock(mu_);
  return leader_address_;
}

}  // namespace chainfs::nameserver
