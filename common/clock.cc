#include "common/clock.h"

namespace chainfs {

void Clock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                      TimePoint deadline) const {
  Duration left = deadline - Now();
  if (left > Duration::zero()) cv.wait_for(lock, left);
}

void Clock::SleepUntil(TimePoint deadline) const {
  std::mutex mu;
  std::condition_variable never;
  std::unique_lock lock(mu);
  while (Now() < deadline) WaitUntil(lock, never, deadline);
}

TimePoint SystemClock::Now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
}

int64_t SystemClock::WallNanos() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SystemClock* SystemClock::Get() {
  static SystemClock clock;
  return &clock;
}

TimePoint FakeClock::Now() const {
  std::lock_guard lock(mu_);
  return now_;
}

int64_t FakeClock::WallNanos() const {
  std::lock_guard lock(mu_);
  return wall_ns_;
}

void FakeClock::Advance(Duration d) {
  std::lock_guard lock(mu_);
  now_ += d;
  wall_ns_ += d.count();
}

void FakeClock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                          TimePoint deadline) const {
  ++waiters_;
  if (Now() < deadline) cv.wait_for(lock, kPoll);
  --waiters_;
}

bool Ticker::WaitFor(Duration d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return stopped_ || woken_; });
  woken_ = false;
  return !stopped_;
}

void Ticker::Wake() {
  std::lock_guard lock(mu_);
  woken_ = true;
  cv_.notify_all();
}

void Ticker::Stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  cv_.notify_all();
}

bool Ticker::stopped() const {
  std::lock_guard lock(mu_);
  return stopped_;
}

}  // namespace chainfs
