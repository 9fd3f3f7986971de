#include "servers/nameserver/version_allocator.h"

#include <fmt/format.h>

#include <charconv>
#include <string>

#include "common/log.h"
#include "common/status.h"

namespace chainfs::nameserver {

namespace {

absl::StatusOr<int64_t> ParseVersion(const std::string& data) {
  if (data.empty()) return 0;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(data.data(), data.data() + data.size(), v);
  if (ec != std::errc() || ptr != data.data() + data.size() || v < 0) {
    return absl::InternalError(fmt::format("{} holds '{}', not a version", kMaxVerPath, data));
  }
  return v;
}

}  // namespace

VersionAllocator::VersionAllocator(zk::ZooKeeper* zk, int64_t step) : zk_(zk), step_(step) {}

absl::Status VersionAllocator::TakeOver() {
  {
    std::lock_guard lock(mu_);
    active_ = false;
    ++generation_;
    cv_.notify_all();
  }
  absl::StatusOr<zk::Node> node = zk_->Get(kMaxVerPath);
  if (absl::IsNotFound(node.status())) {
    absl::Status st = zk_->Create(kMaxVerPath, "0", /*ephemeral=*/false);
    if (!st.ok() && !absl::IsAlreadyExists(st)) return st;
    node = zk_->Get(kMaxVerPath);
  }
  if (!node.ok()) return node.status();
  CHAINFS_ASSIGN_OR_RETURN(int64_t m, ParseVersion(node->data));
  CHAINFS_ASSIGN_OR_RETURN(int32_t zv,
                           zk_->Set(kMaxVerPath, std::to_string(m + step_), node->version));
  std::lock_guard lock(mu_);
  ++generation_;
  active_ = true;
  raising_ = false;
  next_ = m + 1;
  limit_ = m + step_;
  znode_version_ = zv;
  Logger("nameserver")
      ->info("took over /maxver: was {}, now {}; assigning from {}", m, limit_, next_);
  return absl::OkStatus();
}

void VersionAllocator::Deactivate() {
  std::lock_guard lock(mu_);
  active_ = false;
  ++generation_;
  cv_.notify_all();
}

void VersionAllocator::RaiseLocked(std::unique_lock<std::mutex>& lock, int64_t target) {
  raising_ = true;
  uint64_t generation = generation_;
  int32_t expected = znode_version_;
  lock.unlock();
  absl::StatusOr<int32_t> zv = zk_->Set(kMaxVerPath, std::to_string(target), expected);
  lock.lock();
  if (generation != generation_) return;  // leadership changed meanwhile; TakeOver reset us
  raising_ = false;
  if (zv.ok()) {
    limit_ = target;
    znode_version_ = *zv;
  } else if (absl::IsFailedPrecondition(zv.status()) || absl::IsNotFound(zv.status())) {
    Logger("nameserver")
        ->error("raising /maxver to {} was refused ({}): fenced off", target,
                std::string(zv.status().message()));
    active_ = false;
  } else {
    Logger("nameserver")
        ->warn("raising /maxver to {} failed: {}", target, std::string(zv.status().message()));
  }
  cv_.notify_all();
}

absl::StatusOr<int64_t> VersionAllocator::Allocate() {
  std::unique_lock lock(mu_);
  bool tried = false;
  while (true) {
    if (!active_) return absl::UnavailableError("not leader: no version lease");
    if (next_ <= limit_) {
      int64_t v = next_++;
      if (!raising_ && limit_ - next_ < step_ / 2) RaiseLocked(lock, limit_ + step_);
      return v;
    }
    if (raising_) {
      cv_.wait(lock);
      continue;
    }
    // The lease is used up and the last raise failed without fencing: try once more.
    if (tried) return absl::UnavailableError("cannot raise /maxver");
    tried = true;
    RaiseLocked(lock, limit_ + step_);
  }
}

absl::Status VersionAllocator::SkipPast(int64_t seen) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !raising_; });
  if (!active_ || seen < next_) return absl::OkStatus();
  Logger("nameserver")
      ->warn(
          "a FileStore holds version {}, not below the next version to assign ({}): /maxver was "
          "lost or rolled back; assigning from {} on",
          seen, next_, seen + 1);
  if (seen >= limit_) {
    RaiseLocked(lock, seen + step_);
    if (limit_ <= seen) return absl::UnavailableError("cannot raise /maxver past a version in use");
  }
  next_ = seen + 1;
  return absl::OkStatus();
}

bool VersionAllocator::active() const {
  std::lock_guard lock(mu_);
  return active_;
}

int64_t VersionAllocator::next() const {
  std::lock_guard lock(mu_);
  return next_;
}

int64_t VersionAllocator::limit() const {
  std::lock_guard lock(mu_);
  return limit_;
}

}  // namespace chainfs::nameserver
