// NameServer: the FileStores' calls (registration, heartbeats, reports of new versions
// and of bad replicas). Each validates what the FileStore sent before it touches state.
#include <fmt/format.h>

#include <algorithm>

#include "common/client/nameserver_rules.h"
#include "common/log.h"
#include "common/names.h"
#include "common/status.h"
#include "servers/nameserver/log.h"
#include "servers/nameserver/nameserver.h"

namespace chainfs::nameserver {

absl::StatusOr<FileStoreId> NameServer::RegisterBegin(const v1::RegisterRequest& first) {
  CHAINFS_RETURN_IF_ERROR(ValidateFileStore(first.filestore()));
  CHAINFS_RETURN_IF_ERROR(ValidateBytes(first.bytes_used(), first.bytes_available()));
  for (const v1::FileInfo& f : first.files()) CHAINFS_RETURN_IF_ERROR(ValidateReported(f));
  CHAINFS_RETURN_IF_ERROR(CheckLeader());
  FileStoreId id = ns_.BeginRegistration(first.filestore(), first.bytes_used(),
                                         first.bytes_available(), clock_->Now());
  NoteMetricsAddress(first.filestore(), first.metrics_address());
  if (absl::Status st = RegisterFiles(id, first); !st.ok()) {
    RegisterAbort(id);
    return st;
  }
  return id;
}

absl::Status NameServer::RegisterFiles(FileStoreId id, const v1::RegisterRequest& msg) {
  for (const v1::FileInfo& f : msg.files()) CHAINFS_RETURN_IF_ERROR(ValidateReported(f));
  const int64_t min_version = gc_.min_version();
  int64_t highest = 0;
  for (const v1::FileInfo& f : msg.files()) {
    // Below /minver: the FileStore is about to purge it.
    if (f.version() < min_version) continue;
    ns_.Apply(id, f);
    replicator_.CreateReported(f.name(), f.version());
    highest = std::max(highest, f.version());
  }
  // Never hand out a version a FileStore already holds, even when /maxver forgot it.
  return allocator_.SkipPast(highest);
}

void NameServer::RegisterEnd(FileStoreId id) {
  ns_.EndRegistration(id);
  Log()->info("FileStore registered ({} FileStores, {} names)", ns_.live_filestores(), ns_.names());
  for (const FileStoreInfo& fs : ns_.FileStores()) {
    if (fs.id != id) continue;
    events_.Registered(fs.address);
    events_.Add("filestore", fmt::format("FileStore {} registered ({} FileStores, {} names)",
                                         fs.address, ns_.live_filestores(), ns_.names()));
  }
  housekeeping_ticker_.Wake();
}

void NameServer::RegisterAbort(FileStoreId id) {
  for (const FileStoreInfo& fs : ns_.FileStores()) {
    if (fs.id != id) continue;
    events_.Dropped(fs.address);
    events_.Add("filestore",
                fmt::format("FileStore {} dropped: its registration did not complete", fs.address));
  }
  ns_.AbortRegistration(id, clock_->Now());
  Log()->warn(
      "a FileStore registration did not complete: that FileStore is dropped until it "
      "registers again");
  replication_ticker_.Wake();
}

absl::Status NameServer::HeartBeat(const v1::HeartBeatRequest& req, v1::HeartBeatReply* reply) {
  CHAINFS_RETURN_IF_ERROR(ValidateFileStore(req.filestore()));
  CHAINFS_RETURN_IF_ERROR(ValidateBytes(req.bytes_used(), req.bytes_available()));
  CHAINFS_RETURN_IF_ERROR(CheckLeader());
  bool known =
      ns_.HeartBeat(req.filestore(), req.bytes_used(), req.bytes_available(), clock_->Now());
  placement_.ClearSuspect(req.filestore());
  NoteMetricsAddress(req.filestore(), req.metrics_address());
  reply->set_reregister(!known);
  return absl::OkStatus();
}

void NameServer::NoteMetricsAddress(const std::string& filestore, const std::string& metrics) {
  if (metrics.empty() || metrics.size() > kMaxMetricsAddressBytes) return;
  std::lock_guard lock(mu_);
  filestore_metrics_address_[filestore] = metrics;
}

void NameServer::SetMetricsAddress(std::string address) {
  std::lock_guard lock(mu_);
  metrics_address_ = std::move(address);
}

absl::Status NameServer::CheckReported(const v1::FileInfo& f) const {
  if (f.version() > allocator_.limit()) {
    return absl::InvalidArgumentError("version was never handed out (above the lease)");
  }
  // GC may already have purged it: acknowledging it would promise what is gone.
  if (f.version() < gc_.min_version()) return VersionTooOld("below /minver");
  if (!f.tombstone()) CHAINFS_RETURN_IF_ERROR(CheckNotBeneathAFile(f.name()));
  return absl::OkStatus();
}

absl::Status NameServer::AddFileOrTombstone(const v1::AddFileOrTombstoneRequest& req,
                                            v1::AddFileOrTombstoneReply* reply) {
  CHAINFS_RETURN_IF_ERROR(ValidateAddFileOrTombstone(req));
  CHAINFS_RETURN_IF_ERROR(CheckLeader());
  CHAINFS_RETURN_IF_ERROR(CheckReported(req.file()));
  // A FileStore we do not know registers first; its registration covers all of this.
  bool known = false;
  ApplyReport(req.filestore(), req.file(), &known);
  if (!known) {
    reply->set_reregister(true);
    return absl::OkStatus();
  }
  replicator_.CreateReported(req.file().name(), req.file().version());
  // The head of a chain names the members that committed with it. Only live registered
  // FileStores become holders: an unknown or dropped one reports itself once it registers.
  for (const std::string& member : req.also_on()) {
    if (member != req.filestore() && !ns_.Apply(member, req.file())) {
      Log()->debug("{} reported a copy on {}, which is not registered: not recorded",
                   req.filestore(), member);
    }
  }
  // Queued reports, sent in one batch: a refused one (below /minver, beneath a file) is
  // skipped, as it would have been on its own.
  for (const v1::FileInfo& f : req.more()) {
    if (absl::Status st = CheckReported(f); !st.ok()) {
      Log()->debug("report of {}@{} from {} skipped: {}", f.name(), f.version(), req.filestore(),
                   std::string(st.message()));
      continue;
    }
    bool known = false;
    ApplyReport(req.filestore(), f, &known);
    if (!known) {
      reply->set_reregister(true);  // dropped meanwhile
      break;
    }
    replicator_.CreateReported(f.name(), f.version());
  }
  return absl::OkStatus();
}

absl::Status NameServer::ReportBadReplica(const v1::ReportBadReplicaRequest& req,
                                          v1::ReportBadReplicaReply*) {
  CHAINFS_RETURN_IF_ERROR(ValidateFileStore(req.filestore()));
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.file().name()));
  if (req.file().version() <= 0) return absl::InvalidArgumentError("version must be positive");
  CHAINFS_RETURN_IF_ERROR(CheckLeader());
  std::optional<FileStoreId> id = ns_.Find(req.filestore());
  if (!id) return absl::OkStatus();
  Log()->warn("FileStore {} reports a bad replica of {}@{}", req.filestore(), req.file().name(),
              req.file().version());
  ns_.RemoveHolder(*id, req.file().name(), req.file().version());
  events_.Add("replication", fmt::format("FileStore {} reports a bad replica of {}@{}",
                                         req.filestore(), req.file().name(), req.file().version()));
  replication_ticker_.Wake();
  return absl::OkStatus();
}

}  // namespace chainfs::nameserver
