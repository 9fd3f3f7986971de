// NameServer: POSIX times of directories. Creating or removing an entry moves its parent's
// mtime and ctime in the soft state at once; DirTimes writes them to the FileStores later
// (a clone of the directory's entry, at most once per --dir-times-interval per directory).
#include "common/names.h"
#include "common/status.h"
#include "servers/nameserver/log.h"
#include "servers/nameserver/nameserver.h"

namespace chainfs::nameserver {

void NameServer::TouchParent(const std::string& name) {
  const std::string parent(ParentOf(name));
  if (ns_.TouchDirectory(parent, clock_->WallNanos())) dir_times_.Touched(parent);
}

void NameServer::ApplyReport(const std::string& filestore, const v1::FileInfo& file, bool* known) {
  const bool was_live = ns_.IsLiveEntry(file.name());
  *known = ns_.Apply(filestore, file);
  if (*known && was_live != ns_.IsLiveEntry(file.name())) TouchParent(file.name());
}

std::unique_lock<std::mutex> NameServer::LockIfDirectory(const v1::FileInfo& info) {
  if (info.kind() != v1::KIND_DIRECTORY) return {};
  return std::unique_lock(dir_versions_mu_);
}

absl::Status NameServer::PersistDirectoryTimes(const std::string& dir) {
  CHAINFS_RETURN_IF_ERROR(CheckServing());
  std::lock_guard lock(dir_versions_mu_);
  absl::StatusOr<NameState> state = ns_.GetLive(dir);
  // Gone, or replaced by a file since: nothing of it to write.
  if (!state.ok() || state->info.kind() != v1::KIND_DIRECTORY) return absl::OkStatus();
  CHAINFS_ASSIGN_OR_RETURN(int64_t version, allocator_.Allocate());
  v1::FileInfo target;
  target.set_name(dir);
  target.set_version(version);
  *target.mutable_attributes() = state->info.attributes();
  return CloneOnHolders(*state, target).status();
}

void NameServer::DirTimesTick() {
  if (serving()) dir_times_.Flush();
}

}  // namespace chainfs::nameserver
