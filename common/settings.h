// Helpers shared by every daemon's settings struct: durations written as "15s", "500ms",
// "2m" on the command line, and ZooKeeper connect strings "host:port,host:port/chroot".
// Each daemon keeps its own typed settings struct with the spec's defaults.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"

namespace chainfs {

// "250ms", "15s", "2m", "1h", "100us"; a bare number is seconds.
absl::StatusOr<Duration> ParseDuration(std::string_view text);
std::string FormatDuration(Duration d);

// Adds a duration option to a CLI11 app, validated by ParseDuration.
CLI::Option* AddDurationOption(CLI::App& app, const std::string& name, Duration& value,
                               const std::string& description);

struct ZkAddress {
  std::string hosts;   // "host:port,host:port" as zookeeper_init wants it
  std::string chroot;  // "/chainfs" or "" for none
  // hosts + chroot, the form zookeeper_init accepts.
  std::string ConnectString() const { return hosts + chroot; }
};
absl::StatusOr<ZkAddress> ParseZkAddress(std::string_view text);

// "host:port" -> ("host", port); INVALID_ARGUMENT otherwise.
absl::StatusOr<std::pair<std::string, int>> SplitHostPort(std::string_view address);

// This machine's host name, for /leader's second line.
std::string HostName();

}  // namespace chainfs
