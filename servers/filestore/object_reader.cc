// ObjectReader: ranged reads of a committed object, every block verified against its checksum.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/status.h"
#include "servers/filestore/object_store.h"

namespace chainfs::filestore {
namespace {

constexpr int64_t kPrefetchBytes = 8 << 20;

}  // namespace

ObjectReader::ObjectReader(std::shared_ptr<const ObjectMeta> meta, std::unique_ptr<File> data,
                           std::string content)
    : meta_(std::move(meta)), data_(std::move(data)), content_(std::move(content)) {}

ObjectReader::~ObjectReader() = default;

absl::Status ObjectReader::ReadBlocks(int64_t first_block, int64_t end, char* out) {
  const int64_t block = meta_->block_bytes;
  const int64_t start = first_block * block;
  const size_t total = static_cast<size_t>(end - start);
  size_t done = 0;
  if (!meta_->inline_content) {
    CHAINFS_ASSIGN_OR_RETURN(done, data_->ReadAt(out, total, start));
  } else if (static_cast<int64_t>(content_.size()) >= end) {
    std::memcpy(out, content_.data() + start, total);
    done = total;
  }
  if (done < total) {
    return absl::DataLossError(
        fmt::format("{}@{}: content is shorter than recorded", info().name(), info().version()));
  }
  for (int64_t b = first_block; b * block < end; ++b) {
    size_t len = static_cast<size_t>(std::min(block, end - b * block));
    if (b >= static_cast<int64_t>(meta_->block_checksums.size()) ||
        Checksum(std::string_view(out + (b - first_block) * block, len)) !=
            meta_->block_checksums[static_cast<size_t>(b)]) {
      return absl::DataLossError(
          fmt::format("{}@{}: checksum mismatch in block {}", info().name(), info().version(), b));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> ObjectReader::ReadAt(int64_t offset, size_t length, char* buf) {
  const int64_t size = info().size();
  if (info().tombstone() || offset < 0 || offset >= size || length == 0) return 0;
  const int64_t end = std::min<int64_t>(size, offset + static_cast<int64_t>(length));
  const int64_t block = meta_->block_bytes;
  if (block <= 0) return absl::DataLossError("object has no block size");
  if (data_ && end + kPrefetchBytes / 2 > prefetched_) {
    // Sequential readers find the next blocks already on their way from the disk.
    int64_t from = std::max(prefetched_, offset);
    prefetched_ = std::min(size, end + kPrefetchBytes);
    ::posix_fadvise(data_->fd(), from, prefetched_ - from, POSIX_FADV_WILLNEED);
  }
  const int64_t first = offset / block;
  const int64_t span_end = std::min(size, (end + block - 1) / block * block);
  if (offset % block == 0 && span_end == end) {
    // Whole blocks: read straight into the caller's buffer.
    CHAINFS_RETURN_IF_ERROR(ReadBlocks(first, end, buf));
  } else {
    scratch_.resize(static_cast<size_t>(span_end - first * block));
    CHAINFS_RETURN_IF_ERROR(ReadBlocks(first, span_end, scratch_.data()));
    std::memcpy(buf, scratch_.data() + (offset - first * block), static_cast<size_t>(end - offset));
  }
  return static_cast<size_t>(end - offset);
}

int64_t ObjectReader::NextData(int64_t offset) const {
  const int64_t size = info().size();
  if (!data_ || offset >= size) return std::min(offset, size);
  const off_t data = ::lseek(data_->fd(), offset, SEEK_DATA);
  if (data < 0) return errno == ENXIO ? size : offset;  // unknown: read it
  return std::min<int64_t>(data, size);
}

}  // namespace chainfs::filestore
