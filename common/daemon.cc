#include "common/daemon.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>

#include "common/file_util.h"
#include "common/metrics/metrics_server.h"
#include "common/metrics/rpc_metrics.h"
#include "common/settings.h"
#include "common/tls/ca.h"
#include "common/write_token.h"

namespace chainfs {

namespace {

// The signals that stop a daemon: blocked everywhere, taken only by WaitForStop.
sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

}  // namespace

Daemon::Daemon(std::string component, std::string description, DaemonSettings defaults,
               bool zk_required)
    : app_(std::move(description)),
      settings_(std::move(defaults)),
      log_(Logger(component)),
      registry_(std::make_unique<prometheus::Registry>()) {
  CLI::Option* zk = AddZooKeeperFlags(app_, settings_.zk, settings_.session_timeout);
  if (zk_required) zk->required();
  app_.add_option("--listen", settings_.listen,
                  "HOST:PORT to serve on ([::]:PORT or 0.0.0.0:PORT: every interface; port 0 "
                  "picks a free one)")
      ->capture_default_str();
  app_.add_option("--advertise", settings_.advertise,
                  "host others use to reach it (default: the listen host, or this machine's "
                  "name when that is every interface)");
  app_.add_option("--address-file", settings_.address_file,
                  "once serving, the advertised host:port is written there");
  AddLogLevelFlag(app_, settings_.log_level);
  tls::AddTlsFlags(app_, settings_.tls, component);
  app_.add_option("--zk-auth-file", settings_.zk_auth_file,
                  "file holding user:password for ZooKeeper (default: zk-auth in --tls-dir)");
  app_.add_option("--token-key-file", settings_.token_key_file,
                  "key that write tokens are signed and checked with (default: token.key in "
                  "--tls-dir; none: write tokens are off)");
  AddDurationOption(app_, "--shutdown-grace", settings_.shutdown_grace,
                    "after SIGTERM/SIGINT, calls in flight get this long");
  AddMetricsListenFlag(app_, settings_.metrics_listen);
}

Daemon::~Daemon() { Shutdown(); }

std::string Daemon::metrics_address() const {
  if (!metrics_) return "";
  auto [host, port] = *SplitHostPort(metrics_->address());
  return AdvertisedAddress(settings_.advertise, host, port, HostName());
}

std::optional<int> Daemon::Parse(int argc, const char* const* argv) {
  if (std::optional<int> code = ParseFlags(app_, argc, argv)) return code;
  SetLogLevel(settings_.log_level);
  if (!settings_.zk.empty()) {
    absl::StatusOr<ZkAddress> address = ParseZkAddress(settings_.zk);
    if (!address.ok()) {
      log_->error("--zk: {}", std::string(address.status().message()));
      return 2;
    }
    zk_address_ = *std::move(address);
  }
  if (auto listen = SplitHostPort(settings_.listen); !listen.ok()) {
    log_->error("--listen: {}", std::string(listen.status().message()));
    return 2;
  }
  auto credentials = tls::Credentials::Load(settings_.tls, *log_);
  if (!credentials.ok()) {
    log_->error("{}", std::string(credentials.status().message()));
    return 2;
  }
  credentials_ = *std::move(credentials);
  if (auto digest = tls::ReadZkDigest(settings_.tls, settings_.zk_auth_file); digest.ok()) {
    zk_digest_ = *std::move(digest);
  } else if (!settings_.zk.empty()) {
    log_->error("{}", std::string(digest.status().message()));
    return 2;
  }
  std::string token_key_file = settings_.token_key_file;
  if (token_key_file.empty() && !settings_.tls.dir.empty() && !settings_.tls.insecure &&
      ::access(tls::TokenKeyPath(settings_.tls.dir).c_str(), F_OK) == 0) {
    token_key_file = tls::TokenKeyPath(settings_.tls.dir);
  }
  absl::StatusOr<std::string> token_key = DaemonTokenKey(token_key_file, *log_);
  if (!token_key.ok()) {
    log_->error("--token-key-file: {}", std::string(token_key.status().message()));
    return 2;
  }
  token_key_ = *std::move(token_key);
  const sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (!settings_.metrics_listen.empty()) {
    auto metrics = MetricsServer::Start(settings_.metrics_listen, registry_.get());
    if (!metrics.ok()) {
      log_->error("--metrics-listen: {}", std::string(metrics.status().message()));
      return metrics.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
    }
    metrics_ = *std::move(metrics);
    log_->info("metrics at {}", metrics_->url());
  }
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<zk::ZooKeeper>> Daemon::OpenZooKeeper() const {
  auto zk = zk::NewZooKeeper(zk_address_, settings_.session_timeout, zk_digest_);
  if (!zk.ok()) {
    return absl::Status(zk.status().code(), fmt::format("ZooKeeper {}: {}", settings_.zk,
                                                        std::string(zk.status().message())));
  }
  return zk;
}

absl::Status Daemon::Serve(const std::vector<grpc::Service*>& services,
                           const ServerOptions& options) {
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(settings_.listen, credentials_.Server(log_), &port);
  // gRPC shares a port between servers by default: a second daemon on a taken port must
  // fail, not silently take half the calls.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (options.max_message_bytes > 0) {
    builder.SetMaxReceiveMessageSize(options.max_message_bytes);
    builder.SetMaxSendMessageSize(options.max_message_bytes);
  }
  if (options.stream_window_bytes > 0) {
    builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, options.stream_window_bytes);
  }
  grpc::ResourceQuota quota(log_->name());
  if (options.max_threads > 0) {
    quota.SetMaxThreads(options.max_threads);
    builder.SetResourceQuota(quota);
  }
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<RpcMetrics>(*registry_, SystemClock::Get()));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) {
    server_.reset();
    return absl::UnavailableError(fmt::format("cannot listen on {}", settings_.listen));
  }
  address_ = AdvertisedAddress(settings_.advertise, SplitHostPort(settings_.listen)->first, port,
                               HostName());
  return absl::OkStatus();
}

absl::Status Daemon::WriteAddressFile() const {
  if (settings_.address_file.empty()) return absl::OkStatus();
  absl::Status st = WriteFileAtomically(settings_.address_file, address_ + "\n");
  if (!st.ok())
    return absl::Status(st.code(), fmt::format("--address-file: {}", std::string(st.message())));
  return st;
}

int Daemon::WaitForStop() {
  const sigset_t signals = StopSignals();
  int signal = 0;
  sigwait(&signals, &signal);
  log_->info("signal {}: shutting down (calls in flight get {})", signal,
             FormatDuration(settings_.shutdown_grace));
  return signal;
}

int Daemon::AnnounceAndWait() {
  if (absl::Status st = WriteAddressFile(); !st.ok()) {
    log_->error("{}", std::string(st.message()));
    return 1;
  }
  WaitForStop();
  return 0;
}

void Daemon::Shutdown() {
  if (metrics_) metrics_->Stop();  // its page handlers may use objects main() destroys next
  if (!server_) return;
  // gRPC takes its deadlines on the system clock.
  server_->Shutdown(std::chrono::system_clock::now() + settings_.shutdown_grace);
  server_->Wait();
  server_.reset();
}

}  // namespace chainfs
