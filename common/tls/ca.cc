#include "common/tls/ca.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>

#include "common/file_util.h"
#include "common/status.h"
#include "common/tls/roles.h"
#include "common/write_token.h"

namespace chainfs::tls {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BigNum = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using Extension = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

constexpr int kSerialBits = 127;
constexpr int kSecretBytes = 24;

absl::Status OpenSslError(std::string_view what) {
  char text[256] = "unknown error";
  if (unsigned long code = ERR_get_error(); code != 0) ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return absl::InternalError(fmt::format("{}: {}", what, text));
}

std::string TextOf(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, size);
}

absl::StatusOr<std::string> KeyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    return OpenSslError("writing a key");
  }
  return TextOf(bio.get());
}

absl::StatusOr<std::string> CertPem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_X509(bio.get(), cert)) return OpenSslError("writing a certificate");
  return TextOf(bio.get());
}

absl::StatusOr<Key> ParseKey(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Key key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return OpenSslError("reading the CA key");
  return key;
}

absl::StatusOr<Cert> ParseCert(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Cert cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return OpenSslError("reading the CA certificate");
  return cert;
}

absl::StatusOr<Key> NewKey() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("generating an EC P-256 key");
  return key;
}

// `cert`'s extension `nid` = `value` (openssl x509v3_config syntax), issued by `issuer`.
absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Extension ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || !X509_add_ext(cert, ext.get(), -1)) {
    return OpenSslError(fmt::format("certificate extension {}", value));
  }
  return absl::OkStatus();
}

// A certificate for `key` with a random serial, subject O=chainfs, OU=`unit`, CN=`common`,
// valid from now + not_before for valid_for; not yet signed, without extensions.
absl::StatusOr<Cert> NewCertificate(EVP_PKEY* key, const std::string& unit,
                                    const std::string& common, std::chrono::seconds not_before,
                                    std::chrono::seconds valid_for) {
  Cert cert(X509_new());
  BigNum serial(BN_new());
  if (!cert || !serial || !X509_set_version(cert.get(), 2) ||
      !BN_rand(serial.get(), kSerialBits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) ||
      !X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before.count()) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), (not_before + valid_for).count()) ||
      !X509_set_pubkey(cert.get(), key)) {
    return OpenSslError("building a certificate");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  auto add = [name](const char* field, const std::string& value) {
    return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                      0) == 1;
  };
  if (!add("O", "chainfs") || !add("OU", unit) || !add("CN", common)) {
    return OpenSslError("naming a certificate");
  }
  return cert;
}

absl::StatusOr<KeyAndCert> Finish(EVP_PKEY* key, X509* cert, EVP_PKEY* signer) {
  if (!X509_sign(cert, signer, EVP_sha256())) return OpenSslError("signing a certificate");
  KeyAndCert out;
  CHAINFS_ASSIGN_OR_RETURN(out.key_pem, KeyPem(key));
  CHAINFS_ASSIGN_OR_RETURN(out.cert_pem, CertPem(cert));
  return out;
}

// "DNS:host" or "IP:address" for one name; "" for a name that cannot be either (a host
// name with a separator of the SAN syntax).
std::string SubjectAltName(const std::string& name) {
  unsigned char buffer[sizeof(in6_addr)];
  if (inet_pton(AF_INET, name.c_str(), buffer) == 1 ||
      inet_pton(AF_INET6, name.c_str(), buffer) == 1) {
    return "IP:" + name;
  }
  if (name.empty() || name.find_first_of(",: \t\n") != std::string::npos) return "";
  return "DNS:" + name;
}

}  // namespace

absl::StatusOr<KeyAndCert> NewAuthority(const std::string& name, std::chrono::seconds valid_for) {
  CHAINFS_ASSIGN_OR_RETURN(Key key, NewKey());
  CHAINFS_ASSIGN_OR_RETURN(Cert cert, NewCertificate(key.get(), "authority", name,
                                                     std::chrono::seconds(-3600), valid_for));
  if (!X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()))) {
    return OpenSslError("naming the CA");
  }
  X509* self = cert.get();
  CHAINFS_RETURN_IF_ERROR(AddExtension(self, self, NID_basic_constraints, "critical,CA:TRUE"));
  CHAINFS_RETURN_IF_ERROR(AddExtension(self, self, NID_key_usage, "critical,keyCertSign,cRLSign"));
  CHAINFS_RETURN_IF_ERROR(AddExtension(self, self, NID_subject_key_identifier, "hash"));
  return Finish(key.get(), self, key.get());
}

absl::StatusOr<KeyAndCert> Issue(const KeyAndCert& ca, const CertificateRequest& request) {
  if (request.roles.empty()) return absl::InvalidArgumentError("a certificate needs a role");
  std::string alt_names;
  for (const std::string& role : request.roles) {
    if (!IsRole(role)) {
      return absl::InvalidArgumentError(
          fmt::format("unknown role \"{}\" (one of {})", role, RoleList()));
    }
    alt_names += fmt::format("{}URI:{}{}", alt_names.empty() ? "" : ",", kRoleUriPrefix, role);
  }
  if (request.names.empty()) return absl::InvalidArgumentError("a certificate needs a name");
  for (const std::string& name : request.names) {
    const std::string alt_name = SubjectAltName(name);
    if (alt_name.empty()) return absl::InvalidArgumentError(fmt::format("bad name \"{}\"", name));
    alt_names += "," + alt_name;
  }
  CHAINFS_ASSIGN_OR_RETURN(Key ca_key, ParseKey(ca.key_pem));
  CHAINFS_ASSIGN_OR_RETURN(Cert ca_cert, ParseCert(ca.cert_pem));
  CHAINFS_ASSIGN_OR_RETURN(Key key, NewKey());
  CHAINFS_ASSIGN_OR_RETURN(Cert cert,
                           NewCertificate(key.get(), Describe(request.roles), request.names[0],
                                          request.not_before, request.valid_for));
  if (!X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()))) {
    return OpenSslError("naming the issuer");
  }
  X509* leaf = cert.get();
  X509* issuer = ca_cert.get();
  CHAINFS_RETURN_IF_ERROR(AddExtension(leaf, issuer, NID_basic_constraints, "critical,CA:FALSE"));
  CHAINFS_RETURN_IF_ERROR(AddExtension(leaf, issuer, NID_key_usage, "critical,digitalSignature"));
  CHAINFS_RETURN_IF_ERROR(AddExtension(leaf, issuer, NID_ext_key_usage, "serverAuth,clientAuth"));
  CHAINFS_RETURN_IF_ERROR(AddExtension(leaf, issuer, NID_authority_key_identifier, "keyid"));
  CHAINFS_RETURN_IF_ERROR(AddExtension(leaf, issuer, NID_subject_alt_name, alt_names));
  return Finish(key.get(), leaf, ca_key.get());
}

std::string CaCertPath(const std::string& dir) { return dir + "/ca.crt"; }
std::string CaKeyPath(const std::string& dir) { return dir + "/ca.key"; }
std::string CertPath(const std::string& dir, const std::string& name) {
  return fmt::format("{}/{}.crt", dir, name);
}
std::string KeyPath(const std::string& dir, const std::string& name) {
  return fmt::format("{}/{}.key", dir, name);
}
std::string ZkAuthPath(const std::string& dir) { return dir + "/zk-auth"; }
std::string TokenKeyPath(const std::string& dir) { return dir + "/token.key"; }

absl::Status WritePrivateFile(const std::string& path, const std::string& content, int mode) {
  CHAINFS_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(path));
  if (::fchmod(file.fd(), mode) != 0) {
    return absl::InternalError(fmt::format("chmod {}: {}", path, std::strerror(errno)));
  }
  CHAINFS_RETURN_IF_ERROR(file.Append(content));
  return file.Commit();
}

absl::Status InitDirectory(const std::string& dir, std::chrono::seconds valid_for) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(fmt::format("mkdir {}: {}", dir, std::strerror(errno)));
  }
  struct stat st;
  if (::stat(CaCertPath(dir).c_str(), &st) == 0) {
    return absl::AlreadyExistsError(fmt::format("{} already holds a CA", dir));
  }
  unsigned char secret[kSecretBytes];
  if (RAND_bytes(secret, sizeof secret) != 1) return OpenSslError("random bytes");
  std::string hex;
  for (unsigned char byte : secret) hex += fmt::format("{:02x}", byte);
  CHAINFS_ASSIGN_OR_RETURN(KeyAndCert ca, NewAuthority("chainfs cluster CA", valid_for));
  CHAINFS_RETURN_IF_ERROR(WritePrivateFile(CaKeyPath(dir), ca.key_pem, 0600));
  CHAINFS_RETURN_IF_ERROR(WritePrivateFile(ZkAuthPath(dir), "chainfs:" + hex + "\n", 0600));
  CHAINFS_RETURN_IF_ERROR(WriteTokenKey(TokenKeyPath(dir)));
  return WritePrivateFile(CaCertPath(dir), ca.cert_pem, 0644);
}

absl::Status IssueToDirectory(const std::string& dir, const std::string& file_name,
                              const CertificateRequest& request) {
  KeyAndCert ca;
  CHAINFS_ASSIGN_OR_RETURN(ca.key_pem, ReadFileToString(CaKeyPath(dir)));
  CHAINFS_ASSIGN_OR_RETURN(ca.cert_pem, ReadFileToString(CaCertPath(dir)));
  CHAINFS_ASSIGN_OR_RETURN(KeyAndCert issued, Issue(ca, request));
  CHAINFS_RETURN_IF_ERROR(WritePrivateFile(KeyPath(dir, file_name), issued.key_pem, 0600));
  return WritePrivateFile(CertPath(dir, file_name), issued.cert_pem, 0644);
}

}  // namespace chainfs::tls
