#include "servers/nameserver/namespace.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>

#include "common/inode_names.h"
#include "common/log.h"
#include "common/names.h"

namespace chainfs::nameserver {

namespace {

// '/' sorts first, NUL (never in a name) right after it: name + '\0' is the first key
// past name's subtree.
inline int Rank(unsigned char c) { return c == '/' ? 0 : c + 1; }

template <typename V, typename T>
bool Contains(const V& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

bool PathLess::operator()(const std::string& a, const std::string& b) const {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) {
      return Rank(static_cast<unsigned char>(a[i])) < Rank(static_cast<unsigned char>(b[i]));
    }
  }
  return a.size() < b.size();
}

void Namespace::Clear() {
  std::unique_lock lock(mu_);
  map_.clear();
  dirs_.clear();
  root_time_ns_ = 0;
  live_names_ = 0;
  links_.clear();
  filestores_.clear();
  ids_.clear();
  alive_.clear();
  dropped_.clear();
  refreshing_.clear();
  ++drops_;  // a round that started before this saw a view that is gone
}

// --- FileStores ---

FileStoreId Namespace::BeginRegistration(const std::string& address, int64_t bytes_used,
                                         int64_t bytes_available, TimePoint now) {
  std::unique_lock lock(mu_);
  FileStoreId id;
  auto it = ids_.find(address);
  if (it == ids_.end()) {
    id = static_cast<FileStoreId>(filestores_.size());
    ids_[address] = id;
    filestores_.push_back(FileStoreInfo{});
    filestores_.back().id = id;
    filestores_.back().address = address;
    alive_.push_back(false);
  } else {
    id = it->second;
    if (alive_[id] && filestores_[id].registered) {
      // A registered FileStore registers again (a new leader's heartbeat answered first,
      // or it was asked to): what it holds stays visible while the new list streams in;
      // EndRegistration forgets only what the new list no longer names.
      refreshing_[id].clear();
    } else if (alive_[id]) {
      DropLocked(id, now);  // a half registration is never a base to build on
    }
  }
  alive_[id] = true;
  FileStoreInfo& fs = filestores_[id];
  fs.bytes_used = bytes_used;
  fs.bytes_available = bytes_available;
  fs.last_heartbeat = now;
  fs.registered = false;
  return id;
}

void Namespace::EndRegistration(FileStoreId id) {
  std::unique_lock lock(mu_);
  if (auto refresh = refreshing_.find(id); refresh != refreshing_.end()) {
    const absl::flat_hash_set<std::string> listed = std::move(refresh->second);
    refreshing_.erase(refresh);
    bool forgot = false;
    for (auto it = map_.begin(); it != map_.end();) {
      Entry& e = it->second;
      if (listed.contains(it->first)) {
        ++it;
        continue;
      }
      bool held = std::find(e.holders.begin(), e.holders.end(), id) != e.holders.end();
      forgot |= held;
      ForgetLocked(e, id);
      if (held && e.holders.empty() && OrphanedLocked(it->first, e)) {
        it = EraseLocked(it);
        continue;
      }
      ++it;
    }
    if (forgot) ++drops_;  // a GC round under way saw holdings that are gone
  }
  if (id < filestores_.size() && alive_[id]) {
    filestores_[id].registered = true;
    dropped_.erase(filestores_[id].address);
  }
}

void Namespace::AbortRegistration(FileStoreId id, TimePoint now) {
  std::unique_lock lock(mu_);
  refreshing_.erase(id);
  if (id < alive_.size() && alive_[id]) DropLocked(id, now);
}

bool Namespace::HeartBeat(const std::string& address, int64_t bytes_used, int64_t bytes_available,
                          TimePoint now) {
  std::unique_lock lock(mu_);
  auto it = ids_.find(address);
  if (it == ids_.end() || !alive_[it->second]) return false;
  FileStoreInfo& fs = filestores_[it->second];
  fs.bytes_used = bytes_used;
  fs.bytes_available = bytes_available;
  fs.last_heartbeat = now;
  return true;
}

std::optional<FileStoreId> Namespace::Find(const std::string& address) const {
  std::shared_lock lock(mu_);
  auto it = ids_.find(address);
  if (it == ids_.end() || !alive_[it->second]) return std::nullopt;
  return it->second;
}

std::vector<std::string> Namespace::ExpireFileStores(TimePoint deadline, TimePoint now) {
  std::unique_lock lock(mu_);
  std::vector<std::string> dropped;
  for (FileStoreId id = 0; id < filestores_.size(); ++id) {
    if (alive_[id] && filestores_[id].last_heartbeat < deadline) {
      DropLocked(id, now);
      dropped.push_back(filestores_[id].address);
    }
  }
  return dropped;
}

void Namespace::DropFileStore(FileStoreId id, TimePoint now) {
  std::unique_lock lock(mu_);
  if (id < alive_.size() && alive_[id]) DropLocked(id, now);
}

uint64_t Namespace::drops() const {
  std::shared_lock lock(mu_);
  return drops_;
}

std::vector<std::string> Namespace::RecentlyDropped(TimePoint since) const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [address, at] : dropped_) {
    if (at > since) out.push_back(address);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void Namespace::DropLocked(FileStoreId id, TimePoint now) {
  refreshing_.erase(id);
  alive_[id] = false;
  filestores_[id].registered = false;
  ++drops_;
  dropped_[filestores_[id].address] = now;
  size_t fell_back = 0, forgotten = 0;
  for (auto it = map_.begin(); it != map_.end();) {
    Entry& e = it->second;
    ForgetLocked(e, id);
    if (!e.holders.empty()) {
      ++it;
      continue;
    }
    int64_t version = e.version;
    if (OrphanedLocked(it->first, e)) {
      it = EraseLocked(it);
      ++forgotten;
      continue;
    }
    fell_back += e.version != version;
    ++it;
  }
  if (fell_back > 0) {
    Logger("nameserver")
        ->warn("FileStore {} dropped: {} names fell back to an older copy held elsewhere",
               filestores_[id].address, fell_back);
  }
  Logger("nameserver")
      ->debug("FileStore {} dropped: {} names had no other copy", filestores_[id].address,
              forgotten);
}

void Namespace::ForgetLocked(Entry& e, FileStoreId id) {
  auto h = std::find(e.holders.begin(), e.holders.end(), id);
  if (h != e.holders.end()) e.holders.erase(h);
  if (e.stale) {
    std::erase_if(*e.stale, [id](const StaleCopy& s) { return s.id == id; });
    if (e.stale->empty()) e.stale.reset();
  }
}

bool Namespace::OrphanedLocked(const std::string& name, Entry& e) {
  if (!e.holders.empty()) return false;
  if (!e.stale) return true;  // no live FileStore has any copy of the name
  // A deleted name stays deleted: the older copies must not come back to life.
  if (e.meta.tombstone) return false;
  int64_t newest = 0;
  Meta meta;
  for (const StaleCopy& s : *e.stale) {
    if (s.version > newest) {
      newest = s.version;
      meta = s.meta;
    }
  }
  for (const StaleCopy& s : *e.stale) {
    if (s.version == newest) e.holders.push_back(s.id);
  }
  std::erase_if(*e.stale, [newest](const StaleCopy& s) { return s.version == newest; });
  if (e.stale->empty()) e.stale.reset();
  Logger("nameserver")
      ->debug(
          "{}: no live holder of version {} is left; version {} on {} FileStores is the "
          "latest again",
          name.substr(0, 100), e.version, newest, e.holders.size());
  CountLiveLocked(e.meta, -1);  // e was live
  CountLocked(name, &e.meta, &meta);
  e.version = newest;
  e.meta = std::move(meta);
  CountLiveLocked(e.meta, +1);
  return false;
}

Namespace::Meta Namespace::MetaOf(const v1::FileInfo& f) {
  return Meta{.size = f.tombstone() ? 0 : f.size(),
              .mtime_ns = f.attributes().mtime_ns(),
              .atime_ns = f.attributes().atime_ns(),
              .ctime_ns = f.attributes().ctime_ns(),
              .mode = f.attributes().mode(),
              .uid = f.attributes().uid(),
              .gid = f.attributes().gid(),
              .kind = static_cast<uint8_t>(f.kind()),
              .tombstone = f.tombstone(),
              .extras = VersionExtras::Of(f.attributes()),
              .inode = f.kind() == v1::KIND_HARD_LINK ? InodeId(f.attributes().inode()) : 0};
}

Namespace::Map::iterator Namespace::EraseLocked(Map::iterator it) {
  CountLiveLocked(it->second.meta, -1);
  CountLocked(it->first, &it->second.meta, nullptr);
  return map_.erase(it);
}

std::vector<FileStoreInfo> Namespace::FileStores(bool count_files) const {
  std::shared_lock lock(mu_);
  std::vector<FileStoreInfo> out;
  std::vector<int64_t> files(filestores_.size(), 0);
  if (count_files) {
    for (const auto& [name, e] : map_) {
      for (FileStoreId h : e.holders) ++files[h];
    }
  }
  for (FileStoreId id = 0; id < filestores_.size(); ++id) {
    if (!alive_[id]) continue;
    out.push_back(filestores_[id]);
    out.back().files = files[id];
  }
  return out;
}

size_t Namespace::live_filestores() const {
  std::shared_lock lock(mu_);
  return LiveFileStoresLocked();
}

size_t Namespace::LiveFileStoresLocked() const {
  return static_cast<size_t>(std::count(alive_.begin(), alive_.end(), true));
}

bool Namespace::AllLiveRegistered() const {
  std::shared_lock lock(mu_);
  for (FileStoreId id = 0; id < filestores_.size(); ++id) {
    if (alive_[id] && !filestores_[id].registered) return false;
  }
  return true;
}

bool Namespace::AllRegistered(const std::vector<std::string>& addresses) const {
  std::shared_lock lock(mu_);
  for (const std::string& a : addresses) {
    auto it = ids_.find(a);
    if (it == ids_.end() || !alive_[it->second] || !filestores_[it->second].registered) {
      return false;
    }
  }
  return true;
}

// --- names ---

void Namespace::Apply(FileStoreId id, const v1::FileInfo& file) {
  std::unique_lock lock(mu_);
  if (id >= alive_.size() || !alive_[id]) return;
  if (auto refresh = refreshing_.find(id); refresh != refreshing_.end()) {
    refresh->second.insert(file.name());
  }
  ApplyLocked(id, file);
}

bool Namespace::Apply(const std::string& address, const v1::FileInfo& file) {
  std::unique_lock lock(mu_);
  auto it = ids_.find(address);
  if (it == ids_.end() || !alive_[it->second]) return false;
  if (auto refresh = refreshing_.find(it->second); refresh != refreshing_.end()) {
    refresh->second.insert(file.name());
  }
  ApplyLocked(it->second, file);
  return true;
}

void Namespace::ApplyLocked(FileStoreId id, const v1::FileInfo& file) {
  auto [it, inserted] = map_.try_emplace(file.name());
  Entry& e = it->second;
  auto add_stale = [&e](FileStoreId fs, int64_t version, const Meta& meta) {
    if (!e.stale) e.stale = std::make_unique<std::vector<StaleCopy>>();
    for (StaleCopy& s : *e.stale) {
      if (s.id == fs) {
        if (version > s.version) s = {fs, version, meta};
        return;
      }
    }
    e.stale->push_back({fs, version, meta});
  };
  auto remove_stale = [&e](FileStoreId fs) {
    if (!e.stale) return;
    std::erase_if(*e.stale, [fs](const StaleCopy& s) { return s.id == fs; });
    if (e.stale->empty()) e.stale.reset();
  };
  if (!inserted && file.version() < e.version) {
    if (!Contains(e.holders, id)) add_stale(id, file.version(), MetaOf(file));
    return;
  }
  if (!inserted && file.version() == e.version) {
    if (!Contains(e.holders, id)) e.holders.push_back(id);
    remove_stale(id);
    return;
  }
  // A new latest version: the previous holders now hold a stale copy.
  Meta meta = MetaOf(file);
  if (!inserted) {
    const Meta previous = e.meta;
    for (FileStoreId h : e.holders) {
      if (h != id) add_stale(h, e.version, previous);
    }
    CountLiveLocked(e.meta, -1);
    KeepNewerDirectoryTimes(previous, &meta);
  }
  CountLocked(it->first, inserted ? nullptr : &e.meta, &meta);
  remove_stale(id);
  e.holders.assign(1, id);
  e.version = file.version();
  e.meta = meta;
  CountLiveLocked(e.meta, +1);
}

void Namespace::ApplyBump(const std::string& address, const std::string& name, int64_t expected,
                          int64_t new_version) {
  std::unique_lock lock(mu_);
  auto fs = ids_.find(address);
  if (fs == ids_.end() || !alive_[fs->second]) return;
  auto it = map_.find(name);
  if (it == map_.end()) return;
  const Entry& e = it->second;
  if (e.meta.tombstone || (e.version != expected && e.version != new_version)) return;
  v1::FileInfo info = InfoLocked(name, e);
  info.set_version(new_version);
  ApplyLocked(fs->second, info);
}

void Namespace::RemoveHolder(FileStoreId id, const std::string& name, int64_t version) {
  std::unique_lock lock(mu_);
  auto it = map_.find(name);
  if (it == map_.end()) return;
  Entry& e = it->second;
  if (e.version == version) {
    auto h = std::find(e.holders.begin(), e.holders.end(), id);
    if (h == e.holders.end()) return;
    e.holders.erase(h);
  } else if (e.stale) {
    std::erase_if(*e.stale, [&](const StaleCopy& s) { return s.id == id && s.version == version; });
    if (e.stale->empty()) e.stale.reset();
  }
  if (!e.holders.empty()) return;
  const int64_t before = e.version;
  if (OrphanedLocked(it->first, e)) {
    EraseLocked(it);
  } else if (e.version != before) {
    Logger("nameserver")
        ->warn("{}: the last good copy of version {} is gone; version {} is the latest again",
               name.substr(0, 100), version, e.version);
  }
}

void Namespace::ApplyMinVersion(int64_t min_version) {
  std::unique_lock lock(mu_);
  for (auto it = map_.begin(); it != map_.end();) {
    Entry& e = it->second;
    if (e.stale) {
      std::erase_if(*e.stale, [&](const StaleCopy& s) { return s.version < min_version; });
      if (e.stale->empty()) e.stale.reset();
    }
    if (e.meta.tombstone && e.version < min_version) {
      it = map_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace chainfs::nameserver
