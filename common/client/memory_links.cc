// MemoryNameServer's hard links, by the rules of servers/nameserver/links.cc: the first link
// of a plain file clones it to an inode name (common/inode_names.h) on its holders and
// makes its name a KIND_HARD_LINK entry; every name resolves to the inode (kind, size,
// attributes, version, nlink); writes go to the inode name; the inode goes with its last
// name. The link entries are created as any upload is (DoCreate, then the FileStores).
#include <fmt/format.h>

#include "common/client/memory_nameserver.h"
#include "common/client/nameserver_rules.h"
#include "common/inode_names.h"
#include "common/names.h"
#include "common/status.h"

namespace chainfs {

// --- MemoryNamespace ---

absl::StatusOr<MemoryNamespace::Live> MemoryNamespace::GetFile(const std::string& name) const {
  CHAINFS_ASSIGN_OR_RETURN(Live live, GetLive(name));
  if (live.info.kind() != v1::KIND_HARD_LINK) return live;
  absl::StatusOr<Live> inode = GetLive(live.info.attributes().inode());
  if (!inode.ok()) {
    return absl::DataLossError(fmt::format("{}: the file of this hard link is missing", name));
  }
  return inode;
}

uint32_t MemoryNamespace::Links(const std::string& inode) const {
  uint32_t n = 0;
  for (const auto& [name, e] : names_) {
    n += !e.latest.tombstone() && e.latest.kind() == v1::KIND_HARD_LINK &&
         e.latest.attributes().inode() == inode;
  }
  return n;
}

v1::FileInfo MemoryNamespace::Resolved(const v1::FileInfo& entry) const {
  if (entry.kind() != v1::KIND_HARD_LINK) return entry;
  absl::StatusOr<Live> inode = GetLive(entry.attributes().inode());
  if (!inode.ok()) return entry;
  v1::FileInfo info = std::move(inode->info);
  info.set_name(entry.name());
  info.mutable_attributes()->set_inode(entry.attributes().inode());
  info.set_nlink(Links(entry.attributes().inode()));
  return info;
}

// --- MemoryNameServer ---

void MemoryNameServer::AsNameOf(const Live& file, const std::string& path, v1::FileInfo* info) {
  const std::string inode = file.info.name();  // `info` may be file.info itself
  if (inode == path) return;
  info->set_name(path);
  info->mutable_attributes()->set_inode(inode);
  info->set_nlink(ns_.Links(inode));
}

absl::Status MemoryNameServer::WriteLinkEntry(const std::string& name, const std::string& inode,
                                              const v1::Attributes& attributes) {
  v1::DoCreateRequest req;
  req.set_path(name);
  CHAINFS_ASSIGN_OR_RETURN(v1::DoCreateReply created, DoCreate(req));
  v1::FileInfo entry;
  entry.set_name(name);
  entry.set_version(created.version());
  entry.set_kind(v1::KIND_HARD_LINK);
  *entry.mutable_attributes() = attributes;
  entry.mutable_attributes()->set_inode(inode);
  const std::vector<std::string> chain(created.chain().begin(), created.chain().end());
  if (FileStoreApi* filestores = filestores_api()) {
    CHAINFS_RETURN_IF_ERROR(
        filestores->CreateFromString(entry, chain, "", true, created.token()).status());
  }
  std::lock_guard lock(mu_);
  for (const std::string& address : chain) ns_.Apply(address, entry);
  return absl::OkStatus();
}

void MemoryNameServer::ReleaseInode(const v1::FileInfo& entry) {
  if (entry.kind() != v1::KIND_HARD_LINK) return;
  absl::StatusOr<Live> inode;
  {
    std::lock_guard lock(mu_);
    if (ns_.Links(entry.attributes().inode()) > 0) return;
    inode = ns_.GetLive(entry.attributes().inode());
  }
  if (inode.ok()) Tombstone(*inode).IgnoreError();  // the real one's orphan sweep retries
}

absl::StatusOr<v1::LinkReply> MemoryNameServer::Link(const v1::LinkRequest& req) {
  CHAINFS_RETURN_IF_ERROR(Enter("Link"));
  const std::string& from = req.from();
  const std::string& to = req.to();
  CHAINFS_RETURN_IF_ERROR(ValidateName(from));
  CHAINFS_RETURN_IF_ERROR(ValidateName(to));
  if (IsHiddenName(from) || IsHiddenName(to)) return absl::NotFoundError("no such file");
  Live source;
  std::string inode;
  {
    std::lock_guard lock(mu_);
    CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo found, ns_.Stat(from));
    if (found.kind() == v1::KIND_DIRECTORY) {
      return absl::PermissionDeniedError(
          fmt::format("{}: hard links to directories are not allowed", from));
    }
    if (ns_.Stat(to).ok()) return absl::AlreadyExistsError(fmt::format("{} exists", to));
    CHAINFS_RETURN_IF_ERROR(ns_.CheckNotBeneathAFile(to));
    CHAINFS_ASSIGN_OR_RETURN(source, ns_.GetFile(from));
    if (source.info.name() != from) inode = source.info.name();
  }
  if (inode.empty()) {
    v1::FileInfo target = NewVersion("", source);
    target.set_name(InodeName(target.version()));
    bool all = false;
    CHAINFS_RETURN_IF_ERROR(Clone(source, target, &all).status());
    if (!all) return absl::UnavailableError("link: a holder could not clone; nothing linked");
    inode = target.name();
    CHAINFS_RETURN_IF_ERROR(WriteLinkEntry(from, inode, source.info.attributes()));
  }
  CHAINFS_RETURN_IF_ERROR(WriteLinkEntry(to, inode, source.info.attributes()));
  std::lock_guard lock(mu_);
  v1::LinkReply reply;
  CHAINFS_ASSIGN_OR_RETURN(*reply.mutable_file(), ns_.Stat(to));
  return reply;
}

}  // namespace chainfs
