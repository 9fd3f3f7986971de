#include "common/client/sparse_upload.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "common/block_checksum.h"
#include "common/file_util.h"
#include "common/status.h"

namespace chainfs {
namespace {

// The largest multiple of the checksum block not above `chunk_bytes` (one block at least).
size_t WholeBlocks(size_t chunk_bytes) {
  const auto block = static_cast<size_t>(kChecksumBlockBytes);
  return std::max(block, chunk_bytes - chunk_bytes % block);
}

// Reads [offset, end) of `fd` in pieces of at most `chunk` bytes into `buffer` and hands each
// to `piece(at, buffer)`. Bytes the file lost meanwhile read as zeros.
template <typename Piece>
absl::Status ReadPieces(int fd, int64_t offset, int64_t end, size_t chunk, std::string& buffer,
                        Piece piece) {
  for (int64_t at = offset; at < end;) {
    const auto want = static_cast<size_t>(std::min<int64_t>(chunk, end - at));
    buffer.assign(want, '\0');
    if (PreadFull(fd, buffer.data(), want, at) < 0) return ErrnoStatus("read upload source", errno);
    CHAINFS_RETURN_IF_ERROR(piece(at, buffer));
    at += static_cast<int64_t>(want);
  }
  return absl::OkStatus();
}

// Walks [offset, end) of `fd` in order: `hole(at, length)` for its holes, `data(at, bytes)`
// for its data in pieces of at most `chunk` bytes. Bytes the file lost meanwhile read as zeros.
template <typename Hole, typename Data>
absl::Status Walk(int fd, int64_t offset, int64_t end, size_t chunk, std::string& buffer, Hole hole,
                  Data data) {
  while (offset < end) {
    off_t next = ::lseek(fd, offset, SEEK_DATA);
    if (next < 0 && errno != ENXIO) return ErrnoStatus("seek data in upload source", errno);
    const int64_t data_at = next < 0 ? end : std::min<int64_t>(next, end);
    if (data_at > offset) {
      CHAINFS_RETURN_IF_ERROR(hole(offset, data_at - offset));
      offset = data_at;
      continue;
    }
    off_t hole_at = ::lseek(fd, offset, SEEK_HOLE);
    if (hole_at < 0) return ErrnoStatus("seek hole in upload source", errno);
    const int64_t data_end = std::min<int64_t>(std::max<int64_t>(hole_at, offset + 1), end);
    CHAINFS_RETURN_IF_ERROR(ReadPieces(fd, offset, data_end, chunk, buffer, data));
    offset = data_end;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<DataExtent>> BlockDataExtents(int fd, int64_t size) {
  std::vector<DataExtent> extents;
  int64_t at = 0;
  while (at < size) {
    off_t data = ::lseek(fd, at, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;  // only a hole is left
    if (data < 0) return ErrnoStatus("seek data in upload source", errno);
    if (data >= size) break;
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    if (hole < 0) return ErrnoStatus("seek hole in upload source", errno);
    DataExtent extent{data - data % kChecksumBlockBytes,
                      std::min<int64_t>(size, (hole + kChecksumBlockBytes - 1) /
                                                  kChecksumBlockBytes * kChecksumBlockBytes)};
    if (!extents.empty() && extent.offset <= extents.back().end) {
      extents.back().end = std::max(extents.back().end, extent.end);
    } else {
      extents.push_back(extent);
    }
    at = std::max<int64_t>(hole, extent.end);
  }
  return extents;
}

int64_t ExtentBytes(const std::vector<DataExtent>& extents) {
  int64_t bytes = 0;
  for (const DataExtent& e : extents) bytes += e.end - e.offset;
  return bytes;
}

absl::Status SendExtents(FileStoreApi::CreateStream& stream, int fd, int64_t size,
                         const std::vector<DataExtent>& extents, size_t chunk_bytes) {
  const size_t chunk = WholeBlocks(chunk_bytes);
  BlockChecksummer checksum;
  std::string data;
  for (const DataExtent& extent : extents) {
    checksum.Zeros(extent.offset - checksum.size());
    CHAINFS_RETURN_IF_ERROR(
        ReadPieces(fd, extent.offset, extent.end, chunk, data, [&](int64_t at, std::string& piece) {
          checksum.Data(piece);
          return stream.WriteExtent(at, &piece);
        }));
  }
  checksum.Zeros(size - checksum.size());
  return stream.Close(size, checksum.Digest(), /*block_checksum=*/true);
}

absl::Status SendChanges(FileStoreApi::CreateStream& stream, int fd, int64_t size,
                         const std::vector<DataExtent>& changed, size_t chunk_bytes) {
  const size_t chunk = WholeBlocks(chunk_bytes);
  BlockChecksummer checksum;
  std::string buffer;
  auto zeros = [&](int64_t, int64_t length) {
    checksum.Zeros(length);
    return absl::OkStatus();
  };
  auto hash = [&](int64_t, const std::string& data) {
    checksum.Data(data);
    return absl::OkStatus();
  };
  int64_t at = 0;
  for (const DataExtent& range : changed) {
    const int64_t begin = std::min(std::max(range.offset, at), size);
    const int64_t end = std::min(range.end, size);
    if (begin >= end) continue;
    CHAINFS_RETURN_IF_ERROR(Walk(fd, at, begin, chunk, buffer, zeros, hash));  // unchanged
    CHAINFS_RETURN_IF_ERROR(Walk(
        fd, begin, end, chunk, buffer,
        [&](int64_t offset, int64_t length) {
          checksum.Zeros(length);
          return stream.WriteHole(offset, length);
        },
        [&](int64_t offset, std::string& data) {
          checksum.Data(data);
          return stream.WriteExtent(offset, &data);
        }));
    at = end;
  }
  CHAINFS_RETURN_IF_ERROR(Walk(fd, at, size, chunk, buffer, zeros, hash));
  return stream.Close(size, checksum.Digest(), /*block_checksum=*/true);
}

}  // namespace chainfs
