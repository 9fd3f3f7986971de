// `chainfs top`'s frame: parsing the Prometheus text format, and the rates, mean and p99
// latency computed from two scrapes of the RPC metrics.
#include <gtest/gtest.h>

#include "tools/top.h"

namespace chainfs::cli {
namespace {

// Two scrapes of a FileStore, 2 s apart: 100 more Create calls (one failed), 20 more Reads.
// Of the 120 new calls, 108 took at most 1 ms, 11 at most 10 ms, 1 at most 100 ms.
const char* kBefore =
    R"(# HELP chainfs_rpc_calls_total gRPC calls served, by method and status code.
# TYPE chainfs_rpc_calls_total counter
chainfs_rpc_calls_total{code="OK",method="FileStore/Create"} 50
chainfs_rpc_calls_total{code="OK",method="FileStore/Read"} 10
# TYPE chainfs_rpc_duration_seconds histogram
chainfs_rpc_duration_seconds_count{method="FileStore/Create"} 50
chainfs_rpc_duration_seconds_sum{method="FileStore/Create"} 0.05
chainfs_rpc_duration_seconds_bucket{method="FileStore/Create",le="0.001"} 50
chainfs_rpc_duration_seconds_bucket{method="FileStore/Create",le="0.01"} 50
chainfs_rpc_duration_seconds_bucket{method="FileStore/Create",le="0.1"} 50
chainfs_rpc_duration_seconds_bucket{method="FileStore/Create",le="+Inf"} 50
chainfs_rpc_duration_seconds_count{method="FileStore/Read"} 10
chainfs_rpc_duration_seconds_sum{method="FileStore/Read"} 0.01
chainfs_rpc_duration_seconds_bucket{method="FileStore/Read",le="0.001"} 10
chainfs_rpc_duration_seconds_bucket{method="FileStore/Read",le="0.01"} 10
chainfs_rpc_duration_seconds_bucket{method="FileStore/Read",le="0.1"} 10
chainfs_rpc_duration_seconds_bucket{method="FileStore/Read",le="+Inf"} 10
)";
const char* kAfter = R"(chainfs_rpc_calls_total{code="OK",method="FileStore/Create"} 149
chainfs_rpc_calls_total{code="UNAVAILABLE",method="FileStore/Create"} 1
chainfs_rpc_calls_total{code="OK",method="FileStore/Read"} 30
chainfs_rpc_duration_seconds_count{method="FileStore/Create"} 150
chainfs_rpc_duration_seconds_sum{method="FileStore/Create"} 0.35
chainfs_rpc_duration_seconds_bucket{method="FileStore/Create",le="0.001"} 138
chainfs_rpc_duration_seconds_bucket{method="FileStore/Create",le="0.01"} 149
chainfs_rpc_duration_seconds_bucket{method="FileStore/Create",le="0.1"} 150
chainfs_rpc_duration_seconds_bucket{method="FileStore/Create",le="+Inf"} 150
chainfs_rpc_duration_seconds_count{method="FileStore/Read"} 30
chainfs_rpc_duration_seconds_sum{method="FileStore/Read"} 0.07
chainfs_rpc_duration_seconds_bucket{method="FileStore/Read",le="0.001"} 30
chainfs_rpc_duration_seconds_bucket{method="FileStore/Read",le="0.01"} 30
chainfs_rpc_duration_seconds_bucket{method="FileStore/Read",le="0.1"} 30
chainfs_rpc_duration_seconds_bucket{method="FileStore/Read",le="+Inf"} 30
)";

TEST(TopTest, ParseMetrics_LabelsValuesAndEscapes) {
  auto scrape =
      ParseMetrics("# c\nm_total{a=\"x\\\"y\",b=\"2\"} 3.5\nplain 7\ninf{le=\"+Inf\"} +Inf\n");
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  ASSERT_EQ(scrape->size(), 3u);
  EXPECT_EQ((*scrape)[0].name, "m_total");
  EXPECT_EQ((*scrape)[0].labels.at("a"), "x\"y");
  EXPECT_EQ((*scrape)[0].value, 3.5);
  EXPECT_EQ((*scrape)[1].value, 7);
  EXPECT_TRUE(std::isinf((*scrape)[2].value));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseMetrics("ok 1\nbroken{a=1} 2\n").status()));
}

TEST(TopTest, TwoScrapes_RatesMeanAndP99FromTheDeltas) {
  auto before = ParseMetrics(kBefore);
  auto after = ParseMetrics(kAfter);
  ASSERT_TRUE(before.ok() && after.ok());
  DaemonFigures f = Compare(*before, *after, 2.0);
  EXPECT_DOUBLE_EQ(f.ops_per_second, 60);      // 120 calls in 2 s
  EXPECT_DOUBLE_EQ(f.errors_per_second, 0.5);  // one UNAVAILABLE
  EXPECT_NEAR(f.mean_ms, 1000 * 0.36 / 120, 1e-9);
  // Rank 118.8 of 120 falls in (1 ms, 10 ms], whose 11 calls follow the first 108.
  EXPECT_NEAR(f.p99_ms, 1 + 9 * (118.8 - 108) / 11, 1e-9);
  ASSERT_EQ(f.busiest.size(), 2u);
  EXPECT_EQ(f.busiest[0].first, "Create");
  EXPECT_DOUBLE_EQ(f.busiest[0].second, 50);
}

TEST(TopTest, NoCallsOrRestartedDaemon_NoLatencyAndNoNegativeRates) {
  auto after = ParseMetrics(kAfter);
  ASSERT_TRUE(after.ok());
  DaemonFigures idle = Compare(*after, *after, 2.0);
  EXPECT_EQ(idle.ops_per_second, 0);
  EXPECT_EQ(idle.mean_ms, -1);
  EXPECT_EQ(idle.p99_ms, -1);
  // Counters lower than before: the daemon restarted, what it counted since is the delta.
  auto before = ParseMetrics(kBefore);
  DaemonFigures restarted = Compare(*after, *before, 1.0);
  EXPECT_DOUBLE_EQ(restarted.ops_per_second, 60);
}

TEST(TopTest, Frame_NamesTheLeaderAndEveryDaemon) {
  v1::ClusterStatusReply status;
  status.set_leader("10.0.0.1:7000");
  status.set_serving(true);
  status.set_names(42);
  DaemonFigures ns;
  ns.role = "nameserver";
  ns.address = "10.0.0.1:7000";
  ns.ops_per_second = 12.5;
  DaemonFigures fs;
  fs.role = "filestore";
  fs.address = "10.0.0.2:7001";
  fs.error = "HTTP 404";
  std::string frame = RenderFrame(status, {ns, fs});
  EXPECT_NE(frame.find("leader 10.0.0.1:7000 - 42 names"), std::string::npos) << frame;
  EXPECT_NE(frame.find("nameserver 10.0.0.1:7000"), std::string::npos) << frame;
  EXPECT_NE(frame.find("12.5"), std::string::npos) << frame;
  EXPECT_NE(frame.find("HTTP 404"), std::string::npos) << frame;
}

}  // namespace
}  // namespace chainfs::cli
