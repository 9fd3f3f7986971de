// Keeps the NameServer informed of what this FileStore holds, and follows ZooKeeper:
// - the ephemeral /filestores/<host:port>, recreated after session expiry;
// - /leader, watched: the whole list is registered with every new leader (and again when
//   a HeartBeat or AddFileOrTombstone reply asks for it);
// - a heartbeat with bytes used/available every heartbeat interval, on a thread of its
//   own, so that a slow registration, flush or ZooKeeper call never delays it;
// - /minver, watched: everything below it is dropped from the store as soon as the watch
//   fires (not when the background loop next runs);
// - /maxver, watched: versions above the cluster's lease are refused (CheckLease).
// The head of a chain reports a new commit synchronously (ReportNow), once for every member
// that committed it: the client is acknowledged only once the NameServer recorded it.
// Other commits go to a queue (ReportLater) that the background loop sends in batches,
// many reports per call, after gathering them for report_delay; so does a failed ReportNow.
// Without a NameServer (ns null) reports are not needed and ReportNow answers OK; the next
// registration covers whatever the queue has not sent.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/client/nameserver_api.h"
#include "common/clock.h"
#include "common/defaults.h"
#include "common/zk/zookeeper.h"
#include "proto/chainfs.pb.h"
#include "servers/filestore/object_store.h"

namespace chainfs::filestore {

// No version above this is ever accepted, whatever /maxver says: version arithmetic
// (lease steps, GC) must never come near overflow.
inline constexpr int64_t kMaxVersion = int64_t{1} << 62;

struct ReporterSettings {
  std::string self;  // advertised host:port
  Duration heartbeat_interval = kDefaultHeartbeatInterval;
  // Reports queued while the NameServer is away; beyond this the queue is dropped and the
  // next registration reports everything at once.
  size_t max_pending_reports = 100'000;
  // Queued reports gather this long before a call sends them (or until a batch is full).
  Duration report_delay = std::chrono::milliseconds(20);
  // At most this many reports in one call (the NameServer takes up to 10,001).
  size_t max_reports_per_call = 1'000;
  std::string metrics_address = "";  // where our /metrics are, told with each heartbeat; "" = off
};

class Reporter {
 public:
  // zk and ns may be null (no ZooKeeper / no NameServer configured). None is owned.
  Reporter(ObjectStore* store, zk::ZooKeeper* zk, NameServerApi* ns, const Clock* clock,
           ReporterSettings settings);
  ~Reporter();

  void Start();
  void Stop();

  // A new object or tombstone, committed locally and, when `also_on` names them, on those
  // other chain members too. OK only once the NameServer recorded it (its
  // AddFileOrTombstone succeeded and did not ask for a registration); otherwise it is
  // queued for later and the error says why: FAILED_PRECONDITION "version too old" when the
  // NameServer refused the version, UNAVAILABLE else. OK without a NameServer.
  absl::Status ReportNow(const v1::FileInfo& file, const std::vector<std::string>& also_on = {});
  // Reported in the background: commits of members after a chain's head (the head reports
  // them), tombstones the NameServer asked for (it recorded them), relabels of a GC round.
  void ReportLater(const v1::FileInfo& file);
  // Reports queued and not yet sent (for tests).
  size_t pending_reports() const;
  // A replica found corrupt (and already dropped from the store).
  void ReportBadReplica(const std::string& name, int64_t version);
  // OK when `version` is within the cluster's lease (/maxver). Above the cached /maxver,
  // /maxver is read again once; still above: INVALID_ARGUMENT "version above the lease".
  // Without ZooKeeper, or while no /maxver exists, only kMaxVersion limits.
  absl::Status CheckLease(int64_t version);

  // One round of the background loop; public for tests.
  void RunOnce();
  // One heartbeat, as the heartbeat thread sends it; public for tests.
  void HeartBeat();

 private:
  // Watch callbacks may fire after Stop(): they run only while the reporter is alive.
  struct Life {
    std::mutex mu;
    bool alive = true;
  };

  void Loop();
  void HeartBeatLoop();
  void SyncZooKeeper();
  // Reads /minver and applies it to the store at once; arms the watch unless one is armed.
  void ReadMinVersion(bool from_watch);
  // Reads /maxver into max_version_; arms the watch unless one is armed.
  absl::Status ReadMaxVersion(bool from_watch);
  // Runs fn while the reporter is alive (for callbacks from ZooKeeper's thread).
  zk::WatchFn Guarded(std::function<void()> fn);
  void Register();
  void FlushPending();

  ObjectStore* store_;
  zk::ZooKeeper* zk_;
  NameServerApi* ns_;
  const Clock* clock_;
  ReporterSettings settings_;
  Ticker ticker_;
  Ticker heartbeat_ticker_;
  std::thread thread_;
  std::thread heartbeat_thread_;
  std::shared_ptr<Life> life_ = std::make_shared<Life>();

  std::atomic<bool> need_ephemeral_{true};
  std::atomic<bool> need_leader_read_{true};
  std::atomic<bool> need_minver_read_{true};
  std::atomic<bool> need_maxver_read_{true};
  std::atomic<bool> need_register_{true};
  std::atomic<bool> registering_{false};
  std::atomic<bool> registered_{false};
  std::atomic<bool> leader_known_{false};
  std::atomic<int64_t> max_version_{0};  // /maxver last read; 0 = none seen
  std::atomic<bool> maxver_exists_{false};
  std::atomic<bool> minver_watched_{false};
  std::atomic<bool> maxver_watched_{false};
  std::string leader_;  // /leader content last seen (loop thread only)

  mutable std::mutex mu_;
  std::deque<v1::FileInfo> pending_;
};

}  // namespace chainfs::filestore
