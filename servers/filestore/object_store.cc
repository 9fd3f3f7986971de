#include "servers/filestore/object_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <set>

#include "common/file_util.h"
#include "common/log.h"
#include "common/status.h"
#include "servers/filestore/object_meta.pb.h"

namespace chainfs::filestore {
namespace {

constexpr int64_t kWritebackBytes = 8 << 20;
constexpr int64_t kPrefetchBytes = 8 << 20;
// O_DIRECT writes: buffer size (large writes keep the disk busy) and alignment of
// addresses, offsets and lengths.
constexpr size_t kWriteBufferBytes = 4 << 20;
constexpr size_t kDirectAlign = 4096;
constexpr size_t kMaxFreeBuffers = 8;

std::shared_ptr<spdlog::logger> Log() {
  static auto log = Logger("filestore");
  return log;
}

std::string Digest(const std::string& name) {
  XXH128_hash_t h = XXH3_128bits(name.data(), name.size());
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

absl::Status PwriteAll(int fd, const char* data, size_t size, int64_t offset,
                       const std::string& path) {
  while (size > 0) {
    ssize_t n = ::pwrite(fd, data, size, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(fmt::format("write {}", path), errno);
    }
    data += n;
    offset += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Writes a whole new file and fsyncs it.
absl::Status WriteSynced(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(fmt::format("create {}", path), errno);
  absl::Status st = PwriteAll(fd, bytes.data(), bytes.size(), 0, path);
  if (st.ok() && ::fsync(fd) != 0) st = ErrnoStatus(fmt::format("fsync {}", path), errno);
  ::close(fd);
  if (!st.ok()) ::unlink(path.c_str());
  return st;
}

void Unlink(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    Log()->warn("unlink {}: {}", path, std::strerror(errno));
  }
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix.data(), suffix.size()) == 0;
}

}  // namespace

std::string ObjectMeta::Serialize() const {
  ObjectMetaRecord record;
  v1::FileInfo unnamed = file;
  unnamed.clear_name();
  record.set_file(unnamed.SerializeAsString());
  record.set_name(file.name());
  record.set_checksum(checksum);
  record.set_block_bytes(block_bytes);
  record.mutable_block_checksums()->Add(block_checksums.begin(), block_checksums.end());
  record.set_inline_content(inline_content);
  record.set_content(content);
  return record.SerializeAsString();
}

bool ObjectMeta::Parse(const std::string& bytes) {
  ObjectMetaRecord record;
  if (!record.ParseFromString(bytes) || !file.ParseFromString(record.file())) return false;
  file.set_name(record.name());
  checksum = record.checksum();
  block_bytes = record.block_bytes();
  block_checksums.assign(record.block_checksums().begin(), record.block_checksums().end());
  inline_content = record.inline_content();
  content = std::move(*record.mutable_content());
  return true;
}

// ---------------------------------------------------------------------------------------
// ObjectWriter

ObjectWriter::ObjectWriter(ObjectStore* store, v1::FileInfo file)
    : store_(store), file_(std::move(file)), buffer_(store->TakeBuffer()) {}

ObjectWriter::~ObjectWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_path_.empty()) Unlink(temp_path_);
  if (!meta_temp_.empty()) Unlink(meta_temp_);
  store_->ReturnBuffer(buffer_);
  store_->Release(reserved_);
}

absl::Status ObjectWriter::Append(std::string_view data) {
  if (finished_) return absl::FailedPreconditionError("object writer is closed");
  CHAINFS_RETURN_IF_ERROR(store_->Reserve(static_cast<int64_t>(data.size())));
  reserved_ += static_cast<int64_t>(data.size());
  whole_.Update(data);
  for (std::string_view rest = data; !rest.empty();) {
    size_t take = std::min<size_t>(rest.size(), kBlockBytes - block_fill_);
    block_.Update(rest.substr(0, take));
    block_fill_ += static_cast<uint32_t>(take);
    if (block_fill_ == kBlockBytes) FinishBlock();
    rest.remove_prefix(take);
  }
  while (!data.empty()) {
    size_t take = std::min(data.size(), kWriteBufferBytes - fill_);
    std::memcpy(buffer_ + fill_, data.data(), take);
    fill_ += take;
    size_ += static_cast<int64_t>(take);
    data.remove_prefix(take);
    if (fill_ == kWriteBufferBytes) CHAINFS_RETURN_IF_ERROR(WriteBuffer(false));
  }
  if (!direct_ && size_ - flushed_ >= kWritebackBytes) {
    // Start writeback early so that the final fsync finds little left to do.
    ::sync_file_range(fd_, flushed_, size_ - flushed_, SYNC_FILE_RANGE_WRITE);
    flushed_ = size_;
  }
  return absl::OkStatus();
}

absl::Status ObjectWriter::OpenData() {
  temp_path_ = store_->NewTempPath(file_.name());
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
  direct_ = true;
  fd_ = ::open(temp_path_.c_str(), kFlags | O_DIRECT, 0644);
  if (fd_ < 0 && errno == EINVAL) {  // the file system has no O_DIRECT (tmpfs)
    direct_ = false;
    fd_ = ::open(temp_path_.c_str(), kFlags, 0644);
  }
  if (fd_ < 0) {
    absl::Status st = ErrnoStatus(fmt::format("create {}", temp_path_), errno);
    temp_path_.clear();
    return st;
  }
  return absl::OkStatus();
}

absl::Status ObjectWriter::WriteBuffer(bool last) {
  if (fd_ < 0) CHAINFS_RETURN_IF_ERROR(OpenData());
  const int64_t offset = size_ - static_cast<int64_t>(fill_);
  size_t whole = direct_ ? fill_ - fill_ % kDirectAlign : fill_;
  if (whole > 0) {
    CHAINFS_RETURN_IF_ERROR(PwriteAll(fd_, buffer_, whole, offset, temp_path_));
  }
  size_t tail = fill_ - whole;
  if (tail > 0) {
    // Only the last write may end off a disk block: it goes through the page cache.
    if (!last) return absl::InternalError("unaligned write before the end");
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_DIRECT);
    direct_ = false;
    CHAINFS_RETURN_IF_ERROR(
        PwriteAll(fd_, buffer_ + whole, tail, offset + static_cast<int64_t>(whole), temp_path_));
  }
  fill_ = 0;
  return absl::OkStatus();
}

void ObjectWriter::FinishBlock() {
  meta_.block_checksums.push_back(block_.Digest());
  block_.Reset();
  block_fill_ = 0;
}

absl::Status ObjectWriter::Finish(int64_t size, uint64_t checksum) {
  if (finished_) return absl::OkStatus();
  if (size != size_ || checksum != whole_.Digest()) {
    return absl::DataLossError(
        fmt::format("{}@{}: received {} bytes with checksum {:016x}, the sender announced {} "
                    "bytes with checksum {:016x}",
                    file_.name(), file_.version(), size_, whole_.Digest(), size, checksum));
  }
  if (block_fill_ > 0) FinishBlock();
  if (fd_ < 0 && size_ <= static_cast<int64_t>(kInlineBytes)) {
    meta_.inline_content = true;
    meta_.content.assign(buffer_, fill_);
    fill_ = 0;
  } else {
    CHAINFS_RETURN_IF_ERROR(WriteBuffer(true));
    if (::fsync(fd_) != 0) return ErrnoStatus(fmt::format("fsync {}", temp_path_), errno);
    ::close(fd_);
    fd_ = -1;
  }
  meta_.file = file_;
  meta_.file.set_size(size_);
  meta_.file.set_tombstone(false);
  meta_.checksum = whole_.Digest();
  meta_.block_bytes = kBlockBytes;
  std::string meta_temp = store_->NewTempPath(file_.name());
  CHAINFS_RETURN_IF_ERROR(WriteSynced(meta_temp, meta_.Serialize()));
  meta_temp_ = std::move(meta_temp);
  finished_ = true;
  return absl::OkStatus();
}

absl::StatusOr<v1::FileInfo> ObjectWriter::Commit(int64_t size, uint64_t checksum) {
  CHAINFS_RETURN_IF_ERROR(Finish(size, checksum));
  if (meta_temp_.empty()) return absl::FailedPreconditionError("object already committed");
  std::string temp = std::move(temp_path_);
  std::string meta_temp = std::move(meta_temp_);
  temp_path_.clear();
  meta_temp_.clear();
  return store_->Install(meta_, temp, -1, meta_temp);
}

// ---------------------------------------------------------------------------------------
// ObjectReader

ObjectReader::ObjectReader(std::shared_ptr<const ObjectMeta> meta, int fd, std::string content)
    : meta_(std::move(meta)), fd_(fd), content_(std::move(content)) {}

ObjectReader::~ObjectReader() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status ObjectReader::ReadBlocks(int64_t first_block, int64_t end, char* out) {
  const int64_t block = meta_->block_bytes;
  const int64_t start = first_block * block;
  const size_t total = static_cast<size_t>(end - start);
  size_t done = 0;
  if (meta_->inline_content) {
    if (static_cast<int64_t>(content_.size()) < end) {
      return absl::DataLossError(
          fmt::format("{}@{}: content is shorter than recorded", info().name(), info().version()));
    }
    std::memcpy(out, content_.data() + start, total);
    done = total;
  }
  while (done < total) {
    ssize_t n = ::pread(fd_, out + done, total - done, start + static_cast<int64_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(fmt::format("read {}", info().name()), errno);
    }
    if (n == 0) {
      return absl::DataLossError(
          fmt::format("{}@{}: content is shorter than recorded", info().name(), info().version()));
    }
    done += static_cast<size_t>(n);
  }
  for (int64_t b = first_block; b * block < end; ++b) {
    size_t len = static_cast<size_t>(std::min(block, end - b * block));
    if (b >= static_cast<int64_t>(meta_->block_checksums.size()) ||
        Checksum(std::string_view(out + (b - first_block) * block, len)) !=
            meta_->block_checksums[static_cast<size_t>(b)]) {
      return absl::DataLossError(
          fmt::format("{}@{}: checksum mismatch in block {}", info().name(), info().version(), b));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> ObjectReader::ReadAt(int64_t offset, size_t length, char* buf) {
  const int64_t size = info().size();
  if (info().tombstone() || offset < 0 || offset >= size || length == 0) return 0;
  const int64_t end = std::min<int64_t>(size, offset + static_cast<int64_t>(length));
  const int64_t block = meta_->block_bytes;
  if (block <= 0) return absl::DataLossError("object has no block size");
  if (fd_ >= 0 && end + kPrefetchBytes / 2 > prefetched_) {
    // Sequential readers find the next blocks already on their way from the disk.
    int64_t from = std::max(prefetched_, offset);
    prefetched_ = std::min(size, end + kPrefetchBytes);
    ::posix_fadvise(fd_, from, prefetched_ - from, POSIX_FADV_WILLNEED);
  }
  const int64_t first = offset / block;
  const int64_t span_end = std::min(size, (end + block - 1) / block * block);
  if (offset % block == 0 && span_end == end) {
    // Whole blocks: read straight into the caller's buffer.
    CHAINFS_RETURN_IF_ERROR(ReadBlocks(first, end, buf));
  } else {
    scratch_.resize(static_cast<size_t>(span_end - first * block));
    CHAINFS_RETURN_IF_ERROR(ReadBlocks(first, span_end, scratch_.data()));
    std::memcpy(buf, scratch_.data() + (offset - first * block), static_cast<size_t>(end - offset));
  }
  return static_cast<size_t>(end - offset);
}

// ---------------------------------------------------------------------------------------
// ObjectStore

ObjectStore::ObjectStore(ObjectStoreOptions options) : options_(std::move(options)) {}
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
  void* buffer = std::aligned_alloc(kDirectAlign, kWriteBufferBytes);
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
  std::string digest = Digest(name);
  return fmt::format("{}/objects/{}/{}-{}.{}", options_.dir, digest.substr(0, 2), digest, version,
                     meta ? "meta" : "data");
}

std::string ObjectStore::NewTempPath(const std::string& name) {
  std::string digest = Digest(name);
  uint64_t n;
  {
    std::lock_guard lock(mu_);
    n = ++temp_counter_;
  }
  return fmt::format("{}/objects/{}/{}.{}{}", options_.dir, digest.substr(0, 2), digest, n,
                     kTempSuffix);
}

absl::Status ObjectStore::Recover() {
  const std::string objects = options_.dir + "/objects";
  for (int i = 0; i < 256; ++i) {
    CHAINFS_RETURN_IF_ERROR(MakeDirectories(fmt::format("{}/{:02x}", objects, i)));
  }
  if (auto text = ReadFileToString(options_.dir + "/minver"); text.ok()) {
    min_version_ = std::strtoll(text->c_str(), nullptr, 10);
  }
  std::map<std::string, std::pair<std::shared_ptr<ObjectMeta>, std::string>> newest;
  std::vector<std::string> data_files;
  std::error_code ec;
  for (int i = 0; i < 256; ++i) {
    std::string shard = fmt::format("{}/{:02x}", objects, i);
    for (const auto& entry : std::filesystem::directory_iterator(shard, ec)) {
      std::string path = entry.path().string();
      std::string file = entry.path().filename().string();
      if (EndsWith(file, kTempSuffix)) {
        Log()->info("recovery: removing leftover {}", path);
        Unlink(path);
      } else if (EndsWith(file, ".data")) {
        data_files.push_back(path);
      } else if (EndsWith(file, ".meta")) {
        auto meta = std::make_shared<ObjectMeta>();
        auto bytes = ReadFileToString(path);
        if (!bytes.ok() || !meta->Parse(*bytes) ||
            ObjectPath(meta->file.name(), meta->file.version(), true) != path) {
          Log()->warn("recovery: removing unreadable meta {}", path);
          Unlink(path);
          continue;
        }
        if (meta->inline_content) {
          // Checked here and not kept: the index holds no content.
          bool intact = static_cast<int64_t>(meta->content.size()) == meta->file.size();
          meta->content.clear();
          meta->content.shrink_to_fit();
          if (!intact) {
            Log()->warn("recovery: {}@{} has no intact content, dropped", meta->file.name(),
                        meta->file.version());
            Unlink(path);
            continue;
          }
        }
        auto& slot = newest[meta->file.name()];
        if (slot.first && slot.first->file.version() >= meta->file.version()) {
          Unlink(path);
          continue;
        }
        if (slot.first) Unlink(slot.second);
        slot = {std::move(meta), path};
      }
    }
    if (ec) return ErrnoStatus(fmt::format("list {}", shard), ec.value());
  }
  std::set<std::string> wanted_data;
  for (auto& [name, slot] : newest) {
    const v1::FileInfo& info = slot.first->file;
    if (info.version() < min_version_) {
      Unlink(slot.second);
      continue;
    }
    if (slot.first->inline_content) {
      used_ += info.size();
    } else if (!info.tombstone()) {
      std::string data = ObjectPath(name, info.version(), false);
      struct stat st;
      if (::stat(data.c_str(), &st) != 0 || st.st_size != info.size()) {
        Log()->warn("recovery: {}@{} has no intact content, dropped", name, info.version());
        Unlink(slot.second);
        continue;
      }
      wanted_data.insert(data);
      used_ += info.size();
    }
    index_[name] = Entry{std::move(slot.first)};
  }
  for (const std::string& path : data_files) {
    if (!wanted_data.contains(path)) {
      Log()->info("recovery: removing uncommitted {}", path);
      Unlink(path);
    }
  }
  Log()->info("recovered {} objects and tombstones ({} bytes) from {}", index_.size(), used_,
              options_.dir);
  return absl::OkStatus();
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
    return absl::ResourceExhaustedError(
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
    return absl::ResourceExhaustedError(fmt::format("{}@{}: {} bytes do not fit, {} available",
                                                    file.name(), file.version(), expected_size,
                                                    bytes_available()));
  }
  v1::FileInfo info = file;
  info.set_tombstone(false);
  info.set_size(0);
  return std::unique_ptr<ObjectWriter>(new ObjectWriter(this, std::move(info)));
}

absl::StatusOr<v1::FileInfo> ObjectStore::Install(const ObjectMeta& meta,
                                                  const std::string& data_temp,
                                                  int64_t require_latest,
                                                  const std::string& synced_meta_temp) {
  const v1::FileInfo& info = meta.file;
  std::string meta_temp = synced_meta_temp;
  absl::Status st;
  if (meta_temp.empty()) {
    meta_temp = NewTempPath(info.name());
    st = WriteSynced(meta_temp, meta.Serialize());
  }
  if (!st.ok()) {
    if (!data_temp.empty()) Unlink(data_temp);
    return st;
  }
  std::string data_path = ObjectPath(info.name(), info.version(), false);
  std::string meta_path = ObjectPath(info.name(), info.version(), true);
  std::lock_guard lock(mu_);
  st = CheckVersionLocked(info.name(), info.version());
  if (st.ok() && require_latest >= 0) {
    auto it = index_.find(info.name());
    if (it == index_.end() || it->second.meta->file.version() != require_latest) {
      st = VersionTooOld(fmt::format("{}@{} was replaced meanwhile", info.name(), require_latest));
    }
  }
  if (st.ok() && !data_temp.empty() && ::rename(data_temp.c_str(), data_path.c_str()) != 0) {
    st = ErrnoStatus(fmt::format("rename {}", data_temp), errno);
  }
  if (st.ok() && ::rename(meta_temp.c_str(), meta_path.c_str()) != 0) {
    st = ErrnoStatus(fmt::format("rename {}", meta_temp), errno);
    if (!data_temp.empty()) Unlink(data_path);
  }
  if (!st.ok()) {
    Unlink(meta_temp);
    if (!data_temp.empty()) Unlink(data_temp);
    return st;
  }
  const std::string dir = std::filesystem::path(meta_path).parent_path().string();
  st = options_.fsync_directory ? options_.fsync_directory(dir) : FsyncDirectory(dir);
  if (!st.ok()) {
    // Not durable, so not committed: the name keeps its older version.
    Log()->error("commit of {}@{} failed: {}", info.name(), info.version(),
                 std::string(st.message()));
    Unlink(meta_path);
    if (!data_temp.empty()) Unlink(data_path);
    return st;
  }
  auto& entry = index_[info.name()];
  if (entry.meta) {
    used_ -= entry.meta->file.size();
    RemoveFilesLocked(*entry.meta);
  }
  auto indexed = std::make_shared<ObjectMeta>(meta);
  indexed->content.clear();
  indexed->content.shrink_to_fit();
  entry.meta = std::move(indexed);
  used_ += info.size();
  Log()->debug("committed {}@{}{}", info.name(), info.version(),
               info.tombstone() ? " (tombstone)" : "");
  return info;
}

void ObjectStore::RemoveFilesLocked(const ObjectMeta& meta) {
  Unlink(ObjectPath(meta.file.name(), meta.file.version(), true));
  if (!meta.file.tombstone() && !meta.inline_content) {
    Unlink(ObjectPath(meta.file.name(), meta.file.version(), false));
  }
}

absl::StatusOr<std::string> ObjectStore::LoadInlineLocked(const ObjectMeta& meta) const {
  std::string path = ObjectPath(meta.file.name(), meta.file.version(), true);
  CHAINFS_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
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
  if (meta->file.tombstone()) return std::unique_ptr<ObjectReader>(new ObjectReader(meta, -1));
  if (meta->inline_content) {
    CHAINFS_ASSIGN_OR_RETURN(std::string content, LoadInlineLocked(*meta));
    return std::unique_ptr<ObjectReader>(new ObjectReader(meta, -1, std::move(content)));
  }
  std::string path = ObjectPath(name, meta->file.version(), false);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(fmt::format("open {}", path), errno);
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_size != meta->file.size()) {
    ::close(fd);
    return absl::DataLossError(fmt::format("{}@{}: content size differs from the recorded size",
                                           name, meta->file.version()));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<ObjectReader>(new ObjectReader(meta, fd));
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
  std::string temp = NewTempPath(target.name());
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
      std::string from = ObjectPath(source.name(), source.version(), false);
      if (::link(from.c_str(), temp.c_str()) != 0) {
        return ErrnoStatus(fmt::format("link {}", from), errno);
      }
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
  absl::Status st = WriteFileAtomically(options_.dir + "/minver", fmt::format("{}\n", min_version));
  int dropped = 0;
  for (auto it = index_.begin(); it != index_.end();) {
    if (it->second.meta->file.version() < min_version) {
      used_ -= it->second.meta->file.size();
      RemoveFilesLocked(*it->second.meta);
      it = index_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  Log()->info("minimum version is now {}: dropped {} objects and tombstones", min_version, dropped);
  return st;
}

int64_t ObjectStore::min_version() const {
  std::lock_guard lock(mu_);
  return min_version_;
}

void ObjectStore::DropCorrupt(const std::string& name, int64_t version) {
  std::lock_guard lock(mu_);
  auto it = index_.find(name);
  if (it == index_.end() || it->second.meta->file.version() != version) return;
  Log()->warn("dropping corrupt replica {}@{}", name, version);
  used_ -= it->second.meta->file.size();
  RemoveFilesLocked(*it->second.meta);
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
