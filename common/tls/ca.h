// The cluster's certificate authority, over OpenSSL: a CA (EC P-256 key and self-signed
// certificate) and the certificates it issues to each party. A party's role (filestore,
// nameserver, client, admin) is in its certificate as the URI SAN "chainfs-role:ROLE"; its
// host names and addresses are DNS/IP SANs, which clients check when they dial it.
// Files of a TLS directory: ca.crt, ca.key, NAME.crt, NAME.key, zk-auth (the ZooKeeper
// digest identity "chainfs:SECRET") and token.key (the write-token key, common/write_token.h);
// keys and secrets are written mode 0600.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace chainfs::tls {

// A key and its certificate, both PEM.
struct KeyAndCert {
  std::string key_pem = "";
  std::string cert_pem = "";
};

// What a certificate names and how long it is valid, from `not_before` (relative to now;
// negative = in the past) for `valid_for`.
struct CertificateRequest {
  std::vector<std::string> roles = {};  // of common/tls/roles.h; one, except for tests
  std::vector<std::string> names = {};  // host names and IPs (SANs); the first is the CN
  std::chrono::seconds not_before{-3600};
  std::chrono::seconds valid_for{std::chrono::hours(24 * 365)};
};

// A new CA named `name`, valid for `valid_for`.
absl::StatusOr<KeyAndCert> NewAuthority(const std::string& name, std::chrono::seconds valid_for);
// A new key and a certificate for `request` signed by `ca`.
absl::StatusOr<KeyAndCert> Issue(const KeyAndCert& ca, const CertificateRequest& request);

// File names in a TLS directory.
std::string CaCertPath(const std::string& dir);
std::string CaKeyPath(const std::string& dir);
std::string CertPath(const std::string& dir, const std::string& name);
std::string KeyPath(const std::string& dir, const std::string& name);
std::string ZkAuthPath(const std::string& dir);
std::string TokenKeyPath(const std::string& dir);  // the write-token key, token.key

// `chainfs certs init DIR`: creates DIR (0700 when new), the CA, zk-auth and token.key.
// ALREADY_EXISTS when DIR already holds a CA (a CA is never silently replaced).
absl::Status InitDirectory(const std::string& dir, std::chrono::seconds valid_for);
// `chainfs certs issue`: NAME.key and NAME.crt in DIR, signed by DIR's CA.
absl::Status IssueToDirectory(const std::string& dir, const std::string& file_name,
                              const CertificateRequest& request);
// Writes `content` crash-safely with `mode` (0600 for keys).
absl::Status WritePrivateFile(const std::string& path, const std::string& content, int mode);

}  // namespace chainfs::tls
