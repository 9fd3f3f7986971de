// ReadAhead against an in-memory reader: the bytes are right for any access pattern, a
// sequential reader is served from background fetches, failed fetches are retried by the
// reader, and destruction waits for a fetch under way.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fuse/read_ahead.h"

namespace chainfs::mount {
namespace {

constexpr size_t kMiB = 1 << 20;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Serves `content`; can fail calls and hold calls at or beyond an offset until released.
class FakeReader : public FileStoreApi::Reader {
 public:
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    int failures_left = 0;          // the next calls fail
    int64_t hold_from = INT64_MAX;  // calls reading at or beyond this wait for `released`
    bool released = false;
    bool holding = false;          // a call is waiting
    std::vector<int64_t> offsets;  // of every call
  };

  FakeReader(std::string content, Shared* shared) : content_(std::move(content)), s_(shared) {
    info_.set_size(static_cast<int64_t>(content_.size()));
  }
  const v1::FileInfo& info() const override { return info_; }
  absl::StatusOr<size_t> ReadAt(int64_t offset, size_t length, char* buf) override {
    std::unique_lock lock(s_->mu);
    s_->offsets.push_back(offset);
    if (offset >= s_->hold_from) {
      s_->holding = true;
      s_->cv.notify_all();
      s_->cv.wait(lock, [&] { return s_->released; });
      s_->holding = false;
    }
    if (s_->failures_left > 0) {
      --s_->failures_left;
      return absl::UnavailableError("holder gone");
    }
    if (offset >= static_cast<int64_t>(content_.size())) return 0;
    size_t n = std::min(length, content_.size() - static_cast<size_t>(offset));
    std::memcpy(buf, content_.data() + offset, n);
    return n;
  }

 private:
  std::string content_;
  Shared* s_;
  v1::FileInfo info_;
};

class ReadAheadTest : public ::testing::Test {
 protected:
  std::unique_ptr<ReadAhead> Make(const std::string& content, size_t window) {
    return std::make_unique<ReadAhead>(std::make_unique<FakeReader>(content, &shared_),
                                       static_cast<int64_t>(content.size()), window);
  }
  // Reads through `ra`, returning the bytes and the number of pieces of the reply.
  static std::pair<std::string, int> Read(ReadAhead& ra, size_t size, int64_t offset) {
    std::string out;
    int pieces = -1;
    absl::Status st = ra.Read(size, offset, [&](const iovec* iov, int count) {
      pieces = count;
      for (int i = 0; i < count; ++i)
        out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    });
    EXPECT_TRUE(st.ok()) << st;
    return {out, pieces};
  }
  FakeReader::Shared shared_;
};

TEST_F(ReadAheadTest, SequentialReads_GetTheBytes_FromBackgroundFetches) {
  std::string content = RandomBytes(40 * kMiB + 123, 1);
  auto ra = Make(content, 4 * kMiB);
  std::string got;
  for (int64_t off = 0; off < static_cast<int64_t>(content.size()); off += kMiB) {
    got += Read(*ra, kMiB, off).first;
  }
  EXPECT_TRUE(got == content);
  EXPECT_EQ(ra->sync_fetches(), 1);  // only the first window made the reader wait
  EXPECT_EQ(ra->background_fetches(), 10);
  EXPECT_EQ(Read(*ra, kMiB, static_cast<int64_t>(content.size())).first, "");  // EOF
}

TEST_F(ReadAheadTest, NearbyReadsOutOfOrder_AreServedWithoutFetchingAgain) {
  // The kernel's read-ahead requests, handled by several threads, arrive slightly shuffled.
  std::string content = RandomBytes(32 * kMiB, 2);
  auto ra = Make(content, 4 * kMiB);
  std::vector<int64_t> order = {0};
  for (int64_t block = 1; block + 4 <= 32; block += 4) {
    for (int64_t i : {2, 0, 3, 1}) order.push_back(block + i);
  }
  for (int64_t block : {29, 31, 30}) order.push_back(block);
  for (int64_t block : order) {
    EXPECT_TRUE(Read(*ra, kMiB, block * kMiB).first == content.substr(block * kMiB, kMiB));
  }
  EXPECT_EQ(ra->sync_fetches(), 1);
}

TEST_F(ReadAheadTest, RandomReadsAndStraddlingReads_MatchTheContent) {
  std::string content = RandomBytes(20 * kMiB + 7, 3);
  auto ra = Make(content, kMiB);
  std::mt19937 rng(4);
  for (int i = 0; i < 300; ++i) {
    int64_t off = rng() % content.size();
    size_t size = 1 + rng() % kMiB;  // FUSE reads are at most 1 MiB
    std::string want = content.substr(off, size);
    EXPECT_TRUE(Read(*ra, size, off).first == want) << "read " << size << " at " << off;
  }
  // A read across a window boundary comes back in two pieces.
  auto [bytes, pieces] = Read(*ra, 200, 5 * kMiB - 100);
  EXPECT_TRUE(bytes == content.substr(5 * kMiB - 100, 200));
  EXPECT_EQ(pieces, 2);
}

TEST_F(ReadAheadTest, FailedBackgroundFetch_IsFetchedAgainWhenNeeded) {
  std::string content = RandomBytes(16 * kMiB, 5);
  auto ra = Make(content, 4 * kMiB);
  EXPECT_TRUE(Read(*ra, kMiB, 0).first == content.substr(0, kMiB));  // starts the prefetch
  {
    std::lock_guard lock(shared_.mu);
    shared_.failures_left = 1;  // fails the prefetch, unless it already ran: either is fine
  }
  std::string got = content.substr(0, kMiB);
  for (int64_t off = kMiB; off < static_cast<int64_t>(content.size()); off += kMiB) {
    got += Read(*ra, kMiB, off).first;
  }
  EXPECT_TRUE(got == content);
}

TEST_F(ReadAheadTest, EveryFetchFailing_IsAnError) {
  std::string content = RandomBytes(2 * kMiB, 6);
  auto ra = Make(content, kMiB);
  shared_.failures_left = 1000;
  absl::Status st = ra->Read(4096, 0, [](const iovec*, int) { ADD_FAILURE() << "replied"; });
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
}

TEST_F(ReadAheadTest, DestroyedWhileABackgroundFetchWaits_ReturnsOnlyAfterTheFetchEnded) {
  std::string content = RandomBytes(8 * kMiB, 7);
  auto ra = Make(content, 2 * kMiB);
  shared_.hold_from = 2 * kMiB;  // the prefetch of the second window hangs
  EXPECT_TRUE(Read(*ra, kMiB, 0).first == content.substr(0, kMiB));
  {
    std::unique_lock lock(shared_.mu);
    ASSERT_TRUE(
        shared_.cv.wait_for(lock, std::chrono::seconds(10), [&] { return shared_.holding; }));
  }
  // The destroyer notes whether the fetch, which writes into the windows being freed, was
  // still under way when destruction returned. The fetch is released as soon as the
  // destroyer runs: a destructor that did not wait would usually return before it.
  bool fetch_running_after_destruction = true;
  std::thread destroyer([&] {
    ra.reset();
    std::lock_guard lock(shared_.mu);
    fetch_running_after_destruction = shared_.holding;
  });
  {
    std::lock_guard lock(shared_.mu);
    shared_.released = true;
  }
  shared_.cv.notify_all();
  destroyer.join();
  EXPECT_FALSE(fetch_running_after_destruction);
  std::lock_guard lock(shared_.mu);
  EXPECT_EQ(shared_.offsets.back(), 2 * kMiB);  // the held fetch was the last call
}

}  // namespace
}  // namespace chainfs::mount
