#include <gtest/gtest.h>

#include <string>

#include "common/checksum.h"

namespace chainfs {
namespace {

std::string Content(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131) ^ (i >> 7));
  return s;
}

TEST(Checksum, StreamingInAnyPiecesEqualsOneShot) {
  std::string data = Content(3 * 1024 * 1024 + 17);
  uint64_t expected = Checksum(data);
  for (size_t piece : {1ul, 7ul, 4096ul, 1ul << 20, data.size()}) {
    StreamingChecksum sum;
    for (size_t at = 0; at < data.size(); at += piece) {
      sum.Update(std::string_view(data).substr(at, piece));
    }
    EXPECT_EQ(sum.Digest(), expected) << "piece " << piece;
  }
}

TEST(Checksum, ResetStartsOverAndEmptyIsStable) {
  StreamingChecksum sum;
  sum.Update("something");
  sum.Reset();
  EXPECT_EQ(sum.Digest(), Checksum(""));
  sum.Update("abc");
  EXPECT_EQ(sum.Digest(), Checksum("abc"));
  EXPECT_EQ(sum.Digest(), Checksum("abc"));  // Digest does not consume
}

TEST(Checksum, DifferentContentDiffers) {
  EXPECT_NE(Checksum("a"), Checksum("b"));
  EXPECT_NE(Checksum(std::string(1000, 'x')), Checksum(std::string(1001, 'x')));
}

}  // namespace
}  // namespace chainfs
