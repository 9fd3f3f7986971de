// The FileStore's Prometheus metrics (chainfs_filestore_*): what the ObjectStore measures as
// it works (StoreMetrics: commit and flush latency, checksum failures) and the state read on
// each scrape (FileStoreGauges: space, objects, tombstones, stream slots, scrub progress).
// Chain-forwarding errors are counted by the FileStoreService.
#pragma once

#include <memory>

#include "common/metrics/metrics.h"

namespace chainfs::filestore {

class ObjectStore;
struct ScrubStats;

struct StoreMetrics {
  // Registers in `registry`, or in a registry of its own when null (unit tests).
  explicit StoreMetrics(prometheus::Registry* registry);

  std::unique_ptr<prometheus::Registry> own;
  prometheus::Registry& registry;
  prometheus::Histogram& commit_seconds;
  prometheus::Histogram& flush_seconds;
  prometheus::Counter& checksum_failures;
};

class FileStoreGauges {
 public:
  explicit FileStoreGauges(prometheus::Registry& registry);
  void Refresh(const ObjectStore& store, int streams_in_use, const ScrubStats& scrub);

 private:
  prometheus::Gauge& bytes_used_;
  prometheus::Gauge& bytes_available_;
  prometheus::Gauge& objects_;
  prometheus::Gauge& tombstones_;
  prometheus::Gauge& streams_;
  prometheus::Gauge& scrub_checked_;
  prometheus::Gauge& scrub_bad_;
  prometheus::Gauge& scrub_passes_;
  prometheus::Gauge& scrub_progress_;
};

}  // namespace chainfs::filestore
