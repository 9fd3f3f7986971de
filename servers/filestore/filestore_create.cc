// FileStore.Create's stream: the header, then data (appended) or extents (data at an offset,
// holes between), then the close; each part forwarded down the chain as it arrives. On a base
// version (CreateHeader.base_version) the bytes between extents come from this FileStore's own
// copy of the base instead: only the changes cross the network.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <string>

#include "common/client/xattr_rules.h"
#include "common/status.h"
#include "servers/filestore/filestore_service.h"
#include "servers/filestore/log.h"

namespace chainfs::filestore {
namespace {

// The largest file size a create may announce (ext4's limit).
constexpr int64_t kMaxCreateBytes = int64_t{16} << 40;
constexpr int64_t kBaseCopyBytes = 1 << 20;
// Objects built on a base up to this size are written through the page cache: faster to commit
// (bench/changes_bench.sh: a 32 MiB sqlite database commits 1.4x faster than with O_DIRECT).
// Larger ones go O_DIRECT as every upload does: hundreds of MiB of dirty pages per member
// slowed a 1 MiB append to 512 MiB 1.6x.
constexpr int64_t kBufferedBaseBytes = int64_t{64} << 20;

}  // namespace

// The base a create builds on: its content goes into the new object wherever the stream
// sends nothing, in order, holes kept as holes. Every byte copied is verified (ObjectReader); a
// base that fails that is dropped as corrupt (`corrupt`) and the create answers
// ERROR_BASE_MISSING, so that the client uploads the whole content instead.
class BaseCopy {
 public:
  using CorruptFn = std::function<void(const v1::FileInfo&, const absl::Status&)>;
  BaseCopy(std::unique_ptr<ObjectReader> base, CorruptFn corrupt)
      : base_(std::move(base)), corrupt_(std::move(corrupt)) {}

  // Copies the base's bytes from where `writer` ends up to `end` (no further than the base).
  absl::Status CopyTo(ObjectWriter& writer, int64_t end) {
    end = std::min(end, base_->info().size());
    while (writer.size() < end) {
      const int64_t at = writer.size();
      const int64_t data = std::min(end, base_->NextData(at));
      if (data > at) {
        CHAINFS_RETURN_IF_ERROR(writer.Skip(data - at));
        continue;
      }
      // Pieces end on kBaseCopyBytes, a multiple of the checksum block: no block read twice.
      const int64_t piece_end = std::min(end, (at / kBaseCopyBytes + 1) * kBaseCopyBytes);
      buffer_.resize(static_cast<size_t>(piece_end - at));
      absl::StatusOr<size_t> n = base_->ReadAt(at, buffer_.size(), buffer_.data());
      if (!n.ok() || *n == 0) {
        absl::Status st = n.ok() ? absl::DataLossError("the base ended early") : n.status();
        if (absl::IsDataLoss(st)) corrupt_(base_->info(), st);
        return Missing(std::string(st.message()));
      }
      CHAINFS_RETURN_IF_ERROR(writer.AppendSparse(std::string_view(buffer_.data(), *n)));
    }
    return absl::OkStatus();
  }

  int64_t size() const { return base_->info().size(); }

  // The base here is not the one the client built on (the built content fails its checksum),
  // or it is unreadable.
  absl::Status Missing(std::string_view why) const {
    return Error(v1::ERROR_BASE_MISSING, fmt::format("built on {}@{}: {}", base_->info().name(),
                                                     base_->info().version(), why));
  }

 private:
  std::unique_ptr<ObjectReader> base_;
  CorruptFn corrupt_;
  std::string buffer_;
};

absl::StatusOr<std::unique_ptr<BaseCopy>> FileStoreService::OpenBase(const v1::FileInfo& file,
                                                                     int64_t version) {
  auto base = store_->OpenObject(file.name(), version);
  if (absl::IsNotFound(base.status()) || (base.ok() && (*base)->info().tombstone())) {
    return Error(v1::ERROR_BASE_MISSING,
                 fmt::format("create {}@{}: base version {} is not held here", file.name(),
                             file.version(), version));
  }
  CHAINFS_RETURN_IF_ERROR(base.status());
  return std::make_unique<BaseCopy>(*std::move(base),
                                    [this](const v1::FileInfo& corrupt, const absl::Status& st) {
                                      Corrupt(corrupt.name(), corrupt.version(), st);
                                    });
}

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
  std::unique_ptr<BaseCopy> base;
  if (header.base_version() > 0) {
    CHAINFS_ASSIGN_OR_RETURN(base, OpenBase(file, header.base_version()));
    if (base->size() <= kBufferedBaseBytes) writer->PreferBuffered();
  }

  // The rest of the chain, cancelled with this call unless it finishes.
  std::unique_ptr<FileStoreApi::CreateStream> down;
  if (header.chain_size() > 0) {
    const std::vector<std::string> rest(header.chain().begin(), header.chain().end());
    auto opened = filestores_->OpenCreateStream(file, rest, header.expected_size(), ctx,
                                                header.token(), header.base_version());
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
    const int64_t hole = extent ? req.extent().hole() : 0;
    if (offset < writer->size() || offset > kMaxCreateBytes) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: extent at {} after {} bytes (extents go forward)", what, offset, writer->size()));
    }
    if (base && !extent) return absl::InvalidArgumentError("a create on a base sends extents");
    if (hole < 0 || hole > kMaxCreateBytes - offset || (hole > 0 && (!base || !data->empty()))) {
      return absl::InvalidArgumentError(fmt::format("{}: bad hole extent at {}", what, offset));
    }
    // Forward first, so the next FileStore works while this one writes.
    if (down) {
      CHAINFS_RETURN_IF_ERROR(Forwarded(hole > 0 ? down->WriteHole(offset, hole)
                                        : extent ? down->WriteExtent(offset, data)
                                                 : down->Write(data)));
    }
    received_bytes_.Increment(static_cast<double>(data->size()));
    if (base) CHAINFS_RETURN_IF_ERROR(base->CopyTo(*writer, offset));
    CHAINFS_RETURN_IF_ERROR(writer->Skip(offset - writer->size()));
    CHAINFS_RETURN_IF_ERROR(hole > 0 ? writer->Skip(hole) : writer->Append(*data));
  }
  if (!closed) return absl::CancelledError(fmt::format("{}: stream ended before close", what));
  const v1::CreateClose close = req.close();
  // Close is the last message: anything after it is a broken sender, and nothing commits.
  if (reader->Read(&req)) return absl::InvalidArgumentError("a message after close");
  if (close.size() < 0 || close.size() > kMaxCreateBytes) {
    return absl::InvalidArgumentError("bad size in close");
  }
  CHAINFS_RETURN_IF_ERROR(ValidateContentSize(file.kind(), close.size()));
  auto close_down = [&] {
    return down ? Forwarded(down->Close(close.size(), close.checksum(), close.block_checksum()))
                : absl::OkStatus();
  };
  if (base) {
    if (!close.block_checksum()) {
      return absl::InvalidArgumentError("a create on a base closes with a block-list checksum");
    }
    // Each member checks what it built itself: the rest of the chain copies the rest of its
    // base meanwhile, not after this one.
    CHAINFS_RETURN_IF_ERROR(close_down());
    CHAINFS_RETURN_IF_ERROR(base->CopyTo(*writer, close.size()));
  }
  // Verified (unless built on a base) before the chain is told to commit.
  if (absl::Status st = writer->Check(close.size(), close.checksum(), close.block_checksum());
      !st.ok()) {
    return base && absl::IsDataLoss(st) ? base->Missing(std::string(st.message())) : st;
  }
  if (!base) CHAINFS_RETURN_IF_ERROR(close_down());
  // Commit here while the rest of the chain does the same: every copy is whole and
  // verified before it commits, so none is ever a partial object, and the caller hears of
  // success only once every member has committed and the NameServer recorded it.
  CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo info,
                           writer->Commit(close.size(), close.checksum(), close.block_checksum()));
  if (base) base_builds_.Increment();
  return Committed(info, header, down.get(), what);
}

}  // namespace chainfs::filestore
