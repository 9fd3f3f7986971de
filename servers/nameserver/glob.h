// Shell-style globs over chainfs names: '*' (any run of characters), '?' (one character),
// '[abc]', '[a-z]', '[!...]' (one character in / not in the set). None of them ever
// matches '/', so "/a/*" lists only the direct children of "/a". No regular expressions.
#pragma once

#include <string_view>

namespace chainfs::nameserver {

bool GlobMatch(std::string_view pattern, std::string_view name);

// The part of the pattern before its first wildcard: every match starts with it, so a
// listing is a range scan of the names with this prefix.
std::string_view GlobLiteralPrefix(std::string_view pattern);

}  // namespace chainfs::nameserver
