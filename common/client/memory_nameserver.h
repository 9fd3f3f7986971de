// MemoryNameServer: the in-memory twin of the NameServer for unit tests of everything that
// holds a NameServerApi* (the mount's Filesystem, the client policies, the FileStore's
// reporting). It keeps a namespace as the real one does (per name: latest version, kind,
// size, attributes, tombstone flag, the FileStores holding that version, and older copies:
// MemoryNamespace) and answers every call with the same validation, codes and message words as
// servers/nameserver/nameserver.cc:
// - DoCreate hands out increasing versions and a chain of up to `replication` of the
//   configured FileStores, in the order given (not by free space), never an excluded one; an
//   excluded FileStore is skipped for everyone until its next HeartBeat. `exclusive` refuses
//   a live path (ALREADY_EXISTS). Nothing is created beneath a file ("not a directory").
// - A create becomes visible only when a FileStore reports it (AddFileOrTombstone, or a
//   registration): the FileStore twin does that, a test may call it directly, or use Put().
// - DoDelete and Rename and SetAttributes allocate new versions. With a FileStoreApi set
//   (SetFileStores), they call Delete/Clone on the holders as the real one does and record
//   what succeeded; without one, the namespace alone changes (same holders).
// - Stat answers a directory implied by its descendants (version 0, mode 0755), and "/".
// - List matches globs with '*', '?', '[...]', '[!...]', none crossing '/'.
// - A report or heartbeat from a FileStore it does not know (or dropped) answers
//   `reregister`; RegisterFilesAndTombstones makes it live again. A report's `also_on`
//   members become holders too when live (others are ignored); of a batch (`more`), the
//   reports it refuses are skipped.
// Differences from the real one, on purpose: it serves at once (no leader, no start-up
// wait), a reported version never handed out is accepted (later versions go above it), and
// there is no replication or GC (but Replicate copies what it is asked to).
//
// Fault injection: FailNext("DoCreate", status) makes the next call of that method (named
// as in NameServerApi) return `status` without doing anything; calls() counts every call,
// failed ones included; SetHook runs a function at the start of each call (to block one, or
// to change the namespace under a caller). Thread-safe; no lock is held while it calls the
// FileStores or the hook.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/client/filestore_api.h"
#include "common/client/memory_namespace.h"
#include "common/client/nameserver_api.h"
#include "common/clock.h"
#include "common/write_token.h"

namespace chainfs {

class MemoryNameServer final : public NameServerApi {
 public:
  // Every FileStore is registered and live from the start, with this much free space.
  static constexpr int64_t kDefaultBytesAvailable = MemoryNamespace::kDefaultBytesAvailable;

  // `filestores`: host:port of the live FileStores, in the order chains are placed on.
  explicit MemoryNameServer(std::vector<std::string> filestores, int replication = 3);
  MemoryNameServer(const MemoryNameServer&) = delete;
  MemoryNameServer& operator=(const MemoryNameServer&) = delete;

  // The FileStores DoDelete, Rename and SetAttributes call (not owned; may be null).
  void SetFileStores(FileStoreApi* filestores);
  // DoCreate answers a write token signed by `signer` (not owned; null: none, the default),
  // as the real one run with --token-key-file does.
  void SetWriteTokens(const WriteTokenSigner* signer);

  // --- fault injection and observation ---

  // The next `times` calls of `method` (e.g. "DoCreate", "Rename") fail with `status`.
  void FailNext(std::string_view method, absl::Status status, int times = 1);
  // Calls of `method` so far, failed ones included.
  int calls(std::string_view method) const;
  // Runs at the start of every call with the method's name, before any lock is taken.
  void SetHook(std::function<void(std::string_view method)> hook);

  // --- direct access for tests ---

  // Records `file` (name, version, kind, size, attributes, tombstone) as held by `holders`,
  // as if each had reported it; later versions are handed out above it.
  void Put(const v1::FileInfo& file, const std::vector<std::string>& holders);
  // The latest version of `name`, tombstones included; nullopt when unknown.
  std::optional<v1::FileInfo> Latest(const std::string& name) const;
  // Live FileStores holding the latest version of `name`.
  std::vector<std::string> Holders(const std::string& name) const;
  // The FileStore stops being live, with everything it reported (a missed heartbeat);
  // names fall back to an older copy held elsewhere.
  void DropFileStore(const std::string& address);
  void SetSpace(const std::string& address, int64_t bytes_used, int64_t bytes_available);
  // The last version handed out (0 before any).
  int64_t last_version() const;
  // The clock of the times it sets itself (ctime of a status change, a directory's mtime and
  // ctime when its entries change); the system clock unless set (not owned).
  void SetClock(const Clock* clock);

  // --- NameServerApi ---

  absl::StatusOr<v1::HeartBeatReply> HeartBeat(const v1::HeartBeatRequest& req) override;
  absl::StatusOr<v1::DoCreateReply> DoCreate(const v1::DoCreateRequest& req) override;
  absl::StatusOr<v1::AddFileOrTombstoneReply> AddFileOrTombstone(
      const v1::AddFileOrTombstoneRequest& req) override;
  absl::StatusOr<v1::DoReadReply> DoRead(const v1::DoReadRequest& req) override;
  absl::StatusOr<v1::ReportBadReplicaReply> ReportBadReplica(
      const v1::ReportBadReplicaRequest& req) override;
  absl::StatusOr<v1::StatReply> Stat(const v1::StatRequest& req) override;
  // Replaces what `filestore` holds with `files` (it becomes live if it was not).
  absl::Status RegisterFilesAndTombstones(const std::string& filestore,
                                          const std::vector<v1::FileInfo>& files,
                                          int64_t bytes_used, int64_t bytes_available) override;
  absl::StatusOr<v1::ListDirectoryReply> ListDirectory(
      const v1::ListDirectoryRequest& req) override;
  absl::StatusOr<v1::ListReply> List(const v1::ListRequest& req) override;
  absl::StatusOr<v1::DoDeleteReply> DoDelete(const v1::DoDeleteRequest& req) override;
  absl::StatusOr<v1::StatFsReply> StatFs(const v1::StatFsRequest& req) override;
  absl::StatusOr<v1::RenameReply> Rename(const v1::RenameRequest& req) override;
  absl::StatusOr<v1::SetAttributesReply> SetAttributes(
      const v1::SetAttributesRequest& req) override;
  absl::StatusOr<v1::ClusterStatusReply> ClusterStatus(
      const v1::ClusterStatusRequest& req) override;
  // Unlike the real one, copies at once (with the FileStores set by SetFileStores) each named
  // live path short of min(replication, live FileStores) to live FileStores in placement order.
  absl::StatusOr<v1::ReplicateReply> Replicate(const v1::ReplicateRequest& req) override;
  // Hard links (memory_links.cc). Unlike the real one, an inode whose last link went and
  // whose tombstone failed stays (there is no orphan sweep).
  absl::StatusOr<v1::LinkReply> Link(const v1::LinkRequest& req) override;

 private:
  struct Failure {
    absl::Status status;
    int times = 0;
  };
  using Live = MemoryNamespace::Live;

  // Counts the call, runs the hook, and returns an injected failure if one is due.
  absl::Status Enter(std::string_view method);
  // Tombstones a live name on its holders (and up to `replication_` FileStores).
  absl::StatusOr<int64_t> Tombstone(const Live& item);
  // Copies a live name to `target` (new name and/or version and attributes) on its holders;
  // `all` says whether every holder did.
  absl::StatusOr<v1::FileInfo> Clone(const Live& item, v1::FileInfo target, bool* all);
  FileStoreApi* filestores_api();
  // `name` at a new version with the attributes of `item` (the target of a clone).
  v1::FileInfo NewVersion(const std::string& name, const Live& item);
  v1::FileInfo NewVersionLocked(const std::string& name, const Live& item);
  // The parent of `name` had an entry created or removed (POSIX: its mtime and ctime move).
  void TouchParentLocked(const std::string& name);

  // --- hard links (memory_links.cc) ---
  // `info` (of `file`, as GetFile(path) found it) named `path`, with its inode and nlink.
  void AsNameOf(const Live& file, const std::string& path, v1::FileInfo* info);
  // Writes the link entry `name` -> `inode` as an upload (DoCreate, then the FileStores).
  absl::Status WriteLinkEntry(const std::string& name, const std::string& inode,
                              const v1::Attributes& attributes);
  // A link entry went: its inode is tombstoned when no other link names it.
  void ReleaseInode(const v1::FileInfo& entry);

  const int replication_;

  mutable std::mutex mu_;
  MemoryNamespace ns_;
  int64_t last_version_ = 0;
  FileStoreApi* filestores_api_ = nullptr;
  const Clock* clock_ = SystemClock::Get();
  const WriteTokenSigner* token_signer_ = nullptr;
  std::function<void(std::string_view)> hook_;
  std::map<std::string, int, std::less<>> calls_;
  std::map<std::string, Failure, std::less<>> failures_;
};

}  // namespace chainfs
