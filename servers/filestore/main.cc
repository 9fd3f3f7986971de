// chainfs-filestore: parses settings, opens the object store, serves the FileStore service
// and reports to the NameServer. SIGTERM/SIGINT stop it gracefully.
#include <fmt/format.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/client/filestore_client.h"
#include "common/client/nameserver_client.h"
#include "common/file_util.h"
#include "common/log.h"
#include "common/memory.h"
#include "common/settings.h"
#include "common/zk/zookeeper.h"
#include "servers/filestore/filestore_service.h"
#include "servers/filestore/object_store.h"
#include "servers/filestore/reporter.h"
#include "servers/filestore/scrubber.h"

namespace {

struct Settings {
  std::string zk;
  std::string listen = "0.0.0.0:0";
  std::string advertise;
  std::string address_file;
  std::string log_level = "info";
  chainfs::Duration session_timeout = std::chrono::seconds(10);
  std::string data_dir;
  int64_t capacity = 0;
  chainfs::Duration heartbeat_interval = std::chrono::seconds(15);
  int max_streams = 64;
  chainfs::Duration stream_timeout = std::chrono::minutes(30);
  size_t max_channels = 256;
  int64_t scrub_bytes_per_second = -1;
};

// Room for a 1 MiB chunk and its envelope; anything bigger is refused by gRPC.
constexpr int kMaxMessageBytes = 4 << 20;

int Run(const Settings& s) {
  auto log = chainfs::Logger("filestore");
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  // Blocked in every thread started from here on; main waits for them below.
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto store = chainfs::filestore::ObjectStore::Open({.dir = s.data_dir, .capacity = s.capacity});
  if (!store.ok()) {
    log->error("cannot open the data directory: {}", std::string(store.status().message()));
    return 1;
  }
  auto listen = chainfs::SplitHostPort(s.listen);
  if (!listen.ok()) {
    log->error("--listen: {}", std::string(listen.status().message()));
    return 1;
  }

  chainfs::FileStoreClientSettings client_settings;
  client_settings.stream_timeout = s.stream_timeout;
  client_settings.max_channels = s.max_channels;
  chainfs::FileStoreClient client(client_settings);

  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(s.listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  // A receive window of several chunks keeps chain uploads streaming without stalls.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8 << 20);
  grpc::ResourceQuota quota("filestore");
  quota.SetMaxThreads(s.max_streams * 2 + 16);
  builder.SetResourceQuota(quota);

  // The service needs the advertised address before the port is known: fill it in after.
  chainfs::filestore::FileStoreSettings service_settings;
  service_settings.max_streams = s.max_streams;
  service_settings.stream_timeout = s.stream_timeout;
  std::unique_ptr<chainfs::zk::ZooKeeper> zk;
  std::unique_ptr<chainfs::NameServerClient> ns;
  std::unique_ptr<chainfs::filestore::Reporter> reporter;
  // Forward declared so the reporter can be wired once the port is known.
  auto service = std::make_unique<chainfs::filestore::FileStoreService>(store->get(), &client,
                                                                        nullptr, service_settings);
  builder.RegisterService(service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    log->error("cannot listen on {}", s.listen);
    return 1;
  }
  std::string host = s.advertise.empty() ? listen->first : s.advertise;
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") {
    host = chainfs::HostName();
  }
  const std::string self = fmt::format("{}:{}", host, port);
  log->info("FileStore {} serving on port {} with data in {}", self, port, s.data_dir);

  if (!s.zk.empty()) {
    auto address = chainfs::ParseZkAddress(s.zk);
    if (!address.ok()) {
      log->error("--zk: {}", std::string(address.status().message()));
      return 1;
    }
    auto handle = chainfs::zk::NewZooKeeper(*address, s.session_timeout);
    if (!handle.ok()) {
      log->error("ZooKeeper: {}", std::string(handle.status().message()));
      return 1;
    }
    zk = std::move(*handle);
    chainfs::NameServerClientSettings ns_settings;
    // At most one heartbeat interval: a call stuck on a leader that just died must not
    // hold the next heartbeat (to the new leader) past the NameServer's patience.
    ns_settings.call_timeout = std::clamp<chainfs::Duration>(
        s.heartbeat_interval,
        std::min<chainfs::Duration>(s.heartbeat_interval, std::chrono::seconds(1)),
        std::chrono::seconds(10));
    ns = std::make_unique<chainfs::NameServerClient>(zk.get(), ns_settings);
    reporter = std::make_unique<chainfs::filestore::Reporter>(
        store->get(), zk.get(), ns.get(), chainfs::SystemClock::Get(),
        chainfs::filestore::ReporterSettings{self, s.heartbeat_interval});
  } else {
    log->warn("no --zk: running without ZooKeeper and NameServer");
  }
  service->SetSelf(self, reporter.get());
  if (reporter) reporter->Start();
  chainfs::filestore::Scrubber scrubber(store->get(),
                                        [&reporter](const std::string& name, int64_t version) {
                                          if (reporter) reporter->ReportBadReplica(name, version);
                                        },
                                        {.bytes_per_second = s.scrub_bytes_per_second});
  scrubber.Start();

  if (!s.address_file.empty()) {
    absl::Status st = chainfs::WriteFileAtomically(s.address_file, self + "\n");
    if (!st.ok()) {
      log->error("--address-file: {}", std::string(st.message()));
      return 1;
    }
  }

  int signal = 0;
  sigwait(&signals, &signal);
  log->info("signal {}: shutting down", signal);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  scrubber.Stop();
  if (reporter) reporter->Stop();
  server->Wait();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  chainfs::KeepFreedMemoryForReuse();
  Settings s;
  CLI::App app{"chainfs FileStore: versioned, chain-replicated file storage"};
  app.add_option("--zk", s.zk, "ZooKeeper HOST:PORT[,HOST:PORT...]/CHROOT (none: standalone)");
  app.add_option("--listen", s.listen, "HOST:PORT to listen on (port 0 picks a free one)");
  app.add_option("--advertise", s.advertise, "host others use to reach this FileStore");
  app.add_option("--address-file", s.address_file,
                 "once serving, the advertised host:port is written there");
  app.add_option("--log-level", s.log_level, "trace, debug, info, warn, error");
  chainfs::AddDurationOption(app, "--session-timeout", s.session_timeout,
                             "ZooKeeper session timeout");
  app.add_option("--data-dir", s.data_dir, "directory holding the objects")->required();
  app.add_option("--capacity", s.capacity, "bytes of content to store at most (0 = the disk)")
      ->check(CLI::NonNegativeNumber);
  chainfs::AddDurationOption(app, "--heartbeat-interval", s.heartbeat_interval,
                             "NameServer heartbeat interval");
  app.add_option("--max-streams", s.max_streams,
                 "concurrent create/read/copy streams and one-call creates")
      ->check(CLI::PositiveNumber);
  chainfs::AddDurationOption(app, "--stream-timeout", s.stream_timeout,
                             "deadline of whole create/read streams");
  app.add_option("--max-channels", s.max_channels,
                 "channels to other FileStores kept open (least recently used closed first)")
      ->check(CLI::PositiveNumber);
  app.add_option("--scrub-bytes-per-second", s.scrub_bytes_per_second,
                 "background re-verification rate; -1: a full pass per day (at least 1 MiB/s), "
                 "0: off");
  app.set_config("--config", "",
                 "TOML file of settings (keys are the long flag names); flags override it");
  CLI11_PARSE(app, argc, argv);
  chainfs::SetLogLevel(s.log_level);
  return Run(s);
}
