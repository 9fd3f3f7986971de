#include "servers/nameserver/version_allocator.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <string>

#include "common/log.h"
#include "common/status.h"
#include "servers/nameserver/log.h"

namespace chainfs::nameserver {

namespace {

// a + b when it is at most kMaxLease (both non-negative), else nullopt.
std::optional<int64_t> LeaseAdd(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &sum) || sum > kMaxLease) {
    return std::nullopt;
  }
  return sum;
}

// The /maxver value, or nullopt when it is corrupt (not a number, negative, above kMaxLease).
std::optional<int64_t> ParseMaxVer(const std::string& data) {
  if (data.empty()) return 0;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(data.data(), data.data() + data.size(), v);
  if (ec != std::errc() || ptr != data.data() + data.size() || v < 0 || v > kMaxLease) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

VersionAllocator::VersionAllocator(zk::ZooKeeper* zk, int64_t step)
    : zk_(zk), step_(std::clamp<int64_t>(step, 1, kMaxStep)) {}

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
  std::optional<int64_t> parsed = ParseMaxVer(node->data);
  if (!parsed) {
    Log()->error(
        "{} is corrupt ('{}': not a version from 0 to {}): treating it as lost; assigning "
        "from 1 and past every version the FileStores register",
        kMaxVerPath, node->data.substr(0, 40), kMaxLease);
  }
  int64_t m = parsed.value_or(0);
  std::optional<int64_t> limit = LeaseAdd(m, step_);
  if (!limit) {
    Log()->error("{} is {}: no version left below {}; treating it as lost", kMaxVerPath, m,
                 kMaxLease);
    m = 0;
    limit = step_;
  }
  CHAINFS_ASSIGN_OR_RETURN(
      int32_t zv, zk::SetAndResolve(zk_, kMaxVerPath, std::to_string(*limit), node->version));
  std::lock_guard lock(mu_);
  ++generation_;
  active_ = true;
  raising_ = false;
  unresolved_.reset();
  next_ = m + 1;
  limit_ = *limit;
  znode_version_ = zv;
  Log()->info("took over /maxver: was {}, now {}; assigning from {}", m, limit_, next_);
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
  std::optional<Unresolved> unresolved = unresolved_;
  int32_t expected = unresolved ? unresolved->expected : znode_version_;
  int64_t written = unresolved ? unresolved->target : target;
  lock.unlock();
  // A raise whose outcome is unknown is settled first; the caller raises again if needed.
  absl::StatusOr<int32_t> zv =
      unresolved ? zk::ResolveSet(zk_, kMaxVerPath, std::to_string(written), expected)
                 : zk::SetAndResolve(zk_, kMaxVerPath, std::to_string(written), expected);
  lock.lock();
  if (generation != generation_) return;  // leadership changed meanwhile; TakeOver reset us
  raising_ = false;
  if (zv.ok()) {
    unresolved_.reset();
    limit_ = std::max(limit_, written);
    znode_version_ = *zv;
  } else if (absl::IsFailedPrecondition(zv.status()) || absl::IsNotFound(zv.status())) {
    Log()->error("raising /maxver to {} was refused ({}): fenced off", written,
                 std::string(zv.status().message()));
    unresolved_.reset();
    active_ = false;
  } else {
    // The write may have applied: /maxver's znode version is unknown until re-read.
    unresolved_ = Unresolved{written, expected};
    Log()->warn("raising /maxver to {} failed: {}; its outcome is settled before the next raise",
                written, std::string(zv.status().message()));
  }
  cv_.notify_all();
}

absl::StatusOr<int64_t> VersionAllocator::Allocate() {
  std::unique_lock lock(mu_);
  bool tried = false;
  while (true) {
    if (!active_) return absl::UnavailableError("not leader: no version lease");
    std::optional<int64_t> next_limit = LeaseAdd(limit_, step_);
    if (next_ <= limit_) {
      int64_t v = next_++;
      if (!raising_ && limit_ - next_ < step_ / 2 && next_limit) RaiseLocked(lock, *next_limit);
      return v;
    }
    if (raising_) {
      cv_.wait(lock);
      continue;
    }
    if (!next_limit && !unresolved_) {
      Log()->error("no version left below {}", kMaxLease);
      return absl::ResourceExhaustedError("version numbers exhausted");
    }
    // The lease is used up and the last raise failed without fencing: try once more.
    if (tried) return absl::UnavailableError("cannot raise /maxver");
    tried = true;
    RaiseLocked(lock, next_limit.value_or(limit_));
  }
}

absl::Status VersionAllocator::SkipPast(int64_t seen) {
  if (seen < 0 || seen > kMaxAcceptedVersion) {
    return absl::InvalidArgumentError(
        fmt::format("version {} is out of range (0 to {})", seen, kMaxAcceptedVersion));
  }
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !raising_; });
  if (!active_ || seen < next_) return absl::OkStatus();
  Log()->warn(
      "a FileStore holds version {}, not below the next version to assign ({}): /maxver was "
      "lost or rolled back; assigning from {} on",
      seen, next_, seen + 1);
  if (seen >= limit_) {
    // seen <= 2^62 and step <= 2^40: the sum is below kMaxLease.
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
