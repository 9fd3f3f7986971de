// ObjectWriter: an object's content streamed to a temp file (O_DIRECT where the file system
// allows it), checksummed per block, then written (and in sync mode synced) with its meta, ready
// for the commit.
#include <fcntl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "common/status.h"
#include "servers/filestore/object_store.h"
#include "servers/filestore/object_store_internal.h"

namespace chainfs::filestore {
namespace {

constexpr int64_t kWritebackBytes = 8 << 20;

}  // namespace

ObjectWriter::ObjectWriter(ObjectStore* store, v1::FileInfo file)
    : store_(store), file_(std::move(file)), buffer_(store->TakeBuffer()) {}

ObjectWriter::~ObjectWriter() {
  data_.reset();
  if (!temp_path_.empty()) store_->RemoveFile(temp_path_);
  meta_file_.reset();  // removes its temp file when not committed
  store_->ReturnBuffer(buffer_);
  store_->Release(reserved_);
}

absl::Status ObjectWriter::Append(std::string_view data) {
  if (finished_) return absl::FailedPreconditionError("object writer is closed");
  CHAINFS_RETURN_IF_ERROR(store_->Reserve(static_cast<int64_t>(data.size())));
  reserved_ += static_cast<int64_t>(data.size());
  if (!sparse_) whole_.Update(data);
  blocks_.Data(data);
  while (!data.empty()) {
    size_t take = std::min(data.size(), internal::kWriteBufferBytes - fill_);
    std::memcpy(buffer_ + fill_, data.data(), take);
    fill_ += take;
    size_ += static_cast<int64_t>(take);
    data.remove_prefix(take);
    if (fill_ == internal::kWriteBufferBytes) CHAINFS_RETURN_IF_ERROR(WriteBuffer(false));
  }
  if (data_ && !direct_ && size_ - flushed_ >= kWritebackBytes) {
    // Start writeback early so that the final fsync finds little left to do (a hint only:
    // durability comes from the File's Sync).
    ::sync_file_range(data_->fd(), flushed_, size_ - flushed_, SYNC_FILE_RANGE_WRITE);
    flushed_ = size_;
  }
  return absl::OkStatus();
}

absl::Status ObjectWriter::OpenData() {
  CHAINFS_ASSIGN_OR_RETURN(std::string temp, store_->NewTempPath(file_.name()));
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL;
  direct_ = !buffered_;
  auto data = store_->env_->Open(temp, direct_ ? kFlags | O_DIRECT : kFlags);
  if (direct_ && data.status().code() == absl::StatusCode::kInvalidArgument) {
    direct_ = false;  // the file system has no O_DIRECT (tmpfs)
    data = store_->env_->Open(temp, kFlags);
  }
  if (!data.ok()) return data.status();
  data_ = std::move(*data);
  temp_path_ = std::move(temp);
  return absl::OkStatus();
}

absl::Status ObjectWriter::WriteBuffer(bool last) {
  if (!data_) CHAINFS_RETURN_IF_ERROR(OpenData());
  const int64_t offset = size_ - static_cast<int64_t>(fill_);
  size_t whole = direct_ ? fill_ - fill_ % internal::kDirectAlign : fill_;
  if (whole > 0) {
    CHAINFS_RETURN_IF_ERROR(data_->WriteAt(std::string_view(buffer_, whole), offset));
  }
  size_t tail = fill_ - whole;
  if (tail > 0) {
    // Only the last write may end off a disk block: it goes through the page cache.
    if (!last) return absl::InternalError("unaligned write before the end");
    ::fcntl(data_->fd(), F_SETFL, ::fcntl(data_->fd(), F_GETFL) & ~O_DIRECT);
    direct_ = false;
    CHAINFS_RETURN_IF_ERROR(data_->WriteAt(std::string_view(buffer_ + whole, tail),
                                           offset + static_cast<int64_t>(whole)));
  }
  fill_ = 0;
  return absl::OkStatus();
}

absl::Status ObjectWriter::EndDirect() {
  if (!data_) CHAINFS_RETURN_IF_ERROR(OpenData());
  CHAINFS_RETURN_IF_ERROR(WriteBuffer(true));
  if (direct_) {
    ::fcntl(data_->fd(), F_SETFL, ::fcntl(data_->fd(), F_GETFL) & ~O_DIRECT);
    direct_ = false;
  }
  return absl::OkStatus();
}

absl::Status ObjectWriter::Skip(int64_t length) {
  if (finished_) return absl::FailedPreconditionError("object writer is closed");
  if (length < 0) return absl::InvalidArgumentError("negative hole");
  if (temp_path_.empty() && size_ + length <= static_cast<int64_t>(kInlineBytes)) {
    return Append(std::string(static_cast<size_t>(length), '\0'));  // at most kInlineBytes
  }
  if (length == 0) return absl::OkStatus();
  CHAINFS_RETURN_IF_ERROR(EndDirect());
  sparse_ = true;
  blocks_.Zeros(length);
  size_ += length;
  flushed_ = size_;
  return absl::OkStatus();
}

absl::Status ObjectWriter::AppendSparse(std::string_view data) {
  while (!data.empty()) {
    const size_t take = std::min<size_t>(data.size(), kBlockBytes - size_ % kBlockBytes);
    std::string_view piece = data.substr(0, take);
    data.remove_prefix(take);
    const bool zeros = take == kBlockBytes && piece.find_first_not_of('\0') == piece.npos;
    CHAINFS_RETURN_IF_ERROR(zeros ? Skip(static_cast<int64_t>(take)) : Append(piece));
  }
  return absl::OkStatus();
}

absl::Status ObjectWriter::Check(int64_t size, uint64_t checksum, bool block_checksum) {
  if (block_checksum && size > size_) CHAINFS_RETURN_IF_ERROR(Skip(size - size_));
  if (!block_checksum && sparse_) {
    return absl::InvalidArgumentError(fmt::format(
        "{}@{}: content with holes needs a block-list checksum", file_.name(), file_.version()));
  }
  const uint64_t received = block_checksum ? blocks_.Digest() : whole_.Digest();
  if (size != size_ || checksum != received) {
    return absl::DataLossError(
        fmt::format("{}@{}: received {} bytes with checksum {:016x}, the sender announced {} "
                    "bytes with checksum {:016x}",
                    file_.name(), file_.version(), size_, received, size, checksum));
  }
  return absl::OkStatus();
}

absl::Status ObjectWriter::Finish(int64_t size, uint64_t checksum, bool block_checksum) {
  if (finished_) return absl::OkStatus();
  CHAINFS_RETURN_IF_ERROR(Check(size, checksum, block_checksum));
  meta_.block_checksums = blocks_.Blocks();
  if (temp_path_.empty() && size_ <= static_cast<int64_t>(kInlineBytes)) {
    meta_.inline_content = true;
    meta_.content.assign(buffer_, fill_);
    fill_ = 0;
  } else if (data_ || temp_path_.empty()) {  // else synced by an earlier attempt
    CHAINFS_RETURN_IF_ERROR(WriteBuffer(true));
    // A hole at the end is in the size only.
    if (sparse_) CHAINFS_RETURN_IF_ERROR(data_->Truncate(size_));
    if (store_->SyncsEachCommit()) CHAINFS_RETURN_IF_ERROR(data_->Sync());
    data_.reset();
  }
  meta_.file = file_;
  meta_.file.set_size(size_);
  meta_.file.set_tombstone(false);
  meta_.checksum_format = block_checksum ? kBlockListChecksum : kWholeChecksum;
  meta_.checksum = block_checksum ? blocks_.Digest() : whole_.Digest();
  meta_.block_bytes = kBlockBytes;
  CHAINFS_ASSIGN_OR_RETURN(AtomicFile meta_file, store_->WriteMeta(meta_));
  meta_file_.emplace(std::move(meta_file));
  finished_ = true;
  return absl::OkStatus();
}

absl::StatusOr<v1::FileInfo> ObjectWriter::Commit(int64_t size, uint64_t checksum,
                                                  bool block_checksum) {
  const TimePoint start = store_->clock_->Now();
  CHAINFS_RETURN_IF_ERROR(Finish(size, checksum, block_checksum));
  if (!meta_file_) return absl::FailedPreconditionError("object already committed");
  std::string temp = std::move(temp_path_);
  temp_path_.clear();
  AtomicFile meta_file = std::move(*meta_file_);
  meta_file_.reset();
  absl::StatusOr<v1::FileInfo> installed = store_->Install(meta_, temp, -1, &meta_file);
  if (installed.ok()) {
    store_->metrics_.commit_seconds.Observe(ToSeconds(store_->clock_->Now() - start));
  }
  return installed;
}

}  // namespace chainfs::filestore
