// chainfs-filestore: parses settings, opens the object store, serves the FileStore service
// and reports to the NameServer. SIGTERM/SIGINT stop it gracefully.
#include <CLI/CLI.hpp>
#include <map>
#include <string>

#include "common/client/filestore_client.h"
#include "common/client/nameserver_client.h"
#include "common/daemon.h"
#include "common/metrics/metrics_server.h"
#include "common/process.h"
#include "common/settings.h"
#include "servers/filestore/filestore_service.h"
#include "servers/filestore/flusher.h"
#include "servers/filestore/object_store.h"
#include "servers/filestore/reporter.h"
#include "servers/filestore/scrubber.h"

namespace {

using chainfs::filestore::FileStoreSettings;

// The FileStore's own settings, beside the daemon's.
struct Settings {
  std::string data_dir;
  int64_t capacity = 0;
  chainfs::Duration heartbeat_interval = chainfs::kDefaultHeartbeatInterval;
  FileStoreSettings service;
  chainfs::FileStoreClientSettings client;
  chainfs::filestore::ScrubSettings scrubber;
  chainfs::filestore::FlushSettings flush;
};

void AddFileStoreFlags(CLI::App& app, Settings& s) {
  app.add_option("--data-dir", s.data_dir, "directory holding the objects")->required();
  app.add_option("--capacity", s.capacity, "bytes of content to store at most (0 = the disk)")
      ->check(CLI::NonNegativeNumber);
  chainfs::AddDurationOption(app, "--heartbeat-interval", s.heartbeat_interval,
                             "NameServer heartbeat interval");
  app.add_option("--max-streams", s.service.max_streams,
                 "concurrent create/read/copy streams and one-call creates")
      ->check(CLI::PositiveNumber);
  chainfs::AddDurationOption(app, "--stream-timeout", s.service.stream_timeout,
                             "deadline of whole create/read streams");
  app.add_option("--max-channels", s.client.max_channels,
                 "channels to other FileStores kept open (least recently used closed first)")
      ->check(CLI::PositiveNumber);
  const std::map<std::string, chainfs::filestore::Durability> durability = {
      {"replicated", chainfs::filestore::Durability::kReplicated},
      {"sync", chainfs::filestore::Durability::kSync}};
  app.add_option("--durability", s.flush.durability,
                 "replicated: a commit is acknowledged once in the operating system and flushed "
                 "to disk within --flush-interval; sync: fsynced before it is acknowledged")
      ->transform(CLI::CheckedTransformer(durability, CLI::ignore_case));
  chainfs::AddDurationOption(app, "--flush-interval", s.flush.interval,
                             "replicated durability: how long a commit may wait for its flush "
                             "to disk");
  app.add_option("--scrub-bytes-per-second", s.scrubber.bytes_per_second,
                 "background re-verification rate; -1: a full pass per day (at least 1 MiB/s), "
                 "0: off");
}

int Run(int argc, char** argv) {
  chainfs::Daemon daemon("filestore", "chainfs FileStore: versioned, chain-replicated file storage",
                         {.listen = "0.0.0.0:0"}, /*zk_required=*/false);
  Settings s;
  AddFileStoreFlags(daemon.flags(), s);
  if (std::optional<int> code = daemon.Parse(argc, argv)) return *code;
  s.client.stream_timeout = s.service.stream_timeout;
  s.client.credentials = daemon.credentials().Channel();

  auto store = chainfs::filestore::ObjectStore::Open({.dir = s.data_dir,
                                                      .capacity = s.capacity,
                                                      .durability = s.flush.durability,
                                                      .registry = daemon.registry()});
  if (!store.ok()) {
    daemon.log().error("cannot open the data directory: {}", std::string(store.status().message()));
    return 1;
  }
  chainfs::WriteTokenChecker tokens(daemon.token_key(), chainfs::SystemClock::Get());
  chainfs::FileStoreClient client(s.client);
  // The reporter needs the advertised address, known once serving: wired in after.
  chainfs::filestore::FileStoreService service(store->get(), &client, nullptr, s.service,
                                               chainfs::SystemClock::Get(), daemon.registry());
  chainfs::filestore::Flusher flusher(store->get(), s.flush);
  service.SetFlusher(&flusher);
  if (!daemon.token_key().empty()) service.SetWriteTokens(&tokens);
  flusher.Start();
  if (absl::Status st =
          daemon.Serve({&service}, {.max_message_bytes = chainfs::kFileStoreMaxMessageBytes,
                                    .stream_window_bytes = chainfs::kFileStoreStreamWindowBytes,
                                    .max_threads = s.service.max_streams * 2 + 16});
      !st.ok()) {
    daemon.log().error("{}", std::string(st.message()));
    return 1;
  }
  daemon.log().info("FileStore {} serving on {} with data in {}", daemon.address(),
                    daemon.settings().listen, s.data_dir);

  std::unique_ptr<chainfs::zk::ZooKeeper> zk;
  std::unique_ptr<chainfs::NameServerClient> ns;
  std::unique_ptr<chainfs::filestore::Reporter> reporter;
  if (!daemon.settings().zk.empty()) {
    auto handle = daemon.OpenZooKeeper();
    if (!handle.ok()) {
      daemon.log().error("{}", std::string(handle.status().message()));
      daemon.Shutdown();
      return 1;
    }
    zk = std::move(*handle);
    chainfs::NameServerClientSettings ns_settings;
    // At most one heartbeat interval: a call stuck on a leader that just died must not
    // hold the next heartbeat (to the new leader) past the NameServer's patience.
    ns_settings.call_timeout = std::min(ns_settings.call_timeout, s.heartbeat_interval);
    ns_settings.credentials = daemon.credentials().Channel();
    ns = std::make_unique<chainfs::NameServerClient>(zk.get(), ns_settings);
    reporter = std::make_unique<chainfs::filestore::Reporter>(
        store->get(), zk.get(), ns.get(), chainfs::SystemClock::Get(),
        chainfs::filestore::ReporterSettings{.self = daemon.address(),
                                             .heartbeat_interval = s.heartbeat_interval,
                                             .metrics_address = daemon.metrics_address()});
  } else {
    daemon.log().warn("no --zk: running without ZooKeeper and NameServer");
  }
  service.SetSelf(daemon.address(), reporter.get());
  if (reporter) reporter->Start();
  chainfs::filestore::Scrubber scrubber(
      store->get(),
      [&reporter](const std::string& name, int64_t version) {
        if (reporter) reporter->ReportBadReplica(name, version);
      },
      s.scrubber);
  scrubber.Start();
  chainfs::filestore::FileStoreGauges gauges(*daemon.registry());
  if (chainfs::MetricsServer* metrics = daemon.metrics_server()) {
    metrics->OnScrape([&] { gauges.Refresh(**store, service.streams_in_use(), scrubber.stats()); });
  }

  const int code = daemon.AnnounceAndWait();
  daemon.Shutdown();
  flusher.Stop().IgnoreError();  // logged there; the next start verifies what it missed
  scrubber.Stop();
  if (reporter) reporter->Stop();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  chainfs::TuneProcess();
  return Run(argc, argv);
}
