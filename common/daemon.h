// The scaffold every chainfs daemon runs on: the flags they share (ZooKeeper, listen and
// advertise addresses, logging, TLS, --config), the gRPC server (mutual TLS with role checks
// unless --insecure) with reflection and the
// service's message limits, the advertised address, and SIGINT/SIGTERM ending in a graceful
// stop. A main() adds its own flags to flags(), calls Parse, opens what it needs, Serve()s,
// AnnounceAndWait()s, stops its own objects and calls Shutdown: nothing else.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/defaults.h"
#include "common/log.h"
#include "common/tls/tls.h"
#include "common/zk/zookeeper.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace chainfs {

// The flags every daemon takes, under the same names everywhere.
struct DaemonSettings {
  std::string zk = "";  // --zk HOST:PORT[,...]/CHROOT; "" = none (where allowed)
  Duration session_timeout = kDefaultSessionTimeout;  // --session-timeout
  // --listen "host:port", "[::]:port" or "0.0.0.0:port"; port 0 picks a free one.
  std::string listen = "";
  std::string advertise = "";     // --advertise HOST others reach it by (see AdvertisedAddress)
  std::string address_file = "";  // --address-file: the advertised host:port, once serving
  std::string log_level = "info";
  // --shutdown-grace: after SIGTERM/SIGINT, calls in flight get this long, then are cancelled.
  Duration shutdown_grace = kDefaultShutdownGrace;
  tls::TlsSettings tls = {};  // --tls-dir, --tls-name (default: the component), --insecure, ...
  // --zk-auth-file: "user:password" the daemons authenticate to ZooKeeper with (znodes they
  // create are writable by that identity only); default: zk-auth in --tls-dir.
  std::string zk_auth_file = "";
  // --token-key-file: the key write tokens are signed and checked with (common/write_token.h);
  // default: token.key in --tls-dir when there is one. Without a key, write tokens are off
  // (logged loudly).
  std::string token_key_file = "";
  // --metrics-listen HOST:PORT: serve /metrics there (port 0 picks a free one); "" = off.
  std::string metrics_listen = "";
};

// How a daemon's gRPC server is built; 0 leaves gRPC's default.
struct ServerOptions {
  int max_message_bytes = 0;    // both directions
  int stream_window_bytes = 0;  // HTTP/2 receive window per stream
  int max_threads = 0;          // the server's thread quota
};

class MetricsServer;

class Daemon {
 public:
  // `component` names the logger ("nameserver"); `defaults` are the flags' defaults;
  // `zk_required`: --zk must be given (else the daemon may run without ZooKeeper).
  Daemon(std::string component, std::string description, DaemonSettings defaults, bool zk_required);
  ~Daemon();

  // Where main() adds its own flags, before Parse.
  CLI::App& flags() { return app_; }
  // Parses the command line and --config, checks --zk and --listen, sets the log level, and
  // blocks SIGINT and SIGTERM in this thread and every thread it starts from here on (so
  // WaitForStop takes them), and starts the metrics server under --metrics-listen. nullopt:
  // carry on; otherwise main's exit code.
  std::optional<int> Parse(int argc, const char* const* argv);
  const DaemonSettings& settings() const { return settings_; }
  spdlog::logger& log() const { return *log_; }
  // This daemon's certificates (loaded by Parse): what its own clients dial with.
  const tls::Credentials& credentials() const { return credentials_; }
  // The write-token key read at Parse; "" when write tokens are off.
  const std::string& token_key() const { return token_key_; }
  // Where the daemon's objects register their metrics; there even when metrics are off.
  prometheus::Registry* registry() const { return registry_.get(); }
  // The /metrics server once Parse started it; null when --metrics-listen is not set.
  MetricsServer* metrics_server() const { return metrics_.get(); }
  // The metrics server's host:port as others reach it (the --advertise rule); "" when off.
  std::string metrics_address() const;

  // A ZooKeeper handle for --zk and --session-timeout. It does not wait for the session, so
  // a ZooKeeper that is gone never delays a stop.
  absl::StatusOr<std::unique_ptr<zk::ZooKeeper>> OpenZooKeeper() const;

  // Starts the gRPC server on --listen with `services`, reflection and the RPC metrics
  // (RpcMetrics). Then address() is
  // what others dial: AdvertisedAddress of --advertise, --listen and the bound port.
  absl::Status Serve(const std::vector<grpc::Service*>& services, const ServerOptions& options);
  const std::string& address() const { return address_; }
  // Writes address() to --address-file (when given): the sign, for scripts and tests, that
  // the daemon serves. Call it once everything is wired.
  absl::Status WriteAddressFile() const;

  // Blocks until SIGINT or SIGTERM; returns the signal.
  int WaitForStop();
  // Once everything is wired: WriteAddressFile, then WaitForStop. Returns main's exit code:
  // 0 after the signal, 1 when the address file could not be written (logged).
  int AnnounceAndWait();
  // Stops the metrics server, then stops taking calls, gives those in flight
  // --shutdown-grace, and waits for the server.
  // Must run before the services given to Serve are destroyed.
  void Shutdown();

 private:
  CLI::App app_;
  DaemonSettings settings_;
  ZkAddress zk_address_;
  tls::Credentials credentials_ = tls::Credentials::Insecure();
  std::string token_key_;
  std::string zk_digest_;  // read from the zk auth file; "" when --insecure
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<prometheus::Registry> registry_;
  std::unique_ptr<MetricsServer> metrics_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace chainfs
