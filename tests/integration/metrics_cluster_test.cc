// Metrics on a real cluster: ZooKeeper, three FileStores, a NameServer and two mounts, each
// with --metrics-listen. A known number of creates (through one mount) and reads (through
// the other, whose kernel cache is cold) must move the counters of every /metrics by those
// amounts, and every scrape must parse as the Prometheus text exposition format.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/statfs.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/client/nameserver_client.h"
#include "common/status.h"
#include "common/zk/zookeeper.h"
#include "tests/fixtures/process.h"
#include "tests/fixtures/scrape.h"
#include "tests/fixtures/tls.h"
#include "tests/fixtures/zk_server.h"

namespace chainfs {
namespace {

using chainfs::testing::Process;
using std::chrono::seconds;

// --- a strict reader of the Prometheus text format (version 0.0.4) ---

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value;
};

struct Exposition {
  std::map<std::string, std::string> types;  // family -> counter, gauge, histogram, ...
  std::vector<Sample> samples;

  // The sum over samples named `name` whose labels include `labels`.
  double Sum(const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
    double sum = 0;
    for (const Sample& s : samples) {
      if (s.name != name) continue;
      bool match = true;
      for (const auto& [k, v] : labels) match = match && s.labels.count(k) && s.labels.at(k) == v;
      if (match) sum += s.value;
    }
    return sum;
  }
  bool Has(const std::string& name) const { return types.count(name) > 0; }
};

bool ValidName(const std::string& name, bool label) {
  static const std::regex kMetric("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex kLabel("[a-zA-Z_][a-zA-Z0-9_]*");
  return std::regex_match(name, label ? kLabel : kMetric);
}

bool ParseValue(const std::string& text, double* value) {
  if (text == "+Inf" || text == "-Inf" || text == "NaN") {
    *value = text == "NaN" ? NAN : (text[0] == '+' ? INFINITY : -INFINITY);
    return true;
  }
  size_t used = 0;
  try {
    *value = std::stod(text, &used);
  } catch (...) {
    return false;
  }
  return used == text.size();
}

// Parses `text`; the error names the line that is wrong. Checks: HELP/TYPE lines well formed,
// one TYPE per family before its samples, sample names of the current family (histograms:
// _bucket with le, _sum, _count), label syntax and escapes, values; and per histogram series:
// cumulative buckets ending in +Inf equal to _count.
absl::StatusOr<Exposition> ParseExposition(const std::string& text) {
  Exposition out;
  std::istringstream in(text);
  std::string line, family;
  int number = 0;
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(fmt::format("line {}: {}: {}", number, why, line));
  };
  struct Series {
    double last_bucket = -1, inf = -1, count = -1;
  };
  std::map<std::string, Series> histograms;  // by family + labels without le
  if (text.empty() || text.back() != '\n') return absl::InvalidArgumentError("no final newline");
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, kind, name;
      words >> hash >> kind >> name;
      if (kind != "HELP" && kind != "TYPE") continue;  // a plain comment
      if (!ValidName(name, false)) return bad("bad metric name");
      if (kind == "TYPE") {
        std::string type, extra;
        words >> type;
        static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary",
                                                     "untyped"};
        if (!kTypes.count(type) || (words >> extra)) return bad("bad TYPE");
        if (out.types.count(name)) return bad("second TYPE for a family");
        out.types[name] = type;
        family = name;
      }
      continue;
    }
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (!ValidName(s.name, false)) return bad("bad sample name");
    std::string series_key;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos) return bad("label without =");
        std::string key = line.substr(i, eq - i);
        if (!ValidName(key, true)) return bad("bad label name");
        if (eq + 1 >= line.size() || line[eq + 1] != '"') return bad("unquoted label value");
        std::string value;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\') {
            if (++j >= line.size()) return bad("escape at end");
            if (line[j] == 'n') {
              value += '\n';
            } else if (line[j] == '\\' || line[j] == '"') {
              value += line[j];
            } else {
              return bad("bad escape");
            }
          } else {
            value += line[j];
          }
        }
        if (j >= line.size()) return bad("unterminated label value");
        if (s.labels.count(key)) return bad("repeated label");
        s.labels[key] = value;
        if (key != "le") series_key += key + "=" + value + ",";
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) return bad("unterminated labels");
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') return bad("no value");
    std::istringstream rest(line.substr(i + 1));
    std::string value, timestamp, extra;
    rest >> value >> timestamp >> extra;
    if (!ParseValue(value, &s.value) || !extra.empty()) return bad("bad value");
    if (family.empty()) return bad("sample before any TYPE");
    const std::string& type = out.types[family];
    if (type == "histogram") {
      Series& series = histograms[family + "{" + series_key];
      if (s.name == family + "_bucket") {
        if (!s.labels.count("le")) return bad("bucket without le");
        if (s.value < series.last_bucket) return bad("buckets not cumulative");
        series.last_bucket = s.value;
        if (s.labels["le"] == "+Inf") series.inf = s.value;
      } else if (s.name == family + "_count") {
        series.count = s.value;
      } else if (s.name != family + "_sum") {
        return bad("sample of another family");
      }
    } else if (s.name != family) {
      return bad("sample of another family");
    }
    if ((type == "counter" || type == "histogram") && s.value < 0) return bad("negative count");
    out.samples.push_back(std::move(s));
  }
  for (const auto& [key, series] : histograms) {
    if (series.inf < 0 || series.inf != series.count) {
      return absl::InvalidArgumentError(key + ": +Inf bucket differs from _count or is missing");
    }
  }
  return out;
}

TEST(ExpositionParser, RefusesWhatIsNotTheTextFormat) {
  EXPECT_TRUE(ParseExposition("# TYPE a counter\na 1\n").ok());
  EXPECT_FALSE(ParseExposition("a 1\n").ok());                         // no TYPE
  EXPECT_FALSE(ParseExposition("# TYPE a counter\nb 1\n").ok());       // other family
  EXPECT_FALSE(ParseExposition("# TYPE a counter\na{x=1} 1\n").ok());  // unquoted
  EXPECT_FALSE(ParseExposition("# TYPE a counter\na one\n").ok());     // not a number
  EXPECT_FALSE(ParseExposition("# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
                               "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n")
                   .ok());  // not cumulative
  EXPECT_FALSE(ParseExposition("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\n"
                               "h_count 3\n")
                   .ok());  // +Inf != count
}

// --- the cluster ---

absl::StatusOr<Exposition> Scrape(const std::string& address) {
  CHAINFS_ASSIGN_OR_RETURN(std::string text, chainfs::testing::ScrapeMetrics(address));
  absl::StatusOr<Exposition> parsed = ParseExposition(text);
  if (!parsed.ok()) {
    return absl::Status(parsed.status().code(),
                        address + ": " + std::string(parsed.status().message()));
  }
  return parsed;
}

bool IsFuseMount(const std::string& dir) {
  struct statfs st;
  return ::statfs(dir.c_str(), &st) == 0 && st.f_type == 0x65735546;
}

class MetricsClusterTest : public ::testing::Test {
 protected:
  static constexpr int kFiles = 5;

  void SetUp() override {
    zk_ = chainfs::testing::SharedZkServer();
    ASSERT_NE(zk_, nullptr);
    zk_spec_ = zk_->ConnectString(chainfs::testing::UniqueChroot());
    for (int i = 0; i < 3; ++i) {
      ASSERT_NO_FATAL_FAILURE(StartDaemon(
          "servers/filestore/chainfs-filestore", fmt::format("fs{}", i),
          {"--data-dir", fmt::format("{}/fs{}", dir_.path(), i), "--heartbeat-interval", "1s"}));
    }
    ASSERT_NO_FATAL_FAILURE(StartDaemon("servers/nameserver/chainfs-nameserver", "ns",
                                        {"--heartbeat-interval", "1s", "--startup-wait", "5s"}));
    for (int i = 0; i < 2; ++i) ASSERT_NO_FATAL_FAILURE(Mount(i));
  }

  void TearDown() override {
    for (const std::string& dir : mounted_) {
      if (IsFuseMount(dir)) ::system(("fusermount3 -u -z " + dir).c_str());
    }
    processes_.clear();  // each stopped by pid
  }

  void StartDaemon(const std::string& binary, const std::string& name,
                   std::vector<std::string> args) {
    std::filesystem::create_directories(dir_.path() + "/" + name);
    args.insert(args.end(), {"--zk", zk_spec_, "--listen", "127.0.0.1:0", "--session-timeout", "2s",
                             "--metrics-listen", "127.0.0.1:0"});
    const std::string log = fmt::format("{}/{}.log", dir_.path(), name);
    auto daemon = chainfs::testing::StartDaemon(chainfs::testing::BinaryPath(binary), args, log);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    processes_.push_back(std::move(daemon->process));
    auto metrics = chainfs::testing::MetricsAddressInLog(log);
    ASSERT_TRUE(metrics.ok()) << metrics.status();
    endpoints_[name] = *metrics;
  }

  void Mount(int i) {
    const std::string dir = fmt::format("{}/mnt{}", dir_.path(), i);
    const std::string cache = fmt::format("{}/cache{}", dir_.path(), i);
    std::filesystem::create_directories(dir);
    std::filesystem::create_directories(cache);
    const std::string log = fmt::format("{}/mount{}.log", dir_.path(), i);
    auto process = Process::Start(
        chainfs::testing::BinaryPath("fuse/chainfs-mount"),
        {"--zk", zk_spec_, dir, "-f", "--cache-dir", cache, "--metrics-listen", "127.0.0.1:0"},
        log);
    ASSERT_TRUE(process.ok()) << process.status();
    processes_.push_back(std::move(*process));
    ASSERT_TRUE(chainfs::testing::Eventually([&] { return IsFuseMount(dir); }, seconds(30)))
        << "mount " << i << " did not come up";
    mounted_.push_back(dir);
    auto metrics = chainfs::testing::MetricsAddressInLog(log);
    ASSERT_TRUE(metrics.ok()) << metrics.status();
    endpoints_[fmt::format("mount{}", i)] = *metrics;
  }

  // Every endpoint scraped and parsed.
  std::map<std::string, Exposition> ScrapeAll() {
    std::map<std::string, Exposition> all;
    for (const auto& [name, address] : endpoints_) {
      auto parsed = Scrape(address);
      EXPECT_TRUE(parsed.ok()) << name << ": " << parsed.status();
      if (parsed.ok()) all[name] = *std::move(parsed);
    }
    return all;
  }

  double SumOverFileStores(std::map<std::string, Exposition>& all, const std::string& name,
                           const std::map<std::string, std::string>& labels = {}) {
    double sum = 0;
    for (int i = 0; i < 3; ++i) sum += all[fmt::format("fs{}", i)].Sum(name, labels);
    return sum;
  }

  chainfs::testing::ZkServer* zk_ = nullptr;
  std::string zk_spec_;
  chainfs::testing::TempDir dir_;
  std::vector<std::unique_ptr<Process>> processes_;
  std::vector<std::string> mounted_;
  std::map<std::string, std::string> endpoints_;  // name -> metrics host:port
};

TEST_F(MetricsClusterTest, CreatesAndReadsMoveEveryEndpointsCountersByTheirNumber) {
  const std::string writer = mounted_[0], reader = mounted_[1];
  auto before = ScrapeAll();
  ASSERT_EQ(before.size(), 6u);
  int64_t bytes = 0;
  for (int i = 0; i < kFiles; ++i) {
    std::ofstream out(fmt::format("{}/f{}", writer, i), std::ios::binary);
    const std::string content(1000 * (i + 1), static_cast<char>('a' + i));
    out << content;
    out.close();
    ASSERT_TRUE(out) << "create " << i;
    bytes += static_cast<int64_t>(content.size());
  }
  int64_t read = 0;
  for (int i = 0; i < kFiles; ++i) {
    std::ifstream in(fmt::format("{}/f{}", reader, i), std::ios::binary);
    read += static_cast<int64_t>(std::string(std::istreambuf_iterator<char>(in), {}).size());
  }
  ASSERT_EQ(read, bytes);
  auto after = ScrapeAll();
  ASSERT_EQ(after.size(), 6u);

  // Every endpoint: process and RPC metrics.
  for (auto& [name, e] : after) {
    EXPECT_GT(e.Sum("chainfs_process_resident_memory_bytes"), 0) << name;
    EXPECT_GT(e.Sum("chainfs_process_open_fds"), 0) << name;
    EXPECT_GT(e.Sum("chainfs_process_threads"), 0) << name;
    EXPECT_TRUE(e.Has("chainfs_process_cpu_seconds_total")) << name;
  }
  auto delta = [&](const std::string& who, const std::string& metric,
                   const std::map<std::string, std::string>& labels = {}) {
    return after[who].Sum(metric, labels) - before[who].Sum(metric, labels);
  };

  // The writing mount: one create per file, the bytes written.
  EXPECT_EQ(delta("mount0", "chainfs_mount_fuse_op_seconds_count", {{"op", "create"}}), kFiles);
  EXPECT_EQ(delta("mount0", "chainfs_mount_written_bytes_total"), bytes);
  EXPECT_EQ(delta("mount0", "chainfs_mount_failed_closes_total"), 0);
  // The reading mount: the bytes read, an open per file at least.
  EXPECT_EQ(delta("mount1", "chainfs_mount_read_bytes_total"), bytes);
  EXPECT_GE(delta("mount1", "chainfs_mount_fuse_op_seconds_count", {{"op", "open"}}), kFiles);

  // The NameServer: a doCreate per file, the new names, reads asked for.
  EXPECT_GE(
      delta("ns", "chainfs_rpc_calls_total", {{"method", "NameServer/DoCreate"}, {"code", "OK"}}),
      kFiles);
  EXPECT_EQ(delta("ns", "chainfs_nameserver_names"), kFiles);
  EXPECT_EQ(after["ns"].Sum("chainfs_nameserver_leader"), 1);
  EXPECT_EQ(after["ns"].Sum("chainfs_nameserver_live_filestores"), 3);
  EXPECT_GE(after["ns"].Sum("chainfs_nameserver_next_version"), kFiles);
  EXPECT_GE(
      after["ns"].Sum("chainfs_rpc_duration_seconds_count", {{"method", "NameServer/DoCreate"}}),
      kFiles);

  // The FileStores: three copies of every file, each committed, and the reads served.
  auto delta_fs = [&](const std::string& metric,
                      const std::map<std::string, std::string>& labels = {}) {
    return SumOverFileStores(after, metric, labels) - SumOverFileStores(before, metric, labels);
  };
  EXPECT_EQ(delta_fs("chainfs_filestore_objects"), 3 * kFiles);
  EXPECT_EQ(delta_fs("chainfs_filestore_bytes_used"), 3 * bytes);
  EXPECT_GE(delta_fs("chainfs_filestore_commit_seconds_count"), 3 * kFiles);
  EXPECT_GE(
      delta_fs("chainfs_rpc_calls_total", {{"method", "FileStore/Read"}, {"code", "OK"}}) +
          delta_fs("chainfs_rpc_calls_total", {{"method", "FileStore/ReadSmall"}, {"code", "OK"}}),
      kFiles);
  EXPECT_EQ(delta_fs("chainfs_filestore_chain_forward_errors_total"), 0);
  EXPECT_EQ(delta_fs("chainfs_filestore_checksum_failures_total"), 0);
}

TEST_F(MetricsClusterTest, ClusterStatusTellsWhereEveryDaemonsMetricsAre) {
  auto address = ParseZkAddress(zk_spec_);
  ASSERT_TRUE(address.ok());
  auto zk = zk::NewZooKeeper(*address, seconds(10));
  ASSERT_TRUE(zk.ok());
  ASSERT_TRUE((*zk)->WaitConnected(seconds(10)).ok());
  NameServerClient client(zk->get(), {.credentials = testing::TestChannelCredentials()});
  std::set<std::string> want = {endpoints_["fs0"], endpoints_["fs1"], endpoints_["fs2"]};
  std::set<std::string> told;
  std::string leader_metrics;
  // FileStores tell theirs with their heartbeats.
  chainfs::testing::Eventually([&] {
    auto status = client.ClusterStatus(v1::ClusterStatusRequest());
    if (!status.ok()) return false;
    told.clear();
    for (const auto& fs : status->filestores()) told.insert(fs.metrics_address());
    leader_metrics = status->metrics_address();
    return told == want;
  });
  EXPECT_EQ(told, want);
  EXPECT_EQ(leader_metrics, endpoints_["ns"]);
}

}  // namespace
}  // namespace chainfs
