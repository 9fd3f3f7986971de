// The mount's inode table, as in libfuse's passthrough_hp: every inode the kernel knows maps
// to a path in the chainfs namespace, with the kernel's lookup count. An inode lives until
// the kernel forgets every lookup; rename moves paths (and everything beneath a directory)
// to the new name; unlink detaches the path so the inode answers ENOENT. The root is inode
// FUSE_ROOT_ID (1) and never goes away. Every name of one hard-linked file (the names whose
// entries carry the same inode name, Attributes.inode) shares one inode: it has several
// paths, unlink of one keeps it for the others, and Path() answers any one of them.
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "proto/chainfs.pb.h"

namespace chainfs::mount {

class StagedFile;

inline constexpr uint64_t kRootInode = 1;

// parent + "/" + name, refusing names the kernel should never send us and names over the
// limits (ENAMETOOLONG), before any call goes out.
absl::StatusOr<std::string> ChildPath(const std::string& parent, const std::string& name);

class InodeTable {
 public:
  InodeTable();

  // The inode of `path` (a new one if unknown), counting one kernel lookup. With an
  // `inode_name` (the path is a hard link), the inode every name of that file shares.
  uint64_t Ref(const std::string& path, const std::string& inode_name = "");
  // link(2) made `path` another name of inode `ino`, whose file is `inode_name` now; counts
  // one kernel lookup.
  uint64_t AddLink(uint64_t ino, const std::string& path, const std::string& inode_name);
  // Drops `n` lookups; the inode is removed when none remain (never the root).
  void Forget(uint64_t ino, uint64_t n);
  // The current path of an inode; nullopt when unknown or detached.
  std::optional<std::string> Path(uint64_t ino) const;
  // The inode of a path, without counting a lookup.
  std::optional<uint64_t> Find(const std::string& path) const;
  // `from` and everything beneath it now live under `to`; whatever was at `to` is detached.
  void Rename(const std::string& from, const std::string& to);
  // The path and everything beneath it no longer exist (unlink, rmdir).
  void Detach(const std::string& path);

  // The version last opened through this inode; returns the previous one.
  int64_t ExchangeVersion(uint64_t ino, int64_t version);
  void SetVersion(uint64_t ino, int64_t version);

  // What the NameServer, or this mount's last upload, said of an inode and when (on the
  // mount's clock), so that getattr within the attribute timeout needs no Stat. Dropped when
  // the path is detached or renamed.
  void SetInfo(uint64_t ino, const v1::FileInfo& info, TimePoint at);
  // The info learnt at or after `since`, if any.
  std::optional<v1::FileInfo> Info(uint64_t ino, TimePoint since) const;

  // The staging file of an inode being written (nullptr when none).
  std::shared_ptr<StagedFile> Staged(uint64_t ino) const;
  void SetStaged(uint64_t ino, std::shared_ptr<StagedFile> staged);
  // Clears the staging only if it still is `staged`.
  void ClearStaged(uint64_t ino, const StagedFile* staged);

  size_t size() const;

 private:
  struct Inode {
    std::string path;                     // "" when detached
    std::vector<std::string> more_paths;  // a hard-linked file's other known names
    std::string inode_name;               // a hard-linked file's inode name, or ""
    uint64_t lookups = 0;
    int64_t version = 0;
    std::shared_ptr<StagedFile> staged;
    std::optional<v1::FileInfo> info;
    TimePoint info_at;
  };
  void DetachLocked(const std::string& path);
  // `path` (mapped in by_path_) stops naming its inode; another of its paths takes over.
  void RemovePathLocked(const std::string& path);
  void AddPathLocked(uint64_t ino, const std::string& path);

  mutable std::mutex mu_;
  uint64_t next_ino_ = kRootInode + 1;
  std::unordered_map<uint64_t, Inode> inodes_;
  std::map<std::string, uint64_t> by_path_;  // ordered: a directory's subtree is a range
  std::unordered_map<std::string, uint64_t> by_inode_name_;
};

}  // namespace chainfs::mount
