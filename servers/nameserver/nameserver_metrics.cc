#include "servers/nameserver/nameserver_metrics.h"

#include "servers/nameserver/nameserver.h"

namespace chainfs::nameserver {

namespace {

prometheus::Counter& Outcome(prometheus::Family<prometheus::Counter>& family,
                             const std::string& outcome) {
  return family.Add({{"outcome", outcome}});
}

}  // namespace

NameServerMetrics::NameServerMetrics(prometheus::Registry* r)
    : registry(RegistryOr(r, own)),
      elections(NewCounter(registry, "chainfs_nameserver_elections_total",
                           "Times this NameServer became the leader.")),
      filestore_drops(NewCounter(registry, "chainfs_nameserver_filestore_drops_total",
                                 "FileStores dropped for missing two heartbeats.")),
      copies_made(Outcome(CounterFamily(registry, "chainfs_nameserver_replication_copies_total",
                                        "Replication copies (and re-written tombstones), by "
                                        "outcome."),
                          "ok")),
      copies_failed(Outcome(
          CounterFamily(registry, "chainfs_nameserver_replication_copies_total", ""), "failed")),
      gc_completed(Outcome(CounterFamily(registry, "chainfs_nameserver_gc_rounds_total",
                                         "GC rounds run, by outcome (completed: /minver moved; "
                                         "stopped: stopped short, retried later)."),
                           "completed")),
      gc_stopped(
          Outcome(CounterFamily(registry, "chainfs_nameserver_gc_rounds_total", ""), "stopped")),
      gc_last_ok(NewGauge(registry, "chainfs_nameserver_gc_last_round_ok",
                          "1 when the last GC round completed, 0 when it stopped short.")),
      leader(NewGauge(registry, "chainfs_nameserver_leader", "1 on the leader, 0 on a standby.")),
      serving(NewGauge(registry, "chainfs_nameserver_serving",
                       "1 once the leader's start-up wait is over.")),
      names(NewGauge(registry, "chainfs_nameserver_names",
                     "Names known (latest versions, tombstones included).")),
      tombstones(NewGauge(registry, "chainfs_nameserver_tombstones",
                          "Names whose latest version is a tombstone.")),
      stale_copies(NewGauge(registry, "chainfs_nameserver_stale_copies",
                            "Older copies FileStores still hold (dropped by the next GC).")),
      next_version(NewGauge(registry, "chainfs_nameserver_next_version",
                            "The next version the leader hands out.")),
      max_version(NewGauge(registry, "chainfs_nameserver_max_version",
                           "/maxver: the highest version the leader may hand out.")),
      min_version(NewGauge(registry, "chainfs_nameserver_min_version",
                           "/minver: the lowest version of any live file or tombstone.")),
      live_filestores(NewGauge(registry, "chainfs_nameserver_live_filestores",
                               "FileStores registered and heartbeating.")),
      dropped_filestores(NewGauge(registry, "chainfs_nameserver_dropped_filestores",
                                  "FileStores dropped recently that have not registered "
                                  "again.")),
      under_replicated(NewGauge(registry, "chainfs_nameserver_under_replicated_names",
                                "Names with fewer live copies than the replication factor.")),
      replication_queue(NewGauge(registry, "chainfs_nameserver_replication_queue",
                                 "Copies planned by the replication pass under way and not "
                                 "yet done.")),
      bytes_used(NewGauge(registry, "chainfs_nameserver_filestore_bytes_used",
                          "Bytes used over the live FileStores, as they report them.")),
      bytes_available(NewGauge(registry, "chainfs_nameserver_filestore_bytes_available",
                               "Bytes available over the live FileStores.")) {}

void NameServerMetrics::GcRound(const absl::StatusOr<int64_t>& outcome) {
  if (outcome.ok() && *outcome == 0) return;  // no round was due
  (outcome.ok() ? gc_completed : gc_stopped).Increment();
  gc_last_ok.Set(outcome.ok() ? 1 : 0);
}

void NameServer::RefreshMetrics() {
  NameServerMetrics& m = metrics_;
  m.leader.Set(election_.is_leader() ? 1 : 0);
  m.serving.Set(serving() ? 1 : 0);
  const size_t names = ns_.names();
  m.names.Set(static_cast<double>(names));
  m.tombstones.Set(static_cast<double>(names - std::min(names, ns_.live_names())));
  m.stale_copies.Set(static_cast<double>(ns_.stale_copies()));
  m.next_version.Set(static_cast<double>(allocator_.next()));
  m.max_version.Set(static_cast<double>(allocator_.limit()));
  m.min_version.Set(static_cast<double>(gc_.min_version()));
  double used = 0, available = 0;
  const std::vector<FileStoreInfo> live = ns_.FileStores();
  for (const FileStoreInfo& fs : live) {
    used += static_cast<double>(std::max<int64_t>(fs.bytes_used, 0));
    available += static_cast<double>(std::max<int64_t>(fs.bytes_available, 0));
  }
  m.live_filestores.Set(static_cast<double>(live.size()));
  m.bytes_used.Set(used);
  m.bytes_available.Set(available);
  m.dropped_filestores.Set(static_cast<double>(
      ns_.RecentlyDropped(clock_->Now() - settings_.dropped_filestore_memory).size()));
  m.under_replicated.Set(
      static_cast<double>(ns_.CountUnderReplicated(static_cast<size_t>(settings_.replication))));
  m.replication_queue.Set(static_cast<double>(replicator_.queued()));
}

}  // namespace chainfs::nameserver
