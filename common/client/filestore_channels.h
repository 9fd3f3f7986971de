// The gRPC plumbing under FileStoreClient: a bounded cache of channels to FileStores
// (host:port validated before dialling, the least recently used dropped beyond the bound)
// and the client context of each call. Nothing outside common/client builds a stub.
#pragma once

#include <grpcpp/grpcpp.h>

#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "proto/chainfs.grpc.pb.h"

namespace chainfs {

// OK for host:port with a numeric port 1-65535 and a host name, IPv4 or [IPv6] host: only
// such addresses are dialled (never a "unix:" path or another gRPC target scheme).
absl::Status ValidateFileStoreAddress(std::string_view address);

class FileStoreChannels {
 public:
  // Channels dial with `credentials` (null: plain channels).
  explicit FileStoreChannels(size_t max_channels,
                             std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);

  // A stub for host:port on a cached channel; INVALID_ARGUMENT for a bad address. Calls in
  // flight keep their stub (and channel) alive after it leaves the cache.
  absl::StatusOr<std::shared_ptr<v1::FileStore::Stub>> Get(const std::string& address);
  // Channels cached now (at most max_channels).
  size_t size() const;

 private:
  const size_t max_channels_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  mutable std::mutex mu_;
  // Most recently used first; `stubs_` points into it.
  using Entry = std::pair<std::string, std::shared_ptr<v1::FileStore::Stub>>;
  std::list<Entry> lru_;
  std::map<std::string, std::list<Entry>::iterator> stubs_;
};

// `credentials`, or plain channel credentials when null.
std::shared_ptr<grpc::ChannelCredentials> CredentialsOrInsecure(
    const std::shared_ptr<grpc::ChannelCredentials>& credentials);

// The context of one call or stream that may last `timeout`. With `parent` (the server call
// it serves) it is cancelled with the parent and never outlives the parent's deadline.
std::unique_ptr<grpc::ClientContext> NewCallContext(Duration timeout,
                                                    const grpc::ServerContext* parent = nullptr);

}  // namespace chainfs
