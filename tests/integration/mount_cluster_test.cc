// The mount on a real cluster: ZooKeeper, NameServers and FileStores as processes with short
// timings, chainfs-mount in the foreground, Unix tools and system calls on the mount.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/client/nameserver_client.h"
#include "common/settings.h"
#include "common/write_token.h"
#include "common/zk/zookeeper.h"
#include "tests/fixtures/process.h"
#include "tests/fixtures/tls.h"
#include "tests/fixtures/zk_server.h"

namespace chainfs::mount {
namespace {

using chainfs::testing::Daemon;
using chainfs::testing::Process;
using chainfs::testing::TempDir;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr long kFuseSuperMagic = 0x65735546;

struct Shell {
  int code;
  std::string output;
};

// Runs a bash command line; stdout and stderr together.
Shell Sh(const std::string& command) {
  std::string full = fmt::format("bash -c '{}' 2>&1", command);
  FILE* pipe = ::popen(full.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

#define EXPECT_SH(cmd)                                   \
  do {                                                   \
    Shell _r = Sh(cmd);                                  \
    EXPECT_EQ(_r.code, 0) << (cmd) << "\n" << _r.output; \
  } while (0)

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    memcpy(s.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return s;
}

bool WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), data.size());
  return static_cast<bool>(out);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool IsFuseMount(const std::string& dir) {
  struct statfs st;
  return ::statfs(dir.c_str(), &st) == 0 && st.f_type == kFuseSuperMagic;
}

// One cluster per test: FileStores, NameServers and mounts, each stopped by pid (mounts are
// unmounted first, lazily when busy).
class MountTest : public ::testing::Test {
 protected:
  struct Mounted {
    std::string dir;
    std::string cache;
    std::unique_ptr<Process> process;
  };

  void SetUp() override {
    zk_ = chainfs::testing::SharedZkServer();
    ASSERT_NE(zk_, nullptr);
    zk_spec_ = zk_->ConnectString(chainfs::testing::UniqueChroot());
    // Write tokens on (issue 14): every upload path of the mount and the CLI carries them.
    ASSERT_TRUE(WriteTokenKey(token_key_).ok());
  }

  void TearDown() override {
    for (auto& m : mounts_) Unmount(*m);
    mounts_.clear();
    nameservers_.clear();
    filestores_.clear();
  }

  std::string FileStoreData(int i) const { return fmt::format("{}/fs{}", dir_.path(), i); }

  // A new FileStore, or (with `restart`) FileStore i again on its data and its address.
  void StartFileStore(int64_t capacity = 0, const std::vector<std::string>& extra = {},
                      int restart = -1) {
    const int i = restart >= 0 ? restart : static_cast<int>(filestores_.size());
    const std::string listen = restart >= 0 ? filestores_[i].address : "127.0.0.1:0";
    std::filesystem::create_directories(FileStoreData(i));
    std::vector<std::string> args = {"--zk",
                                     zk_spec_,
                                     "--listen",
                                     listen,
                                     "--data-dir",
                                     FileStoreData(i),
                                     "--capacity",
                                     std::to_string(capacity),
                                     "--heartbeat-interval",
                                     "1s",
                                     "--session-timeout",
                                     "2s",
                                     "--token-key-file",
                                     token_key_};
    args.insert(args.end(), extra.begin(), extra.end());
    auto daemon = chainfs::testing::StartDaemon(
        chainfs::testing::BinaryPath("servers/filestore/chainfs-filestore"), args,
        fmt::format("{}/fs{}.log", dir_.path(), i));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    if (restart >= 0) {
      filestores_[i] = std::move(*daemon);
    } else {
      filestores_.push_back(std::move(*daemon));
    }
  }

  void StartNameServer() {
    int i = static_cast<int>(nameservers_.size());
    auto daemon = chainfs::testing::StartDaemon(
        chainfs::testing::BinaryPath("servers/nameserver/chainfs-nameserver"),
        {"--zk", zk_spec_, "--listen", "127.0.0.1:0", "--heartbeat-interval", "1s",
         "--startup-wait", "5s", "--replication-deadline", "5s", "--replication-interval", "500ms",
         "--create-grace", "1s", "--session-timeout", "2s", "--token-key-file", token_key_},
        fmt::format("{}/ns{}.log", dir_.path(), i));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    nameservers_.push_back(std::move(*daemon));
  }

  // Waits until the cluster answers a NameServer call.
  void WaitServing() {
    auto address = ParseZkAddress(zk_spec_);
    ASSERT_TRUE(address.ok());
    auto zk = zk::NewZooKeeper(*address, seconds(10), chainfs::testing::TestZkDigest());
    ASSERT_TRUE(zk.ok());
    ASSERT_TRUE((*zk)->WaitConnected(seconds(10)).ok());
    NameServerClientSettings settings;
    settings.call_timeout = seconds(30);
    settings.credentials = chainfs::testing::TestChannelCredentials();
    NameServerClient client(zk->get(), settings);
    auto status = client.StatFs(v1::StatFsRequest());
    ASSERT_TRUE(status.ok()) << status.status();
  }

  void StartCluster(int filestores = 3, int nameservers = 1, int64_t capacity = 0) {
    for (int i = 0; i < filestores; ++i) ASSERT_NO_FATAL_FAILURE(StartFileStore(capacity));
    for (int i = 0; i < nameservers; ++i) ASSERT_NO_FATAL_FAILURE(StartNameServer());
    ASSERT_NO_FATAL_FAILURE(WaitServing());
  }

  // Mounts the cluster at a fresh directory in the foreground; returns the mount.
  Mounted& Mount(const std::vector<std::string>& extra_args = {}) {
    auto m = std::make_unique<Mounted>();
    int i = static_cast<int>(mounts_.size());
    m->dir = fmt::format("{}/mnt{}", dir_.path(), i);
    m->cache = fmt::format("{}/cache{}", dir_.path(), i);
    std::filesystem::create_directories(m->dir);
    std::filesystem::create_directories(m->cache);
    std::vector<std::string> args = {"--zk",
                                     zk_spec_,
                                     m->dir,
                                     "-f",
                                     "--cache-dir",
                                     m->cache,
                                     "--call-timeout",
                                     "40s",
                                     "--session-timeout",
                                     "4s"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    auto process = Process::Start(chainfs::testing::BinaryPath("fuse/chainfs-mount"), args,
                                  fmt::format("{}/mount{}.log", dir_.path(), i));
    EXPECT_TRUE(process.ok()) << process.status();
    if (process.ok()) m->process = std::move(*process);
    for (int tries = 0; tries < 400 && !IsFuseMount(m->dir); ++tries) {
      std::this_thread::sleep_for(milliseconds(50));
    }
    EXPECT_TRUE(IsFuseMount(m->dir)) << "mount did not come up";
    mounts_.push_back(std::move(m));
    return *mounts_.back();
  }

  void Unmount(Mounted& m) {
    if (IsFuseMount(m.dir) && Sh("fusermount3 -u " + m.dir).code != 0) {
      Sh("fusermount3 -u -z " + m.dir);
    }
    if (m.process) m.process->Stop();
  }

  // The FileStore serving `address`.
  Daemon* FileStoreAt(const std::string& address) {
    for (auto& d : filestores_) {
      if (d.address == address) return &d;
    }
    return nullptr;
  }

  std::unique_ptr<NameServerClient> Client() {
    auto address = ParseZkAddress(zk_spec_);
    auto zk = zk::NewZooKeeper(*address, seconds(10), chainfs::testing::TestZkDigest());
    if (!zk.ok() || !(*zk)->WaitConnected(seconds(10)).ok()) return nullptr;
    zk_clients_.push_back(std::move(*zk));
    NameServerClientSettings settings;
    settings.call_timeout = seconds(30);
    settings.credentials = chainfs::testing::TestChannelCredentials();
    return std::make_unique<NameServerClient>(zk_clients_.back().get(), settings);
  }

  chainfs::testing::ZkServer* zk_ = nullptr;
  std::string zk_spec_;
  TempDir dir_;
  const std::string token_key_ = dir_.path() + "/token.key";
  std::vector<std::unique_ptr<zk::ZooKeeper>> zk_clients_;
  std::vector<Daemon> filestores_;
  std::vector<Daemon> nameservers_;
  std::vector<std::unique_ptr<Mounted>> mounts_;
};

// A local tree with files of several sizes, a subdirectory and symlinks.
std::string MakeLocalTree(const std::string& root) {
  std::string tree = root + "/tree";
  std::filesystem::create_directories(tree + "/sub/deeper");
  WriteFile(tree + "/empty", "");
  WriteFile(tree + "/small.txt", "hello chainfs\n");
  WriteFile(tree + "/big.bin", RandomBytes(3 * 1024 * 1024 + 17, 1));
  WriteFile(tree + "/sub/a.txt", "a\n");
  WriteFile(tree + "/sub/deeper/b.bin", RandomBytes(70000, 2));
  std::filesystem::create_symlink("small.txt", tree + "/link-to-small");
  std::filesystem::create_symlink("../big.bin", tree + "/sub/link-up");
  return tree;
}

// Whether a file under the staging directory holds `content` (kept after a failed upload).
bool StagedCopyKept(const std::string& cache, const std::string& content) {
  for (const auto& e : std::filesystem::recursive_directory_iterator(cache)) {
    if (e.is_regular_file() && ReadFile(e.path()) == content) return true;
  }
  return false;
}

TEST_F(MountTest, UnixTools_CopyListCompareArchiveAndRemove) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  Mounted& m = Mount();
  std::string local = MakeLocalTree(dir_.path());
  std::string mnt = m.dir;

  EXPECT_SH(fmt::format("cp -a {} {}/tree", local, mnt));
  EXPECT_SH(fmt::format("diff -r {} {}/tree", local, mnt));
  EXPECT_SH(fmt::format("diff -r --no-dereference {} {}/tree", local, mnt));
  Shell ls = Sh(fmt::format("ls -l {}/tree", mnt));
  EXPECT_EQ(ls.code, 0) << ls.output;
  EXPECT_NE(ls.output.find("link-to-small -> small.txt"), std::string::npos) << ls.output;
  EXPECT_NE(ls.output.find("3145745"), std::string::npos) << ls.output;
  EXPECT_EQ(Sh(fmt::format("cd {} && sha256sum big.bin", local)).output,
            Sh(fmt::format("cd {}/tree && sha256sum big.bin", mnt)).output);
  EXPECT_EQ(Sh(fmt::format("cat {}/tree/sub/link-up | sha256sum", mnt)).output,
            Sh(fmt::format("sha256sum < {}/big.bin", local)).output);

  // tar c of the mounted tree and tar x into the mount.
  EXPECT_SH(
      fmt::format("mkdir {0}/untar && tar c -C {1}/tree . | tar x -C {0}/untar", dir_.path(), mnt));
  EXPECT_SH(fmt::format("diff -r --no-dereference {} {}/untar", local, dir_.path()));
  EXPECT_SH(fmt::format("mkdir {0}/x && tar c -C {1} . | tar x -C {0}/x", mnt, local));
  EXPECT_SH(fmt::format("diff -r --no-dereference {} {}/x", local, mnt));

  // mv of a file and of a directory.
  EXPECT_SH(fmt::format("mv {0}/tree/small.txt {0}/tree/moved.txt", mnt));
  EXPECT_EQ(ReadFile(mnt + "/tree/moved.txt"), "hello chainfs\n");
  EXPECT_FALSE(std::filesystem::exists(mnt + "/tree/small.txt"));
  EXPECT_SH(fmt::format("mv {0}/tree/sub {0}/sub-moved", mnt));
  EXPECT_SH(fmt::format("diff -r --no-dereference {}/sub {}/sub-moved", local, mnt));
  EXPECT_FALSE(std::filesystem::exists(mnt + "/tree/sub"));

  EXPECT_SH(fmt::format("rm -r {0}/tree {0}/x {0}/sub-moved", mnt));
  EXPECT_EQ(Sh(fmt::format("ls -A {}", mnt)).output, "");
}

TEST_F(MountTest, Directories_AttributesAndSymlinks) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  Mounted& m = Mount();
  std::string mnt = m.dir;
  EXPECT_SH(fmt::format("mkdir -p {}/a/b/c", mnt));
  EXPECT_TRUE(std::filesystem::is_directory(mnt + "/a/b/c"));
  EXPECT_SH(fmt::format("rmdir {}/a/b/c", mnt));
  EXPECT_FALSE(std::filesystem::exists(mnt + "/a/b/c"));
  EXPECT_TRUE(std::filesystem::is_directory(mnt + "/a/b"));
  // Every listing starts with "." and "..", once each.
  EXPECT_EQ(Sh(fmt::format("ls -a {}/a", mnt)).output, ".\n..\nb\n");
  EXPECT_EQ(Sh(fmt::format("ls -a {}", mnt)).output, ".\n..\na\n");
  EXPECT_EQ(Sh(fmt::format("ls -ai {}/a | head -1 | tr -s \" \" | cut -d\" \" -f1", mnt)).output,
            Sh(fmt::format("stat -c %i {}/a", mnt)).output);

  EXPECT_SH(fmt::format("echo data > {}/a/f", mnt));
  EXPECT_SH(fmt::format("touch -d \"2001-02-03 04:05:06 UTC\" {}/a/f", mnt));
  EXPECT_EQ(Sh(fmt::format("stat -c %Y {}/a/f", mnt)).output, "981173106\n");
  EXPECT_SH(fmt::format("chmod 640 {}/a/f", mnt));
  EXPECT_EQ(Sh(fmt::format("stat -c %a {}/a/f", mnt)).output, "640\n");
  EXPECT_SH(fmt::format("touch {}/a/new", mnt));
  EXPECT_EQ(Sh(fmt::format("stat -c %s {}/a/new", mnt)).output, "0\n");
  EXPECT_SH(fmt::format("ln -s f {}/a/link", mnt));
  EXPECT_EQ(Sh(fmt::format("readlink {}/a/link", mnt)).output, "f\n");
  EXPECT_EQ(Sh(fmt::format("cat {}/a/link", mnt)).output, "data\n");
  // The attributes survive a new mount (they are stored, not cached).
  Mounted& other = Mount();
  EXPECT_EQ(Sh(fmt::format("stat -c %a:%Y {}/a/f", other.dir)).output, "640:981173106\n");
  EXPECT_TRUE(std::filesystem::is_directory(other.dir + "/a/b"));
}

TEST_F(MountTest, RandomWritesAppendsAndTruncation_GiveTheBytesOfALocalFile) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  Mounted& m = Mount();
  std::string local = dir_.path() + "/local.bin";
  std::string remote = m.dir + "/remote.bin";
  std::string seed = RandomBytes(2 * 1024 * 1024 + 3, 7);
  ASSERT_TRUE(WriteFile(local, seed));
  ASSERT_TRUE(WriteFile(remote, seed));
  for (const std::string& f : {local, remote}) {
    EXPECT_SH(
        fmt::format("dd if=/dev/urandom of=/tmp/patch-{} bs=1000 count=5 2>/dev/null; "
                    "dd if=/tmp/patch-{} of={} bs=1000 seek=700 conv=notrunc 2>/dev/null",
                    getpid(), getpid(), f));
    EXPECT_SH(
        fmt::format("dd if=/tmp/patch-{} of={} bs=1000 seek=700 conv=notrunc 2>/dev/null; "
                    "echo appended >> {}",
                    getpid(), f, f));
    EXPECT_SH(fmt::format("truncate -s 1500000 {}", f));
    EXPECT_SH(fmt::format("truncate -s 1600000 {}", f));  // grows with zeros
    EXPECT_SH(fmt::format("echo tail >> {}", f));
  }
  // The same system calls through one descriptor: pwrite at random places, ftruncate.
  std::mt19937 rng(42);
  int fds[2] = {::open(local.c_str(), O_RDWR), ::open(remote.c_str(), O_RDWR)};
  ASSERT_GE(fds[0], 0);
  ASSERT_GE(fds[1], 0);
  for (int i = 0; i < 50; ++i) {
    std::string chunk = RandomBytes(1 + rng() % 20000, i);
    off_t off = rng() % 2'000'000;
    for (int fd : fds)
      ASSERT_EQ(::pwrite(fd, chunk.data(), chunk.size(), off), (ssize_t)chunk.size());
    if (i == 25) {
      for (int fd : fds) ASSERT_EQ(::ftruncate(fd, 123457), 0);
    }
  }
  for (int fd : fds) EXPECT_EQ(::close(fd), 0);
  Sh(fmt::format("rm -f /tmp/patch-{}", getpid()));
  EXPECT_SH(fmt::format("cmp {} {}", local, remote));
  // And as another mount sees it.
  Mounted& other = Mount();
  EXPECT_SH(fmt::format("cmp {} {}/remote.bin", local, other.dir));
}

TEST_F(MountTest, TwoMounts_CloseInOne_NextOpenInTheOtherSeesIt) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  Mounted& a = Mount();
  Mounted& b = Mount();
  for (int round = 0; round < 5; ++round) {
    std::string content = RandomBytes(1000 + round * 50000, round);
    ASSERT_TRUE(WriteFile(a.dir + "/shared", content));  // closed when WriteFile returns
    EXPECT_EQ(ReadFile(b.dir + "/shared"), content) << "round " << round;
    ASSERT_TRUE(WriteFile(b.dir + "/shared", content + "!"));
    EXPECT_EQ(ReadFile(a.dir + "/shared"), content + "!") << "round " << round;
  }
  EXPECT_SH(fmt::format("rm {}/shared", a.dir));
  // open() revalidates at once; stat() may answer from attributes b cached when it stored the
  // file, for at most --attr-timeout (1 s).
  EXPECT_FALSE(std::ifstream(b.dir + "/shared").is_open());
  EXPECT_TRUE(chainfs::testing::Eventually(
      [&] { return !std::filesystem::exists(b.dir + "/shared"); }, seconds(3)));

  // A new empty file is stored by the close (or fsync) that ends it, however it was
  // made: both mounts list it as soon as that call returns.
  auto listed = [](const std::string& dir, const std::string& name) {
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.path().filename() == name) return true;
    }
    return false;
  };
  int fd = ::open((a.dir + "/opened").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::close(fd), 0);
  EXPECT_SH(fmt::format("touch {}/touched", a.dir));
  EXPECT_SH(fmt::format(": > {}/redirected", a.dir));
  for (const char* name : {"opened", "touched", "redirected"}) {
    EXPECT_TRUE(listed(a.dir, name)) << name;
    EXPECT_TRUE(listed(b.dir, name)) << name;
  }
  fd = ::open((a.dir + "/synced").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::fsync(fd), 0);
  EXPECT_TRUE(listed(b.dir, "synced"));
  EXPECT_EQ(::close(fd), 0);
  // A shell's redirection closes a duplicate before it writes: the content still arrives.
  EXPECT_SH(fmt::format("printf 123 > {}/printed", a.dir));
  EXPECT_EQ(ReadFile(b.dir + "/printed"), "123");
}

TEST_F(MountTest, ManySmallFiles_ReadFromASecondMount_GiveTheirBytes_AlsoAfterOverwrites) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  Mounted& a = Mount();
  Mounted& b = Mount();
  // Sizes around the inline limit (64 KiB) and the one-call read limit (1 MiB).
  const std::vector<size_t> sizes = {0, 1, 100, 4096, 65536, 65537, 300000, 1 << 20, (1 << 20) + 1};
  for (int round = 0; round < 2; ++round) {
    std::vector<std::string> contents;
    for (int i = 0; i < 60; ++i) {
      contents.push_back(RandomBytes(sizes[i % sizes.size()] + (i < 9 ? 0 : i), i * 3 + round));
      ASSERT_TRUE(WriteFile(fmt::format("{}/s{}", a.dir, i), contents.back())) << i;
    }
    for (int i = 0; i < 60; ++i) {
      EXPECT_TRUE(ReadFile(fmt::format("{}/s{}", b.dir, i)) == contents[i])
          << "file " << i << " of " << contents[i].size() << " bytes, round " << round;
    }
  }
}

TEST_F(MountTest, NegativeTimeout_AMissingNameStaysMissingForIt_ALocalCreateIsSeenAtOnce) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  Mounted& m = Mount({"--negative-timeout", "30s"});
  Mounted& other = Mount();
  EXPECT_FALSE(std::filesystem::exists(m.dir + "/elsewhere"));
  EXPECT_FALSE(std::filesystem::exists(m.dir + "/here"));
  ASSERT_TRUE(WriteFile(other.dir + "/elsewhere", "e"));
  EXPECT_FALSE(std::filesystem::exists(m.dir + "/elsewhere"));  // the kernel answers itself
  ASSERT_TRUE(WriteFile(m.dir + "/here", "h"));
  EXPECT_EQ(ReadFile(m.dir + "/here"), "h");
  EXPECT_EQ(ReadFile(other.dir + "/here"), "h");
}

TEST_F(MountTest, FileStoreKilledDuringALargeRead_ReadCompletesWithTheRightBytes) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  Mounted& m = Mount();
  std::string content = RandomBytes(64 * 1024 * 1024, 11);
  ASSERT_TRUE(WriteFile(m.dir + "/large", content));
  auto client = Client();
  ASSERT_NE(client, nullptr);
  v1::DoReadRequest req;
  req.set_path("/large");
  auto file = client->DoRead(req);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_GE(file->holders_size(), 2);

  Mounted& reader = Mount();  // a cold mount: every byte comes from a FileStore
  int fd = ::open((reader.dir + "/large").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string got(content.size(), '\0');
  size_t done = 0;
  bool killed = false;
  while (done < got.size()) {
    ssize_t n = ::read(fd, got.data() + done, std::min<size_t>(1 << 20, got.size() - done));
    ASSERT_GT(n, 0) << "read failed at " << done << ": " << strerror(errno);
    done += n;
    if (!killed && done >= 10 * 1024 * 1024) {
      // The holder the mount reads from is the first one that answers: kill them all but
      // the last, so the read has to fail over.
      for (int i = 0; i + 1 < file->holders_size(); ++i) {
        Daemon* victim = FileStoreAt(file->holders(i));
        ASSERT_NE(victim, nullptr);
        victim->process->Kill(SIGKILL);
      }
      killed = true;
    }
  }
  ::close(fd);
  EXPECT_TRUE(got == content) << "bytes differ";
}

TEST_F(MountTest, LargeFileReadAtScatteredOffsetsAndSequentially_FromAColdMount_MatchesTheBytes) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  Mounted& writer = Mount();
  std::string content = RandomBytes(48 * 1024 * 1024 + 4097, 21);
  ASSERT_TRUE(WriteFile(writer.dir + "/scattered", content));
  Mounted& reader = Mount();
  int fd = ::open((reader.dir + "/scattered").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::mt19937_64 rng(22);
  std::string buf;
  for (int i = 0; i < 200; ++i) {
    size_t size = 1 + rng() % (3 * 1024 * 1024);
    off_t off = rng() % (content.size() + 1000);
    buf.assign(size, '\0');
    ssize_t n = ::pread(fd, buf.data(), size, off);
    size_t want =
        off >= static_cast<off_t>(content.size()) ? 0 : std::min(size, content.size() - off);
    ASSERT_EQ(n, static_cast<ssize_t>(want)) << "pread " << size << " at " << off;
    EXPECT_TRUE(buf.compare(0, want, content, off, want) == 0) << "pread " << size << " at " << off;
  }
  // Backwards in 1 MiB steps, then forwards through the whole file on the same descriptor.
  for (off_t off = 40 << 20; off >= 0; off -= 1 << 20) {
    buf.assign(1 << 20, '\0');
    ASSERT_EQ(::pread(fd, buf.data(), buf.size(), off), 1 << 20);
    EXPECT_TRUE(buf.compare(0, buf.size(), content, off, buf.size()) == 0) << off;
  }
  std::string all(content.size(), '\0');
  size_t done = 0;
  while (done < all.size()) {
    ssize_t n = ::pread(fd, all.data() + done, all.size() - done, done);
    ASSERT_GT(n, 0) << "at " << done;
    done += n;
  }
  ::close(fd);
  EXPECT_TRUE(all == content);
  EXPECT_EQ(Sh(fmt::format("sha256sum < {}/scattered", reader.dir)).output,
            Sh(fmt::format("sha256sum < {}/scattered", writer.dir)).output);
}

// Writes `content` to `fd` in 1 MiB write() calls.
void WriteAll(int fd, const std::string& content, size_t from = 0) {
  for (size_t done = from; done < content.size();) {
    ssize_t n =
        ::write(fd, content.data() + done, std::min<size_t>(1 << 20, content.size() - done));
    ASSERT_GT(n, 0) << "write at " << done << ": " << strerror(errno);
    done += n;
  }
}

TEST_F(MountTest, LargeSequentialWrite_UploadsBeforeClose_AndReadsBackIdenticalElsewhere) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  Mounted& m = Mount({"--log-level", "debug"});
  std::string content = RandomBytes(40 * 1024 * 1024 + 12345, 31);
  int fd = ::open((m.dir + "/streamed").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0640);
  ASSERT_GE(fd, 0);
  ASSERT_NO_FATAL_FAILURE(WriteAll(fd, content));
  EXPECT_EQ(::fsync(fd), 0) << strerror(errno);
  EXPECT_EQ(::close(fd), 0) << strerror(errno);
  std::string log = ReadFile(m.process->log_path());
  EXPECT_NE(log.find("write-behind of /streamed version"), std::string::npos) << log;
  EXPECT_NE(log.find("committed (" + std::to_string(content.size()) + " bytes)"), std::string::npos)
      << log;
  Mounted& other = Mount();
  EXPECT_TRUE(ReadFile(other.dir + "/streamed") == content);
  // The mode and the mtime of the last write are stored, not those of the stream's start.
  EXPECT_EQ(Sh(fmt::format("stat -c %a:%s:%Y {}/streamed", other.dir)).output,
            Sh(fmt::format("stat -c %a:%s:%Y {}/streamed", m.dir)).output);
  // cp of a large file, compared from the other mount.
  std::string local = dir_.path() + "/local.bin";
  ASSERT_TRUE(WriteFile(local, content));
  EXPECT_SH(fmt::format("cp {} {}/copied", local, m.dir));
  EXPECT_SH(fmt::format("cmp {} {}/copied", local, other.dir));
}

TEST_F(MountTest, SequentialWriteThenOverwriteOrTruncateBeforeClose_GivesTheLocalFileBytes) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  Mounted& m = Mount({"--log-level", "debug"});
  Mounted& other = Mount();
  std::string content = RandomBytes(16 * 1024 * 1024, 32);
  std::string patch = RandomBytes(5000, 33);
  for (bool truncate : {false, true}) {
    std::string name = truncate ? "/truncated" : "/patched";
    std::string local = dir_.path() + name;
    std::string remote = m.dir + name;
    int fds[2] = {::open(local.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644),
                  ::open(remote.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644)};
    for (int fd : fds) {
      ASSERT_GE(fd, 0);
      ASSERT_NO_FATAL_FAILURE(WriteAll(fd, content.substr(0, 12 * 1024 * 1024)));
    }
    // The write-behind stream started during these writes (at 4 MiB, without the kernel's
    // writeback cache every write reaches the mount before it returns): what follows
    // cancels a stream under way.
    for (int fd : fds) {
      if (truncate) {
        ASSERT_EQ(::ftruncate(fd, 3 * 1024 * 1024 + 1), 0);
        ASSERT_EQ(::lseek(fd, 0, SEEK_END), 3 * 1024 * 1024 + 1);
      } else {
        ASSERT_EQ(::pwrite(fd, patch.data(), patch.size(), 0), (ssize_t)patch.size());
      }
      ASSERT_NO_FATAL_FAILURE(WriteAll(fd, content.substr(0, 4 * 1024 * 1024)));
      EXPECT_EQ(::close(fd), 0) << strerror(errno);
    }
    EXPECT_SH(fmt::format("cmp {} {}", local, remote));
    EXPECT_SH(fmt::format("cmp {} {}{}", local, other.dir, name));
  }
  std::string log = ReadFile(m.process->log_path());
  EXPECT_NE(log.find("write-behind of /patched version"), std::string::npos) << log;
  EXPECT_NE(log.find("cancelled"), std::string::npos) << log;
}

// The contract: a failed chain is retried with a fresh doCreate. With two of three FileStores
// alive there is a chain without the dead one, so close() returns 0 and the bytes are all
// stored, whether the write-behind stream's own retry or close's upload stores them.
TEST_F(MountTest, FileStoreKilledDuringALargeSequentialWrite_CloseSucceedsWithTheDataIntact) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  Mounted& m = Mount({"--log-level", "debug"});
  std::string content = RandomBytes(48 * 1024 * 1024, 34);
  int fd = ::open((m.dir + "/survivor").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  const size_t half = 20 * 1024 * 1024;
  ASSERT_NO_FATAL_FAILURE(WriteAll(fd, content.substr(0, half)));
  // With three FileStores every chain holds all of them: this one is in the write-behind's,
  // which is streaming (it started at 4 MiB). Kill returns once the process is reaped.
  filestores_[0].process->Kill(SIGKILL);
  ASSERT_NO_FATAL_FAILURE(WriteAll(fd, content, half));
  EXPECT_EQ(::close(fd), 0) << strerror(errno);
  Mounted& other = Mount();
  EXPECT_TRUE(ReadFile(other.dir + "/survivor") == content);
  EXPECT_EQ(Sh(fmt::format("find {} -name \"*.kept\"", m.cache)).output, "");  // nothing kept
  EXPECT_SH(fmt::format("echo still > {0}/after && cat {0}/after", m.dir));
  // The stream's failure was logged with the name, the version and the chain.
  std::string log = ReadFile(m.process->log_path());
  EXPECT_NE(log.find("write-behind of /survivor version"), std::string::npos) << log;
  EXPECT_NE(log.find(filestores_[0].address), std::string::npos) << log;
}

// Write availability: with three FileStores left alive, a kill -9 of a fourth fails no
// close(). A chain through the dead one is retried without it (the client names it, the
// NameServer stops placing on it until it heartbeats again), so every close returns 0 and
// every file reads back intact through another mount.
TEST_F(MountTest, FileStoreKilledWhileFilesAreClosedInALoop_NoCloseFails_AndAllReadBack) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(4));
  Mounted& m = Mount();
  // Small (one call), streamed, and written behind (started before close).
  const std::vector<size_t> sizes = {1000, 300 * 1024, 1536 * 1024, 6 * 1024 * 1024};
  std::atomic<int> closed{0};
  std::atomic<bool> stop{false};
  std::vector<std::pair<std::string, int>> failures;  // path, errno
  std::vector<std::string> written;
  int closed_after_kill = 0;
  std::atomic<bool> killed{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      std::string path = fmt::format("{}/f{}", m.dir, i);
      std::string content = RandomBytes(sizes[i % sizes.size()], 1000 + i);
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) {
        failures.emplace_back(path + " (open)", errno);
        continue;
      }
      bool ok = true;
      for (size_t done = 0; ok && done < content.size();) {
        ssize_t n =
            ::write(fd, content.data() + done, std::min<size_t>(1 << 20, content.size() - done));
        if (n <= 0) {
          failures.emplace_back(path + " (write)", errno);
          ok = false;
        } else {
          done += static_cast<size_t>(n);
        }
      }
      if (::close(fd) != 0) {
        failures.emplace_back(path + " (close)", errno);
        ok = false;
      }
      if (ok) {
        written.push_back(path);
        if (killed) ++closed_after_kill;
      }
      ++closed;
    }
  });
  EXPECT_TRUE(chainfs::testing::Eventually([&] { return closed >= 12; }, seconds(60)));
  filestores_[1].process->Kill(SIGKILL);
  killed = true;
  // Past the NameServer's dropping of it (two 1 s heartbeats) and then some.
  std::this_thread::sleep_for(seconds(5));
  stop = true;
  writer.join();
  fmt::print("files closed: {}, after the kill: {}, failed: {}\n", written.size(),
             closed_after_kill, failures.size());
  for (const auto& [path, err] : failures) ADD_FAILURE() << path << ": " << strerror(err);
  EXPECT_GT(closed_after_kill, 0);
  Mounted& other = Mount();
  for (const std::string& path : written) {
    int i = std::stoi(path.substr(path.rfind("/f") + 2));
    std::string there = other.dir + path.substr(m.dir.size());
    EXPECT_TRUE(ReadFile(there) == RandomBytes(sizes[i % sizes.size()], 1000 + i)) << there;
  }
}

// Staged files kept after failed closes: bounded by --max-kept-files (the oldest is
// discarded with an error line), listed by --list-kept, and stored by --retry-kept once
// FileStores are back.
TEST_F(MountTest, KeptStagedFiles_AreBoundedListedAndStoredByRetry) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  Mounted& m = Mount({"--max-kept-files", "2"});
  for (auto& d : filestores_) d.process->Kill(SIGKILL);
  for (int i = 0; i < 3; ++i) {
    std::string path = fmt::format("{}/lost{}", m.dir, i);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    std::string content = fmt::format("content {}\n", i);
    ASSERT_EQ(::write(fd, content.data(), content.size()), (ssize_t)content.size());
    EXPECT_EQ(::close(fd), -1) << path;
    std::this_thread::sleep_for(milliseconds(20));  // distinct mtimes of the records
  }
  std::string mount_binary = chainfs::testing::BinaryPath("fuse/chainfs-mount");
  Shell listed = Sh(fmt::format("{} --list-kept --cache-dir {}", mount_binary, m.cache));
  EXPECT_EQ(listed.code, 0) << listed.output;
  EXPECT_EQ(listed.output.find("/lost0"), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("/lost1\t10\t"), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("/lost2\t10\t"), std::string::npos) << listed.output;
  EXPECT_NE(ReadFile(m.process->log_path()).find("discarded the kept data of /lost0"),
            std::string::npos);

  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(StartFileStore());
  Shell retried = Sh(fmt::format("{} --retry-kept --zk {} --cache-dir {} --upload-attempts 8",
                                 mount_binary, zk_spec_, m.cache));
  EXPECT_EQ(retried.code, 0) << retried.output;
  EXPECT_EQ(ReadFile(m.dir + "/lost1"), "content 1\n");
  EXPECT_EQ(ReadFile(m.dir + "/lost2"), "content 2\n");
  listed = Sh(fmt::format("{} --list-kept --cache-dir {}", mount_binary, m.cache));
  EXPECT_EQ(listed.output, "");
}

// The CLI's put shares the mount's retry policy: a FileStore killed just before fails no
// put while three others are alive.
TEST_F(MountTest, CliPutRightAfterAFileStoreIsKilled_Succeeds) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(4));
  Mounted& m = Mount();
  std::string local = dir_.path() + "/local";
  ASSERT_TRUE(WriteFile(local, RandomBytes(2 * 1024 * 1024 + 5, 77)));
  filestores_[2].process->Kill(SIGKILL);
  std::string cli = chainfs::testing::BinaryPath("tools/chainfs");
  for (int i = 0; i < 8; ++i) {
    EXPECT_SH(fmt::format("{} --zk {} put {} /put{}", cli, zk_spec_, local, i));
  }
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(ReadFile(fmt::format("{}/put{}", m.dir, i)) == ReadFile(local)) << i;
  }
}

TEST_F(MountTest, LeaderNameServerKilled_OperationsResumeAfterFailover) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3, 2));
  Mounted& m = Mount();
  ASSERT_TRUE(WriteFile(m.dir + "/before", "before failover"));
  auto client = Client();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->StatFs(v1::StatFsRequest()).ok());
  std::string leader = client->leader();
  bool killed = false;
  for (auto& ns : nameservers_) {
    if (ns.address == leader) {
      ns.process->Kill(SIGKILL);
      killed = true;
    }
  }
  ASSERT_TRUE(killed) << "leader " << leader << " not one of ours";
  // Calls block (retrying) until the standby serves.
  ASSERT_TRUE(WriteFile(m.dir + "/after", "after failover"));
  EXPECT_EQ(ReadFile(m.dir + "/after"), "after failover");
  EXPECT_EQ(ReadFile(m.dir + "/before"), "before failover");
  EXPECT_SH(fmt::format("mkdir {0}/d && mv {0}/after {0}/d/ && ls {0}/d", m.dir));
}

TEST_F(MountTest, AllFileStoresFull_CloseFailsWithEnospc_AndTheStagedFileIsKept) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3, 1, /*capacity=*/256 * 1024));
  Mounted& m = Mount();
  std::string content = RandomBytes(1024 * 1024, 5);
  int fd = ::open((m.dir + "/toobig").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, content.data(), content.size()), (ssize_t)content.size());
  errno = 0;
  EXPECT_EQ(::close(fd), -1);
  EXPECT_EQ(errno, ENOSPC) << strerror(errno);
  EXPECT_TRUE(StagedCopyKept(m.cache, content)) << "no staged copy under " << m.cache;
  // The mount keeps serving.
  EXPECT_SH(fmt::format("echo small > {0}/small && cat {0}/small", m.dir));
}

TEST_F(MountTest, EveryFileStoreKilled_CloseOfANewEmptyFileFails) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  Mounted& m = Mount();
  EXPECT_SH(fmt::format("touch {}/before", m.dir));
  for (auto& d : filestores_) d.process->Kill(SIGKILL);
  // The NameServer still hands out their chains (they miss heartbeats for a while): each
  // upload is refused at once. close() says so, even though there were no bytes to store.
  int fd = ::open((m.dir + "/empty").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  errno = 0;
  EXPECT_EQ(::close(fd), -1);
  EXPECT_EQ(errno, EIO) << strerror(errno);
}

TEST_F(MountTest, Errors_AreTheErrnosUsersExpect) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  Mounted& m = Mount();
  std::string mnt = m.dir;
  ASSERT_EQ(::mkdir((mnt + "/d").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(mnt + "/d/f", "x"));
  errno = 0;
  EXPECT_EQ(::rmdir((mnt + "/d").c_str()), -1);
  EXPECT_EQ(errno, ENOTEMPTY);
  errno = 0;
  EXPECT_EQ(::open((mnt + "/missing").c_str(), O_RDONLY), -1);
  EXPECT_EQ(errno, ENOENT);
  errno = 0;
  EXPECT_EQ(::open((mnt + "/" + std::string(256, 'n')).c_str(), O_WRONLY | O_CREAT, 0644), -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
  errno = 0;
  EXPECT_EQ(::link((mnt + "/d").c_str(), (mnt + "/hard").c_str()), -1);  // a directory
  EXPECT_EQ(errno, EPERM);
  errno = 0;
  EXPECT_EQ(::mkdir((mnt + "/d").c_str(), 0755), -1);
  EXPECT_EQ(errno, EEXIST);
  errno = 0;
  EXPECT_EQ(::unlink((mnt + "/d").c_str()), -1);
  EXPECT_EQ(errno, EISDIR);
  errno = 0;
  EXPECT_EQ(::open((mnt + "/d").c_str(), O_WRONLY), -1);
  EXPECT_EQ(errno, EISDIR);
  errno = 0;
  EXPECT_EQ(::mkdir((mnt + "/d/f/sub").c_str(), 0755), -1);
  EXPECT_EQ(errno, ENOTDIR);
  // Exclusive creation of a name that exists, also one another mount stored meanwhile.
  Mounted& other = Mount();
  ASSERT_TRUE(WriteFile(other.dir + "/by-other", "y"));
  for (const char* name : {"/d/f", "/by-other"}) {
    errno = 0;
    EXPECT_EQ(::open((mnt + name).c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644), -1) << name;
    EXPECT_EQ(errno, EEXIST) << name;
  }
  EXPECT_SH(fmt::format("ln {0}/d/f {0}/hard2 && test {0}/hard2 -ef {0}/d/f", mnt));
  EXPECT_EQ(ReadFile(mnt + "/d/f"), "x");  // the mount survived all of it
  EXPECT_TRUE(m.process->Running());
}

TEST(MountCommand, MissingDirectoryOrUnreachableZooKeeper_ClearMessageAndNonZeroExit) {
  Shell missing = Sh(fmt::format("{} --zk 127.0.0.1:1/x /nonexistent/dir -f",
                                 chainfs::testing::BinaryPath("fuse/chainfs-mount")));
  EXPECT_NE(missing.code, 0);
  EXPECT_NE(missing.output.find("/nonexistent/dir"), std::string::npos) << missing.output;
  TempDir dir;
  Shell unreachable =
      Sh(fmt::format("{} --zk 127.0.0.1:1/x {} --connect-timeout 1s",
                     chainfs::testing::BinaryPath("fuse/chainfs-mount"), dir.path()));
  EXPECT_NE(unreachable.code, 0);
  EXPECT_NE(unreachable.output.find("unreachable"), std::string::npos) << unreachable.output;
  EXPECT_FALSE(IsFuseMount(dir.path()));
}

// open(2) + write(2) + (fsync(2)) + close(2): whether every call succeeded.
bool WriteAndClose(const std::string& path, const std::string& data, bool fsync = false) {
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return false;
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  if (fsync) ok = ok && ::fsync(fd) == 0;
  return ::close(fd) == 0 && ok;
}

TEST_F(MountTest, ReplicatedDurability_KillingEveryFileStoreAfterClose_LosesNothing_FsyncFlushes) {
  // No flush by the timer during the test: only fsync() makes the FileStores flush.
  const std::vector<std::string> lazy = {"--durability", "replicated", "--flush-interval", "1h"};
  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(StartFileStore(0, lazy));
  ASSERT_NO_FATAL_FAILURE(StartNameServer());
  ASSERT_NO_FATAL_FAILURE(WaitServing());
  Mounted& m = Mount();
  std::map<std::string, std::string> written;
  for (int i = 0; i < 20; ++i) {
    const std::string name = fmt::format("f{}", i);
    written[name] = RandomBytes(i % 5 == 0 ? 300000 : 4096, 100 + i);
    ASSERT_TRUE(WriteAndClose(m.dir + "/" + name, written[name])) << name;
  }
  // Right after the last close() returned: kill -9 of every replica, then a restart on the
  // same data and address. What close() acknowledged was in their operating system.
  for (auto& fs : filestores_) fs.process->Kill(SIGKILL);
  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(StartFileStore(0, lazy, i));
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(ReadFile(fmt::format("{}/fs{}.log", dir_.path(), i))
                  .find("recovery after an unclean stop: verified"),
              std::string::npos)
        << "fs" << i << " verified what no flush covered";
  }
  Mounted& fresh = Mount();  // no page cached by the kernel
  for (const auto& [name, content] : written) {
    EXPECT_TRUE(chainfs::testing::Eventually([&] {
      return ReadFile(fresh.dir + "/" + name) == content;
    })) << name
        << " lost";
  }

  // fsync() on the mount: every holder flushes (each one's flush record changes).
  std::vector<std::string> records;
  for (int i = 0; i < 3; ++i) records.push_back(ReadFile(FileStoreData(i) + "/flushed"));
  ASSERT_TRUE(WriteAndClose(fresh.dir + "/synced", RandomBytes(4096, 7), /*fsync=*/true));
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(ReadFile(FileStoreData(i) + "/flushed"), records[i]) << "fs" << i << " flushed";
  }
}

}  // namespace
}  // namespace chainfs::mount
