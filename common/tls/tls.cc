#include "common/tls/tls.h"

#include <fmt/format.h>
#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <string_view>

#include "common/file_util.h"
#include "common/status.h"
#include "common/tls/ca.h"
#include "common/tls/roles.h"

namespace chainfs::tls {
namespace {

std::string_view View(const grpc::string_ref& ref) { return {ref.data(), ref.size()}; }

// Who the peer is, for the log line of a refused call: its certificate's common name.
std::string PeerName(const grpc::AuthContext& context) {
  for (const grpc::string_ref& cn : context.FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME)) {
    return std::string(View(cn));
  }
  return "(no certificate)";
}

// Runs before every call reaches its handler, inline on the transport (never blocks).
class RoleCheck final : public grpc::AuthMetadataProcessor {
 public:
  explicit RoleCheck(std::shared_ptr<spdlog::logger> log) : log_(std::move(log)) {}

  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* context, OutputMetadata*,
                       OutputMetadata*) override {
    auto path = metadata.find(":path");
    std::string_view method = path == metadata.end() ? "" : View(path->second);
    const std::vector<std::string> roles = RolesOf(*context);
    absl::Status st = Authorize(method, roles);
    if (st.ok()) return grpc::Status::OK;
    log_->warn("refused {} to role {} of {}", method, Describe(roles), PeerName(*context));
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, std::string(st.message()));
  }

 private:
  std::shared_ptr<spdlog::logger> log_;
};

// The content of one file the TLS settings name; errors say which.
absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  auto text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(), fmt::format("TLS {} {}: {}", what, path,
                                                          std::string(text.status().message())));
  }
  return text;
}

}  // namespace

void AddTlsFlags(CLI::App& app, TlsSettings& settings, const std::string& default_name) {
  settings.name = default_name;
  app.add_option("--tls-dir", settings.dir,
                 "directory with ca.crt, NAME.crt and NAME.key (see --tls-name)")
      ->envname("CHAINFS_TLS_DIR");
  app.add_option("--tls-name", settings.name, "NAME of the certificate in --tls-dir")
      ->capture_default_str();
  app.add_option("--tls-cert", settings.cert, "this party's certificate (default: in --tls-dir)");
  app.add_option("--tls-key", settings.key, "this party's key (default: in --tls-dir)");
  app.add_option("--tls-ca", settings.ca, "the cluster CA's certificate (default: in --tls-dir)");
  app.add_flag("--insecure", settings.insecure,
               "no TLS and no role checks: anyone who reaches a port may do anything (tests)");
}

absl::StatusOr<std::string> ReadZkDigest(const TlsSettings& settings, const std::string& file) {
  if (settings.insecure) return "";
  const std::string path = !file.empty() || settings.dir.empty() ? file : ZkAuthPath(settings.dir);
  if (path.empty()) {
    return absl::FailedPreconditionError(
        "no ZooKeeper identity: give --zk-auth-file (or --tls-dir holding zk-auth)");
  }
  CHAINFS_ASSIGN_OR_RETURN(std::string digest, ReadPem(path, "ZooKeeper identity"));
  while (!digest.empty() && std::isspace(static_cast<unsigned char>(digest.back()))) {
    digest.pop_back();
  }
  if (digest.find(':') == std::string::npos) {
    return absl::FailedPreconditionError(fmt::format("{}: not user:password", path));
  }
  return digest;
}

absl::StatusOr<Credentials> Credentials::Load(const TlsSettings& settings, spdlog::logger& log) {
  if (settings.insecure) {
    log.warn(
        "INSECURE: TLS is off (--insecure): connections are neither encrypted nor "
        "authenticated, and no role checks are made");
    return Insecure();
  }
  auto pick = [&settings](const std::string& given, const std::string& in_dir) {
    return !given.empty() || settings.dir.empty() ? given : in_dir;
  };
  const std::string ca = pick(settings.ca, CaCertPath(settings.dir));
  const std::string cert = pick(settings.cert, CertPath(settings.dir, settings.name));
  const std::string key = pick(settings.key, KeyPath(settings.dir, settings.name));
  if (ca.empty() || cert.empty() || key.empty()) {
    return absl::FailedPreconditionError(
        "no TLS certificates: give --tls-dir (or --tls-ca, --tls-cert and --tls-key), or "
        "--insecure to run without TLS");
  }
  Credentials out;
  out.insecure_ = false;
  CHAINFS_ASSIGN_OR_RETURN(out.ca_pem_, ReadPem(ca, "CA"));
  CHAINFS_ASSIGN_OR_RETURN(out.cert_pem_, ReadPem(cert, "certificate"));
  CHAINFS_ASSIGN_OR_RETURN(out.key_pem_, ReadPem(key, "key"));
  return out;
}

Credentials Credentials::Insecure() { return Credentials(); }

Credentials Credentials::FromPem(std::string ca, std::string cert, std::string key) {
  Credentials out;
  out.insecure_ = false;
  out.ca_pem_ = std::move(ca);
  out.cert_pem_ = std::move(cert);
  out.key_pem_ = std::move(key);
  return out;
}

std::shared_ptr<grpc::ChannelCredentials> Credentials::Channel() const {
  if (insecure_) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ca_pem_;
  options.pem_private_key = key_pem_;
  options.pem_cert_chain = cert_pem_;
  return grpc::SslCredentials(options);
}

std::shared_ptr<grpc::ServerCredentials> Credentials::Server(
    std::shared_ptr<spdlog::logger> log) const {
  if (insecure_) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = ca_pem_;
  options.pem_key_cert_pairs.push_back({key_pem_, cert_pem_});
  auto credentials = grpc::SslServerCredentials(options);
  credentials->SetAuthMetadataProcessor(std::make_shared<RoleCheck>(std::move(log)));
  return credentials;
}

}  // namespace chainfs::tls
