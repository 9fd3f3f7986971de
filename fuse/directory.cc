// Filesystem's directory handles: listings fetched page by page as readdir advances.
#include <algorithm>
#include <functional>
#include <string>

#include "common/names.h"
#include "common/status.h"
#include "fuse/filesystem.h"

namespace chainfs::mount {

namespace {

constexpr int kListPage = 1000;
constexpr int64_t kDotEntries = 2;  // "." and ".." lead every directory listing

// The d_ino of a listed name the kernel never looked up: it ignores it, but readdir(3)
// callers need it to be neither 0 nor the same for every name.
uint64_t UnlookedIno(const std::string& path) { return std::hash<std::string>()(path) | 1; }

}  // namespace

absl::StatusOr<DirHandle*> Filesystem::OpenDir(uint64_t ino) {
  CHAINFS_ASSIGN_OR_RETURN(std::string path, PathOf(ino));
  auto dh = std::make_unique<DirHandle>();
  dh->ino = ino;
  dh->path = path;
  return dh.release();
}

absl::Status Filesystem::ReadDir(
    DirHandle* dh, int64_t offset, bool plus,
    const std::function<bool(const std::string&, const Entry&, int64_t)>& add) {
  std::lock_guard lock(dh->mu);
  // "." and ".." come first, at offsets 0 and 1. The kernel takes no lookup reference on
  // them, and with readdirplus ignores their attributes.
  for (; offset < kDotEntries; ++offset) {
    Entry dot;
    dot.ino = dh->ino;
    if (offset == 1 && dh->path != "/") {
      std::string parent = dh->path.substr(0, std::max<size_t>(dh->path.rfind('/'), 1));
      dot.ino = inodes_.Find(parent).value_or(UnlookedIno(parent));
    }
    dot.attr.st_ino = dot.ino;
    dot.attr.st_mode = S_IFDIR | 0755;
    if (!add(offset == 0 ? "." : "..", dot, offset + 1)) return absl::OkStatus();
  }
  for (int64_t i = offset - kDotEntries;; ++i) {
    while (i >= static_cast<int64_t>(dh->entries.size()) && dh->more) {
      v1::ListDirectoryRequest req;
      req.set_path(dh->path);
      req.set_limit(kListPage);
      if (!dh->entries.empty()) req.set_start_after(dh->entries.back().name());
      CHAINFS_ASSIGN_OR_RETURN(v1::ListDirectoryReply page, nameserver_->ListDirectory(req));
      for (auto& e : *page.mutable_entries()) dh->entries.push_back(std::move(e));
      dh->more = page.more() && page.entries_size() > 0;
    }
    if (i >= static_cast<int64_t>(dh->entries.size())) return absl::OkStatus();
    const v1::FileInfo& info = dh->entries[i];
    std::string path = JoinName(dh->path, info.name());
    Entry entry;
    if (plus) {
      entry.ino = inodes_.Ref(path, info.attributes().inode());
      if (auto staged = inodes_.Staged(entry.ino)) {
        entry.attr = StagedStat(entry.ino, *staged);
      } else {
        entry.attr = ToStat(entry.ino, info);
      }
    } else {
      entry.ino = inodes_.Find(path).value_or(0);
      entry.attr = ToStat(entry.ino, info);
      if (entry.attr.st_ino == 0) entry.attr.st_ino = UnlookedIno(path);
    }
    if (!add(info.name(), entry, i + kDotEntries + 1)) {
      if (plus) inodes_.Forget(entry.ino, 1);
      return absl::OkStatus();
    }
  }
}

void Filesystem::ReleaseDir(DirHandle* dh) { delete dh; }

}  // namespace chainfs::mount
