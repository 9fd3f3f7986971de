#include "servers/nameserver/dir_times.h"

#include <utility>
#include <vector>

#include "servers/nameserver/log.h"

namespace chainfs::nameserver {

DirTimes::DirTimes(Clock* clock, Duration interval, Persist persist)
    : clock_(clock), interval_(interval), persist_(std::move(persist)) {}

void DirTimes::Touched(const std::string& dir) {
  std::lock_guard lock(mu_);
  pending_.try_emplace(dir, clock_->Now());
}

size_t DirTimes::Flush() {
  std::vector<std::pair<std::string, TimePoint>> due;
  {
    std::lock_guard lock(mu_);
    const TimePoint now = clock_->Now();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (now - it->second >= interval_) {
        due.emplace_back(it->first, it->second);
        pending_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  size_t written = 0;
  for (const auto& [dir, since] : due) {
    // Touches from here on are persisted by a later round (they may miss this clone).
    if (absl::Status st = persist_(dir); st.ok()) {
      ++written;
    } else {
      Log()->debug("times of directory {} not persisted yet: {}", dir, std::string(st.message()));
      std::lock_guard lock(mu_);
      auto [it, added] = pending_.try_emplace(dir, since);
      if (!added && since < it->second) it->second = since;
    }
  }
  return written;
}

size_t DirTimes::pending() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

void DirTimes::Clear() {
  std::lock_guard lock(mu_);
  pending_.clear();
}

}  // namespace chainfs::nameserver
