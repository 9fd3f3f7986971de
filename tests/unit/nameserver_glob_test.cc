#include <gtest/gtest.h>

#include "servers/nameserver/glob.h"

namespace chainfs::nameserver {
namespace {

TEST(GlobMatch, StarMatchesWithinOneComponent) {
  EXPECT_TRUE(GlobMatch("/a/*", "/a/b"));
  EXPECT_TRUE(GlobMatch("/a/*", "/a/"));
  EXPECT_FALSE(GlobMatch("/a/*", "/a/b/c"));
  EXPECT_TRUE(GlobMatch("/a/*/c", "/a/b/c"));
  EXPECT_TRUE(GlobMatch("/*.txt", "/notes.txt"));
  EXPECT_FALSE(GlobMatch("/*.txt", "/dir/notes.txt"));
  EXPECT_TRUE(GlobMatch("/a*b*c", "/axxbyyc"));
  EXPECT_FALSE(GlobMatch("/a*b*c", "/axxbyy"));
  EXPECT_TRUE(GlobMatch("/**", "/abc"));
}

TEST(GlobMatch, QuestionMarkIsOneCharacterButNotSlash) {
  EXPECT_TRUE(GlobMatch("/f?", "/f1"));
  EXPECT_FALSE(GlobMatch("/f?", "/f"));
  EXPECT_FALSE(GlobMatch("/f?", "/f12"));
  EXPECT_FALSE(GlobMatch("/a?b", "/a/b"));
}

TEST(GlobMatch, BracketClassesRangesAndNegation) {
  EXPECT_TRUE(GlobMatch("/f[abc]", "/fb"));
  EXPECT_FALSE(GlobMatch("/f[abc]", "/fd"));
  EXPECT_TRUE(GlobMatch("/f[0-9]", "/f7"));
  EXPECT_FALSE(GlobMatch("/f[0-9]", "/fx"));
  EXPECT_TRUE(GlobMatch("/f[!0-9]", "/fx"));
  EXPECT_FALSE(GlobMatch("/f[!0-9]", "/f3"));
  EXPECT_TRUE(GlobMatch("/f[]]", "/f]"));
  EXPECT_TRUE(GlobMatch("/f[!]]", "/fa"));
  EXPECT_FALSE(GlobMatch("/a[!x]b", "/a/b"));
}

TEST(GlobMatch, UnterminatedBracketIsLiteral) {
  EXPECT_TRUE(GlobMatch("/f[a", "/f[a"));
  EXPECT_FALSE(GlobMatch("/f[a", "/fa"));
}

TEST(GlobMatch, LiteralsMustMatchExactly) {
  EXPECT_TRUE(GlobMatch("/a/b", "/a/b"));
  EXPECT_FALSE(GlobMatch("/a/b", "/a/bc"));
  EXPECT_FALSE(GlobMatch("/a/b", "/a"));
}

TEST(GlobLiteralPrefix, StopsAtTheFirstWildcard) {
  EXPECT_EQ(GlobLiteralPrefix("/a/b*"), "/a/b");
  EXPECT_EQ(GlobLiteralPrefix("/a/?"), "/a/");
  EXPECT_EQ(GlobLiteralPrefix("/a/[x]"), "/a/");
  EXPECT_EQ(GlobLiteralPrefix("/plain"), "/plain");
}

}  // namespace
}  // namespace chainfs::nameserver
