// Logging through spdlog, one named logger per component ("filestore", "nameserver",
// "mount", "zk", "client"). Info is for events an operator acts on; debug for the rest.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace chainfs {

// The logger for a component, created on first use, writing to stderr.
std::shared_ptr<spdlog::logger> Logger(const std::string& component);
// Sets the level of every logger ("trace", "debug", "info", "warn", "error").
void SetLogLevel(const std::string& level);

}  // namespace chainfs
