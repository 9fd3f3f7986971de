#include "servers/nameserver/garbage_collector.h"

#include <fmt/format.h>

#include <charconv>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "common/log.h"
#include "common/names.h"
#include "common/status.h"

namespace chainfs::nameserver {

namespace {
constexpr size_t kBumpBatch = 10'000;
}  // namespace

GarbageCollector::GarbageCollector(Namespace* ns, FileStoreApi* ops, VersionAllocator* allocator,
                                   Replicator* replicator, zk::ZooKeeper* zk, Clock* clock,
                                   const NameServerSettings& settings)
    : ns_(ns),
      ops_(ops),
      allocator_(allocator),
      replicator_(replicator),
      zk_(zk),
      clock_(clock),
      settings_(settings) {}

absl::Status GarbageCollector::TakeOver() {
  absl::StatusOr<zk::Node> node = zk_->Get(kMinVerPath);
  if (absl::IsNotFound(node.status())) {
    absl::Status st = zk_->Create(kMinVerPath, "0", /*ephemeral=*/false);
    if (!st.ok() && !absl::IsAlreadyExists(st)) return st;
    node = zk_->Get(kMinVerPath);
  }
  if (!node.ok()) return node.status();
  int64_t minver = 0;
  const std::string& d = node->data;
  if (!d.empty()) {
    auto [ptr, ec] = std::from_chars(d.data(), d.data() + d.size(), minver);
    if (ec != std::errc() || ptr != d.data() + d.size()) {
      return absl::InternalError(fmt::format("{} holds '{}', not a version", kMinVerPath, d));
    }
  }
  {
    std::lock_guard lock(mu_);
    reserved_.clear();
    min_version_ = minver;
    minver_znode_version_ = node->version;
    unresolved_minver_ = 0;
    retry_version_ = 0;
    baseline_next_ = allocator_->next();
    reserved_since_baseline_ = 0;
  }
  return Reserve();
}

absl::Status GarbageCollector::Reserve() {
  CHAINFS_ASSIGN_OR_RETURN(int64_t v, allocator_->Allocate());
  std::lock_guard lock(mu_);
  reserved_.push_back({v, clock_->Now()});
  ++reserved_since_baseline_;
  return absl::OkStatus();
}

int64_t GarbageCollector::min_version() const {
  std::lock_guard lock(mu_);
  return min_version_;
}

absl::Status GarbageCollector::CheckCompleteView() const {
  absl::StatusOr<std::vector<std::string>> listed = zk_->Children(kFileStoresPath);
  if (!listed.ok()) {
    return absl::Status(listed.status().code(),
                        fmt::format("gc: cannot list {}: {}", kFileStoresPath,
                                    std::string(listed.status().message())));
  }
  if (ns_->live_filestores() == 0) return absl::FailedPreconditionError("gc: no live FileStore");
  if (!ns_->AllRegistered(*listed) || !ns_->AllLiveRegistered()) {
    return absl::FailedPreconditionError(
        "gc: waiting for every FileStore to finish its registration");
  }
  std::vector<std::string> dropped =
      ns_->RecentlyDropped(clock_->Now() - settings_.dropped_filestore_memory);
  if (!dropped.empty()) {
    return absl::FailedPreconditionError(
        fmt::format("gc: waiting for {} dropped FileStores to register again (such as {})",
                    dropped.size(), dropped.front()));
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> GarbageCollector::Bump(int64_t g) {
  absl::flat_hash_map<std::string, std::vector<v1::NameVersion>> below = ns_->LiveFilesBelow(g);
  if (below.empty()) return 0;
  struct Answer {
    std::string address;
    const std::vector<v1::NameVersion>* files;
    absl::Status status;
    std::vector<bool> relabelled;
  };
  std::vector<Answer> answers;
  answers.reserve(below.size());
  for (auto& [address, files] : below) {
    answers.push_back({address, &files, absl::OkStatus(), std::vector<bool>(files.size())});
  }
  replicator_->SetBumping(g);
  // Every holder at once; nothing is applied before all of them answered.
  auto ask = [this, g](Answer& a) {
    const std::vector<v1::NameVersion>& files = *a.files;
    for (size_t start = 0, end = 0; start < files.size(); start = end) {
      v1::BumpVersionRequest req;
      req.set_new_version(g);
      end = NameBatchEnd(start, files.size(), kBumpBatch,
                         [&files](size_t i) { return files[i].name().size(); });
      for (size_t i = start; i < end; ++i) *req.add_files() = files[i];
      absl::StatusOr<v1::BumpVersionReply> reply = ops_->BumpVersion(a.address, req);
      if (!reply.ok()) {
        a.status = reply.status();
        return;
      }
      absl::flat_hash_map<std::string, int64_t> skipped;
      for (const v1::NameVersion& s : reply->skipped()) skipped[s.name()] = s.version();
      for (size_t i = start; i < end; ++i) {
        auto it = skipped.find(files[i].name());
        a.relabelled[i] = it == skipped.end() || it->second == g;
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t i = 1; i < answers.size(); ++i) threads.emplace_back(ask, std::ref(answers[i]));
  ask(answers[0]);
  for (auto& t : threads) t.join();

  absl::flat_hash_map<std::string, std::pair<int, int>> per_name;  // (holders, relabelled)
  for (const Answer& a : answers) {
    for (size_t i = 0; i < a.files->size(); ++i) {
      auto& [holders, relabelled] = per_name[(*a.files)[i].name()];
      ++holders;
      relabelled += a.relabelled[i];
    }
  }
  for (const Answer& a : answers) {
    for (size_t i = 0; i < a.files->size(); ++i) {
      if (!a.relabelled[i]) continue;
      ns_->ApplyBump(a.address, (*a.files)[i].name(), (*a.files)[i].version(), g);
    }
  }
  replicator_->SetBumping(0);

  size_t whole = 0, partial = 0;
  for (const auto& [name, counts] : per_name) {
    whole += counts.second == counts.first;
    partial += counts.second > 0 && counts.second < counts.first;
  }
  auto log = Logger("nameserver");
  if (partial > 0) {
    log->warn(
        "gc: {} names were relabelled to {} on only some of their holders; the others "
        "keep their copies until replication completes them",
        partial, g);
  }
  size_t failed = 0;
  const Answer* first_failed = nullptr;
  for (const Answer& a : answers) {
    if (a.status.ok()) continue;
    ++failed;
    if (first_failed == nullptr) first_failed = &a;
  }
  if (first_failed != nullptr) {
    return absl::UnavailableError(
        fmt::format("gc: bumpVersion to {} failed on {} FileStores (such as {}: {})", g, failed,
                    first_failed->address, std::string(first_failed->status.message())));
  }
  return whole;
}

void GarbageCollector::Adopt(int64_t g, int32_t zv) {
  ns_->ApplyMinVersion(g);
  std::lock_guard lock(mu_);
  min_version_ = g;
  minver_znode_version_ = zv;
  unresolved_minver_ = 0;
  baseline_next_ = allocator_->next();
  reserved_since_baseline_ = 0;
  retry_version_ = 0;
  while (!reserved_.empty() && reserved_.front().version <= g) reserved_.pop_front();
}

absl::Status GarbageCollector::SettleMinVer() {
  int64_t g;
  int32_t expected;
  {
    std::lock_guard lock(mu_);
    if (unresolved_minver_ == 0) return absl::OkStatus();
    g = unresolved_minver_;
    expected = minver_znode_version_;
  }
  absl::StatusOr<int32_t> zv = zk::ResolveSet(zk_, kMinVerPath, std::to_string(g), expected);
  if (!zv.ok()) {
    return absl::Status(zv.status().code(),
                        fmt::format("gc: the write of /minver {} is still unsettled: {}", g,
                                    std::string(zv.status().message())));
  }
  Adopt(g, *zv);
  Logger("nameserver")->info("gc: /minver write of {} settled after a lost reply", g);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> GarbageCollector::RunOnce() {
  CHAINFS_RETURN_IF_ERROR(SettleMinVer());
  CHAINFS_RETURN_IF_ERROR(Reserve());
  const std::optional<int64_t> in_flight = replicator_->OldestCreateInFlight();
  auto below_in_flight = [&](int64_t v) { return !in_flight || v < *in_flight; };
  int64_t g = 0;
  int32_t znode_version;
  {
    std::lock_guard lock(mu_);
    if (retry_version_ > min_version_ && below_in_flight(retry_version_)) {
      g = retry_version_;  // the last round stopped short: finish it first
    } else {
      int64_t used = allocator_->next() - baseline_next_ - reserved_since_baseline_;
      if (used <= settings_.gc_min_new_versions) return 0;
      TimePoint old_enough = clock_->Now() - settings_.gc_version_age;
      for (const Reserved& r : reserved_) {
        if (r.at <= old_enough && below_in_flight(r.version)) g = std::max(g, r.version);
      }
      if (g <= min_version_) return 0;
    }
    znode_version = minver_znode_version_;
  }
  CHAINFS_RETURN_IF_ERROR(CheckCompleteView());
  const uint64_t drops = ns_->drops();
  {
    std::lock_guard lock(mu_);
    retry_version_ = g;
  }
  absl::StatusOr<size_t> bumped = Bump(g);
  replicator_->RunOnce();
  if (!bumped.ok()) return bumped.status();
  // Nothing may have changed the view since the round began.
  if (ns_->drops() != drops) {
    return absl::AbortedError(
        fmt::format("gc: a FileStore was dropped during the round; not moving /minver to {}", g));
  }
  CHAINFS_RETURN_IF_ERROR(CheckCompleteView());
  size_t below = ns_->CountLiveFilesBelow(g);
  size_t under = ns_->CountUnderReplicated(static_cast<size_t>(settings_.replication));
  if (below > 0 || under > 0) {
    return absl::FailedPreconditionError(
        fmt::format("gc: not moving /minver to {}: {} live files still below it, {} names "
                    "under-replicated",
                    g, below, under));
  }
  absl::StatusOr<int32_t> zv =
      zk::SetAndResolve(zk_, kMinVerPath, std::to_string(g), znode_version);
  if (absl::IsUnavailable(zv.status())) {
    // The write may have applied, and FileStores may already purge below g.
    ns_->ApplyMinVersion(g);
    std::lock_guard lock(mu_);
    unresolved_minver_ = g;
  }
  if (!zv.ok()) {
    return absl::Status(zv.status().code(), fmt::format("gc: setting /minver to {} failed: {}", g,
                                                        std::string(zv.status().message())));
  }
  Adopt(g, *zv);
  Logger("nameserver")->info("gc: /minver is now {} ({} files relabelled)", g, *bumped);
  return g;
}

}  // namespace chainfs::nameserver
