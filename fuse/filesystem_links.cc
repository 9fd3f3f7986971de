// Filesystem's hard links: link(2), and the names a hard-linked file is read and written
// under. Every name of one file shares one inode (InodeTable keys them by the inode name the
// NameServer answers in Attributes.inode); its bytes live under that inode name on the
// FileStores, which DoRead (read_name) and DoCreate (write_name) tell.
#include <cerrno>

#include "common/status.h"
#include "fuse/errors.h"
#include "fuse/filesystem.h"

namespace chainfs::mount {

const std::string& Filesystem::ObjectName(const v1::DoReadReply& file) {
  return file.read_name().empty() ? file.file().name() : file.read_name();
}

void Filesystem::NameLinkedUpload(uint64_t ino, const std::string& path, v1::FileInfo* stored) {
  if (stored->name() != path) {
    stored->mutable_attributes()->set_inode(stored->name());
    stored->set_name(path);
  }
  // The upload's answer has no link count: the one known before still holds.
  auto known = inodes_.Info(ino, TimePoint::min());
  if (stored->nlink() != 0 || !known || known->attributes().inode().empty()) return;
  stored->set_nlink(known->nlink());
  stored->mutable_attributes()->set_inode(known->attributes().inode());
}

absl::StatusOr<Entry> Filesystem::Link(uint64_t ino, uint64_t new_parent,
                                       const std::string& new_name) {
  CHAINFS_ASSIGN_OR_RETURN(std::string from, PathOf(ino));
  CHAINFS_ASSIGN_OR_RETURN(std::string dir, PathOf(new_parent));
  CHAINFS_ASSIGN_OR_RETURN(std::string to, ChildPath(dir, new_name));
  // A file written here and not stored yet is stored first: the link names what is stored.
  std::shared_ptr<StagedFile> staged = inodes_.Staged(ino);
  if (staged) CHAINFS_RETURN_IF_ERROR(UploadStaged(ino, *staged));
  v1::LinkRequest req;
  req.set_from(from);
  req.set_to(to);
  absl::StatusOr<v1::LinkReply> reply = nameserver_->Link(req);
  if (!reply.ok()) {
    // The kernel refuses directories itself; the NameServer's refusal is the same EPERM.
    if (absl::IsPermissionDenied(reply.status())) {
      return ErrnoError(EPERM, std::string(reply.status().message()));
    }
    return reply.status();
  }
  const v1::FileInfo& info = reply->file();
  Entry entry{.ino = inodes_.AddLink(ino, to, info.attributes().inode())};
  inodes_.SetInfo(entry.ino, info, clock_->Now());
  entry.attr = staged ? StagedStat(entry.ino, *staged) : ToStat(entry.ino, info);
  return entry;
}

}  // namespace chainfs::mount
