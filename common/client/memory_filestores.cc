#include "common/client/memory_filestores.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "common/client/filestore_client.h"
#include "common/client/xattr_rules.h"
#include "common/file_util.h"
#include "common/names.h"
#include "common/status.h"

namespace chainfs {
namespace {

// Adds context to the message, keeping the codes and any failed member.
absl::Status Annotate(const absl::Status& st, const std::string& what) {
  if (st.ok()) return st;
  return WithMessage(st, fmt::format("{} ({})", std::string(st.message()), what));
}

absl::Status ValidateNewVersion(int64_t version) {
  if (version <= 0) return absl::InvalidArgumentError(fmt::format("bad version {}", version));
  return absl::OkStatus();
}

}  // namespace

MemoryFileStores::MemoryFileStores(NameServerApi* nameserver) : nameserver_(nameserver) {}

MemoryFileStores::~MemoryFileStores() = default;

void MemoryFileStores::SetNameServer(NameServerApi* nameserver) {
  std::lock_guard lock(mu_);
  nameserver_ = nameserver;
}

void MemoryFileStores::SetDead(const std::string& address, bool dead) {
  std::lock_guard lock(mu_);
  stores_[address].dead = dead;
}

void MemoryFileStores::FailNext(Method method, int count, absl::Status status,
                                const std::string& address) {
  std::lock_guard lock(mu_);
  if (count > 0) failures_.push_back({method, address, count, std::move(status)});
}

void MemoryFileStores::SetHook(Hook hook) {
  std::lock_guard lock(mu_);
  hook_ = std::move(hook);
}

void MemoryFileStores::Corrupt(const std::string& address, const std::string& name) {
  std::lock_guard lock(mu_);
  auto& objects = stores_[address].objects;
  if (auto it = objects.find(name); it != objects.end()) it->second.corrupt = true;
}

void MemoryFileStores::Lose(const std::string& address, const std::string& name) {
  std::lock_guard lock(mu_);
  stores_[address].objects.erase(name);
}

void MemoryFileStores::SetMinVersion(int64_t min_version) {
  std::lock_guard lock(mu_);
  min_version_ = std::max(min_version_, min_version);
  for (auto& [address, store] : stores_) {
    std::erase_if(store.objects,
                  [&](const auto& entry) { return entry.second.info.version() < min_version_; });
  }
}

int64_t MemoryFileStores::Calls(Method method, const std::string& address) const {
  std::lock_guard lock(mu_);
  int64_t n = 0;
  for (const auto& [key, count] : calls_) {
    if (key.first == method && (address.empty() || key.second == address)) n += count;
  }
  return n;
}

std::optional<v1::FileInfo> MemoryFileStores::Lookup(const std::string& address,
                                                     const std::string& name) const {
  std::lock_guard lock(mu_);
  auto store = stores_.find(address);
  if (store == stores_.end()) return std::nullopt;
  auto it = store->second.objects.find(name);
  if (it == store->second.objects.end()) return std::nullopt;
  return it->second.info;
}

absl::StatusOr<std::string> MemoryFileStores::Content(const std::string& address,
                                                      const std::string& name) const {
  std::lock_guard lock(mu_);
  auto store = stores_.find(address);
  if (store != stores_.end()) {
    auto it = store->second.objects.find(name);
    if (it != store->second.objects.end() && !it->second.info.tombstone()) {
      return *it->second.content;
    }
  }
  return absl::NotFoundError(fmt::format("{} holds no content of {}", address, name));
}

std::vector<std::string> MemoryFileStores::Holders(const std::string& name, int64_t version) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [address, store] : stores_) {
    auto it = store.objects.find(name);
    if (it != store.objects.end() && (version == 0 || it->second.info.version() == version)) {
      out.push_back(address);
    }
  }
  return out;
}

void MemoryFileStores::Put(const std::string& address, v1::FileInfo file, std::string content) {
  if (file.tombstone()) content.clear();
  file.set_size(static_cast<int64_t>(content.size()));
  std::lock_guard lock(mu_);
  stores_[address].objects[file.name()] =
      Object{file, std::make_shared<const std::string>(std::move(content))};
}

absl::Status MemoryFileStores::Enter(Method method, const std::string& address) {
  CHAINFS_RETURN_IF_ERROR(ValidateFileStoreAddress(address));
  Hook hook;
  {
    std::lock_guard lock(mu_);
    ++calls_[{method, address}];
    if (stores_[address].dead) {
      return absl::UnavailableError(fmt::format("{} is unreachable", address));
    }
    for (auto it = failures_.begin(); it != failures_.end(); ++it) {
      if (it->method != method || (!it->address.empty() && it->address != address)) continue;
      absl::Status injected = it->status;
      if (--it->count <= 0) failures_.erase(it);
      return injected;
    }
    hook = hook_;
  }
  if (hook) return hook(method, address);
  return absl::OkStatus();
}

absl::Status MemoryFileStores::CheckNewVersionLocked(const Store& store, const std::string& name,
                                                     int64_t version) const {
  if (version < min_version_) {
    return VersionTooOld(
        fmt::format("{}@{} is below the minimum version {}", name, version, min_version_));
  }
  auto it = store.objects.find(name);
  if (it != store.objects.end() && version <= it->second.info.version()) {
    return VersionTooOld(fmt::format("{}@{} is not newer than the stored version {}", name, version,
                                     it->second.info.version()));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::FileInfo> MemoryFileStores::InstallLocked(const std::string& address,
                                                             Object object) {
  Store& store = stores_[address];
  CHAINFS_RETURN_IF_ERROR(CheckNewVersionLocked(store, object.info.name(), object.info.version()));
  v1::FileInfo info = object.info;
  store.objects[info.name()] = std::move(object);
  return info;
}

absl::Status MemoryFileStores::Report(const std::string& address, const v1::FileInfo& file,
                                      const std::vector<std::string>& also_on) {
  NameServerApi* ns;
  {
    std::lock_guard lock(mu_);
    ns = nameserver_;
  }
  if (!ns) return absl::OkStatus();
  v1::AddFileOrTombstoneRequest req;
  req.set_filestore(address);
  *req.mutable_file() = file;
  for (const std::string& member : also_on) req.add_also_on(member);
  auto reply = ns->AddFileOrTombstone(req);
  if (reply.ok() && !reply->reregister()) return absl::OkStatus();
  // The answers the real FileStore's Reporter gives.
  absl::Status st = reply.ok()
                        ? absl::UnavailableError("the NameServer asked for a new registration")
                        : reply.status();
  if (IsVersionTooOld(st)) return VersionTooOld("the NameServer refused the version");
  std::string why =
      fmt::format("the NameServer did not record the commit: {}", std::string(st.message()));
  if (st.code() == absl::StatusCode::kFailedPrecondition ||
      st.code() == absl::StatusCode::kInvalidArgument) {
    return WithMessage(st, why);
  }
  return absl::UnavailableError(why);
}

void MemoryFileStores::SetWriteTokenKey(std::string key, const Clock* clock) {
  std::lock_guard lock(mu_);
  token_key_ = std::move(key);
  token_clock_ = clock;
  token_checkers_.clear();
}

absl::Status MemoryFileStores::CheckTokens(const v1::FileInfo& file,
                                           const std::vector<std::string>& chain,
                                           std::string_view token) {
  std::lock_guard lock(mu_);
  if (token_key_.empty()) return absl::OkStatus();
  for (auto member = chain.begin(); member != chain.end(); ++member) {
    auto& checker = token_checkers_[*member];
    if (!checker) checker = std::make_unique<WriteTokenChecker>(token_key_, token_clock_);
    absl::Status st = checker->Check(token, file.name(), file.version(), {member, chain.end()});
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::CreateReply> MemoryFileStores::CreateOnChain(
    const v1::FileInfo& file, const std::vector<std::string>& chain, std::string content,
    bool forwarded, std::string_view token) {
  if (chain.empty()) return absl::InvalidArgumentError("create needs a chain of FileStores");
  const std::string what = fmt::format("create {}@{}", file.name(), file.version());
  CHAINFS_RETURN_IF_ERROR(ValidateName(file.name()));
  CHAINFS_RETURN_IF_ERROR(ValidateNewVersion(file.version()));
  CHAINFS_RETURN_IF_ERROR(ValidateEntry(file));
  CHAINFS_RETURN_IF_ERROR(ValidateContentSize(file.kind(), static_cast<int64_t>(content.size())));
  if (std::set<std::string>(chain.begin(), chain.end()).size() != chain.size()) {
    return absl::InvalidArgumentError("chain names a FileStore twice");
  }
  CHAINFS_RETURN_IF_ERROR(CheckTokens(file, chain, token));
  // Every member takes the header before anyone commits.
  for (const std::string& address : chain) {
    absl::Status st = Enter(Method::kCreate, address);
    if (st.ok()) {
      std::lock_guard lock(mu_);
      st = CheckNewVersionLocked(stores_[address], file.name(), file.version());
    }
    if (!st.ok()) return ChainMemberFailure(st, address, fmt::format("{} on {}", what, address));
  }
  Object object{file, std::make_shared<const std::string>(std::move(content))};
  object.info.set_tombstone(false);
  object.info.set_size(static_cast<int64_t>(object.content->size()));
  // Each member commits; the deepest failure is the one the head answers.
  absl::Status failed;
  v1::CreateReply reply;
  for (const std::string& address : chain) {
    absl::StatusOr<v1::FileInfo> info;
    {
      std::lock_guard lock(mu_);
      info = InstallLocked(address, object);
    }
    if (!info.ok()) {
      failed = ChainMemberFailure(info.status(), address, fmt::format("{} on {}", what, address));
      continue;
    }
    if (!reply.has_file()) *reply.mutable_file() = *info;
    reply.add_committed_on(address);
  }
  if (!failed.ok()) {
    // The copies stay; each member reports its own in the background (here at once, and a
    // failed report changes nothing).
    for (const std::string& address : reply.committed_on()) {
      Report(address, reply.file()).IgnoreError();
    }
    return failed;
  }
  if (forwarded) return reply;  // the forwarding head reports for the whole chain
  // The head reports once for the whole chain before the call returns.
  const std::string& head = chain.front();
  const std::vector<std::string> also_on(reply.committed_on().begin() + 1,
                                         reply.committed_on().end());
  CHAINFS_RETURN_IF_ERROR(ChainMemberFailure(Report(head, reply.file(), also_on), head,
                                             fmt::format("{} on {}", what, head)));
  return reply;
}

absl::StatusOr<v1::CreateReply> MemoryFileStores::Create(const v1::FileInfo& file,
                                                         const std::vector<std::string>& chain,
                                                         const ContentSource& source,
                                                         int64_t /*expected_size*/,
                                                         std::string_view token) {
  std::string content;
  std::string buf(kMaxChunkBytes, '\0');
  while (true) {
    CHAINFS_ASSIGN_OR_RETURN(size_t n, source(buf.data(), buf.size()));
    if (n == 0) break;
    content.append(buf.data(), n);
  }
  return CreateOnChain(file, chain, std::move(content), /*forwarded=*/false, token);
}

absl::StatusOr<v1::CreateReply> MemoryFileStores::CreateFromString(
    const v1::FileInfo& file, const std::vector<std::string>& chain, std::string_view content,
    bool /*allow_small*/, std::string_view token) {
  return CreateOnChain(file, chain, std::string(content), /*forwarded=*/false, token);
}

absl::StatusOr<v1::CreateReply> MemoryFileStores::CreateFromFd(
    const v1::FileInfo& file, const std::vector<std::string>& chain, int fd,
    std::string_view token) {
  std::string content;
  std::string buf(kMaxChunkBytes, '\0');
  while (true) {
    ssize_t n = PreadFull(fd, buf.data(), buf.size(), static_cast<int64_t>(content.size()));
    if (n < 0) return ErrnoStatus("read upload source", errno);
    if (n == 0) break;
    content.append(buf.data(), static_cast<size_t>(n));
  }
  return CreateOnChain(file, chain, std::move(content), /*forwarded=*/false, token);
}

absl::Status MemoryFileStores::Flush(const std::string& address, const std::string& name,
                                     int64_t version) {
  return Annotate(Enter(Method::kFlush, address),
                  fmt::format("flush {}@{} on {}", name, version, address));
}

absl::Status MemoryFileStores::Delete(const std::string& address, const std::string& name,
                                      int64_t version) {
  const std::string what = fmt::format("delete {}@{} on {}", name, version, address);
  CHAINFS_RETURN_IF_ERROR(Annotate(Enter(Method::kDelete, address), what));
  CHAINFS_RETURN_IF_ERROR(ValidateName(name));
  CHAINFS_RETURN_IF_ERROR(ValidateNewVersion(version));
  v1::FileInfo tombstone;
  tombstone.set_name(name);
  tombstone.set_version(version);
  tombstone.set_tombstone(true);
  {
    std::lock_guard lock(mu_);
    Store& store = stores_[address];
    auto it = store.objects.find(name);
    // The same tombstone again is OK (and reported again).
    if (it == store.objects.end() || !it->second.info.tombstone() ||
        it->second.info.version() != version) {
      auto installed =
          InstallLocked(address, Object{tombstone, std::make_shared<const std::string>()});
      CHAINFS_RETURN_IF_ERROR(Annotate(installed.status(), what));
    }
  }
  // The caller (the NameServer) records it; the real FileStore's report goes in the
  // background, which the twin leaves out.
  return absl::OkStatus();
}

absl::StatusOr<MemoryFileStores::Object> MemoryFileStores::OpenOn(const std::string& address,
                                                                  const std::string& name,
                                                                  int64_t version, Method method) {
  CHAINFS_RETURN_IF_ERROR(CheckRead(address, name, version, method));
  std::lock_guard lock(mu_);
  const Store& store = stores_[address];
  auto it = store.objects.find(name);
  if (it == store.objects.end() || (version != 0 && it->second.info.version() != version)) {
    return absl::NotFoundError(fmt::format("{}@{} is not held on {}", name, version, address));
  }
  return it->second;
}

absl::Status MemoryFileStores::CheckRead(const std::string& address, const std::string& name,
                                         int64_t version, Method method) {
  const std::string what = fmt::format("read {}@{} from {}", name, version, address);
  CHAINFS_RETURN_IF_ERROR(Annotate(Enter(method, address), what));
  v1::ReportBadReplicaRequest bad;
  NameServerApi* ns;
  {
    std::lock_guard lock(mu_);
    auto& objects = stores_[address].objects;
    auto it = objects.find(name);
    if (it == objects.end() || !it->second.corrupt) return absl::OkStatus();
    // A corrupt replica is not served: dropped and reported, as the real FileStore does.
    bad.set_filestore(address);
    bad.mutable_file()->set_name(name);
    bad.mutable_file()->set_version(it->second.info.version());
    objects.erase(it);
    ns = nameserver_;
  }
  if (ns) ns->ReportBadReplica(bad).IgnoreError();
  return absl::DataLossError(fmt::format("{}: checksum mismatch", what));
}

absl::StatusOr<v1::VerifyReply> MemoryFileStores::Verify(const std::string& address,
                                                         const v1::VerifyRequest& req) {
  CHAINFS_RETURN_IF_ERROR(
      Annotate(Enter(Method::kVerify, address), fmt::format("verify on {}", address)));
  for (const v1::NameVersion& f : req.files()) {
    CHAINFS_RETURN_IF_ERROR(ValidateName(f.name()));
    if (f.version() <= 0) return absl::InvalidArgumentError("bad version");
  }
  v1::VerifyReply reply;
  std::vector<v1::ReportBadReplicaRequest> bad;
  NameServerApi* ns;
  {
    std::lock_guard lock(mu_);
    ns = nameserver_;
    auto& objects = stores_[address].objects;
    for (const v1::NameVersion& f : req.files()) {
      v1::VerifyResult* r = reply.add_results();
      r->set_name(f.name());
      auto it = objects.find(f.name());
      r->set_held_version(it == objects.end() ? 0 : it->second.info.version());
      if (r->held_version() > f.version()) continue;
      r->set_present(r->held_version() == f.version());
      r->set_checksum_ok(r->present() && !it->second.corrupt);
      if (r->checksum_ok()) continue;
      r->set_problem(r->present() ? "checksum mismatch" : "missing");
      if (r->present()) objects.erase(it);
      v1::ReportBadReplicaRequest& report = bad.emplace_back();
      report.set_filestore(address);
      *report.mutable_file() = f;
    }
  }
  for (const auto& report : bad) {
    if (ns) ns->ReportBadReplica(report).IgnoreError();
  }
  return reply;
}

absl::StatusOr<v1::CopyFileReply> MemoryFileStores::CopyFile(const std::string& address,
                                                             const v1::CopyFileRequest& req) {
  const std::string what = fmt::format("copy {} to {}", req.name(), address);
  CHAINFS_RETURN_IF_ERROR(Annotate(Enter(Method::kCopyFile, address), what));
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.name()));
  if (req.version() < 0) return absl::InvalidArgumentError("bad version");
  if (req.sources().empty()) return absl::InvalidArgumentError("copy needs a source");
  v1::CopyFileReply reply;
  if (auto held = Lookup(address, req.name()); held && held->version() == req.version()) {
    *reply.mutable_file() = *held;
    return reply;
  }
  absl::StatusOr<Object> source = absl::NotFoundError(fmt::format("{}: no source", what));
  for (const std::string& from : req.sources()) {
    if (from == address) continue;
    source = OpenOn(from, req.name(), req.version());
    if (source.ok()) break;
  }
  CHAINFS_RETURN_IF_ERROR(Annotate(source.status(), what));
  {
    std::lock_guard lock(mu_);
    const auto& objects = stores_[address].objects;
    auto it = objects.find(req.name());
    if (it == objects.end() || it->second.info.version() != source->info.version()) {
      CHAINFS_RETURN_IF_ERROR(Annotate(InstallLocked(address, *source).status(), what));
    }
  }
  CHAINFS_RETURN_IF_ERROR(Annotate(Report(address, source->info), what));
  *reply.mutable_file() = source->info;
  return reply;
}

absl::StatusOr<v1::BumpVersionReply> MemoryFileStores::BumpVersion(
    const std::string& address, const v1::BumpVersionRequest& req) {
  CHAINFS_RETURN_IF_ERROR(
      Annotate(Enter(Method::kBumpVersion, address), fmt::format("bump version on {}", address)));
  CHAINFS_RETURN_IF_ERROR(ValidateNewVersion(req.new_version()));
  for (const v1::NameVersion& file : req.files()) {
    CHAINFS_RETURN_IF_ERROR(ValidateName(file.name()));
    if (file.version() < 0) return absl::InvalidArgumentError("bad version");
  }
  v1::BumpVersionReply reply;
  std::vector<v1::FileInfo> relabelled;
  {
    std::lock_guard lock(mu_);
    Store& store = stores_[address];
    for (const v1::NameVersion& file : req.files()) {
      auto it = store.objects.find(file.name());
      const int64_t stored = it == store.objects.end() ? 0 : it->second.info.version();
      const bool live = it != store.objects.end() && !it->second.info.tombstone();
      if (live && stored == file.version() && req.new_version() == stored) {
        reply.set_bumped(reply.bumped() + 1);
        continue;
      }
      if (live && stored == file.version() && req.new_version() > stored &&
          req.new_version() >= min_version_) {
        it->second.info.set_version(req.new_version());
        relabelled.push_back(it->second.info);
        reply.set_bumped(reply.bumped() + 1);
        continue;
      }
      v1::NameVersion* skipped = reply.add_skipped();
      skipped->set_name(file.name());
      skipped->set_version(stored);
    }
  }
  // Reported in the background by the real FileStore: a failed report fails nothing.
  for (const v1::FileInfo& info : relabelled) Report(address, info).IgnoreError();
  return reply;
}

absl::StatusOr<v1::CloneReply> MemoryFileStores::Clone(const std::string& address,
                                                       const v1::CloneRequest& req) {
  const std::string what =
      fmt::format("clone {}@{} on {}", req.source().name(), req.source().version(), address);
  CHAINFS_RETURN_IF_ERROR(Annotate(Enter(Method::kClone, address), what));
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.source().name()));
  CHAINFS_RETURN_IF_ERROR(ValidateNewVersion(req.source().version()));
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.target().name()));
  CHAINFS_RETURN_IF_ERROR(ValidateNewVersion(req.target().version()));
  CHAINFS_RETURN_IF_ERROR(ValidateEntry(req.target()));
  v1::CloneReply reply;
  {
    std::lock_guard lock(mu_);
    const auto& objects = stores_[address].objects;
    auto it = objects.find(req.source().name());
    if (it == objects.end() || it->second.info.version() != req.source().version()) {
      return absl::NotFoundError(fmt::format("{}: source not held", what));
    }
    if (it->second.info.tombstone()) {
      return absl::FailedPreconditionError(fmt::format("{}: source is a tombstone", what));
    }
    Object target = it->second;
    target.corrupt = false;
    target.info.set_name(req.target().name());
    target.info.set_version(req.target().version());
    *target.info.mutable_attributes() = req.target().attributes();
    auto installed = InstallLocked(address, std::move(target));
    CHAINFS_RETURN_IF_ERROR(Annotate(installed.status(), what));
    *reply.mutable_file() = *installed;
  }
  CHAINFS_RETURN_IF_ERROR(Annotate(Report(address, reply.file()), what));
  return reply;
}

std::vector<absl::Status> MemoryFileStores::DeleteOnEach(const std::vector<std::string>& addresses,
                                                         const std::string& name, int64_t version) {
  std::vector<absl::Status> out;
  for (const std::string& address : addresses) out.push_back(Delete(address, name, version));
  return out;
}

std::vector<absl::StatusOr<v1::CloneReply>> MemoryFileStores::CloneOnEach(
    const std::vector<std::string>& addresses, const v1::CloneRequest& req) {
  std::vector<absl::StatusOr<v1::CloneReply>> out;
  for (const std::string& address : addresses) out.push_back(Clone(address, req));
  return out;
}

absl::StatusOr<std::vector<v1::FileInfo>> MemoryFileStores::ListFilesAndTombstones(
    const std::string& address) {
  CHAINFS_RETURN_IF_ERROR(Annotate(Enter(Method::kList, address), fmt::format("list {}", address)));
  std::lock_guard lock(mu_);
  std::vector<v1::FileInfo> out;
  for (const auto& [name, object] : stores_[address].objects) out.push_back(object.info);
  return out;
}

}  // namespace chainfs
