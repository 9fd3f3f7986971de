// fsx in miniature: a seeded random sequence of operations is applied to one file on the
// mount and to one file on a local ext4 directory; after every operation the outcome (result
// or errno) must be the same, every read must return the same bytes, and after every close
// and reopen (every 20 to 200 operations, as fsx -c does) the whole content and size must
// still agree. Operations: pwrite, pread, ftruncate (grow and shrink), mmap reads and
// MAP_SHARED writes (with msync), fallocate in its four common modes, fsync.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "tests/fixtures/posix_suite.h"

namespace chainfs::testing {
namespace {

class PosixRandomOps : public PosixSuite<PosixRandomOps> {};

constexpr int64_t kMaxSize = 2 << 20;  // offsets and lengths stay below this
constexpr size_t kMaxLength = 96 << 10;

// One file on each side, opened and closed together.
struct Pair {
  std::string paths[2];
  int fds[2] = {-1, -1};
};

// What one call returned on one side: the result, or the errno name.
std::string Outcome(long rc) { return rc < 0 ? ErrnoName(errno) : std::to_string(rc); }

class Runner {
 public:
  Runner(const std::string& local, const std::string& mounted, uint64_t seed, bool fallocate = true)
      : rng_(seed), seed_(seed), fallocate_(fallocate) {
    pair_.paths[0] = local;
    pair_.paths[1] = mounted;
  }

  // Runs `ops` operations; returns "" or what went wrong, with the recent operations.
  std::string RunAll(int ops) {
    for (int side = 0; side < 2; ++side) {
      pair_.fds[side] = ::open(pair_.paths[side].c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
      if (pair_.fds[side] < 0) return Fail(fmt::format("open side {}: {}", side, strerror(errno)));
    }
    int until_reopen = Uniform(20, 200);
    for (int i = 0; i < ops; ++i) {
      std::string error = Step();
      if (!error.empty()) return Fail(error);
      if (--until_reopen == 0) {
        error = Reopen();
        if (!error.empty()) return Fail(error);
        until_reopen = Uniform(20, 200);
      }
    }
    std::string error = Reopen();
    for (int fd : pair_.fds) ::close(fd);
    return error.empty() ? "" : Fail(error);
  }

 private:
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }

  std::string Fail(const std::string& what) {
    std::string out = fmt::format("seed {}: {}\nlast operations:\n", seed_, what);
    for (const std::string& op : recent_) out += "  " + op + "\n";
    return out;
  }

  void Log(std::string op) {
    recent_.push_back(std::move(op));
    if (recent_.size() > 25) recent_.pop_front();
  }

  // Applies `call(fd)` on both sides; an error when the outcomes differ.
  template <typename F>
  std::string Both(const std::string& op, F call) {
    Log(op);
    std::string outcome[2];
    for (int side = 0; side < 2; ++side) {
      errno = 0;
      outcome[side] = Outcome(call(side, pair_.fds[side]));
    }
    if (outcome[0] != outcome[1]) {
      return fmt::format("{}: ext4 -> {}, mount -> {}", op, outcome[0], outcome[1]);
    }
    return "";
  }

  std::string Step() {
    int64_t offset = Uniform(0, kMaxSize - 1);
    size_t length = static_cast<size_t>(Uniform(1, kMaxLength));
    switch (Uniform(0, 9)) {
      case 0:
      case 1:
      case 2:
        return Write(offset, length);
      case 3:
      case 4:
        return Read(offset, length);
      case 5:
        return Both(fmt::format("ftruncate {}", offset),
                    [&](int, int fd) { return ::ftruncate(fd, offset); });
      case 6:
        return MapRead(offset, length);
      case 7:
        return MapWrite(offset, length);
      case 8:
        if (fallocate_) return Fallocate(offset, length);
        return Write(offset, length);
      default:
        return Both("fsync", [](int, int fd) { return ::fsync(fd); });
    }
  }

  std::string Write(int64_t offset, size_t length) {
    std::string data(length, '\0');
    for (char& c : data) c = static_cast<char>(rng_());
    return Both(fmt::format("pwrite {} {}", offset, length),
                [&](int, int fd) { return ::pwrite(fd, data.data(), data.size(), offset); });
  }

  std::string Read(int64_t offset, size_t length) {
    std::string got[2];
    std::string error = Both(fmt::format("pread {} {}", offset, length), [&](int side, int fd) {
      got[side].assign(length, '\0');
      ssize_t n = ::pread(fd, got[side].data(), length, offset);
      if (n >= 0) got[side].resize(n);
      return n;
    });
    if (error.empty() && got[0] != got[1]) error = Mismatch("pread", offset, got[0], got[1]);
    return error;
  }

  static std::string Mismatch(const char* op, int64_t offset, const std::string& a,
                              const std::string& b) {
    size_t i = 0;
    while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
    return fmt::format("{} at {}: content differs from byte {} (ext4 {} bytes, mount {} bytes)", op,
                       offset, offset + static_cast<int64_t>(i), a.size(), b.size());
  }

  // Maps [offset, offset+length) clipped to the current size (the same on both sides).
  template <typename F>
  std::string WithMap(const std::string& op, int64_t offset, size_t length, int prot, F use) {
    struct stat st[2];
    for (int side = 0; side < 2; ++side) ::fstat(pair_.fds[side], &st[side]);
    if (st[0].st_size != st[1].st_size) {
      return fmt::format("{}: sizes differ: ext4 {}, mount {}", op, st[0].st_size, st[1].st_size);
    }
    int64_t page = ::sysconf(_SC_PAGESIZE);
    int64_t start = offset / page * page;
    if (start >= st[0].st_size) return "";  // nothing mapped past the end
    size_t span = std::min<int64_t>(offset + length, st[0].st_size) - start;
    Log(fmt::format("{} {} {}", op, start, span));
    for (int side = 0; side < 2; ++side) {
      void* map = ::mmap(nullptr, span, prot, MAP_SHARED, pair_.fds[side], start);
      if (map == MAP_FAILED) return fmt::format("{}: mmap side {}: {}", op, side, strerror(errno));
      std::string error = use(side, static_cast<char*>(map), span);
      ::munmap(map, span);
      if (!error.empty()) return error;
    }
    return "";
  }

  std::string MapRead(int64_t offset, size_t length) {
    std::string got[2];
    std::string error =
        WithMap("mmap-read", offset, length, PROT_READ, [&](int side, char* map, size_t span) {
          got[side].assign(map, span);
          return std::string();
        });
    if (error.empty() && got[0] != got[1]) error = Mismatch("mmap-read", offset, got[0], got[1]);
    return error;
  }

  std::string MapWrite(int64_t offset, size_t length) {
    std::string data(length, '\0');
    for (char& c : data) c = static_cast<char>(rng_());
    return WithMap("mmap-write", offset, length, PROT_READ | PROT_WRITE,
                   [&](int side, char* map, size_t span) {
                     memcpy(map, data.data(), std::min(span, data.size()));
                     if (::msync(map, span, MS_SYNC) != 0) {
                       return fmt::format("msync side {}: {}", side, strerror(errno));
                     }
                     return std::string();
                   });
  }

  std::string Fallocate(int64_t offset, size_t length) {
    static constexpr struct {
      int mode;
      const char* name;
    } kModes[] = {{0, "default"},
                  {FALLOC_FL_KEEP_SIZE, "keep-size"},
                  {FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, "punch-hole"},
                  {FALLOC_FL_ZERO_RANGE, "zero-range"}};
    const auto& m = kModes[Uniform(0, 3)];
    return Both(fmt::format("fallocate {} {} {}", m.name, offset, length), [&](int, int fd) {
      return ::fallocate(fd, m.mode, offset, static_cast<off_t>(length));
    });
  }

  // Closes and reopens both files, then compares their whole content.
  std::string Reopen() {
    std::string content[2];
    for (int side = 0; side < 2; ++side) {
      if (::close(pair_.fds[side]) != 0) {
        return fmt::format("close side {}: {}", side, strerror(errno));
      }
      pair_.fds[side] = ::open(pair_.paths[side].c_str(), O_RDWR);
      if (pair_.fds[side] < 0) return fmt::format("reopen side {}: {}", side, strerror(errno));
      struct stat st;
      ::fstat(pair_.fds[side], &st);
      content[side].assign(st.st_size, '\0');
      ssize_t n = ::pread(pair_.fds[side], content[side].data(), st.st_size, 0);
      if (n != st.st_size) return fmt::format("read back side {}: {}", side, n);
    }
    Log("close and reopen");
    if (content[0] != content[1]) return Mismatch("after reopen", 0, content[0], content[1]);
    return "";
  }

  std::mt19937_64 rng_;
  uint64_t seed_;
  bool fallocate_;
  Pair pair_;
  std::deque<std::string> recent_;
};

TEST_F(PosixRandomOps, TwoSeeds_EveryOutcomeAndByteAsOnExt4) {
  for (uint64_t seed : {1, 2}) {
    const std::string name = fmt::format("random-{}", seed);
    Runner runner(local_dir() + "/" + name, cluster().mount_dir() + "/" + name, seed);
    std::string error = runner.RunAll(500);
    EXPECT_EQ(error, "");
  }
}

TEST_F(PosixRandomOps, WithoutFallocate_ManyReopens_EveryOutcomeAndByteAsOnExt4) {
  for (uint64_t seed : {11}) {
    const std::string name = fmt::format("plain-{}", seed);
    Runner runner(local_dir() + "/" + name, cluster().mount_dir() + "/" + name, seed,
                  /*fallocate=*/false);
    EXPECT_EQ(runner.RunAll(800), "");
  }
}

}  // namespace
}  // namespace chainfs::testing
