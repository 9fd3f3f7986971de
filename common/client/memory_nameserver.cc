#include "common/client/memory_nameserver.h"

#include <fmt/format.h>
#include <fnmatch.h>

#include <algorithm>

#include "common/client/filestore_client.h"
#include "common/names.h"
#include "common/status.h"

namespace chainfs {

namespace {

constexpr size_t kDefaultListLimit = 1000;
constexpr size_t kMaxListLimit = 10'000;
constexpr int kMaxExclude = 64;

bool IsDirectory(const v1::FileInfo& info) { return info.kind() == v1::KIND_DIRECTORY; }

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

template <typename V, typename T>
bool Contains(const V& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// "/" -> "/", "/a" -> "/a/": the prefix of every name beneath dir.
std::string DirPrefix(const std::string& dir) { return dir == "/" ? dir : dir + "/"; }

v1::FileInfo ImpliedDirectory(const std::string& name) {
  v1::FileInfo info;
  info.set_name(name);
  info.set_kind(v1::KIND_DIRECTORY);
  info.mutable_attributes()->set_mode(0755);
  return info;
}

absl::Status ValidateAddress(const std::string& address) {
  if (address.empty()) return absl::InvalidArgumentError("filestore address is missing");
  return ValidateFileStoreAddress(address);
}

absl::Status ValidateBytes(int64_t bytes_used, int64_t bytes_available) {
  if (bytes_used < 0 || bytes_available < 0) {
    return absl::InvalidArgumentError("byte counts must not be negative");
  }
  return absl::OkStatus();
}

// A file or tombstone as a FileStore reports it.
absl::Status ValidateReported(const v1::FileInfo& f) {
  CHAINFS_RETURN_IF_ERROR(ValidateName(f.name()));
  if (f.version() <= 0) return absl::InvalidArgumentError("version must be positive");
  if (f.size() < 0) return absl::InvalidArgumentError("size must not be negative");
  if (!v1::Kind_IsValid(f.kind())) return absl::InvalidArgumentError("unknown kind");
  if (f.attributes().mode() > 07777) {
    return absl::InvalidArgumentError("mode has bits above 07777");
  }
  return absl::OkStatus();
}

}  // namespace

MemoryNameServer::MemoryNameServer(std::vector<std::string> filestores, int replication)
    : replication_(replication), order_(std::move(filestores)) {
  for (const std::string& address : order_) filestores_[address] = FileStore{};
}

void MemoryNameServer::SetFileStores(FileStoreApi* filestores) {
  std::lock_guard lock(mu_);
  filestores_api_ = filestores;
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
    if (!filestores_.contains(address)) {
      filestores_[address] = FileStore{};
      order_.push_back(address);
    }
    ApplyLocked(address, file);
  }
  if (holders.empty()) names_[file.name()].latest = file;
  last_version_ = std::max(last_version_, file.version());
}

std::optional<v1::FileInfo> MemoryNameServer::Latest(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = names_.find(name);
  if (it == names_.end()) return std::nullopt;
  return it->second.latest;
}

std::vector<std::string> MemoryNameServer::Holders(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = names_.find(name);
  if (it == names_.end()) return {};
  return it->second.holders;
}

void MemoryNameServer::DropFileStore(const std::string& address) {
  std::lock_guard lock(mu_);
  auto fs = filestores_.find(address);
  if (fs == filestores_.end()) return;
  fs->second.live = false;
  ForgetLocked(address);
}

void MemoryNameServer::SetSpace(const std::string& address, int64_t bytes_used,
                                int64_t bytes_available) {
  std::lock_guard lock(mu_);
  FileStore& fs = filestores_[address];
  fs.bytes_used = bytes_used;
  fs.bytes_available = bytes_available;
}

int64_t MemoryNameServer::last_version() const {
  std::lock_guard lock(mu_);
  return last_version_;
}

// --- the namespace ---

int64_t MemoryNameServer::AllocateLocked() { return ++last_version_; }

bool MemoryNameServer::LiveLocked(const std::string& address) const {
  auto it = filestores_.find(address);
  return it != filestores_.end() && it->second.live;
}

void MemoryNameServer::ApplyLocked(const std::string& address, const v1::FileInfo& reported) {
  v1::FileInfo file = reported;
  if (file.tombstone()) file.set_size(0);
  auto [it, inserted] = names_.try_emplace(file.name());
  Entry& e = it->second;
  if (inserted) {
    e.latest = file;
    e.holders = {address};
    return;
  }
  if (file.version() < e.latest.version()) {
    auto stale = e.stale.find(address);
    if (!Contains(e.holders, address) &&
        (stale == e.stale.end() || stale->second.version() < file.version())) {
      e.stale[address] = file;
    }
    return;
  }
  if (file.version() == e.latest.version()) {
    if (!Contains(e.holders, address)) e.holders.push_back(address);
    e.stale.erase(address);
    return;
  }
  // A new latest version: the previous holders now hold a stale copy.
  for (const std::string& h : e.holders) {
    if (h != address) e.stale[h] = e.latest;
  }
  e.stale.erase(address);
  e.holders = {address};
  e.latest = file;
}

bool MemoryNameServer::OrphanedLocked(Entry& e) {
  if (!e.holders.empty()) return false;
  if (e.stale.empty()) return true;
  if (e.latest.tombstone()) return false;  // a deleted name stays deleted
  int64_t newest = 0;
  for (const auto& [address, copy] : e.stale) newest = std::max(newest, copy.version());
  for (auto it = e.stale.begin(); it != e.stale.end();) {
    if (it->second.version() == newest) {
      e.latest = it->second;
      e.holders.push_back(it->first);
      it = e.stale.erase(it);
    } else {
      ++it;
    }
  }
  return false;
}

void MemoryNameServer::ForgetLocked(const std::string& address) {
  for (auto it = names_.begin(); it != names_.end();) {
    Entry& e = it->second;
    e.stale.erase(address);
    auto h = std::find(e.holders.begin(), e.holders.end(), address);
    if (h != e.holders.end()) {
      e.holders.erase(h);
      if (OrphanedLocked(e)) {
        it = names_.erase(it);
        continue;
      }
    }
    ++it;
  }
}

void MemoryNameServer::RemoveHolderLocked(const std::string& address, const std::string& name,
                                          int64_t version) {
  auto it = names_.find(name);
  if (it == names_.end()) return;
  Entry& e = it->second;
  if (e.latest.version() == version) {
    auto h = std::find(e.holders.begin(), e.holders.end(), address);
    if (h == e.holders.end()) return;
    e.holders.erase(h);
    if (OrphanedLocked(e)) names_.erase(it);
  } else if (auto s = e.stale.find(address); s != e.stale.end() && s->second.version() == version) {
    e.stale.erase(s);
  }
}

absl::StatusOr<MemoryNameServer::Live> MemoryNameServer::GetLiveLocked(
    const std::string& name) const {
  auto it = names_.find(name);
  if (it == names_.end() || it->second.latest.tombstone()) {
    return absl::NotFoundError(fmt::format("{}: no such file", name));
  }
  return Live{it->second.latest, it->second.holders};
}

bool MemoryNameServer::HasLiveDescendantLocked(const std::string& dir) const {
  std::string prefix = DirPrefix(dir);
  for (auto it = names_.lower_bound(prefix); it != names_.end() && StartsWith(it->first, prefix);
       ++it) {
    if (!it->second.latest.tombstone()) return true;
  }
  return false;
}

absl::StatusOr<v1::FileInfo> MemoryNameServer::StatLocked(const std::string& name) const {
  if (name != "/") {
    auto it = names_.find(name);
    if (it != names_.end() && !it->second.latest.tombstone()) return it->second.latest;
    if (!HasLiveDescendantLocked(name)) {
      return absl::NotFoundError(fmt::format("{}: no such file or directory", name));
    }
  }
  return ImpliedDirectory(name);
}

absl::Status MemoryNameServer::CheckNotBeneathAFileLocked(const std::string& path) const {
  for (std::string_view dir = ParentOf(path); dir != "/"; dir = ParentOf(dir)) {
    absl::StatusOr<v1::FileInfo> above = StatLocked(std::string(dir));
    if (above.ok() && !IsDirectory(*above)) {
      return absl::FailedPreconditionError(fmt::format("{}: not a directory", dir));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> MemoryNameServer::Tombstone(const Live& item) {
  v1::FileInfo tomb;
  std::vector<std::string> targets = item.holders;
  FileStoreApi* api;
  {
    std::lock_guard lock(mu_);
    api = filestores_api_;
    tomb.set_name(item.info.name());
    tomb.set_version(AllocateLocked());
    tomb.set_tombstone(true);
    tomb.set_kind(item.info.kind());
    for (const std::string& address : order_) {
      if (targets.size() >= static_cast<size_t>(replication_)) break;
      if (LiveLocked(address) && !Contains(targets, address)) targets.push_back(address);
    }
  }
  std::vector<absl::Status> results(targets.size());
  if (api != nullptr) results = api->DeleteOnEach(targets, tomb.name(), tomb.version());
  std::lock_guard lock(mu_);
  size_t acked = 0;
  absl::Status first_error;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (results[i].ok()) {
      ApplyLocked(targets[i], tomb);
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
  FileStoreApi* api;
  {
    std::lock_guard lock(mu_);
    api = filestores_api_;
  }
  std::vector<absl::StatusOr<v1::CloneReply>> results(item.holders.size(), v1::CloneReply());
  if (api != nullptr) {
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
      ApplyLocked(item.holders[i], named ? results[i]->file() : target);
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
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.path()));
  if (req.expected_size() < 0) return absl::InvalidArgumentError("negative expected size");
  if (req.exclude_size() > kMaxExclude) return absl::InvalidArgumentError("too many excludes");
  for (const std::string& address : req.exclude()) {
    if (!ValidateAddress(address).ok()) return absl::InvalidArgumentError("bad exclude address");
  }
  std::lock_guard lock(mu_);
  CHAINFS_RETURN_IF_ERROR(CheckNotBeneathAFileLocked(req.path()));
  if (req.exclusive() && StatLocked(req.path()).ok()) {
    return absl::AlreadyExistsError(fmt::format("{} exists", req.path()));
  }
  for (const std::string& address : req.exclude()) {
    if (auto fs = filestores_.find(address); fs != filestores_.end()) fs->second.suspect = true;
  }
  v1::DoCreateReply reply;
  bool any_candidate = false;
  for (const std::string& address : order_) {
    const FileStore& fs = filestores_.at(address);
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
      return absl::ResourceExhaustedError(
          fmt::format("no FileStore has room for {} bytes", req.expected_size()));
    }
    return absl::UnavailableError("no FileStore is available");
  }
  reply.set_version(AllocateLocked());
  return reply;
}

absl::StatusOr<v1::DoReadReply> MemoryNameServer::DoRead(const v1::DoReadRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("DoRead"));
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.path()));
  std::lock_guard lock(mu_);
  CHAINFS_ASSIGN_OR_RETURN(Live live, GetLiveLocked(req.path()));
  v1::DoReadReply reply;
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
    if (HasLiveDescendantLocked(req.path())) {
      return absl::FailedPreconditionError(fmt::format("{}: directory not empty", req.path()));
    }
    CHAINFS_ASSIGN_OR_RETURN(live, GetLiveLocked(req.path()));
  }
  CHAINFS_ASSIGN_OR_RETURN(int64_t version, Tombstone(live));
  v1::DoDeleteReply reply;
  reply.set_version(version);
  return reply;
}

absl::StatusOr<v1::ListReply> MemoryNameServer::List(const v1::ListRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("List"));
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.glob(), /*allow_root=*/true));
  std::lock_guard lock(mu_);
  v1::ListReply reply;
  for (const auto& [name, e] : names_) {
    // FNM_PATHNAME: no wildcard matches '/'; FNM_NOESCAPE: '\' is an ordinary character.
    if (!e.latest.tombstone() &&
        ::fnmatch(req.glob().c_str(), name.c_str(), FNM_PATHNAME | FNM_NOESCAPE) == 0) {
      reply.add_paths(name);
    }
  }
  return reply;
}

absl::StatusOr<v1::StatReply> MemoryNameServer::Stat(const v1::StatRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("Stat"));
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.path(), /*allow_root=*/true));
  std::lock_guard lock(mu_);
  v1::StatReply reply;
  CHAINFS_ASSIGN_OR_RETURN(*reply.mutable_file(), StatLocked(req.path()));
  return reply;
}

absl::StatusOr<v1::ListDirectoryReply> MemoryNameServer::ListDirectory(
    const v1::ListDirectoryRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("ListDirectory"));
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.path(), /*allow_root=*/true));
  if (!req.start_after().empty()) {
    CHAINFS_RETURN_IF_ERROR(ValidateName("/" + req.start_after()));
    if (req.start_after().find('/') != std::string::npos) {
      return absl::InvalidArgumentError("start_after must be a child name, not a path");
    }
  }
  if (req.limit() < 0) return absl::InvalidArgumentError("limit is negative");
  std::lock_guard lock(mu_);
  CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo dir, StatLocked(req.path()));
  if (!IsDirectory(dir)) {
    return absl::FailedPreconditionError(fmt::format("{}: not a directory", req.path()));
  }
  // Direct children by name: entries of their own, or directories implied by a live name
  // beneath them.
  std::map<std::string, v1::FileInfo> children;
  std::string prefix = DirPrefix(req.path());
  for (auto it = names_.lower_bound(prefix); it != names_.end() && StartsWith(it->first, prefix);
       ++it) {
    if (it->second.latest.tombstone()) continue;
    std::string_view rest = std::string_view(it->first).substr(prefix.size());
    std::string child(rest.substr(0, rest.find('/')));
    if (child.size() == rest.size()) {
      children[child] = it->second.latest;
      children[child].set_name(child);
    } else {
      children.try_emplace(child, ImpliedDirectory(child));
    }
  }
  size_t limit = req.limit() == 0 ? kDefaultListLimit
                                  : std::min(static_cast<size_t>(req.limit()), kMaxListLimit);
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
  if (IsUnder(to, from)) {
    return absl::InvalidArgumentError(fmt::format("cannot move {} beneath itself ({})", from, to));
  }
  // The source and everything beneath it, parents before children.
  std::vector<Live> items;
  {
    std::lock_guard lock(mu_);
    CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo src, StatLocked(from));
    if (from == to) return v1::RenameReply();
    if (absl::StatusOr<v1::FileInfo> dst = StatLocked(to); dst.ok()) {
      if (req.no_replace()) return absl::AlreadyExistsError(fmt::format("{} exists", to));
      if (IsDirectory(*dst) && HasLiveDescendantLocked(to)) {
        return absl::FailedPreconditionError(fmt::format("{}: directory not empty", to));
      }
      if (IsDirectory(*dst) && !IsDirectory(src)) {
        return absl::FailedPreconditionError(fmt::format("{}: is a directory", to));
      }
      if (!IsDirectory(*dst) && IsDirectory(src)) {
        return absl::FailedPreconditionError(fmt::format("{}: not a directory", to));
      }
    }
    if (absl::StatusOr<Live> own = GetLiveLocked(from); own.ok()) items.push_back(*own);
    std::string prefix = DirPrefix(from);
    for (auto it = names_.lower_bound(prefix); it != names_.end() && StartsWith(it->first, prefix);
         ++it) {
      if (!it->second.latest.tombstone())
        items.push_back(Live{it->second.latest, it->second.holders});
    }
  }
  // Destinations first: a failure part way leaves duplicates, never losses.
  for (const Live& item : items) {
    v1::FileInfo target;
    target.set_name(to + item.info.name().substr(from.size()));
    {
      std::lock_guard lock(mu_);
      target.set_version(AllocateLocked());
    }
    *target.mutable_attributes() = item.info.attributes();
    bool all = false;
    CHAINFS_RETURN_IF_ERROR(Clone(item, target, &all).status());
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
  if (!result.ok()) return result;
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
    absl::StatusOr<Live> state = GetLiveLocked(req.path());
    if (!state.ok()) {
      if (HasLiveDescendantLocked(req.path())) {
        return absl::FailedPreconditionError(
            fmt::format("{}: implied directory without an entry of its own", req.path()));
      }
      return state.status();
    }
    live = *std::move(state);
    v1::Attributes attrs = live.info.attributes();
    const v1::Attributes& in = req.attributes();
    if (req.set_mode()) {
      if (in.mode() > 07777) {
        return absl::InvalidArgumentError(fmt::format("mode {:o} has bits above 07777", in.mode()));
      }
      attrs.set_mode(in.mode());
    }
    if (req.set_uid()) attrs.set_uid(in.uid());
    if (req.set_gid()) attrs.set_gid(in.gid());
    if (req.set_mtime()) attrs.set_mtime_ns(in.mtime_ns());
    target.set_name(req.path());
    target.set_version(AllocateLocked());
    *target.mutable_attributes() = attrs;
  }
  bool all = false;
  v1::SetAttributesReply reply;
  CHAINFS_ASSIGN_OR_RETURN(*reply.mutable_file(), Clone(live, target, &all));
  return reply;
}

absl::StatusOr<v1::StatFsReply> MemoryNameServer::StatFs(const v1::StatFsRequest&) {
  CHAINFS_RETURN_IF_ERROR(Enter("StatFs"));
  std::lock_guard lock(mu_);
  v1::StatFsReply reply;
  int64_t used = 0, available = 0;
  for (const auto& [address, fs] : filestores_) {
    if (!fs.live) continue;
    used += fs.bytes_used;
    available += fs.bytes_available;
  }
  int64_t files = 0;
  for (const auto& [name, e] : names_) files += !e.latest.tombstone();
  reply.set_bytes_used(used);
  reply.set_bytes_available(available);
  reply.set_bytes_total(used + available);
  reply.set_files(files);
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
  size_t live = 0;
  for (const auto& [address, fs] : filestores_) {
    if (!fs.live) continue;
    ++live;
    v1::FileStoreStatus* s = reply.add_filestores();
    s->set_address(address);
    s->set_bytes_used(fs.bytes_used);
    s->set_bytes_available(fs.bytes_available);
    for (const auto& [name, e] : names_) s->set_files(s->files() + Contains(e.holders, address));
  }
  size_t want = std::max<size_t>(1, std::min(static_cast<size_t>(replication_), live));
  int64_t under = 0;
  for (const auto& [name, e] : names_) under += e.holders.size() < want;
  reply.set_names(static_cast<int64_t>(names_.size()));
  reply.set_under_replicated(under);
  reply.set_max_version(last_version_);
  reply.set_next_version(last_version_ + 1);
  return reply;
}

// --- FileStore calls ---

absl::StatusOr<v1::HeartBeatReply> MemoryNameServer::HeartBeat(const v1::HeartBeatRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("HeartBeat"));
  CHAINFS_RETURN_IF_ERROR(ValidateAddress(req.filestore()));
  CHAINFS_RETURN_IF_ERROR(ValidateBytes(req.bytes_used(), req.bytes_available()));
  std::lock_guard lock(mu_);
  v1::HeartBeatReply reply;
  auto fs = filestores_.find(req.filestore());
  if (fs == filestores_.end() || !fs->second.live) {
    reply.set_reregister(true);
    return reply;
  }
  fs->second.bytes_used = req.bytes_used();
  fs->second.bytes_available = req.bytes_available();
  fs->second.suspect = false;
  return reply;
}

absl::StatusOr<v1::AddFileOrTombstoneReply> MemoryNameServer::AddFileOrTombstone(
    const v1::AddFileOrTombstoneRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("AddFileOrTombstone"));
  CHAINFS_RETURN_IF_ERROR(ValidateAddress(req.filestore()));
  CHAINFS_RETURN_IF_ERROR(ValidateReported(req.file()));
  std::lock_guard lock(mu_);
  if (!req.file().tombstone())
    CHAINFS_RETURN_IF_ERROR(CheckNotBeneathAFileLocked(req.file().name()));
  v1::AddFileOrTombstoneReply reply;
  if (!LiveLocked(req.filestore())) {
    reply.set_reregister(true);
    return reply;
  }
  ApplyLocked(req.filestore(), req.file());
  last_version_ = std::max(last_version_, req.file().version());
  return reply;
}

absl::StatusOr<v1::ReportBadReplicaReply> MemoryNameServer::ReportBadReplica(
    const v1::ReportBadReplicaRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("ReportBadReplica"));
  CHAINFS_RETURN_IF_ERROR(ValidateAddress(req.filestore()));
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.file().name()));
  if (req.file().version() <= 0) return absl::InvalidArgumentError("version must be positive");
  std::lock_guard lock(mu_);
  if (LiveLocked(req.filestore())) {
    RemoveHolderLocked(req.filestore(), req.file().name(), req.file().version());
  }
  return v1::ReportBadReplicaReply();
}

absl::Status MemoryNameServer::RegisterFilesAndTombstones(const std::string& filestore,
                                                          const std::vector<v1::FileInfo>& files,
                                                          int64_t bytes_used,
                                                          int64_t bytes_available) {
  CHAINFS_RETURN_IF_ERROR(Enter("RegisterFilesAndTombstones"));
  CHAINFS_RETURN_IF_ERROR(ValidateAddress(filestore));
  CHAINFS_RETURN_IF_ERROR(ValidateBytes(bytes_used, bytes_available));
  for (const v1::FileInfo& f : files) CHAINFS_RETURN_IF_ERROR(ValidateReported(f));
  std::lock_guard lock(mu_);
  if (!filestores_.contains(filestore)) order_.push_back(filestore);
  FileStore& fs = filestores_[filestore];
  fs.live = true;
  fs.suspect = false;
  fs.bytes_used = bytes_used;
  fs.bytes_available = bytes_available;
  ForgetLocked(filestore);
  for (const v1::FileInfo& f : files) {
    ApplyLocked(filestore, f);
    last_version_ = std::max(last_version_, f.version());
  }
  return absl::OkStatus();
}

}  // namespace chainfs
