#include "servers/nameserver/glob.h"

#include <algorithm>

namespace chainfs::nameserver {

namespace {

// Matches one character against the class starting at pattern[p] == '['. Sets `end` to the
// index after the closing ']'. Returns false with end = 0 when the class is unterminated
// (the '[' is then an ordinary character).
bool MatchClass(std::string_view pattern, size_t p, char c, size_t& end) {
  size_t i = p + 1;
  bool negate = i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^');
  if (negate) ++i;
  bool matched = false;
  bool first = true;
  while (i < pattern.size() && (first || pattern[i] != ']')) {
    first = false;
    char lo = pattern[i];
    char hi = lo;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      hi = pattern[i + 2];
      i += 3;
    } else {
      i += 1;
    }
    auto uc = static_cast<unsigned char>(c);
    if (static_cast<unsigned char>(lo) <= uc && uc <= static_cast<unsigned char>(hi)) {
      matched = true;
    }
  }
  if (i >= pattern.size()) {
    end = 0;
    return false;
  }
  end = i + 1;
  return c != '/' && matched != negate;
}

// One '/'-free segment: classic matching with a single backtrack point for the last '*'.
bool MatchSegment(std::string_view pattern, std::string_view name) {
  size_t p = 0, n = 0;
  size_t star_p = std::string_view::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size()) {
      char pc = pattern[p];
      if (pc == '*') {
        star_p = p++;
        star_n = n;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++n;
        continue;
      }
      if (pc == '[') {
        size_t end = 0;
        bool ok = MatchClass(pattern, p, name[n], end);
        if (end != 0) {
          if (ok) {
            p = end;
            ++n;
            continue;
          }
        } else if (name[n] == '[') {
          ++p;
          ++n;
          continue;
        }
      } else if (pc == name[n]) {
        ++p;
        ++n;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p + 1;
    n = ++star_n;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view name) {
  // Wildcards never match '/', so both sides split into the same number of segments.
  while (true) {
    size_t ps = pattern.find('/');
    size_t ns = name.find('/');
    if ((ps == std::string_view::npos) != (ns == std::string_view::npos)) return false;
    if (!MatchSegment(pattern.substr(0, ps), name.substr(0, ns))) return false;
    if (ps == std::string_view::npos) return true;
    pattern.remove_prefix(ps + 1);
    name.remove_prefix(ns + 1);
  }
}

std::string_view GlobLiteralPrefix(std::string_view pattern) {
  return pattern.substr(0, std::min(pattern.size(), pattern.find_first_of("*?[")));
}

}  // namespace chainfs::nameserver
