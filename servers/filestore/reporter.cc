#include "servers/filestore/reporter.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "common/log.h"
#include "common/status.h"
#include "servers/filestore/log.h"

namespace chainfs::filestore {
namespace {

constexpr size_t kReportBatchBytes = 4 << 20;  // per AddFileOrTombstone call

// A refusal that no retry changes: the report is dropped instead of retried forever.
bool IsPermanentRefusal(const absl::Status& st) {
  return st.code() == absl::StatusCode::kFailedPrecondition ||
         st.code() == absl::StatusCode::kInvalidArgument;
}

}  // namespace

Reporter::Reporter(ObjectStore* store, zk::ZooKeeper* zk, NameServerApi* ns, const Clock* clock,
                   ReporterSettings settings)
    : store_(store), zk_(zk), ns_(ns), clock_(clock), settings_(std::move(settings)) {}

Reporter::~Reporter() { Stop(); }

zk::WatchFn Reporter::Guarded(std::function<void()> fn) {
  return [life = life_, fn = std::move(fn)] {
    std::lock_guard lock(life->mu);
    if (life->alive) fn();
  };
}

void Reporter::Start() {
  if (zk_) {
    zk_->SetSessionListener([this, life = life_](zk::SessionEvent event) {
      std::lock_guard lock(life->mu);
      if (!life->alive || event != zk::SessionEvent::kConnected) return;
      need_ephemeral_ = true;
      need_leader_read_ = true;
      need_minver_read_ = true;
      need_maxver_read_ = true;
      ticker_.Wake();
    });
  }
  thread_ = std::thread([this] { Loop(); });
  heartbeat_thread_ = std::thread([this] { HeartBeatLoop(); });
}

void Reporter::Stop() {
  ticker_.Stop();
  heartbeat_ticker_.Stop();
  if (thread_.joinable()) thread_.join();
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  if (zk_) zk_->SetSessionListener(nullptr);
  std::lock_guard lock(life_->mu);
  life_->alive = false;
}

void Reporter::Loop() {
  // Registration retries and queued reports; woken at once when something needs doing.
  while (!ticker_.stopped()) {
    RunOnce();
    if (!ticker_.WaitFor(settings_.heartbeat_interval)) break;
    // Woken by the first queued report: more gather meanwhile, and one call sends them all.
    if (pending_reports() > 0 && !ticker_.WaitFor(settings_.report_delay)) break;
  }
}

void Reporter::HeartBeatLoop() {
  // One heartbeat per interval, counted from the start of the last one: a slow or failed
  // call does not push the next one back.
  Duration wait = settings_.heartbeat_interval;
  while (heartbeat_ticker_.WaitFor(wait)) {
    TimePoint start = clock_->Now();
    HeartBeat();
    Duration took = clock_->Now() - start;
    wait = std::max<Duration>(settings_.heartbeat_interval - took, Duration::zero());
  }
}

void Reporter::RunOnce() {
  if (zk_) SyncZooKeeper();
  if (!ns_ || (zk_ && !leader_known_)) return;  // nobody to talk to yet
  if (need_register_) Register();
  if (registered_ && !need_register_) FlushPending();
}

void Reporter::SyncZooKeeper() {
  if (!zk_->connected()) return;
  auto wake = [this](std::atomic<bool>* flag) {
    return Guarded([this, flag] {
      *flag = true;
      ticker_.Wake();
    });
  };
  if (need_ephemeral_.exchange(false)) {
    const std::string path = "/filestores/" + settings_.self;
    absl::Status st = zk_->EnsurePath("/filestores");
    if (st.ok()) st = zk_->Create(path, "", /*ephemeral=*/true);
    if (st.ok()) Log()->info("registered {} in ZooKeeper", path);
    if (st.ok() || st.code() == absl::StatusCode::kAlreadyExists) {
      // Fires when the node goes (an old session's node expiring, or our session's).
      auto node = zk_->Get(path, wake(&need_ephemeral_));
      if (!node.ok()) need_ephemeral_ = true;
    } else {
      Log()->warn("cannot create {}: {}", path, std::string(st.message()));
      need_ephemeral_ = true;
    }
  }
  if (need_minver_read_.exchange(false)) ReadMinVersion(/*from_watch=*/false);
  if (need_maxver_read_.exchange(false)) {
    if (!ReadMaxVersion(/*from_watch=*/false).ok()) need_maxver_read_ = true;
  }
  if (need_leader_read_.exchange(false)) {
    auto node = zk_->Get("/leader", wake(&need_leader_read_));
    std::string leader;
    if (node.ok()) {
      leader = node->data.substr(0, node->data.find('\n'));
    } else if (node.status().code() != absl::StatusCode::kNotFound) {
      need_leader_read_ = true;
      return;
    }
    if (leader != leader_) {
      leader_ = leader;
      leader_known_ = !leader.empty();
      if (!leader.empty()) {
        Log()->info("NameServer leader is {}", leader);
        registered_ = false;
        need_register_ = true;
      }
    }
  }
}

void Reporter::ReadMinVersion(bool from_watch) {
  // The watch applies the new minimum itself, at once: a create below a freshly written
  // /minver must be refused from the moment the watch fires. One watch at a time.
  if (from_watch) minver_watched_ = false;
  zk::WatchFn watch;
  if (!minver_watched_.exchange(true)) watch = Guarded([this] { ReadMinVersion(true); });
  auto node = zk_->Get("/minver", std::move(watch));
  if (node.ok()) {
    int64_t min_version = std::strtoll(node->data.c_str(), nullptr, 10);
    if (min_version > 0) {
      absl::Status st = store_->SetMinVersion(min_version);
      if (!st.ok()) Log()->warn("set minimum version: {}", std::string(st.message()));
    }
  } else if (node.status().code() != absl::StatusCode::kNotFound) {
    minver_watched_ = false;
    need_minver_read_ = true;  // the loop tries again
    ticker_.Wake();
  }
}

absl::Status Reporter::ReadMaxVersion(bool from_watch) {
  if (from_watch) maxver_watched_ = false;
  zk::WatchFn watch;
  if (!maxver_watched_.exchange(true)) {
    watch = Guarded([this] {
      if (!ReadMaxVersion(true).ok()) {
        need_maxver_read_ = true;
        ticker_.Wake();
      }
    });
  }
  auto node = zk_->Get("/maxver", std::move(watch));
  if (node.ok()) {
    int64_t max_version = std::strtoll(node->data.c_str(), nullptr, 10);
    maxver_exists_ = true;
    // Only ever raised: a stale read never lowers what a newer one showed.
    int64_t seen = max_version_.load();
    while (max_version > seen && !max_version_.compare_exchange_weak(seen, max_version)) {
    }
    return absl::OkStatus();
  }
  if (node.status().code() == absl::StatusCode::kNotFound) {
    maxver_exists_ = false;
    return absl::OkStatus();
  }
  maxver_watched_ = false;
  return node.status();
}

absl::Status Reporter::CheckLease(int64_t version) {
  if (version > kMaxVersion) return absl::InvalidArgumentError("version above the limit");
  if (!zk_ || version <= max_version_) return absl::OkStatus();
  // Perhaps the lease was raised a moment ago: read it once more.
  absl::Status st = ReadMaxVersion(/*from_watch=*/false);
  if (!st.ok()) {
    return absl::UnavailableError(
        fmt::format("cannot check the version lease: {}", std::string(st.message())));
  }
  if (version <= max_version_ || !maxver_exists_) return absl::OkStatus();
  return absl::InvalidArgumentError(
      fmt::format("version above the lease: {} > /maxver {}", version, max_version_.load()));
}

void Reporter::Register() {
  registering_ = true;
  need_register_ = false;
  {
    std::lock_guard lock(mu_);
    pending_.clear();  // the registration covers them
  }
  std::vector<v1::FileInfo> files = store_->List();
  absl::Status st = ns_->RegisterFilesAndTombstones(settings_.self, files, store_->bytes_used(),
                                                    store_->bytes_available());
  registering_ = false;
  if (!st.ok()) {
    need_register_ = true;
    if (registered_.exchange(false) || leader_known_) {
      Log()->warn("registration with the NameServer failed: {}", std::string(st.message()));
    }
    return;
  }
  registered_ = true;
  Log()->info("registered {} files and tombstones with the NameServer", files.size());
}

void Reporter::HeartBeat() {
  if (!ns_ || (zk_ && !leader_known_)) return;
  v1::HeartBeatRequest req;
  req.set_filestore(settings_.self);
  req.set_bytes_used(store_->bytes_used());
  req.set_bytes_available(store_->bytes_available());
  req.set_metrics_address(settings_.metrics_address);
  auto reply = ns_->HeartBeat(req);
  if (!reply.ok()) {
    Log()->warn("heartbeat failed: {}", std::string(reply.status().message()));
    return;
  }
  if (!reply->reregister()) registered_ = true;
  // While a registration is under way the NameServer does not know us yet: that one
  // answers the request.
  if (reply->reregister() && !registering_ && !need_register_.exchange(true)) {
    Log()->info("the NameServer asked for a new registration");
    ticker_.Wake();
  }
}

absl::Status Reporter::ReportNow(const v1::FileInfo& file,
                                 const std::vector<std::string>& also_on) {
  if (!ns_) return absl::OkStatus();
  v1::AddFileOrTombstoneRequest req;
  req.set_filestore(settings_.self);
  *req.mutable_file() = file;
  for (const std::string& member : also_on) req.add_also_on(member);
  auto reply = ns_->AddFileOrTombstone(req);
  absl::Status st;
  if (!reply.ok()) {
    st = reply.status();
  } else if (reply->reregister()) {
    st = absl::UnavailableError("the NameServer asked for a new registration");
    need_register_ = true;
    registered_ = false;
    ticker_.Wake();
  }
  if (st.ok()) return st;
  // Stays committed here: the queue or the next registration tells the NameServer later
  // (and the other members queued their own reports).
  ReportLater(file);
  Log()->warn("report of {}@{} failed: {}", file.name(), file.version(), std::string(st.message()));
  if (IsVersionTooOld(st)) {
    return VersionTooOld("the NameServer refused the version (below /minver)");
  }
  std::string why =
      fmt::format("the NameServer did not record the commit: {}", std::string(st.message()));
  // A refusal keeps its code (the caller must not retry it as if the NameServer were away).
  if (IsPermanentRefusal(st)) return WithMessage(st, why);
  return absl::UnavailableError(why);
}

void Reporter::ReportLater(const v1::FileInfo& file) {
  if (!ns_) return;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (pending_.size() >= settings_.max_pending_reports) {
      pending_.clear();  // too many: a registration reports everything at once
      need_register_ = true;
      wake = true;
    } else {
      pending_.push_back(file);
      // The first wakes the loop, which gathers more for report_delay; a full batch goes
      // at once.
      wake = pending_.size() == 1 ||
             pending_.size() % std::max<size_t>(1, settings_.max_reports_per_call) == 0;
    }
  }
  if (wake) ticker_.Wake();
}

size_t Reporter::pending_reports() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

void Reporter::FlushPending() {
  const size_t per_call = std::max<size_t>(1, settings_.max_reports_per_call);
  while (true) {
    std::vector<v1::FileInfo> batch;
    {
      std::lock_guard lock(mu_);
      if (pending_.empty()) return;
      // Bounded by bytes too: extended attributes can make a FileInfo 128 KiB.
      size_t n = 0;
      for (size_t bytes = 0; n < std::min(per_call, pending_.size()) && bytes < kReportBatchBytes;)
        bytes += pending_[n++].ByteSizeLong();
      const auto end = pending_.begin() + static_cast<ptrdiff_t>(n);
      batch.assign(std::make_move_iterator(pending_.begin()), std::make_move_iterator(end));
      pending_.erase(pending_.begin(), end);
    }
    v1::AddFileOrTombstoneRequest req;
    req.set_filestore(settings_.self);
    *req.mutable_file() = batch.front();
    for (size_t i = 1; i < batch.size(); ++i) *req.add_more() = batch[i];
    auto reply = ns_->AddFileOrTombstone(req);
    if (!reply.ok()) {
      const bool refused = IsPermanentRefusal(reply.status());
      if (refused) {
        // `file` is refused (the NameServer skips refused ones among `more`): it goes.
        Log()->warn("the NameServer refused {}@{}: {}", req.file().name(), req.file().version(),
                    std::string(reply.status().message()));
      }
      std::lock_guard lock(mu_);
      pending_.insert(pending_.begin(), batch.begin() + (refused ? 1 : 0), batch.end());
      if (refused) continue;
      registered_ = false;
      return;
    }
    if (reply->reregister()) {
      need_register_ = true;  // the registration reports everything
      ticker_.Wake();
      return;
    }
  }
}

void Reporter::ReportBadReplica(const std::string& name, int64_t version) {
  if (!ns_) return;
  v1::ReportBadReplicaRequest req;
  req.set_filestore(settings_.self);
  req.mutable_file()->set_name(name);
  req.mutable_file()->set_version(version);
  auto reply = ns_->ReportBadReplica(req);
  if (!reply.ok()) {
    Log()->warn("report of bad replica {}@{} failed: {}", name, version,
                std::string(reply.status().message()));
  }
}

}  // namespace chainfs::filestore
