#include "servers/nameserver/election.h"

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
      int64_t unset = kConnectedNow;  // is_leader() may have noticed the loss first
      suspended_at_.compare_exchange_strong(unset, clock_->Now().time_since_epoch().count());
      if (leader_) {
        Logger("nameserver")
            ->warn(
                "ZooKeeper connection lost: serving for two thirds of the session timeout, "
                "then not until it is back");
      }
    } else {
      suspended_at_ = kConnectedNow;
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
  absl::StatusOr<zk::Node> node = zk_->Get(kLeaderPath, Watch());
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
  absl::Status st = zk_->Create(kLeaderPath, data_, /*ephemeral=*/true);
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
  int64_t since = suspended_at_;
  if (since == kConnectedNow) {
    // The loss is news to this caller: the grace starts now (the event may still be queued).
    int64_t now = clock_->Now().time_since_epoch().count();
    since = suspended_at_.compare_exchange_strong(since, now) ? now : since;
  }
  Duration lost = clock_->Now() - TimePoint(TimePoint::duration(since));
  return lost < zk_->session_timeout() * 2 / 3;
}

std::string Election::leader_address() const {
  std::lock_guard lock(mu_);
  return leader_address_;
}

}  // namespace chainfs::nameserver
