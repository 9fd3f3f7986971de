// Network addresses as the daemons take them: ZooKeeper connect strings
// ("host:port,host:port/chroot"), listen addresses ("[::]:7000", "0.0.0.0:0", "host:port")
// and the one rule for the address a daemon advertises (registers in ZooKeeper).
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace chainfs {

struct ZkAddress {
  std::string hosts;   // "host:port,host:port" as zookeeper_init wants it
  std::string chroot;  // "/chainfs" or "" for none
  // hosts + chroot, the form zookeeper_init accepts.
  std::string ConnectString() const { return hosts + chroot; }
};
absl::StatusOr<ZkAddress> ParseZkAddress(std::string_view text);

// "host:port" or "[v6]:port" -> (host without brackets, port); INVALID_ARGUMENT otherwise.
absl::StatusOr<std::pair<std::string, int>> SplitHostPort(std::string_view address);
// (host, port) -> "host:port", with an IPv6 host in brackets ("[::1]:7000").
std::string JoinHostPort(std::string_view host, int port);

// Whether a listen host means every interface: "", "0.0.0.0", "::", "[::]".
bool IsWildcardHost(std::string_view host);

// The host:port a daemon registers and others dial: `advertise` when set (a host, brackets
// allowed), else the host of `listen`, and this machine's name (`machine`) when that is a
// wildcard; with `port`, the port the server actually bound.
std::string AdvertisedAddress(std::string_view advertise, std::string_view listen_host, int port,
                              std::string_view machine);

// This machine's host name, for /leader's second line and wildcard listen addresses.
std::string HostName();

}  // namespace chainfs
