#include "servers/nameserver/filestore_ops.h"

#include <thread>

namespace chainfs::nameserver {

namespace {

// Runs fn(0..n-1) concurrently (n is a handful of FileStores).
template <typename Fn>
void ParallelFor(size_t n, Fn fn) {
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n; ++i) threads.emplace_back([&fn, i] { fn(i); });
  if (n > 0) fn(0);
  for (auto& t : threads) t.join();
}

}  // namespace

std::vector<absl::Status> FileStoreOps::DeleteOnEach(const std::vector<std::string>& addresses,
                                                     const std::string& name, int64_t version) {
  std::vector<absl::Status> out(addresses.size());
  ParallelFor(addresses.size(), [&](size_t i) { out[i] = Delete(addresses[i], name, version); });
  return out;
}

std::vector<absl::StatusOr<v1::CloneReply>> FileStoreOps::CloneOnEach(
    const std::vector<std::string>& addresses, const v1::CloneRequest& req) {
  std::vector<absl::StatusOr<v1::CloneReply>> out(addresses.size(), absl::UnknownError("not run"));
  ParallelFor(addresses.size(), [&](size_t i) { out[i] = Clone(addresses[i], req); });
  return out;
}

namespace {

class ClientOps final : public FileStoreOps {
 public:
  explicit ClientOps(FileStoreApi* client) : client_(client) {}

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
  std::vector<absl::Status> DeleteOnEach(const std::vector<std::string>& addresses,
                                         const std::string& name, int64_t version) override {
    return client_->DeleteOnEach(addresses, name, version);
  }
  std::vector<absl::StatusOr<v1::CloneReply>> CloneOnEach(const std::vector<std::string>& addresses,
                                                          const v1::CloneRequest& req) override {
    return client_->CloneOnEach(addresses, req);
  }

 private:
  FileStoreApi* const client_;
};

}  // namespace

std::unique_ptr<FileStoreOps> NewFileStoreOps(FileStoreApi* client) {
  return std::make_unique<ClientOps>(client);
}

}  // namespace chainfs::nameserver
