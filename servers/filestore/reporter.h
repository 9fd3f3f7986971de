// Keeps the NameServer informed of what this FileStore holds, and follows ZooKeeper:
// - the ephemeral /filestores/<host:port>, recreated after session expiry;
// - /leader, watched: the whole list is registered with every new leader (and again when
//   a HeartBeat or AddFileOrTombstone reply asks for it);
// - a heartbeat with bytes used/available every heartbeat interval;
// - /minver, watched: everything below it is dropped from the store.
// Without a NameServer (or without ZooKeeper) it keeps working and retrying: new objects
// are reported later, or covered by the next registration.
#pragma once

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "common/client/nameserver_client.h"
#include "common/clock.h"
#include "common/zk/zookeeper.h"
#include "proto/chainfs.pb.h"
#include "servers/filestore/object_store.h"

namespace chainfs::filestore {

struct ReporterSettings {
  std::string self;  // advertised host:port
  Duration heartbeat_interval = std::chrono::seconds(15);
};

class Reporter {
 public:
  // zk and ns may be null (no ZooKeeper / no NameServer configured). None is owned.
  Reporter(ObjectStore* store, zk::ZooKeeper* zk, NameServerClient* ns, const Clock* clock,
           ReporterSettings settings);
  ~Reporter();

  void Start();
  void Stop();

  // A new object or tombstone: reported now when a NameServer is known to listen,
  // otherwise later in the background.
  void Report(const v1::FileInfo& file);
  void ReportLater(const v1::FileInfo& file);
  // A replica found corrupt (and already dropped from the store).
  void ReportBadReplica(const std::string& name, int64_t version);

  // One round of the background loop; public for tests.
  void RunOnce();

 private:
  void Loop();
  void SyncZooKeeper();
  void Register();
  void HeartBeat();
  void FlushPending();

  ObjectStore* store_;
  zk::ZooKeeper* zk_;
  NameServerClient* ns_;
  const Clock* clock_;
  ReporterSettings settings_;
  Ticker ticker_;
  std::thread thread_;

  std::atomic<bool> need_ephemeral_{true};
  std::atomic<bool> need_leader_read_{true};
  std::atomic<bool> need_minver_read_{true};
  std::atomic<bool> need_register_{true};
  std::atomic<bool> registered_{false};
  std::string leader_;  // /leader content last seen (loop thread only)
  TimePoint last_heartbeat_{};

  std::mutex mu_;
  std::deque<v1::FileInfo> pending_;
};

}  // namespace chainfs::filestore
