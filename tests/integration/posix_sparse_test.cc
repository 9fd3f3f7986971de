// Sparse files through the mount, compared with a local ext4 file (the POSIX harness): one
// byte far out, fallocate's modes, SEEK_DATA/SEEK_HOLE on a file being written; the
// FileStores keep the holes; a FileStore killed during a sparse upload loses nothing
// acknowledged.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "common/checksum.h"
#include "tests/fixtures/posix_suite.h"

namespace chainfs::testing {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kGiB = int64_t{1} << 30;
constexpr int64_t kMiB = int64_t{1} << 20;

class PosixSparse : public PosixSuite<PosixSparse> {};

// Bytes allocated on disk in the FileStores' data directories (<cluster>/fs<i>: what du counts).
int64_t FileStoreDiskBytes(const std::string& cluster_dir) {
  int64_t total = 0;
  for (const auto& top : fs::directory_iterator(cluster_dir)) {
    if (!top.is_directory() || !top.path().filename().string().starts_with("fs")) continue;
    for (const auto& e : fs::recursive_directory_iterator(top.path())) {
      struct stat st {};
      if (e.is_regular_file() && ::stat(e.path().c_str(), &st) == 0) total += st.st_blocks * 512;
    }
  }
  return total;
}

// "size=N xxh3=H" of the whole file at `path`, or the errno.
std::string Digest(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return "open -> " + ErrnoName(errno);
  StreamingChecksum sum;
  std::string buf(4 * kMiB, '\0');
  int64_t size = 0;
  for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0; size += n) {
    sum.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
  return fmt::format("size={} xxh3={:016x}", size, sum.Digest());
}

std::string PreadLine(int fd, int64_t offset, size_t n) {
  std::string out(n, '?');
  ssize_t got = ::pread(fd, out.data(), n, offset);
  if (got < 0) return "pread -> " + ErrnoName(errno);
  out.resize(static_cast<size_t>(got));
  std::string hex;
  for (char c : out) hex += fmt::format("{:02x}", static_cast<unsigned char>(c));
  return fmt::format("pread {}@{} = {}", n, offset, hex);
}

TEST_F(PosixSparse, OneByteAt3GiB_SameAsExt4_AndTheFileStoresStoreLittle) {
  const int64_t before = FileStoreDiskBytes(cluster().dir());
  std::chrono::duration<double> closed_in{};
  Compared c = Run([&](Transcript& t) {
    int fd = static_cast<int>(
        t.Call("open f O_CREAT|O_WRONLY", ::open(t.Path("f").c_str(), O_CREAT | O_WRONLY, 0644)));
    t.Call("pwrite 1 byte at 3 GiB", ::pwrite(fd, "x", 1, 3 * kGiB));
    t.Call("SEEK_DATA 0", ::lseek(fd, 0, SEEK_DATA));
    t.Call("SEEK_HOLE 0", ::lseek(fd, 0, SEEK_HOLE));
    t.Call("SEEK_DATA past the end", ::lseek(fd, 3 * kGiB + 1, SEEK_DATA));
    const auto start = std::chrono::steady_clock::now();
    t.Call("close", ::close(fd));
    closed_in = std::chrono::steady_clock::now() - start;
    t.Line(StatSummary(t.Path("f")));
    fd = static_cast<int>(t.Call("open f O_RDONLY", ::open(t.Path("f").c_str(), O_RDONLY)));
    t.Line(PreadLine(fd, 3 * kGiB - 2, 4));
    t.Line(PreadLine(fd, kGiB, 4));
    t.Call("close", ::close(fd));
  });
  EXPECT_SAME_AS_LOCAL(c);
  const int64_t stored = FileStoreDiskBytes(cluster().dir()) - before;
  std::printf(
      "close of a 3 GiB file with one byte: %.3f s; the FileStores' data directories grew by %lld "
      "KiB\n",
      closed_in.count(), static_cast<long long>(stored / 1024));
  EXPECT_LT(stored, 16 * kMiB);  // three copies of one block, not 3 x 3 GiB
}

TEST_F(PosixSparse, FallocateModes_SameAsExt4_AfterCloseAndReopen) {
  Compared c = Run([](Transcript& t) {
    int fd = static_cast<int>(
        t.Call("open f O_CREAT|O_RDWR", ::open(t.Path("f").c_str(), O_CREAT | O_RDWR, 0644)));
    std::string pattern(256 * 1024, '\0');
    for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<char>('a' + i % 26);
    t.Call("pwrite 256 KiB", ::pwrite(fd, pattern.data(), pattern.size(), 0));
    t.Call("punch hole 4096+8192",
           ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192));
    t.Call("zero range 100+10", ::fallocate(fd, FALLOC_FL_ZERO_RANGE, 100, 10));
    t.Call("keep size 0+1MiB", ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, kMiB));
    t.Line(StatSummary(t.Path("f")));
    t.Call("default 512KiB+512KiB", ::fallocate(fd, 0, 512 * 1024, 512 * 1024));
    t.Call("zero range past the end", ::fallocate(fd, FALLOC_FL_ZERO_RANGE, kMiB, 4096));
    t.Line(PreadLine(fd, 4090, 12));
    t.Line(PreadLine(fd, 98, 14));
    t.Call("close", ::close(fd));
    t.Line(StatSummary(t.Path("f")));
    t.Line(Digest(t.Path("f")));
  });
  EXPECT_SAME_AS_LOCAL(c);
}

TEST_F(PosixSparse, UnsupportedFallocateMode_EOPNOTSUPP) {
  const std::string path = cluster().mount_dir() + "/collapse";
  int fd = ::open(path.c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, kMiB), 0);
  EXPECT_EQ(::fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
  EXPECT_EQ(::close(fd), 0);
}

TEST_F(PosixSparse, SeekOnAStoredFile_AnswersWithinTheFile) {
  const std::string path = cluster().mount_dir() + "/stored";
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_EQ(::pwrite(fd, "y", 1, 8 * kMiB), 1);
  ASSERT_EQ(::close(fd), 0);
  fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  const off_t data = ::lseek(fd, 0, SEEK_DATA);
  const off_t hole = ::lseek(fd, data, SEEK_HOLE);
  EXPECT_GE(data, 0);
  EXPECT_LE(data, 8 * kMiB);
  EXPECT_GT(hole, data);
  EXPECT_EQ(hole, 8 * kMiB + 1);  // the end: a read-only file answers as one extent
  EXPECT_EQ(::lseek(fd, 8 * kMiB + 1, SEEK_DATA), -1);
  EXPECT_EQ(errno, ENXIO);
  ::close(fd);
}

// Its own cluster: a FileStore is killed.
class PosixSparseFaults : public PosixSuite<PosixSparseFaults> {};

// Writes `fill` at 0 and at 48 MiB of an existing or new file of 64 MiB (holes elsewhere).
int WriteVersion(const std::string& path, char fill) {
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY, 0644);
  if (fd < 0) return -1;
  const std::string block(kMiB, fill);
  if (::pwrite(fd, block.data(), block.size(), 0) != kMiB ||
      ::pwrite(fd, block.data(), block.size(), 48 * kMiB) != kMiB ||
      ::ftruncate(fd, 64 * kMiB) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST_F(PosixSparseFaults, FileStoreKilledDuringASparseUpload_OldOrNewContent_AckedNeverLost) {
  const std::string path = cluster().mount_dir() + "/victim";
  const std::string reference = local_dir() + "/victim-";
  for (char fill : {'1', '2'}) {
    int ref = WriteVersion(reference + fill, fill);
    ASSERT_GE(ref, 0);
    ::close(ref);
  }
  int fd = WriteVersion(path, '1');
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::close(fd), 0);
  ASSERT_EQ(Digest(path), Digest(reference + "1"));

  fd = WriteVersion(path, '2');
  ASSERT_GE(fd, 0);
  int closed = -2;
  std::thread closer([&] { closed = ::close(fd); });
  cluster().filestores()[0].process->Kill(SIGKILL);
  closer.join();
  const std::string now = Digest(path);
  if (closed == 0) {
    EXPECT_EQ(now, Digest(reference + "2")) << "close acknowledged version 2";
  } else {
    EXPECT_TRUE(now == Digest(reference + "1") || now == Digest(reference + "2")) << now;
  }
}

}  // namespace
}  // namespace chainfs::testing
