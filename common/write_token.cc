#include "common/write_token.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <utility>

#include "common/env.h"
#include "common/file_util.h"

namespace chainfs {
namespace {

constexpr std::string_view kMagic = "CW\x01";
constexpr size_t kIdBytes = 8;
constexpr size_t kMacBytes = 32;
constexpr size_t kMaxChainMembers = 255;
constexpr size_t kShortNameBytes = 48;

void PutInt64(std::string* out, int64_t v) {
  for (int i = 0; i < 8; ++i)
    out->push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff));
}

// Reads fixed-size fields off the front of a token; any overrun fails the whole parse.
class Cursor {
 public:
  explicit Cursor(std::string_view data) : data_(data) {}
  bool Take(size_t n, std::string_view* out) {
    if (data_.size() < n) return false;
    *out = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }
  bool TakeInt(size_t bytes, uint64_t* v) {
    std::string_view raw;
    if (!Take(bytes, &raw)) return false;
    *v = 0;
    for (size_t i = 0; i < bytes; ++i) *v |= uint64_t{static_cast<uint8_t>(raw[i])} << (8 * i);
    return true;
  }
  size_t left() const { return data_.size(); }

 private:
  std::string_view data_;
};

absl::Status Denied(std::string_view path, int64_t version, std::string_view why) {
  return absl::PermissionDeniedError(
      fmt::format("write token refused for {}@{}: {}", ShortName(path), version, why));
}

}  // namespace

TokenKey::TokenKey(std::string_view key) {
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  ctx_ = hmac ? EVP_MAC_CTX_new(hmac) : nullptr;
  EVP_MAC_free(hmac);  // the context keeps its own reference
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  if (ctx_ && EVP_MAC_init(ctx_, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                           params) != 1) {
    EVP_MAC_CTX_free(std::exchange(ctx_, nullptr));
  }
}

TokenKey::~TokenKey() { EVP_MAC_CTX_free(ctx_); }

std::string TokenKey::Mac(std::string_view body, int64_t version, std::string_view path) const {
  // A MAC that could not be computed is empty, and matches no token.
  EVP_MAC_CTX* ctx = ctx_ ? EVP_MAC_CTX_dup(ctx_) : nullptr;
  if (!ctx) return "";
  std::string tail;
  PutInt64(&tail, version);
  tail.append(path);
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t len = 0;
  const bool ok =
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(body.data()), body.size()) == 1 &&
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(tail.data()), tail.size()) == 1 &&
      EVP_MAC_final(ctx, mac, &len, sizeof mac) == 1;
  EVP_MAC_CTX_free(ctx);
  if (!ok) return "";
  return std::string(reinterpret_cast<const char*>(mac), len);
}

std::string ShortName(std::string_view name) {
  if (name.size() <= kShortNameBytes) return std::string(name);
  return std::string(name.substr(0, kShortNameBytes)) + "...";
}

absl::Status WriteTokenKey(const std::string& path) {
  std::string key(kWriteTokenKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    return absl::InternalError("no random bytes for a write token key");
  }
  // Written whole under a temp name, then linked into place: the key appears whole or not at
  // all, and an existing key is never replaced.
  Env* env = Env::Default();
  const std::string temp = path + std::string(kTempSuffix);
  {
    auto file = env->Open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (!file.ok()) return file.status();
    absl::Status st = (*file)->WriteAt(key, 0);
    if (st.ok()) st = (*file)->Sync();
    if (!st.ok()) {
      env->Unlink(temp).IgnoreError();
      return st;
    }
  }
  absl::Status linked = env->Link(temp, path);
  env->Unlink(temp).IgnoreError();
  if (!linked.ok()) return linked;
  return env->SyncDirectory(DirOf(path));
}

absl::StatusOr<std::string> ReadTokenKey(const std::string& path) {
  absl::StatusOr<std::string> key = ReadFileToString(path);
  if (!key.ok()) return key.status();
  if (key->size() != kWriteTokenKeyBytes) {
    return absl::InvalidArgumentError(fmt::format("write token key {} has {} bytes, not {}", path,
                                                  key->size(), kWriteTokenKeyBytes));
  }
  return key;
}

std::string SignWriteToken(std::string_view key, const WriteGrant& grant) {
  return SignWriteToken(TokenKey(key), grant);
}

std::string SignWriteToken(const TokenKey& key, const WriteGrant& grant) {
  std::string token(kMagic);
  PutInt64(&token, static_cast<int64_t>(grant.id));
  PutInt64(&token, grant.expiry_wall_ns);
  const size_t members = std::min(grant.chain.size(), kMaxChainMembers);
  token.push_back(static_cast<char>(members));
  for (size_t i = 0; i < members; ++i) {
    const std::string& member = grant.chain[i];
    const size_t len = std::min<size_t>(member.size(), 0xffff);
    token.push_back(static_cast<char>(len & 0xff));
    token.push_back(static_cast<char>(len >> 8));
    token.append(member, 0, len);
  }
  token += key.Mac(token, grant.version, grant.path);
  return token;
}

absl::Status VerifyWriteToken(std::string_view key, std::string_view token, std::string_view path,
                              int64_t version, const std::vector<std::string>& chain_tail,
                              int64_t now_wall_ns, uint64_t* id, int64_t* expiry_wall_ns) {
  return VerifyWriteToken(TokenKey(key), token, path, version, chain_tail, now_wall_ns, id,
                          expiry_wall_ns);
}

absl::Status VerifyWriteToken(const TokenKey& key, std::string_view token, std::string_view path,
                              int64_t version, const std::vector<std::string>& chain_tail,
                              int64_t now_wall_ns, uint64_t* id, int64_t* expiry_wall_ns) {
  if (token.empty()) return Denied(path, version, "no token");
  if (token.size() < kMagic.size() + kIdBytes + 8 + 1 + kMacBytes) {
    return Denied(path, version, "malformed token");
  }
  const std::string_view body = token.substr(0, token.size() - kMacBytes);
  const std::string_view mac = token.substr(body.size());
  // The signature first: nothing in an unsigned token is believed.
  const std::string expected = key.Mac(body, version, path);
  if (expected.size() != kMacBytes || CRYPTO_memcmp(expected.data(), mac.data(), kMacBytes) != 0) {
    return Denied(path, version, "bad signature, or another path or version");
  }
  Cursor in(body);
  std::string_view magic;
  uint64_t token_id = 0, expiry = 0, members = 0;
  if (!in.Take(kMagic.size(), &magic) || magic != kMagic || !in.TakeInt(kIdBytes, &token_id) ||
      !in.TakeInt(8, &expiry) || !in.TakeInt(1, &members)) {
    return Denied(path, version, "malformed token");
  }
  std::vector<std::string_view> chain;
  for (uint64_t i = 0; i < members; ++i) {
    uint64_t len = 0;
    std::string_view member;
    if (!in.TakeInt(2, &len) || !in.Take(len, &member))
      return Denied(path, version, "malformed token");
    chain.push_back(member);
  }
  if (in.left() != 0) return Denied(path, version, "malformed token");
  if (chain_tail.empty() || chain_tail.size() > chain.size() ||
      !std::equal(chain_tail.begin(), chain_tail.end(), chain.end() - chain_tail.size())) {
    return Denied(path, version, "signed for another chain");
  }
  if (now_wall_ns >= static_cast<int64_t>(expiry)) return Denied(path, version, "expired");
  if (id) *id = token_id;
  if (expiry_wall_ns) *expiry_wall_ns = static_cast<int64_t>(expiry);
  return absl::OkStatus();
}

WriteTokenSigner::WriteTokenSigner(std::string_view key, Duration lifetime, const Clock* clock)
    : key_(key), lifetime_(lifetime), clock_(clock) {
  uint64_t start = 0;
  // Without random bytes the ids start at 0: still one-time per member within this signer.
  RAND_bytes(reinterpret_cast<unsigned char*>(&start), sizeof start);
  next_id_ = start;
}

std::string WriteTokenSigner::Sign(std::string_view path, int64_t version,
                                   const std::vector<std::string>& chain) const {
  return SignWriteToken(key_, {.path = std::string(path),
                               .version = version,
                               .chain = chain,
                               .expiry_wall_ns = clock_->WallNanos() + lifetime_.count(),
                               .id = next_id_++});
}

WriteTokenChecker::WriteTokenChecker(std::string_view key, const Clock* clock)
    : key_(key), clock_(clock) {}

absl::Status WriteTokenChecker::Check(std::string_view token, std::string_view path,
                                      int64_t version, const std::vector<std::string>& chain_tail) {
  const int64_t now = clock_->WallNanos();
  uint64_t id = 0;
  int64_t expiry = 0;
  absl::Status st = VerifyWriteToken(key_, token, path, version, chain_tail, now, &id, &expiry);
  if (!st.ok()) return st;
  std::lock_guard lock(mu_);
  // Expired ids go first: their tokens are refused as expired anyway.
  while (!by_age_.empty() && by_age_.front().first <= now) {
    accepted_.erase(by_age_.front().second);
    by_age_.pop_front();
  }
  if (!accepted_.insert(id).second) return Denied(path, version, "token already used");
  by_age_.emplace_back(expiry, id);
  return absl::OkStatus();
}

size_t WriteTokenChecker::remembered() const {
  std::lock_guard lock(mu_);
  return accepted_.size();
}

}  // namespace chainfs

namespace chainfs {

absl::StatusOr<std::string> DaemonTokenKey(const std::string& path, spdlog::logger& log) {
  if (path.empty()) {
    log.warn(
        "WRITE TOKENS ARE OFF: no --token-key-file, so any client that reaches a FileStore may "
        "write any name there");
    return std::string();
  }
  absl::StatusOr<std::string> key = ReadTokenKey(path);
  if (key.ok()) log.info("write tokens on (key {})", path);
  return key;
}

}  // namespace chainfs
