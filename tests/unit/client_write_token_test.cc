// The client layer carries doCreate's write token to every chain member: against the twins,
// with the NameServer twin signing tokens and the FileStore twins checking them, as a cluster
// run with --token-key-file does. Every way of writing (a stream, a string, a file
// descriptor, mkdir, a retry after a failed member) must still commit.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "common/client/client.h"
#include "common/client/memory_filestores.h"
#include "common/client/memory_nameserver.h"
#include "common/write_token.h"
#include "tests/unit/client_fixtures.h"

namespace chainfs {
namespace {

using testing::kTwinStores;
using testing::NewFile;

const std::string kKey(kWriteTokenKeyBytes, 'k');

class ClientWriteTokenTest : public ::testing::Test {
 protected:
  ClientWriteTokenTest() {
    ns_.SetFileStores(&fs_);
    ns_.SetWriteTokens(&signer_);
    fs_.SetWriteTokenKey(kKey, &clock_);
  }

  FakeClock clock_;
  WriteTokenSigner signer_{kKey, kDefaultWriteTokenLifetime, &clock_};
  MemoryNameServer ns_{kTwinStores, 3};
  MemoryFileStores fs_{&ns_};
  Client client_{&ns_, &fs_, UploadRetrySettings{.attempts = 3, .backoff = Duration::zero()},
                 &clock_};
};

TEST_F(ClientWriteTokenTest, EveryKindOfUpload_CarriesTheTokenAndCommits) {
  ASSERT_TRUE(client_.UploadString(NewFile("/s"), "hello").ok());
  ASSERT_TRUE(client_.Mkdir("/d", {}).ok());
  std::string content(3 << 20, 'x');
  size_t pos = 0;
  auto streamed = client_.Upload(NewFile("/big"), [&](int64_t) -> absl::StatusOr<ContentSource> {
    pos = 0;
    return ContentSource([&](char* buf, size_t max) -> absl::StatusOr<size_t> {
      size_t n = std::min(max, content.size() - pos);
      std::copy_n(content.data() + pos, n, buf);
      pos += n;
      return n;
    });
  });
  ASSERT_TRUE(streamed.ok()) << streamed.status();
  FILE* tmp = std::tmpfile();
  ASSERT_NE(tmp, nullptr);
  ASSERT_EQ(::write(::fileno(tmp), "from fd", 7), 7);
  auto from_fd = client_.UploadFd(NewFile("/fd"), ::fileno(tmp));
  std::fclose(tmp);
  ASSERT_TRUE(from_fd.ok()) << from_fd.status();
  for (const char* address : {"a:1", "b:1", "c:1"}) {
    EXPECT_EQ(fs_.Content(address, "/s").value(), "hello");
    EXPECT_EQ(fs_.Content(address, "/fd").value(), "from fd");
    EXPECT_EQ(fs_.Content(address, "/big").value().size(), content.size());
  }
}

TEST_F(ClientWriteTokenTest, RetryAfterAFailedMember_UsesTheFreshDoCreatesToken) {
  fs_.SetDead("b:1");
  auto reply = client_.UploadString(NewFile("/f"), "hello");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(ns_.calls("DoCreate"), 2);
  EXPECT_EQ(fs_.Content("d:1", "/f").value(), "hello");
}

TEST_F(ClientWriteTokenTest, NameServerWithoutTheKey_UploadRefusedAtOnceAndNothingCommitted) {
  ns_.SetWriteTokens(nullptr);
  auto reply = client_.UploadString(NewFile("/f"), "hello");
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kPermissionDenied) << reply.status();
  // A refusal is not a chain failure: no retry excluding healthy FileStores.
  EXPECT_EQ(ns_.calls("DoCreate"), 1);
  EXPECT_TRUE(fs_.Holders("/f").empty());
}

}  // namespace
}  // namespace chainfs
