// Filesystem: fifos, device nodes and sockets. They are namespace entries without content
// (mode, owner, times, rdev); the kernel keeps their I/O on this machine, as NFS does: a fifo
// connects processes of one machine, a device node opens this machine's device.
#include <sys/stat.h>

#include <cerrno>

#include "common/status.h"
#include "fuse/errors.h"
#include "fuse/filesystem.h"

namespace chainfs::mount {

namespace {

std::optional<v1::Kind> SpecialKind(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFIFO:
      return v1::KIND_FIFO;
    case S_IFCHR:
      return v1::KIND_CHAR_DEVICE;
    case S_IFBLK:
      return v1::KIND_BLOCK_DEVICE;
    case S_IFSOCK:
      return v1::KIND_SOCKET;
    default:
      return std::nullopt;
  }
}

}  // namespace

absl::StatusOr<Entry> Filesystem::MkSpecial(uint64_t parent, const std::string& name, mode_t mode,
                                            dev_t rdev, uid_t uid, gid_t gid, mode_t umask) {
  std::optional<v1::Kind> kind = SpecialKind(mode);
  if (!kind) return ErrnoError(EINVAL, "mknod of an unknown file type");
  gid = SetgidGroup(parent).value_or(gid);
  CHAINFS_ASSIGN_OR_RETURN(v1::Attributes attributes,
                           InheritedAttributes(parent, mode, uid, gid, umask, false));
  if (*kind == v1::KIND_CHAR_DEVICE || *kind == v1::KIND_BLOCK_DEVICE) attributes.set_rdev(rdev);
  return CreateObject(parent, name, *kind, attributes, "");
}

}  // namespace chainfs::mount
