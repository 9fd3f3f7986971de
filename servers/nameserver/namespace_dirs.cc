// Namespace: directory times and link counts. A directory's nlink is 2 plus its
// subdirectories; the counts follow every change of a name's liveness or kind (CountLocked),
// so a stat never scans a directory.
#include <mutex>

#include "common/client/time_rules.h"
#include "common/names.h"
#include "servers/nameserver/namespace.h"

namespace chainfs::nameserver {

namespace {

bool LiveDirectory(const VersionMeta* m) {
  return m != nullptr && !m->tombstone && m->kind == v1::KIND_DIRECTORY;
}
bool Live(const VersionMeta* m) { return m != nullptr && !m->tombstone; }
// Heterogeneous lookups in absl maps take absl::string_view.
absl::string_view Key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

void Namespace::CountLocked(const std::string& name, const Meta* before, const Meta* after) {
  const bool was_live = Live(before), live = Live(after);
  const bool was_dir = LiveDirectory(before), dir = LiveDirectory(after);
  if (was_live == live && was_dir == dir) return;
  // The subdirectory change for the directory visited next: the name as a directory of its
  // own (it is one anyway while live names are beneath it), then each implied ancestor that
  // appears with its first live name or goes with its last.
  int carry = was_dir != dir && !dirs_.contains(name) ? (dir ? 1 : -1) : 0;
  if (was_live == live) {
    AddSubdirLocked(ParentOf(name), carry);  // live before and after: the parent is counted
    return;
  }
  for (std::string_view a = ParentOf(name);; a = ParentOf(a)) {
    auto it = dirs_.find(Key(a));
    if (it == dirs_.end()) it = dirs_.emplace(std::string(a), DirCounts{}).first;
    it->second.subdirs += carry;
    carry = 0;
    const bool had = it->second.live_below > 0;
    it->second.live_below += live ? 1 : -1;
    const bool has = it->second.live_below > 0;
    if (!has) dirs_.erase(it);
    if (a == "/") break;
    if (had != has) {
      auto entry = map_.find(std::string(a));
      if (entry == map_.end() || !LiveDirectory(&entry->second.meta)) carry = has ? 1 : -1;
    }
  }
}

void Namespace::AddSubdirLocked(std::string_view dir, int delta) {
  auto it = dirs_.find(Key(dir));
  // A parent always has live names beneath it while it has subdirectories.
  if (it != dirs_.end()) it->second.subdirs += delta;
}

uint32_t Namespace::LinksLocked(const std::string& dir) const {
  auto it = dirs_.find(dir);
  return 2 + (it == dirs_.end() ? 0 : it->second.subdirs);
}

uint32_t Namespace::DirectoryLinks(const std::string& dir) const {
  std::shared_lock lock(mu_);
  return LinksLocked(dir);
}

void Namespace::KeepNewerDirectoryTimes(const Meta& before, Meta* after) {
  if (!LiveDirectory(&before) || !LiveDirectory(after)) return;
  auto ctime = [](const Meta& m) { return m.ctime_ns != 0 ? m.ctime_ns : m.mtime_ns; };
  // Every change of a directory moves its ctime forward; an older one is a stale snapshot.
  if (ctime(*after) >= ctime(before)) return;
  after->mtime_ns = before.mtime_ns;
  after->ctime_ns = ctime(before);
}

bool Namespace::TouchDirectory(const std::string& dir, int64_t now_ns) {
  std::unique_lock lock(mu_);
  auto it = map_.find(dir);
  if (it == map_.end() || !LiveDirectory(&it->second.meta)) {
    if (dir == "/") root_time_ns_ = now_ns;
    return false;
  }
  Meta& m = it->second.meta;
  if (m.atime_ns == 0) m.atime_ns = m.mtime_ns;
  m.mtime_ns = now_ns;
  m.ctime_ns = now_ns;
  return true;
}

bool Namespace::IsLiveEntry(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = map_.find(name);
  return it != map_.end() && !it->second.meta.tombstone;
}

}  // namespace chainfs::nameserver
