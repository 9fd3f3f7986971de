// Streams a file through a chain of three chainfs-filestore processes (loopback, data dirs
// on disk, fsync on) and reads it back; compares with writing the same bytes three times
// to local files with fsync and reading one back, measured in the same run.
//
//   filestore_bench [--size BYTES] [--dir DIR] [--binary PATH]
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/checksum.h"
#include "common/client/filestore_client.h"
#include "common/file_util.h"
#include "common/log.h"
#include "common/process.h"
#include "tests/fixtures/process.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr size_t kPattern = 64 << 20;  // the content repeats every 64 MiB
constexpr size_t kChunk = 1 << 20;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double MiBs(int64_t bytes, double seconds) { return bytes / (1024.0 * 1024.0) / seconds; }

// Drops a file's clean pages from the page cache so that reads come from the disk.
void Evict(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

void EvictTree(const std::string& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) Evict(e.path().string());
  }
}

bool WriteLocal(const std::string& path, const std::string& pattern, int64_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return false;
  for (int64_t pos = 0; pos < size;) {
    size_t n = static_cast<size_t>(std::min<int64_t>(kChunk, size - pos));
    if (::write(fd, pattern.data() + pos % kPattern, n) != static_cast<ssize_t>(n)) return false;
    pos += static_cast<int64_t>(n);
  }
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

uint64_t ReadLocal(const std::string& path, std::string& buf) {
  int fd = ::open(path.c_str(), O_RDONLY);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  chainfs::StreamingChecksum sum;
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n <= 0) break;
    sum.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
  return sum.Digest();
}

}  // namespace

int main(int argc, char** argv) {
  chainfs::TuneProcess();
  int64_t size = int64_t{1} << 30;
  std::string dir = "/var/tmp";
  std::string binary = std::string(CHAINFS_BUILD_DIR) + "/servers/filestore/chainfs-filestore";
  CLI::App app{"FileStore chain benchmark"};
  app.add_option("--size", size, "bytes to write and read back");
  app.add_option("--dir", dir, "where the data directories go (on disk, not tmpfs)");
  app.add_option("--binary", binary, "chainfs-filestore to run");
  bool cached = false;
  app.add_flag("--cached", cached, "read back from the page cache (no eviction)");
  CLI11_PARSE(app, argc, argv);
  chainfs::SetLogLevel("warn");

  std::string root = fmt::format("{}/chainfs-bench-{}", dir, ::getpid());
  fs::create_directories(root);
  std::string pattern(kPattern, '\0');
  std::mt19937_64 rng(42);
  for (size_t i = 0; i < kPattern; i += 8) {
    uint64_t v = rng();
    std::memcpy(pattern.data() + i, &v, 8);
  }
  std::string buf(8 << 20, '\0');

  // Baseline: the same bytes three times to local files with fsync, then one read back.
  auto start = Clock::now();
  for (int i = 0; i < 3; ++i) {
    if (!WriteLocal(fmt::format("{}/local{}", root, i), pattern, size)) {
      fmt::print(stderr, "local write failed\n");
      return 1;
    }
  }
  double local_write = Seconds(start);
  if (!cached) Evict(root + "/local0");
  start = Clock::now();
  uint64_t local_sum = ReadLocal(root + "/local0", buf);
  double local_read = Seconds(start);
  for (int i = 0; i < 3; ++i) fs::remove(fmt::format("{}/local{}", root, i));

  // Three FileStores, no ZooKeeper.
  std::vector<std::unique_ptr<chainfs::testing::Process>> stores;
  std::vector<std::string> chain;
  for (int i = 0; i < 3; ++i) {
    std::string data = fmt::format("{}/fs{}", root, i);
    fs::create_directories(data);
    std::string address_file = fmt::format("{}/fs{}.address", root, i);
    auto process =
        chainfs::testing::Process::Start(binary,
                                         {"--data-dir", data, "--listen", "127.0.0.1:0",
                                          "--address-file", address_file, "--log-level", "warn"},
                                         fmt::format("{}/fs{}.log", root, i));
    if (!process.ok()) {
      fmt::print(stderr, "cannot start {}: {}\n", binary, std::string(process.status().message()));
      return 1;
    }
    stores.push_back(std::move(*process));
    auto address = chainfs::testing::WaitForFile(address_file, std::chrono::seconds(20));
    if (!address.ok()) {
      fmt::print(stderr, "FileStore did not start: {}\n", std::string(address.status().message()));
      return 1;
    }
    chain.push_back(*address);
  }

  chainfs::FileStoreClient client;
  chainfs::v1::FileInfo file;
  file.set_name("/bench");
  file.set_version(1);
  int64_t pos = 0;
  start = Clock::now();
  auto created = client.Create(
      file, chain,
      [&](char* out, size_t max) -> absl::StatusOr<size_t> {
        size_t n = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(max), size - pos));
        std::memcpy(out, pattern.data() + pos % kPattern, n);
        pos += static_cast<int64_t>(n);
        return n;
      },
      size);
  double chain_write = Seconds(start);
  if (!created.ok()) {
    fmt::print(stderr, "chain create failed: {}\n", std::string(created.status().message()));
    return 1;
  }

  for (int i = 0; i < 3 && !cached; ++i) EvictTree(fmt::format("{}/fs{}", root, i));
  start = Clock::now();
  auto reader = client.OpenReader("/bench", 1, chain);
  if (!reader.ok()) {
    fmt::print(stderr, "open failed: {}\n", std::string(reader.status().message()));
    return 1;
  }
  chainfs::StreamingChecksum sum;
  for (int64_t offset = 0; offset < size;) {
    auto n = (*reader)->ReadAt(offset, buf.size(), buf.data());
    if (!n.ok() || *n == 0) {
      fmt::print(stderr, "read failed at {}\n", offset);
      return 1;
    }
    sum.Update(std::string_view(buf.data(), *n));
    offset += static_cast<int64_t>(*n);
  }
  double chain_read = Seconds(start);
  reader->reset();
  bool same = sum.Digest() == local_sum;

  for (auto& p : stores) p->Stop();
  fs::remove_all(root);

  fmt::print("size {} MiB, data under {}\n", size >> 20, dir);
  fmt::print("baseline: write x3 + fsync {:.1f} MiB/s (of the file), read {:.1f} MiB/s\n",
             MiBs(size, local_write), MiBs(size, local_read));
  fmt::print("chain of 3: write {:.1f} MiB/s, read {:.1f} MiB/s, content {}\n",
             MiBs(size, chain_write), MiBs(size, chain_read), same ? "identical" : "DIFFERS");
  fmt::print("ratio to baseline: write {:.2f} (goal >= 0.7), read {:.2f} (goal >= 0.8)\n",
             local_write / chain_write, local_read / chain_read);
  return same ? 0 : 1;
}
