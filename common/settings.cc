#include "common/settings.h"

#include <fmt/format.h>

#include <string>

namespace chainfs {

CLI::Option* AddDurationOption(CLI::App& app, const std::string& name, Duration& value,
                               const std::string& description) {
  auto* opt = app.add_option_function<std::string>(
      name,
      [&value](const std::string& text) {
        auto d = ParseDuration(text);
        if (!d.ok()) throw CLI::ValidationError(std::string(d.status().message()));
        value = *d;
      },
      fmt::format("{} (default {})", description, FormatDuration(value)));
  return opt;
}

CLI::Option* AddZooKeeperFlags(CLI::App& app, std::string& zk, Duration& session_timeout) {
  CLI::Option* opt = app.add_option("--zk", zk, "ZooKeeper HOST:PORT[,HOST:PORT...]/CHROOT");
  AddDurationOption(app, "--session-timeout", session_timeout, "ZooKeeper session timeout");
  return opt;
}

void AddLogLevelFlag(CLI::App& app, std::string& level) {
  app.add_option("--log-level", level, "trace, debug, info, warn, error, off")
      ->capture_default_str()
      ->check(
          CLI::IsMember({"trace", "debug", "info", "warn", "warning", "error", "critical", "off"}));
}

std::optional<int> ParseFlags(CLI::App& app, int argc, const char* const* argv) {
  app.set_config("--config", "",
                 "TOML file of settings (keys are the long flag names); flags override it");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 answers 0 for --help, 106 and up for errors; the daemons' usage code is 2.
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return std::nullopt;
}

}  // namespace chainfs
