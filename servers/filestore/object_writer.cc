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
  whole_.Update(data);
  for (std::string_view rest = data; !rest.empty();) {
    size_t take = std::min<size_t>(rest.size(), kBlockBytes - block_fill_);
    block_.Update(rest.substr(0, take));
    block_fill_ += static_cast<uint32_t>(take);
    if (block_fill_ == kBlockBytes) FinishBlock();
    rest.remove_prefix(take);
  }
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
  direct_ = true;
  auto data = store_->env_->Open(temp, kFlags | O_DIRECT);
  if (data.status().code() == absl::StatusCode::kInvalidArgument) {
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

void ObjectWriter::FinishBlock() {
  meta_.block_checksums.push_back(block_.Digest());
  block_.Reset();
  block_fill_ = 0;
}

absl::Status ObjectWriter::Finish(int64_t size, uint64_t checksum) {
  if (finished_) return absl::OkStatus();
  if (size != size_ || checksum != whole_.Digest()) {
    return absl::DataLossError(
        fmt::format("{}@{}: received {} bytes with checksum {:016x}, the sender announced {} "
                    "bytes with checksum {:016x}",
                    file_.name(), file_.version(), size_, whole_.Digest(), size, checksum));
  }
  if (block_fill_ > 0) FinishBlock();
  if (temp_path_.empty() && size_ <= static_cast<int64_t>(kInlineBytes)) {
    meta_.inline_content = true;
    meta_.content.assign(buffer_, fill_);
    fill_ = 0;
  } else if (data_ || temp_path_.empty()) {  // else synced by an earlier attempt
    CHAINFS_RETURN_IF_ERROR(WriteBuffer(true));
    if (store_->SyncsEachCommit()) CHAINFS_RETURN_IF_ERROR(data_->Sync());
    data_.reset();
  }
  meta_.file = file_;
  meta_.file.set_size(size_);
  meta_.file.set_tombstone(false);
  meta_.checksum = whole_.Digest();
  meta_.block_bytes = kBlockBytes;
  CHAINFS_ASSIGN_OR_RETURN(AtomicFile meta_file, store_->WriteMeta(meta_));
  meta_file_.emplace(std::move(meta_file));
  finished_ = true;
  return absl::OkStatus();
}

absl::StatusOr<v1::FileInfo> ObjectWriter::Commit(int64_t size, uint64_t checksum) {
  const TimePoint start = store_->clock_->Now();
  CHAINFS_RETURN_IF_ERROR(Finish(size, checksum));
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
