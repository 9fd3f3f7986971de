#include "servers/nameserver/service.h"

#include "common/log.h"
#include "common/status.h"

namespace chainfs::nameserver {

grpc::Status NameServerService::Finish(grpc::ServerContextBase* ctx, NameServer* core,
                                       const absl::Status& status) {
  if (absl::IsUnavailable(status) && core != nullptr) {
    std::string leader = core->leader_address();
    if (!leader.empty()) ctx->AddTrailingMetadata(kLeaderMetadataKey, leader);
  }
  if (absl::IsInvalidArgument(status)) {
    Logger("nameserver")
        ->debug("rejected request from {}: {}", ctx->peer(), std::string(status.message()));
  }
  return ToGrpc(status);
}

template <typename Req, typename Reply>
grpc::Status NameServerService::Call(grpc::ServerContext* ctx,
                                     absl::Status (NameServer::*method)(const Req&, Reply*),
                                     const Req* req, Reply* reply) {
  NameServer* core = core_.load();
  if (core == nullptr) return ToGrpc(absl::UnavailableError("starting up"));
  return Finish(ctx, core, (core->*method)(*req, reply));
}

template <typename Req, typename Reply>
grpc::ServerUnaryReactor* NameServerService::React(grpc::CallbackServerContext* ctx,
                                                   absl::Status (NameServer::*method)(const Req&,
                                                                                      Reply*),
                                                   const Req* req, Reply* reply) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  NameServer* core = core_.load();
  if (core == nullptr) {
    reactor->Finish(ToGrpc(absl::UnavailableError("starting up")));
  } else {
    reactor->Finish(Finish(ctx, core, (core->*method)(*req, reply)));
  }
  return reactor;
}

grpc::ServerUnaryReactor* NameServerService::DoCreate(grpc::CallbackServerContext* ctx,
                                                      const v1::DoCreateRequest* req,
                                                      v1::DoCreateReply* reply) {
  return React(ctx, &NameServer::DoCreate, req, reply);
}

grpc::ServerUnaryReactor* NameServerService::DoRead(grpc::CallbackServerContext* ctx,
                                                    const v1::DoReadRequest* req,
                                                    v1::DoReadReply* reply) {
  return React(ctx, &NameServer::DoRead, req, reply);
}

grpc::Status NameServerService::DoDelete(grpc::ServerContext* ctx, const v1::DoDeleteRequest* req,
                                         v1::DoDeleteReply* reply) {
  return Call(ctx, &NameServer::DoDelete, req, reply);
}

grpc::Status NameServerService::List(grpc::ServerContext* ctx, const v1::ListRequest* req,
                                     v1::ListReply* reply) {
  return Call(ctx, &NameServer::List, req, reply);
}

grpc::ServerUnaryReactor* NameServerService::Stat(grpc::CallbackServerContext* ctx,
                                                  const v1::StatRequest* req,
                                                  v1::StatReply* reply) {
  return React(ctx, &NameServer::Stat, req, reply);
}

grpc::Status NameServerService::ListDirectory(grpc::ServerContext* ctx,
                                              const v1::ListDirectoryRequest* req,
                                              v1::ListDirectoryReply* reply) {
  return Call(ctx, &NameServer::ListDirectory, req, reply);
}

grpc::Status NameServerService::Rename(grpc::ServerContext* ctx, const v1::RenameRequest* req,
                                       v1::RenameReply* reply) {
  return Call(ctx, &NameServer::Rename, req, reply);
}

grpc::Status NameServerService::SetAttributes(grpc::ServerContext* ctx,
                                              const v1::SetAttributesRequest* req,
                                              v1::SetAttributesReply* reply) {
  return Call(ctx, &NameServer::SetAttributes, req, reply);
}

grpc::ServerUnaryReactor* NameServerService::StatFs(grpc::CallbackServerContext* ctx,
                                                    const v1::StatFsRequest* req,
                                                    v1::StatFsReply* reply) {
  return React(ctx, &NameServer::StatFs, req, reply);
}

grpc::Status NameServerService::ClusterStatus(grpc::ServerContext* ctx,
                                              const v1::ClusterStatusRequest* req,
                                              v1::ClusterStatusReply* reply) {
  return Call(ctx, &NameServer::ClusterStatus, req, reply);
}

grpc::Status NameServerService::RegisterFilesAndTombstones(
    grpc::ServerContext* ctx, grpc::ServerReader<v1::RegisterRequest>* reader, v1::RegisterReply*) {
  NameServer* core = core_.load();
  if (core == nullptr) return ToGrpc(absl::UnavailableError("starting up"));
  v1::RegisterRequest msg;
  if (!reader->Read(&msg)) {
    return ToGrpc(
        absl::InvalidArgumentError("empty registration: the first message must name "
                                   "the FileStore"));
  }
  absl::StatusOr<FileStoreId> id = core->RegisterBegin(msg);
  if (!id.ok()) return Finish(ctx, core, id.status());
  bool last = msg.last();
  while (reader->Read(&msg)) {
    absl::Status st = last ? absl::InvalidArgumentError("a registration message after the last")
                           : core->RegisterFiles(*id, msg);
    if (!st.ok()) {
      core->RegisterAbort(*id);
      return Finish(ctx, core, st);
    }
    last = msg.last();
  }
  // Read also ends when the stream broke or a message did not parse: only a stream that
  // reached its last message is a whole registration.
  if (ctx->IsCancelled()) {
    core->RegisterAbort(*id);
    return ToGrpc(absl::CancelledError("registration stream broke"));
  }
  if (!last) {
    core->RegisterAbort(*id);
    return ToGrpc(absl::InvalidArgumentError("registration ended before its last message"));
  }
  core->RegisterEnd(*id);
  return grpc::Status::OK;
}

grpc::Status NameServerService::HeartBeat(grpc::ServerContext* ctx, const v1::HeartBeatRequest* req,
                                          v1::HeartBeatReply* reply) {
  return Call(ctx, &NameServer::HeartBeat, req, reply);
}

grpc::Status NameServerService::AddFileOrTombstone(grpc::ServerContext* ctx,
                                                   const v1::AddFileOrTombstoneRequest* req,
                                                   v1::AddFileOrTombstoneReply* reply) {
  return Call(ctx, &NameServer::AddFileOrTombstone, req, reply);
}

grpc::Status NameServerService::ReportBadReplica(grpc::ServerContext* ctx,
                                                 const v1::ReportBadReplicaRequest* req,
                                                 v1::ReportBadReplicaReply* reply) {
  return Call(ctx, &NameServer::ReportBadReplica, req, reply);
}

grpc::Status NameServerService::Replicate(grpc::ServerContext* ctx, const v1::ReplicateRequest* req,
                                          v1::ReplicateReply* reply) {
  return Call(ctx, &NameServer::ReplicateNow, req, reply);
}

grpc::Status NameServerService::Link(grpc::ServerContext* ctx, const v1::LinkRequest* req,
                                     v1::LinkReply* reply) {
  return Call(ctx, &NameServer::Link, req, reply);
}

}  // namespace chainfs::nameserver
