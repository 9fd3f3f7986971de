// Names of files in the chainfs namespace: validated once at the edge of every daemon,
// never joined into a local path. A valid name is absolute ("/a/b"), at most
// kMaxNameBytes long, with components of 1..kMaxComponentBytes bytes that are not "."
// or "..", no NUL, and valid UTF-8 (names travel as proto3 strings). "/" itself is the root
// directory.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace chainfs {

inline constexpr size_t kMaxNameBytes = 4096;
inline constexpr size_t kMaxComponentBytes = 255;

// OK or INVALID_ARGUMENT saying what is wrong. The root "/" is valid only when allow_root.
absl::Status ValidateName(std::string_view name, bool allow_root = false);

// "/a/b" -> "/a"; "/a" -> "/"; "/" -> "/".
std::string_view ParentOf(std::string_view name);
// "/a/b" -> "b"; "/" -> "".
std::string_view BaseName(std::string_view name);
// ("/a", "b") -> "/a/b"; ("/", "b") -> "/b".
std::string JoinName(std::string_view dir, std::string_view child);
// True when `name` is strictly beneath directory `dir` ("/a/b" is under "/a" and "/").
bool IsUnder(std::string_view name, std::string_view dir);

}  // namespace chainfs
