// chainfs-nameserver: parses settings, wires the NameServer to ZooKeeper, the FileStore
// client and a gRPC server, and runs until SIGTERM/SIGINT.
#include <CLI/CLI.hpp>
#include <string>

#include "common/client/filestore_api.h"
#include "common/client/filestore_client.h"
#include "common/daemon.h"
#include "common/metrics/metrics_server.h"
#include "common/process.h"
#include "common/settings.h"
#include "common/write_token.h"
#include "servers/nameserver/nameserver.h"
#include "servers/nameserver/service.h"
#include "servers/nameserver/status_page.h"

namespace {

using chainfs::AddDurationOption;
using chainfs::nameserver::NameServerSettings;

// The NameServer's own flags; each defaults to the settings struct's value. Returns the
// --election-retry option, whose default follows --session-timeout.
CLI::Option* AddNameServerFlags(CLI::App& app, NameServerSettings& s) {
  AddDurationOption(app, "--heartbeat-interval", s.heartbeat_interval,
                    "FileStores' heartbeat interval (two missed = dropped)");
  AddDurationOption(app, "--housekeeping-min-interval", s.housekeeping_min_interval,
                    "silent FileStores are checked every quarter heartbeat, at most this often");
  AddDurationOption(app, "--housekeeping-max-interval", s.housekeeping_max_interval,
                    "silent FileStores are checked at least this often");
  AddDurationOption(app, "--startup-wait", s.startup_wait, "wait for FileStores before serving");
  AddDurationOption(app, "--replication-deadline", s.replication_deadline,
                    "full replication within this time of becoming leader");
  AddDurationOption(app, "--replication-interval", s.replication_interval,
                    "how often replication is checked");
  app.add_option("--max-replication-tasks-per-pass", s.max_replication_tasks_per_pass,
                 "under-replicated names planned per replication pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  AddDurationOption(app, "--gc-interval", s.gc_interval, "how often GC may run");
  AddDurationOption(app, "--dir-times-interval", s.dir_times_interval,
                    "how often at most a directory's changed times are written to the FileStores");
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
  AddDurationOption(app, "--orphan-inode-grace", s.orphan_inode_grace,
                    "a hard-linked file's inode that no link names is deleted after this long");
  app.add_option("--max-concurrent-copies", s.max_concurrent_copies, "replication concurrency")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  return AddDurationOption(app, "--election-retry", s.election_retry, "")
      ->description(
          "how often the campaign re-checks /leader (default: a third of "
          "--session-timeout)");
}

int Run(int argc, char** argv) {
  chainfs::Daemon daemon(
      "nameserver", "chainfs NameServer",
      {.session_timeout = chainfs::nameserver::kSessionTimeout, .listen = "0.0.0.0:7000"},
      /*zk_required=*/true);
  NameServerSettings s;
  CLI::Option* election_retry = AddNameServerFlags(daemon.flags(), s);
  chainfs::Duration token_lifetime = chainfs::kDefaultWriteTokenLifetime;
  AddDurationOption(daemon.flags(), "--token-lifetime", token_lifetime,
                    "how long a write token is good for after doCreate");
  if (std::optional<int> code = daemon.Parse(argc, argv)) return *code;
  if (election_retry->count() == 0) {
    s.election_retry = chainfs::nameserver::ElectionRetryFor(daemon.settings().session_timeout);
  }

  // The campaign starts once the session is up (the wrapper logs when it is).
  auto zk = daemon.OpenZooKeeper();
  if (!zk.ok()) {
    daemon.log().error("{}", std::string(zk.status().message()));
    return 1;
  }
  chainfs::nameserver::NameServerService service;
  if (absl::Status st =
          daemon.Serve({&service}, {.max_message_bytes = chainfs::kNameServerMaxMessageBytes});
      !st.ok()) {
    daemon.log().error("{}", std::string(st.message()));
    return 1;
  }
  chainfs::FileStoreClient filestores({.credentials = daemon.credentials().Channel()});
  chainfs::nameserver::NameServer core(s, chainfs::SystemClock::Get(), zk->get(), &filestores,
                                       daemon.address(), chainfs::HostName(), daemon.registry());
  std::optional<chainfs::WriteTokenSigner> signer;
  if (!daemon.token_key().empty()) {
    core.SetWriteTokens(
        &signer.emplace(daemon.token_key(), token_lifetime, chainfs::SystemClock::Get()));
  }
  service.Attach(&core);
  chainfs::MetricsServer* metrics = daemon.metrics_server();
  chainfs::nameserver::LeaderPage leader_page(std::chrono::seconds(1));
  if (metrics != nullptr) {
    core.SetMetricsAddress(daemon.metrics_address());
    metrics->OnScrape([&core] { core.RefreshMetrics(); });
    // The status page (servers/nameserver/status_page.h) beside /metrics.
    metrics->Handle("/", [] {
      return chainfs::HttpReply{.content_type = "text/html; charset=utf-8",
                                .body = std::string(chainfs::nameserver::StatusPageHtml())};
    });
    metrics->Handle("/status.json", [&core, &leader_page] {
      return chainfs::HttpReply{
          .content_type = "application/json",
          .body = chainfs::nameserver::StatusJson(chainfs::nameserver::CollectStatus(
              core, chainfs::SystemClock::Get()->WallNanos(), &leader_page))};
    });
  }
  core.Start();
  daemon.log().info("NameServer listening on {} (advertised {}); campaigning for leadership",
                    daemon.settings().listen, daemon.address());
  const int code = daemon.AnnounceAndWait();
  if (metrics != nullptr) metrics->Stop();  // its page handlers use `core`
  core.Stop();
  service.Attach(nullptr);
  daemon.Shutdown();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  chainfs::TuneProcess();
  return Run(argc, argv);
}
