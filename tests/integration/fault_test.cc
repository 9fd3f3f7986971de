// The fault test of issue 10: a real ZooKeeper, two NameServers, four FileStores and a FUSE
// mount with short timings. Writer threads create, overwrite, rename into place and delete
// files through the mount and keep a ledger of what was acknowledged (close() or the call
// returned 0) while the test's own thread injects faults one after another: kill -9 of a
// FileStore (restarted on the same data and port), kill -9 of the leader NameServer (a new
// one is started), SIGSTOP/SIGCONT of a FileStore, one flipped byte in a stored object.
// Afterwards the cluster must converge (0 under-replicated, every live file on >= 3
// FileStores in the NameServer and on disk) and every acknowledged file must read back
// exactly, through the mount and through a fresh one.
//
// CHAINFS_FAULT_SECONDS sets how long faults are injected (default 90).
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/checksum.h"
#include "common/client/filestore_client.h"
#include "common/client/nameserver_client.h"
#include "common/settings.h"
#include "common/zk/zookeeper.h"
#include "tests/fixtures/process.h"
#include "tests/fixtures/tls.h"
#include "tests/fixtures/zk_server.h"

namespace chainfs {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::BinaryPath;
using testing::Daemon;
using testing::Eventually;
using testing::Process;
using testing::TempDir;
using SteadyClock = std::chrono::steady_clock;

constexpr int kFileStores = 4;
constexpr int kNameServers = 2;
constexpr int kWriters = 3;
constexpr int kNamesPerWriter = 24;
constexpr int kReplication = 3;
constexpr size_t kMaxFileBytes = 1 << 20;
// Fault rhythm: one fault at a time, then a quiet gap, so that during a FileStore kill the
// three other FileStores are alive and not stopped.
constexpr auto kWarmUp = seconds(3);
constexpr auto kFaultGap = seconds(3);
constexpr auto kFileStoreDownTime = seconds(4);
constexpr auto kFileStoreStopTime = seconds(4);
constexpr auto kFailoverProbeLimit = seconds(60);
// The spec's "full replication within 60 s"; the test timings are far shorter.
constexpr auto kConvergenceDeadline = seconds(60);
constexpr auto kWriterStopLimit = seconds(90);
constexpr long kFuseSuperMagic = 0x65735546;

int FaultSeconds() {
  const char* env = getenv("CHAINFS_FAULT_SECONDS");
  if (env == nullptr || *env == '\0') return 90;
  return std::max(1, atoi(env));
}

double Seconds(SteadyClock::duration d) {
  return std::chrono::duration_cast<milliseconds>(d).count() / 1000.0;
}

struct Shell {
  int code;
  std::string output;
};

Shell Sh(const std::string& command) {
  std::string full = command + " 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

bool IsFuseMount(const std::string& dir) {
  struct statfs st;
  return ::statfs(dir.c_str(), &st) == 0 && st.f_type == kFuseSuperMagic;
}

std::string NameDigest(const std::string& name) {
  XXH128_hash_t h = XXH3_128bits(name.data(), name.size());
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

// Content is derived from a seed, so only (seed, size, checksum) is kept in the ledger.
struct Content {
  uint64_t seed = 0;
  size_t size = 0;
  uint64_t hash = 0;
};

std::string ContentBytes(uint64_t seed, size_t size) {
  std::mt19937_64 rng(seed);
  std::string s(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    uint64_t v = rng();
    memcpy(s.data() + i, &v, std::min<size_t>(8, size - i));
  }
  return s;
}

// A state a path may be in once the calls on it returned: absent, or one content.
struct State {
  bool present = false;
  Content content;
  bool operator==(const State& o) const {
    return present == o.present &&
           (!present || (content.size == o.content.size && content.hash == o.content.hash));
  }
};

std::string Describe(const State& s) {
  if (!s.present) return "absent";
  return fmt::format("{} B xxh3 {:016x}", s.content.size, s.content.hash);
}

// What the ledger knows of one path: the states it may be in. One state after an
// acknowledged call; a failed call adds its outcome to the possibilities (it may or may
// not have happened) until the next acknowledged call.
struct Entry {
  std::vector<State> acceptable = {State{}};
  std::deque<std::string> history;  // the last calls on the path, for failure reports

  bool MayBeAbsent() const {
    return std::any_of(acceptable.begin(), acceptable.end(),
                       [](const State& s) { return !s.present; });
  }
  bool MayBePresent() const {
    return !acceptable.empty() && !(acceptable.size() == 1 && MayBeAbsent());
  }
  void Set(State s) { acceptable = {s}; }
  void Add(State s) {
    if (std::find(acceptable.begin(), acceptable.end(), s) == acceptable.end()) {
      acceptable.push_back(s);
    }
  }
  std::string DescribeAcceptable() const {
    std::string out;
    for (const State& s : acceptable) out += (out.empty() ? "" : " | ") + Describe(s);
    return out;
  }
};

// One fault (or quiet time) and what happened to the writers' calls meanwhile.
struct Window {
  std::string what;
  double start_s = 0;
  bool filestore_kill = false;
  int acknowledged = 0;
  int failed_closes = 0;
  int failed_other = 0;  // open, write, rename, unlink
  int read_errors = 0;
  std::vector<std::string> failures;  // the first few, for the report
};

// Anomalies seen while the writers ran: wrong bytes, or an acknowledged file missing.
struct Anomaly {
  double t_s;
  int window;
  std::string what;
};

class FaultTest : public ::testing::Test {
 protected:
  struct Mounted {
    std::string dir;
    std::unique_ptr<Process> process;
  };

  void SetUp() override {
    zk_server_ = testing::SharedZkServer();
    ASSERT_NE(zk_server_, nullptr);
    zk_spec_ = zk_server_->ConnectString(testing::UniqueChroot());
    auto address = ParseZkAddress(zk_spec_);
    ASSERT_TRUE(address.ok()) << address.status();
    auto zk = zk::NewZooKeeper(*address, seconds(10), chainfs::testing::TestZkDigest());
    ASSERT_TRUE(zk.ok()) << zk.status();
    zk_ = std::move(*zk);
    ASSERT_TRUE(zk_->WaitConnected(seconds(10)).ok());
    NameServerClientSettings settings;
    settings.call_timeout = seconds(20);
    settings.credentials = chainfs::testing::TestChannelCredentials();
    client_ = std::make_unique<NameServerClient>(zk_.get(), settings);
    start_ = SteadyClock::now();
  }

  void TearDown() override {
    stop_writers_ = true;
    for (auto& m : mounts_) Unmount(*m);
    for (std::thread& t : writers_) {
      if (t.joinable()) t.join();
    }
    mounts_.clear();
    client_.reset();
    nameservers_.clear();
    for (Daemon& fs : filestores_) {
      if (fs.process) fs.process->Kill(SIGKILL);
    }
    filestores_.clear();
  }

  double Now() const { return Seconds(SteadyClock::now() - start_); }

  void Log(const std::string& line) { fmt::print("[{:7.2f}s] {}\n", Now(), line); }

  // --- processes ---

  std::vector<std::string> FileStoreArgs(int i, const std::string& listen) {
    return {"--zk",
            zk_spec_,
            "--listen",
            listen,
            "--data-dir",
            DataDir(i),
            "--heartbeat-interval",
            "1s",
            "--session-timeout",
            "2s"};
  }

  std::string DataDir(int i) const { return fmt::format("{}/fs{}", dir_.path(), i); }

  void StartFileStore(int i, const std::string& listen = "127.0.0.1:0") {
    std::filesystem::create_directories(DataDir(i));
    auto daemon =
        testing::StartDaemon(BinaryPath("servers/filestore/chainfs-filestore"),
                             FileStoreArgs(i, listen), fmt::format("{}/fs{}.log", dir_.path(), i));
    if (!daemon.ok() && listen != "127.0.0.1:0") {
      // The port was taken meanwhile: come back on another one (a new address).
      Log(fmt::format("fs{} cannot listen on {} again ({}); restarting on a new port", i, listen,
                      std::string(daemon.status().message())));
      daemon = testing::StartDaemon(BinaryPath("servers/filestore/chainfs-filestore"),
                                    FileStoreArgs(i, "127.0.0.1:0"),
                                    fmt::format("{}/fs{}.log", dir_.path(), i));
    }
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    if (static_cast<int>(filestores_.size()) <= i) filestores_.resize(i + 1);
    filestores_[i] = std::move(*daemon);
  }

  void StartNameServer() {
    int n = next_nameserver_++;
    auto daemon = testing::StartDaemon(BinaryPath("servers/nameserver/chainfs-nameserver"),
                                       {"--zk",
                                        zk_spec_,
                                        "--listen",
                                        "127.0.0.1:0",
                                        "--heartbeat-interval",
                                        "1s",
                                        "--session-timeout",
                                        "2s",
                                        "--startup-wait",
                                        "3s",
                                        "--replication-deadline",
                                        "5s",
                                        "--replication-interval",
                                        "500ms",
                                        "--create-grace",
                                        "1s",
                                        "--gc-interval",
                                        "2s",
                                        "--gc-version-age",
                                        "3s",
                                        "--create-timeout",
                                        "10s"},
                                       fmt::format("{}/ns{}.log", dir_.path(), n));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    nameservers_.push_back(std::move(*daemon));
  }

  Mounted& Mount() {
    auto m = std::make_unique<Mounted>();
    int i = static_cast<int>(mounts_.size());
    m->dir = fmt::format("{}/mnt{}", dir_.path(), i);
    std::string cache = fmt::format("{}/cache{}", dir_.path(), i);
    std::filesystem::create_directories(m->dir);
    std::filesystem::create_directories(cache);
    auto process = Process::Start(BinaryPath("fuse/chainfs-mount"),
                                  {"--zk", zk_spec_, m->dir, "-f", "--cache-dir", cache,
                                   "--call-timeout", "30s", "--session-timeout", "3s"},
                                  fmt::format("{}/mount{}.log", dir_.path(), i));
    EXPECT_TRUE(process.ok()) << process.status();
    if (process.ok()) m->process = std::move(*process);
    EXPECT_TRUE(Eventually([&] { return IsFuseMount(m->dir); })) << "mount did not come up";
    mounts_.push_back(std::move(m));
    return *mounts_.back();
  }

  void Unmount(Mounted& m) {
    if (IsFuseMount(m.dir) && Sh("fusermount3 -u " + m.dir).code != 0) {
      Sh("fusermount3 -u -z " + m.dir);
    }
    if (m.process) m.process->Stop();
  }

  bool Serving(int filestores) {
    auto st = client_->ClusterStatus({});
    return st.ok() && st->serving() && st->filestores_size() == filestores;
  }

  // --- the ledger and the writers ---

  int CurrentWindow() const { return current_window_.load(); }

  void OpenWindow(const std::string& what, bool filestore_kill = false) {
    std::lock_guard lock(mu_);
    Window w;
    w.what = what;
    w.start_s = Now();
    w.filestore_kill = filestore_kill;
    windows_.push_back(w);
    current_window_ = static_cast<int>(windows_.size()) - 1;
    Log(fmt::format("window {}: {}", current_window_.load(), what));
  }

  void CountAck() {
    std::lock_guard lock(mu_);
    ++windows_[CurrentWindow()].acknowledged;
    ++acknowledged_;
  }

  void CountFailure(bool close, const std::string& what) {
    std::lock_guard lock(mu_);
    Window& w = windows_[CurrentWindow()];
    (close ? w.failed_closes : w.failed_other)++;
    if (w.failures.size() < 5) w.failures.push_back(what);
  }

  void CountReadError(const std::string& what) {
    std::lock_guard lock(mu_);
    Window& w = windows_[CurrentWindow()];
    ++w.read_errors;
    if (w.failures.size() < 5) w.failures.push_back(what);
  }

  // `e`: the path's entry, whose recent calls go into the report.
  void RecordAnomaly(const std::string& what, const Entry& e) {
    std::string report = what;
    for (const std::string& h : e.history) report += "\n    " + h;
    std::lock_guard lock(mu_);
    anomalies_.push_back({Now(), CurrentWindow(), report});
    Log("ANOMALY: " + report);
  }

  void Note(Entry& e, const std::string& what) {
    e.history.push_back(fmt::format("t={:.2f}s window {}: {}", Now(), CurrentWindow(), what));
    if (e.history.size() > 10) e.history.pop_front();
  }

  // Writes `content` to the mount path; returns 0 when close() returned 0, else the errno of
  // the first failed call. *closed_failed tells whether it was close() that failed.
  int WriteThroughMount(const std::string& path, const Content& content, bool* close_failed) {
    *close_failed = false;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return errno;
    std::string bytes = ContentBytes(content.seed, content.size);
    int err = 0;
    for (size_t done = 0; done < bytes.size();) {
      ssize_t n =
          ::write(fd, bytes.data() + done, std::min<size_t>(256 << 10, bytes.size() - done));
      if (n <= 0) {
        err = errno;
        break;
      }
      done += n;
    }
    if (::close(fd) != 0 && err == 0) {
      *close_failed = true;
      return errno;
    }
    return err;
  }

  // Reads a whole file through the mount; errno on failure.
  static int ReadThroughMount(const std::string& path, std::string* out) {
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) return errno;
    out->clear();
    char buf[1 << 16];
    while (true) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        int err = errno;
        ::close(fd);
        return err;
      }
      if (n == 0) break;
      out->append(buf, n);
    }
    ::close(fd);
    return 0;
  }

  // Which acceptable state `bytes` is, or nullptr.
  static const State* Matching(const Entry& e, const std::string& bytes) {
    uint64_t hash = Checksum(bytes);
    for (const State& s : e.acceptable) {
      if (s.present && s.content.size == bytes.size() && s.content.hash == hash) return &s;
    }
    return nullptr;
  }

  struct WriterState {
    std::map<std::string, Entry> ledger;  // mount-relative path -> entry
    std::mutex op_mu;
    std::string op;  // the call in progress, for a hang report
    double op_start_s = 0;
    std::atomic<bool> done{false};
  };

  void SetOp(WriterState& ws, const std::string& op) {
    std::lock_guard lock(ws.op_mu);
    ws.op = op;
    ws.op_start_s = Now();
  }

  Content NewContent(std::mt19937_64& rng, int writer, uint64_t counter) {
    int bucket = static_cast<int>(rng() % 10);
    size_t size;
    if (bucket == 0) {
      size = 0;
    } else if (bucket <= 4) {
      size = 1 + rng() % 4096;
    } else if (bucket <= 7) {
      size = 4096 + rng() % (128 << 10);
    } else {
      size = (128 << 10) + rng() % (kMaxFileBytes - (128 << 10) + 1);
    }
    Content c;
    c.seed = (static_cast<uint64_t>(writer + 1) << 40) ^ counter ^ 0x9e3779b97f4a7c15ULL;
    c.size = size;
    c.hash = Checksum(ContentBytes(c.seed, c.size));
    return c;
  }

  // Create/overwrite `rel` with new content; the ledger learns the outcome.
  bool WriteOp(WriterState& ws, const std::string& rel, const Content& c) {
    Entry& e = ws.ledger[rel];
    SetOp(ws, fmt::format("write {} ({} B)", rel, c.size));
    bool close_failed = false;
    int err = WriteThroughMount(mount_dir_ + rel, c, &close_failed);
    State s{true, c};
    if (err == 0) {
      e.Set(s);
      Note(e, "write " + Describe(s) + ": acknowledged");
      CountAck();
      return true;
    }
    std::string what = fmt::format("{} of {} ({}): {}", close_failed ? "close" : "open/write", rel,
                                   Describe(s), strerror(err));
    // A failed open or write leaves the name as it was; a failed close may have stored it.
    if (close_failed) e.Add(s);
    Note(e, what);
    CountFailure(close_failed, what);
    return false;
  }

  void RenameOp(WriterState& ws, const std::string& rel, const std::string& tmp, const Content& c) {
    if (!WriteOp(ws, tmp, c)) return;
    Entry& from = ws.ledger[tmp];
    Entry& to = ws.ledger[rel];
    SetOp(ws, fmt::format("rename {} -> {}", tmp, rel));
    State s{true, c};
    if (::rename((mount_dir_ + tmp).c_str(), (mount_dir_ + rel).c_str()) == 0) {
      from.Set(State{});
      to.Set(s);
      Note(from, "renamed to " + rel + ": acknowledged");
      Note(to, "renamed from " + tmp + " (" + Describe(s) + "): acknowledged");
      CountAck();
      return;
    }
    std::string what = fmt::format("rename {} -> {}: {}", tmp, rel, strerror(errno));
    from.Add(State{});
    to.Add(s);
    Note(from, what);
    Note(to, what);
    CountFailure(false, what);
  }

  void UnlinkOp(WriterState& ws, const std::string& rel) {
    Entry& e = ws.ledger[rel];
    SetOp(ws, "unlink " + rel);
    if (::unlink((mount_dir_ + rel).c_str()) == 0) {
      if (!e.MayBePresent()) {
        RecordAnomaly(fmt::format("unlink of {} succeeded, but it was deleted before", rel), e);
      }
      e.Set(State{});
      Note(e, "unlink: acknowledged");
      CountAck();
      return;
    }
    int err = errno;
    if (err == ENOENT) {
      if (e.MayBeAbsent()) {
        e.Set(State{});
        return;
      }
      RecordAnomaly(
          fmt::format("unlink of acknowledged {} ({}): ENOENT", rel, e.DescribeAcceptable()), e);
      Note(e, "unlink: ENOENT although acknowledged");
      return;
    }
    std::string what = fmt::format("unlink {}: {}", rel, strerror(err));
    e.Add(State{});
    Note(e, what);
    CountFailure(false, what);
  }

  void VerifyOp(WriterState& ws, const std::string& rel) {
    Entry& e = ws.ledger[rel];
    SetOp(ws, "read " + rel);
    std::string bytes;
    int err = ReadThroughMount(mount_dir_ + rel, &bytes);
    if (err == ENOENT) {
      if (!e.MayBeAbsent()) {
        RecordAnomaly(
            fmt::format("open of acknowledged {} ({}): ENOENT", rel, e.DescribeAcceptable()), e);
        Note(e, "read: ENOENT although acknowledged");
      }
      return;
    }
    if (err != 0) {
      CountReadError(fmt::format("read {}: {}", rel, strerror(err)));
      return;
    }
    if (Matching(e, bytes) == nullptr) {
      RecordAnomaly(fmt::format("read of {} gave {} B xxh3 {:016x}; acknowledged: {}", rel,
                                bytes.size(), Checksum(bytes), e.DescribeAcceptable()),
                    e);
      Note(e, "read: wrong content");
    }
  }

  void RunWriter(int w, WriterState* ws) {
    std::mt19937_64 rng(1000 + w);
    uint64_t counter = 0;
    std::string dir = fmt::format("/w{}", w);
    while (!stop_writers_) {
      std::string rel = fmt::format("{}/f{}", dir, rng() % kNamesPerWriter);
      int r = static_cast<int>(rng() % 100);
      ++counter;
      if (r < 45) {
        WriteOp(*ws, rel, NewContent(rng, w, counter));
      } else if (r < 65) {
        RenameOp(*ws, rel, fmt::format("{}/tmp{}", dir, counter), NewContent(rng, w, counter));
      } else if (r < 80) {
        UnlinkOp(*ws, rel);
      } else {
        VerifyOp(*ws, rel);
      }
    }
    SetOp(*ws, "");
    ws->done = true;
  }

  // --- faults ---

  Daemon* LeaderNameServer(std::string* leader) {
    auto st = client_->ClusterStatus({});
    if (!st.ok()) return nullptr;
    *leader = st->leader();
    for (Daemon& d : nameservers_) {
      if (d.address == st->leader() && d.process && d.process->Running()) return &d;
    }
    return nullptr;
  }

  void KillFileStore(int i) {
    OpenWindow(fmt::format("kill -9 fs{} ({})", i, filestores_[i].address), true);
    std::string listen = filestores_[i].address;
    filestores_[i].process->Kill(SIGKILL);
    std::this_thread::sleep_for(kFileStoreDownTime);
    ASSERT_NO_FATAL_FAILURE(StartFileStore(i, listen));
    Log(fmt::format("fs{} restarted at {}", i, filestores_[i].address));
  }

  void StopFileStore(int i) {
    OpenWindow(fmt::format("SIGSTOP fs{} ({}) for {} s", i, filestores_[i].address,
                           Seconds(kFileStoreStopTime)));
    filestores_[i].process->Kill(SIGSTOP);
    std::this_thread::sleep_for(kFileStoreStopTime);
    filestores_[i].process->Kill(SIGCONT);
    Log(fmt::format("fs{} continued", i));
  }

  void KillLeader() {
    std::string leader;
    Daemon* victim = nullptr;
    Eventually([&] { return (victim = LeaderNameServer(&leader)) != nullptr; }, seconds(30));
    ASSERT_NE(victim, nullptr) << "no leader among our NameServers (leader: " << leader << ")";
    OpenWindow(fmt::format("kill -9 leader NameServer {}", leader));
    victim->process->Kill(SIGKILL);
    auto killed = SteadyClock::now();
    // Time to the first create through the mount that succeeds.
    bool created = false;
    while (!created && SteadyClock::now() - killed < kFailoverProbeLimit) {
      std::string rel = fmt::format("/probe/p{}", probes_++);
      Content c;
      c.seed = 0x5eed0000 + probes_;
      c.size = 100;
      c.hash = Checksum(ContentBytes(c.seed, c.size));
      bool close_failed = false;
      int err = WriteThroughMount(mount_dir_ + rel, c, &close_failed);
      Entry& e = probe_ledger_[rel];
      if (err == 0) {
        e.Set(State{true, c});
        Note(e, "probe create: acknowledged");
        created = true;
      } else if (close_failed) {
        e.Add(State{true, c});
        Note(e, fmt::format("probe create: close failed: {}", strerror(err)));
      }
    }
    double took = Seconds(SteadyClock::now() - killed);
    if (created) {
      failovers_s_.push_back(took);
      Log(fmt::format("failover: first create through the mount {:.2f} s after the kill", took));
    } else {
      ADD_FAILURE() << "no create through the mount succeeded within "
                    << Seconds(kFailoverProbeLimit) << " s of killing leader " << leader;
    }
    nameservers_.erase(nameservers_.begin() + (victim - nameservers_.data()));
    ASSERT_NO_FATAL_FAILURE(StartNameServer());
  }

  void FlipByte(int i, std::mt19937_64& rng) {
    std::map<std::string, std::string> names;  // digest -> a path the writers use
    for (int w = 0; w < kWriters; ++w) {
      for (int f = 0; f < kNamesPerWriter; ++f) {
        std::string rel = fmt::format("/w{}/f{}", w, f);
        names[NameDigest(rel)] = rel;
      }
    }
    std::vector<std::filesystem::path> known, other;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(DataDir(i) + "/objects", ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      const auto& p = it->path();
      if (p.extension() != ".data" || it->file_size(ec) == 0) continue;
      (names.contains(p.stem().string().substr(0, 32)) ? known : other).push_back(p);
    }
    std::sort(known.begin(), known.end());
    std::sort(other.begin(), other.end());
    std::vector<std::filesystem::path>& pool = known.empty() ? other : known;
    if (pool.empty()) {
      OpenWindow(fmt::format("flip a byte on fs{}: no .data object found", i));
      return;
    }
    std::filesystem::path victim = pool[rng() % pool.size()];
    std::string stem = victim.stem().string();  // <32 hex digest>-<version>
    std::string version = stem.size() > 33 ? stem.substr(33) : "?";
    std::string name = names.contains(stem.substr(0, 32)) ? names[stem.substr(0, 32)] : "?";
    int fd = ::open(victim.c_str(), O_RDWR);
    struct stat st;
    if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_size == 0) {
      if (fd >= 0) ::close(fd);
      OpenWindow(fmt::format("flip a byte on fs{}: {} vanished", i, victim.filename().string()));
      return;
    }
    off_t offset = static_cast<off_t>(rng() % st.st_size);
    unsigned char byte = 0;
    bool flipped = ::pread(fd, &byte, 1, offset) == 1;
    byte ^= 0xff;
    flipped = flipped && ::pwrite(fd, &byte, 1, offset) == 1;
    ::close(fd);
    OpenWindow(fmt::format("flip byte {} of {} ({} version {}) on fs{}: {}", offset,
                           victim.filename().string(), name, version, i,
                           flipped ? "flipped" : "failed"));
    flips_.push_back(fmt::format("{}@{} on fs{}", name, version, i));
    if (flipped) flipped_objects_.push_back({victim.string(), offset, byte, st.st_ino});
  }

  // --- convergence and verification ---

  // Every path any ledger knows, with its entry.
  std::map<std::string, const Entry*> AllEntries() {
    std::map<std::string, const Entry*> all;
    for (auto& ws : writer_states_) {
      for (auto& [rel, e] : ws->ledger) all[rel] = &e;
    }
    for (auto& [rel, e] : probe_ledger_) all[rel] = &e;
    return all;
  }

  // What each FileStore holds of `rel`, and what the NameServer says.
  std::string Whereabouts(const std::string& rel) {
    std::string out;
    v1::DoReadRequest req;
    req.set_path(rel);
    auto r = client_->DoRead(req);
    if (r.ok()) {
      out += fmt::format("NameServer: version {} size {} holders [{}]", r->file().version(),
                         r->file().size(), fmt::join(r->holders(), ", "));
    } else {
      out += fmt::format("NameServer: {}", r.status().ToString());
    }
    for (size_t i = 0; i < filestores_.size(); ++i) {
      auto files = filestore_client_.ListFilesAndTombstones(filestores_[i].address);
      if (!files.ok()) {
        out += fmt::format("; fs{}: {}", i, std::string(files.status().message()));
        continue;
      }
      std::string held = "nothing";
      for (const v1::FileInfo& f : *files) {
        if (f.name() == rel) {
          held = fmt::format("version {}{} size {}", f.version(), f.tombstone() ? " tombstone" : "",
                             f.size());
        }
      }
      out += fmt::format("; fs{}: {}", i, held);
    }
    return out;
  }

  // One check of convergence; `why` says what is missing.
  bool Converged(const std::map<std::string, const Entry*>& all, std::string* why) {
    Shell status = Sh(fmt::format("{} --zk {} --tls-name admin --timeout 5s status",
                                  BinaryPath("tools/chainfs"), zk_spec_));
    if (status.code != 0 || status.output.find("under-replicated: 0\n") == std::string::npos ||
        status.output.find(fmt::format("filestores:       {}\n", kFileStores)) ==
            std::string::npos) {
      *why = "chainfs status:\n" + status.output;
      return false;
    }
    std::map<std::string, std::map<std::string, v1::FileInfo>> on_disk;  // fs -> name -> info
    for (const Daemon& fs : filestores_) {
      auto files = filestore_client_.ListFilesAndTombstones(fs.address);
      if (!files.ok()) {
        *why = fmt::format("list {}: {}", fs.address, files.status().ToString());
        return false;
      }
      for (const v1::FileInfo& f : *files) on_disk[fs.address][f.name()] = f;
    }
    int short_in_ns = 0, short_on_disk = 0;
    std::string examples;
    for (const auto& [rel, e] : all) {
      if (!e->MayBePresent()) continue;
      v1::DoReadRequest req;
      req.set_path(rel);
      auto r = client_->DoRead(req);
      if (!r.ok()) {
        if (absl::IsNotFound(r.status()) && e->MayBeAbsent()) continue;
        ++short_in_ns;
        if (examples.size() < 600)
          examples += fmt::format("\n  {}: {}", rel, r.status().ToString());
        continue;
      }
      if (r->holders_size() < kReplication) {
        ++short_in_ns;
        if (examples.size() < 600) {
          examples += fmt::format("\n  {}: {} holders in the NameServer", rel, r->holders_size());
        }
      }
      int copies = 0;
      for (auto& [fs, files] : on_disk) {
        auto it = files.find(rel);
        if (it != files.end() && it->second.version() == r->file().version() &&
            !it->second.tombstone()) {
          ++copies;
        }
      }
      if (copies < kReplication) {
        ++short_on_disk;
        if (examples.size() < 600) {
          examples +=
              fmt::format("\n  {}: version {} on {} FileStores", rel, r->file().version(), copies);
        }
      }
    }
    if (short_in_ns > 0 || short_on_disk > 0) {
      *why = fmt::format(
          "{} names with < {} holders in the NameServer, {} with < {} copies on "
          "disk:{}",
          short_in_ns, kReplication, short_on_disk, kReplication, examples);
      return false;
    }
    return true;
  }

  struct Verdict {
    int checked = 0;
    int lost = 0;
    int corrupt = 0;
    int resurrected = 0;
  };

  // Every ledger path read through the mount at `dir`.
  Verdict VerifyAll(const std::map<std::string, const Entry*>& all, const std::string& dir,
                    const std::string& label) {
    Verdict v;
    for (const auto& [rel, e] : all) {
      ++v.checked;
      std::string bytes;
      int err = ReadThroughMount(dir + rel, &bytes);
      if (err != 0 && err != ENOENT) {
        std::this_thread::sleep_for(seconds(1));  // one more try for a transient error
        err = ReadThroughMount(dir + rel, &bytes);
      }
      std::string problem;
      if (err == ENOENT) {
        if (e->MayBeAbsent()) continue;
        ++v.lost;
        problem = "LOST (ENOENT)";
      } else if (err != 0) {
        ++v.lost;
        problem = fmt::format("LOST (read fails: {})", strerror(err));
      } else if (Matching(*e, bytes) == nullptr) {
        if (!e->MayBePresent()) {
          ++v.resurrected;
          problem = fmt::format("DELETED BUT PRESENT ({} B)", bytes.size());
        } else {
          ++v.corrupt;
          problem = fmt::format("CORRUPT (read {} B xxh3 {:016x})", bytes.size(), Checksum(bytes));
        }
      } else {
        continue;
      }
      std::string report = fmt::format("{} {}: {}; acknowledged: {}\n    {}\n", label, rel, problem,
                                       e->DescribeAcceptable(), Whereabouts(rel));
      for (const std::string& h : e->history) report += "    " + h + "\n";
      ADD_FAILURE() << report;
      fmt::print("{}", report);
    }
    return v;
  }

  bool MountAnswers(const std::string& dir, const std::string& name) {
    std::string path = dir + "/" + name;
    Content c{0xabcdef, 4321, 0};
    c.hash = Checksum(ContentBytes(c.seed, c.size));
    bool close_failed = false;
    if (WriteThroughMount(path, c, &close_failed) != 0) return false;
    std::string bytes;
    return ReadThroughMount(path, &bytes) == 0 && Checksum(bytes) == c.hash &&
           bytes.size() == c.size;
  }

  testing::ZkServer* zk_server_ = nullptr;
  std::string zk_spec_;
  TempDir dir_;
  std::unique_ptr<zk::ZooKeeper> zk_;
  std::unique_ptr<NameServerClient> client_;
  FileStoreClient filestore_client_{{.credentials = chainfs::testing::TestChannelCredentials()}};
  std::vector<Daemon> filestores_;
  std::vector<Daemon> nameservers_;
  int next_nameserver_ = 0;
  std::vector<std::unique_ptr<Mounted>> mounts_;
  std::string mount_dir_;
  SteadyClock::time_point start_;

  std::mutex mu_;
  std::vector<Window> windows_;
  std::atomic<int> current_window_{0};
  std::vector<Anomaly> anomalies_;
  int acknowledged_ = 0;
  std::atomic<bool> stop_writers_{false};
  std::vector<std::unique_ptr<WriterState>> writer_states_;
  std::vector<std::thread> writers_;
  std::map<std::string, Entry> probe_ledger_;
  int probes_ = 0;
  std::vector<double> failovers_s_;
  std::vector<std::string> flips_;
  struct FlippedObject {
    std::string path;
    off_t offset;
    unsigned char byte;  // as flipped
    ino_t inode;         // relabels hard-link it: the same inode under another version
  };
  std::vector<FlippedObject> flipped_objects_;

  // How many flipped objects are still on disk with the flipped byte (scrub's work; shown,
  // not asserted: reads must avoid them, which VerifyAll checks).
  int StillCorrupt() const {
    int n = 0;
    for (const FlippedObject& f : flipped_objects_) {
      // A relabel (GC's bump, a clone) hard-links the object under a new version: look at
      // every version of the name in that directory.
      std::filesystem::path flipped(f.path);
      std::string digest = flipped.filename().string().substr(0, 32);
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(flipped.parent_path(), ec)) {
        std::string file = e.path().filename().string();
        if (file.rfind(digest, 0) != 0 || e.path().extension() != ".data") continue;
        int fd = ::open(e.path().c_str(), O_RDONLY);
        if (fd < 0) continue;
        struct stat st;
        if (::fstat(fd, &st) != 0 || st.st_ino != f.inode) {
          ::close(fd);
          continue;
        }
        unsigned char byte = 0;
        bool corrupt = ::pread(fd, &byte, 1, f.offset) == 1 && byte == f.byte;
        ::close(fd);
        if (corrupt) {
          ++n;
          break;
        }
      }
    }
    return n;
  }
};

TEST_F(FaultTest, AcknowledgedFilesSurviveKillsPausesAndFlippedBytes) {
  const int fault_seconds = FaultSeconds();
  for (int i = 0; i < kFileStores; ++i) ASSERT_NO_FATAL_FAILURE(StartFileStore(i));
  for (int i = 0; i < kNameServers; ++i) ASSERT_NO_FATAL_FAILURE(StartNameServer());
  ASSERT_TRUE(Eventually([&] { return Serving(kFileStores); }, seconds(30)))
      << "the cluster did not serve with every FileStore";
  Mounted& m = Mount();
  ASSERT_TRUE(IsFuseMount(m.dir));
  mount_dir_ = m.dir;
  for (int w = 0; w < kWriters; ++w) {
    ASSERT_EQ(::mkdir(fmt::format("{}/w{}", m.dir, w).c_str(), 0755), 0) << strerror(errno);
  }
  ASSERT_EQ(::mkdir((m.dir + "/probe").c_str(), 0755), 0) << strerror(errno);

  OpenWindow("warm-up, no fault");
  for (int w = 0; w < kWriters; ++w) {
    writer_states_.push_back(std::make_unique<WriterState>());
    WriterState* ws = writer_states_.back().get();
    writers_.emplace_back([this, w, ws] { RunWriter(w, ws); });
  }
  std::this_thread::sleep_for(kWarmUp);

  // Faults, one at a time, in a fixed rotation over kinds and FileStores.
  std::mt19937_64 rng(7);
  auto faults_end = SteadyClock::now() + seconds(fault_seconds);
  int kills = 0, stops = 0, flips = 0;
  for (int n = 0; SteadyClock::now() < faults_end; ++n) {
    switch (n % 4) {
      case 0:
        ASSERT_NO_FATAL_FAILURE(KillFileStore(kills++ % kFileStores));
        break;
      case 1:
        ASSERT_NO_FATAL_FAILURE(KillLeader());
        break;
      case 2:
        ASSERT_NO_FATAL_FAILURE(StopFileStore((stops++ + 1) % kFileStores));
        break;
      case 3:
        FlipByte((flips++ + 2) % kFileStores, rng);
        break;
    }
    std::this_thread::sleep_for(kFaultGap);
  }
  OpenWindow("faults over, writers stopping");
  stop_writers_ = true;
  bool stopped = Eventually(
      [&] {
        return std::all_of(writer_states_.begin(), writer_states_.end(),
                           [](const auto& ws) { return ws->done.load(); });
      },
      kWriterStopLimit);
  if (!stopped) {
    std::string hung;
    for (size_t w = 0; w < writer_states_.size(); ++w) {
      std::lock_guard lock(writer_states_[w]->op_mu);
      if (!writer_states_[w]->done) {
        hung += fmt::format("\n  writer {}: {} since t={:.2f}s", w, writer_states_[w]->op,
                            writer_states_[w]->op_start_s);
      }
    }
    ADD_FAILURE() << "writers still blocked in the mount " << Seconds(kWriterStopLimit)
                  << " s after the faults ended:" << hung;
    m.process->Kill(SIGKILL);  // fails the blocked calls so the threads end
  }
  for (std::thread& t : writers_) t.join();
  writers_.clear();
  ASSERT_TRUE(stopped);

  // Convergence: 0 under-replicated, every live name on >= 3 FileStores.
  auto all = AllEntries();
  auto quiet = SteadyClock::now();
  std::string why;
  bool converged = Eventually([&] { return Converged(all, &why); }, kConvergenceDeadline);
  double converge_s = Seconds(SteadyClock::now() - quiet);
  EXPECT_TRUE(converged) << "no convergence within " << Seconds(kConvergenceDeadline)
                         << " s of the faults' end: " << why;
  Log(converged ? fmt::format("converged in {:.2f} s", converge_s) : "did not converge: " + why);

  // Every acknowledged file, through this mount and a fresh one.
  Verdict first = VerifyAll(all, m.dir, "mount 1");
  Mounted& fresh = Mount();
  ASSERT_TRUE(IsFuseMount(fresh.dir));
  Verdict second = VerifyAll(all, fresh.dir, "fresh mount");
  EXPECT_TRUE(MountAnswers(m.dir, "after-1")) << "mount 1 does not store and read a file";
  EXPECT_TRUE(MountAnswers(fresh.dir, "after-2")) << "the fresh mount does not store and read";
  EXPECT_TRUE(m.process->Running()) << "mount 1 exited";

  // The figures.
  std::vector<int> kill_failed_closes;
  int failed_closes = 0, failed_other = 0, read_errors = 0;
  fmt::print("\n==== fault run: {} s of faults, {} writers, {} paths in the ledger ====\n",
             fault_seconds, kWriters, all.size());
  for (size_t i = 0; i < windows_.size(); ++i) {
    const Window& w = windows_[i];
    fmt::print(
        "window {:2} at {:7.2f}s {:<70} acked {:5} failed closes {:3} other {:3} reads {:3}\n", i,
        w.start_s, w.what, w.acknowledged, w.failed_closes, w.failed_other, w.read_errors);
    for (const std::string& f : w.failures) fmt::print("      {}\n", f);
    failed_closes += w.failed_closes;
    failed_other += w.failed_other;
    read_errors += w.read_errors;
    if (w.filestore_kill) kill_failed_closes.push_back(w.failed_closes);
  }
  std::vector<double> f = failovers_s_;
  std::sort(f.begin(), f.end());
  fmt::print("operations acknowledged:          {}\n", acknowledged_);
  fmt::print("files lost:                       {} (mount 1), {} (fresh mount)\n", first.lost,
             second.lost);
  fmt::print("files corrupt:                    {} (mount 1), {} (fresh mount)\n", first.corrupt,
             second.corrupt);
  fmt::print("deleted files present:            {} (mount 1), {} (fresh mount)\n",
             first.resurrected, second.resurrected);
  fmt::print("anomalies while writing:          {}\n", anomalies_.size());
  fmt::print("failed closes / other / reads:    {} / {} / {}\n", failed_closes, failed_other,
             read_errors);
  fmt::print("failed closes per FileStore kill: [{}] (3 others alive)\n",
             fmt::join(kill_failed_closes, ", "));
  if (f.empty()) {
    fmt::print("leader failovers:                 none measured\n");
  } else {
    fmt::print(
        "leader failovers:                 {}, kill -> first create through the mount "
        "min {:.2f} s, median {:.2f} s, max {:.2f} s\n",
        f.size(), f.front(), f[f.size() / 2], f.back());
  }
  fmt::print("flipped bytes:                    [{}]\n", fmt::join(flips_, ", "));
  fmt::print("flipped objects still on disk:    {} of {}\n", StillCorrupt(),
             flipped_objects_.size());
  fmt::print("convergence:                      {}\n",
             converged ? fmt::format("{:.2f} s", converge_s) : "not reached");

  EXPECT_EQ(first.lost + second.lost, 0);
  EXPECT_EQ(first.corrupt + second.corrupt, 0);
  EXPECT_EQ(first.resurrected + second.resurrected, 0);
  // Open defect (issue 10 closing note): right after a leader failover an acknowledged
  // file can answer ENOENT for a few seconds before the new leader knows it again; it is
  // never lost (checked above). Wrong bytes, or ENOENT in any other window, always fail;
  // CHAINFS_FAULT_STRICT=1 makes these fail too.
  const bool strict = std::getenv("CHAINFS_FAULT_STRICT") != nullptr;
  for (const Anomaly& a : anomalies_) {
    std::string message = fmt::format("at {:.2f}s in window {} ({}): {}", a.t_s, a.window,
                                      windows_[a.window].what, a.what);
    bool known = windows_[a.window].what.find("leader NameServer") != std::string::npos &&
                 a.what.find("ENOENT") != std::string::npos;
    if (known && !strict) {
      fmt::print("known open defect, not failing: {}\n", message);
    } else {
      ADD_FAILURE() << message;
    }
  }
  // With three other FileStores alive, killing one makes no close() fail (issue 10).
  for (size_t i = 0; i < kill_failed_closes.size(); ++i) {
    EXPECT_EQ(kill_failed_closes[i], 0) << "failed closes during FileStore kill " << i;
  }
}

}  // namespace
}  // namespace chainfs
