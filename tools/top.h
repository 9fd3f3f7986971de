// `chainfs top`: a live view of the cluster, refreshed in place like top(1). Every interval it
// asks the NameServer (ClusterStatus) for the leader and the FileStores with their metrics
// addresses, scrapes each one's /metrics, and shows per daemon the RPCs per second, errors per
// second, mean and p99 latency (from the RPC latency histogram's buckets, between the last two
// scrapes) and the busiest methods, plus each FileStore's space. `--once` prints one frame
// (two scrapes an interval apart) without terminal control codes, for scripts.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/client/nameserver_api.h"
#include "common/clock.h"

namespace chainfs::cli {

// One sample of the Prometheus text format: name{labels} value.
struct MetricSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};
using Scrape = std::vector<MetricSample>;

// Parses the Prometheus text exposition format (comments skipped); INVALID_ARGUMENT, naming
// the line, for one that is not a sample.
absl::StatusOr<Scrape> ParseMetrics(std::string_view text);

// One daemon's activity between two scrapes.
struct DaemonFigures {
  std::string role;     // "nameserver" or "filestore"
  std::string address;  // its gRPC host:port
  std::string error;    // why it could not be scraped ("" when it was)
  double ops_per_second = 0;
  double errors_per_second = 0;
  double mean_ms = -1;  // -1: no call finished in the interval
  double p99_ms = -1;
  std::vector<std::pair<std::string, double>> busiest;  // method, calls per second
  int64_t bytes_used = -1;                              // FileStores: from ClusterStatus
  int64_t bytes_available = -1;
};

// What happened between `before` and `after`, `seconds` apart.
DaemonFigures Compare(const Scrape& before, const Scrape& after, double seconds);

// One screen: a header (leader, names, under-replicated) and a line per daemon.
std::string RenderFrame(const v1::ClusterStatusReply& status,
                        const std::vector<DaemonFigures>& daemons);

struct TopOptions {
  Duration interval = std::chrono::seconds(2);
  bool once = false;
};

// GETs http://<metrics address>/metrics.
using MetricsFetcher = std::function<absl::StatusOr<std::string>(const std::string& address)>;
MetricsFetcher HttpMetricsFetcher(Duration timeout);

// Runs until interrupted (or one frame with options.once).
absl::Status RunTop(NameServerApi* ns, const MetricsFetcher& fetch, const TopOptions& options,
                    const Clock* clock, std::FILE* out);

}  // namespace chainfs::cli
