// The one way to talk to FileStores: cached channels per host:port (the least recently used
// dropped beyond max_channels; addresses validated before dialling), chain uploads and
// ranged reads with fail-over between holders. Used by the mount, the CLI, the NameServer
// (copy, bump, delete, clone) and the FileStore itself (forwarding down the chain and
// pulling copies). Every call carries a deadline. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "proto/chainfs.grpc.pb.h"

namespace chainfs {

inline constexpr size_t kMaxChunkBytes = 1 << 20;

struct FileStoreClientSettings {
  Duration call_timeout = std::chrono::seconds(30);    // unary calls
  Duration stream_timeout = std::chrono::minutes(30);  // whole Create/Read streams
  size_t chunk_bytes = kMaxChunkBytes;
  size_t max_channels = 256;  // cached channels; the least recently used goes beyond
};

// OK for host:port with a numeric port 1-65535 and a host name, IPv4 or [IPv6] host: only
// such addresses are dialled (never a "unix:" path or another gRPC target scheme).
absl::Status ValidateFileStoreAddress(std::string_view address);

// Supplies content for an upload: fills `buf` with up to `max` bytes, returns the count,
// 0 at the end. Errors abort the upload.
using ContentSource = std::function<absl::StatusOr<size_t>(char* buf, size_t max)>;

class FileStoreClient {
 public:
  explicit FileStoreClient(FileStoreClientSettings settings = {});
  ~FileStoreClient();

  // A stub for host:port on a cached channel; INVALID_ARGUMENT for a bad address.
  absl::StatusOr<std::shared_ptr<v1::FileStore::Stub>> Stub(const std::string& address);
  // Channels cached now (at most max_channels).
  size_t cached_channels() const;

  // Uploads `file` (name, version, kind, attributes) to chain[0], which forwards it to
  // chain[1..]. Returns after the whole chain committed.
  absl::StatusOr<v1::CreateReply> Create(const v1::FileInfo& file,
                                         const std::vector<std::string>& chain,
                                         const ContentSource& source, int64_t expected_size = 0);
  // Content of at most one chunk goes in one CreateSmall call (the stream when chain[0]
  // does not know it, or when allow_small is false); larger content is streamed.
  absl::StatusOr<v1::CreateReply> CreateFromString(const v1::FileInfo& file,
                                                   const std::vector<std::string>& chain,
                                                   std::string_view content,
                                                   bool allow_small = true);
  // Uploads the whole content of an open file descriptor (from offset 0), in one
  // CreateSmall call when it fits in a chunk.
  absl::StatusOr<v1::CreateReply> CreateFromFd(const v1::FileInfo& file,
                                               const std::vector<std::string>& chain, int fd);

  absl::Status Delete(const std::string& address, const std::string& name, int64_t version);
  absl::StatusOr<v1::CopyFileReply> CopyFile(const std::string& address,
                                             const v1::CopyFileRequest& req);
  absl::StatusOr<v1::BumpVersionReply> BumpVersion(const std::string& address,
                                                   const v1::BumpVersionRequest& req);
  absl::StatusOr<v1::CloneReply> Clone(const std::string& address, const v1::CloneRequest& req);
  // The same call on several FileStores at once, without a thread per call: one result
  // per address, in order.
  std::vector<absl::Status> DeleteOnEach(const std::vector<std::string>& addresses,
                                         const std::string& name, int64_t version);
  std::vector<absl::StatusOr<v1::CloneReply>> CloneOnEach(const std::vector<std::string>& addresses,
                                                          const v1::CloneRequest& req);
  absl::StatusOr<std::vector<v1::FileInfo>> ListFilesAndTombstones(const std::string& address);

  // Reads name@version from the first holder that works, failing over to the next one in
  // the middle of the file when a holder dies. version 0 = the holder's latest.
  class Reader {
   public:
    virtual ~Reader() = default;
    // Metadata from the holder that answered the open.
    virtual const v1::FileInfo& info() const = 0;
    // Reads up to `length` bytes at `offset` into buf; returns bytes read (0 at EOF).
    virtual absl::StatusOr<size_t> ReadAt(int64_t offset, size_t length, char* buf) = 0;
  };
  // With `parent` (a server call this read serves), the streams carry its deadline (capped
  // by the stream timeout) and are cancelled with it.
  absl::StatusOr<std::unique_ptr<Reader>> OpenReader(const std::string& name, int64_t version,
                                                     const std::vector<std::string>& holders,
                                                     const grpc::ServerContext* parent = nullptr);
  // Whole content into a string (small files, tests, tools).
  absl::StatusOr<std::string> ReadAll(const std::string& name, int64_t version,
                                      const std::vector<std::string>& holders);

 private:
  absl::StatusOr<v1::CreateReply> CreateSmall(const v1::FileInfo& file,
                                              const std::vector<std::string>& chain,
                                              std::string content);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chainfs
