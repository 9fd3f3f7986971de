#include "servers/nameserver/events.h"

#include <fmt/format.h>

#include <algorithm>

namespace chainfs::nameserver {

EventLog::EventLog(const Clock* clock, Duration dropped_memory, size_t capacity)
    : clock_(clock), dropped_memory_(dropped_memory), capacity_(std::max<size_t>(capacity, 1)) {}

void EventLog::Add(std::string kind, std::string text) {
  std::lock_guard lock(mu_);
  events_.push_back({clock_->WallNanos(), std::move(kind), std::move(text)});
  while (events_.size() > capacity_) events_.pop_front();
}

std::vector<Event> EventLog::Recent() const {
  std::lock_guard lock(mu_);
  return {events_.rbegin(), events_.rend()};
}

void EventLog::Dropped(const std::string& address) {
  std::lock_guard lock(mu_);
  std::erase_if(dropped_, [&](const DroppedFileStore& d) { return d.address == address; });
  dropped_.push_back({address, clock_->WallNanos(), clock_->Now()});
  while (dropped_.size() > capacity_) dropped_.pop_front();
}

void EventLog::Registered(const std::string& address) {
  std::lock_guard lock(mu_);
  std::erase_if(dropped_, [&](const DroppedFileStore& d) { return d.address == address; });
}

std::vector<DroppedFileStore> EventLog::RecentlyDropped() const {
  const TimePoint since = clock_->Now() - dropped_memory_;
  std::lock_guard lock(mu_);
  std::vector<DroppedFileStore> out;
  for (auto it = dropped_.rbegin(); it != dropped_.rend() && it->at >= since; ++it) {
    out.push_back(*it);
  }
  return out;
}

void EventLog::GcRound(int64_t min_version, const std::string& error) {
  if (error.empty() && min_version == 0) return;  // no round was due: the last outcome stands
  std::string text = error.empty() ? fmt::format("GC round done: /minver is now {}", min_version)
                                   : fmt::format("GC round stopped: {}", error);
  bool repeated;
  {
    std::lock_guard lock(mu_);
    repeated = !error.empty() && !gc_.ok && gc_.text == text;
    gc_.wall_ns = clock_->WallNanos();
    gc_.ok = error.empty();
    gc_.text = text;
    if (error.empty()) ++gc_.rounds;
  }
  // The same stop tick after tick is one event.
  if (!repeated) Add("gc", std::move(text));
}

GcOutcome EventLog::gc() const {
  std::lock_guard lock(mu_);
  return gc_;
}

}  // namespace chainfs::nameserver
