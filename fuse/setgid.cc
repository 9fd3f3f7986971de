// Filesystem::SetgidGroup: set-group-ID directories, which the kernel leaves to the file
// system (ext4 does it in inode_init_owner): a new entry takes the directory's group.
#include <sys/stat.h>

#include <optional>

#include "fuse/filesystem.h"

namespace chainfs::mount {

std::optional<gid_t> Filesystem::SetgidGroup(uint64_t parent) {
  // What this mount last learnt of the directory, however old: the kernel looked it up to
  // create in it, and refreshed its attributes (getattr) for the permission check when they
  // were older than the attribute timeout. Costs no call.
  std::optional<v1::FileInfo> dir = inodes_.Info(parent, TimePoint::min());
  if (!dir || dir->kind() != v1::KIND_DIRECTORY || !(dir->attributes().mode() & S_ISGID)) {
    return std::nullopt;
  }
  return dir->attributes().gid();
}

}  // namespace chainfs::mount
