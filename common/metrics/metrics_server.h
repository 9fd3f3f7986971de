// The HTTP side of a daemon's metrics: a small server on its own thread that answers
// `GET /metrics` with the Prometheus text format of a prometheus::Registry, plus any page a
// daemon adds with Handle (the NameServer's status page at `/` and `/status.json`). Other
// paths answer 404. Off unless --metrics-listen is set. The server adds the process metrics
// (ProcessMetrics) to the registry it serves and refreshes them on each scrape.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace chainfs {

class ProcessMetrics;

// What a page handler answers.
struct HttpReply {
  int status = 200;
  std::string content_type;  // "" = text/plain
  std::string body;
};

// --metrics-listen HOST:PORT into `listen`, the same flag on every daemon and the mount.
void AddMetricsListenFlag(CLI::App& app, std::string& listen);

class MetricsServer {
 public:
  // Binds `listen` ("HOST:PORT", "[::]:PORT", "0.0.0.0:PORT"; port 0 picks a free one) and
  // serves `registry` (which must outlive the server) on a thread of its own. A malformed
  // address is INVALID_ARGUMENT; a taken port or unknown host UNAVAILABLE.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                              prometheus::Registry* registry);
  ~MetricsServer();  // Stop()s
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The bound "host:port" (the port the system picked for port 0).
  const std::string& address() const { return address_; }
  // "http://host:port/metrics", with a wildcard host replaced by 127.0.0.1, for logs.
  std::string url() const;

  // Serves GET `path` (exact match) with `handler`, from now on; replaces an earlier one.
  // The handler runs on the server's threads and must be thread-safe.
  void Handle(const std::string& path, std::function<HttpReply()> handler);
  // Runs `hook` before every /metrics answer (to refresh gauges read on demand).
  void OnScrape(std::function<void()> hook);

  // Stops serving and joins the thread. Idempotent.
  void Stop();

 private:
  MetricsServer(prometheus::Registry* registry, std::unique_ptr<httplib::Server> http);
  HttpReply Answer(const std::string& path);
  HttpReply Scrape();

  prometheus::Registry* const registry_;
  std::unique_ptr<httplib::Server> http_;
  std::string address_;
  std::thread thread_;
  std::atomic<bool> done_ = false;  // the serving loop returned
  std::mutex mu_;                   // guards handlers_ and hooks_
  std::map<std::string, std::function<HttpReply()>> handlers_;
  std::vector<std::function<void()>> hooks_;
  std::unique_ptr<ProcessMetrics> process_;
};

}  // namespace chainfs
