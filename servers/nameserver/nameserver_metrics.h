// The NameServer's Prometheus metrics (chainfs_nameserver_*): events counted where they
// happen (elections, drops, copies, GC rounds) and state read from the NameServer on each
// scrape (NameServer::RefreshMetrics): leadership, names, versions, FileStores, replication.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "common/metrics/metrics.h"

namespace chainfs::nameserver {

struct NameServerMetrics {
  // Registers in `registry`, or in a registry of its own when null (unit tests).
  explicit NameServerMetrics(prometheus::Registry* registry);
  // Counts a GC tick's outcome: a completed round (/minver moved), a round that stopped
  // short, or nothing when no round was due.
  void GcRound(const absl::StatusOr<int64_t>& outcome);

  std::unique_ptr<prometheus::Registry> own;
  prometheus::Registry& registry;
  // Events.
  prometheus::Counter& elections;
  prometheus::Counter& filestore_drops;
  prometheus::Counter& copies_made;
  prometheus::Counter& copies_failed;
  prometheus::Counter& gc_completed;
  prometheus::Counter& gc_stopped;
  prometheus::Gauge& gc_last_ok;
  // State, refreshed on scrape.
  prometheus::Gauge& leader;
  prometheus::Gauge& serving;
  prometheus::Gauge& names;
  prometheus::Gauge& tombstones;
  prometheus::Gauge& stale_copies;
  prometheus::Gauge& next_version;
  prometheus::Gauge& max_version;
  prometheus::Gauge& min_version;
  prometheus::Gauge& live_filestores;
  prometheus::Gauge& dropped_filestores;
  prometheus::Gauge& under_replicated;
  prometheus::Gauge& replication_queue;
  prometheus::Gauge& bytes_used;
  prometheus::Gauge& bytes_available;
};

}  // namespace chainfs::nameserver
