// chainfs-nameserver: parses settings, wires the NameServer to ZooKeeper, the FileStore
// client and a gRPC server, and runs until SIGTERM/SIGINT.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <string>

#include "common/client/filestore_client.h"
#include "common/file_util.h"
#include "common/log.h"
#include "common/memory.h"
#include "common/settings.h"
#include "common/zk/zookeeper.h"
#include "servers/nameserver/filestore_ops.h"
#include "servers/nameserver/nameserver.h"
#include "servers/nameserver/service.h"

namespace {

constexpr int kMaxMessageBytes = 64 << 20;

int Run(int argc, char** argv) {
  using chainfs::AddDurationOption;
  chainfs::nameserver::NameServerSettings s;
  std::string zk_text, listen = "0.0.0.0:7000", advertise, address_file, log_level = "info";
  // 4 s (HDFS's failover controller uses 5 s): a dead leader's session, and so its /leader,
  // goes 4-6 s after its last ping (ZooKeeper expires sessions on its 2 s tick), which keeps
  // failover under 6 s median. ZooKeeper's default configuration allows 4 s to 40 s.
  chainfs::Duration session_timeout = std::chrono::seconds(4);

  CLI::App app{"chainfs NameServer"};
  app.add_option("--zk", zk_text, "ZooKeeper HOST:PORT[,HOST:PORT...]/CHROOT")->required();
  app.add_option("--listen", listen, "HOST:PORT to serve on (port 0 picks a free one)")
      ->capture_default_str();
  app.add_option("--advertise", advertise, "host others use to reach it (default: listen host)");
  app.add_option("--address-file", address_file, "write the advertised host:port here");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  AddDurationOption(app, "--session-timeout", session_timeout, "ZooKeeper session timeout");
  AddDurationOption(app, "--heartbeat-interval", s.heartbeat_interval,
                    "FileStores' heartbeat interval (two missed = dropped)");
  AddDurationOption(app, "--startup-wait", s.startup_wait, "wait for FileStores before serving");
  AddDurationOption(app, "--replication-deadline", s.replication_deadline,
                    "full replication within this time of becoming leader");
  AddDurationOption(app, "--replication-interval", s.replication_interval,
                    "how often replication is checked");
  AddDurationOption(app, "--gc-interval", s.gc_interval, "how often GC may run");
  app.add_option("--gc-min-new-versions", s.gc_min_new_versions,
                 "GC runs only when more versions than this were used")
      ->capture_default_str();
  AddDurationOption(app, "--gc-version-age", s.gc_version_age,
                    "minimum age of the version GC bumps to");
  app.add_option("--maxver-step", s.maxver_step, "how far /maxver is raised at a time")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--replication", s.replication, "replication factor")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  AddDurationOption(app, "--create-grace", s.create_grace,
                    "replication leaves a version doCreate just handed out to its chain this long");
  AddDurationOption(app, "--create-timeout", s.create_timeout,
                    "GC keeps /minver below a create handed out this long ago, until reported");
  AddDurationOption(app, "--dropped-filestore-memory", s.dropped_filestore_memory,
                    "GC waits this long for a dropped FileStore to register again");
  app.add_option("--max-concurrent-copies", s.max_concurrent_copies, "replication concurrency")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.set_config("--config", "",
                 "TOML file of settings (keys are the long flag names); flags override it");
  CLI11_PARSE(app, argc, argv);

  chainfs::SetLogLevel(log_level);
  auto log = chainfs::Logger("nameserver");
  s.election_retry =
      std::max<chainfs::Duration>(session_timeout / 3, std::chrono::milliseconds(50));

  absl::StatusOr<chainfs::ZkAddress> zk_address = chainfs::ParseZkAddress(zk_text);
  if (!zk_address.ok()) {
    log->error("--zk: {}", std::string(zk_address.status().message()));
    return 2;
  }
  absl::StatusOr<std::pair<std::string, int>> listen_hp = chainfs::SplitHostPort(listen);
  if (!listen_hp.ok()) {
    log->error("--listen: {}", std::string(listen_hp.status().message()));
    return 2;
  }
  if (advertise.empty()) advertise = listen_hp->first;
  if (advertise == "0.0.0.0" || advertise == "::" || advertise.empty()) {
    advertise = chainfs::HostName();
  }

  // Signals go to sigwait below, not to whichever thread happens to run.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto zk = chainfs::zk::NewZooKeeper(*zk_address, session_timeout);
  if (!zk.ok()) {
    log->error("ZooKeeper {}: {}", zk_text, std::string(zk.status().message()));
    return 1;
  }
  // No waiting for the session here: signals are only taken at sigwait below, so a wait
  // for a ZooKeeper that is gone delayed SIGTERM by up to a session timeout. The campaign
  // starts once the session is up, and the wrapper logs when it is.

  chainfs::nameserver::NameServerService service;
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    log->error("cannot listen on {}", listen);
    return 1;
  }
  std::string address = advertise + ":" + std::to_string(port);

  chainfs::FileStoreClient filestores;
  auto ops = chainfs::nameserver::NewFileStoreOps(&filestores);
  chainfs::nameserver::NameServer core(s, chainfs::SystemClock::Get(), zk->get(), ops.get(),
                                       address, chainfs::HostName());
  service.Attach(&core);
  core.Start();
  log->info("NameServer listening on {} (advertised {}); campaigning for leadership", listen,
            address);
  if (!address_file.empty()) {
    if (absl::Status st = chainfs::WriteFileAtomically(address_file, address); !st.ok()) {
      log->error("--address-file: {}", std::string(st.message()));
      return 1;
    }
  }

  int sig = 0;
  sigwait(&signals, &sig);
  log->info("signal {}: shutting down", sig);
  core.Stop();
  service.Attach(nullptr);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  chainfs::KeepFreedMemoryForReuse();
  return Run(argc, argv);
}
