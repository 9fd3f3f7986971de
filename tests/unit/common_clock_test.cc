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

TEST(SystemClock, IsMonotonic) {
  TimePoint a = SystemClock::Get()->Now();
  TimePoint b = SystemClock::Get()->Now();
  EXPECT_LE(a, b);
  EXPECT_GT(SystemClock::Get()->WallNanos(), 0);
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

TEST(Ticker, ShortIntervalsElapse) {
  Ticker ticker;
  EXPECT_TRUE(ticker.WaitFor(std::chrono::milliseconds(1)));
}

}  // namespace
}  // namespace chainfs
