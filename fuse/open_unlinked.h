// Files that stay usable after they lose their name while open on this mount (unlink, or a
// rename over them), as on a local disk: read, write, fstat (nlink 0) and ftruncate work until
// the last close. Two cases:
// - every handle of the inode works on its local staging file (written here, or opened for
//   writing, which stages the whole content; tempfile.TemporaryFile is one): the name is
//   deleted at once and the staging file alone carries the content until the last close, when
//   it goes. Nothing of it is uploaded any more.
// - some handle reads the stored version remotely: the name is renamed, as NFS's "silly
//   rename", to kUnlinkedDir/<host>-<pid>-<inode> (one directory for the whole namespace, so
//   the old directory can be removed at once), the readers are pointed at that name, and the
//   last close deletes it. A rename is a version like any other: nothing acknowledged is lost,
//   and after a crash of the mount the leftovers are all in that directory, named after the
//   machine and process that left them (docs/operations.md says how to clean them).
// The inode itself is detached from its path in the InodeTable either way: detached is what
// "unlinked" means to the rest of the mount.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace chainfs::mount {

struct FileHandle;

// Where silly-renamed files live, beneath the namespace's root (implied by its entries, so it
// disappears once empty).
inline constexpr char kUnlinkedDir[] = "/.chainfs-unlinked";

// The open handles of each inode and the hidden name of those renamed away. Thread-safe.
class OpenFiles {
 public:
  void Add(FileHandle* fh);
  // Forgets `fh`; when it was the inode's last handle and the inode has a hidden name, returns
  // that name (for the caller to delete).
  std::optional<std::string> Remove(FileHandle* fh);
  // Calls `fn` with each open handle of the inode, under the lock that Remove takes (so none
  // is released meanwhile).
  void ForEachHandle(uint64_t ino, const std::function<void(FileHandle*)>& fn) const;
  void SetHidden(uint64_t ino, const std::string& name);
  std::optional<std::string> Hidden(uint64_t ino) const;

 private:
  struct Open {
    std::vector<FileHandle*> handles;
    std::string hidden;  // "" unless renamed away while open
  };
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Open> open_;
};

}  // namespace chainfs::mount
