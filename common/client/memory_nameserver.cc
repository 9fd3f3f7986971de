#include "common/client/memory_nameserver.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/client/nameserver_rules.h"
#include "common/client/time_rules.h"
#include "common/client/xattr_rules.h"
#include "common/names.h"
#include "common/status.h"

namespace chainfs {

namespace {

bool IsDirectory(const v1::FileInfo& info) { return info.kind() == v1::KIND_DIRECTORY; }

}  // namespace

MemoryNameServer::MemoryNameServer(std::vector<std::string> filestores, int replication)
    : replication_(replication) {
  for (const std::string& address : filestores) ns_.AddFileStore(address);
}

void MemoryNameServer::SetFileStores(FileStoreApi* filestores) {
  std::lock_guard lock(mu_);
  filestores_api_ = filestores;
}

FileStoreApi* MemoryNameServer::filestores_api() {
  std::lock_guard lock(mu_);
  return filestores_api_;
}

void MemoryNameServer::FailNext(std::string_view method, absl::Status status, int times) {
  std::lock_guard lock(mu_);
  failures_[std::string(method)] = Failure{std::move(status), times};
}

int MemoryNameServer::calls(std::string_view method) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(method);
  return it == calls_.end() ? 0 : it->second;
}

void MemoryNameServer::SetHook(std::function<void(std::string_view method)> hook) {
  std::lock_guard lock(mu_);
  hook_ = std::move(hook);
}

absl::Status MemoryNameServer::Enter(std::string_view method) {
  std::function<void(std::string_view)> hook;
  {
    std::lock_guard lock(mu_);
    ++calls_[std::string(method)];
    hook = hook_;
  }
  if (hook) hook(method);
  std::lock_guard lock(mu_);
  auto it = failures_.find(method);
  if (it == failures_.end() || it->second.times <= 0) return absl::OkStatus();
  absl::Status status = it->second.status;
  if (--it->second.times == 0) failures_.erase(it);
  return status;
}

// --- direct access ---

void MemoryNameServer::Put(const v1::FileInfo& file, const std::vector<std::string>& holders) {
  std::lock_guard lock(mu_);
  for (const std::string& address : holders) {
    ns_.AddFileStore(address);
    ns_.Apply(address, file);
  }
  if (holders.empty()) ns_.SetWithoutHolders(file);
  last_version_ = std::max(last_version_, file.version());
}

std::optional<v1::FileInfo> MemoryNameServer::Latest(const std::string& name) const {
  std::lock_guard lock(mu_);
  return ns_.Latest(name);
}

std::vector<std::string> MemoryNameServer::Holders(const std::string& name) const {
  std::lock_guard lock(mu_);
  return ns_.Holders(name);
}

void MemoryNameServer::DropFileStore(const std::string& address) {
  std::lock_guard lock(mu_);
  if (MemoryNamespace::FileStore* fs = ns_.Find(address)) {
    fs->live = false;
    ns_.Forget(address);
  }
}

void MemoryNameServer::SetSpace(const std::string& address, int64_t bytes_used,
                                int64_t bytes_available) {
  std::lock_guard lock(mu_);
  MemoryNamespace::FileStore& fs = ns_.AddFileStore(address);
  fs.bytes_used = bytes_used;
  fs.bytes_available = bytes_available;
}

int64_t MemoryNameServer::last_version() const {
  std::lock_guard lock(mu_);
  return last_version_;
}

void MemoryNameServer::SetClock(const Clock* clock) {
  std::lock_guard lock(mu_);
  clock_ = clock;
}

void MemoryNameServer::TouchParentLocked(const std::string& name) {
  ns_.TouchDirectory(std::string(ParentOf(name)), clock_->WallNanos());
}

// --- changes through the FileStores ---

v1::FileInfo MemoryNameServer::NewVersionLocked(const std::string& name, const Live& item) {
  v1::FileInfo target;
  target.set_name(name);
  target.set_version(++last_version_);
  *target.mutable_attributes() = item.info.attributes();
  return target;
}

v1::FileInfo MemoryNameServer::NewVersion(const std::string& name, const Live& item) {
  std::lock_guard lock(mu_);
  return NewVersionLocked(name, item);
}

absl::StatusOr<int64_t> MemoryNameServer::Tombstone(const Live& item) {
  v1::FileInfo tomb;
  std::vector<std::string> targets = item.holders;
  {
    std::lock_guard lock(mu_);
    tomb.set_name(item.info.name());
    tomb.set_version(++last_version_);
    tomb.set_tombstone(true);
    tomb.set_kind(item.info.kind());
    for (const std::string& address : ns_.placement_order()) {
      if (targets.size() >= static_cast<size_t>(replication_)) break;
      if (ns_.IsLive(address) &&
          std::find(targets.begin(), targets.end(), address) == targets.end()) {
        targets.push_back(address);
      }
    }
  }
  std::vector<absl::Status> results(targets.size());
  if (FileStoreApi* api = filestores_api()) {
    results = api->DeleteOnEach(targets, tomb.name(), tomb.version());
  }
  std::lock_guard lock(mu_);
  size_t acked = 0;
  absl::Status first_error;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (results[i].ok()) {
      ns_.Apply(targets[i], tomb);
      acked += i < item.holders.size();
    } else if (first_error.ok()) {
      first_error = results[i];
    }
  }
  if (acked == 0 && !item.holders.empty()) return first_error;
  return tomb.version();
}

absl::StatusOr<v1::FileInfo> MemoryNameServer::Clone(const Live& item, v1::FileInfo target,
                                                     bool* all) {
  target.set_kind(item.info.kind());
  target.set_size(item.info.size());
  std::vector<absl::StatusOr<v1::CloneReply>> results(item.holders.size(), v1::CloneReply());
  if (FileStoreApi* api = filestores_api()) {
    v1::CloneRequest req;
    req.mutable_source()->set_name(item.info.name());
    req.mutable_source()->set_version(item.info.version());
    *req.mutable_target() = target;
    results = api->CloneOnEach(item.holders, req);
  }
  std::lock_guard lock(mu_);
  absl::Status first_error = absl::UnavailableError("no holder");
  bool any = false;
  *all = true;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].ok()) {
      any = true;
      bool named = results[i]->file().name() == target.name();
      ns_.Apply(item.holders[i], named ? results[i]->file() : target);
    } else {
      *all = false;
      if (first_error.code() == absl::StatusCode::kUnavailable) first_error = results[i].status();
    }
  }
  if (!any) return first_error;
  return target;
}

// --- client calls ---

absl::StatusOr<v1::DoCreateReply> MemoryNameServer::DoCreate(const v1::DoCreateRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("DoCreate"));
  CHAINFS_RETURN_IF_ERROR(ValidateDoCreate(req));
  std::lock_guard lock(mu_);
  CHAINFS_RETURN_IF_ERROR(ns_.CheckNotBeneathAFile(req.path()));
  if (req.exclusive() && ns_.Stat(req.path()).ok()) {
    return absl::AlreadyExistsError(fmt::format("{} exists", req.path()));
  }
  for (const std::string& address : req.exclude()) {
    if (MemoryNamespace::FileStore* fs = ns_.Find(address)) fs->suspect = true;
  }
  v1::DoCreateReply reply;
  bool any_candidate = false;
  for (const std::string& address : ns_.placement_order()) {
    const MemoryNamespace::FileStore& fs = *ns_.Find(address);
    if (!fs.live || fs.suspect) continue;
    any_candidate = true;
    if (req.expected_size() > 0 && fs.bytes_available < req.expected_size()) continue;
    if (reply.chain_size() < replication_) reply.add_chain(address);
  }
  if (reply.chain_size() == 0) {
    if (!any_candidate && req.exclude_size() > 0) {
      return absl::FailedPreconditionError("every live FileStore is excluded");
    }
    if (any_candidate) {
      return Error(v1::ERROR_NO_SPACE,
                   fmt::format("no FileStore has room for {} bytes", req.expected_size()));
    }
    return absl::UnavailableError("no FileStore is available");
  }
  reply.set_version(++last_version_);
  absl::StatusOr<Live> file = ns_.GetFile(req.path());  // a link's writes go to its inode
  if (file.ok() && file->info.name() != req.path()) reply.set_write_name(file->info.name());
  if (token_signer_) {
    reply.set_token(token_signer_->Sign(file.ok() ? file->info.name() : req.path(), reply.version(),
                                        {reply.chain().begin(), reply.chain().end()}));
  }
  return reply;
}

void MemoryNameServer::SetWriteTokens(const WriteTokenSigner* signer) {
  std::lock_guard lock(mu_);
  token_signer_ = signer;
}

absl::StatusOr<v1::DoReadReply> MemoryNameServer::DoRead(const v1::DoReadRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("DoRead"));
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.path()));
  std::lock_guard lock(mu_);
  CHAINFS_ASSIGN_OR_RETURN(Live live, ns_.GetFile(req.path()));
  v1::DoReadReply reply;
  if (live.info.name() != req.path()) reply.set_read_name(live.info.name());
  AsNameOf(live, req.path(), &live.info);
  for (const std::string& h : live.holders) reply.add_holders(h);
  *reply.mutable_file() = std::move(live.info);
  return reply;
}

absl::StatusOr<v1::DoDeleteReply> MemoryNameServer::DoDelete(const v1::DoDeleteRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("DoDelete"));
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.path()));
  Live live;
  {
    std::lock_guard lock(mu_);
    if (ns_.HasLiveDescendant(req.path())) {
      return Error(v1::ERROR_NOT_EMPTY, fmt::format("{}: directory not empty", req.path()));
    }
    CHAINFS_ASSIGN_OR_RETURN(live, ns_.GetLive(req.path()));
  }
  CHAINFS_ASSIGN_OR_RETURN(int64_t version, Tombstone(live));
  {
    std::lock_guard lock(mu_);
    TouchParentLocked(req.path());
  }
  ReleaseInode(live.info);
  v1::DoDeleteReply reply;
  reply.set_version(version);
  return reply;
}

absl::StatusOr<v1::ListReply> MemoryNameServer::List(const v1::ListRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("List"));
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.glob(), /*allow_root=*/true));
  std::lock_guard lock(mu_);
  v1::ListReply reply;
  for (std::string& path : ns_.List(req.glob())) reply.add_paths(std::move(path));
  return reply;
}

absl::StatusOr<v1::StatReply> MemoryNameServer::Stat(const v1::StatRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("Stat"));
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.path(), /*allow_root=*/true));
  std::lock_guard lock(mu_);
  v1::StatReply reply;
  CHAINFS_ASSIGN_OR_RETURN(*reply.mutable_file(), ns_.Stat(req.path()));
  return reply;
}

absl::StatusOr<v1::ListDirectoryReply> MemoryNameServer::ListDirectory(
    const v1::ListDirectoryRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("ListDirectory"));
  CHAINFS_ASSIGN_OR_RETURN(size_t limit, ValidateListDirectory(req));
  std::lock_guard lock(mu_);
  CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo dir, ns_.Stat(req.path()));
  if (!IsDirectory(dir)) {
    return Error(v1::ERROR_NOT_A_DIRECTORY, fmt::format("{}: not a directory", req.path()));
  }
  std::map<std::string, v1::FileInfo> children = ns_.Children(req.path());
  v1::ListDirectoryReply reply;
  for (auto it = children.upper_bound(req.start_after()); it != children.end(); ++it) {
    if (static_cast<size_t>(reply.entries_size()) >= limit) {
      reply.set_more(true);
      break;
    }
    *reply.add_entries() = it->second;
  }
  return reply;
}

absl::StatusOr<v1::RenameReply> MemoryNameServer::Rename(const v1::RenameRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("Rename"));
  const std::string& from = req.from();
  const std::string& to = req.to();
  CHAINFS_RETURN_IF_ERROR(ValidateName(from));
  CHAINFS_RETURN_IF_ERROR(ValidateName(to));
  if (IsUnder(to, from)) return RenameBeneathItselfError(from, to);
  // The source and everything beneath it, parents before children.
  std::vector<Live> items;
  std::optional<v1::FileInfo> replaced;
  {
    std::lock_guard lock(mu_);
    CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo src, ns_.Stat(from));
    replaced = ns_.Latest(to);
    if (from == to) return v1::RenameReply();
    absl::StatusOr<Live> a = ns_.GetFile(from), b = ns_.GetFile(to);
    if (a.ok() && b.ok() && a->info.name() != from && a->info.name() == b->info.name()) {
      return v1::RenameReply();  // POSIX: two names of one file
    }
    if (absl::StatusOr<v1::FileInfo> dst = ns_.Stat(to); dst.ok()) {
      CHAINFS_RETURN_IF_ERROR(CheckRenameOver(IsDirectory(src), *dst, req.no_replace(),
                                              [&] { return ns_.HasLiveDescendant(to); }));
    }
    if (absl::StatusOr<Live> own = ns_.GetLive(from); own.ok()) items.push_back(*own);
    for (Live& below : ns_.LiveDescendants(from)) items.push_back(std::move(below));
  }
  // Every destination first, then the sources (deepest first): a failure part way leaves
  // duplicates, never losses; a source stays until every holder cloned it.
  int64_t now_ns;
  {
    std::lock_guard lock(mu_);
    now_ns = clock_->WallNanos();
  }
  for (const Live& item : items) {
    bool all = false;
    v1::FileInfo target = NewVersion(to + item.info.name().substr(from.size()), item);
    // The moved entry's status changed (its name); what moves beneath it did not.
    if (item.info.name() == from) target.mutable_attributes()->set_ctime_ns(now_ns);
    absl::StatusOr<v1::FileInfo> cloned = Clone(item, target, &all);
    if (!cloned.ok()) return cloned.status();
    if (!all) return absl::UnavailableError("rename: a holder could not clone; source kept, retry");
  }
  absl::Status result;
  std::for_each(items.rbegin(), items.rend(),
                [&](const Live& item) { result.Update(Tombstone(item).status()); });
  if (replaced && !replaced->tombstone()) ReleaseInode(*replaced);
  if (!result.ok()) return result;
  std::lock_guard lock(mu_);
  TouchParentLocked(from);
  if (ParentOf(from) != ParentOf(to)) TouchParentLocked(to);
  return v1::RenameReply();
}

absl::StatusOr<v1::SetAttributesReply> MemoryNameServer::SetAttributes(
    const v1::SetAttributesRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("SetAttributes"));
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.path()));
  Live live;
  v1::FileInfo target;
  {
    std::lock_guard lock(mu_);
    absl::StatusOr<Live> state = ns_.GetFile(req.path());  // a link's: its inode's
    if (!state.ok()) {
      if (ns_.HasLiveDescendant(req.path())) {
        return absl::FailedPreconditionError(
            fmt::format("{}: implied directory without an entry of its own", req.path()));
      }
      return state.status();
    }
    live = *std::move(state);
    v1::Attributes attrs = live.info.attributes();
    CHAINFS_RETURN_IF_ERROR(ApplySetAttributes(req, clock_->WallNanos(), &attrs));
    CHAINFS_RETURN_IF_ERROR(ApplyXattrChanges(req, &attrs));
    target = NewVersionLocked(live.info.name(), live);
    *target.mutable_attributes() = attrs;
  }
  bool all = false;
  v1::SetAttributesReply reply;
  CHAINFS_ASSIGN_OR_RETURN(*reply.mutable_file(), Clone(live, target, &all));
  std::lock_guard lock(mu_);
  AsNameOf(live, req.path(), reply.mutable_file());
  return reply;
}

absl::StatusOr<v1::StatFsReply> MemoryNameServer::StatFs(const v1::StatFsRequest&) {
  CHAINFS_RETURN_IF_ERROR(Enter("StatFs"));
  std::lock_guard lock(mu_);
  int64_t used = 0, available = 0;
  for (const std::string& address : ns_.placement_order()) {
    const MemoryNamespace::FileStore& fs = *ns_.Find(address);
    if (!fs.live) continue;
    used += fs.bytes_used;
    available += fs.bytes_available;
  }
  v1::StatFsReply reply;
  reply.set_bytes_used(used);
  reply.set_bytes_available(available);
  reply.set_bytes_total(used + available);
  reply.set_files(ns_.live_names());
  reply.set_replication(replication_);
  return reply;
}

absl::StatusOr<v1::ClusterStatusReply> MemoryNameServer::ClusterStatus(
    const v1::ClusterStatusRequest&) {
  CHAINFS_RETURN_IF_ERROR(Enter("ClusterStatus"));
  std::lock_guard lock(mu_);
  v1::ClusterStatusReply reply;
  reply.set_leader("memory");
  reply.set_serving(true);
  for (const std::string& address : ns_.placement_order()) {
    const MemoryNamespace::FileStore& fs = *ns_.Find(address);
    if (!fs.live) continue;
    v1::FileStoreStatus* s = reply.add_filestores();
    s->set_address(address);
    s->set_bytes_used(fs.bytes_used);
    s->set_bytes_available(fs.bytes_available);
    s->set_files(ns_.FilesOn(address));
  }
  size_t live = static_cast<size_t>(reply.filestores_size());
  reply.set_names(ns_.names());
  reply.set_under_replicated(ns_.CountUnderReplicated(
      std::max<size_t>(1, std::min(static_cast<size_t>(replication_), live))));
  reply.set_max_version(last_version_);
  reply.set_next_version(last_version_ + 1);
  return reply;
}

absl::StatusOr<v1::ReplicateReply> MemoryNameServer::Replicate(const v1::ReplicateRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("Replicate"));
  CHAINFS_RETURN_IF_ERROR(ValidateReplicate(req));
  std::vector<std::pair<v1::CopyFileRequest, std::string>> copies;  // (copy, target)
  v1::ReplicateReply reply;
  {
    std::lock_guard lock(mu_);
    std::vector<std::string> live;
    for (const std::string& a : ns_.placement_order()) {
      if (ns_.IsLive(a)) live.push_back(a);
    }
    const size_t want = std::min(static_cast<size_t>(replication_), live.size());
    for (const std::string& path : req.paths()) {
      absl::StatusOr<Live> item = ns_.GetLive(path);
      if (!item.ok() || item->holders.size() >= want || item->holders.empty()) continue;
      reply.set_under_replicated(reply.under_replicated() + 1);
      size_t have = item->holders.size();
      for (const std::string& target : live) {
        if (have >= want) break;
        if (std::find(item->holders.begin(), item->holders.end(), target) != item->holders.end()) {
          continue;
        }
        v1::CopyFileRequest copy;
        copy.set_name(path);
        copy.set_version(item->info.version());
        for (const std::string& h : item->holders) copy.add_sources(h);
        copies.emplace_back(std::move(copy), target);
        ++have;
      }
    }
  }
  // The copies report themselves (the FileStore twin calls AddFileOrTombstone).
  if (FileStoreApi* fs = filestores_api()) {
    for (const auto& [copy, target] : copies) fs->CopyFile(target, copy).IgnoreError();
  }
  return reply;
}

// --- FileStore calls ---

absl::StatusOr<v1::HeartBeatReply> MemoryNameServer::HeartBeat(const v1::HeartBeatRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("HeartBeat"));
  CHAINFS_RETURN_IF_ERROR(ValidateFileStore(req.filestore()));
  CHAINFS_RETURN_IF_ERROR(ValidateBytes(req.bytes_used(), req.bytes_available()));
  std::lock_guard lock(mu_);
  v1::HeartBeatReply reply;
  MemoryNamespace::FileStore* fs = ns_.Find(req.filestore());
  if (fs == nullptr || !fs->live) {
    reply.set_reregister(true);
    return reply;
  }
  fs->bytes_used = req.bytes_used();
  fs->bytes_available = req.bytes_available();
  fs->suspect = false;
  return reply;
}

absl::StatusOr<v1::AddFileOrTombstoneReply> MemoryNameServer::AddFileOrTombstone(
    const v1::AddFileOrTombstoneRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("AddFileOrTombstone"));
  CHAINFS_RETURN_IF_ERROR(ValidateAddFileOrTombstone(req));
  std::lock_guard lock(mu_);
  auto check = [this](const v1::FileInfo& f) {
    return f.tombstone() ? absl::OkStatus() : ns_.CheckNotBeneathAFile(f.name());
  };
  CHAINFS_RETURN_IF_ERROR(check(req.file()));
  v1::AddFileOrTombstoneReply reply;
  if (!ns_.IsLive(req.filestore())) {
    reply.set_reregister(true);
    return reply;
  }
  // As the real one: the head's report names the other members; unknown ones are ignored.
  // A batch (`more`) skips the reports it refuses.
  auto apply = [this](const std::string& address, const v1::FileInfo& f) {
    if (!ns_.IsLive(address)) return;
    const bool was_live = ns_.GetLive(f.name()).ok();
    ns_.Apply(address, f);
    if (was_live != ns_.GetLive(f.name()).ok()) TouchParentLocked(f.name());
    last_version_ = std::max(last_version_, f.version());
  };
  apply(req.filestore(), req.file());
  for (const std::string& member : req.also_on()) apply(member, req.file());
  for (const v1::FileInfo& f : req.more()) {
    if (check(f).ok()) apply(req.filestore(), f);
  }
  return reply;
}

absl::StatusOr<v1::ReportBadReplicaReply> MemoryNameServer::ReportBadReplica(
    const v1::ReportBadReplicaRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("ReportBadReplica"));
  CHAINFS_RETURN_IF_ERROR(ValidateFileStore(req.filestore()));
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.file().name()));
  if (req.file().version() <= 0) return absl::InvalidArgumentError("version must be positive");
  std::lock_guard lock(mu_);
  if (ns_.IsLive(req.filestore())) {
    ns_.RemoveHolder(req.filestore(), req.file().name(), req.file().version());
  }
  return v1::ReportBadReplicaReply();
}

absl::Status MemoryNameServer::RegisterFilesAndTombstones(const std::string& filestore,
                                                          const std::vector<v1::FileInfo>& files,
                                                          int64_t bytes_used,
                                                          int64_t bytes_available) {
  CHAINFS_RETURN_IF_ERROR(Enter("RegisterFilesAndTombstones"));
  CHAINFS_RETURN_IF_ERROR(ValidateFileStore(filestore));
  CHAINFS_RETURN_IF_ERROR(ValidateBytes(bytes_used, bytes_available));
  for (const v1::FileInfo& f : files) CHAINFS_RETURN_IF_ERROR(ValidateReported(f));
  std::lock_guard lock(mu_);
  MemoryNamespace::FileStore& fs = ns_.AddFileStore(filestore);
  fs = MemoryNamespace::FileStore{.bytes_used = bytes_used, .bytes_available = bytes_available};
  ns_.Forget(filestore);
  for (const v1::FileInfo& f : files) {
    ns_.Apply(filestore, f);
    last_version_ = std::max(last_version_, f.version());
  }
  return absl::OkStatus();
}

}  // namespace chainfs
