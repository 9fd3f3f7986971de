#include "common/duration.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
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

}  // namespace chainfs
