// The NameServer's soft state: every name with its latest version, kind, size, attributes,
// tombstone flag and the live FileStores holding that version, plus every FileStore with
// its last heartbeat and byte counts. Rebuilt from FileStore reports only; nothing here is
// persisted.
//
// Names live in an ordered map whose order treats '/' as the smallest byte, so everything
// beneath a directory is one contiguous range right after the directory's own name: a
// directory listing is a range scan that skips each child's subtree with one seek.
// Holders are small FileStore ids, not strings, to stay well under 300 bytes per name.
//
// A name is never forgotten while a live FileStore holds a copy of it: when the last live
// holder of the latest version goes (dropped, or its replica found bad), the newest stale
// copy becomes the latest again; a tombstone stays without holders (and is re-written by
// replication) while older copies of the name exist, so they do not come back to life.
// Every drop is counted and remembered, so GC can tell that its view is incomplete.
//
// Thread-safe; every method takes the lock for its own duration only, so callers never
// hold it across RPCs.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "proto/chainfs.grpc.pb.h"
#include "servers/nameserver/version_extras.h"

namespace chainfs::nameserver {

using FileStoreId = uint16_t;

// Orders names with '/' below every other byte (see the header comment).
struct PathLess {
  bool operator()(const std::string& a, const std::string& b) const;
};

struct FileStoreInfo {
  FileStoreId id = 0;
  std::string address;
  int64_t bytes_used = 0;
  int64_t bytes_available = 0;
  int64_t files = 0;  // latest versions it holds
  TimePoint last_heartbeat;
  bool registered = false;  // its registration stream completed
};

// A name's latest version with the addresses of its holders.
struct NameState {
  v1::FileInfo info;
  std::vector<std::string> holders;
};

// What a version says besides its number, compactly (Namespace keeps one per name and one
// per stale copy, so that a stale copy can become the latest again).
struct VersionMeta {
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t atime_ns = 0;  // 0 reads as mtime_ns (as in v1::Attributes)
  int64_t ctime_ns = 0;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint8_t kind = 0;
  bool tombstone = false;
  VersionExtras extras;  // rdev and extended attributes, null for most names
  int64_t inode = 0;     // KIND_HARD_LINK: the id of the inode name it links to (inode_names.h)
};

struct ReplicationTask {
  v1::FileInfo info;                 // the latest version (file or tombstone)
  std::vector<std::string> sources;  // its live holders
  std::vector<FileStoreId> holder_ids;
};

class Namespace {
 public:
  Namespace() = default;
  Namespace(const Namespace&) = delete;
  Namespace& operator=(const Namespace&) = delete;

  // Forgets everything (leadership lost or gained).
  void Clear();

  // --- FileStores ---

  // Starts a registration: a known FileStore first loses everything it reported before.
  FileStoreId BeginRegistration(const std::string& address, int64_t bytes_used,
                                int64_t bytes_available, TimePoint now);
  // The registration stream finished OK: the FileStore's view is complete.
  void EndRegistration(FileStoreId id);
  // The registration stream broke or was refused: the FileStore is dropped (it must
  // register again) and stays in the dropped set.
  void AbortRegistration(FileStoreId id, TimePoint now);
  // False when the FileStore is unknown (it must register).
  bool HeartBeat(const std::string& address, int64_t bytes_used, int64_t bytes_available,
                 TimePoint now);
  std::optional<FileStoreId> Find(const std::string& address) const;
  // Drops FileStores silent since before `deadline`, with everything they reported.
  std::vector<std::string> ExpireFileStores(TimePoint deadline, TimePoint now);
  void DropFileStore(FileStoreId id, TimePoint now);
  // How many drops happened so far (Clear counts as one): GC aborts a round that saw one.
  uint64_t drops() const;
  // FileStores dropped after `since` that have not completed a registration since.
  std::vector<std::string> RecentlyDropped(TimePoint since) const;
  // Live FileStores; `count_files` fills `files` (a scan of every name).
  std::vector<FileStoreInfo> FileStores(bool count_files = false) const;
  size_t live_filestores() const;
  bool AllRegistered(const std::vector<std::string>& addresses) const;
  // Every live FileStore finished its registration.
  bool AllLiveRegistered() const;

  // --- names ---

  // Records that FileStore `id` now holds `file` (a newer version replaces the latest and
  // turns the previous holders into stale copies; an older one is a stale copy).
  void Apply(FileStoreId id, const v1::FileInfo& file);
  // Applies a report from a FileStore by address; false when it is unknown.
  bool Apply(const std::string& address, const v1::FileInfo& file);
  // FileStore `address` relabelled name@expected to new_version (GC's bumpVersion).
  void ApplyBump(const std::string& address, const std::string& name, int64_t expected,
                 int64_t new_version);
  // FileStore `id` no longer has name@version (a corrupt replica), latest or stale.
  void RemoveHolder(FileStoreId id, const std::string& name, int64_t version);

  // The latest version, tombstones included; nullopt when the name is unknown.
  std::optional<NameState> Get(const std::string& name) const;
  // Live file/directory/symlink with its holders; NOT_FOUND for tombstones and unknowns.
  absl::StatusOr<NameState> GetLive(const std::string& name) const;
  // Live entry, or an implied directory (version 0) for a name with live descendants; the
  // root is always a directory.
  absl::StatusOr<v1::FileInfo> Stat(const std::string& name) const;
  bool HasLiveDescendant(const std::string& dir) const;
  // Live names beneath `dir` (deepest first, so a directory follows its contents).
  std::vector<NameState> LiveDescendants(const std::string& dir) const;
  // Direct children of `dir` (entries and implied directories), names as basenames.
  void ListDirectory(const std::string& dir, const std::string& start_after, size_t limit,
                     v1::ListDirectoryReply* reply) const;
  std::vector<std::string> List(std::string_view glob) const;

  // --- directory times and link counts (namespace_dirs.cc) ---

  // An entry was created in or removed from `dir`: its mtime and ctime become `now_ns` in
  // the soft state at once. True when `dir` is a live directory entry, whose times must then
  // be persisted (DirTimes); false for the root or an implied directory (kept here only for
  // the root, and lost with the soft state) or a name that is not a live directory.
  bool TouchDirectory(const std::string& dir, int64_t now_ns);
  // Live entry (file, directory, symlink) of its own; false for tombstones and implied dirs.
  bool IsLiveEntry(const std::string& name) const;
  // A directory's link count: 2 plus its subdirectories, entries and implied ones alike,
  // counted as names come and go (O(1) per stat; O(depth) per change).
  uint32_t DirectoryLinks(const std::string& dir) const;

  // Latest versions with fewer live holders than min(replication, live FileStores).
  std::vector<ReplicationTask> UnderReplicated(size_t replication, size_t max_tasks) const;
  // Includes latest versions without any live holder.
  size_t CountUnderReplicated(size_t replication) const;
  // Latest versions with more live holders than `replication` (not a problem; reported).
  size_t CountOverReplicated(size_t replication) const;
  // For GC: per FileStore address, the (name, version) of every live latest file below
  // `version` that it holds.
  absl::flat_hash_map<std::string, std::vector<v1::NameVersion>> LiveFilesBelow(
      int64_t version) const;
  size_t CountLiveFilesBelow(int64_t version) const;
  // /minver moved: tombstones and stale copies below it are gone from the FileStores.
  void ApplyMinVersion(int64_t min_version);

  // --- hard links (links.cc) ---

  // Live link entries naming inode `inode_name` (soft state, rebuilt from registrations).
  uint32_t Links(const std::string& inode_name) const;
  // Live inode names that no live link entry names (candidates for the orphan sweep).
  std::vector<std::string> UnlinkedInodes() const;
  // `name` itself and, when it is a live link entry, the live inode it names (nullopt when
  // that is missing): DATA_LOSS-free lookups for the NameServer's link rules.
  struct Linked {
    NameState entry;
    std::optional<NameState> inode;
  };
  absl::StatusOr<Linked> GetLinked(const std::string& name) const;

  size_t names() const;
  size_t live_names() const;
  size_t stale_copies() const;

 private:
  using Meta = VersionMeta;
  struct StaleCopy {
    FileStoreId id;
    int64_t version;
    Meta meta;
  };
  // ~100 bytes plus the key: version, metadata, holder ids inline, stale copies rare.
  struct Entry {
    int64_t version = 0;
    Meta meta;
    absl::InlinedVector<FileStoreId, 3> holders;
    std::unique_ptr<std::vector<StaleCopy>> stale;
  };
  using Map = absl::btree_map<std::string, Entry, PathLess>;

  v1::FileInfo InfoLocked(const std::string& name, const Entry& e) const;
  // A link entry as its inode (kind, size, attributes, version, nlink) under its own name;
  // anything else as InfoLocked. A link whose inode is missing answers DATA_LOSS.
  absl::StatusOr<v1::FileInfo> ResolvedInfoLocked(const std::string& name, const Entry& e) const;
  // A live entry came (+1) or went (-1): live_names_ and the link counts follow.
  void CountLiveLocked(const Meta& m, int delta);
  NameState StateLocked(const std::string& name, const Entry& e) const;
  bool HasLiveDescendantLocked(const std::string& dir) const;
  void ApplyLocked(FileStoreId id, const v1::FileInfo& file);
  void DropLocked(FileStoreId id, TimePoint now);
  // Removes holder/stale references to `id` from one entry.
  static void ForgetLocked(Entry& e, FileStoreId id);
  // An entry whose latest version lost its last live holder: promotes the newest stale
  // copy, or keeps a tombstone without holders; true when nothing is left and the entry
  // must go.
  bool OrphanedLocked(const std::string& name, Entry& e);
  static Meta MetaOf(const v1::FileInfo& f);
  Map::iterator EraseLocked(Map::iterator it);
  // Keeps the directory counts as `name` changes from (was_live, was_dir) to (live, dir).
  void CountLocked(const std::string& name, const Meta* before, const Meta* after);
  void AddSubdirLocked(std::string_view dir, int delta);
  uint32_t LinksLocked(const std::string& dir) const;
  // A new latest version of a live directory that carries older times than the soft state
  // (a clone that raced a touch): keep the newer mtime and ctime.
  static void KeepNewerDirectoryTimes(const Meta& before, Meta* after);
  size_t LiveFileStoresLocked() const;

  mutable std::shared_mutex mu_;
  Map map_;
  size_t live_names_ = 0;
  absl::flat_hash_map<int64_t, uint32_t> links_;  // inode id -> live link entries
  std::vector<FileStoreInfo> filestores_;         // by id; address "" once dropped
  absl::flat_hash_map<std::string, FileStoreId> ids_;
  std::vector<bool> alive_;
  // FileStores registering again while registered: the names their new list named so far.
  absl::flat_hash_map<FileStoreId, absl::flat_hash_set<std::string>> refreshing_;
  uint64_t drops_ = 0;
  // Dropped FileStores (by address) not registered again since, with when they went.
  absl::flat_hash_map<std::string, TimePoint> dropped_;
  // Per directory with live names beneath it: how many, and how many of its children are
  // directories (entries, or implied by live names beneath them).
  struct DirCounts {
    uint32_t live_below = 0;
    uint32_t subdirs = 0;
  };
  absl::flat_hash_map<std::string, DirCounts> dirs_;
  // The root's mtime and ctime when it has no entry of its own (0: never touched).
  int64_t root_time_ns_ = 0;
};

}  // namespace chainfs::nameserver
