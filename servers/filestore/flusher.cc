#include "servers/filestore/flusher.h"

#include "servers/filestore/object_store_internal.h"

namespace chainfs::filestore {

Flusher::Flusher(ObjectStore* store, FlushSettings settings, const Clock* clock)
    : store_(store), settings_(settings), clock_(clock) {}

Flusher::~Flusher() {
  ticker_.Stop();
  if (thread_.joinable()) thread_.join();
}

void Flusher::Start() {
  if (settings_.durability != Durability::kReplicated) {
    internal::Log()->info("sync durability: every commit is fsynced before it is acknowledged");
    return;
  }
  internal::Log()->info(
      "replicated durability: commits reach the disk within {} ms",
      std::chrono::duration_cast<std::chrono::milliseconds>(settings_.interval).count());
  thread_ = std::thread([this] {
    while (ticker_.WaitFor(settings_.interval)) FlushNow().IgnoreError();  // logged there
  });
}

absl::Status Flusher::Stop() {
  ticker_.Stop();
  if (thread_.joinable()) thread_.join();
  std::lock_guard serial(flush_mu_);
  {
    std::lock_guard lock(mu_);
    if (stopped_) return last_;
  }
  return RunFlush(/*clean=*/true);
}

absl::Status Flusher::FlushNow() {
  std::lock_guard serial(flush_mu_);
  return RunFlush(/*clean=*/false);
}

absl::Status Flusher::RunFlush(bool clean) {
  bool was_failing;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return absl::UnavailableError("the flusher has stopped");
    ++started_;
    was_failing = !last_.ok();
  }
  absl::Status st = store_->FlushCommitted(clean);
  if (!st.ok()) {
    internal::Log()->error("flush to disk failed, commits are refused until one succeeds: {}",
                           std::string(st.message()));
  } else if (clean && settings_.durability == Durability::kReplicated) {
    internal::Log()->info("flushed to disk for a clean stop");
  } else if (was_failing) {
    internal::Log()->info("flush to disk succeeded again: commits accepted");
  }
  std::lock_guard lock(mu_);
  completed_ = started_;
  last_ = st;
  if (!st.ok()) ++failures_;
  stopped_ = clean;
  cv_.notify_all();
  return st;
}

absl::Status Flusher::WaitFlushed(TimePoint deadline) {
  if (settings_.durability == Durability::kSync) return absl::OkStatus();
  std::unique_lock lock(mu_);
  // A flush under way may have taken its set before the caller's commit: the next one counts.
  const int64_t target = started_ + 1;
  ticker_.Wake();
  while (completed_ < target) {
    if (stopped_) return absl::UnavailableError("the flusher has stopped");
    if (clock_->Now() >= deadline) {
      return absl::DeadlineExceededError("no flush to disk completed in time");
    }
    clock_->WaitUntil(lock, cv_, deadline);
  }
  return last_;
}

int64_t Flusher::flushes() const {
  std::lock_guard lock(mu_);
  return completed_;
}

int64_t Flusher::failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

}  // namespace chainfs::filestore
