#include "common/client/filestore_channels.h"

#include <algorithm>

#include "common/defaults.h"
#include "common/status.h"

namespace chainfs {
namespace {

// Room for a 1 MiB chunk plus the message around it, and for listing batches.
constexpr int kMaxMessageBytes = kFileStoreMaxMessageBytes;
constexpr int kLookaheadBytes = kFileStoreStreamWindowBytes;

bool IsHostNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

bool IsIpv6Char(char c) {
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
         c == '.';
}

}  // namespace

absl::Status ValidateFileStoreAddress(std::string_view address) {
  constexpr size_t kMaxHostBytes = 253;
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError("address is not host:port");
  }
  std::string_view port = address.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return absl::InvalidArgumentError("address has a bad port");
  }
  int number = std::stoi(std::string(port));
  if (number < 1 || number > 65535) return absl::InvalidArgumentError("address has a bad port");
  std::string_view host = address.substr(0, colon);
  if (host.size() > kMaxHostBytes) return absl::InvalidArgumentError("address host is too long");
  if (host.front() == '[') {
    if (host.size() < 4 || host.back() != ']' ||
        !std::all_of(host.begin() + 1, host.end() - 1, IsIpv6Char)) {
      return absl::InvalidArgumentError("address has a bad IPv6 host");
    }
    return absl::OkStatus();
  }
  if (host.front() == '-' || host.front() == '.' ||
      !std::all_of(host.begin(), host.end(), IsHostNameChar)) {
    return absl::InvalidArgumentError("address has a bad host");
  }
  return absl::OkStatus();
}

FileStoreChannels::FileStoreChannels(size_t max_channels,
                                     std::shared_ptr<grpc::ChannelCredentials> credentials)
    : max_channels_(std::max<size_t>(max_channels, 1)),
      credentials_(CredentialsOrInsecure(credentials)) {}

absl::StatusOr<std::shared_ptr<v1::FileStore::Stub>> FileStoreChannels::Get(
    const std::string& address) {
  CHAINFS_RETURN_IF_ERROR(ValidateFileStoreAddress(address));
  std::lock_guard lock(mu_);
  if (auto it = stubs_.find(address); it != stubs_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // A receive window of several chunks keeps ranged reads streaming without stalls.
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kLookaheadBytes);
  auto stub = std::shared_ptr<v1::FileStore::Stub>(
      v1::FileStore::NewStub(grpc::CreateCustomChannel(address, credentials_, args)));
  lru_.emplace_front(address, stub);
  stubs_[address] = lru_.begin();
  while (lru_.size() > max_channels_) {
    stubs_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return stub;
}

size_t FileStoreChannels::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

std::shared_ptr<grpc::ChannelCredentials> CredentialsOrInsecure(
    const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  return credentials ? credentials : grpc::InsecureChannelCredentials();
}

std::unique_ptr<grpc::ClientContext> NewCallContext(Duration timeout,
                                                    const grpc::ServerContext* parent) {
  const auto deadline = std::chrono::system_clock::now() +
                        std::chrono::duration_cast<std::chrono::system_clock::duration>(timeout);
  if (!parent) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(deadline);
    return ctx;
  }
  auto ctx = grpc::ClientContext::FromServerContext(*parent);
  if (parent->deadline() > deadline) ctx->set_deadline(deadline);
  return ctx;
}

}  // namespace chainfs
