#include "servers/filestore/filestore_metrics.h"

#include "servers/filestore/object_store.h"
#include "servers/filestore/scrubber.h"

namespace chainfs::filestore {

StoreMetrics::StoreMetrics(prometheus::Registry* r)
    : registry(RegistryOr(r, own)),
      commit_seconds(NewLatencyHistogram(
          registry, "chainfs_filestore_commit_seconds",
          "Local commit of a received object (verify, write metadata, rename; fsync in sync "
          "mode), in seconds.")),
      flush_seconds(NewLatencyHistogram(registry, "chainfs_filestore_flush_seconds",
                                        "Group flush (syncfs) of recent commits, in seconds.")),
      checksum_failures(NewCounter(registry, "chainfs_filestore_checksum_failures_total",
                                   "Replicas found corrupt (by a read or the scrubber) and "
                                   "dropped.")) {}

FileStoreGauges::FileStoreGauges(prometheus::Registry& registry)
    : bytes_used_(NewGauge(registry, "chainfs_filestore_bytes_used",
                           "Content bytes of committed objects.")),
      bytes_available_(NewGauge(registry, "chainfs_filestore_bytes_available",
                                "Bytes that may still be stored (capacity or disk).")),
      objects_(NewGauge(registry, "chainfs_filestore_objects",
                        "Latest versions held, files and directories.")),
      tombstones_(NewGauge(registry, "chainfs_filestore_tombstones", "Tombstones held.")),
      streams_(NewGauge(registry, "chainfs_filestore_stream_slots_in_use",
                        "Create/read/copy stream slots taken (of --max-streams).")),
      scrub_checked_(NewGauge(registry, "chainfs_filestore_scrub_objects_checked",
                              "Objects the scrubber re-verified since start.")),
      scrub_bad_(NewGauge(registry, "chainfs_filestore_scrub_bad_found",
                          "Corrupt objects the scrubber found since start.")),
      scrub_passes_(NewGauge(registry, "chainfs_filestore_scrub_passes",
                             "Full scrub passes completed since start.")),
      scrub_progress_(NewGauge(registry, "chainfs_filestore_scrub_pass_progress_ratio",
                               "Share of the scrub pass under way done, 0 to 1.")) {}

void FileStoreGauges::Refresh(const ObjectStore& store, int streams_in_use,
                              const ScrubStats& scrub) {
  bytes_used_.Set(static_cast<double>(store.bytes_used()));
  bytes_available_.Set(static_cast<double>(store.bytes_available()));
  const ObjectStore::Counts counts = store.CountObjects();
  objects_.Set(static_cast<double>(counts.objects));
  tombstones_.Set(static_cast<double>(counts.tombstones));
  streams_.Set(streams_in_use);
  scrub_checked_.Set(static_cast<double>(scrub.objects_checked));
  scrub_bad_.Set(static_cast<double>(scrub.bad_found));
  scrub_passes_.Set(static_cast<double>(scrub.passes));
  scrub_progress_.Set(scrub.pass_bytes_total > 0 ? static_cast<double>(scrub.pass_bytes_done) /
                                                       static_cast<double>(scrub.pass_bytes_total)
                                                 : 0);
}

}  // namespace chainfs::filestore
