// Mutual TLS for every chainfs connection, with gRPC's SSL credentials: each party presents
// a certificate from the cluster's CA and verifies the other's against it; servers check the
// caller's role on every call (common/tls/roles.h). The same flags everywhere (daemons, the
// mount, the CLI):
//   --tls-dir DIR   ca.crt, NAME.crt and NAME.key (NAME from --tls-name, default the
//                   binary's own role); $CHAINFS_TLS_DIR when not given
//   --tls-cert/--tls-key/--tls-ca FILE   override single files
//   --insecure      no TLS and no role checks, logged loudly at start (tests of other things)
// With neither a TLS directory (or all three files) nor --insecure a binary refuses to start:
// the secure path is the normal one.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace grpc {
class ChannelCredentials;
class ServerCredentials;
}  // namespace grpc
namespace spdlog {
class logger;
}

namespace chainfs::tls {

struct TlsSettings {
  std::string dir = "";   // --tls-dir
  std::string name = "";  // --tls-name: the NAME of NAME.crt/NAME.key in dir
  std::string cert = "";  // --tls-cert
  std::string key = "";   // --tls-key
  std::string ca = "";    // --tls-ca
  bool insecure = false;
};

// Adds the TLS flags to `app`; `default_name` is the --tls-name default ("filestore",
// "nameserver", "client").
void AddTlsFlags(CLI::App& app, TlsSettings& settings, const std::string& default_name);

// The daemons' ZooKeeper identity "user:password" from `file` (default: zk-auth in the TLS
// directory); "" when insecure. FAILED_PRECONDITION when there is no such file to read.
absl::StatusOr<std::string> ReadZkDigest(const TlsSettings& settings, const std::string& file);

// The loaded certificates of one process (or nothing, when insecure).
class Credentials {
 public:
  // Reads the files `settings` names. FAILED_PRECONDITION when TLS is neither configured
  // nor turned off with --insecure. When insecure, logs the INSECURE warning on `log`.
  static absl::StatusOr<Credentials> Load(const TlsSettings& settings, spdlog::logger& log);
  // Insecure credentials without the warning (unit tests' in-process servers).
  static Credentials Insecure();
  // From PEM text (tests).
  static Credentials FromPem(std::string ca, std::string cert, std::string key);

  bool insecure() const { return insecure_; }
  // What a client dials with: presents the certificate, verifies the server against the
  // CA (and its host name against the certificate's names). Plain when insecure.
  std::shared_ptr<grpc::ChannelCredentials> Channel() const;
  // What a server listens with: requires and verifies a client certificate from the CA and
  // checks every call against the role table (PERMISSION_DENIED, logged on `log`).
  std::shared_ptr<grpc::ServerCredentials> Server(std::shared_ptr<spdlog::logger> log) const;

 private:
  bool insecure_ = true;
  std::string ca_pem_;
  std::string cert_pem_;
  std::string key_pem_;
};

}  // namespace chainfs::tls
