// NameServer benchmark. Starts a real ZooKeeper and a real chainfs-nameserver, registers
// fake FileStores through the gRPC API (each holding every name, so nothing needs
// replication), then measures:
//   - resident memory per name with --names names (default 1,000,000) registered on
//     three FileStores (RSS of the nameserver process before and after);
//   - doRead and doCreate calls per second with 1 and 16 concurrent clients;
//   - as the same-run baseline, StatFs (the lightest call that reaches the service) with
//     the same client counts;
//   - NameServer CPU (from /proc) and calls per create, one client creating in a row: the
//     old reporting (doCreate, then every chain member's own addFileOrTombstone) against
//     the new (doCreate, one report from the head naming the other members, and the
//     members' background reports sent in batches).
// Goals on the 2-core machine: >= 20,000 doRead/s, >= 5,000 doCreate/s, <= 300 B/name.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/client/nameserver_client.h"
#include "common/log.h"
#include "common/process.h"
#include "common/settings.h"
#include "common/zk/zookeeper.h"
#include "tests/fixtures/process.h"
#include "tests/fixtures/zk_server.h"

namespace chainfs {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

int64_t RssBytes(int pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

// User plus system CPU time of a process so far.
Duration CpuTime(int pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  int64_t ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::stoll(field);  // utime, stime
  }
  return std::chrono::microseconds(ticks * 1'000'000 / ::sysconf(_SC_CLK_TCK));
}

// Creates `creates` names in a row as a chain over `filestores` would report them, `batch`
// reports per background call (0: every member reports its own copy at once, as before
// issue 12). Prints the NameServer's CPU and calls per create; returns the CPU per create.
Duration CreateCost(const std::string& address, int pid, const std::vector<std::string>& filestores,
                    int creates, int batch, const std::string& label) {
  NameServerClient client(address);
  std::vector<v1::AddFileOrTombstoneRequest> queued(filestores.size());
  int64_t calls = 0;
  auto send = [&](const v1::AddFileOrTombstoneRequest& req) {
    ++calls;
    absl::StatusOr<v1::AddFileOrTombstoneReply> reply = client.AddFileOrTombstone(req);
    if (!reply.ok() || reply->reregister()) fmt::print(stderr, "report refused\n");
  };
  const Duration cpu_before = CpuTime(pid);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < creates; ++i) {
    v1::DoCreateRequest req;
    req.set_path(fmt::format("/bench/{}/{}", label, i));
    absl::StatusOr<v1::DoCreateReply> created = client.DoCreate(req);
    ++calls;
    if (!created.ok()) continue;
    v1::FileInfo f;
    f.set_name(req.path());
    f.set_version(created->version());
    f.set_size(4096);
    f.mutable_attributes()->set_mode(0644);
    for (size_t m = 0; m < filestores.size(); ++m) {
      v1::AddFileOrTombstoneRequest& q = queued[m];
      if (batch == 0 || m == 0) {
        v1::AddFileOrTombstoneRequest now;
        now.set_filestore(filestores[m]);
        *now.mutable_file() = f;
        for (size_t o = 1; batch > 0 && o < filestores.size(); ++o) now.add_also_on(filestores[o]);
        send(now);
        continue;
      }
      q.set_filestore(filestores[m]);
      *(q.has_file() ? q.add_more() : q.mutable_file()) = f;
      if (q.more_size() + 1 >= batch) {
        send(q);
        q.Clear();
      }
    }
  }
  for (const v1::AddFileOrTombstoneRequest& q : queued) {
    if (q.has_file()) send(q);
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const Duration cpu = (CpuTime(pid) - cpu_before) / creates;
  fmt::print(
      "  {:22} {:5.2f} NameServer calls/create | {:6.1f} us NameServer CPU/create | "
      "{:6.1f} us/create wall\n",
      label, static_cast<double>(calls) / creates,
      std::chrono::duration<double, std::micro>(cpu).count(), secs * 1e6 / creates);
  return cpu;
}

// A FileStore that only takes Delete, as rm reaches it: the tombstone is reported to the
// NameServer before the answer (`sync`, before issue 12) or queued and sent in batches.
class TombstoneStore final : public v1::FileStore::Service {
 public:
  explicit TombstoneStore(const std::string& nameserver) : ns_(nameserver) {}

  grpc::Status Delete(grpc::ServerContext*, const v1::DeleteRequest* req,
                      v1::DeleteReply*) override {
    v1::FileInfo f;
    f.set_name(req->name());
    f.set_version(req->version());
    f.set_tombstone(true);
    std::lock_guard lock(mu_);
    *(queued_.has_file() ? queued_.add_more() : queued_.mutable_file()) = f;
    if (sync || queued_.more_size() + 1 >= kBatch) Flush();
    return grpc::Status::OK;
  }
  void FlushAll() {
    std::lock_guard lock(mu_);
    if (queued_.has_file()) Flush();
  }

  std::string self;  // set once serving, before any call
  std::atomic<bool> sync{true};
  std::atomic<int64_t> calls{0};

 private:
  static constexpr int kBatch = 256;
  void Flush() {
    queued_.set_filestore(self);
    ++calls;
    if (!ns_.AddFileOrTombstone(queued_).ok()) fmt::print(stderr, "tombstone report refused\n");
    queued_.Clear();
  }

  NameServerClient ns_;
  std::mutex mu_;
  v1::AddFileOrTombstoneRequest queued_;
};

// Deletes `n` names held by `stores` (each created and reported first), one after another;
// prints the NameServer's CPU and calls per rm, returns the CPU per rm.
Duration DeleteCost(const std::string& address, int pid,
                    std::vector<std::unique_ptr<TombstoneStore>>& stores,
                    const std::vector<std::string>& holders, int n, bool sync) {
  NameServerClient client(address);
  const std::string label = sync ? "tombstones-reported" : "tombstones-batched";
  for (int i = 0; i < n; ++i) {
    v1::DoCreateRequest req;
    req.set_path(fmt::format("/bench/{}/{}", label, i));
    absl::StatusOr<v1::DoCreateReply> created = client.DoCreate(req);
    if (!created.ok()) continue;
    v1::AddFileOrTombstoneRequest report;
    report.set_filestore(holders[0]);
    report.mutable_file()->set_name(req.path());
    report.mutable_file()->set_version(created->version());
    for (size_t h = 1; h < holders.size(); ++h) report.add_also_on(holders[h]);
    (void)client.AddFileOrTombstone(report);
  }
  for (auto& store : stores) {
    store->sync = sync;
    store->calls = 0;
  }
  const Duration cpu_before = CpuTime(pid);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    v1::DoDeleteRequest req;
    req.set_path(fmt::format("/bench/{}/{}", label, i));
    if (!client.DoDelete(req).ok()) fmt::print(stderr, "rm refused\n");
  }
  int64_t calls = n;
  for (auto& store : stores) {
    store->FlushAll();
    calls += store->calls;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const Duration cpu = (CpuTime(pid) - cpu_before) / n;
  fmt::print(
      "  {:22} {:5.2f} NameServer calls/rm | {:6.1f} us NameServer CPU/rm | "
      "{:6.1f} us/rm wall\n",
      label, static_cast<double>(calls) / n, std::chrono::duration<double, std::micro>(cpu).count(),
      secs * 1e6 / n);
  return cpu;
}

std::string Name(int64_t i) { return fmt::format("/bench/d{}/file-{:07}", i / 1000, i); }

// Runs `op` from `clients` threads for `duration`; returns calls per second.
template <typename Op>
double Rate(int clients, Duration duration, const std::string& address, Op op) {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> calls{0}, errors{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      NameServerClient client(address);
      int64_t n = 0;
      uint64_t seed = 0x9e3779b97f4a7c15ull * (c + 1);
      while (!stop.load(std::memory_order_relaxed)) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if (!op(client, seed).ok()) ++errors;
        ++n;
      }
      calls += n;
    });
  }
  auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(duration);
  stop = true;
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (errors > 0) fmt::print("  ({} errors)\n", errors.load());
  return static_cast<double>(calls.load()) / secs;
}

int Run(int argc, char** argv) {
  int64_t names = 1'000'000;
  Duration duration = seconds(3);
  CLI::App app{"NameServer benchmark"};
  app.add_option("--names", names, "names registered for the memory figure")->capture_default_str();
  int creates = 5000;
  app.add_option("--creates", creates, "creates for the CPU-per-create figure")
      ->capture_default_str();
  AddDurationOption(app, "--duration", duration, "length of each throughput run");
  CLI11_PARSE(app, argc, argv);
  SetLogLevel("warn");

  auto zk_server = testing::ZkServer::Start();
  if (!zk_server.ok()) {
    fmt::print(stderr, "ZooKeeper: {}\n", std::string(zk_server.status().message()));
    return 1;
  }
  testing::TempDir dir;
  std::string chroot = "/bench";
  auto ns = testing::StartDaemon(
      testing::BinaryPath("servers/nameserver/chainfs-nameserver"),
      {"--zk", (*zk_server)->ConnectString(chroot), "--listen", "127.0.0.1:0", "--log-level",
       "warn", "--startup-wait", "500ms", "--heartbeat-interval", "1h", "--gc-interval", "1h",
       "--replication-interval", "1h"},
      dir.path() + "/nameserver.log");
  if (!ns.ok()) {
    fmt::print(stderr, "nameserver: {}\n", std::string(ns.status().message()));
    return 1;
  }
  const std::string address = ns->address;
  NameServerClient admin(address);
  auto wait_serving = [&] {
    for (int i = 0; i < 200; ++i) {
      auto st = admin.ClusterStatus({});
      if (st.ok() && st->serving()) return true;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return false;
  };
  if (!wait_serving()) {
    fmt::print(stderr, "nameserver never served\n");
    return 1;
  }
  std::this_thread::sleep_for(seconds(1));
  int64_t rss_before = RssBytes(ns->process->pid());

  // Three fake FileStores holding every name.
  const std::vector<std::string> filestores = {"10.0.0.1:7001", "10.0.0.2:7001", "10.0.0.3:7001"};
  auto reg_start = std::chrono::steady_clock::now();
  for (const std::string& fs : filestores) {
    std::vector<v1::FileInfo> files;
    files.reserve(static_cast<size_t>(names));
    for (int64_t i = 0; i < names; ++i) {
      v1::FileInfo f;
      f.set_name(Name(i));
      f.set_version(i + 1);
      f.set_size(4096);
      f.mutable_attributes()->set_mode(0644);
      f.mutable_attributes()->set_mtime_ns(1'700'000'000'000'000'000 + i);
      files.push_back(std::move(f));
    }
    absl::Status st = admin.RegisterFilesAndTombstones(fs, files, 1 << 30, int64_t{1} << 40);
    if (!st.ok()) {
      fmt::print(stderr, "register {}: {}\n", fs, std::string(st.message()));
      return 1;
    }
  }
  double reg_secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - reg_start).count();
  std::this_thread::sleep_for(seconds(1));
  int64_t rss_after = RssBytes(ns->process->pid());
  auto status = admin.ClusterStatus({});
  fmt::print("nameserver memory: {} names on {} FileStores registered in {:.1f} s\n",
             status.ok() ? status->names() : -1, filestores.size(), reg_secs);
  fmt::print("  RSS before {:.1f} MiB, after {:.1f} MiB: {:.0f} bytes/name (goal <= 300)\n",
             rss_before / 1048576.0, rss_after / 1048576.0,
             static_cast<double>(rss_after - rss_before) / static_cast<double>(names));

  fmt::print("throughput over gRPC on loopback ({} per run):\n", FormatDuration(duration));
  for (int clients : {1, 16}) {
    double base = Rate(clients, duration, address,
                       [](NameServerClient& c, uint64_t) { return c.StatFs({}).status(); });
    double reads = Rate(clients, duration, address, [&](NameServerClient& c, uint64_t r) {
      v1::DoReadRequest req;
      req.set_path(Name(static_cast<int64_t>(r % static_cast<uint64_t>(names))));
      return c.DoRead(req).status();
    });
    double creates = Rate(clients, duration, address, [&](NameServerClient& c, uint64_t r) {
      v1::DoCreateRequest req;
      req.set_path(fmt::format("/bench/new/{}", r));
      return c.DoCreate(req).status();
    });
    fmt::print(
        "  {:2} clients: baseline StatFs {:8.0f}/s | doRead {:8.0f}/s ({:.2f}x baseline, "
        "goal >= 20000) | doCreate {:8.0f}/s ({:.2f}x baseline, goal >= 5000)\n",
        clients, base, reads, reads / base, creates, creates / base);
  }
  fmt::print("NameServer cost per create, one client, {} creates in a row:\n", creates);
  const Duration before =
      CreateCost(address, ns->process->pid(), filestores, creates, 0, "every-member-reports");
  const Duration after =
      CreateCost(address, ns->process->pid(), filestores, creates, 256, "head-reports+batched");
  fmt::print("  NameServer CPU per create: {:.2f}x the old reporting\n",
             static_cast<double>(after.count()) /
                 std::max<double>(1, static_cast<double>(before.count())));

  // Three FileStores on loopback that answer Delete, registered, for the cost of rm.
  std::vector<std::unique_ptr<TombstoneStore>> stores;
  std::vector<std::unique_ptr<grpc::Server>> servers;
  std::vector<std::string> holders;
  for (int i = 0; i < 3; ++i) {
    stores.push_back(std::make_unique<TombstoneStore>(address));
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(stores.back().get());
    servers.push_back(builder.BuildAndStart());
    holders.push_back(fmt::format("127.0.0.1:{}", port));
    stores.back()->self = holders.back();
    if (!admin.RegisterFilesAndTombstones(holders.back(), {}, 0, int64_t{1} << 40).ok()) {
      fmt::print(stderr, "register {} failed\n", holders.back());
      return 1;
    }
  }
  fmt::print("NameServer cost per rm, one client, {} rm in a row:\n", creates);
  const Duration rm_before =
      DeleteCost(address, ns->process->pid(), stores, holders, creates, /*sync=*/true);
  const Duration rm_after =
      DeleteCost(address, ns->process->pid(), stores, holders, creates, /*sync=*/false);
  fmt::print("  NameServer CPU per rm: {:.2f}x with tombstones reported before the answer\n",
             static_cast<double>(rm_after.count()) /
                 std::max<double>(1, static_cast<double>(rm_before.count())));
  for (auto& server : servers) server->Shutdown();
  ns->process->Stop();
  return 0;
}

}  // namespace
}  // namespace chainfs

int main(int argc, char** argv) {
  chainfs::TuneProcess();
  return chainfs::Run(argc, argv);
}
