// The namespace of MemoryNameServer, kept as the NameServer's (servers/nameserver/namespace.h)
// is: per name the latest version (file, directory, symlink or tombstone) with the live
// FileStores holding it, and the older copies other FileStores still hold, so that a name
// falls back to its newest older copy when the last holder of the latest goes; per FileStore
// its space, whether it is live, and whether a client excluded it. Not thread-safe: the
// MemoryNameServer's lock guards it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/chainfs.pb.h"

namespace chainfs {

class MemoryNamespace {
 public:
  // Free space of a FileStore nobody reported on.
  static constexpr int64_t kDefaultBytesAvailable = int64_t{1} << 40;

  struct FileStore {
    int64_t bytes_used = 0;
    int64_t bytes_available = kDefaultBytesAvailable;
    bool live = true;
    bool suspect = false;  // excluded by a client: no chains until its next heartbeat
  };
  // A live name with its holders.
  struct Live {
    v1::FileInfo info;
    std::vector<std::string> holders;
  };

  // --- FileStores ---

  // The FileStore at `address`, added (live, last in placement order) when unknown.
  FileStore& AddFileStore(const std::string& address);
  // Null when unknown.
  FileStore* Find(const std::string& address);
  bool IsLive(const std::string& address) const;
  // Every FileStore ever known, in placement order.
  const std::vector<std::string>& placement_order() const { return order_; }
  // Everything `address` reported is gone (it was dropped, or registers again).
  void Forget(const std::string& address);
  // Latest versions `address` holds.
  int64_t FilesOn(const std::string& address) const;

  // --- names ---

  // FileStore `address` now holds `file`: a newer version becomes the latest (the previous
  // holders keep older copies); an older one is an older copy.
  void Apply(const std::string& address, const v1::FileInfo& file);
  // Records `file` as the latest version of its name with no holder at all.
  void SetWithoutHolders(const v1::FileInfo& file);
  // FileStore `address` no longer has name@version (a bad replica).
  void RemoveHolder(const std::string& address, const std::string& name, int64_t version);

  // The latest version, tombstones included.
  std::optional<v1::FileInfo> Latest(const std::string& name) const;
  std::vector<std::string> Holders(const std::string& name) const;
  // NOT_FOUND for tombstones and unknown names.
  absl::StatusOr<Live> GetLive(const std::string& name) const;
  // --- hard links (memory_links.cc) ---
  // The live entry of `name`, or for a link entry the inode it names (DATA_LOSS if missing).
  absl::StatusOr<Live> GetFile(const std::string& name) const;
  // Live link entries naming `inode`.
  uint32_t Links(const std::string& inode) const;
  // A link entry as its inode (kind, size, attributes, version, nlink) under its own name.
  v1::FileInfo Resolved(const v1::FileInfo& entry) const;

  // A live entry (a link resolved), a directory implied by live descendants, or the root.
  absl::StatusOr<v1::FileInfo> Stat(const std::string& name) const;
  bool HasLiveDescendant(const std::string& dir) const;
  // Live names beneath `dir`, parents before children.
  std::vector<Live> LiveDescendants(const std::string& dir) const;
  // FAILED_PRECONDITION "not a directory" when a parent of `path` is a file or symlink.
  absl::Status CheckNotBeneathAFile(const std::string& path) const;
  // The direct children of `dir` by name (the infos named by the child's basename).
  std::map<std::string, v1::FileInfo> Children(const std::string& dir) const;
  // Live names matching the glob ('*', '?', '[...]', '[!...]', none crossing '/').
  std::vector<std::string> List(const std::string& glob) const;

  // An entry was created in or removed from `dir`: its mtime and ctime become `now_ns` (the
  // root's too, without an entry of its own), as the NameServer's soft state does at once.
  void TouchDirectory(const std::string& dir, int64_t now_ns);
  // A directory's link count: 2 plus its subdirectories (entries and implied ones).
  uint32_t DirectoryLinks(const std::string& dir) const;

  int64_t names() const { return static_cast<int64_t>(names_.size()); }
  int64_t live_names() const;
  // Latest versions with fewer holders than `want`.
  int64_t CountUnderReplicated(size_t want) const;

 private:
  struct Entry {
    v1::FileInfo latest;
    std::vector<std::string> holders;
    std::map<std::string, v1::FileInfo> stale;  // by FileStore: an older version it holds
  };
  // An entry without holders: its newest older copy becomes the latest (a tombstone stays);
  // true when nothing is left and the entry must go.
  static bool Orphaned(Entry& e);
  // Children() without their link counts.
  std::map<std::string, v1::FileInfo> ChildrenScan(const std::string& dir) const;

  std::map<std::string, Entry> names_;
  std::map<std::string, FileStore> filestores_;
  std::vector<std::string> order_;
  int64_t root_time_ns_ = 0;  // the root's times when it has no entry (0: never touched)
};

}  // namespace chainfs
