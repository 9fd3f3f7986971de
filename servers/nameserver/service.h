// The gRPC face of the NameServer: validates nothing itself and holds no state; every call
// goes to NameServer, and every UNAVAILABLE answer carries the leader's host:port, when
// known, in the trailing metadata key kLeaderMetadataKey so clients follow it.
#pragma once

#include <atomic>

#include "proto/chainfs.grpc.pb.h"
#include "servers/nameserver/nameserver.h"

namespace chainfs::nameserver {

// The hot, non-blocking lookups (doRead, stat, statfs) and doCreate use the callback API,
// which saves a thread hand-off per call; everything that makes FileStore RPCs or streams
// stays synchronous.
using NameServerServiceBase = v1::NameServer::WithCallbackMethod_DoRead<
    v1::NameServer::WithCallbackMethod_DoCreate<v1::NameServer::WithCallbackMethod_Stat<
        v1::NameServer::WithCallbackMethod_StatFs<v1::NameServer::Service>>>>;

class NameServerService final : public NameServerServiceBase {
 public:
  // The NameServer is attached once the listening port (its address) is known; until then
  // every call answers UNAVAILABLE.
  void Attach(NameServer* core) { core_ = core; }

  grpc::ServerUnaryReactor* DoCreate(grpc::CallbackServerContext* ctx,
                                     const v1::DoCreateRequest* req,
                                     v1::DoCreateReply* reply) override;
  grpc::ServerUnaryReactor* DoRead(grpc::CallbackServerContext* ctx, const v1::DoReadRequest* req,
                                   v1::DoReadReply* reply) override;
  grpc::Status DoDelete(grpc::ServerContext* ctx, const v1::DoDeleteRequest* req,
                        v1::DoDeleteReply* reply) override;
  grpc::Status List(grpc::ServerContext* ctx, const v1::ListRequest* req,
                    v1::ListReply* reply) override;
  grpc::ServerUnaryReactor* Stat(grpc::CallbackServerContext* ctx, const v1::StatRequest* req,
                                 v1::StatReply* reply) override;
  grpc::Status ListDirectory(grpc::ServerContext* ctx, const v1::ListDirectoryRequest* req,
                             v1::ListDirectoryReply* reply) override;
  grpc::Status Rename(grpc::ServerContext* ctx, const v1::RenameRequest* req,
                      v1::RenameReply* reply) override;
  grpc::Status SetAttributes(grpc::ServerContext* ctx, const v1::SetAttributesRequest* req,
                             v1::SetAttributesReply* reply) override;
  grpc::ServerUnaryReactor* StatFs(grpc::CallbackServerContext* ctx, const v1::StatFsRequest* req,
                                   v1::StatFsReply* reply) override;
  grpc::Status ClusterStatus(grpc::ServerContext* ctx, const v1::ClusterStatusRequest* req,
                             v1::ClusterStatusReply* reply) override;
  grpc::Status RegisterFilesAndTombstones(grpc::ServerContext* ctx,
                                          grpc::ServerReader<v1::RegisterRequest>* reader,
                                          v1::RegisterReply* reply) override;
  grpc::Status HeartBeat(grpc::ServerContext* ctx, const v1::HeartBeatRequest* req,
                         v1::HeartBeatReply* reply) override;
  grpc::Status AddFileOrTombstone(grpc::ServerContext* ctx,
                                  const v1::AddFileOrTombstoneRequest* req,
                                  v1::AddFileOrTombstoneReply* reply) override;
  grpc::Status ReportBadReplica(grpc::ServerContext* ctx, const v1::ReportBadReplicaRequest* req,
                                v1::ReportBadReplicaReply* reply) override;
  grpc::Status Replicate(grpc::ServerContext* ctx, const v1::ReplicateRequest* req,
                         v1::ReplicateReply* reply) override;
  grpc::Status Link(grpc::ServerContext* ctx, const v1::LinkRequest* req,
                    v1::LinkReply* reply) override;

 private:
  template <typename Req, typename Reply>
  grpc::Status Call(grpc::ServerContext* ctx,
                    absl::Status (NameServer::*method)(const Req&, Reply*), const Req* req,
                    Reply* reply);
  template <typename Req, typename Reply>
  grpc::ServerUnaryReactor* React(grpc::CallbackServerContext* ctx,
                                  absl::Status (NameServer::*method)(const Req&, Reply*),
                                  const Req* req, Reply* reply);
  grpc::Status Finish(grpc::ServerContextBase* ctx, NameServer* core, const absl::Status& status);

  std::atomic<NameServer*> core_{nullptr};
};

}  // namespace chainfs::nameserver
