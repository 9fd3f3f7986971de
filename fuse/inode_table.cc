#include "fuse/inode_table.h"

#include <cerrno>
#include <vector>

#include "common/names.h"
#include "fuse/errors.h"
#include "fuse/staging.h"

namespace chainfs::mount {

absl::StatusOr<std::string> ChildPath(const std::string& parent, const std::string& name) {
  if (name.size() > kMaxComponentBytes) return ErrnoError(ENAMETOOLONG, "name over 255 bytes");
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos) {
    return ErrnoError(EINVAL, "invalid name");
  }
  std::string path = JoinName(parent, name);
  if (path.size() > kMaxNameBytes) return ErrnoError(ENAMETOOLONG, "path over the name limit");
  return path;
}

InodeTable::InodeTable() {
  inodes_[kRootInode].path = "/";
  inodes_[kRootInode].lookups = 1;
  by_path_["/"] = kRootInode;
}

uint64_t InodeTable::Ref(const std::string& path, const std::string& inode_name) {
  std::lock_guard lock(mu_);
  auto it = by_path_.find(path);
  if (!inode_name.empty()) {
    if (auto linked = by_inode_name_.find(inode_name); linked != by_inode_name_.end()) {
      const uint64_t ino = linked->second;
      if (it == by_path_.end() || it->second != ino) {
        if (it != by_path_.end()) RemovePathLocked(path);  // it named another file before
        AddPathLocked(ino, path);
      }
      ++inodes_[ino].lookups;
      return ino;
    }
    if (it != by_path_.end()) {  // a file this mount knew became a hard link
      Inode& inode = inodes_[it->second];
      if (!inode.inode_name.empty()) by_inode_name_.erase(inode.inode_name);
      inode.inode_name = inode_name;
      by_inode_name_[inode_name] = it->second;
    }
  }
  if (it != by_path_.end()) {
    ++inodes_[it->second].lookups;
    return it->second;
  }
  uint64_t ino = next_ino_++;
  Inode& inode = inodes_[ino];
  inode.path = path;
  inode.lookups = 1;
  by_path_[path] = ino;
  if (!inode_name.empty()) {
    inode.inode_name = inode_name;
    by_inode_name_[inode_name] = ino;
  }
  return ino;
}

uint64_t InodeTable::AddLink(uint64_t ino, const std::string& path, const std::string& inode_name) {
  {
    std::lock_guard lock(mu_);
    auto it = inodes_.find(ino);
    if (it != inodes_.end() && it->second.inode_name.empty() && !inode_name.empty()) {
      it->second.inode_name = inode_name;
      by_inode_name_[inode_name] = ino;
      it->second.info.reset();  // its nlink changed
    }
  }
  return Ref(path, inode_name);
}

void InodeTable::AddPathLocked(uint64_t ino, const std::string& path) {
  Inode& inode = inodes_[ino];
  if (inode.path.empty()) {
    inode.path = path;
  } else {
    inode.more_paths.push_back(path);
  }
  inode.info.reset();
  by_path_[path] = ino;
}

void InodeTable::RemovePathLocked(const std::string& path) {
  auto it = by_path_.find(path);
  if (it == by_path_.end()) return;
  Inode& inode = inodes_[it->second];
  by_path_.erase(it);
  if (inode.path == path) {
    inode.path.clear();
    if (!inode.more_paths.empty()) {
      inode.path = std::move(inode.more_paths.back());
      inode.more_paths.pop_back();
    }
  } else {
    std::erase(inode.more_paths, path);
  }
  inode.info.reset();
}

void InodeTable::Forget(uint64_t ino, uint64_t n) {
  std::lock_guard lock(mu_);
  auto it = inodes_.find(ino);
  if (it == inodes_.end() || ino == kRootInode) return;
  Inode& inode = it->second;
  inode.lookups = n >= inode.lookups ? 0 : inode.lookups - n;
  if (inode.lookups > 0) return;
  inode.more_paths.push_back(inode.path);
  for (const std::string& path : inode.more_paths) {
    auto p = by_path_.find(path);
    if (p != by_path_.end() && p->second == ino) by_path_.erase(p);
  }
  auto named = by_inode_name_.find(inode.inode_name);
  if (named != by_inode_name_.end() && named->second == ino) by_inode_name_.erase(named);
  inodes_.erase(it);
}

std::optional<std::string> InodeTable::Path(uint64_t ino) const {
  std::lock_guard lock(mu_);
  auto it = inodes_.find(ino);
  if (it == inodes_.end() || it->second.path.empty()) return std::nullopt;
  return it->second.path;
}

std::optional<uint64_t> InodeTable::Find(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = by_path_.find(path);
  if (it == by_path_.end()) return std::nullopt;
  return it->second;
}

void InodeTable::DetachLocked(const std::string& path) {
  std::vector<std::string> gone;
  auto it = by_path_.find(path);
  if (it != by_path_.end()) gone.push_back(path);
  std::string prefix = path == "/" ? "/" : path + "/";
  for (auto p = by_path_.lower_bound(prefix); p != by_path_.end() && p->first.starts_with(prefix);
       ++p) {
    gone.push_back(p->first);
  }
  for (const std::string& name : gone) {
    if (by_path_[name] != kRootInode) RemovePathLocked(name);
  }
}

void InodeTable::Rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  if (from == to) return;
  DetachLocked(to);
  std::vector<std::pair<std::string, uint64_t>> moved;
  auto it = by_path_.find(from);
  if (it != by_path_.end()) moved.emplace_back(from, it->second);
  std::string prefix = from + "/";
  for (auto p = by_path_.lower_bound(prefix); p != by_path_.end() && p->first.starts_with(prefix);
       ++p) {
    moved.emplace_back(p->first, p->second);
  }
  for (const auto& [old_path, ino] : moved) RemovePathLocked(old_path);
  for (const auto& [old_path, ino] : moved) AddPathLocked(ino, to + old_path.substr(from.size()));
}

void InodeTable::Detach(const std::string& path) {
  std::lock_guard lock(mu_);
  DetachLocked(path);
}

int64_t InodeTable::ExchangeVersion(uint64_t ino, int64_t version) {
  std::lock_guard lock(mu_);
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return 0;
  return std::exchange(it->second.version, version);
}

void InodeTable::SetVersion(uint64_t ino, int64_t version) { ExchangeVersion(ino, version); }

void InodeTable::SetInfo(uint64_t ino, const v1::FileInfo& info, TimePoint at) {
  std::lock_guard lock(mu_);
  auto it = inodes_.find(ino);
  if (it == inodes_.end() || it->second.path.empty()) return;
  it->second.info = info;
  it->second.info_at = at;
}

std::optional<v1::FileInfo> InodeTable::Info(uint64_t ino, TimePoint since) const {
  std::lock_guard lock(mu_);
  auto it = inodes_.find(ino);
  if (it == inodes_.end() || !it->second.info || it->second.info_at < since) return std::nullopt;
  return it->second.info;
}

std::shared_ptr<StagedFile> InodeTable::Staged(uint64_t ino) const {
  std::lock_guard lock(mu_);
  auto it = inodes_.find(ino);
  return it == inodes_.end() ? nullptr : it->second.staged;
}

void InodeTable::SetStaged(uint64_t ino, std::shared_ptr<StagedFile> staged) {
  std::lock_guard lock(mu_);
  auto it = inodes_.find(ino);
  if (it != inodes_.end()) it->second.staged = std::move(staged);
}

void InodeTable::ClearStaged(uint64_t ino, const StagedFile* staged) {
  std::lock_guard lock(mu_);
  auto it = inodes_.find(ino);
  if (it != inodes_.end() && it->second.staged.get() == staged) it->second.staged.reset();
}

size_t InodeTable::size() const {
  std::lock_guard lock(mu_);
  return inodes_.size();
}

}  // namespace chainfs::mount
