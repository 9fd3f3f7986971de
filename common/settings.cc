#include "common/settings.h"

#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <string>

namespace chainfs {

absl::StatusOr<Duration> ParseDuration(std::string_view text) {
  size_t unit_at = 0;
  while (unit_at < text.size() &&
         (isdigit(static_cast<unsigned char>(text[unit_at])) || text[unit_at] == '.')) {
    ++unit_at;
  }
  double number = 0;
  std::string digits(text.substr(0, unit_at));
  char* end = nullptr;
  if (unit_at > 0) number = std::strtod(digits.c_str(), &end);
  if (unit_at == 0 || end != digits.c_str() + digits.size()) {
    return absl::InvalidArgumentError(fmt::format("bad duration '{}'", text));
  }
  std::string_view unit = text.substr(unit_at);
  double scale;
  if (unit.empty() || unit == "s") {
    scale = 1e9;
  } else if (unit == "ms") {
    scale = 1e6;
  } else if (unit == "us") {
    scale = 1e3;
  } else if (unit == "ns") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60e9;
  } else if (unit == "h") {
    scale = 3600e9;
  } else {
    return absl::InvalidArgumentError(fmt::format("bad duration unit in '{}'", text));
  }
  return Duration(static_cast<int64_t>(number * scale));
}

std::string FormatDuration(Duration d) {
  int64_t ns = d.count();
  if (ns % 1'000'000'000 == 0) return fmt::format("{}s", ns / 1'000'000'000);
  if (ns % 1'000'000 == 0) return fmt::format("{}ms", ns / 1'000'000);
  return fmt::format("{}ns", ns);
}

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

absl::StatusOr<ZkAddress> ParseZkAddress(std::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("ZooKeeper address is empty");
  ZkAddress out;
  size_t slash = text.find('/');
  out.hosts = std::string(text.substr(0, slash));
  if (slash != std::string_view::npos) {
    out.chroot = std::string(text.substr(slash));
    if (out.chroot == "/") out.chroot.clear();
    if (!out.chroot.empty() && out.chroot.back() == '/') {
      return absl::InvalidArgumentError("ZooKeeper chroot must not end with '/'");
    }
  }
  std::string_view rest = out.hosts;
  while (true) {
    size_t comma = rest.find(',');
    if (auto hp = SplitHostPort(rest.substr(0, comma)); !hp.ok()) return hp.status();
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

absl::StatusOr<std::pair<std::string, int>> SplitHostPort(std::string_view address) {
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(fmt::format("'{}' is not host:port", address));
  }
  int port = 0;
  std::string_view port_text = address.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(fmt::format("'{}' has a bad port", address));
  }
  std::string host(address.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(host, port);
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

}  // namespace chainfs
