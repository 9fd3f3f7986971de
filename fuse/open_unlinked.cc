// OpenFiles, and the Filesystem calls that keep a file usable after it lost its name while
// open (fuse/open_unlinked.h).
#include "fuse/open_unlinked.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "common/log.h"
#include "common/status.h"
#include "fuse/errors.h"
#include "fuse/filesystem.h"

namespace chainfs::mount {

namespace {

std::string HostName() {
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "host";
  return host;
}

}  // namespace

void OpenFiles::Add(FileHandle* fh) {
  std::lock_guard lock(mu_);
  open_[fh->ino].handles.push_back(fh);
}

std::optional<std::string> OpenFiles::Remove(FileHandle* fh) {
  std::lock_guard lock(mu_);
  auto it = open_.find(fh->ino);
  if (it == open_.end()) return std::nullopt;
  std::vector<FileHandle*>& handles = it->second.handles;
  handles.erase(std::remove(handles.begin(), handles.end(), fh), handles.end());
  if (!handles.empty()) return std::nullopt;
  std::string hidden = std::move(it->second.hidden);
  open_.erase(it);
  if (hidden.empty()) return std::nullopt;
  return hidden;
}

void OpenFiles::ForEachHandle(uint64_t ino, const std::function<void(FileHandle*)>& fn) const {
  std::lock_guard lock(mu_);
  auto it = open_.find(ino);
  if (it == open_.end()) return;
  for (FileHandle* fh : it->second.handles) fn(fh);
}

void OpenFiles::SetHidden(uint64_t ino, const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = open_.find(ino);
  if (it != open_.end()) it->second.hidden = name;
}

std::optional<std::string> OpenFiles::Hidden(uint64_t ino) const {
  std::lock_guard lock(mu_);
  auto it = open_.find(ino);
  if (it == open_.end() || it->second.hidden.empty()) return std::nullopt;
  return it->second.hidden;
}

FileHandle* Filesystem::Opened(std::unique_ptr<FileHandle> fh) {
  open_files_.Add(fh.get());
  return fh.release();
}

void Filesystem::Release(FileHandle* fh) {
  SendPendingAtime(fh);
  std::optional<std::string> hidden = open_files_.Remove(fh);
  ReleaseHandle(fh);
  if (!hidden) return;
  // The last close of a file renamed away while open: its name goes now.
  v1::DoDeleteRequest req;
  req.set_path(*hidden);
  if (auto deleted = nameserver_->DoDelete(req); !deleted.ok()) {
    Logger("mount")->warn("{} (an unlinked file, closed) is left: {}", *hidden,
                          std::string(deleted.status().message()));
  }
}

void Filesystem::RepointReaders(uint64_t ino, const std::string& path) {
  bool remote = false;
  open_files_.ForEachHandle(ino, [&remote](FileHandle* fh) { remote |= !fh->staged; });
  if (!remote) return;
  v1::DoReadRequest req;
  req.set_path(path);
  absl::StatusOr<v1::DoReadReply> file = nameserver_->DoRead(req);
  if (!file.ok()) {
    Logger("mount")->warn("readers of {} open before its rename may fail: {}", path,
                          std::string(file.status().message()));
    return;
  }
  open_files_.ForEachHandle(ino, [&](FileHandle* fh) {
    if (fh->staged) return;
    std::lock_guard lock(fh->mu);
    fh->path = path;
    fh->file = *file;
    fh->remote.reset();  // the next read streams the renamed version
  });
}

absl::StatusOr<bool> Filesystem::MoveAwayIfReadRemotely(const std::string& path) {
  std::optional<uint64_t> ino = inodes_.Find(path);
  if (!ino) return false;
  bool remote = false;
  open_files_.ForEachHandle(*ino, [&remote](FileHandle* fh) { remote |= !fh->staged; });
  if (!remote) return false;  // no handle, or only local ones: the name can go at once
  static const std::string host = HostName();
  const std::string hidden = fmt::format("{}/{}-{}-{}", kUnlinkedDir, host, ::getpid(), *ino);
  CHAINFS_RETURN_IF_ERROR(client_.Rename(path, hidden, /*no_replace=*/false));
  Logger("mount")->debug("{} unlinked while open: kept as {} until closed", path, hidden);
  open_files_.SetHidden(*ino, hidden);
  RepointReaders(*ino, hidden);
  return true;
}

void Filesystem::MoveBack(uint64_t ino, const std::string& path) {
  std::optional<std::string> hidden = open_files_.Hidden(ino);
  if (!hidden) return;
  // Whatever happens, the last close no longer deletes it: at worst it stays where it is.
  open_files_.SetHidden(ino, "");
  if (absl::Status back = client_.Rename(*hidden, path, /*no_replace=*/true); !back.ok()) {
    Logger("mount")->error("{} stays at {} after a failed rename over it: {}", path, *hidden,
                           std::string(back.message()));
    return;
  }
  RepointReaders(ino, path);
}

absl::StatusOr<struct stat> Filesystem::UnlinkedAttr(uint64_t ino) {
  struct stat st;
  if (auto staged = inodes_.Staged(ino)) {
    st = StagedStat(ino, *staged);
  } else if (auto hidden = open_files_.Hidden(ino)) {
    CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo info, StatPath(*hidden));
    st = ToStat(ino, info);
  } else {
    return ErrnoError(ENOENT, fmt::format("inode {} is gone", ino));
  }
  st.st_nlink = 0;  // as Linux answers fstat of an unlinked file
  return st;
}

}  // namespace chainfs::mount
