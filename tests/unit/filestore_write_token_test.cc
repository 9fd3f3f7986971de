// FileStoreService with write tokens on (common/write_token.h): every chain member checks
// the token of a create before it accepts a byte. The service is the head or a middle member,
// called directly; the rest of its chain is MemoryFileStores checking tokens with the same
// key, as the real members do. A refused create commits nothing anywhere.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/checksum.h"
#include "common/client/filestore_client.h"
#include "common/client/memory_filestores.h"
#include "common/client/memory_nameserver.h"
#include "common/status.h"
#include "common/write_token.h"
#include "servers/filestore/filestore_service.h"
#include "servers/filestore/object_store.h"
#include "servers/filestore/reporter.h"
#include "tests/fixtures/file_info.h"

namespace chainfs::filestore {
namespace {

namespace fs = std::filesystem;
using Method = MemoryFileStores::Method;
using testing::Info;

const std::string kHead = "10.0.0.9:7000";
const std::string kSelf = "10.0.0.1:7000";
const std::string kB = "10.0.0.2:7000";
const std::string kC = "10.0.0.3:7000";
const std::string kKey(kWriteTokenKeyBytes, 'K');
constexpr Duration kLifetime = std::chrono::minutes(5);

class FileStoreWriteTokenTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / fmt::format("chainfs-fstoken-{}", ::getpid()));
    fs::remove_all(*dir_);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  void SetUp() override {
    auto store = ObjectStore::Open({.dir = dir_->string()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    reporter_ = std::make_unique<Reporter>(store_.get(), nullptr, &nameserver_, SystemClock::Get(),
                                           ReporterSettings{.self = kSelf});
    service_ = std::make_unique<FileStoreService>(store_.get(), &downstream_, reporter_.get(),
                                                  FileStoreSettings{.self = kSelf});
    service_->SetWriteTokens(&checker_);
    downstream_.SetWriteTokenKey(kKey, &clock_);
  }
  void TearDown() override {
    service_.reset();
    reporter_.reset();
    store_.reset();
    for (const auto& entry : fs::recursive_directory_iterator(*dir_)) {
      if (entry.is_regular_file()) fs::remove(entry.path());
    }
  }

  // A token of the cluster's NameServer for name@version on `chain`.
  std::string Token(const std::string& name, int64_t version, std::vector<std::string> chain,
                    const std::string& key = kKey) const {
    return WriteTokenSigner(key, kLifetime, &clock_).Sign(name, version, chain);
  }

  // CreateSmall of "hello" on this member with `rest` after it, as the head or (forwarded)
  // as a middle member.
  absl::StatusOr<v1::CreateReply> CreateSmall(const std::string& name, int64_t version,
                                              const std::string& token,
                                              const std::vector<std::string>& rest,
                                              bool forwarded = false) {
    v1::CreateSmallRequest req;
    *req.mutable_header()->mutable_file() = Info(name, version);
    for (const std::string& address : rest) req.mutable_header()->add_chain(address);
    req.mutable_header()->set_forwarded(forwarded);
    req.mutable_header()->set_token(token);
    req.set_content("hello");
    req.mutable_close()->set_size(5);
    req.mutable_close()->set_checksum(Checksum("hello"));
    grpc::ServerContext ctx;
    v1::CreateReply reply;
    absl::Status st = FromGrpc(service_->CreateSmall(&ctx, &req, &reply));
    if (!st.ok()) return st;
    return reply;
  }

  // Nothing of `name` on this member or the rest of the chain, and nothing reported.
  void ExpectNothingCommitted(const std::string& name) {
    EXPECT_FALSE(store_->Lookup(name).has_value());
    EXPECT_FALSE(downstream_.Lookup(kB, name).has_value());
    EXPECT_FALSE(downstream_.Lookup(kC, name).has_value());
    EXPECT_EQ(downstream_.Calls(Method::kCreate), 0);
    EXPECT_FALSE(nameserver_.Latest(name).has_value());
  }

  static fs::path* dir_;
  FakeClock clock_;
  WriteTokenChecker checker_{kKey, &clock_};
  std::unique_ptr<ObjectStore> store_;
  MemoryNameServer nameserver_{{kSelf, kB, kC}};
  MemoryFileStores downstream_{&nameserver_};
  std::unique_ptr<Reporter> reporter_;
  std::unique_ptr<FileStoreService> service_;
};

fs::path* FileStoreWriteTokenTest::dir_ = nullptr;

TEST_F(FileStoreWriteTokenTest, Head_ValidToken_ForwardedAndCommittedOnEveryMember) {
  auto reply = CreateSmall("/f", 5, Token("/f", 5, {kSelf, kB, kC}), {kB, kC});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(store_->Lookup("/f")->version(), 5);
  EXPECT_EQ(*downstream_.Content(kB, "/f"), "hello");
  EXPECT_EQ(*downstream_.Content(kC, "/f"), "hello");
}

TEST_F(FileStoreWriteTokenTest, Head_NoForgedOrOtherKeysToken_RefusedAndNothingCommitted) {
  std::string forged = Token("/f", 5, {kSelf, kB, kC});
  forged[forged.size() / 2] ^= 0x20;
  for (const std::string& token :
       {std::string(), forged, Token("/f", 5, {kSelf, kB, kC}, std::string(32, 'x'))}) {
    auto reply = CreateSmall("/f", 5, token, {kB, kC});
    EXPECT_EQ(reply.status().code(), absl::StatusCode::kPermissionDenied) << reply.status();
  }
  ExpectNothingCommitted("/f");
}

TEST_F(FileStoreWriteTokenTest, Head_TokenOfAnotherNameVersionOrChain_Refused) {
  const std::string token = Token("/f", 5, {kSelf, kB, kC});
  EXPECT_EQ(CreateSmall("/g", 5, token, {kB, kC}).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CreateSmall("/f", 6, token, {kB, kC}).status().code(),
            absl::StatusCode::kPermissionDenied);
  // The chain cut short, or another FileStore added to it.
  EXPECT_EQ(CreateSmall("/f", 5, token, {kB}).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CreateSmall("/f", 5, token, {kB, "10.0.0.66:7000"}).status().code(),
            absl::StatusCode::kPermissionDenied);
  ExpectNothingCommitted("/f");
  ExpectNothingCommitted("/g");
}

TEST_F(FileStoreWriteTokenTest, Head_ExpiredToken_RefusedAndNothingCommitted) {
  const std::string token = Token("/f", 5, {kSelf, kB, kC});
  clock_.Advance(kLifetime);
  auto reply = CreateSmall("/f", 5, token, {kB, kC});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kPermissionDenied) << reply.status();
  EXPECT_NE(reply.status().message().find("expired"), std::string_view::npos);
  ExpectNothingCommitted("/f");
}

TEST_F(FileStoreWriteTokenTest, Head_TokenOfAFailedCreate_IsNotAcceptedAgain) {
  const std::string token = Token("/f", 5, {kSelf, kB, kC});
  downstream_.SetDead(kC);
  ASSERT_EQ(CreateSmall("/f", 5, token, {kB, kC}).status().code(), absl::StatusCode::kUnavailable);
  downstream_.SetDead(kC, false);
  // A retry must come with a fresh doCreate (and token), as the client's does.
  auto again = CreateSmall("/f", 7, token, {kB, kC});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kPermissionDenied);
  again = CreateSmall("/f", 5, token, {kB, kC});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kPermissionDenied) << again.status();
  EXPECT_NE(again.status().message().find("already used"), std::string_view::npos);
  EXPECT_FALSE(downstream_.Lookup(kC, "/f").has_value());
}

TEST_F(FileStoreWriteTokenTest, MiddleMember_ValidToken_Accepted) {
  auto reply = CreateSmall("/f", 5, Token("/f", 5, {kHead, kSelf, kB}), {kB}, /*forwarded=*/true);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(store_->Lookup("/f")->version(), 5);
  EXPECT_EQ(*downstream_.Content(kB, "/f"), "hello");
}

TEST_F(FileStoreWriteTokenTest, MiddleMember_ForgedExpiredReusedOrNotNamingIt_Refused) {
  std::string forged = Token("/f", 5, {kHead, kSelf, kB});
  forged.back() ^= 0x01;
  EXPECT_EQ(CreateSmall("/f", 5, forged, {kB}, true).status().code(),
            absl::StatusCode::kPermissionDenied);
  // Signed for a chain this member is not in.
  EXPECT_EQ(CreateSmall("/f", 5, Token("/f", 5, {kHead, kB}), {kB}, true).status().code(),
            absl::StatusCode::kPermissionDenied);
  const std::string expired = Token("/f", 5, {kHead, kSelf, kB});
  clock_.Advance(kLifetime + std::chrono::seconds(1));
  EXPECT_EQ(CreateSmall("/f", 5, expired, {kB}, true).status().code(),
            absl::StatusCode::kPermissionDenied);
  ExpectNothingCommitted("/f");

  const std::string token = Token("/f", 6, {kHead, kSelf, kB});
  ASSERT_TRUE(CreateSmall("/f", 6, token, {kB}, true).ok());
  auto reused = CreateSmall("/f", 6, token, {kB}, true);
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kPermissionDenied) << reused.status();
  EXPECT_EQ(store_->Lookup("/f")->version(), 6);
}

// The stream checks the header's token before the first chunk is taken or forwarded.
TEST_F(FileStoreWriteTokenTest, CreateStream_ForgedToken_RefusedBeforeAByteAndValidOneWorks) {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service_.get());
  auto server = builder.BuildAndStart();
  ASSERT_TRUE(server);
  const std::string self = fmt::format("127.0.0.1:{}", port);
  service_->SetSelf(self, reporter_.get());
  FileStoreClient client;
  const std::string content(2 * kMaxChunkBytes + 5, 'c');
  const std::string other_key(kWriteTokenKeyBytes, 'o');
  absl::Status st = client
                        .CreateFromString(Info("/big", 3), {self, kB, kC}, content, false,
                                          Token("/big", 3, {self, kB, kC}, other_key))
                        .status();
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << st;
  EXPECT_FALSE(store_->Lookup("/big").has_value());
  EXPECT_EQ(downstream_.Calls(Method::kCreate), 0);

  auto reply = client.CreateFromString(Info("/big", 4), {self, kB, kC}, content, false,
                                       Token("/big", 4, {self, kB, kC}));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*downstream_.Content(kC, "/big"), content);
  server->Shutdown();
}

}  // namespace
}  // namespace chainfs::filestore
