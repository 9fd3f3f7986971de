// Hard links (issue 15). A hard-linked file lives under a hidden inode name
// (common/inode_names.h); each of its names is a KIND_HARD_LINK entry, without content,
// whose Attributes.inode names it. The first link(P, Q) of a plain file P:
//   1. clones P's object on every holder to a new inode name I (no data moves);
//   2. writes a link entry over P (a new version naming I);
//   3. writes the link entry Q.
// At every point P's content is reachable under P: before 2 as P itself, after it through
// I. A crash before 2 leaves I named by no link: the orphan sweep tombstones it once no
// link has named it for `orphan_inode_grace` (never while any link entry names it, and only
// with a complete view of the FileStores, as GC). Link counts are soft state (Namespace).
#include <fmt/format.h>

#include "common/duration.h"
#include "common/inode_names.h"
#include "common/names.h"
#include "common/status.h"
#include "servers/nameserver/log.h"
#include "servers/nameserver/nameserver.h"

namespace chainfs::nameserver {

namespace {

v1::FileInfo LinkEntry(const std::string& name, const std::string& inode,
                       const v1::Attributes& attributes) {
  v1::FileInfo entry;
  entry.set_name(name);
  entry.set_kind(v1::KIND_HARD_LINK);
  *entry.mutable_attributes() = attributes;
  entry.mutable_attributes()->set_inode(inode);
  return entry;
}

std::string_view Brief(std::string_view name) { return name.substr(0, 100); }

}  // namespace

absl::Status NameServer::RefuseHidden(const std::string& path) const {
  if (!IsHiddenName(path)) return absl::OkStatus();
  return absl::NotFoundError(fmt::format("{}: no such file or directory", Brief(path)));
}

absl::StatusOr<NameState> NameServer::GetFile(const std::string& path) const {
  CHAINFS_ASSIGN_OR_RETURN(Namespace::Linked linked, ns_.GetLinked(path));
  if (linked.entry.info.kind() != v1::KIND_HARD_LINK) return std::move(linked.entry);
  if (!linked.inode) {
    return absl::DataLossError(
        fmt::format("{}: the file of this hard link is missing", Brief(path)));
  }
  return std::move(*linked.inode);
}

void NameServer::AsNameOf(const NameState& file, const std::string& path,
                          v1::FileInfo* info) const {
  const std::string inode = file.info.name();  // `info` may be file.info itself
  if (inode == path) return;
  info->set_name(path);
  info->mutable_attributes()->set_inode(inode);
  info->set_nlink(ns_.Links(inode));
}

std::string NameServer::WriteNameOf(const std::string& path) const {
  absl::StatusOr<NameState> file = GetFile(path);
  return file.ok() ? file->info.name() : path;
}

bool NameServer::SameInode(const std::string& a, const std::string& b) const {
  absl::StatusOr<NameState> x = GetFile(a), y = GetFile(b);
  return x.ok() && y.ok() && x->info.name() == y->info.name() && x->info.name() != a;
}

absl::StatusOr<v1::FileInfo> NameServer::WriteEntry(v1::FileInfo entry) {
  std::vector<FileStoreInfo> chain =
      placement_.Choose(ns_.FileStores(), static_cast<size_t>(settings_.replication), {});
  if (chain.empty()) return absl::UnavailableError("no FileStore is available");
  CHAINFS_ASSIGN_OR_RETURN(int64_t version, allocator_.Allocate());
  entry.set_version(version);
  entry.set_size(0);
  std::vector<std::string> addresses;
  for (const FileStoreInfo& fs : chain) addresses.push_back(fs.address);
  std::string token = token_signer_ ? token_signer_->Sign(entry.name(), version, addresses) : "";
  replicator_.CreateStarted(entry.name(), version);
  CHAINFS_ASSIGN_OR_RETURN(v1::CreateReply made,
                           ops_->CreateFromString(entry, addresses, "", true, token));
  // The head reported it already; recorded here too so the caller's reply follows it.
  for (const std::string& a : made.committed_on()) ns_.Apply(a, entry);
  return entry;
}

absl::StatusOr<std::string> NameServer::MakeInode(const NameState& file) {
  CHAINFS_ASSIGN_OR_RETURN(int64_t id, allocator_.Allocate());
  v1::FileInfo inode;
  inode.set_name(InodeName(id));
  inode.set_version(id);
  *inode.mutable_attributes() = file.info.attributes();
  bool all = false;
  CHAINFS_RETURN_IF_ERROR(CloneOnHolders(file, inode, &all).status());
  // The link entry replaces P's only copies on those holders: every one must hold the inode.
  if (!all) {
    return absl::UnavailableError(
        "link: not every holder could clone the file; nothing was linked, retry");
  }
  std::optional<NameState> now = ns_.Get(file.info.name());
  if (!now || now->info.version() != file.info.version()) {
    return absl::UnavailableError(
        fmt::format("{} changed while being linked; retry", Brief(file.info.name())));
  }
  CHAINFS_RETURN_IF_ERROR(
      WriteEntry(LinkEntry(file.info.name(), inode.name(), file.info.attributes())).status());
  Log()->info("{} is now hard-linked: its file moved to {}", Brief(file.info.name()), inode.name());
  return inode.name();
}

absl::Status NameServer::Link(const v1::LinkRequest& req, v1::LinkReply* reply) {
  const std::string& from = req.from();
  const std::string& to = req.to();
  CHAINFS_RETURN_IF_ERROR(ValidateName(from));
  CHAINFS_RETURN_IF_ERROR(ValidateName(to));
  CHAINFS_RETURN_IF_ERROR(RefuseHidden(from));
  CHAINFS_RETURN_IF_ERROR(RefuseHidden(to));
  CHAINFS_RETURN_IF_ERROR(CheckServing());
  std::lock_guard lock(links_mu_);
  CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo source, ns_.Stat(from));
  if (source.kind() == v1::KIND_DIRECTORY) {
    return absl::PermissionDeniedError(
        fmt::format("{}: hard links to directories are not allowed", Brief(from)));
  }
  if (ns_.Stat(to).ok()) return absl::AlreadyExistsError(fmt::format("{} exists", Brief(to)));
  CHAINFS_RETURN_IF_ERROR(CheckNotBeneathAFile(to));
  CHAINFS_ASSIGN_OR_RETURN(Namespace::Linked linked, ns_.GetLinked(from));
  std::string inode;
  if (linked.entry.info.kind() == v1::KIND_HARD_LINK) {
    if (!linked.inode) {
      return absl::DataLossError(
          fmt::format("{}: the file of this hard link is missing", Brief(from)));
    }
    inode = linked.inode->info.name();
  } else {
    CHAINFS_ASSIGN_OR_RETURN(inode, MakeInode(linked.entry));
  }
  CHAINFS_RETURN_IF_ERROR(WriteEntry(LinkEntry(to, inode, source.attributes())).status());
  CHAINFS_ASSIGN_OR_RETURN(*reply->mutable_file(), ns_.Stat(to));
  Log()->debug("linked {} to {} ({} links)", to, inode, reply->file().nlink());
  return absl::OkStatus();
}

void NameServer::ReleaseInode(const v1::FileInfo& entry) {
  if (entry.kind() != v1::KIND_HARD_LINK || entry.attributes().inode().empty()) return;
  const std::string& inode = entry.attributes().inode();
  std::lock_guard lock(links_mu_);
  if (ns_.Links(inode) > 0) return;
  absl::StatusOr<NameState> state = ns_.GetLive(inode);
  if (!state.ok()) return;
  absl::StatusOr<int64_t> version = Tombstone(*state);
  if (!version.ok()) {
    Log()->warn("{} lost its last link but could not be deleted: {}; the orphan sweep retries",
                inode, std::string(version.status().message()));
  }
}

size_t NameServer::SweepUnlinkedInodes() {
  if (!serving() || !ns_.AllLiveRegistered()) return 0;
  // As GC: only with a complete view, since a link entry on a FileStore that has not
  // registered would name what the sweep deletes.
  absl::StatusOr<std::vector<std::string>> listed = zk_->Children(kFileStoresPath);
  if (!listed.ok() || !ns_.AllRegistered(*listed)) return 0;
  const TimePoint now = clock_->Now();
  if (!ns_.RecentlyDropped(now - settings_.dropped_filestore_memory).empty()) return 0;
  const uint64_t drops = ns_.drops();
  std::lock_guard lock(links_mu_);
  std::map<std::string, UnlinkedSince> still;
  size_t swept = 0;
  for (const std::string& name : ns_.UnlinkedInodes()) {
    auto seen = unlinked_since_.find(name);
    // A drop since the inode was first seen unlinked restarts its grace period.
    UnlinkedSince since = seen != unlinked_since_.end() && seen->second.drops == drops
                              ? seen->second
                              : UnlinkedSince{now, drops};
    absl::StatusOr<NameState> state = ns_.GetLive(name);
    if (now - since.at < settings_.orphan_inode_grace || !state.ok()) {
      still.emplace(name, since);
      continue;
    }
    absl::StatusOr<int64_t> version = Tombstone(*state);
    if (version.ok()) {
      ++swept;
      Log()->info("{} was named by no hard link for {}: deleted", name,
                  FormatDuration(settings_.orphan_inode_grace));
    } else {
      still.emplace(name, since);
    }
  }
  unlinked_since_ = std::move(still);
  return swept;
}

}  // namespace chainfs::nameserver
