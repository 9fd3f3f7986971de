#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "absl/status/status.h"
#include "common/write_token.h"

namespace chainfs {
namespace {

const std::string kKey(kWriteTokenKeyBytes, 'k');
const std::vector<std::string> kChain = {"a:1", "b:2", "c:3"};

class WriteTokenTest : public ::testing::Test {
 protected:
  std::string Token(Duration lifetime = std::chrono::minutes(5)) const {
    return WriteTokenSigner(kKey, lifetime, &clock_).Sign("/dir/file", 42, kChain);
  }
  absl::Status Verify(std::string_view token, std::string_view path = "/dir/file",
                      int64_t version = 42, const std::vector<std::string>& tail = kChain,
                      std::string_view key = kKey) const {
    return VerifyWriteToken(key, token, path, version, tail, clock_.WallNanos());
  }
  FakeClock clock_;
};

TEST_F(WriteTokenTest, TokenSignedForPathVersionAndChain_IsAcceptedByEveryMember) {
  const std::string token = Token();
  EXPECT_TRUE(Verify(token).ok());
  EXPECT_TRUE(Verify(token, "/dir/file", 42, {"b:2", "c:3"}).ok());
  EXPECT_TRUE(Verify(token, "/dir/file", 42, {"c:3"}).ok());
}

TEST_F(WriteTokenTest, AnyFlippedByte_IsRefused) {
  const std::string token = Token();
  for (size_t i = 0; i < token.size(); ++i) {
    std::string forged = token;
    forged[i] ^= 0x01;
    EXPECT_EQ(Verify(forged).code(), absl::StatusCode::kPermissionDenied) << "byte " << i;
  }
}

TEST_F(WriteTokenTest, TokenOfAnotherKey_IsRefused) {
  const std::string other(kWriteTokenKeyBytes, 'x');
  const std::string token =
      WriteTokenSigner(other, std::chrono::minutes(5), &clock_).Sign("/dir/file", 42, kChain);
  absl::Status st = Verify(token);
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(st.message().find("bad signature"), std::string_view::npos) << st;
}

TEST_F(WriteTokenTest, EmptyOrTruncatedToken_IsRefused) {
  EXPECT_EQ(Verify("").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Verify(Token().substr(0, 20)).code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(WriteTokenTest, OtherPathOrVersion_IsRefused) {
  const std::string token = Token();
  EXPECT_EQ(Verify(token, "/dir/other").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Verify(token, "/dir/file", 43).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Verify(token, "/dir/file", 41).code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(WriteTokenTest, ChainThatIsNotATailOfTheSignedOne_IsRefused) {
  const std::string token = Token();
  for (const std::vector<std::string>& tail :
       std::vector<std::vector<std::string>>{{},
                                             {"b:2"},
                                             {"a:1", "b:2"},
                                             {"d:4", "b:2", "c:3"},
                                             {"x:9", "a:1", "b:2", "c:3"},
                                             {"a:1", "c:3"}}) {
    absl::Status st = Verify(token, "/dir/file", 42, tail);
    EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << tail.size();
  }
}

TEST_F(WriteTokenTest, TokenPastItsLifetime_IsRefusedAsExpired) {
  const std::string token = Token(std::chrono::seconds(10));
  clock_.Advance(std::chrono::seconds(9));
  EXPECT_TRUE(Verify(token).ok());
  clock_.Advance(std::chrono::seconds(1));
  absl::Status st = Verify(token);
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(st.message().find("expired"), std::string_view::npos) << st;
}

TEST_F(WriteTokenTest, TwoTokensOfTheSameGrant_HaveDifferentIds) {
  uint64_t first = 0, second = 0;
  ASSERT_TRUE(
      VerifyWriteToken(kKey, Token(), "/dir/file", 42, kChain, clock_.WallNanos(), &first).ok());
  ASSERT_TRUE(
      VerifyWriteToken(kKey, Token(), "/dir/file", 42, kChain, clock_.WallNanos(), &second).ok());
  EXPECT_NE(first, second);
}

TEST_F(WriteTokenTest, Checker_RefusesATokenIdItAlreadyAccepted) {
  WriteTokenChecker checker(kKey, &clock_);
  const std::string token = Token();
  EXPECT_TRUE(checker.Check(token, "/dir/file", 42, {"b:2", "c:3"}).ok());
  absl::Status again = checker.Check(token, "/dir/file", 42, {"b:2", "c:3"});
  EXPECT_EQ(again.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(again.message().find("already used"), std::string_view::npos) << again;
  EXPECT_TRUE(checker.Check(Token(), "/dir/file", 42, {"b:2", "c:3"}).ok());
}

TEST_F(WriteTokenTest, Checker_ForgetsIdsOnceTheirTokensExpired) {
  WriteTokenChecker checker(kKey, &clock_);
  ASSERT_TRUE(checker.Check(Token(std::chrono::seconds(10)), "/dir/file", 42, kChain).ok());
  ASSERT_TRUE(checker.Check(Token(std::chrono::seconds(10)), "/dir/file", 42, kChain).ok());
  EXPECT_EQ(checker.remembered(), 2u);
  clock_.Advance(std::chrono::seconds(10));
  ASSERT_TRUE(checker.Check(Token(std::chrono::seconds(10)), "/dir/file", 42, kChain).ok());
  EXPECT_EQ(checker.remembered(), 1u);
}

TEST_F(WriteTokenTest, Checker_DoesNotRememberARefusedToken) {
  WriteTokenChecker checker(kKey, &clock_);
  const std::string token = Token();
  EXPECT_FALSE(checker.Check(token, "/dir/other", 42, kChain).ok());
  EXPECT_EQ(checker.remembered(), 0u);
  EXPECT_TRUE(checker.Check(token, "/dir/file", 42, kChain).ok());
}

TEST(WriteTokenKeyTest, WrittenKey_IsPrivateReadableAndNeverReplaced) {
  const std::string dir = ::testing::TempDir() + "/write_token_key_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/token.key";
  ASSERT_TRUE(WriteTokenKey(path).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  absl::StatusOr<std::string> key = ReadTokenKey(path);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->size(), kWriteTokenKeyBytes);
  EXPECT_FALSE(WriteTokenKey(path).ok());
  EXPECT_EQ(*ReadTokenKey(path), *key);
  std::filesystem::remove_all(dir);
}

TEST(WriteTokenKeyTest, KeyFileOfTheWrongLength_IsRefused) {
  const std::string path = ::testing::TempDir() + "/write_token_short.key";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("short", f);
  std::fclose(f);
  EXPECT_EQ(ReadTokenKey(path).status().code(), absl::StatusCode::kInvalidArgument);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace chainfs
