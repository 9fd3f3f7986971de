#include "tools/top.h"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <set>

#include "common/duration.h"
#include "common/status.h"

namespace chainfs::cli {
namespace {

// The RPC metrics every daemon exports (common/metrics/rpc_metrics.h): calls by method
// ("Service/Method") and code, and the latency histogram by method.
constexpr std::string_view kCalls = "chainfs_rpc_calls_total";
constexpr std::string_view kLatency = "chainfs_rpc_duration_seconds";
constexpr size_t kBusiest = 3;

// "a\"b" at text[*pos] (just after the opening quote) up to the closing quote, unescaped.
bool ParseQuoted(std::string_view text, size_t* pos, std::string* out) {
  for (; *pos < text.size(); ++*pos) {
    char c = text[*pos];
    if (c == '"') {
      ++*pos;
      return true;
    }
    if (c == '\\' && *pos + 1 < text.size()) {
      c = text[++*pos];
      if (c == 'n') c = '\n';
    }
    out->push_back(c);
  }
  return false;
}

std::optional<MetricSample> ParseLine(std::string_view line) {
  MetricSample s;
  size_t pos = 0;
  while (pos < line.size() && line[pos] != '{' && line[pos] != ' ') s.name.push_back(line[pos++]);
  if (s.name.empty()) return std::nullopt;
  if (pos < line.size() && line[pos] == '{') {
    ++pos;
    while (pos < line.size() && line[pos] != '}') {
      size_t eq = line.find('=', pos);
      if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
        return std::nullopt;
      }
      std::string key(line.substr(pos, eq - pos));
      pos = eq + 2;
      std::string value;
      if (!ParseQuoted(line, &pos, &value)) return std::nullopt;
      s.labels[key] = std::move(value);
      if (pos < line.size() && line[pos] == ',') ++pos;
    }
    if (pos >= line.size()) return std::nullopt;
    ++pos;
  }
  std::string rest(line.substr(pos));
  char* end = nullptr;
  const char* begin = rest.c_str();
  s.value = std::strtod(begin, &end);
  if (end == begin) return std::nullopt;  // strtod reads +Inf, -Inf and NaN too
  return s;
}

// Sum of `name` samples whose labels match `filter` (if given), grouped by label `by`.
std::map<std::string, double> SumBy(const Scrape& scrape, std::string_view name,
                                    const std::string& by,
                                    const std::function<bool(const MetricSample&)>& filter = {}) {
  std::map<std::string, double> out;
  for (const MetricSample& s : scrape) {
    if (s.name != name || (filter && !filter(s))) continue;
    auto it = s.labels.find(by);
    out[it == s.labels.end() ? "" : it->second] += s.value;
  }
  return out;
}

double Total(const std::map<std::string, double>& m) {
  double t = 0;
  for (const auto& [k, v] : m) t += v;
  return t;
}

// Counters only grow; a restarted daemon starts again from 0, and then `after` is the delta.
double Delta(double before, double after) { return after >= before ? after - before : after; }

// The q-quantile of the calls in the buckets' deltas (le -> cumulative count), interpolated
// linearly inside its bucket as Prometheus' histogram_quantile does; -1 without calls.
double Quantile(const std::map<double, double>& cumulative, double q) {
  if (cumulative.empty() || cumulative.rbegin()->second <= 0) return -1;
  const double rank = q * cumulative.rbegin()->second;
  double lower = 0, below = 0;
  for (const auto& [le, count] : cumulative) {
    if (count >= rank) {
      if (std::isinf(le)) return lower;  // beyond the last finite bound: say that bound
      return lower + (le - lower) * (count > below ? (rank - below) / (count - below) : 1);
    }
    lower = le;
    below = count;
  }
  return lower;
}

std::string Ms(double ms) {
  if (ms < 0) return "-";
  return ms < 10 ? fmt::format("{:.2f}", ms) : fmt::format("{:.0f}", ms);
}

std::string Bytes(int64_t n) {
  const char* units[] = {"B", "K", "M", "G", "T", "P"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{}B", n) : fmt::format("{:.1f}{}", v, units[u]);
}

}  // namespace

absl::StatusOr<Scrape> ParseMetrics(std::string_view text) {
  Scrape out;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::optional<MetricSample> sample = ParseLine(line);
    if (!sample) {
      return absl::InvalidArgumentError(fmt::format("line {} is not a metric sample", line_no));
    }
    out.push_back(std::move(*sample));
  }
  return out;
}

DaemonFigures Compare(const Scrape& before, const Scrape& after, double seconds) {
  DaemonFigures f;
  if (seconds <= 0) return f;
  const std::string count_name = std::string(kLatency) + "_count";
  const std::string sum_name = std::string(kLatency) + "_sum";
  const std::string bucket_name = std::string(kLatency) + "_bucket";
  std::map<std::string, double> calls0 = SumBy(before, count_name, "method");
  std::map<std::string, double> calls1 = SumBy(after, count_name, "method");
  double calls = 0;
  std::vector<std::pair<std::string, double>> methods;
  for (const auto& [method, n] : calls1) {
    const double d = Delta(calls0[method], n);
    calls += d;
    // "NameServer/DoCreate" -> "DoCreate": the role column says which service.
    const size_t slash = method.find('/');
    if (d > 0) {
      methods.emplace_back(slash == std::string::npos ? method : method.substr(slash + 1),
                           d / seconds);
    }
  }
  std::sort(methods.begin(), methods.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  if (methods.size() > kBusiest) methods.resize(kBusiest);
  f.busiest = std::move(methods);
  f.ops_per_second = calls / seconds;
  auto failed = [](const MetricSample& s) {
    auto it = s.labels.find("code");
    return it != s.labels.end() && it->second != "OK";
  };
  f.errors_per_second = Delta(Total(SumBy(before, kCalls, "method", failed)),
                              Total(SumBy(after, kCalls, "method", failed))) /
                        seconds;
  if (calls <= 0) return f;
  const double sum =
      Delta(Total(SumBy(before, sum_name, "method")), Total(SumBy(after, sum_name, "method")));
  f.mean_ms = 1000 * sum / calls;
  std::map<std::string, double> b0 = SumBy(before, bucket_name, "le");
  std::map<std::string, double> b1 = SumBy(after, bucket_name, "le");
  std::map<double, double> cumulative;
  for (const auto& [le, n] : b1) cumulative[std::strtod(le.c_str(), nullptr)] = Delta(b0[le], n);
  const double p99 = Quantile(cumulative, 0.99);
  f.p99_ms = p99 < 0 ? -1 : 1000 * p99;
  return f;
}

std::string RenderFrame(const v1::ClusterStatusReply& status,
                        const std::vector<DaemonFigures>& daemons) {
  std::string out = fmt::format(
      "chainfs top - leader {}{} - {} names, {} under-replicated - versions next {} max {} min "
      "{}\n",
      status.leader().empty() ? "unknown" : status.leader(), status.serving() ? "" : " (starting)",
      status.names(), status.under_replicated(), status.next_version(), status.max_version(),
      status.min_version());
  out += fmt::format("\n{:<10} {:<22} {:>9} {:>7} {:>9} {:>9} {:>17}  {}\n", "ROLE", "ADDRESS",
                     "OPS/S", "ERR/S", "MEAN ms", "P99 ms", "USED/AVAILABLE", "BUSIEST");
  for (const DaemonFigures& d : daemons) {
    std::string space = d.bytes_used < 0
                            ? "-"
                            : fmt::format("{}/{}", Bytes(d.bytes_used), Bytes(d.bytes_available));
    if (!d.error.empty()) {
      out += fmt::format("{:<10} {:<22} {:>9} {:>7} {:>9} {:>9} {:>17}  {}\n", d.role, d.address,
                         "-", "-", "-", "-", space, d.error);
      continue;
    }
    std::vector<std::string> busiest;
    for (const auto& [method, rate] : d.busiest) {
      busiest.push_back(fmt::format("{} {:.1f}/s", method, rate));
    }
    out += fmt::format("{:<10} {:<22} {:>9.1f} {:>7.1f} {:>9} {:>9} {:>17}  {}\n", d.role,
                       d.address, d.ops_per_second, d.errors_per_second, Ms(d.mean_ms),
                       Ms(d.p99_ms), space, fmt::join(busiest, ", "));
  }
  return out;
}

MetricsFetcher HttpMetricsFetcher(Duration timeout) {
  return [timeout](const std::string& address) -> absl::StatusOr<std::string> {
    httplib::Client http("http://" + address);
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
    const auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(timeout - secs);
    http.set_connection_timeout(secs.count(), usecs.count());
    http.set_read_timeout(secs.count(), usecs.count());
    httplib::Result res = http.Get("/metrics");
    if (!res) {
      return absl::UnavailableError(
          fmt::format("{}: {}", address, httplib::to_string(res.error())));
    }
    if (res->status != 200) {
      return absl::UnavailableError(fmt::format("{}: HTTP {}", address, res->status));
    }
    return std::move(res->body);
  };
}

namespace {

// A daemon to watch: what ClusterStatus says of it.
struct Watched {
  std::string role, address, metrics;
  int64_t bytes_used = -1, bytes_available = -1;
};

std::vector<Watched> WatchList(const v1::ClusterStatusReply& status) {
  std::vector<Watched> out;
  out.push_back({"nameserver", status.leader(), status.metrics_address()});
  for (const v1::FileStoreStatus& fs : status.filestores()) {
    out.push_back(
        {"filestore", fs.address(), fs.metrics_address(), fs.bytes_used(), fs.bytes_available()});
  }
  return out;
}

absl::StatusOr<Scrape> ScrapeOne(const MetricsFetcher& fetch, const Watched& w) {
  if (w.metrics.empty()) return absl::UnavailableError("no --metrics-listen");
  CHAINFS_ASSIGN_OR_RETURN(std::string text, fetch(w.metrics));
  return ParseMetrics(text);
}

}  // namespace

absl::Status RunTop(NameServerApi* ns, const MetricsFetcher& fetch, const TopOptions& options,
                    const Clock* clock, std::FILE* out) {
  if (options.interval <= Duration::zero()) {
    return absl::InvalidArgumentError("--interval must be positive");
  }
  std::map<std::string, Scrape> last;  // by metrics address
  TimePoint last_at = clock->Now();
  for (int frame = 0;; ++frame) {
    CHAINFS_ASSIGN_OR_RETURN(v1::ClusterStatusReply status,
                             ns->ClusterStatus(v1::ClusterStatusRequest()));
    const TimePoint now = clock->Now();
    const double seconds = std::chrono::duration<double>(now - last_at).count();
    std::map<std::string, Scrape> scraped;
    std::vector<DaemonFigures> figures;
    for (const Watched& w : WatchList(status)) {
      absl::StatusOr<Scrape> scrape = ScrapeOne(fetch, w);
      DaemonFigures f;
      if (!scrape.ok()) {
        f.error = std::string(scrape.status().message());
      } else {
        auto before = last.find(w.metrics);
        if (before != last.end()) f = Compare(before->second, *scrape, seconds);
        scraped[w.metrics] = std::move(*scrape);
      }
      f.role = w.role;
      f.address = w.address;
      f.bytes_used = w.bytes_used;
      f.bytes_available = w.bytes_available;
      figures.push_back(std::move(f));
    }
    last = std::move(scraped);
    last_at = now;
    // The first round only takes the baseline.
    if (frame > 0) {
      const std::string text = RenderFrame(status, figures);
      if (options.once) {
        fmt::print(out, "{}", text);
        return absl::OkStatus();
      }
      // Home, clear the screen, draw: a frame replaces the last one in place.
      fmt::print(out, "\x1b[H\x1b[2J{}\nevery {}; Ctrl-C to quit\n", text,
                 FormatDuration(options.interval));
      std::fflush(out);
    }
    clock->SleepUntil(now + options.interval);
  }
}

}  // namespace chainfs::cli
