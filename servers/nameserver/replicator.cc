#include "servers/nameserver/replicator.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "common/log.h"

namespace chainfs::nameserver {

Replicator::Replicator(Namespace* ns, FileStoreApi* ops, Placement* placement, const Clock* clock,
                       const NameServerSettings& settings)
    : ns_(ns), ops_(ops), placement_(placement), clock_(clock), settings_(settings) {}

void Replicator::CreateStarted(const std::string& name, int64_t version) {
  std::lock_guard lock(creates_mu_);
  const TimePoint now = clock_->Now();
  creates_[name] = {version, now + settings_.create_grace};
  in_flight_[version] = {name, now + settings_.create_timeout};
  // Versions grow with time: the expired ones are at the front.
  while (!in_flight_.empty() && in_flight_.begin()->second.second <= now) {
    in_flight_.erase(in_flight_.begin());
  }
}

void Replicator::CreateReported(const std::string& name, int64_t version) {
  std::lock_guard lock(creates_mu_);
  auto it = in_flight_.find(version);
  if (it != in_flight_.end() && it->second.first == name) in_flight_.erase(it);
}

std::optional<int64_t> Replicator::OldestCreateInFlight() {
  std::lock_guard lock(creates_mu_);
  const TimePoint now = clock_->Now();
  std::erase_if(in_flight_, [now](const auto& entry) { return entry.second.second <= now; });
  if (in_flight_.empty()) return std::nullopt;
  return in_flight_.begin()->first;
}

Replicator::Result Replicator::RunOnce() {
  std::lock_guard pass(pass_mu_);
  const size_t factor = static_cast<size_t>(std::max(settings_.replication, 1));
  std::vector<ReplicationTask> tasks =
      ns_->UnderReplicated(factor, settings_.max_replication_tasks_per_pass);
  {
    std::lock_guard lock(creates_mu_);
    const TimePoint now = clock_->Now();
    std::erase_if(creates_, [&](const auto& entry) { return entry.second.second <= now; });
    const int64_t bumping = bumping_;
    std::erase_if(tasks, [&](const ReplicationTask& t) {
      if (bumping != 0 && t.info.version() == bumping) return true;
      auto it = creates_.find(t.info.name());
      return it != creates_.end() && it->second.first == t.info.version();
    });
  }
  if (tasks.empty()) return {};
  std::vector<FileStoreInfo> live = ns_->FileStores();
  size_t want = std::min(factor, live.size());
  struct Copy {
    const ReplicationTask* task;
    std::string target;
  };
  std::vector<Copy> copies;
  for (const ReplicationTask& t : tasks) {
    if (t.sources.size() >= want) continue;
    if (t.sources.empty() && !t.info.tombstone()) continue;  // nothing to copy from
    for (const FileStoreInfo& fs : placement_->Choose(live, want - t.sources.size(), t.sources)) {
      copies.push_back({&t, fs.address});
    }
  }
  std::atomic<size_t> next{0}, copied{0}, failed{0};
  queued_ = copies.size();
  auto worker = [&] {
    for (size_t i = next++; i < copies.size(); i = next++) {
      --queued_;
      const Copy& c = copies[i];
      if (c.task->sources.empty()) {
        // A tombstone whose holders are gone: any FileStore records it without a source.
        absl::Status st = ops_->Delete(c.target, c.task->info.name(), c.task->info.version());
        if (!st.ok()) {
          ++failed;
          Logger("nameserver")
              ->warn("re-writing tombstone {}@{} on {} failed: {}", c.task->info.name(),
                     c.task->info.version(), c.target, std::string(st.message()));
          continue;
        }
        ++copied;
        ns_->Apply(c.target, c.task->info);
        continue;
      }
      v1::CopyFileRequest req;
      req.set_name(c.task->info.name());
      req.set_version(c.task->info.version());
      for (const std::string& s : c.task->sources) req.add_sources(s);
      absl::StatusOr<v1::CopyFileReply> reply = ops_->CopyFile(c.target, req);
      if (!reply.ok()) {
        ++failed;
        Logger("nameserver")
            ->warn("copy of {}@{} to {} failed: {}", req.name(), req.version(), c.target,
                   std::string(reply.status().message()));
        continue;
      }
      ++copied;
      ns_->Apply(c.target, reply->file().name() == req.name() ? reply->file() : c.task->info);
      Logger("nameserver")->debug("copied {}@{} to {}", req.name(), req.version(), c.target);
    }
  };
  size_t n =
      std::min(copies.size(), static_cast<size_t>(std::max(1, settings_.max_concurrent_copies)));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < n; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (copied + failed > 0) {
    Logger("nameserver")
        ->info("replication: {} under-replicated names, {} copies made, {} failed", tasks.size(),
               copied.load(), failed.load());
  }
  return {copied, failed};
}

}  // namespace chainfs::nameserver
