// FileStore.Create's stream: the header, then data (appended) or extents (data at an offset,
// holes between), then the close; each part forwarded down the chain as it arrives.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include "common/client/xattr_rules.h"
#include "common/status.h"
#include "servers/filestore/filestore_service.h"
#include "servers/filestore/log.h"

namespace chainfs::filestore {
namespace {

// The largest file size a create may announce (ext4's limit).
constexpr int64_t kMaxCreateBytes = int64_t{16} << 40;

}  // namespace

absl::StatusOr<v1::CreateReply> FileStoreService::DoCreate(
    grpc::ServerContext* ctx, grpc::ServerReader<v1::CreateRequest>* reader) {
  v1::CreateRequest req;
  if (!reader->Read(&req)) return absl::CancelledError("create stream ended before its header");
  if (!req.has_header()) return absl::InvalidArgumentError("create must start with a header");
  const v1::CreateHeader header = req.header();
  CHAINFS_RETURN_IF_ERROR(ValidateHeader(header));
  v1::FileInfo file = header.file();
  const std::string what = fmt::format("create {}@{}", file.name(), file.version());
  CHAINFS_ASSIGN_OR_RETURN(auto writer, store_->StartCreate(file, header.expected_size()));

  // The rest of the chain, cancelled with this call unless it finishes.
  std::unique_ptr<FileStoreApi::CreateStream> down;
  if (header.chain_size() > 0) {
    const std::vector<std::string> rest(header.chain().begin(), header.chain().end());
    auto opened =
        filestores_->OpenCreateStream(file, rest, header.expected_size(), ctx, header.token());
    CHAINFS_RETURN_IF_ERROR(Forwarded(opened.status()));
    down = *std::move(opened);
  }

  bool closed = false;
  while (!closed && reader->Read(&req)) {
    const bool extent = req.part_case() == v1::CreateRequest::kExtent;
    if (req.part_case() == v1::CreateRequest::kClose) {
      closed = true;
      continue;
    }
    if (!extent && req.part_case() != v1::CreateRequest::kData) {
      return absl::InvalidArgumentError(fmt::format("{}: a second header", what));
    }
    std::string* data = extent ? req.mutable_extent()->mutable_data() : req.mutable_data();
    if (data->size() > kMaxChunkBytes) {
      return absl::InvalidArgumentError(fmt::format("{}: chunk of {} bytes, the limit is {}", what,
                                                    data->size(), kMaxChunkBytes));
    }
    const int64_t offset = extent ? req.extent().offset() : writer->size();
    if (offset < writer->size() || offset > kMaxCreateBytes) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: extent at {} after {} bytes (extents go forward)", what, offset, writer->size()));
    }
    // Forward first, so the next FileStore works while this one writes.
    if (down) {
      CHAINFS_RETURN_IF_ERROR(
          Forwarded(extent ? down->WriteExtent(offset, data) : down->Write(data)));
    }
    CHAINFS_RETURN_IF_ERROR(writer->Skip(offset - writer->size()));
    CHAINFS_RETURN_IF_ERROR(writer->Append(*data));
  }
  if (!closed) return absl::CancelledError(fmt::format("{}: stream ended before close", what));
  const v1::CreateClose close = req.close();
  // Close is the last message: anything after it is a broken sender, and nothing commits.
  if (reader->Read(&req)) return absl::InvalidArgumentError("a message after close");
  if (close.size() < 0 || close.size() > kMaxCreateBytes) {
    return absl::InvalidArgumentError("bad size in close");
  }
  CHAINFS_RETURN_IF_ERROR(ValidateContentSize(file.kind(), close.size()));
  // Verified before the chain is told to commit.
  CHAINFS_RETURN_IF_ERROR(writer->Check(close.size(), close.checksum(), close.block_checksum()));
  if (down) {
    CHAINFS_RETURN_IF_ERROR(
        Forwarded(down->Close(close.size(), close.checksum(), close.block_checksum())));
  }
  // Commit here while the rest of the chain does the same: every copy is whole and
  // verified before it commits, so none is ever a partial object, and the caller hears of
  // success only once every member has committed and the NameServer recorded it.
  CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo info,
                           writer->Commit(close.size(), close.checksum(), close.block_checksum()));
  return Committed(info, header, down.get(), what);
}

}  // namespace chainfs::filestore
