// The NameServer: the spec's client and FileStore calls over the soft-state Namespace,
// plus its background duties (FileStore expiry, start-up wait, replication, GC) and its
// leadership. The gRPC service (service.h) is a thin adapter over this class; tests
// construct it directly with a FakeClock, the memory ZooKeeper and fake FileStore calls.
//
// Client calls answer UNAVAILABLE "not leader" unless this NameServer leads and its
// start-up wait is over; FileStore calls are accepted by the leader during the wait.
// The namespace lock is never held across an RPC.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/client/filestore_api.h"
#include "common/clock.h"
#include "common/write_token.h"
#include "common/zk/zookeeper.h"
#include "proto/chainfs.grpc.pb.h"
#include "servers/nameserver/dir_times.h"
#include "servers/nameserver/election.h"
#include "servers/nameserver/events.h"
#include "servers/nameserver/garbage_collector.h"
#include "servers/nameserver/nameserver_metrics.h"
#include "servers/nameserver/namespace.h"
#include "servers/nameserver/placement.h"
#include "servers/nameserver/replicator.h"
#include "servers/nameserver/settings.h"
#include "servers/nameserver/version_allocator.h"

namespace chainfs::nameserver {

// A FileStore's metrics address longer than this is ignored.
inline constexpr size_t kMaxMetricsAddressBytes = 300;

class NameServer {
 public:
  // `address` is this NameServer's advertised host:port (written to /leader). Metrics go to
  // `registry` (a registry of its own when null).
  NameServer(NameServerSettings settings, Clock* clock, zk::ZooKeeper* zk, FileStoreApi* ops,
             std::string address, std::string hostname, prometheus::Registry* registry = nullptr);
  ~NameServer();

  // Starts campaigning and the background loops. Without Start() nothing runs by itself:
  // tests drive election().Step(), Housekeep(), Replicate() and CollectGarbage().
  void Start();
  // Stops the loops and resigns leadership.
  void Stop();

  Election& election() { return election_; }
  Namespace& names() { return ns_; }
  VersionAllocator& allocator() { return allocator_; }
  bool serving() const;
  // doCreate answers a write token signed by `signer` (not owned; null, the default: none).
  // Set before Start().
  void SetWriteTokens(const WriteTokenSigner* signer) { token_signer_ = signer; }
  std::string leader_address() const { return election_.leader_address(); }
  // For the status page: recent events, recently dropped FileStores, the last GC outcome.
  EventLog& events() { return events_; }
  const NameServerSettings& settings() const { return settings_; }

  // Expires silent FileStores and ends the start-up wait when it is over.
  void Housekeep();
  Replicator::Result Replicate();
  absl::StatusOr<int64_t> CollectGarbage();
  // Reads the state the metrics show (nameserver_metrics.cc); run before each scrape.
  void RefreshMetrics();
  // Where this NameServer's /metrics are, for ClusterStatus ("" = off).
  void SetMetricsAddress(std::string address);
  // Directory times not yet written to the FileStores (nameserver_times.cc).
  DirTimes& dir_times() { return dir_times_; }

  // --- client calls ---
  absl::Status DoCreate(const v1::DoCreateRequest& req, v1::DoCreateReply* reply);
  absl::Status DoRead(const v1::DoReadRequest& req, v1::DoReadReply* reply);
  absl::Status DoDelete(const v1::DoDeleteRequest& req, v1::DoDeleteReply* reply);
  absl::Status List(const v1::ListRequest& req, v1::ListReply* reply);
  absl::Status Stat(const v1::StatRequest& req, v1::StatReply* reply);
  absl::Status ListDirectory(const v1::ListDirectoryRequest& req, v1::ListDirectoryReply* reply);
  absl::Status Rename(const v1::RenameRequest& req, v1::RenameReply* reply);
  absl::Status SetAttributes(const v1::SetAttributesRequest& req, v1::SetAttributesReply* reply);
  absl::Status StatFs(const v1::StatFsRequest& req, v1::StatFsReply* reply);
  absl::Status ClusterStatus(const v1::ClusterStatusRequest& req, v1::ClusterStatusReply* reply);
  // fsck --repair: wakes the replication pass (which covers every under-replicated name) and
  // answers how many of the paths are short of the replication factor.
  absl::Status ReplicateNow(const v1::ReplicateRequest& req, v1::ReplicateReply* reply);
  // link(2) (links.cc): `to` becomes another name of `from`'s file.
  absl::Status Link(const v1::LinkRequest& req, v1::LinkReply* reply);
  // Tombstones inode names that no link entry has named for settings().orphan_inode_grace
  // (runs with GC; only with a complete view of the FileStores). Returns how many went.
  size_t SweepUnlinkedInodes();

  // --- FileStore calls ---
  // A registration stream: Begin with the first message, Files for every message, End
  // once the stream finished OK. A stream that broke (or a message that was refused) ends
  // with Abort instead: the FileStore's view is incomplete, so it is dropped and must
  // register again; GC does not run meanwhile. Begin aborts by itself when it fails.
  absl::StatusOr<FileStoreId> RegisterBegin(const v1::RegisterRequest& first);
  absl::Status RegisterFiles(FileStoreId id, const v1::RegisterRequest& msg);
  void RegisterEnd(FileStoreId id);
  void RegisterAbort(FileStoreId id);
  absl::Status HeartBeat(const v1::HeartBeatRequest& req, v1::HeartBeatReply* reply);
  absl::Status AddFileOrTombstone(const v1::AddFileOrTombstoneRequest& req,
                                  v1::AddFileOrTombstoneReply* reply);
  absl::Status ReportBadReplica(const v1::ReportBadReplicaRequest& req,
                                v1::ReportBadReplicaReply* reply);

 private:
  absl::Status OnElected();
  void OnDeposed();
  absl::Status CheckLeader() const;
  absl::Status CheckServing() const;
  // FAILED_PRECONDITION "not a directory" when a parent of `path` is a live file or symlink.
  absl::Status CheckNotBeneathAFile(const std::string& path) const;
  // A create's chain: live FileStores by free space; with req.base_version the latest
  // version's live holders first, so that the members build from their own copies.
  std::vector<FileStoreInfo> ChooseChain(const std::string& name, const v1::DoCreateRequest& req,
                                         const std::vector<FileStoreInfo>& live,
                                         const std::vector<std::string>& exclude);
  // Whether a FileStore's report of `f` may be recorded: within the lease, not below
  // /minver ("version too old"), not beneath a file.
  absl::Status CheckReported(const v1::FileInfo& f) const;
  // Tombstones `state` with a new version on its holders and on enough other FileStores
  // to reach the replication factor; OK once at least one holder acknowledged.
  absl::StatusOr<int64_t> Tombstone(const NameState& state);
  // Clone name@version onto every holder as `target` (new name and/or attributes). OK once
  // one holder cloned it; `all` (when given) tells whether every holder did.
  absl::StatusOr<v1::FileInfo> CloneOnHolders(const NameState& state, v1::FileInfo target,
                                              bool* all = nullptr);
  // --- hard links (links.cc) ---
  // NOT_FOUND for the hidden inode names (common/inode_names.h): clients never use them.
  absl::Status RefuseHidden(const std::string& path) const;
  // The live entry of `path`, or for a link entry the inode it names (DATA_LOSS if missing).
  absl::StatusOr<NameState> GetFile(const std::string& path) const;
  // `info` (of `file`, as GetFile(path) found it) named `path`, with the inode and nlink.
  void AsNameOf(const NameState& file, const std::string& path, v1::FileInfo* info) const;
  // Where writes to `path` go: its inode name when it is a link, else itself.
  std::string WriteNameOf(const std::string& path) const;
  bool SameInode(const std::string& a, const std::string& b) const;
  // Writes a metadata-only entry (a link) at a new version on a chain of its own.
  absl::StatusOr<v1::FileInfo> WriteEntry(v1::FileInfo entry);
  // Moves a plain file under a new inode name and makes its name a link to it.
  absl::StatusOr<std::string> MakeInode(const NameState& file);
  // A link entry went: its inode is tombstoned when no other link names it.
  void ReleaseInode(const v1::FileInfo& entry);
  // Remembers where FileStore `filestore` serves its /metrics (ClusterStatus shows it).
  void NoteMetricsAddress(const std::string& filestore, const std::string& metrics);
  void Loop(Ticker& ticker, Duration interval, void (NameServer::*body)());
  void ReplicationTick();
  void GcTick();

  // --- times (nameserver_times.cc) ---
  // An entry appeared in or went from ParentOf(name): the parent's mtime and ctime move now.
  void TouchParent(const std::string& name);
  // A report of `file`: touches its parent when the name appears or goes with it.
  void ApplyReport(const std::string& filestore, const v1::FileInfo& file, bool* known);
  // Writes the soft state's times of directory `dir` as a new version of its entry.
  absl::Status PersistDirectoryTimes(const std::string& dir);
  void DirTimesTick();
  // Held while a new version of a directory entry is made (set-attributes, rename, delete,
  // persisting its times), so that two never clone the same version (the second would fail).
  std::unique_lock<std::mutex> LockIfDirectory(const v1::FileInfo& info);

  const NameServerSettings settings_;
  NameServerMetrics metrics_;
  Clock* const clock_;
  zk::ZooKeeper* const zk_;
  FileStoreApi* const ops_;
  const WriteTokenSigner* token_signer_ = nullptr;
  Namespace ns_;
  Placement placement_;
  VersionAllocator allocator_;
  Replicator replicator_;
  GarbageCollector gc_;
  EventLog events_;
  DirTimes dir_times_;
  std::mutex dir_versions_mu_;
  Election election_;

  mutable std::mutex mu_;
  TimePoint elected_at_;
  TimePoint unavailable_at_;          // last time Housekeep found this server unable to serve
  std::atomic<bool> waiting_{false};  // leader, in the start-up wait
  std::atomic<bool> serving_{false};  // leader, start-up wait over
  bool deadline_checked_ = false;
  std::string metrics_address_;                                   // guarded by mu_
  std::map<std::string, std::string> filestore_metrics_address_;  // guarded by mu_

  struct UnlinkedSince {
    TimePoint at;
    uint64_t drops = 0;  // Namespace::drops() then
  };
  std::mutex links_mu_;  // serializes link, the release of an inode and the orphan sweep
  std::map<std::string, UnlinkedSince> unlinked_since_;  // guarded by links_mu_

  Ticker housekeeping_ticker_, replication_ticker_, gc_ticker_, dir_times_ticker_;
  std::vector<std::thread> threads_;
};

}  // namespace chainfs::nameserver
