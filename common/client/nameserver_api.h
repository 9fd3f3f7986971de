// The NameServer's calls as the client side sees them. NameServerClient is the real one
// (ZooKeeper discovery, redirects, retries, deadlines); MemoryNameServer is the in-memory
// twin for unit tests. Callers hold a NameServerApi* so either can be swapped in.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/chainfs.pb.h"

namespace chainfs {

class NameServerApi {
 public:
  virtual ~NameServerApi() = default;

  // Client calls.
  virtual absl::StatusOr<v1::DoCreateReply> DoCreate(const v1::DoCreateRequest& req) = 0;
  virtual absl::StatusOr<v1::DoReadReply> DoRead(const v1::DoReadRequest& req) = 0;
  virtual absl::StatusOr<v1::DoDeleteReply> DoDelete(const v1::DoDeleteRequest& req) = 0;
  virtual absl::StatusOr<v1::ListReply> List(const v1::ListRequest& req) = 0;
  virtual absl::StatusOr<v1::StatReply> Stat(const v1::StatRequest& req) = 0;
  // Stat of one path, unwrapped: its entry, or why not.
  absl::StatusOr<v1::FileInfo> StatPath(const std::string& path) {
    v1::StatRequest req;
    req.set_path(path);
    absl::StatusOr<v1::StatReply> reply = Stat(req);
    if (!reply.ok()) return reply.status();
    return reply->file();
  }
  virtual absl::StatusOr<v1::ListDirectoryReply> ListDirectory(
      const v1::ListDirectoryRequest& req) = 0;
  virtual absl::StatusOr<v1::RenameReply> Rename(const v1::RenameRequest& req) = 0;
  virtual absl::StatusOr<v1::SetAttributesReply> SetAttributes(
      const v1::SetAttributesRequest& req) = 0;
  virtual absl::StatusOr<v1::StatFsReply> StatFs(const v1::StatFsRequest& req) = 0;
  virtual absl::StatusOr<v1::ClusterStatusReply> ClusterStatus(
      const v1::ClusterStatusRequest& req) = 0;

  // `chainfs fsck --repair`: replicate these paths now. A fake that never stands in for it
  // may keep this default.
  virtual absl::StatusOr<v1::ReplicateReply> Replicate(const v1::ReplicateRequest& req) {
    (void)req;
    return absl::UnimplementedError("this NameServerApi does not replicate on request");
  }

  // link(2). A fake that never stands in for it may keep this default.
  virtual absl::StatusOr<v1::LinkReply> Link(const v1::LinkRequest& req) {
    (void)req;
    return absl::UnimplementedError("this NameServerApi has no hard links");
  }

  // FileStore calls.
  virtual absl::StatusOr<v1::HeartBeatReply> HeartBeat(const v1::HeartBeatRequest& req) = 0;
  virtual absl::StatusOr<v1::AddFileOrTombstoneReply> AddFileOrTombstone(
      const v1::AddFileOrTombstoneRequest& req) = 0;
  virtual absl::StatusOr<v1::ReportBadReplicaReply> ReportBadReplica(
      const v1::ReportBadReplicaRequest& req) = 0;
  // The whole list of one FileStore, with its space figures.
  virtual absl::Status RegisterFilesAndTombstones(const std::string& filestore,
                                                  const std::vector<v1::FileInfo>& files,
                                                  int64_t bytes_used, int64_t bytes_available) = 0;
};

}  // namespace chainfs
