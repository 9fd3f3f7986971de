// Durations as operators write them in flags and config files: "250ms", "15s", "2m".
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/clock.h"

namespace chainfs {

// "250ms", "15s", "2m", "1h", "100us", "5ns"; a bare number is seconds.
absl::StatusOr<Duration> ParseDuration(std::string_view text);
// The shortest exact form: "15s", "250ms", else nanoseconds.
std::string FormatDuration(Duration d);

}  // namespace chainfs
