// Namespace's read-only views: lookups, listings, globs, and what replication and GC ask.
#include <fmt/format.h>

#include <algorithm>
#include <mutex>

#include "common/client/nameserver_rules.h"
#include "common/client/time_rules.h"
#include "common/inode_names.h"
#include "servers/nameserver/glob.h"
#include "servers/nameserver/namespace.h"

namespace chainfs::nameserver {

namespace {

bool StartsWith(const std::string& s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::string_view(s).substr(0, prefix.size()) == prefix;
}

// "/" -> "/", "/a" -> "/a/": the prefix of every name beneath dir.
std::string DirPrefix(const std::string& dir) { return dir == "/" ? dir : dir + "/"; }

std::string PastSubtree(std::string_view name) {
  std::string key(name);
  key.push_back('\0');
  return key;
}

}  // namespace

v1::FileInfo Namespace::InfoLocked(const std::string& name, const Entry& e) const {
  v1::FileInfo info;
  info.set_name(name);
  info.set_version(e.version);
  const Meta& m = e.meta;
  info.set_tombstone(m.tombstone);
  info.set_kind(static_cast<v1::Kind>(m.kind));
  info.set_size(m.size);
  auto* a = info.mutable_attributes();
  a->set_mode(m.mode);
  a->set_uid(m.uid);
  a->set_gid(m.gid);
  a->set_mtime_ns(m.mtime_ns);
  m.extras.FillIn(a);
  a->set_atime_ns(m.atime_ns);
  a->set_ctime_ns(m.ctime_ns);
  if (m.kind == v1::KIND_DIRECTORY && !m.tombstone) info.set_nlink(LinksLocked(name));
  if (m.inode != 0) a->set_inode(InodeName(m.inode));
  return info;
}

NameState Namespace::StateLocked(const std::string& name, const Entry& e) const {
  NameState s;
  s.info = InfoLocked(name, e);
  s.holders.reserve(e.holders.size());
  for (FileStoreId h : e.holders) s.holders.push_back(filestores_[h].address);
  return s;
}

std::optional<NameState> Namespace::Get(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = map_.find(name);
  if (it == map_.end()) return std::nullopt;
  return StateLocked(it->first, it->second);
}

absl::StatusOr<NameState> Namespace::GetLive(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = map_.find(name);
  if (it == map_.end() || it->second.meta.tombstone) {
    return absl::NotFoundError(
        fmt::format("{}: no such file", std::string_view(name).substr(0, 100)));
  }
  return StateLocked(it->first, it->second);
}

absl::StatusOr<v1::FileInfo> Namespace::Stat(const std::string& name) const {
  std::shared_lock lock(mu_);
  if (name != "/") {
    auto it = map_.find(name);
    if (it != map_.end() && !it->second.meta.tombstone) {
      return ResolvedInfoLocked(it->first, it->second);
    }
    if (!HasLiveDescendantLocked(name)) {
      return absl::NotFoundError(
          fmt::format("{}: no such file or directory", std::string_view(name).substr(0, 100)));
    }
  }
  v1::FileInfo implied = ImpliedDirectory(name);
  implied.set_nlink(LinksLocked(name));
  if (name == "/" && root_time_ns_ != 0)
    TouchDirectoryTimes(root_time_ns_, implied.mutable_attributes());
  return implied;
}

bool Namespace::HasLiveDescendant(const std::string& dir) const {
  std::shared_lock lock(mu_);
  return HasLiveDescendantLocked(dir);
}

bool Namespace::HasLiveDescendantLocked(const std::string& dir) const {
  std::string prefix = DirPrefix(dir);
  for (auto it = map_.lower_bound(prefix); it != map_.end() && StartsWith(it->first, prefix);
       ++it) {
    if (!it->second.meta.tombstone) return true;
  }
  return false;
}

std::vector<NameState> Namespace::LiveDescendants(const std::string& dir) const {
  std::shared_lock lock(mu_);
  std::vector<NameState> out;
  std::string prefix = DirPrefix(dir);
  for (auto it = map_.lower_bound(prefix); it != map_.end() && StartsWith(it->first, prefix);
       ++it) {
    if (!it->second.meta.tombstone) out.push_back(StateLocked(it->first, it->second));
  }
  // The map order puts a directory before its contents; callers want the reverse.
  std::reverse(out.begin(), out.end());
  return out;
}

void Namespace::ListDirectory(const std::string& dir, const std::string& start_after, size_t limit,
                              v1::ListDirectoryReply* reply) const {
  std::shared_lock lock(mu_);
  std::string prefix = DirPrefix(dir);
  auto it = start_after.empty() ? map_.lower_bound(prefix)
                                : map_.lower_bound(PastSubtree(prefix + start_after));
  while (it != map_.end() && StartsWith(it->first, prefix)) {
    if (static_cast<size_t>(reply->entries_size()) >= limit) {
      reply->set_more(true);
      return;
    }
    std::string_view rest = std::string_view(it->first).substr(prefix.size());
    std::string_view child = rest.substr(0, rest.find('/'));
    std::string child_name = prefix + std::string(child);
    if (IsHiddenName(child_name)) {
      // The inode names: never listed.
    } else if (child.size() == rest.size() && !it->second.meta.tombstone) {
      absl::StatusOr<v1::FileInfo> info = ResolvedInfoLocked(it->first, it->second);
      *reply->add_entries() = info.ok() ? *std::move(info) : InfoLocked(it->first, it->second);
      reply->mutable_entries()->rbegin()->set_name(std::string(child));
    } else if (HasLiveDescendantLocked(child_name)) {
      v1::FileInfo* info = reply->add_entries();
      *info = ImpliedDirectory(std::string(child));
      info->set_nlink(LinksLocked(child_name));
    }
    it = map_.lower_bound(PastSubtree(child_name));
  }
  reply->set_more(false);
}

std::vector<std::string> Namespace::List(std::string_view glob) const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  std::string_view prefix = GlobLiteralPrefix(glob);
  for (auto it = map_.lower_bound(std::string(prefix));
       it != map_.end() && StartsWith(it->first, prefix); ++it) {
    if (!it->second.meta.tombstone && !IsHiddenName(it->first) && GlobMatch(glob, it->first)) {
      out.push_back(it->first);
    }
  }
  return out;
}

std::vector<ReplicationTask> Namespace::UnderReplicated(size_t replication,
                                                        size_t max_tasks) const {
  std::shared_lock lock(mu_);
  std::vector<ReplicationTask> out;
  size_t want = std::min(replication, LiveFileStoresLocked());
  for (const auto& [name, e] : map_) {
    if (e.holders.size() >= want) continue;
    if (out.size() >= max_tasks) break;
    ReplicationTask t;
    t.info = InfoLocked(name, e);
    t.holder_ids.assign(e.holders.begin(), e.holders.end());
    for (FileStoreId h : e.holders) t.sources.push_back(filestores_[h].address);
    out.push_back(std::move(t));
  }
  return out;
}

size_t Namespace::CountUnderReplicated(size_t replication) const {
  std::shared_lock lock(mu_);
  size_t want = std::max<size_t>(1, std::min(replication, LiveFileStoresLocked()));
  size_t n = 0;
  for (const auto& [name, e] : map_) n += e.holders.size() < want;
  return n;
}

size_t Namespace::CountOverReplicated(size_t replication) const {
  std::shared_lock lock(mu_);
  size_t n = 0;
  for (const auto& [name, e] : map_) n += e.holders.size() > replication;
  return n;
}

absl::flat_hash_map<std::string, std::vector<v1::NameVersion>> Namespace::LiveFilesBelow(
    int64_t version) const {
  std::shared_lock lock(mu_);
  absl::flat_hash_map<std::string, std::vector<v1::NameVersion>> out;
  for (const auto& [name, e] : map_) {
    if (e.meta.tombstone || e.version >= version) continue;
    for (FileStoreId h : e.holders) {
      v1::NameVersion nv;
      nv.set_name(name);
      nv.set_version(e.version);
      out[filestores_[h].address].push_back(std::move(nv));
    }
  }
  return out;
}

size_t Namespace::CountLiveFilesBelow(int64_t version) const {
  std::shared_lock lock(mu_);
  size_t n = 0;
  for (const auto& [name, e] : map_) n += !e.meta.tombstone && e.version < version;
  return n;
}

size_t Namespace::names() const {
  std::shared_lock lock(mu_);
  return map_.size();
}

size_t Namespace::live_names() const {
  std::shared_lock lock(mu_);
  return live_names_;
}

size_t Namespace::stale_copies() const {
  std::shared_lock lock(mu_);
  size_t n = 0;
  for (const auto& [name, e] : map_) n += e.stale ? e.stale->size() : 0;
  return n;
}

}  // namespace chainfs::nameserver
