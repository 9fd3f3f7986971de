#include "common/client/memory_namespace.h"

#include <fmt/format.h>
#include <fnmatch.h>

#include <algorithm>

#include "common/client/nameserver_rules.h"
#include "common/client/time_rules.h"
#include "common/inode_names.h"
#include "common/names.h"
#include "common/status.h"

namespace chainfs {

namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// "/" -> "/", "/a" -> "/a/": the prefix of every name beneath dir.
std::string DirPrefix(const std::string& dir) { return dir == "/" ? dir : dir + "/"; }

}  // namespace

// --- FileStores ---

MemoryNamespace::FileStore& MemoryNamespace::AddFileStore(const std::string& address) {
  auto [it, added] = filestores_.try_emplace(address);
  if (added) order_.push_back(address);
  return it->second;
}

MemoryNamespace::FileStore* MemoryNamespace::Find(const std::string& address) {
  auto it = filestores_.find(address);
  return it == filestores_.end() ? nullptr : &it->second;
}

bool MemoryNamespace::IsLive(const std::string& address) const {
  auto it = filestores_.find(address);
  return it != filestores_.end() && it->second.live;
}

void MemoryNamespace::Forget(const std::string& address) {
  for (auto it = names_.begin(); it != names_.end();) {
    Entry& e = it->second;
    e.stale.erase(address);
    auto h = std::find(e.holders.begin(), e.holders.end(), address);
    if (h != e.holders.end()) {
      e.holders.erase(h);
      if (Orphaned(e)) {
        it = names_.erase(it);
        continue;
      }
    }
    ++it;
  }
}

int64_t MemoryNamespace::FilesOn(const std::string& address) const {
  int64_t files = 0;
  for (const auto& [name, e] : names_) files += Contains(e.holders, address);
  return files;
}

// --- names ---

void MemoryNamespace::Apply(const std::string& address, const v1::FileInfo& reported) {
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
  // A new latest version: the previous holders now hold an older copy.
  for (const std::string& h : e.holders) {
    if (h != address) e.stale[h] = e.latest;
  }
  e.stale.erase(address);
  e.holders = {address};
  e.latest = file;
}

void MemoryNamespace::SetWithoutHolders(const v1::FileInfo& file) {
  names_[file.name()].latest = file;
}

bool MemoryNamespace::Orphaned(Entry& e) {
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

void MemoryNamespace::RemoveHolder(const std::string& address, const std::string& name,
                                   int64_t version) {
  auto it = names_.find(name);
  if (it == names_.end()) return;
  Entry& e = it->second;
  if (e.latest.version() == version) {
    auto h = std::find(e.holders.begin(), e.holders.end(), address);
    if (h == e.holders.end()) return;
    e.holders.erase(h);
    if (Orphaned(e)) names_.erase(it);
  } else if (auto s = e.stale.find(address); s != e.stale.end() && s->second.version() == version) {
    e.stale.erase(s);
  }
}

std::optional<v1::FileInfo> MemoryNamespace::Latest(const std::string& name) const {
  auto it = names_.find(name);
  if (it == names_.end()) return std::nullopt;
  return it->second.latest;
}

std::vector<std::string> MemoryNamespace::Holders(const std::string& name) const {
  auto it = names_.find(name);
  if (it == names_.end()) return {};
  return it->second.holders;
}

absl::StatusOr<MemoryNamespace::Live> MemoryNamespace::GetLive(const std::string& name) const {
  auto it = names_.find(name);
  if (it == names_.end() || it->second.latest.tombstone()) {
    return absl::NotFoundError(fmt::format("{}: no such file", name));
  }
  return Live{it->second.latest, it->second.holders};
}

bool MemoryNamespace::HasLiveDescendant(const std::string& dir) const {
  std::string prefix = DirPrefix(dir);
  for (auto it = names_.lower_bound(prefix); it != names_.end() && StartsWith(it->first, prefix);
       ++it) {
    if (!it->second.latest.tombstone()) return true;
  }
  return false;
}

std::vector<MemoryNamespace::Live> MemoryNamespace::LiveDescendants(const std::string& dir) const {
  std::vector<Live> out;
  std::string prefix = DirPrefix(dir);
  // A name sorts before every longer name it prefixes: parents come first.
  for (auto it = names_.lower_bound(prefix); it != names_.end() && StartsWith(it->first, prefix);
       ++it) {
    if (!it->second.latest.tombstone()) out.push_back(Live{it->second.latest, it->second.holders});
  }
  return out;
}

absl::StatusOr<v1::FileInfo> MemoryNamespace::Stat(const std::string& name) const {
  if (name != "/") {
    auto it = names_.find(name);
    if (it != names_.end() && !it->second.latest.tombstone()) {
      v1::FileInfo info = Resolved(it->second.latest);
      if (info.kind() == v1::KIND_DIRECTORY) info.set_nlink(DirectoryLinks(name));
      return info;
    }
    if (!HasLiveDescendant(name)) {
      return absl::NotFoundError(fmt::format("{}: no such file or directory", name));
    }
  }
  v1::FileInfo implied = ImpliedDirectory(name);
  implied.set_nlink(DirectoryLinks(name));
  if (name == "/" && root_time_ns_ != 0)
    TouchDirectoryTimes(root_time_ns_, implied.mutable_attributes());
  return implied;
}

absl::Status MemoryNamespace::CheckNotBeneathAFile(const std::string& path) const {
  for (std::string_view dir = ParentOf(path); dir != "/"; dir = ParentOf(dir)) {
    absl::StatusOr<v1::FileInfo> above = Stat(std::string(dir));
    if (above.ok() && above->kind() != v1::KIND_DIRECTORY) {
      return Error(v1::ERROR_NOT_A_DIRECTORY, fmt::format("{}: not a directory", dir));
    }
  }
  return absl::OkStatus();
}

std::map<std::string, v1::FileInfo> MemoryNamespace::Children(const std::string& dir) const {
  std::map<std::string, v1::FileInfo> children = ChildrenScan(dir);
  const std::string prefix = DirPrefix(dir);
  for (auto& [child, info] : children) {
    if (info.kind() == v1::KIND_DIRECTORY) info.set_nlink(DirectoryLinks(prefix + child));
  }
  return children;
}

std::map<std::string, v1::FileInfo> MemoryNamespace::ChildrenScan(const std::string& dir) const {
  std::map<std::string, v1::FileInfo> children;
  std::string prefix = DirPrefix(dir);
  for (auto it = names_.lower_bound(prefix); it != names_.end() && StartsWith(it->first, prefix);
       ++it) {
    if (it->second.latest.tombstone() || IsHiddenName(it->first)) continue;
    std::string_view rest = std::string_view(it->first).substr(prefix.size());
    std::string child(rest.substr(0, rest.find('/')));
    if (child.size() == rest.size()) {
      children[child] = Resolved(it->second.latest);
      children[child].set_name(child);
    } else {
      children.try_emplace(child, ImpliedDirectory(child));
    }
  }
  return children;
}

std::vector<std::string> MemoryNamespace::List(const std::string& glob) const {
  std::vector<std::string> out;
  for (const auto& [name, e] : names_) {
    // FNM_PATHNAME: no wildcard matches '/'; FNM_NOESCAPE: '\' is an ordinary character.
    if (!e.latest.tombstone() && !IsHiddenName(name) &&
        ::fnmatch(glob.c_str(), name.c_str(), FNM_PATHNAME | FNM_NOESCAPE) == 0) {
      out.push_back(name);
    }
  }
  return out;
}

void MemoryNamespace::TouchDirectory(const std::string& dir, int64_t now_ns) {
  auto it = names_.find(dir);
  if (it == names_.end() || it->second.latest.tombstone() ||
      it->second.latest.kind() != v1::KIND_DIRECTORY) {
    if (dir == "/") root_time_ns_ = now_ns;
    return;
  }
  TouchDirectoryTimes(now_ns, it->second.latest.mutable_attributes());
}

uint32_t MemoryNamespace::DirectoryLinks(const std::string& dir) const {
  uint32_t links = 2;
  for (const auto& [child, info] : ChildrenScan(dir)) links += info.kind() == v1::KIND_DIRECTORY;
  return links;
}

int64_t MemoryNamespace::live_names() const {
  int64_t n = 0;
  for (const auto& [name, e] : names_) n += !e.latest.tombstone();
  return n;
}

int64_t MemoryNamespace::CountUnderReplicated(size_t want) const {
  int64_t n = 0;
  for (const auto& [name, e] : names_) n += e.holders.size() < want;
  return n;
}

}  // namespace chainfs
