// Time comes through a Clock so that unit tests drive it by hand (FakeClock) and daemons
// use the steady clock (SystemClock). Logic never calls std::chrono::*::now() itself.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace chainfs {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // Wall-clock time for file attributes (mtime), nanoseconds since the Unix epoch.
  virtual int64_t WallNanos() const = 0;
  // Waits on `cv` (its mutex held by `lock`) until notified or until this clock reaches
  // `deadline`; may return early, so callers loop on their condition and Now().
  virtual void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         TimePoint deadline) const;
  // Returns once Now() >= deadline.
  void SleepUntil(TimePoint deadline) const;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
  int64_t WallNanos() const override;
  // The process-wide instance.
  static SystemClock* Get();
};

// A clock that only moves when told to.
class FakeClock final : public Clock {
 public:
  TimePoint Now() const override;
  int64_t WallNanos() const override;
  void Advance(Duration d);
  // Polls Now() every kPoll of real time (so Advance from another thread ends the wait).
  void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline) const override;
  // Threads inside WaitUntil now: a test advances the clock once the code under test waits.
  int waiters() const { return waiters_; }

 private:
  static constexpr Duration kPoll = std::chrono::milliseconds(1);
  mutable std::atomic<int> waiters_{0};
  mutable std::mutex mu_;
  TimePoint now_{Duration(1'000'000'000)};
  int64_t wall_ns_ = 1'700'000'000'000'000'000;
};

// Sleeps of background loops: a wait that Stop() cuts short. Loops call
// `while (ticker.WaitFor(interval)) { ... }`, which returns false once stopped.
class Ticker {
 public:
  bool WaitFor(Duration d);
  void Wake();  // run the loop body now
  void Stop();
  bool stopped() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  bool woken_ = false;
};

}  // namespace chainfs
