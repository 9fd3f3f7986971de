// Write tokens, after HDFS's block access tokens: doCreate hands the client a short-lived
// token that the NameServer signed (HMAC-SHA256 with a secret key every NameServer and
// FileStore reads from --token-key-file) for one path, version and chain; every chain member
// verifies it before it accepts a byte, so a client can write only what the NameServer
// handed out. Each token carries an id; a member refuses an id it has already accepted
// (remembered until the token expires). Signing and checking cost a few microseconds each.
//
// A token is opaque bytes to everyone but this file:
//   "CW\x01" | id (uint64 LE: the signer's random start plus a count) | expiry (int64 LE,
//   wall-clock ns) | chain count (1 byte) | per member: length (uint16 LE), host:port | HMAC-SHA256
//   (32 bytes)
// The HMAC covers everything before it plus the version (int64 LE) and the path, which the
// token does not carry (the create header does). The chain is carried, so a member in the
// middle, which knows only its own part of the chain, can check the whole signature.
//
// Expiry is wall-clock time (Clock::WallNanos) because it crosses machines: the clocks of
// NameServers and FileStores must agree within a small part of the lifetime (NTP does). A
// token must be valid when the stream *starts* at each member; a stream that started in
// time may run as long as the stream timeout allows.
#pragma once

#include <openssl/types.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/log.h"

namespace chainfs {

// The length of the shared secret, in bytes.
inline constexpr size_t kWriteTokenKeyBytes = 32;
// How long a token is good for after doCreate. A member checks it when the stream starts
// there (a second after doCreate, normally), so the length of the upload does not count;
// what does is the clocks' disagreement, which this tolerates as Kerberos does (5 min).
// Each member remembers the ids it accepted this long (about 50 bytes each).
inline constexpr Duration kDefaultWriteTokenLifetime = std::chrono::minutes(5);

// What a token grants: one version of one path, on one chain (head first), until `expiry`.
// `id` tells tokens apart (WriteTokenSigner gives each its own).
struct WriteGrant {
  std::string path;
  int64_t version = 0;
  std::vector<std::string> chain;
  int64_t expiry_wall_ns = 0;
  uint64_t id = 0;
};

// HMAC-SHA256 under one key, set up once: OpenSSL's setup of a MAC costs more than the MAC.
class TokenKey {
 public:
  explicit TokenKey(std::string_view key);
  ~TokenKey();
  TokenKey(const TokenKey&) = delete;
  TokenKey& operator=(const TokenKey&) = delete;
  // The MAC of body, version and path (thread-safe).
  std::string Mac(std::string_view body, int64_t version, std::string_view path) const;

 private:
  EVP_MAC_CTX* ctx_;  // keyed; each Mac works on a copy
};

// Creates `path` holding a fresh random key, mode 0600 (crash-safely; refuses to replace an
// existing file). What `chainfs certs init` calls.
absl::Status WriteTokenKey(const std::string& path);
// The key in `path`: exactly kWriteTokenKeyBytes bytes, else an error that says why.
absl::StatusOr<std::string> ReadTokenKey(const std::string& path);

// A token for `grant`, signed with `key`.
std::string SignWriteToken(const TokenKey& key, const WriteGrant& grant);
std::string SignWriteToken(std::string_view key, const WriteGrant& grant);

// OK when `token` was signed with `key` for `path`@`version` on a chain that ends with
// `chain_tail` (this member and those after it; the whole chain at the head) and has not
// expired at `now_wall_ns`. Otherwise PERMISSION_DENIED with a short reason. `id` (when
// given) receives the token's id, and `expiry_wall_ns` its expiry.
absl::Status VerifyWriteToken(const TokenKey& key, std::string_view token, std::string_view path,
                              int64_t version, const std::vector<std::string>& chain_tail,
                              int64_t now_wall_ns, uint64_t* id = nullptr,
                              int64_t* expiry_wall_ns = nullptr);
absl::Status VerifyWriteToken(std::string_view key, std::string_view token, std::string_view path,
                              int64_t version, const std::vector<std::string>& chain_tail,
                              int64_t now_wall_ns, uint64_t* id = nullptr,
                              int64_t* expiry_wall_ns = nullptr);

// The NameServer's side: signs grants that expire `lifetime` after the clock's wall time.
// Ids are a random start plus a count, so two signers (a NameServer and its successor) never
// meet in practice. Thread-safe.
class WriteTokenSigner {
 public:
  WriteTokenSigner(std::string_view key, Duration lifetime, const Clock* clock);
  std::string Sign(std::string_view path, int64_t version,
                   const std::vector<std::string>& chain) const;

 private:
  const TokenKey key_;
  const Duration lifetime_;
  const Clock* const clock_;
  mutable std::atomic<uint64_t> next_id_;
};

// A FileStore's side: VerifyWriteToken on the clock's wall time, and the ids it accepted
// until they expire, so that a token is used once per member. Thread-safe.
class WriteTokenChecker {
 public:
  WriteTokenChecker(std::string_view key, const Clock* clock);
  // OK once: a verified token whose id this checker has not accepted before (and now has).
  absl::Status Check(std::string_view token, std::string_view path, int64_t version,
                     const std::vector<std::string>& chain_tail);
  // Ids remembered now (for tests of the bound).
  size_t remembered() const;

 private:
  const TokenKey key_;
  const Clock* const clock_;
  mutable std::mutex mu_;
  std::unordered_set<uint64_t> accepted_;
  // (expiry, id) in the order accepted. Expiries come nearly in order (doCreate time plus one
  // lifetime), so forgetting from the front frees each id about when it expires.
  std::deque<std::pair<int64_t, uint64_t>> by_age_;
};

// A daemon's --token-key-file: the key, or "" when `path` is empty, which turns the check
// (FileStore) or the signing (NameServer) off and logs one loud warning on `log` saying so.
absl::StatusOr<std::string> DaemonTokenKey(const std::string& path, spdlog::logger& log);

// "/very/long/pa…" : a client-supplied name cut for log lines and error messages.
std::string ShortName(std::string_view name);

}  // namespace chainfs
