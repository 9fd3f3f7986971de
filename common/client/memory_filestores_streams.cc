// MemoryFileStores: its streams (create streams, CreateSmall calls, readers) and ReadSmall.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "common/block_checksum.h"
#include "common/checksum.h"
#include "common/client/failover_reader.h"
#include "common/client/memory_filestores.h"
#include "common/names.h"
#include "common/status.h"

namespace chainfs {
namespace {

// A create that already ran: Finish answers its result.
class DoneCall final : public FileStoreApi::CreateCall {
 public:
  explicit DoneCall(absl::StatusOr<v1::CreateReply> result) : result_(std::move(result)) {}
  absl::StatusOr<v1::CreateReply> Finish() override { return result_; }

 private:
  absl::StatusOr<v1::CreateReply> result_;
};

}  // namespace

class MemoryFileStores::StreamImpl final : public FileStoreApi::CreateStream {
 public:
  // `base`: the content of the base version the stream builds on, if any.
  StreamImpl(MemoryFileStores* owner, v1::FileInfo file, std::vector<std::string> chain,
             bool forwarded, std::string_view token, std::optional<std::string> base)
      : owner_(owner),
        file_(std::move(file)),
        chain_(std::move(chain)),
        forwarded_(forwarded),
        token_(token),
        on_base_(base.has_value()),
        content_(std::move(base).value_or("")) {}

  absl::Status Write(std::string* chunk) override {
    if (closed_) return absl::FailedPreconditionError("write after close");
    if (on_base_) return absl::InvalidArgumentError("a create on a base sends extents");
    content_.append(*chunk);
    sent_ = static_cast<int64_t>(content_.size());
    return absl::OkStatus();
  }
  absl::Status WriteExtent(int64_t offset, std::string* chunk) override {
    CHAINFS_RETURN_IF_ERROR(Place(offset, static_cast<int64_t>(chunk->size())));
    content_.replace(static_cast<size_t>(offset), chunk->size(), *chunk);
    return absl::OkStatus();
  }
  absl::Status WriteHole(int64_t offset, int64_t length) override {
    if (!on_base_) return absl::InvalidArgumentError("a hole extent needs a base");
    CHAINFS_RETURN_IF_ERROR(Place(offset, length));
    content_.replace(static_cast<size_t>(offset), static_cast<size_t>(length),
                     static_cast<size_t>(length), '\0');
    return absl::OkStatus();
  }
  absl::Status Close(int64_t size, uint64_t checksum, bool block_checksum = false) override {
    if (closed_) return absl::FailedPreconditionError("closed twice");
    closed_ = true;
    if (on_base_) {
      if (!block_checksum) return absl::InvalidArgumentError("a base needs a block-list checksum");
      content_.resize(static_cast<size_t>(std::max(size, sent_)), '\0');
    }
    if (block_checksum) {
      // The hole at the end, then the block-list form checked here and the whole form below.
      if (size > static_cast<int64_t>(content_.size())) content_.resize(size, '\0');
      BlockChecksummer blocks;
      blocks.Data(content_);
      checksum = blocks.Digest() == checksum ? Checksum(content_) : ~Checksum(content_);
    }
    result_ = owner_->CreateVerified(file_, chain_, std::move(content_), size, checksum, forwarded_,
                                     token_);
    return absl::OkStatus();
  }
  absl::StatusOr<v1::CreateReply> Finish() override {
    if (!closed_) return absl::CancelledError("create stream ended before close");
    return result_;
  }

 private:
  // Checks an extent of `length` bytes at `offset` and makes room for it.
  absl::Status Place(int64_t offset, int64_t length) {
    if (closed_) return absl::FailedPreconditionError("write after close");
    if (offset < sent_) return absl::InvalidArgumentError("extents go forward");
    sent_ = offset + length;
    if (static_cast<int64_t>(content_.size()) < sent_) {
      content_.resize(static_cast<size_t>(sent_), '\0');
    }
    return absl::OkStatus();
  }

  MemoryFileStores* owner_;
  v1::FileInfo file_;
  std::vector<std::string> chain_;
  bool forwarded_;
  std::string token_;
  const bool on_base_;
  std::string content_;
  int64_t sent_ = 0;  // extents end here
  bool closed_ = false;
  absl::StatusOr<v1::CreateReply> result_;
};

class MemoryFileStores::ReaderImpl final : public FailoverReader {
 public:
  ReaderImpl(MemoryFileStores* owner, std::string name, std::vector<std::string> holders)
      : FailoverReader(std::move(name), std::move(holders)), owner_(owner) {}

 private:
  absl::StatusOr<v1::FileInfo> Open(const std::string& address, int64_t version) override {
    CHAINFS_ASSIGN_OR_RETURN(Object object, owner_->OpenOn(address, name(), version));
    content_ = std::move(object.content);
    return object.info;
  }
  absl::Status ReadOpened(int64_t offset, size_t length, char* buf, size_t* done) override {
    if (!content_) return absl::UnavailableError(fmt::format("{}: no open holder", name()));
    CHAINFS_RETURN_IF_ERROR(owner_->CheckRead(address(), name(), info().version()));
    std::memcpy(buf + *done, content_->data() + offset + *done, length - *done);
    *done = length;
    return absl::OkStatus();
  }
  void Close() override { content_.reset(); }

  MemoryFileStores* owner_;
  std::shared_ptr<const std::string> content_;  // of the version opened, as a descriptor
};

absl::StatusOr<v1::CreateReply> MemoryFileStores::CreateVerified(
    const v1::FileInfo& file, const std::vector<std::string>& chain, std::string content,
    int64_t size, uint64_t checksum, bool forwarded, std::string_view token) {
  if (size != static_cast<int64_t>(content.size()) || checksum != Checksum(content)) {
    return absl::DataLossError(
        fmt::format("create {}@{}: received {} bytes, the sender announced "
                    "{} (or the checksum differs)",
                    file.name(), file.version(), content.size(), size));
  }
  return CreateOnChain(file, chain, std::move(content), forwarded, token);
}

absl::StatusOr<std::unique_ptr<FileStoreApi::CreateStream>> MemoryFileStores::OpenCreateStream(
    const v1::FileInfo& file, const std::vector<std::string>& chain, int64_t /*expected_size*/,
    const grpc::ServerContext* parent, std::string_view token, int64_t base_version) {
  if (chain.empty()) return absl::InvalidArgumentError("create needs a chain of FileStores");
  std::optional<std::string> base;
  if (base_version > 0) {
    // Every member builds on its own copy: each must hold exactly that version.
    std::lock_guard lock(mu_);
    for (const std::string& address : chain) {
      const auto& objects = stores_[address].objects;
      auto it = objects.find(file.name());
      if (it == objects.end() || it->second.info.version() != base_version ||
          it->second.info.tombstone()) {
        return ChainMemberFailure(
            Error(v1::ERROR_BASE_MISSING,
                  fmt::format("{}@{} is not held on {}", file.name(), base_version, address)),
            address, "create on a base");
      }
      if (!base) base = *it->second.content;
    }
  }
  return std::unique_ptr<CreateStream>(
      std::make_unique<StreamImpl>(this, file, chain, parent != nullptr, token, std::move(base)));
}

absl::StatusOr<std::unique_ptr<FileStoreApi::CreateCall>> MemoryFileStores::StartCreateSmall(
    const v1::FileInfo& file, const std::vector<std::string>& chain, std::string content,
    uint64_t checksum, const grpc::ServerContext* parent, std::string_view token) {
  if (chain.empty()) return absl::InvalidArgumentError("create needs a chain of FileStores");
  const auto size = static_cast<int64_t>(content.size());
  return std::unique_ptr<CreateCall>(std::make_unique<DoneCall>(
      CreateVerified(file, chain, std::move(content), size, checksum, parent != nullptr, token)));
}

absl::StatusOr<std::unique_ptr<FileStoreApi::Reader>> MemoryFileStores::OpenReader(
    const std::string& name, int64_t version, const std::vector<std::string>& holders,
    const grpc::ServerContext* /*parent*/) {
  auto reader = std::make_unique<ReaderImpl>(this, name, holders);
  CHAINFS_RETURN_IF_ERROR(reader->OpenNext(version));
  return std::unique_ptr<Reader>(std::move(reader));
}

absl::StatusOr<std::string> MemoryFileStores::ReadAll(const std::string& name, int64_t version,
                                                      const std::vector<std::string>& holders) {
  CHAINFS_ASSIGN_OR_RETURN(auto reader, OpenReader(name, version, holders));
  std::string out(static_cast<size_t>(reader->info().size()), '\0');
  CHAINFS_ASSIGN_OR_RETURN(size_t n, reader->ReadAt(0, out.size(), out.data()));
  if (n != out.size()) return absl::DataLossError(fmt::format("{}: ended early", name));
  return out;
}

absl::StatusOr<v1::ReadSmallReply> MemoryFileStores::ReadSmall(
    const std::string& name, int64_t version, const std::vector<std::string>& holders) {
  CHAINFS_RETURN_IF_ERROR(ValidateName(name));
  if (version < 0) return absl::InvalidArgumentError("negative version");
  return ReadSmallFromHolders(
      name, version, holders,
      [&](const std::string& address) -> absl::StatusOr<v1::ReadSmallReply> {
        CHAINFS_ASSIGN_OR_RETURN(Object object, OpenOn(address, name, version, Method::kReadSmall));
        if (object.info.tombstone()) return absl::NotFoundError(fmt::format("{} is deleted", name));
        if (object.info.size() > static_cast<int64_t>(kMaxChunkBytes)) {
          return absl::FailedPreconditionError(
              fmt::format("{} has {} bytes, over ReadSmall's limit", name, object.info.size()));
        }
        v1::ReadSmallReply reply;
        *reply.mutable_info() = std::move(object.info);
        *reply.mutable_content() = *object.content;
        return reply;
      });
}

}  // namespace chainfs
