#include "common/names.h"

#include <fmt/format.h>

#include "common/status.h"

namespace chainfs {

namespace {

// Names travel as proto3 strings, which must be UTF-8: refuse anything else at the edge.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace

absl::Status ValidateName(std::string_view name, bool allow_root) {
  if (name.empty()) return absl::InvalidArgumentError("name is empty");
  if (name.size() > kMaxNameBytes) {
    return Error(v1::ERROR_NAME_TOO_LONG,
                 fmt::format("name is {} bytes, the limit is {}", name.size(), kMaxNameBytes));
  }
  if (name.front() != '/') return absl::InvalidArgumentError("name is not absolute");
  if (name == "/") {
    return allow_root ? absl::OkStatus() : absl::InvalidArgumentError("name is the root");
  }
  if (name.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("name contains a NUL byte");
  }
  if (!IsValidUtf8(name)) return absl::InvalidArgumentError("name is not valid UTF-8");
  size_t start = 1;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view component = name.substr(start, end - start);
    if (component.empty()) return absl::InvalidArgumentError("name has an empty component");
    if (component == "." || component == "..") {
      return absl::InvalidArgumentError("name has a '.' or '..' component");
    }
    if (component.size() > kMaxComponentBytes) {
      return Error(v1::ERROR_NAME_TOO_LONG,
                   fmt::format("name component is {} bytes, the limit is {}", component.size(),
                               kMaxComponentBytes));
    }
    start = end + 1;
  }
  return absl::OkStatus();
}

std::string_view ParentOf(std::string_view name) {
  size_t slash = name.rfind('/');
  if (slash == 0 || slash == std::string_view::npos) return "/";
  return name.substr(0, slash);
}

std::string_view BaseName(std::string_view name) {
  size_t slash = name.rfind('/');
  if (slash == std::string_view::npos) return name;
  return name.substr(slash + 1);
}

std::string JoinName(std::string_view dir, std::string_view child) {
  std::string out(dir == "/" ? "" : dir);
  out += '/';
  out += child;
  return out;
}

bool IsUnder(std::string_view name, std::string_view dir) {
  if (dir == "/") return name.size() > 1 && name.front() == '/';
  return name.size() > dir.size() + 1 && name.substr(0, dir.size()) == dir &&
         name[dir.size()] == '/';
}

}  // namespace chainfs
