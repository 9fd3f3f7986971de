// The block-list form of a content checksum, for sparse content: the content is cut into
// blocks of kChecksumBlockBytes (the last one may be short), each block gets its XXH3-64, and
// the whole content's checksum is the XXH3-64 of those block checksums as little-endian
// 64-bit words. A run of zeros (a hole) is hashed once per block length, never streamed, so a
// 3 GiB file with one byte of data is checksummed in microseconds. It depends on the content
// alone: a block of written zeros and a hole give the same checksum.
// CreateClose.block_checksum and ObjectMetaRecord.checksum_format name this form; the other
// one (XXH3-64 of the whole content, streamed) stays for dense content and old objects.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/checksum.h"

namespace chainfs {

inline constexpr int64_t kChecksumBlockBytes = 64 * 1024;

// XXH3-64 of `length` zero bytes (length <= kChecksumBlockBytes).
uint64_t ZeroBlockChecksum(int64_t length);

// XXH3-64 of the checksums as little-endian words.
uint64_t BlockListChecksum(const std::vector<uint64_t>& block_checksums);

// Content given in order, as data or as runs of zeros; keeps the block checksums.
class BlockChecksummer {
 public:
  void Data(std::string_view data);
  void Zeros(int64_t length);
  int64_t size() const { return size_; }
  // The checksum of every block so far, the last one possibly short.
  std::vector<uint64_t> Blocks() const;
  // BlockListChecksum(Blocks()).
  uint64_t Digest() const { return BlockListChecksum(Blocks()); }

 private:
  void EndBlock();

  std::vector<uint64_t> blocks_;
  StreamingChecksum block_;
  int64_t fill_ = 0;  // bytes in the current block
  int64_t size_ = 0;
};

}  // namespace chainfs
