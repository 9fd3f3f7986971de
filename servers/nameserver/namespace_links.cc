// Namespace's hard-link views: the link counts, and link entries resolved to their inodes.
#include <fmt/format.h>

#include <mutex>

#include "common/inode_names.h"
#include "servers/nameserver/namespace.h"

namespace chainfs::nameserver {

void Namespace::CountLiveLocked(const Meta& m, int delta) {
  if (m.tombstone) return;
  live_names_ += delta;
  if (m.kind != v1::KIND_HARD_LINK || m.inode == 0) return;
  uint32_t& n = links_[m.inode];
  n += delta;
  if (n == 0) links_.erase(m.inode);
}

absl::StatusOr<v1::FileInfo> Namespace::ResolvedInfoLocked(const std::string& name,
                                                           const Entry& e) const {
  if (e.meta.kind != v1::KIND_HARD_LINK) return InfoLocked(name, e);
  const std::string inode = InodeName(e.meta.inode);
  auto it = e.meta.inode == 0 ? map_.end() : map_.find(inode);
  if (it == map_.end() || it->second.meta.tombstone) {
    return absl::DataLossError(fmt::format("{}: the file of this hard link is missing",
                                           std::string_view(name).substr(0, 100)));
  }
  v1::FileInfo info = InfoLocked(it->first, it->second);
  info.set_name(name);
  info.mutable_attributes()->set_inode(inode);
  auto count = links_.find(e.meta.inode);
  info.set_nlink(count == links_.end() ? 1 : count->second);
  return info;
}

uint32_t Namespace::Links(const std::string& inode_name) const {
  std::shared_lock lock(mu_);
  auto it = links_.find(InodeId(inode_name));
  return it == links_.end() ? 0 : it->second;
}

std::vector<std::string> Namespace::UnlinkedInodes() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  const std::string prefix = std::string(kInodeDirectory) + "/";
  for (auto it = map_.lower_bound(prefix);
       it != map_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    if (it->second.meta.tombstone) continue;
    int64_t id = InodeId(it->first);
    if (id == 0 || !links_.contains(id)) out.push_back(it->first);
  }
  return out;
}

absl::StatusOr<Namespace::Linked> Namespace::GetLinked(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = map_.find(name);
  if (it == map_.end() || it->second.meta.tombstone) {
    return absl::NotFoundError(
        fmt::format("{}: no such file", std::string_view(name).substr(0, 100)));
  }
  Linked out{.entry = StateLocked(it->first, it->second), .inode = std::nullopt};
  if (it->second.meta.kind == v1::KIND_HARD_LINK && it->second.meta.inode != 0) {
    auto inode = map_.find(InodeName(it->second.meta.inode));
    if (inode != map_.end() && !inode->second.meta.tombstone) {
      out.inode = StateLocked(inode->first, inode->second);
    }
  }
  return out;
}

}  // namespace chainfs::nameserver
