#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/clock.h"

namespace chainfs {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

TEST(FakeClock, MovesOnlyWhenAdvanced) {
  FakeClock clock;
  TimePoint t0 = clock.Now();
  int64_t w0 = clock.WallNanos();
  EXPECT_EQ(clock.Now(), t0);
  clock.Advance(seconds(90));
  EXPECT_EQ(clock.Now() - t0, seconds(90));
  EXPECT_EQ(clock.WallNanos() - w0, Duration(seconds(90)).count());
}

// SystemClock is a thin wrapper: each reading must land between two readings of the clock
// it claims to wrap (a wrong clock, unit or epoch falls outside).
TEST(SystemClock, NowIsTheSteadyClockAndWallNanosTheSystemClock) {
  auto steady_before = std::chrono::steady_clock::now();
  TimePoint now = SystemClock::Get()->Now();
  auto steady_after = std::chrono::steady_clock::now();
  EXPECT_LE(steady_before.time_since_epoch(), now.time_since_epoch());
  EXPECT_GE(steady_after.time_since_epoch(), now.time_since_epoch());
  auto wall_before = std::chrono::system_clock::now();
  int64_t wall = SystemClock::Get()->WallNanos();
  auto wall_after = std::chrono::system_clock::now();
  EXPECT_LE(std::chrono::nanoseconds(wall_before.time_since_epoch()).count(), wall);
  EXPECT_GE(std::chrono::nanoseconds(wall_after.time_since_epoch()).count(), wall);
}

TEST(Ticker, StopEndsALoopWaitingForALongInterval) {
  Ticker ticker;
  std::atomic<int> rounds{0};
  std::thread loop([&] {
    while (ticker.WaitFor(hours(1))) ++rounds;
  });
  ticker.Stop();
  loop.join();
  EXPECT_EQ(rounds, 0);
  EXPECT_TRUE(ticker.stopped());
  EXPECT_FALSE(ticker.WaitFor(hours(1)));  // stays stopped
}

TEST(Ticker, WakeRunsTheLoopBodyNow) {
  Ticker ticker;
  std::atomic<int> rounds{0};
  std::thread loop([&] {
    while (ticker.WaitFor(hours(1))) {
      if (++rounds == 2) ticker.Stop();
    }
  });
  ticker.Wake();
  while (rounds < 1) std::this_thread::yield();
  ticker.Wake();
  loop.join();
  EXPECT_EQ(rounds, 2);
}

TEST(Ticker, AWakeBeforeTheWaitIsNotLost) {
  Ticker ticker;
  ticker.Wake();
  EXPECT_TRUE(ticker.WaitFor(hours(1)));  // returns at once (a lost wake would hang here)
}

TEST(Ticker, AnIntervalWithoutWakeWaitsItsFullLength) {
  Ticker ticker;
  const auto interval = std::chrono::milliseconds(20);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(ticker.WaitFor(interval));
  EXPECT_GE(std::chrono::steady_clock::now() - start, interval);
}

}  // namespace
}  // namespace chainfs
