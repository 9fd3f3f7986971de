// The cluster CA (`chainfs certs`), mutual TLS and the role table, over real gRPC channels
// on loopback: a server with the daemons' credentials (tls::Credentials::Server) in front of
// the FileStore and NameServer services' unimplemented defaults, so a call the role check
// lets through answers UNIMPLEMENTED and a refused one PERMISSION_DENIED (or never gets a
// connection).
#include "common/tls/tls.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/file_util.h"
#include "common/log.h"
#include "common/tls/ca.h"
#include "common/tls/roles.h"
#include "proto/chainfs.grpc.pb.h"

namespace chainfs::tls {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

const std::vector<std::string> kNames = {"localhost", "127.0.0.1", "::1"};

KeyAndCert Authority() {
  auto ca = NewAuthority("test CA", hours(24));
  EXPECT_TRUE(ca.ok()) << ca.status();
  return ca.value_or(KeyAndCert{});
}

KeyAndCert IssueFor(const KeyAndCert& ca, const std::string& role, seconds not_before = hours(-1),
                    seconds valid_for = hours(24)) {
  auto issued = Issue(
      ca, {.roles = {role}, .names = kNames, .not_before = not_before, .valid_for = valid_for});
  EXPECT_TRUE(issued.ok()) << issued.status();
  return issued.value_or(KeyAndCert{});
}

Credentials Of(const KeyAndCert& ca, const KeyAndCert& own) {
  return Credentials::FromPem(ca.cert_pem, own.cert_pem, own.key_pem);
}

class MutualTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ca_ = new KeyAndCert(Authority());
    grpc::ServerBuilder builder;
    builder.AddListeningPort(
        "127.0.0.1:0", Of(*ca_, IssueFor(*ca_, "filestore")).Server(Logger("tls-test")), &port_);
    filestore_ = new v1::FileStore::Service();
    nameserver_ = new v1::NameServer::Service();
    builder.RegisterService(filestore_);
    builder.RegisterService(nameserver_);
    server_ = builder.BuildAndStart().release();
    ASSERT_NE(port_, 0);
  }
  static void TearDownTestSuite() {
    server_->Shutdown();
    delete server_;
    delete filestore_;
    delete nameserver_;
    delete ca_;
  }

  static std::shared_ptr<grpc::Channel> Dial(std::shared_ptr<grpc::ChannelCredentials> creds) {
    return grpc::CreateChannel(fmt::format("127.0.0.1:{}", port_), creds);
  }
  static std::shared_ptr<grpc::Channel> DialAs(const std::string& role) {
    return Dial(Of(*ca_, IssueFor(*ca_, role)).Channel());
  }
  static std::unique_ptr<grpc::ClientContext> Context() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + seconds(10));
    return ctx;
  }

  static grpc::StatusCode Delete(const std::shared_ptr<grpc::Channel>& channel) {
    v1::DeleteReply reply;
    return v1::FileStore::NewStub(channel)->Delete(Context().get(), {}, &reply).error_code();
  }
  static grpc::StatusCode BumpVersion(const std::shared_ptr<grpc::Channel>& channel) {
    v1::BumpVersionReply reply;
    return v1::FileStore::NewStub(channel)->BumpVersion(Context().get(), {}, &reply).error_code();
  }
  static grpc::StatusCode ReadSmall(const std::shared_ptr<grpc::Channel>& channel) {
    v1::ReadSmallReply reply;
    return v1::FileStore::NewStub(channel)->ReadSmall(Context().get(), {}, &reply).error_code();
  }
  static grpc::StatusCode Register(const std::shared_ptr<grpc::Channel>& channel) {
    auto ctx = Context();
    v1::RegisterReply reply;
    auto writer = v1::NameServer::NewStub(channel)->RegisterFilesAndTombstones(ctx.get(), &reply);
    writer->WritesDone();
    return writer->Finish().error_code();
  }
  static grpc::StatusCode ClusterStatus(const std::shared_ptr<grpc::Channel>& channel) {
    v1::ClusterStatusReply reply;
    return v1::NameServer::NewStub(channel)
        ->ClusterStatus(Context().get(), {}, &reply)
        .error_code();
  }

  static KeyAndCert* ca_;
  static int port_;
  static grpc::Server* server_;
  static v1::FileStore::Service* filestore_;
  static v1::NameServer::Service* nameserver_;
};

KeyAndCert* MutualTlsTest::ca_ = nullptr;
int MutualTlsTest::port_ = 0;
grpc::Server* MutualTlsTest::server_ = nullptr;
v1::FileStore::Service* MutualTlsTest::filestore_ = nullptr;
v1::NameServer::Service* MutualTlsTest::nameserver_ = nullptr;

// UNIMPLEMENTED: the call got past TLS and the role check to the (default) handler.
constexpr auto kAllowed = grpc::StatusCode::UNIMPLEMENTED;
constexpr auto kDenied = grpc::StatusCode::PERMISSION_DENIED;
constexpr auto kNoConnection = grpc::StatusCode::UNAVAILABLE;

TEST_F(MutualTlsTest, ClientCertificate_MayReadFromAFileStore) {
  EXPECT_EQ(ReadSmall(DialAs("client")), kAllowed);
}

TEST_F(MutualTlsTest, ClientCertificate_CannotRegisterFilesAndTombstones) {
  EXPECT_EQ(Register(DialAs("client")), kDenied);
}

TEST_F(MutualTlsTest, ClientCertificate_CannotDeleteOrBumpVersionOnAFileStore) {
  auto channel = DialAs("client");
  EXPECT_EQ(Delete(channel), kDenied);
  EXPECT_EQ(BumpVersion(channel), kDenied);
}

TEST_F(MutualTlsTest, ClientCertificate_CannotAskForClusterStatusButAdminCan) {
  EXPECT_EQ(ClusterStatus(DialAs("client")), kDenied);
  EXPECT_EQ(ClusterStatus(DialAs("admin")), kAllowed);
}

TEST_F(MutualTlsTest, FileStoreCertificate_MayRegisterButNotDelete) {
  auto channel = DialAs("filestore");
  EXPECT_EQ(Register(channel), kAllowed);
  EXPECT_EQ(Delete(channel), kDenied);
}

TEST_F(MutualTlsTest, NameServerCertificate_MayDeleteAndBumpButNotRegister) {
  auto channel = DialAs("nameserver");
  EXPECT_EQ(Delete(channel), kAllowed);
  EXPECT_EQ(BumpVersion(channel), kAllowed);
  EXPECT_EQ(Register(channel), kDenied);
}

TEST_F(MutualTlsTest, ClientWithoutCertificate_IsRefused) {
  grpc::SslCredentialsOptions no_certificate;
  no_certificate.pem_root_certs = ca_->cert_pem;
  EXPECT_EQ(ReadSmall(Dial(grpc::SslCredentials(no_certificate))), kNoConnection);
}

TEST_F(MutualTlsTest, PlainClient_IsRefused) {
  EXPECT_EQ(ReadSmall(Dial(grpc::InsecureChannelCredentials())), kNoConnection);
}

TEST_F(MutualTlsTest, CertificateFromAnotherCa_IsRefused) {
  KeyAndCert other = Authority();
  // It trusts our CA but presents a certificate of its own CA.
  EXPECT_EQ(ReadSmall(Dial(Of(*ca_, IssueFor(other, "admin")).Channel())), kNoConnection);
}

TEST_F(MutualTlsTest, ExpiredCertificate_IsRefused) {
  KeyAndCert expired = IssueFor(*ca_, "admin", hours(-48), hours(24));
  EXPECT_EQ(ReadSmall(Dial(Of(*ca_, expired).Channel())), kNoConnection);
}

TEST_F(MutualTlsTest, ServerOfAnotherCa_IsNotTrustedByTheClient) {
  KeyAndCert other = Authority();
  EXPECT_EQ(ReadSmall(Dial(Of(other, IssueFor(other, "admin")).Channel())), kNoConnection);
}

TEST(Roles, EveryRoleIsKnownAndOthersAreNot) {
  for (const char* role : {"filestore", "nameserver", "client", "admin"}) EXPECT_TRUE(IsRole(role));
  EXPECT_FALSE(IsRole("root"));
  EXPECT_FALSE(IsRole(""));
}

TEST(Roles, UnknownMethodsAndMissingRolesAreRefused) {
  EXPECT_TRUE(absl::IsPermissionDenied(Authorize("/chainfs.v1.FileStore/Format", {"admin"})));
  EXPECT_TRUE(absl::IsPermissionDenied(Authorize("/chainfs.v1.FileStore/Read", {})));
  EXPECT_TRUE(Authorize("/chainfs.v1.FileStore/Read", {"client"}).ok());
}

TEST(Roles, ACertificateWithSeveralRolesMayDoWhatAnyOfThemMay) {
  EXPECT_TRUE(Authorize("/chainfs.v1.FileStore/Delete", {"client", "nameserver"}).ok());
  EXPECT_TRUE(Authorize("/chainfs.v1.FileStore/Read", {"client", "nameserver"}).ok());
}

TEST(Roles, AFileStoreForwardsCreatesButAClientCannotCopy) {
  EXPECT_TRUE(Authorize("/chainfs.v1.FileStore/Create", {"filestore"}).ok());
  EXPECT_TRUE(Authorize("/chainfs.v1.FileStore/CreateSmall", {"filestore"}).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(Authorize("/chainfs.v1.FileStore/CopyFile", {"client"})));
  EXPECT_TRUE(absl::IsPermissionDenied(Authorize("/chainfs.v1.FileStore/Clone", {"admin"})));
}

TEST(Roles, EveryCallOfEveryServiceHasARow_ElseItWouldBeRefusedToAll) {
  for (const char* name : {"chainfs.v1.NameServer", "chainfs.v1.FileStore"}) {
    const auto* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string method = "/" + service->full_name() + "/" + service->method(i)->name();
      EXPECT_TRUE(Authorize(method, {"filestore", "nameserver", "client", "admin"}).ok()) << method;
    }
  }
}

TEST(Roles, FsckCallsAreForAdminsOnly) {
  EXPECT_TRUE(Authorize("/chainfs.v1.FileStore/Verify", {"admin"}).ok());
  EXPECT_TRUE(Authorize("/chainfs.v1.NameServer/Replicate", {"admin"}).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(Authorize("/chainfs.v1.FileStore/Verify", {"client"})));
  EXPECT_TRUE(absl::IsPermissionDenied(Authorize("/chainfs.v1.NameServer/Replicate", {"client"})));
}

TEST(Certs, IssueRefusesAnUnknownRoleAndAMissingName) {
  KeyAndCert ca = Authority();
  EXPECT_TRUE(absl::IsInvalidArgument(Issue(ca, {.roles = {"root"}, .names = kNames}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Issue(ca, {.roles = {"client"}, .names = {}}).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(Issue(ca, {.roles = {"client"}, .names = {"a,DNS:b"}}).status()));
}

class CertsDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/certs-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern + "/tls";
  }
  void TearDown() override { std::filesystem::remove_all(DirOf(dir_)); }

  static int Mode(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
  }

  std::string dir_;
};

TEST_F(CertsDirectoryTest, InitAndIssueWriteKeysReadableByTheOwnerOnly) {
  ASSERT_TRUE(InitDirectory(dir_, hours(24)).ok());
  ASSERT_TRUE(IssueToDirectory(dir_, "fs1", {.roles = {"filestore"}, .names = kNames}).ok());
  EXPECT_EQ(Mode(dir_), 0700);
  EXPECT_EQ(Mode(CaKeyPath(dir_)), 0600);
  EXPECT_EQ(Mode(ZkAuthPath(dir_)), 0600);
  EXPECT_EQ(Mode(KeyPath(dir_, "fs1")), 0600);
  EXPECT_EQ(Mode(CertPath(dir_, "fs1")), 0644);
}

TEST_F(CertsDirectoryTest, InitNeverReplacesACa) {
  ASSERT_TRUE(InitDirectory(dir_, hours(24)).ok());
  auto before = ReadFileToString(CaCertPath(dir_));
  EXPECT_TRUE(absl::IsAlreadyExists(InitDirectory(dir_, hours(24))));
  EXPECT_EQ(ReadFileToString(CaCertPath(dir_)).value_or(""), before.value_or("-"));
}

TEST_F(CertsDirectoryTest, LoadedDirectoryGivesTheZooKeeperIdentity) {
  ASSERT_TRUE(InitDirectory(dir_, hours(24)).ok());
  auto digest = ReadZkDigest({.dir = dir_}, "");
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_TRUE(digest->starts_with("chainfs:"));
  EXPECT_EQ(digest->find('\n'), std::string::npos);
}

TEST(TlsSettings, NeitherCertificatesNorInsecure_RefusesToStart) {
  auto log = Logger("tls-test");
  EXPECT_TRUE(absl::IsFailedPrecondition(Credentials::Load({}, *log).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(ReadZkDigest({}, "").status()));
  auto insecure = Credentials::Load({.insecure = true}, *log);
  ASSERT_TRUE(insecure.ok());
  EXPECT_TRUE(insecure->insecure());
}

}  // namespace
}  // namespace chainfs::tls
