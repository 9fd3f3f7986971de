#include "common/block_checksum.h"

#include <algorithm>
#include <array>
#include <string>

namespace chainfs {
namespace {

const std::string& BlockOfZeros() {
  static const std::string zeros(static_cast<size_t>(kChecksumBlockBytes), '\0');
  return zeros;
}

}  // namespace

uint64_t ZeroBlockChecksum(int64_t length) {
  static const uint64_t whole = Checksum(BlockOfZeros());
  if (length == kChecksumBlockBytes) return whole;
  return Checksum(std::string_view(BlockOfZeros()).substr(0, static_cast<size_t>(length)));
}

uint64_t BlockListChecksum(const std::vector<uint64_t>& block_checksums) {
  StreamingChecksum list;
  for (uint64_t c : block_checksums) {
    std::array<char, 8> word;
    for (size_t i = 0; i < word.size(); ++i) word[i] = static_cast<char>((c >> (8 * i)) & 0xff);
    list.Update(std::string_view(word.data(), word.size()));
  }
  return list.Digest();
}

void BlockChecksummer::Data(std::string_view data) {
  while (!data.empty()) {
    const size_t take = std::min<size_t>(data.size(), kChecksumBlockBytes - fill_);
    block_.Update(data.substr(0, take));
    fill_ += static_cast<int64_t>(take);
    size_ += static_cast<int64_t>(take);
    data.remove_prefix(take);
    if (fill_ == kChecksumBlockBytes) EndBlock();
  }
}

void BlockChecksummer::Zeros(int64_t length) {
  if (fill_ > 0 && length > 0) {
    const int64_t take = std::min(length, kChecksumBlockBytes - fill_);
    Data(std::string_view(BlockOfZeros()).substr(0, static_cast<size_t>(take)));
    length -= take;
  }
  // Whole blocks of zeros without hashing them.
  const uint64_t zero = ZeroBlockChecksum(kChecksumBlockBytes);
  for (; length >= kChecksumBlockBytes; length -= kChecksumBlockBytes) {
    blocks_.push_back(zero);
    size_ += kChecksumBlockBytes;
  }
  Data(std::string_view(BlockOfZeros()).substr(0, static_cast<size_t>(length)));
}

std::vector<uint64_t> BlockChecksummer::Blocks() const {
  std::vector<uint64_t> blocks = blocks_;
  if (fill_ > 0) blocks.push_back(block_.Digest());
  return blocks;
}

void BlockChecksummer::EndBlock() {
  blocks_.push_back(block_.Digest());
  block_.Reset();
  fill_ = 0;
}

}  // namespace chainfs
