// The FileStore calls the NameServer makes (delete, copy, bump, clone), behind an
// interface so unit tests run against an in-memory fake. The real one goes through
// common/client's FileStoreApi.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/client/filestore_api.h"
#include "proto/chainfs.grpc.pb.h"

namespace chainfs::nameserver {

class FileStoreOps {
 public:
  virtual ~FileStoreOps() = default;
  virtual absl::Status Delete(const std::string& address, const std::string& name,
                              int64_t version) = 0;
  virtual absl::StatusOr<v1::CopyFileReply> CopyFile(const std::string& address,
                                                     const v1::CopyFileRequest& req) = 0;
  virtual absl::StatusOr<v1::BumpVersionReply> BumpVersion(const std::string& address,
                                                           const v1::BumpVersionRequest& req) = 0;
  virtual absl::StatusOr<v1::CloneReply> Clone(const std::string& address,
                                               const v1::CloneRequest& req) = 0;
  // The same call on several FileStores at once; one result per address, in order. By
  // default a thread per address.
  virtual std::vector<absl::Status> DeleteOnEach(const std::vector<std::string>& addresses,
                                                 const std::string& name, int64_t version);
  virtual std::vector<absl::StatusOr<v1::CloneReply>> CloneOnEach(
      const std::vector<std::string>& addresses, const v1::CloneRequest& req);
};

// FileStoreOps over the client layer's FileStoreApi (not owned).
std::unique_ptr<FileStoreOps> NewFileStoreOps(FileStoreApi* client);

}  // namespace chainfs::nameserver
