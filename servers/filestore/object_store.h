// The FileStore's object store on disk: the latest version of each name (a file or a
// tombstone), crash-atomic commits, checksummed content.
//
// Layout: <dir>/objects/<2 hex>/<digest>-<version>.data and .meta, where digest is the
// XXH3-128 of the name in hex: a name from the network never becomes part of a path. A shard
// directory (<2 hex>) is made, and synced into objects/, when something is first written there.
// Small files (up to kInlineBytes) keep their content inside the meta and have no .data,
// so that committing one costs one file and one fsync less.
// Commit: data temp -> fsync -> meta temp (an AtomicFile) -> fsync -> rename data -> rename
// meta (the commit point) -> fsync dir; the older version of the name is then unlinked. In
// replicated durability the three fsyncs are left to the next group flush (FlushCommitted,
// run by the Flusher: one syncfs for every commit since the last): the commit is in the operating
// system when it returns, and on stable storage within the flush interval; the older version is
// unlinked only after that flush. <dir>/flushed records the last completed flush. A failed step
// fails the commit: what it wrote is removed and the older version stays. A crash between any two
// steps leaves the older or the newer version, never a torn one (Open()'s recovery), and a commit
// that returned OK survives it. Every file operation goes through the Env of the options, so tests
// inject failed fsyncs, a full disk and crashes. Content is written with O_DIRECT from reused
// aligned buffers (where the file system allows it): page cache pages cost more CPU here than the
// disk write, and the chain's three copies share it. Open() removes temp files and data without
// meta, keeps the newest meta of each name and rebuilds the index from the metas
// (object_recovery.cc); after an unclean stop it also verifies every object changed since the last
// completed flush against its checksums, drops bad ones and syncs the rest (object_durability.cc).
// <dir>/minver holds the last /minver seen.
//
// Version rules: a new version of a name must be above the stored latest one and not
// below the minimum version, else FAILED_PRECONDITION "version too old".
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/block_checksum.h"
#include "common/checksum.h"
#include "common/clock.h"
#include "common/env.h"
#include "common/file_util.h"
#include "proto/chainfs.pb.h"
#include "servers/filestore/filestore_metrics.h"

namespace chainfs::filestore {

inline constexpr uint32_t kBlockBytes = 64 * 1024;
inline constexpr size_t kInlineBytes = 64 * 1024;
static_assert(kBlockBytes == kChecksumBlockBytes, "block checksums are those of the wire");

// ObjectMeta::checksum_format.
inline constexpr uint32_t kWholeChecksum = 0;      // XXH3-64 of the whole content
inline constexpr uint32_t kBlockListChecksum = 1;  // common/block_checksum.h

// What is known of one stored object; kept in memory for every object held.
struct ObjectMeta {
  v1::FileInfo file;
  uint64_t checksum = 0;  // of the whole content, in checksum_format
  uint32_t checksum_format = kWholeChecksum;
  uint32_t block_bytes = kBlockBytes;
  std::vector<uint64_t> block_checksums;  // XXH3-64 of each block
  bool inline_content = false;            // content lives in the .meta, not in a .data
  std::string content;                    // that content; empty in the in-memory index

  std::string Serialize() const;
  bool Parse(const std::string& bytes);
};

// When a commit reaches stable storage (DESIGN.md "Durability"): before it is acknowledged
// (kSync), or at the next group flush (kReplicated), the commit being in the operating system.
enum class Durability { kReplicated, kSync };

struct ObjectStoreOptions {
  std::string dir;
  int64_t capacity = 0;  // bytes of content; 0 = whatever the disk holds
  // Every file operation goes through it; Env::Default() when null. Must outlive the store.
  Env* env = nullptr;
  // kSync unless a Flusher runs (the daemon's setting is FlushSettings::durability): a store
  // in kReplicated mode is durable only through FlushCommitted.
  Durability durability = Durability::kSync;
  // The wall time recorded with each flush; SystemClock when null.
  const Clock* clock = nullptr;
  // Where the commit/flush latency and checksum failures are counted; none when null.
  prometheus::Registry* registry = nullptr;
};

// What start-up recovery found (object_durability.cc).
struct RecoveryStats {
  bool unclean = false;  // the last stop was not clean: recent objects were verified
  int64_t verified = 0;  // objects checked against their checksums
  int64_t dropped = 0;   // of them, found bad and removed
};

class ObjectStore;

// A file being written. Destroying it uncommitted removes everything it wrote. It must not
// outlive its store.
class ObjectWriter {
 public:
  ~ObjectWriter();
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;

  absl::Status Append(std::string_view data);
  // `length` zeros after what was written: a hole in the data file (written as zeros while
  // the object is still small enough to be inline).
  absl::Status Skip(int64_t length);
  // Appends `data`, leaving whole blocks of zeros (at block boundaries) as holes: how a copy
  // stays sparse.
  absl::Status AppendSparse(std::string_view data);
  // Verifies the size and checksum the sender announced: with `block_checksum` the block-list
  // form (common/block_checksum.h), the content first extended by a hole up to `size`; else
  // the XXH3-64 of the whole content, which a writer that skipped cannot check.
  absl::Status Check(int64_t size, uint64_t checksum, bool block_checksum = false);
  // Check, then writes the content and its meta (synced in sync mode); not yet visible.
  // Commit then only renames.
  absl::Status Finish(int64_t size, uint64_t checksum, bool block_checksum = false);
  // Finish (once) and commit: the object becomes the name's latest version.
  absl::StatusOr<v1::FileInfo> Commit(int64_t size, uint64_t checksum, bool block_checksum = false);
  // Writes through the page cache instead of O_DIRECT: for content mostly copied from an
  // object on this disk (a base version), which the page cache likely holds already. The
  // durability is the same: the commit's sync (sync mode) or the next group flush.
  void PreferBuffered() { buffered_ = true; }
  int64_t size() const { return size_; }
  // Of what was written so far, in the block-list form.
  uint64_t block_checksum() const { return blocks_.Digest(); }

 private:
  friend class ObjectStore;
  ObjectWriter(ObjectStore* store, v1::FileInfo file);
  // Creates the temporary data file: only once the content outgrows the buffer or, at the
  // end, kInlineBytes.
  absl::Status OpenData();
  // Writes the buffered bytes; with `last`, also the tail that is not a whole disk block.
  absl::Status WriteBuffer(bool last);
  // Writes what is buffered and turns O_DIRECT off: the next write may be anywhere.
  absl::Status EndDirect();

  ObjectStore* store_;
  v1::FileInfo file_;
  std::string temp_path_;                // the data file being written, once there is one
  std::unique_ptr<File> data_;           // open on temp_path_ until Finish
  std::optional<AtomicFile> meta_file_;  // written and synced by Finish
  bool direct_ = false;                  // data_ has O_DIRECT
  bool buffered_ = false;                // never O_DIRECT
  char* buffer_;                         // from the store's pool, kWriteBufferBytes, aligned
  size_t fill_ = 0;                      // bytes in buffer_, which go at offset size_ - fill_
  int64_t size_ = 0;
  int64_t flushed_ = 0;  // bytes handed to writeback so far (without O_DIRECT)
  bool finished_ = false;
  int64_t reserved_ = 0;
  bool sparse_ = false;      // a hole was skipped: whole_ does not cover the content
  StreamingChecksum whole_;  // while not sparse_
  BlockChecksummer blocks_;
  ObjectMeta meta_;
};

// A committed object opened for reading; it stays readable after a newer version
// replaces it. Every byte returned was verified against its block checksum.
class ObjectReader {
 public:
  ~ObjectReader();
  ObjectReader(const ObjectReader&) = delete;
  ObjectReader& operator=(const ObjectReader&) = delete;

  const v1::FileInfo& info() const { return meta_->file; }
  // Up to `length` bytes at `offset` into buf; 0 at or past the end. DATA_LOSS when a
  // block does not match its checksum.
  absl::StatusOr<size_t> ReadAt(int64_t offset, size_t length, char* buf);
  // Where data starts at or after `offset` (SEEK_DATA of the data file): before it is a hole.
  // The size when only a hole is left; `offset` itself for inline content.
  int64_t NextData(int64_t offset) const;

 private:
  friend class ObjectStore;
  ObjectReader(std::shared_ptr<const ObjectMeta> meta, std::unique_ptr<File> data,
               std::string content = "");
  absl::Status ReadBlocks(int64_t first_block, int64_t end, char* out);

  std::shared_ptr<const ObjectMeta> meta_;
  std::unique_ptr<File> data_;  // the .data; null for a tombstone or inline content
  std::string content_;         // inline content
  int64_t prefetched_ = 0;      // readahead was requested up to here
  std::string scratch_;
};

class ObjectStore {
 public:
  static absl::StatusOr<std::unique_ptr<ObjectStore>> Open(const ObjectStoreOptions& options);
  ~ObjectStore();

  // Starts a new version of file.name() (kind, attributes from `file`). Fails early on
  // the version rules and, with expected_size, on capacity.
  absl::StatusOr<std::unique_ptr<ObjectWriter>> StartCreate(const v1::FileInfo& file,
                                                            int64_t expected_size = 0);
  // Records name@version deleted. The same tombstone again is OK.
  absl::StatusOr<v1::FileInfo> AddTombstone(const std::string& name, int64_t version);
  // name@version (0 = latest), NOT_FOUND when not held.
  absl::StatusOr<std::unique_ptr<ObjectReader>> OpenObject(const std::string& name,
                                                           int64_t version);
  std::optional<v1::FileInfo> Lookup(const std::string& name) const;
  std::vector<v1::FileInfo> List() const;
  // Relabels name@expected as new_version when it is the latest and not a tombstone.
  // Returns the stored version when it does not match (nothing changed).
  absl::StatusOr<bool> Bump(const std::string& name, int64_t expected, int64_t new_version,
                            int64_t* stored_version);
  // source name@version -> target (name, version, attributes; kind from the source) by a
  // hard link of the content.
  absl::StatusOr<v1::FileInfo> Clone(const v1::NameVersion& source, const v1::FileInfo& target);
  // Drops every object and tombstone below min_version and refuses such versions later.
  absl::Status SetMinVersion(int64_t min_version);
  int64_t min_version() const;
  // Forgets a corrupt object (its files are removed).
  void DropCorrupt(const std::string& name, int64_t version);
  // Re-reads name@version from disk in full: its meta file must match the one in memory and
  // its content its checksums (as start-up recovery checks). NOT_FOUND when it is not the
  // latest version held; DATA_LOSS, saying what is wrong, for a missing or bad file.
  absl::Status CheckStored(const std::string& name, int64_t version);

  // Makes every commit and tombstone done before the call durable (one syncfs of the data
  // directory's file system), then records the flush in <dir>/flushed (with `clean`: a clean
  // stop, nothing to verify at the next start). Calls must not overlap (the Flusher runs
  // them). On failure what was pending stays pending, and commits are refused (UNAVAILABLE)
  // until a flush succeeds.
  absl::Status FlushCommitted(bool clean = false);
  // Commits and tombstones waiting for the next flush.
  int64_t pending_flush() const;
  Durability durability() const { return options_.durability; }
  const RecoveryStats& recovery_stats() const { return recovery_; }

  int64_t bytes_used() const;
  struct Counts {
    int64_t objects = 0;  // latest versions that are not tombstones
    int64_t tombstones = 0;
  };
  Counts CountObjects() const;  // kept as the index changes: no scan
  int64_t bytes_available() const;
  const std::string& dir() const { return options_.dir; }
  // Path of an object file; exposed for tests that damage objects on purpose.
  std::string ObjectPath(const std::string& name, int64_t version, bool meta) const;

 private:
  friend class ObjectWriter;
  struct Entry {
    std::shared_ptr<const ObjectMeta> meta;
  };

  explicit ObjectStore(ObjectStoreOptions options);
  absl::Status Recover();
  absl::Status CheckVersionLocked(const std::string& name, int64_t version) const;
  absl::Status Reserve(int64_t bytes);
  void Release(int64_t bytes);
  // Writes the meta, makes data_temp (if any) the object's data, and replaces the older
  // version of the name. Takes the version rules into account once more.
  // With require_latest >= 0, the name's latest version must still be that one.
  // meta_file: the meta already written and synced (WriteMeta), or null to write it here.
  absl::StatusOr<v1::FileInfo> Install(const ObjectMeta& meta, const std::string& data_temp,
                                       int64_t require_latest = -1,
                                       AtomicFile* meta_file = nullptr);
  // The meta under a temp name, synced: durable, not yet visible.
  absl::StatusOr<AtomicFile> WriteMeta(const ObjectMeta& meta);
  bool SyncsEachCommit() const { return options_.durability == Durability::kSync; }
  // Start-up, after an unclean stop: whether the meta at `path` may postdate the last
  // completed flush; then checks it (content against the checksums), false when bad.
  bool NeedsVerifying(const std::string& meta_path) const;
  bool VerifyObject(const ObjectMeta& meta);
  // Reads <dir>/flushed (sets verify_after_ when the last stop was unclean) / syncs what
  // recovery verified and records, durably, that everything up to `started` is on disk.
  void ReadFlushMarker();
  absl::Status EndRecovery(int64_t started);
  // Without `sync` the record becomes durable with the next flush (losing it only means
  // verifying more at the next start).
  absl::Status WriteFlushMarker(int64_t flushed_wall_ns, bool clean, bool sync);
  // Unlinks a file that may already be gone; other failures are logged.
  void RemoveFile(const std::string& path);
  // Aligned buffers for O_DIRECT writes, reused across writers.
  char* TakeBuffer();
  void ReturnBuffer(char* buffer);
  // The files of an object (by path only: needs no lock).
  void RemoveObjectFiles(const ObjectMeta& meta);
  // The content of an inline object, read back from its .meta.
  absl::StatusOr<std::string> LoadInlineLocked(const ObjectMeta& meta) const;
  // A fresh temp file path in the name's shard (made if needed).
  absl::StatusOr<std::string> NewTempPath(const std::string& name);

  ObjectStoreOptions options_;
  Env* const env_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> index_;
  int64_t min_version_ = 0;
  int64_t used_ = 0;        // content bytes of committed objects
  int64_t tombstones_ = 0;  // entries of index_ that are tombstones
  // Adds (+1) or takes (-1) an indexed object's bytes and kind to or from used_ and
  // tombstones_; every change of index_ goes through it.
  void Account(const v1::FileInfo& file, int sign);
  int64_t reserved_ = 0;  // content bytes of objects being written
  uint64_t temp_counter_ = 0;
  std::set<std::string> shards_;  // shard directories (2 hex digits) known to exist
  std::vector<char*> free_buffers_;
  const Clock* const clock_;
  std::unique_ptr<File> data_dir_;  // open for syncfs (replicated mode)
  int64_t unflushed_ = 0;           // replicated mode: commits since the last flush
  // Replicated mode: older versions replaced since the last flush, removed once it completed.
  std::vector<std::shared_ptr<const ObjectMeta>> retired_;
  absl::Status flush_error_;             // of the last flush; commits are refused while it fails
  std::optional<int64_t> verify_after_;  // recovery: wall ns after which metas are verified
  RecoveryStats recovery_;
  StoreMetrics metrics_;
};

}  // namespace chainfs::filestore
