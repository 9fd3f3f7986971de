#include "servers/nameserver/garbage_collector.h"

#include <fmt/format.h>

#include <charconv>
#include <string>

#include "common/log.h"
#include "common/status.h"

namespace chainfs::nameserver {

namespace {
constexpr size_t kBumpBatch = 10'000;
}  // namespace

GarbageCollector::GarbageCollector(Namespace* ns, FileStoreOps* ops, VersionAllocator* allocator,
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

absl::StatusOr<int64_t> GarbageCollector::RunOnce() {
  CHAINFS_RETURN_IF_ERROR(Reserve());
  int64_t g = 0;
  int32_t znode_version;
  {
    std::lock_guard lock(mu_);
    int64_t used = allocator_->next() - baseline_next_ - reserved_since_baseline_;
    if (used <= settings_.gc_min_new_versions) return 0;
    TimePoint old_enough = clock_->Now() - settings_.gc_version_age;
    for (const Reserved& r : reserved_) {
      if (r.at <= old_enough) g = r.version;
    }
    if (g <= min_version_) return 0;
    znode_version = minver_znode_version_;
  }
  auto log = Logger("nameserver");
  // Relabel live latest files below G on the FileStores holding that latest version.
  size_t bumped = 0;
  for (auto& [address, files] : ns_->LiveFilesBelow(g)) {
    for (size_t start = 0; start < files.size(); start += kBumpBatch) {
      v1::BumpVersionRequest req;
      req.set_new_version(g);
      size_t end = std::min(files.size(), start + kBumpBatch);
      for (size_t i = start; i < end; ++i) *req.add_files() = files[i];
      absl::StatusOr<v1::BumpVersionReply> reply = ops_->BumpVersion(address, req);
      if (!reply.ok()) {
        return absl::UnavailableError(fmt::format("gc: bumpVersion to {} on {} failed: {}", g,
                                                  address, std::string(reply.status().message())));
      }
      absl::flat_hash_map<std::string, int64_t> skipped;
      for (const v1::NameVersion& s : reply->skipped()) skipped[s.name()] = s.version();
      for (size_t i = start; i < end; ++i) {
        if (skipped.contains(files[i].name())) continue;
        ns_->ApplyBump(address, files[i].name(), files[i].version(), g);
        ++bumped;
      }
    }
  }
  replicator_->RunOnce();
  size_t below = ns_->CountLiveFilesBelow(g);
  size_t under = ns_->CountUnderReplicated(static_cast<size_t>(settings_.replication));
  if (below > 0 || under > 0) {
    return absl::FailedPreconditionError(
        fmt::format("gc: not moving /minver to {}: {} live files still below it, {} names "
                    "under-replicated",
                    g, below, under));
  }
  absl::StatusOr<int32_t> zv = zk_->Set(kMinVerPath, std::to_string(g), znode_version);
  if (!zv.ok()) {
    return absl::Status(zv.status().code(), fmt::format("gc: setting /minver to {} failed: {}", g,
                                                        std::string(zv.status().message())));
  }
  ns_->ApplyMinVersion(g);
  {
    std::lock_guard lock(mu_);
    min_version_ = g;
    minver_znode_version_ = *zv;
    baseline_next_ = allocator_->next();
    reserved_since_baseline_ = 0;
    while (!reserved_.empty() && reserved_.front().version <= g) reserved_.pop_front();
  }
  log->info("gc: /minver is now {} ({} files relabelled)", g, bumped);
  return g;
}

}  // namespace chainfs::nameserver
