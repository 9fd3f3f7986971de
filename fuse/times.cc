#include "fuse/times.h"

#include "common/client/time_rules.h"
#include "common/log.h"

namespace chainfs::mount {

namespace {

timespec ToTimespec(int64_t ns) {
  return timespec{.tv_sec = ns / 1'000'000'000, .tv_nsec = ns % 1'000'000'000};
}

// Above this many remembered inodes, those past their interval are forgotten.
constexpr size_t kPruneAbove = 4096;

}  // namespace

bool ParseAtimeOption(const std::string& option, AtimeMode* mode) {
  if (option == "relatime") {
    *mode = AtimeMode::kRelatime;
  } else if (option == "noatime") {
    *mode = AtimeMode::kNoatime;
  } else if (option == "strictatime") {
    *mode = AtimeMode::kStrictatime;
  } else {
    return false;
  }
  return true;
}

bool AtimeDue(AtimeMode mode, const v1::Attributes& attributes, int64_t now_ns) {
  switch (mode) {
    case AtimeMode::kNoatime:
      return false;
    case AtimeMode::kStrictatime:
      return true;
    case AtimeMode::kRelatime:
      break;
  }
  const int64_t atime = AtimeOf(attributes);
  return atime <= attributes.mtime_ns() || atime <= CtimeOf(attributes) ||
         now_ns - atime > kRelatimeMaxAgeNs;
}

void FillTimes(const v1::Attributes& attributes, struct stat* st) {
  st->st_mtim = ToTimespec(attributes.mtime_ns());
  st->st_atim = ToTimespec(AtimeOf(attributes));
  st->st_ctim = ToTimespec(CtimeOf(attributes));
}

// --- LocalTimes ---

void LocalTimes::EntriesChanged(uint64_t ino, int64_t now_ns) {
  std::lock_guard lock(mu_);
  Times& t = times_[ino];
  t.mtime_ns = std::max(t.mtime_ns, now_ns);
  t.until = clock_->Now() + hold_;
}

void LocalTimes::Accessed(uint64_t ino, int64_t now_ns) {
  std::lock_guard lock(mu_);
  Times& t = times_[ino];
  t.atime_ns = std::max(t.atime_ns, now_ns);
  t.until = clock_->Now() + hold_;
}

void LocalTimes::Forget(uint64_t ino) {
  std::lock_guard lock(mu_);
  times_.erase(ino);
}

void LocalTimes::Apply(struct stat* st) {
  std::lock_guard lock(mu_);
  auto it = times_.find(st->st_ino);
  if (it == times_.end()) return;
  Times& t = it->second;
  if (clock_->Now() > t.until) {
    times_.erase(it);
    return;
  }
  if (t.atime_ns > Nanos(st->st_atim)) {
    st->st_atim = ToTimespec(t.atime_ns);
  } else {
    t.atime_ns = 0;
  }
  if (t.mtime_ns > Nanos(st->st_mtim) || t.mtime_ns > Nanos(st->st_ctim)) {
    if (t.mtime_ns > Nanos(st->st_mtim)) st->st_mtim = ToTimespec(t.mtime_ns);
    if (t.mtime_ns > Nanos(st->st_ctim)) st->st_ctim = ToTimespec(t.mtime_ns);
  } else {
    t.mtime_ns = 0;
  }
  if (t.atime_ns == 0 && t.mtime_ns == 0) times_.erase(it);
}

// --- AtimeUpdater ---

AtimeUpdater::AtimeUpdater(const Clock* clock, Duration interval, Send send)
    : clock_(clock), interval_(interval), send_(std::move(send)) {
  thread_ = std::thread([this] { Run(); });
}

AtimeUpdater::~AtimeUpdater() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool AtimeUpdater::Request(uint64_t ino, int64_t atime_ns) {
  std::lock_guard lock(mu_);
  const TimePoint now = clock_->Now();
  if (last_.size() > kPruneAbove) {
    std::erase_if(last_, [&](const auto& e) { return now - e.second >= interval_; });
  }
  auto [it, added] = last_.try_emplace(ino, now);
  if (!added) {
    if (now - it->second < interval_) return false;
    it->second = now;
  }
  queue_[ino] = atime_ns;
  cv_.notify_all();
  return true;
}

void AtimeUpdater::Drain() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return (queue_.empty() && !busy_) || stop_; });
}

uint64_t AtimeUpdater::sent() const {
  std::lock_guard lock(mu_);
  return sent_;
}

void AtimeUpdater::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return !queue_.empty() || stop_; });
    if (stop_) return;
    auto [ino, atime_ns] = *queue_.begin();
    queue_.erase(queue_.begin());
    busy_ = true;
    lock.unlock();
    // A failed update is only logged: atime is advisory, and the next read tries again.
    if (absl::Status st = send_(ino, atime_ns); !st.ok()) {
      Logger("mount")->debug("atime update of inode {} failed: {}", ino, std::string(st.message()));
    }
    lock.lock();
    busy_ = false;
    ++sent_;
    cv_.notify_all();
  }
}

}  // namespace chainfs::mount
