// The defaults that more than one part of chainfs shares, each defined here once: a daemon's
// settings struct, its flags and the clients that must agree with it all refer to these.
// Defaults that only one part uses stay in that part's settings struct.
#pragma once

#include <chrono>

#include "common/clock.h"

namespace chainfs {

// The FileStores' heartbeat to the NameServer (spec: 15 s); two missed drop a FileStore.
// The NameServer, the FileStore and `chainfs status` must use the same value.
inline constexpr Duration kDefaultHeartbeatInterval = std::chrono::seconds(15);

// The deadline of a whole Create/Read/Copy stream, downstream included. The NameServer
// counts a create as in flight for as long (its --create-timeout).
inline constexpr Duration kDefaultStreamTimeout = std::chrono::minutes(30);

// The ZooKeeper session of the FileStore, the mount and the CLI. The NameServer's own is
// shorter (servers/nameserver/settings.h): it bounds failover.
inline constexpr Duration kDefaultSessionTimeout = std::chrono::seconds(10);
// How long the mount and the CLI wait for ZooKeeper to answer before giving up.
inline constexpr Duration kDefaultConnectTimeout = std::chrono::seconds(10);

// After SIGTERM/SIGINT a daemon stops taking calls and gives the ones in flight this long.
inline constexpr Duration kDefaultShutdownGrace = std::chrono::seconds(5);

// gRPC message limits, the same on both ends of each service. NameServer calls carry whole
// directory listings and registrations; FileStore calls carry chunks of at most 1 MiB
// (kMaxChunkBytes) and their envelope, so anything bigger is refused.
inline constexpr int kNameServerMaxMessageBytes = 64 << 20;
inline constexpr int kFileStoreMaxMessageBytes = 4 << 20;
// The HTTP/2 receive window of FileStore streams: several chunks in flight keep chain
// uploads and reads streaming without stalls.
inline constexpr int kFileStoreStreamWindowBytes = 8 << 20;

}  // namespace chainfs
