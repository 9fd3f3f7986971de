#include "servers/nameserver/nameserver.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/client/filestore_client.h"
#include "common/client/nameserver_rules.h"
#include "common/client/time_rules.h"
#include "common/client/xattr_rules.h"
#include "common/log.h"
#include "common/names.h"
#include "common/settings.h"
#include "common/status.h"
#include "servers/nameserver/log.h"

namespace chainfs::nameserver {

namespace {

// At most this much of a client-supplied name goes into an error message.
constexpr size_t kMaxEchoBytes = 100;
std::string_view Echo(std::string_view name) { return name.substr(0, kMaxEchoBytes); }

bool IsDirectory(const v1::FileInfo& info) { return info.kind() == v1::KIND_DIRECTORY; }

}  // namespace

NameServer::NameServer(NameServerSettings settings, Clock* clock, zk::ZooKeeper* zk,
                       FileStoreApi* ops, std::string address, std::string hostname,
                       prometheus::Registry* registry)
    : settings_(settings),
      metrics_(registry),
      clock_(clock),
      zk_(zk),
      ops_(ops),
      allocator_(zk, settings.maxver_step),
      replicator_(&ns_, ops, &placement_, clock, settings_),
      gc_(&ns_, ops, &allocator_, &replicator_, zk, clock, settings_),
      events_(clock, settings_.dropped_filestore_memory),
      dir_times_(clock, settings_.dir_times_interval,
                 [this](const std::string& dir) { return PersistDirectoryTimes(dir); }),
      election_(zk, clock, std::move(address), std::move(hostname),
                Election::Callbacks{.on_elected = [this] { return OnElected(); },
                                    .on_deposed = [this] { OnDeposed(); }},
                settings.election_retry) {}

NameServer::~NameServer() { Stop(); }

void NameServer::Start() {
  election_.Start();
  Duration housekeeping =
      std::clamp<Duration>(settings_.heartbeat_interval / 4, settings_.housekeeping_min_interval,
                           settings_.housekeeping_max_interval);
  threads_.emplace_back(
      [this, housekeeping] { Loop(housekeeping_ticker_, housekeeping, &NameServer::Housekeep); });
  threads_.emplace_back([this] {
    Loop(replication_ticker_, settings_.replication_interval, &NameServer::ReplicationTick);
  });
  threads_.emplace_back([this] { Loop(gc_ticker_, settings_.gc_interval, &NameServer::GcTick); });
  threads_.emplace_back([this] {
    Loop(dir_times_ticker_, std::max(settings_.dir_times_interval / 2, kMinDirTimesTick),
         &NameServer::DirTimesTick);
  });
}

void NameServer::Stop() {
  housekeeping_ticker_.Stop();
  replication_ticker_.Stop();
  gc_ticker_.Stop();
  dir_times_ticker_.Stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  election_.Stop();
}

void NameServer::Loop(Ticker& ticker, Duration interval, void (NameServer::*body)()) {
  while (ticker.WaitFor(interval)) (this->*body)();
}

bool NameServer::serving() const { return serving_ && election_.is_leader(); }

// --- leadership ---

absl::Status NameServer::OnElected() {
  ns_.Clear();
  dir_times_.Clear();
  CHAINFS_RETURN_IF_ERROR(allocator_.TakeOver());
  CHAINFS_RETURN_IF_ERROR(gc_.TakeOver());
  {
    std::lock_guard lock(mu_);
    elected_at_ = clock_->Now();
    deadline_checked_ = false;
  }
  serving_ = false;
  waiting_ = true;
  Log()->info("{} is the leader; start-up wait of up to {} for the FileStores to register",
              election_.address(), FormatDuration(settings_.startup_wait));
  events_.Add("election", fmt::format("{} became the leader", election_.address()));
  housekeeping_ticker_.Wake();
  metrics_.elections.Increment();
  return absl::OkStatus();
}

void NameServer::OnDeposed() {
  serving_ = false;
  waiting_ = false;
  allocator_.Deactivate();
  ns_.Clear();
  dir_times_.Clear();
  Log()->warn("{} stopped serving: no longer the leader", election_.address());
  events_.Add("election", fmt::format("{} is no longer the leader", election_.address()));
}

absl::Status NameServer::CheckLeader() const {
  if (election_.is_leader() && (waiting_ || serving_)) return absl::OkStatus();
  std::string leader = election_.leader_address();
  if (leader.empty() || leader == election_.address()) {
    return absl::UnavailableError("not leader; the leader is unknown");
  }
  return absl::UnavailableError(fmt::format("not leader; the leader is {}", leader));
}

absl::Status NameServer::CheckServing() const {
  CHAINFS_RETURN_IF_ERROR(CheckLeader());
  if (!serving_) {
    return absl::UnavailableError("starting up: waiting for the FileStores to register");
  }
  return absl::OkStatus();
}

// --- background duties ---

void NameServer::Housekeep() {
  TimePoint now = clock_->Now();
  if (!election_.is_leader() || !(waiting_ || serving_)) {
    std::lock_guard lock(mu_);
    unavailable_at_ = now;
    return;
  }
  TimePoint unavailable_at;
  {
    std::lock_guard lock(mu_);
    unavailable_at = unavailable_at_;
  }
  // Heartbeats refused while this leader could not serve (ZooKeeper connection lost) are
  // not missed ones: FileStores get two full intervals after it serves again.
  std::vector<std::string> dropped;
  // Two missed heartbeats, with half an interval of slack for one that is merely late.
  TimePoint cutoff = now - 2 * settings_.heartbeat_interval - settings_.heartbeat_interval / 2;
  if (cutoff > unavailable_at) dropped = ns_.ExpireFileStores(cutoff, now);
  for (const std::string& a : dropped) {
    Log()->warn("FileStore {} missed two heartbeats: dropped with everything it reported", a);
    events_.Dropped(a);
    events_.Add("filestore", fmt::format("FileStore {} dropped: missed two heartbeats", a));
  }
  if (!dropped.empty()) {
    metrics_.filestore_drops.Increment(static_cast<double>(dropped.size()));
    // A GC round that saw a drop cannot move /minver; the names it relabelled part way are
    // plain under-replicated ones now, and replication must not wait for the round to end
    // (a bump to the dropped FileStore may take a whole call timeout to fail).
    replicator_.SetBumping(0);
    replication_ticker_.Wake();
  }
  TimePoint elected_at;
  {
    std::lock_guard lock(mu_);
    elected_at = elected_at_;
  }
  if (waiting_) {
    bool over = now - elected_at >= settings_.startup_wait;
    if (!over) {
      absl::StatusOr<std::vector<std::string>> listed = zk_->Children(kFileStoresPath);
      // An empty /filestores proves nothing (FileStores may not have announced
      // themselves yet): then only the full wait ends it.
      over = listed.ok() && !listed->empty() && ns_.AllRegistered(*listed);
    }
    if (over && waiting_.exchange(false)) {
      serving_ = true;
      Log()->info("{} is serving: {} FileStores, {} names", election_.address(),
                  ns_.live_filestores(), ns_.names());
      events_.Add("election", fmt::format("serving: {} FileStores, {} names", ns_.live_filestores(),
                                          ns_.names()));
      replication_ticker_.Wake();
    }
  }
  if (serving_ && now - elected_at >= settings_.replication_deadline) {
    bool check;
    {
      std::lock_guard lock(mu_);
      check = !deadline_checked_;
      deadline_checked_ = true;
    }
    if (check) {
      size_t under = ns_.CountUnderReplicated(static_cast<size_t>(settings_.replication));
      if (under > 0) {
        Log()->warn("{} names are still under-replicated at the replication deadline", under);
      }
    }
  }
}

Replicator::Result NameServer::Replicate() {
  if (!serving()) return {};
  Replicator::Result result = replicator_.RunOnce();
  metrics_.copies_made.Increment(static_cast<double>(result.copied));
  metrics_.copies_failed.Increment(static_cast<double>(result.failed));
  if (result.copied + result.failed > 0) {
    events_.Add("replication",
                fmt::format("{} copies made, {} failed", result.copied, result.failed));
  }
  return result;
}

void NameServer::ReplicationTick() { Replicate(); }

absl::StatusOr<int64_t> NameServer::CollectGarbage() {
  CHAINFS_RETURN_IF_ERROR(CheckServing());
  absl::StatusOr<int64_t> outcome = gc_.RunOnce();
  metrics_.GcRound(outcome);
  return outcome;
}

void NameServer::GcTick() {
  if (!serving()) return;
  SweepUnlinkedInodes();
  absl::StatusOr<int64_t> r = CollectGarbage();
  if (!r.ok()) Log()->warn("{}", std::string(r.status().message()));
  events_.GcRound(r.ok() ? *r : 0, r.ok() ? "" : std::string(r.status().message()));
}

// --- client calls ---

absl::Status NameServer::DoCreate(const v1::DoCreateRequest& req, v1::DoCreateReply* reply) {
  CHAINFS_RETURN_IF_ERROR(ValidateDoCreate(req));
  CHAINFS_RETURN_IF_ERROR(RefuseHidden(req.path()));
  CHAINFS_RETURN_IF_ERROR(CheckServing());
  CHAINFS_RETURN_IF_ERROR(CheckNotBeneathAFile(req.path()));
  if (req.exclusive() && ns_.Stat(req.path()).ok()) {
    return absl::AlreadyExistsError(fmt::format("{} exists", Echo(req.path())));
  }
  std::vector<FileStoreInfo> live = ns_.FileStores();
  std::vector<std::string> exclude(req.exclude().begin(), req.exclude().end());
  // A client's chain failed through these: nobody's chain goes there until they heartbeat.
  for (const FileStoreInfo& fs : live) {
    if (std::find(exclude.begin(), exclude.end(), fs.address) != exclude.end() &&
        placement_.MarkSuspect(fs.address)) {
      Log()->info("FileStore {} failed a client's chain: suspect until its next heartbeat",
                  fs.address);
    }
  }
  const std::string name = WriteNameOf(req.path());  // a link's writes go to its inode
  std::vector<FileStoreInfo> chain = ChooseChain(name, req, live, exclude);
  if (chain.empty()) {
    if (!exclude.empty() && placement_.Choose(live, 1, exclude).empty()) {
      return absl::FailedPreconditionError("every live FileStore is excluded");
    }
    if (req.expected_size() > 0 && !placement_.Choose(live, 1).empty()) {
      return Error(v1::ERROR_NO_SPACE,
                   fmt::format("no FileStore has room for {} bytes", req.expected_size()));
    }
    return absl::UnavailableError("no FileStore is available");
  }
  CHAINFS_ASSIGN_OR_RETURN(int64_t version, allocator_.Allocate());
  for (const FileStoreInfo& fs : chain) reply->add_chain(fs.address);
  reply->set_version(version);
  if (name != req.path()) reply->set_write_name(name);
  if (token_signer_) {
    reply->set_token(
        token_signer_->Sign(name, version, {reply->chain().begin(), reply->chain().end()}));
  }
  replicator_.CreateStarted(name, version);
  Log()->debug("doCreate {} -> version {}", req.path(), version);
  return absl::OkStatus();
}

std::vector<FileStoreInfo> NameServer::ChooseChain(const std::string& name,
                                                   const v1::DoCreateRequest& req,
                                                   const std::vector<FileStoreInfo>& live,
                                                   const std::vector<std::string>& exclude) {
  const auto want = static_cast<size_t>(settings_.replication);
  std::vector<FileStoreInfo> chain;
  // Building on the latest version: its holders first, each copies its own base.
  std::optional<NameState> base = req.base_version() > 0 ? ns_.Get(name) : std::nullopt;
  if (base && base->info.version() == req.base_version() && !base->info.tombstone()) {
    std::vector<FileStoreInfo> holders;
    for (const FileStoreInfo& fs : live) {
      if (std::find(base->holders.begin(), base->holders.end(), fs.address) !=
          base->holders.end()) {
        holders.push_back(fs);
      }
    }
    chain = placement_.Choose(std::move(holders), want, exclude, req.expected_size());
  }
  if (chain.size() < want) {
    std::vector<std::string> taken = exclude;
    for (const FileStoreInfo& fs : chain) taken.push_back(fs.address);
    for (FileStoreInfo& fs :
         placement_.Choose(live, want - chain.size(), taken, req.expected_size())) {
      chain.push_back(std::move(fs));
    }
  }
  return chain;
}

absl::Status NameServer::CheckNotBeneathAFile(const std::string& path) const {
  // Nothing is created beneath a file or a symlink (it could never be listed).
  for (std::string_view dir = ParentOf(path); dir != "/"; dir = ParentOf(dir)) {
    absl::StatusOr<v1::FileInfo> above = ns_.Stat(std::string(dir));
    if (above.ok() && !IsDirectory(*above)) {
      return Error(v1::ERROR_NOT_A_DIRECTORY, fmt::format("{}: not a directory", Echo(dir)));
    }
  }
  return absl::OkStatus();
}

absl::Status NameServer::DoRead(const v1::DoReadRequest& req, v1::DoReadReply* reply) {
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.path()));
  CHAINFS_RETURN_IF_ERROR(RefuseHidden(req.path()));
  CHAINFS_RETURN_IF_ERROR(CheckServing());
  CHAINFS_ASSIGN_OR_RETURN(NameState state, GetFile(req.path()));
  if (state.info.name() != req.path()) reply->set_read_name(state.info.name());
  AsNameOf(state, req.path(), &state.info);
  for (std::string& h : state.holders) reply->add_holders(std::move(h));
  *reply->mutable_file() = std::move(state.info);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> NameServer::Tombstone(const NameState& state) {
  CHAINFS_ASSIGN_OR_RETURN(int64_t version, allocator_.Allocate());
  v1::FileInfo tomb;
  tomb.set_name(state.info.name());
  tomb.set_version(version);
  tomb.set_tombstone(true);
  tomb.set_kind(state.info.kind());
  std::vector<std::string> targets = state.holders;
  size_t factor = static_cast<size_t>(settings_.replication);
  if (targets.size() < factor) {
    for (const FileStoreInfo& fs :
         placement_.Choose(ns_.FileStores(), factor - targets.size(), targets)) {
      targets.push_back(fs.address);
    }
  }
  std::vector<absl::Status> results = ops_->DeleteOnEach(targets, tomb.name(), version);
  for (size_t i = 0; i < targets.size(); ++i) {
    if (results[i].ok()) ns_.Apply(targets[i], tomb);
  }
  size_t acked = 0;
  absl::Status first_error;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (results[i].ok()) {
      acked += i < state.holders.size();
    } else {
      Log()->warn("delete of {}@{} on {} failed: {}", tomb.name(), version, targets[i],
                  std::string(results[i].message()));
      if (first_error.ok()) first_error = results[i];
    }
  }
  if (acked == 0 && !state.holders.empty()) return first_error;
  Log()->debug("deleted {} with tombstone version {}", tomb.name(), version);
  return version;
}

absl::Status NameServer::DoDelete(const v1::DoDeleteRequest& req, v1::DoDeleteReply* reply) {
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.path()));
  CHAINFS_RETURN_IF_ERROR(RefuseHidden(req.path()));
  CHAINFS_RETURN_IF_ERROR(CheckServing());
  // Refused for a directory with live children whether or not the caller asked for
  // rmdir semantics: deleting them one by one is the caller's job.
  if (ns_.HasLiveDescendant(req.path())) {
    return Error(v1::ERROR_NOT_EMPTY, fmt::format("{}: directory not empty", Echo(req.path())));
  }
  CHAINFS_ASSIGN_OR_RETURN(NameState state, ns_.GetLive(req.path()));
  std::unique_lock dir_lock = LockIfDirectory(state.info);
  CHAINFS_ASSIGN_OR_RETURN(int64_t version, Tombstone(state));
  ReleaseInode(state.info);
  reply->set_version(version);
  TouchParent(req.path());
  return absl::OkStatus();
}

absl::Status NameServer::List(const v1::ListRequest& req, v1::ListReply* reply) {
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.glob(), /*allow_root=*/true));
  CHAINFS_RETURN_IF_ERROR(CheckServing());
  for (std::string& p : ns_.List(req.glob())) reply->add_paths(std::move(p));
  return absl::OkStatus();
}

absl::Status NameServer::Stat(const v1::StatRequest& req, v1::StatReply* reply) {
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.path(), /*allow_root=*/true));
  CHAINFS_RETURN_IF_ERROR(RefuseHidden(req.path()));
  CHAINFS_RETURN_IF_ERROR(CheckServing());
  CHAINFS_ASSIGN_OR_RETURN(*reply->mutable_file(), ns_.Stat(req.path()));
  return absl::OkStatus();
}

absl::Status NameServer::ListDirectory(const v1::ListDirectoryRequest& req,
                                       v1::ListDirectoryReply* reply) {
  CHAINFS_ASSIGN_OR_RETURN(size_t limit, ValidateListDirectory(req));
  CHAINFS_RETURN_IF_ERROR(RefuseHidden(req.path()));
  CHAINFS_RETURN_IF_ERROR(CheckServing());
  CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo dir, ns_.Stat(req.path()));
  if (!IsDirectory(dir)) {
    return Error(v1::ERROR_NOT_A_DIRECTORY, fmt::format("{}: not a directory", Echo(req.path())));
  }
  ns_.ListDirectory(req.path(), req.start_after(), limit, reply);
  return absl::OkStatus();
}

absl::StatusOr<v1::FileInfo> NameServer::CloneOnHolders(const NameState& state, v1::FileInfo target,
                                                        bool* all) {
  v1::CloneRequest req;
  req.mutable_source()->set_name(state.info.name());
  req.mutable_source()->set_version(state.info.version());
  target.set_kind(state.info.kind());
  target.set_size(state.info.size());
  *req.mutable_target() = target;
  std::vector<absl::StatusOr<v1::CloneReply>> results = ops_->CloneOnEach(state.holders, req);
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].ok()) {
      ns_.Apply(state.holders[i],
                results[i]->file().name() == target.name() ? results[i]->file() : target);
    }
  }
  absl::Status first_error = absl::UnavailableError("no holder");
  bool any = false;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].ok()) {
      any = true;
    } else {
      Log()->warn("clone of {}@{} to {}@{} on {} failed: {}", state.info.name(),
                  state.info.version(), target.name(), target.version(), state.holders[i],
                  std::string(results[i].status().message()));
      if (first_error.code() == absl::StatusCode::kUnavailable) first_error = results[i].status();
    }
  }
  if (all != nullptr) {
    *all = std::all_of(results.begin(), results.end(), [](const auto& r) { return r.ok(); });
  }
  if (!any) return first_error;
  return target;
}

absl::Status NameServer::Rename(const v1::RenameRequest& req, v1::RenameReply*) {
  const std::string& from = req.from();
  const std::string& to = req.to();
  CHAINFS_RETURN_IF_ERROR(ValidateName(from));
  CHAINFS_RETURN_IF_ERROR(ValidateName(to));
  if (IsUnder(to, from)) return RenameBeneathItselfError(from, to);
  CHAINFS_RETURN_IF_ERROR(RefuseHidden(from));
  CHAINFS_RETURN_IF_ERROR(RefuseHidden(to));
  CHAINFS_RETURN_IF_ERROR(CheckServing());
  CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo src, ns_.Stat(from));
  // POSIX: a rename onto another name of the same file does nothing.
  if (from == to || SameInode(from, to)) return absl::OkStatus();
  const std::optional<NameState> replaced = ns_.Get(to);
  if (absl::StatusOr<v1::FileInfo> dst = ns_.Stat(to); dst.ok()) {
    CHAINFS_RETURN_IF_ERROR(CheckRenameOver(IsDirectory(src), *dst, req.no_replace(),
                                            [&] { return ns_.HasLiveDescendant(to); }));
  }
  std::unique_lock dir_lock = LockIfDirectory(src);
  // The source and everything beneath it, parents before children.
  std::vector<NameState> items;
  if (absl::StatusOr<NameState> own = ns_.GetLive(from); own.ok()) items.push_back(*own);
  const int64_t now_ns = clock_->WallNanos();
  if (IsDirectory(src)) {
    std::vector<NameState> below = ns_.LiveDescendants(from);
    items.insert(items.end(), below.rbegin(), below.rend());
  }
  // Destinations first: a failure part way leaves duplicates, never losses. The sources
  // are tombstoned only once every holder cloned: a holder that did not keeps its only
  // copy under the source name, and the clones may be bad.
  for (const NameState& item : items) {
    CHAINFS_ASSIGN_OR_RETURN(int64_t version, allocator_.Allocate());
    v1::FileInfo target;
    target.set_name(to + item.info.name().substr(from.size()));
    target.set_version(version);
    *target.mutable_attributes() = item.info.attributes();
    // The moved entry's status changed (its name); what moves beneath it did not.
    if (item.info.name() == from) target.mutable_attributes()->set_ctime_ns(now_ns);
    bool all = false;
    CHAINFS_RETURN_IF_ERROR(CloneOnHolders(item, target, &all).status());
    if (!all) {
      return absl::UnavailableError(
          "rename: not every holder could clone the file; the source is kept, retry");
    }
  }
  absl::Status result;
  for (auto it = items.rbegin(); it != items.rend(); ++it) {
    absl::StatusOr<int64_t> v = Tombstone(*it);
    if (!v.ok() && result.ok()) result = v.status();
  }
  TouchParent(from);
  if (ParentOf(from) != ParentOf(to)) TouchParent(to);
  if (replaced && !replaced->info.tombstone()) ReleaseInode(replaced->info);
  Log()->debug("renamed {} to {} ({} names)", from, to, items.size());
  return result;
}

absl::Status NameServer::SetAttributes(const v1::SetAttributesRequest& req,
                                       v1::SetAttributesReply* reply) {
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.path()));
  CHAINFS_RETURN_IF_ERROR(RefuseHidden(req.path()));
  CHAINFS_RETURN_IF_ERROR(CheckServing());
  absl::StatusOr<NameState> state = GetFile(req.path());  // a link's attributes: its inode's
  if (!state.ok()) {
    if (ns_.HasLiveDescendant(req.path())) {
      return absl::FailedPreconditionError(
          fmt::format("{}: implied directory without an entry of its own", req.path()));
    }
    return state.status();
  }
  std::unique_lock dir_lock = LockIfDirectory(state->info);
  if (dir_lock.owns_lock()) state = ns_.GetLive(req.path());  // what the lock waited for
  if (!state.ok()) return state.status();
  v1::Attributes attrs = state->info.attributes();
  CHAINFS_RETURN_IF_ERROR(ApplySetAttributes(req, clock_->WallNanos(), &attrs));
  CHAINFS_RETURN_IF_ERROR(ApplyXattrChanges(req, &attrs));
  CHAINFS_ASSIGN_OR_RETURN(int64_t version, allocator_.Allocate());
  v1::FileInfo target;
  target.set_name(state->info.name());
  target.set_version(version);
  *target.mutable_attributes() = attrs;
  CHAINFS_ASSIGN_OR_RETURN(*reply->mutable_file(), CloneOnHolders(*state, target));
  AsNameOf(*state, req.path(), reply->mutable_file());
  return absl::OkStatus();
}

absl::Status NameServer::StatFs(const v1::StatFsRequest&, v1::StatFsReply* reply) {
  CHAINFS_RETURN_IF_ERROR(CheckServing());
  // Sums of what FileStores report saturate instead of wrapping (negative counts add 0).
  auto add = [](int64_t a, int64_t b) {
    int64_t sum = 0;
    if (b <= 0) return a;
    return __builtin_add_overflow(a, b, &sum) ? INT64_MAX : sum;
  };
  int64_t used = 0, available = 0;
  for (const FileStoreInfo& fs : ns_.FileStores()) {
    used = add(used, fs.bytes_used);
    available = add(available, fs.bytes_available);
  }
  reply->set_bytes_used(used);
  reply->set_bytes_available(available);
  reply->set_bytes_total(add(used, available));
  reply->set_files(static_cast<int64_t>(ns_.live_names()));
  reply->set_replication(settings_.replication);
  return absl::OkStatus();
}

absl::Status NameServer::ClusterStatus(const v1::ClusterStatusRequest&,
                                       v1::ClusterStatusReply* reply) {
  reply->set_leader(election_.leader_address());
  reply->set_serving(serving());
  TimePoint now = clock_->Now();
  for (const FileStoreInfo& fs : ns_.FileStores(/*count_files=*/true)) {
    v1::FileStoreStatus* s = reply->add_filestores();
    s->set_address(fs.address);
    s->set_bytes_used(fs.bytes_used);
    s->set_bytes_available(fs.bytes_available);
    s->set_files(fs.files);
    s->set_last_heartbeat_age_ms(
        std::chrono::duration_cast<std::chrono::milliseconds>(now - fs.last_heartbeat).count());
    std::lock_guard lock(mu_);
    auto it = filestore_metrics_address_.find(fs.address);
    if (it != filestore_metrics_address_.end()) s->set_metrics_address(it->second);
  }
  reply->set_names(static_cast<int64_t>(ns_.names()));
  reply->set_under_replicated(
      static_cast<int64_t>(ns_.CountUnderReplicated(static_cast<size_t>(settings_.replication))));
  reply->set_min_version(gc_.min_version());
  reply->set_max_version(allocator_.limit());
  reply->set_next_version(allocator_.next());
  std::lock_guard lock(mu_);
  reply->set_metrics_address(metrics_address_);
  return absl::OkStatus();
}

absl::Status NameServer::ReplicateNow(const v1::ReplicateRequest& req, v1::ReplicateReply* reply) {
  CHAINFS_RETURN_IF_ERROR(ValidateReplicate(req));
  CHAINFS_RETURN_IF_ERROR(CheckServing());
  const size_t want =
      std::min(static_cast<size_t>(std::max(settings_.replication, 1)), ns_.live_filestores());
  int64_t short_of = 0;
  for (const std::string& path : req.paths()) {
    std::optional<NameState> state = ns_.Get(path);
    if (state && state->holders.size() < want) ++short_of;
  }
  reply->set_under_replicated(short_of);
  replication_ticker_.Wake();
  Log()->info("replication asked for {} paths ({} under-replicated): replication pass started",
              req.paths_size(), short_of);
  events_.Add("replication", fmt::format("repair asked for {} names, {} under-replicated",
                                         req.paths_size(), short_of));
  return absl::OkStatus();
}

}  // namespace chainfs::nameserver
