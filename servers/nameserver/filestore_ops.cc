#include "servers/nameserver/filestore_ops.h"

namespace chainfs::nameserver {

namespace {

class ClientOps final : public FileStoreOps {
 public:
  explicit ClientOps(FileStoreClient* client) : client_(client) {}

  absl::Status Delete(const std::string& address, const std::string& name,
                      int64_t version) override {
    return client_->Delete(address, name, version);
  }
  absl::StatusOr<v1::CopyFileReply> CopyFile(const std::string& address,
                                             const v1::CopyFileRequest& req) override {
    return client_->CopyFile(address, req);
  }
  absl::StatusOr<v1::BumpVersionReply> BumpVersion(const std::string& address,
                                                   const v1::BumpVersionRequest& req) override {
    return client_->BumpVersion(address, req);
  }
  absl::StatusOr<v1::CloneReply> Clone(const std::string& address,
                                       const v1::CloneRequest& req) override {
    return client_->Clone(address, req);
  }

 private:
  FileStoreClient* const client_;
};

}  // namespace

std::unique_ptr<FileStoreOps> NewFileStoreOps(FileStoreClient* client) {
  return std::make_unique<ClientOps>(client);
}

}  // namespace chainfs::nameserver
