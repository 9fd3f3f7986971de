// Every timing and limit of the NameServer, with the spec's defaults. main.cc fills it
// from the command line; tests use short timings.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "common/clock.h"
#include "common/defaults.h"

namespace chainfs::nameserver {

// The NameServer's ZooKeeper session: 4 s (HDFS's failover controller uses 5 s). A dead
// leader's session, and so its /leader, goes 4-6 s after its last ping (ZooKeeper expires
// sessions on its 2 s tick), which keeps failover under 6 s median. ZooKeeper's default
// configuration allows 4 s to 40 s.
inline constexpr Duration kSessionTimeout = std::chrono::seconds(4);
// The campaign re-checks /leader three times per session timeout, so a leader whose
// session went is replaced well within one more session timeout.
constexpr Duration ElectionRetryFor(Duration session_timeout) { return session_timeout / 3; }

// The directory-times loop never runs more often than this (--dir-times-interval 0 writes
// a directory's times on the next pass).
inline constexpr Duration kMinDirTimesTick = std::chrono::milliseconds(10);

struct NameServerSettings {
  // The FileStores' heartbeat interval; two missed heartbeats drop a FileStore.
  Duration heartbeat_interval = kDefaultHeartbeatInterval;
  // Housekeeping (dropping FileStores whose heartbeats stopped) runs every quarter
  // heartbeat interval, but not more often or more rarely than these.
  Duration housekeeping_min_interval = std::chrono::milliseconds(10);
  Duration housekeeping_max_interval = std::chrono::seconds(1);
  // After winning the election: wait this long, or until every FileStore listed under
  // /filestores has registered, before serving clients.
  Duration startup_wait = std::chrono::seconds(30);
  // Everything fully replicated within this time of becoming leader.
  Duration replication_deadline = std::chrono::seconds(60);
  Duration replication_interval = std::chrono::seconds(5);
  Duration gc_interval = std::chrono::seconds(60);
  int64_t gc_min_new_versions = 10;
  Duration gc_version_age = std::chrono::seconds(120);
  int64_t maxver_step = 10;
  int replication = 3;
  int max_concurrent_copies = 8;
  // At most this many under-replicated names are planned in one replication pass; the
  // rest wait for the next pass (bounds the memory and the time of a pass).
  size_t max_replication_tasks_per_pass = 100'000;
  // A version handed out by doCreate is not copied by replication for this long: its chain
  // is committing it right then, and a copy racing the chain would make a member refuse
  // its own create as "version too old".
  Duration create_grace = std::chrono::seconds(10);
  // A create doCreate handed out counts as in flight until a FileStore reports its version
  // or this long has passed (the FileStores' stream timeout): GC picks its version below
  // every create in flight, so a slow upload is never purged under /minver.
  Duration create_timeout = kDefaultStreamTimeout;
  // GC waits until every FileStore dropped less than this long ago has registered again:
  // what it would purge cannot come back.
  Duration dropped_filestore_memory = std::chrono::minutes(10);
  // A hidden inode name (a hard-linked file) that no link entry names is tombstoned once it
  // has been so for this long: a link interrupted by a crash leaves one behind.
  Duration orphan_inode_grace = std::chrono::minutes(10);
  // How often the campaign re-checks /leader when no watch fired.
  Duration election_retry = ElectionRetryFor(kSessionTimeout);
  // Directory times (mtime, ctime of a directory whose entries changed) move in the soft
  // state at once and are written to the FileStores at most this often per directory; a
  // NameServer crash loses at most this much of them (DirTimes).
  Duration dir_times_interval = std::chrono::seconds(1);
};

}  // namespace chainfs::nameserver
