// The object store's durability (DESIGN.md "Durability"): in replicated mode, the group flush
// (one syncfs(2) of the data directory's file system for every commit since the last flush,
// through the Env so that FaultEnv sees it); the flush record <dir>/flushed ("<wall ns when the
// last completed flush started> running|clean"; none in sync mode, where every commit is
// durable by itself); and start-up verification of what the last completed flush may not
// have covered.
//
// Which objects a flush covers: FlushCommitted notes the wall time T, then syncs; every
// commit renamed into place before T is durable once that flush completes. A commit renamed
// after T changes its meta's ctime after T (rename updates it), so after an unclean stop every
// meta whose ctime is not below T (less a slack for the kernel's coarse file clock) is
// verified. Verifying more than needed is harmless; so is a record lost to a power loss (it
// is written without an fsync, made durable by the next flush): the older one verifies more.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "common/status.h"
#include "servers/filestore/object_store.h"
#include "servers/filestore/object_store_internal.h"

namespace chainfs::filestore {
namespace {

constexpr char kMarkerName[] = "flushed";
constexpr char kClean[] = "clean";
constexpr char kRunning[] = "running";
// File times come from the kernel's coarse clock, a little behind the wall clock: a meta
// changed up to this long before the recorded flush start is verified too.
constexpr int64_t kFileTimeSlackNs = 2'000'000'000;

std::string MarkerPath(const std::string& dir) { return fmt::format("{}/{}", dir, kMarkerName); }

// The content of `meta` (inline, or in the file at data_path) against its block and whole
// checksums.
absl::Status CheckContent(const ObjectMeta& meta, Env* env, const std::string& data_path) {
  if (meta.file.tombstone()) return absl::OkStatus();
  const int64_t size = meta.file.size();
  const int64_t block = meta.block_bytes;
  if (block <= 0 ||
      static_cast<int64_t>(meta.block_checksums.size()) != (size + block - 1) / block) {
    return absl::DataLossError("block checksums do not cover the recorded size");
  }
  std::unique_ptr<File> data;
  if (meta.inline_content) {
    if (static_cast<int64_t>(meta.content.size()) != size) {
      return absl::DataLossError("inline content differs from the recorded size");
    }
  } else {
    CHAINFS_ASSIGN_OR_RETURN(data, env->Open(data_path, O_RDONLY));
    CHAINFS_ASSIGN_OR_RETURN(int64_t stored, data->Size());
    if (stored != size) return absl::DataLossError("content size differs from the recorded size");
  }
  StreamingChecksum whole;
  std::string buffer(static_cast<size_t>(data ? block : 0), '\0');
  for (int64_t b = 0; b * block < size; ++b) {
    const size_t len = static_cast<size_t>(std::min(block, size - b * block));
    std::string_view bytes;
    if (data) {
      CHAINFS_ASSIGN_OR_RETURN(size_t n, data->ReadAt(buffer.data(), len, b * block));
      if (n != len) return absl::DataLossError("content is shorter than recorded");
      bytes = std::string_view(buffer.data(), len);
    } else {
      bytes = std::string_view(meta.content).substr(static_cast<size_t>(b * block), len);
    }
    if (Checksum(bytes) != meta.block_checksums[static_cast<size_t>(b)]) {
      return absl::DataLossError(fmt::format("checksum mismatch in block {}", b));
    }
    whole.Update(bytes);
  }
  const uint64_t recomputed = meta.checksum_format == kBlockListChecksum
                                  ? BlockListChecksum(meta.block_checksums)
                                  : whole.Digest();
  if (recomputed != meta.checksum) return absl::DataLossError("whole checksum mismatch");
  return absl::OkStatus();
}

}  // namespace

int64_t ObjectStore::pending_flush() const {
  std::lock_guard lock(mu_);
  return unflushed_;
}

absl::Status ObjectStore::WriteFlushMarker(int64_t flushed_wall_ns, bool clean, bool sync) {
  const std::string record = fmt::format("{} {}\n", flushed_wall_ns, clean ? kClean : kRunning);
  if (sync) return WriteFileAtomically(MarkerPath(options_.dir), record, env_);
  CHAINFS_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(MarkerPath(options_.dir), env_));
  CHAINFS_RETURN_IF_ERROR(file.Append(record));
  return file.Commit(/*sync_dir=*/false, /*sync=*/false);
}

absl::Status ObjectStore::FlushCommitted(bool clean) {
  if (SyncsEachCommit()) return absl::OkStatus();  // every commit was durable already
  const int64_t started = clock_->WallNanos();
  int64_t taken;
  std::vector<std::shared_ptr<const ObjectMeta>> retired;
  {
    std::lock_guard lock(mu_);
    if (unflushed_ == 0 && retired_.empty() && flush_error_.ok() && !clean) {
      return absl::OkStatus();
    }
    taken = std::exchange(unflushed_, 0);
    retired.swap(retired_);
  }
  // One syncfs for every file and directory entry written since the last flush: on a disk
  // that takes milliseconds per fsync, one per commit could not keep up.
  const TimePoint sync_start = clock_->Now();
  absl::Status st = env_->SyncFileSystem(*data_dir_);
  if (st.ok()) st = WriteFlushMarker(started, clean, /*sync=*/clean);
  if (st.ok()) metrics_.flush_seconds.Observe(ToSeconds(clock_->Now() - sync_start));
  {
    std::lock_guard lock(mu_);
    flush_error_ = st;
    if (!st.ok()) {
      // Retried by the next flush. Commits are refused meanwhile (Install).
      unflushed_ += taken;
      retired_.insert(retired_.end(), retired.begin(), retired.end());
      return st;
    }
    // Unless the same name@version was stored again since (a copy after a drop).
    std::erase_if(retired, [this](const auto& meta) {
      auto it = index_.find(meta->file.name());
      return it != index_.end() && it->second.meta->file.version() == meta->file.version();
    });
  }
  // Outside the lock: commits go on meanwhile.
  for (const auto& meta : retired) RemoveObjectFiles(*meta);
  return st;
}

void ObjectStore::ReadFlushMarker() {
  absl::StatusOr<std::string> text = ReadFileToString(MarkerPath(options_.dir), env_);
  if (!text.ok()) return;  // none: every commit was synced (sync mode, or a new store)
  int64_t flushed = 0;
  char state[16] = {};
  if (std::sscanf(text->c_str(), "%" SCNd64 " %15s", &flushed, state) != 2) {
    flushed = std::numeric_limits<int64_t>::min() + kFileTimeSlackNs;  // unreadable: verify all
  } else if (std::strcmp(state, kClean) == 0) {
    return;
  }
  recovery_.unclean = true;
  verify_after_ = flushed - kFileTimeSlackNs;
}

bool ObjectStore::NeedsVerifying(const std::string& meta_path) const {
  if (!verify_after_) return false;
  struct stat st;
  if (::stat(meta_path.c_str(), &st) != 0) return true;
  const int64_t changed = static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 +
                          static_cast<int64_t>(st.st_ctim.tv_nsec);
  return changed >= *verify_after_;
}

bool ObjectStore::VerifyObject(const ObjectMeta& meta) {
  ++recovery_.verified;
  absl::Status st =
      CheckContent(meta, env_, ObjectPath(meta.file.name(), meta.file.version(), false));
  if (st.ok()) return true;
  ++recovery_.dropped;
  internal::Log()->warn(
      "recovery: {}@{} was not covered by a completed flush and is bad ({}): "
      "dropped, to be copied again from another holder",
      meta.file.name(), meta.file.version(), std::string(st.message()));
  return false;
}

absl::Status ObjectStore::CheckStored(const std::string& name, int64_t version) {
  std::shared_ptr<const ObjectMeta> indexed;
  {
    std::lock_guard lock(mu_);
    auto it = index_.find(name);
    if (it == index_.end() || it->second.meta->file.version() != version) {
      return absl::NotFoundError(fmt::format("{}@{} is not held here", name, version));
    }
    indexed = it->second.meta;
  }
  absl::StatusOr<std::string> bytes = ReadFileToString(ObjectPath(name, version, true), env_);
  if (!bytes.ok()) {
    return absl::DataLossError(fmt::format("meta file: {}", std::string(bytes.status().message())));
  }
  ObjectMeta stored;
  if (!stored.Parse(*bytes) || stored.file.name() != name || stored.file.version() != version ||
      stored.file.tombstone() != indexed->file.tombstone() ||
      stored.checksum != indexed->checksum) {
    return absl::DataLossError("meta file differs from the recorded one");
  }
  absl::Status st = CheckContent(stored, env_, ObjectPath(name, version, false));
  if (st.ok() || absl::IsDataLoss(st)) return st;
  return absl::DataLossError(fmt::format("content: {}", std::string(st.message())));
}

absl::Status ObjectStore::EndRecovery(int64_t started) {
  CHAINFS_ASSIGN_OR_RETURN(data_dir_, env_->Open(options_.dir, O_RDONLY | O_DIRECTORY));
  if (recovery_.verified > 0) {
    // What was verified may so far be only in the page cache (a killed process): made durable
    // before the record says everything up to `started` is.
    CHAINFS_RETURN_IF_ERROR(env_->SyncFileSystem(*data_dir_));
  }
  if (recovery_.unclean) {
    internal::Log()->info(
        "recovery after an unclean stop: verified {} objects not covered by the last completed "
        "flush, dropped {} bad ones",
        recovery_.verified, recovery_.dropped);
  }
  if (SyncsEachCommit()) {
    // Every commit from now on is durable by itself: nothing to verify at the next start.
    if (absl::Status st = env_->Unlink(MarkerPath(options_.dir));
        !st.ok() && !absl::IsNotFound(st)) {
      return st;
    }
    return absl::OkStatus();
  }
  return WriteFlushMarker(started, /*clean=*/false, /*sync=*/true);
}

}  // namespace chainfs::filestore
