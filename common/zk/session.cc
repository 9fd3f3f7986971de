#include "common/zk/session.h"

#include <fmt/format.h>

#include <algorithm>

namespace chainfs::zk {

namespace {
// condition_variable::wait_for overflows on durations near Duration::max().
constexpr Duration kForever = std::chrono::hours(24 * 365);
}  // namespace

void SessionHolder::SetSessionListener(SessionFn fn) {
  std::lock_guard lock(mu_);
  listener_ = std::move(fn);
}

bool SessionHolder::connected() const {
  std::lock_guard lock(mu_);
  return connected_;
}

absl::Status SessionHolder::WaitConnected(Duration timeout) {
  std::unique_lock lock(mu_);
  if (!connected_cv_.wait_for(lock, std::min(timeout, kForever), [this] { return connected_; })) {
    return absl::UnavailableError(fmt::format("no ZooKeeper session with {} yet", Describe()));
  }
  return absl::OkStatus();
}

SessionFn SessionHolder::Listener() const {
  std::lock_guard lock(mu_);
  return listener_;
}

void SessionHolder::SetConnectedLocked(bool connected) {
  connected_ = connected;
  if (connected) connected_cv_.notify_all();
}

}  // namespace chainfs::zk
