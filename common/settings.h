// Flags and config files, shared by every binary. Each binary keeps its own typed settings
// struct with its defaults (shared ones in common/defaults.h) and binds the fields to
// command-line flags here. `--config FILE` reads a TOML file whose keys are the long flag
// names ("heartbeat-interval = \"15s\""); a flag given on the command line overrides it.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "common/address.h"
#include "common/clock.h"
#include "common/duration.h"

namespace chainfs {

// Adds a duration option to a CLI11 app, validated by ParseDuration.
CLI::Option* AddDurationOption(CLI::App& app, const std::string& name, Duration& value,
                               const std::string& description);

// --zk HOST:PORT[,...]/CHROOT and --session-timeout. Returns the --zk option (to mark it
// required or to check whether it was given).
CLI::Option* AddZooKeeperFlags(CLI::App& app, std::string& zk, Duration& session_timeout);
// --log-level trace|debug|info|warn|error.
void AddLogLevelFlag(CLI::App& app, std::string& level);

// Adds --config, then parses the command line (and the file). nullopt: carry on; otherwise
// the exit code (0 after --help, 2 after a bad flag or file, the message printed).
std::optional<int> ParseFlags(CLI::App& app, int argc, const char* const* argv);

}  // namespace chainfs
