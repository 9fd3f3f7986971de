// The one way to talk to FileStores: cached channels per host:port (the least recently used
// dropped beyond max_channels; addresses validated before dialling), chain uploads and
// ranged reads with fail-over between holders. Used by the mount, the CLI, the NameServer
// (copy, bump, delete, clone) and the FileStore itself (forwarding down the chain and
// pulling copies). Every call carries a deadline. Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/client/filestore_api.h"
#include "common/client/filestore_channels.h"
#include "common/clock.h"
#include "common/defaults.h"

namespace chainfs {

struct FileStoreClientSettings {
  Duration call_timeout = std::chrono::seconds(30);  // unary calls
  Duration stream_timeout = kDefaultStreamTimeout;   // whole Create/Read streams
  size_t chunk_bytes = kMaxChunkBytes;
  size_t max_channels = 256;  // cached channels; the least recently used goes beyond
  // What channels dial with (tls::Credentials::Channel()); null: plain, unauthenticated
  // channels, for --insecure and in-process unit tests.
  std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr;
};

class FileStoreClient final : public FileStoreApi {
 public:
  explicit FileStoreClient(FileStoreClientSettings settings = {});
  ~FileStoreClient();

  // Channels cached now (at most max_channels).
  size_t cached_channels() const;

  // FileStoreApi. The same defaults as there, so calls on a FileStoreClient read alike.
  absl::StatusOr<v1::CreateReply> Create(const v1::FileInfo& file,
                                         const std::vector<std::string>& chain,
                                         const ContentSource& source, int64_t expected_size = 0,
                                         std::string_view token = {}) override;
  absl::StatusOr<v1::CreateReply> CreateFromString(const v1::FileInfo& file,
                                                   const std::vector<std::string>& chain,
                                                   std::string_view content,
                                                   bool allow_small = true,
                                                   std::string_view token = {}) override;
  absl::StatusOr<v1::CreateReply> CreateFromFd(const v1::FileInfo& file,
                                               const std::vector<std::string>& chain, int fd,
                                               std::string_view token = {}) override;
  absl::StatusOr<std::unique_ptr<CreateStream>> OpenCreateStream(
      const v1::FileInfo& file, const std::vector<std::string>& chain, int64_t expected_size,
      const grpc::ServerContext* parent = nullptr, std::string_view token = {},
      int64_t base_version = 0) override;
  absl::StatusOr<std::unique_ptr<CreateCall>> StartCreateSmall(
      const v1::FileInfo& file, const std::vector<std::string>& chain, std::string content,
      uint64_t checksum, const grpc::ServerContext* parent = nullptr,
      std::string_view token = {}) override;
  absl::Status Flush(const std::string& address, const std::string& name, int64_t version) override;
  // Reads whole files on the FileStore: it gets the stream timeout.
  absl::StatusOr<v1::VerifyReply> Verify(const std::string& address,
                                         const v1::VerifyRequest& req) override;
  absl::Status Delete(const std::string& address, const std::string& name,
                      int64_t version) override;
  absl::StatusOr<v1::CopyFileReply> CopyFile(const std::string& address,
                                             const v1::CopyFileRequest& req) override;
  absl::StatusOr<v1::BumpVersionReply> BumpVersion(const std::string& address,
                                                   const v1::BumpVersionRequest& req) override;
  absl::StatusOr<v1::CloneReply> Clone(const std::string& address,
                                       const v1::CloneRequest& req) override;
  // Without a thread per call.
  std::vector<absl::Status> DeleteOnEach(const std::vector<std::string>& addresses,
                                         const std::string& name, int64_t version) override;
  std::vector<absl::StatusOr<v1::CloneReply>> CloneOnEach(const std::vector<std::string>& addresses,
                                                          const v1::CloneRequest& req) override;
  absl::StatusOr<std::vector<v1::FileInfo>> ListFilesAndTombstones(
      const std::string& address) override;
  absl::StatusOr<std::unique_ptr<Reader>> OpenReader(
      const std::string& name, int64_t version, const std::vector<std::string>& holders,
      const grpc::ServerContext* parent = nullptr) override;
  absl::StatusOr<std::string> ReadAll(const std::string& name, int64_t version,
                                      const std::vector<std::string>& holders) override;
  absl::StatusOr<v1::ReadSmallReply> ReadSmall(const std::string& name, int64_t version,
                                               const std::vector<std::string>& holders) override;

 private:
  absl::StatusOr<std::shared_ptr<v1::FileStore::Stub>> Stub(const std::string& address);
  absl::StatusOr<v1::CreateReply> CreateSmall(const v1::FileInfo& file,
                                              const std::vector<std::string>& chain,
                                              std::string content, std::string_view token);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chainfs
