#include "servers/filestore/object_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/statvfs.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdlib>
#include <new>

#include "common/status.h"
#include "servers/filestore/object_store_internal.h"

namespace chainfs::filestore {
namespace {

constexpr size_t kMaxFreeBuffers = 8;

}  // namespace

std::string internal::Digest(const std::string& name) {
  XXH128_hash_t h = XXH3_128bits(name.data(), name.size());
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

ObjectStore::ObjectStore(ObjectStoreOptions options)
    : options_(std::move(options)),
      env_(options_.env ? options_.env : Env::Default()),
      clock_(options_.clock ? options_.clock : SystemClock::Get()),
      metrics_(options_.registry) {}
ObjectStore::~ObjectStore() {
  for (char* buffer : free_buffers_) std::free(buffer);
}

char* ObjectStore::TakeBuffer() {
  {
    std::lock_guard lock(mu_);
    if (!free_buffers_.empty()) {
      char* buffer = free_buffers_.back();
      free_buffers_.pop_back();
      return buffer;
    }
  }
  void* buffer = std::aligned_alloc(internal::kDirectAlign, internal::kWriteBufferBytes);
  if (buffer == nullptr) throw std::bad_alloc();
  return static_cast<char*>(buffer);
}

void ObjectStore::ReturnBuffer(char* buffer) {
  std::lock_guard lock(mu_);
  if (free_buffers_.size() < kMaxFreeBuffers) {
    free_buffers_.push_back(buffer);
  } else {
    std::free(buffer);
  }
}

absl::StatusOr<std::unique_ptr<ObjectStore>> ObjectStore::Open(const ObjectStoreOptions& options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("no data directory");
  std::unique_ptr<ObjectStore> store(new ObjectStore(options));
  CHAINFS_RETURN_IF_ERROR(store->Recover());
  return store;
}

std::string ObjectStore::ObjectPath(const std::string& name, int64_t version, bool meta) const {
  std::string digest = internal::Digest(name);
  return fmt::format("{}/objects/{}/{}-{}.{}", options_.dir, digest.substr(0, 2), digest, version,
                     meta ? "meta" : "data");
}

absl::StatusOr<std::string> ObjectStore::NewTempPath(const std::string& name) {
  const std::string digest = internal::Digest(name);
  const std::string prefix = digest.substr(0, 2);
  const std::string objects = options_.dir + "/objects";
  uint64_t n;
  bool shard_made;
  {
    std::lock_guard lock(mu_);
    n = ++temp_counter_;
    shard_made = shards_.contains(prefix);
  }
  if (!shard_made) {
    // A shard directory is made when first needed, and made durable before anything in it
    // can be committed.
    CHAINFS_RETURN_IF_ERROR(env_->MakeDirectories(fmt::format("{}/{}", objects, prefix)));
    CHAINFS_RETURN_IF_ERROR(env_->SyncDirectory(objects));
    std::lock_guard lock(mu_);
    shards_.insert(prefix);
  }
  return fmt::format("{}/{}/{}.{}{}", objects, prefix, digest, n, kTempSuffix);
}

absl::Status ObjectStore::CheckVersionLocked(const std::string& name, int64_t version) const {
  if (version < min_version_) {
    return VersionTooOld(
        fmt::format("{}@{} is below the minimum version {}", name, version, min_version_));
  }
  auto it = index_.find(name);
  if (it != index_.end() && version <= it->second.meta->file.version()) {
    return VersionTooOld(fmt::format("{}@{} is not newer than the stored version {}", name, version,
                                     it->second.meta->file.version()));
  }
  return absl::OkStatus();
}

absl::Status ObjectStore::Reserve(int64_t bytes) {
  std::lock_guard lock(mu_);
  if (options_.capacity > 0 && used_ + reserved_ + bytes > options_.capacity) {
    return Error(v1::ERROR_NO_SPACE,
                 fmt::format("capacity of {} bytes reached", options_.capacity));
  }
  reserved_ += bytes;
  return absl::OkStatus();
}

void ObjectStore::Release(int64_t bytes) {
  std::lock_guard lock(mu_);
  reserved_ -= bytes;
}

absl::StatusOr<std::unique_ptr<ObjectWriter>> ObjectStore::StartCreate(const v1::FileInfo& file,
                                                                       int64_t expected_size) {
  {
    std::lock_guard lock(mu_);
    CHAINFS_RETURN_IF_ERROR(CheckVersionLocked(file.name(), file.version()));
  }
  if (expected_size > bytes_available()) {
    return Error(v1::ERROR_NO_SPACE, fmt::format("{} bytes do not fit, {} available", expected_size,
                                                 bytes_available()));
  }
  v1::FileInfo info = file;
  info.set_tombstone(false);
  info.set_size(0);
  return std::unique_ptr<ObjectWriter>(new ObjectWriter(this, std::move(info)));
}

absl::StatusOr<AtomicFile> ObjectStore::WriteMeta(const ObjectMeta& meta) {
  CHAINFS_ASSIGN_OR_RETURN(std::string temp, NewTempPath(meta.file.name()));
  CHAINFS_ASSIGN_OR_RETURN(
      AtomicFile file,
      AtomicFile::Create(ObjectPath(meta.file.name(), meta.file.version(), true), env_, temp));
  CHAINFS_RETURN_IF_ERROR(file.Append(meta.Serialize()));
  if (SyncsEachCommit()) CHAINFS_RETURN_IF_ERROR(file.Sync());
  return file;
}

void ObjectStore::RemoveFile(const std::string& path) {
  if (absl::Status st = env_->Unlink(path); !st.ok() && !absl::IsNotFound(st)) {
    internal::Log()->warn("{}", std::string(st.message()));
  }
}

absl::StatusOr<v1::FileInfo> ObjectStore::Install(const ObjectMeta& meta,
                                                  const std::string& data_temp,
                                                  int64_t require_latest, AtomicFile* meta_file) {
  const v1::FileInfo& info = meta.file;
  std::optional<AtomicFile> written;
  if (meta_file == nullptr) {
    absl::StatusOr<AtomicFile> file = WriteMeta(meta);
    if (!file.ok()) {
      if (!data_temp.empty()) RemoveFile(data_temp);
      return file.status();
    }
    meta_file = &written.emplace(std::move(*file));
  }
  const std::string data_path = ObjectPath(info.name(), info.version(), false);
  const std::string meta_path = meta_file->path();
  std::lock_guard lock(mu_);
  absl::Status st = CheckVersionLocked(info.name(), info.version());
  if (st.ok() && !flush_error_.ok()) {
    // Replicated mode whose flushes fail: acknowledging would promise what the disk refuses.
    st = absl::UnavailableError(
        fmt::format("flushes to disk are failing: {}", std::string(flush_error_.message())));
  }
  if (st.ok() && require_latest >= 0) {
    auto it = index_.find(info.name());
    if (it == index_.end() || it->second.meta->file.version() != require_latest) {
      st = VersionTooOld(fmt::format("{}@{} was replaced meanwhile", info.name(), require_latest));
    }
  }
  // data temp -> data, then the meta: the commit point. A failed step removes what it put in
  // place; the meta's temp file goes with meta_file.
  bool data_renamed = false;
  if (st.ok() && !data_temp.empty()) {
    st = env_->Rename(data_temp, data_path);
    data_renamed = st.ok();
  }
  if (st.ok()) st = meta_file->Commit(/*sync_dir=*/false, /*sync=*/SyncsEachCommit());
  if (st.ok() && SyncsEachCommit()) {
    st = env_->SyncDirectory(DirOf(meta_path));
    // Not durable, so not committed: the name keeps its older version.
    if (!st.ok()) RemoveFile(meta_path);
  }
  if (!st.ok()) {
    if (!data_temp.empty()) RemoveFile(data_renamed ? data_path : data_temp);
    if (!IsVersionTooOld(st)) {
      internal::Log()->error("commit of {}@{} failed: {}", info.name(), info.version(),
                             std::string(st.message()));
    }
    return st;
  }
  if (!SyncsEachCommit()) ++unflushed_;
  auto& entry = index_[info.name()];
  if (entry.meta) {
    Account(entry.meta->file, -1);
    // Replicated mode: the older version stays on disk until this commit is flushed, so a
    // power loss before that finds the older one whole when the newer one is not.
    if (SyncsEachCommit()) {
      RemoveObjectFiles(*entry.meta);
    } else {
      retired_.push_back(entry.meta);
    }
  }
  auto indexed = std::make_shared<ObjectMeta>(meta);
  indexed->content.clear();
  indexed->content.shrink_to_fit();
  entry.meta = std::move(indexed);
  Account(info, +1);
  internal::Log()->debug("committed {}@{}{}", info.name(), info.version(),
                         info.tombstone() ? " (tombstone)" : "");
  return info;
}

void ObjectStore::RemoveObjectFiles(const ObjectMeta& meta) {
  RemoveFile(ObjectPath(meta.file.name(), meta.file.version(), true));
  if (!meta.file.tombstone() && !meta.inline_content) {
    RemoveFile(ObjectPath(meta.file.name(), meta.file.version(), false));
  }
}

absl::StatusOr<std::string> ObjectStore::LoadInlineLocked(const ObjectMeta& meta) const {
  std::string path = ObjectPath(meta.file.name(), meta.file.version(), true);
  CHAINFS_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path, env_));
  ObjectMeta stored;
  if (!stored.Parse(bytes) || !stored.inline_content ||
      static_cast<int64_t>(stored.content.size()) != meta.file.size()) {
    return absl::DataLossError(fmt::format("{}@{}: inline content differs from the recorded size",
                                           meta.file.name(), meta.file.version()));
  }
  return std::move(stored.content);
}

absl::StatusOr<v1::FileInfo> ObjectStore::AddTombstone(const std::string& name, int64_t version) {
  {
    std::lock_guard lock(mu_);
    auto it = index_.find(name);
    if (it != index_.end() && it->second.meta->file.tombstone() &&
        it->second.meta->file.version() == version) {
      return it->second.meta->file;
    }
    CHAINFS_RETURN_IF_ERROR(CheckVersionLocked(name, version));
  }
  ObjectMeta meta;
  meta.file.set_name(name);
  meta.file.set_version(version);
  meta.file.set_tombstone(true);
  return Install(meta, "");
}

absl::StatusOr<std::unique_ptr<ObjectReader>> ObjectStore::OpenObject(const std::string& name,
                                                                      int64_t version) {
  std::lock_guard lock(mu_);
  auto it = index_.find(name);
  if (it == index_.end() || (version != 0 && it->second.meta->file.version() != version)) {
    return absl::NotFoundError(fmt::format("{}@{} is not held here", name, version));
  }
  const auto& meta = it->second.meta;
  if (meta->file.tombstone()) {
    return std::unique_ptr<ObjectReader>(new ObjectReader(meta, nullptr));
  }
  if (meta->inline_content) {
    CHAINFS_ASSIGN_OR_RETURN(std::string content, LoadInlineLocked(*meta));
    return std::unique_ptr<ObjectReader>(new ObjectReader(meta, nullptr, std::move(content)));
  }
  CHAINFS_ASSIGN_OR_RETURN(std::unique_ptr<File> data,
                           env_->Open(ObjectPath(name, meta->file.version(), false), O_RDONLY));
  absl::StatusOr<int64_t> size = data->Size();
  if (!size.ok() || *size != meta->file.size()) {
    return absl::DataLossError(fmt::format("{}@{}: content size differs from the recorded size",
                                           name, meta->file.version()));
  }
  ::posix_fadvise(data->fd(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<ObjectReader>(new ObjectReader(meta, std::move(data)));
}

std::optional<v1::FileInfo> ObjectStore::Lookup(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = index_.find(name);
  if (it == index_.end()) return std::nullopt;
  return it->second.meta->file;
}

std::vector<v1::FileInfo> ObjectStore::List() const {
  std::lock_guard lock(mu_);
  std::vector<v1::FileInfo> out;
  out.reserve(index_.size());
  for (const auto& [name, entry] : index_) out.push_back(entry.meta->file);
  return out;
}

absl::StatusOr<bool> ObjectStore::Bump(const std::string& name, int64_t expected,
                                       int64_t new_version, int64_t* stored_version) {
  ObjectMeta meta;
  {
    std::lock_guard lock(mu_);
    auto it = index_.find(name);
    *stored_version = it == index_.end() ? 0 : it->second.meta->file.version();
    if (it == index_.end() || it->second.meta->file.tombstone() || *stored_version != expected) {
      return false;
    }
    if (new_version == expected) return true;
    if (new_version < expected) return false;
    meta = *it->second.meta;
  }
  v1::FileInfo target = meta.file;
  target.set_version(new_version);
  v1::NameVersion source;
  source.set_name(name);
  source.set_version(expected);
  auto cloned = Clone(source, target);
  if (!cloned.ok()) {
    if (IsVersionTooOld(cloned.status()) || cloned.status().code() == absl::StatusCode::kNotFound) {
      return false;
    }
    return cloned.status();
  }
  return true;
}

absl::StatusOr<v1::FileInfo> ObjectStore::Clone(const v1::NameVersion& source,
                                                const v1::FileInfo& target) {
  ObjectMeta meta;
  CHAINFS_ASSIGN_OR_RETURN(std::string temp, NewTempPath(target.name()));
  {
    std::lock_guard lock(mu_);
    auto it = index_.find(source.name());
    if (it == index_.end() || it->second.meta->file.version() != source.version()) {
      return absl::NotFoundError(
          fmt::format("{}@{} is not held here", source.name(), source.version()));
    }
    if (it->second.meta->file.tombstone()) {
      return absl::FailedPreconditionError(
          fmt::format("{}@{} is a tombstone", source.name(), source.version()));
    }
    CHAINFS_RETURN_IF_ERROR(CheckVersionLocked(target.name(), target.version()));
    meta = *it->second.meta;
    if (meta.inline_content) {
      CHAINFS_ASSIGN_OR_RETURN(meta.content, LoadInlineLocked(meta));
      temp.clear();
    } else {
      CHAINFS_RETURN_IF_ERROR(env_->Link(ObjectPath(source.name(), source.version(), false), temp));
    }
  }
  v1::FileInfo* file = &meta.file;
  file->set_name(target.name());
  file->set_version(target.version());
  *file->mutable_attributes() = target.attributes();
  return Install(meta, temp, target.name() == source.name() ? source.version() : -1);
}

absl::Status ObjectStore::SetMinVersion(int64_t min_version) {
  std::lock_guard lock(mu_);
  if (min_version <= min_version_) return absl::OkStatus();
  min_version_ = min_version;
  absl::Status st =
      WriteFileAtomically(options_.dir + "/minver", fmt::format("{}\n", min_version), env_);
  int dropped = 0;
  for (auto it = index_.begin(); it != index_.end();) {
    if (it->second.meta->file.version() < min_version) {
      Account(it->second.meta->file, -1);
      RemoveObjectFiles(*it->second.meta);
      it = index_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  internal::Log()->info("minimum version is now {}: dropped {} objects and tombstones", min_version,
                        dropped);
  return st;
}

int64_t ObjectStore::min_version() const {
  std::lock_guard lock(mu_);
  return min_version_;
}

ObjectStore::Counts ObjectStore::CountObjects() const {
  std::lock_guard lock(mu_);
  const auto entries = static_cast<int64_t>(index_.size());
  return {.objects = entries - tombstones_, .tombstones = tombstones_};
}

void ObjectStore::Account(const v1::FileInfo& file, int sign) {
  used_ += sign * file.size();
  tombstones_ += file.tombstone() ? sign : 0;
}

void ObjectStore::DropCorrupt(const std::string& name, int64_t version) {
  std::lock_guard lock(mu_);
  auto it = index_.find(name);
  if (it == index_.end() || it->second.meta->file.version() != version) return;
  internal::Log()->warn("dropping corrupt replica {}@{}", name, version);
  metrics_.checksum_failures.Increment();
  Account(it->second.meta->file, -1);
  RemoveObjectFiles(*it->second.meta);
  index_.erase(it);
}

int64_t ObjectStore::bytes_used() const {
  std::lock_guard lock(mu_);
  return used_;
}

int64_t ObjectStore::bytes_available() const {
  {
    std::lock_guard lock(mu_);
    if (options_.capacity > 0) return std::max<int64_t>(0, options_.capacity - used_ - reserved_);
  }
  struct statvfs vfs;
  if (::statvfs(options_.dir.c_str(), &vfs) != 0) return 0;
  return static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);
}

}  // namespace chainfs::filestore
