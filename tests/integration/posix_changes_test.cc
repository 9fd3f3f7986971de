// Small changes to big files through the mount (issue 15, group 9), compared with a local ext4
// file: an append to a large file and in-place updates with an fsync after each (what sqlite
// does) send only what changed; each chain member builds the new version from its own copy of
// the old one. The FileStores' chainfs_filestore_create_received_bytes_total says what crossed
// the network. A FileStore killed so that the new chain has a member without the old version:
// the whole file goes after all, and nothing is lost.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>

#include "tests/fixtures/posix_suite.h"
#include "tests/fixtures/scrape.h"

namespace chainfs::testing {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kMiB = int64_t{1} << 20;

class PosixChanges : public PosixSuite<PosixChanges> {
 public:
  static MountedClusterOptions ClusterOptions() {
    MountedClusterOptions options;
    options.filestores = 4;
    options.filestore_args = {"--metrics-listen", "127.0.0.1:0"};
    return options;
  }

 protected:
  // Sums `sample` over the live FileStores' metrics.
  double FileStoresSum(const std::string& sample) {
    double total = 0;
    for (size_t i = 0; i < cluster().filestores().size(); ++i) {
      if (!cluster().filestores()[i].process) continue;
      auto address = MetricsAddressInLog(fmt::format("{}/fs{}.log", cluster().dir(), i));
      EXPECT_TRUE(address.ok()) << address.status();
      if (!address.ok()) continue;
      auto text = ScrapeMetrics(*address);
      EXPECT_TRUE(text.ok()) << text.status();
      if (text.ok()) total += SampleValue(*text, sample);
    }
    return total;
  }
  double Received() { return FileStoresSum("chainfs_filestore_create_received_bytes_total"); }
  // Writes `content` through the mount to f in a new directory of the test's own; its path.
  std::string WriteNewFile(const std::string& content) {
    const std::string dir = cluster().mount_dir() + "/" + TestName();
    EXPECT_TRUE(fs::create_directory(dir));
    const std::string path = dir + "/f";
    int fd = ::open(path.c_str(), O_CREAT | O_WRONLY, 0644);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    EXPECT_EQ(::close(fd), 0);
    return path;
  }
  bool OnMount(const Transcript& t) const { return t.root().starts_with(cluster_->mount_dir()); }
};

// `size` bytes that are not zeros (zeros would go as holes) and differ from block to block.
std::string Pattern(size_t size, char salt) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>('a' + (i / 4096 + salt) % 26);
  return out;
}

TEST_F(PosixChanges, AppendToA64MiBFile_TheChainReceivesTheAppendOnly) {
  double received = -1;
  Compared c = Run([&](Transcript& t) {
    const std::string big = Pattern(64 * kMiB, 0);
    int fd = static_cast<int>(
        t.Call("open f O_CREAT|O_WRONLY", ::open(t.Path("f").c_str(), O_CREAT | O_WRONLY, 0644)));
    t.Call("write 64 MiB", ::write(fd, big.data(), big.size()));
    t.Call("close", ::close(fd));
    const double before = OnMount(t) ? Received() : 0;
    const std::string more = Pattern(kMiB, 7);
    fd = static_cast<int>(
        t.Call("open f O_APPEND|O_WRONLY", ::open(t.Path("f").c_str(), O_APPEND | O_WRONLY)));
    t.Call("append 1 MiB", ::write(fd, more.data(), more.size()));
    t.Call("close", ::close(fd));
    if (OnMount(t)) received = Received() - before;
    t.Line(ContentSummary(t.Path("f")));
  });
  EXPECT_SAME_AS_LOCAL(c);
  std::printf("append of 1 MiB to a 64 MiB file: the FileStores received %.0f KiB in all\n",
              received / 1024);
  EXPECT_GE(received, 3 * kMiB);         // three members, each got the append
  EXPECT_LT(received, 3 * kMiB + kMiB);  // and not the 64 MiB before it
}

TEST_F(PosixChanges, InPlaceUpdatesWithAnFsyncEach_SendTheirPagesOnly) {
  constexpr int kCommits = 20;
  double received = -1;
  std::chrono::duration<double> fsyncs{};
  Compared c = Run([&](Transcript& t) {
    const std::string db = Pattern(8 * kMiB, 3);
    int fd = static_cast<int>(
        t.Call("open db O_CREAT|O_RDWR", ::open(t.Path("db").c_str(), O_CREAT | O_RDWR, 0644)));
    t.Call("write 8 MiB", ::write(fd, db.data(), db.size()));
    t.Call("fsync", ::fsync(fd));
    const double before = OnMount(t) ? Received() : 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kCommits; ++i) {
      const std::string page = Pattern(4096, static_cast<char>(i + 1));
      const int64_t at = int64_t{i} * 397 * 1024;  // pages spread over the file
      t.Call(fmt::format("pwrite page at {}", at), ::pwrite(fd, page.data(), page.size(), at));
      t.Call("fsync", ::fsync(fd));
    }
    if (OnMount(t)) {
      fsyncs = std::chrono::steady_clock::now() - start;
      received = Received() - before;
    }
    t.Call("close", ::close(fd));
    t.Line(ContentSummary(t.Path("db")));
  });
  EXPECT_SAME_AS_LOCAL(c);
  std::printf(
      "%d page writes each followed by fsync on an 8 MiB file: %.1f ms per commit; the "
      "FileStores received %.0f KiB in all\n",
      kCommits, fsyncs.count() * 1000 / kCommits, received / 1024);
  EXPECT_GE(received, kCommits * 3 * 4096);
  EXPECT_LT(received, kCommits * 3 * 4096 + kMiB);  // not 20 x 8 MiB
}

// The content of the file at `path` through the mount (up to `size` + 1 bytes).
std::string ReadBack(const std::string& path, size_t size) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return "";
  std::string got(size + 1, '\0');
  ssize_t n = 0;
  for (ssize_t r; (r = ::pread(fd, got.data() + n, got.size() - n, n)) > 0;) n += r;
  ::close(fd);
  got.resize(static_cast<size_t>(n));
  return got;
}

TEST_F(PosixChanges, AHolderKilled_TheNewChainLacksTheBase_TheWholeFileGoesAndNothingIsLost) {
  std::string want = Pattern(8 * kMiB, 5);
  const std::string path = WriteNewFile(want);
  // kill -9 one FileStore that holds it: three of the four do.
  absl::StatusOr<std::vector<std::string>> holders = cluster().Holders("/" + TestName() + "/f");
  ASSERT_TRUE(holders.ok()) << holders.status();
  ASSERT_EQ(holders->size(), 3u);
  auto& filestores = cluster().filestores();
  auto victim = std::find_if(filestores.begin(), filestores.end(),
                             [&](const Daemon& d) { return d.address == holders->front(); });
  ASSERT_NE(victim, filestores.end()) << holders->front();
  victim->process->Kill(SIGKILL);
  victim->process.reset();

  const double received_before = Received();
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "tail", 4), 4);
  want += "tail";
  ASSERT_EQ(::close(fd), 0);  // acknowledged
  const double received = Received() - received_before;
  EXPECT_GE(received, 8 * kMiB)  // the member without the base got the whole file
      << "killed " << holders->front() << "; NameServer:\n"
      << cluster().nameservers()[0].process->LogTail(30) << "mount:\n"
      << cluster().MountLogTail(30);

  const std::string got = ReadBack(path, want.size());
  EXPECT_TRUE(got == want) << "read back " << got.size() << " bytes of " << want.size();
}

}  // namespace
}  // namespace chainfs::testing
