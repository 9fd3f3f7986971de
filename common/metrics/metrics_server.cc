#include "common/metrics/metrics_server.h"

#include <httplib.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>

#include <sstream>

#include "common/address.h"
#include "common/metrics/process_metrics.h"
#include "fmt/format.h"

namespace chainfs {

namespace {

// The Prometheus text exposition format, version 0.0.4.
constexpr char kExpositionContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Scrapes and status pages are rare: a few threads are plenty.
constexpr size_t kHttpThreads = 3;

// SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, under which a second daemon
// on a taken port would silently share it instead of failing.
void ReuseAddressOnly(socket_t sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

}  // namespace

void AddMetricsListenFlag(CLI::App& app, std::string& listen) {
  app.add_option("--metrics-listen", listen,
                 "HOST:PORT to serve Prometheus /metrics on (port 0 picks a free one; default: "
                 "off)");
}

MetricsServer::MetricsServer(prometheus::Registry* registry, std::unique_ptr<httplib::Server> http)
    : registry_(registry), http_(std::move(http)) {}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen, prometheus::Registry* registry) {
  absl::StatusOr<std::pair<std::string, int>> host_port = SplitHostPort(listen);
  if (!host_port.ok()) return host_port.status();
  auto [host, port] = *host_port;
  auto http = std::make_unique<httplib::Server>();
  http->set_socket_options(ReuseAddressOnly);
  http->new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
  const int bound = port == 0                        ? http->bind_to_any_port(host)
                    : http->bind_to_port(host, port) ? port
                                                     : -1;
  if (bound <= 0) {
    return absl::UnavailableError(
        fmt::format("cannot listen on {} (port taken or host unknown)", listen));
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer(registry, std::move(http)));
  server->address_ = JoinHostPort(host, bound);
  server->process_ = std::make_unique<ProcessMetrics>(*registry);
  server->OnScrape([process = server->process_.get()] { process->Refresh(); });
  MetricsServer* self = server.get();
  server->http_->Get(".*", [self](const httplib::Request& request, httplib::Response& response) {
    HttpReply reply = self->Answer(request.path);
    response.status = reply.status;
    response.set_content(
        reply.body, reply.content_type.empty() ? "text/plain; charset=utf-8" : reply.content_type);
  });
  server->thread_ = std::thread([self] {
    self->http_->listen_after_bind();
    self->done_ = true;
  });
  return server;
}

MetricsServer::~MetricsServer() { Stop(); }

std::string MetricsServer::url() const {
  auto [host, port] = *SplitHostPort(address_);
  return fmt::format("http://{}/metrics",
                     JoinHostPort(IsWildcardHost(host) ? "127.0.0.1" : host, port));
}

void MetricsServer::Handle(const std::string& path, std::function<HttpReply()> handler) {
  std::lock_guard lock(mu_);
  handlers_[path] = std::move(handler);
}

void MetricsServer::OnScrape(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  hooks_.push_back(std::move(hook));
}

void MetricsServer::Stop() {
  if (!thread_.joinable()) return;
  // httplib's stop() acts only once the listening loop runs, which may not have started yet.
  while (!done_) {
    http_->stop();
    std::this_thread::yield();
  }
  thread_.join();
}

HttpReply MetricsServer::Answer(const std::string& path) {
  if (path == "/metrics") return Scrape();
  std::function<HttpReply()> handler;
  {
    std::lock_guard lock(mu_);
    auto it = handlers_.find(path);
    if (it != handlers_.end()) handler = it->second;
  }
  if (!handler) return {.status = 404, .content_type = "", .body = "not found\n"};
  return handler();
}

HttpReply MetricsServer::Scrape() {
  std::vector<std::function<void()>> hooks;
  {
    std::lock_guard lock(mu_);
    hooks = hooks_;
  }
  for (const auto& hook : hooks) hook();
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return {.content_type = kExpositionContentType, .body = std::move(out).str()};
}

}  // namespace chainfs
