// The client side of FileStore.Create (a stream) and FileStore.CreateSmall (one call) to the
// head of a chain, as FileStoreClient runs them for uploads and for a FileStore forwarding
// the create it receives. Internal to common/client: callers go through FileStoreApi.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/client/filestore_api.h"
#include "proto/chainfs.grpc.pb.h"

namespace chainfs {

// Opens Create on `head` (through stub, within ctx) and sends `header`. A failure to do so
// comes out of the stream's first call. `what` names the create in errors.
std::unique_ptr<FileStoreApi::CreateStream> StartCreateStream(
    std::shared_ptr<v1::FileStore::Stub> stub, std::unique_ptr<grpc::ClientContext> ctx,
    std::string head, std::string what, const v1::CreateHeader& header);

// Starts CreateSmall(req) on `head`. When head answers UNIMPLEMENTED (it predates
// CreateSmall), Finish runs `fallback` instead, which streams the same content.
using CreateFallback =
    std::function<absl::StatusOr<v1::CreateReply>(const v1::CreateSmallRequest&)>;
std::unique_ptr<FileStoreApi::CreateCall> StartCreateSmallCall(
    std::shared_ptr<v1::FileStore::Stub> stub, std::unique_ptr<grpc::ClientContext> ctx,
    std::string head, std::string what, v1::CreateSmallRequest req, CreateFallback fallback);

}  // namespace chainfs
