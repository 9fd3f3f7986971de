// Names of files in the chainfs namespace: validated once at the edge of every daemon,
// never joined into a local path. A valid name is absolute ("/a/b"), at most
// kMaxNameBytes long, with components of 1..kMaxComponentBytes bytes that are not "."
// or "..", no NUL, and valid UTF-8 (names travel as proto3 strings). "/" itself is the root
// directory.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace chainfs {

// The longest name. PATH_MAX (4096) bounds what one system call passes, not how deep a tree
// is (mkdirat/openat/chdir go deeper), so a mount's paths, its directory prefix included,
// need more. 32 KiB is 8 times PATH_MAX (at least 128 levels of 255-byte components) and
// keeps every cost of a name bounded:
// - NameServer memory: the namespace keys every entry by its whole name, so a chain of
//   short components costs the sum of its prefixes (at most 256 MiB for the deepest
//   possible chain of 1-byte directories, against 4 MiB at 4096);
// - gRPC messages: registrations and report batches carry up to 1000 names (32 MiB, half
//   the NameServer's 64 MiB limit); calls with more names per message cut their batches
//   at kNameBatchBytes (below the FileStores' 4 MiB limit);
// - status messages never echo a whole name (BoundedMessage cuts them at 1 KiB).
inline constexpr size_t kMaxNameBytes = 32 << 10;
// One component, as every Linux filesystem (ENAMETOOLONG beyond).
inline constexpr size_t kMaxComponentBytes = 255;
// A symlink's target: PATH_MAX less its NUL, as Linux (the kernel passes no longer one).
inline constexpr size_t kMaxSymlinkTargetBytes = 4095;
// Calls that carry many names in one message (GC's BumpVersion, fsck's Verify) end a batch
// once it holds this many bytes of names, whatever their count limit.
inline constexpr size_t kNameBatchBytes = 1 << 20;

// The end of the batch of items [start, count): at most `max_items` items and, beyond the
// first, no more than kNameBatchBytes of names; `name_bytes(i)` is the size of item i's name.
template <typename NameBytes>
size_t NameBatchEnd(size_t start, size_t count, size_t max_items, const NameBytes& name_bytes) {
  size_t end = start;
  size_t bytes = 0;
  while (end < count && end - start < max_items) {
    bytes += name_bytes(end);
    if (end > start && bytes > kNameBatchBytes) break;
    ++end;
  }
  return end;
}

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
