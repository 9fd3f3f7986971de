#include "common/address.h"

#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <string>

namespace chainfs {

namespace {

std::string_view StripBrackets(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

}  // namespace

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
  std::string_view host = address.substr(0, colon);
  // An IPv6 host needs its brackets: "::1:7000" would be ambiguous.
  if (host.find(':') != std::string_view::npos && StripBrackets(host) == host) {
    return absl::InvalidArgumentError(
        fmt::format("'{}': an IPv6 host goes in brackets ([::1]:7000)", address));
  }
  int port = 0;
  std::string_view port_text = address.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(fmt::format("'{}' has a bad port", address));
  }
  return std::make_pair(std::string(StripBrackets(host)), port);
}

std::string JoinHostPort(std::string_view host, int port) {
  host = StripBrackets(host);
  if (host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

bool IsWildcardHost(std::string_view host) {
  host = StripBrackets(host);
  return host.empty() || host == "0.0.0.0" || host == "::";
}

std::string AdvertisedAddress(std::string_view advertise, std::string_view listen_host, int port,
                              std::string_view machine) {
  std::string_view host = advertise.empty() ? listen_host : advertise;
  if (IsWildcardHost(host)) host = machine;
  return JoinHostPort(host, port);
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

}  // namespace chainfs
