#include "common/fault_env.h"

#include <fcntl.h>
#include <fmt/format.h>

#include <cerrno>

#include "common/file_util.h"
#include "common/status.h"

namespace chainfs {
// A file of a FaultEnv: every call asks the env first.
class FaultFile : public File {
 public:
  FaultFile(FaultEnv* env, std::unique_ptr<File> base)
      : File(base->path(), base->fd()), env_(env), base_(std::move(base)) {}

  absl::Status WriteAt(std::string_view data, int64_t offset) override {
    CHAINFS_RETURN_IF_ERROR(env_->Step(FaultEnv::Op::kWrite, path()));
    const int64_t fits = env_->TakeSpace(static_cast<int64_t>(data.size()));
    CHAINFS_RETURN_IF_ERROR(base_->WriteAt(data.substr(0, static_cast<size_t>(fits)), offset));
    if (fits < static_cast<int64_t>(data.size())) {
      return ErrnoStatus(fmt::format("write {}", path()), ENOSPC);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> ReadAt(char* buf, size_t size, int64_t offset) override {
    CHAINFS_RETURN_IF_ERROR(env_->Alive(path()));
    if (env_->before_read_) env_->before_read_(path(), offset);
    return base_->ReadAt(buf, size, offset);
  }

  absl::Status Sync() override {
    CHAINFS_RETURN_IF_ERROR(env_->Step(FaultEnv::Op::kSync, path()));
    if (env_->sync_for_real_) CHAINFS_RETURN_IF_ERROR(base_->Sync());
    absl::StatusOr<int64_t> size = base_->Size();
    if (!size.ok()) return size.status();
    env_->Synced(path(), *size);
    return absl::OkStatus();
  }

  absl::Status Truncate(int64_t size) override {
    CHAINFS_RETURN_IF_ERROR(env_->Step(FaultEnv::Op::kTruncate, path()));
    return base_->Truncate(size);
  }

  absl::StatusOr<int64_t> Size() const override {
    CHAINFS_RETURN_IF_ERROR(env_->Alive(path()));
    return base_->Size();
  }

 private:
  FaultEnv* const env_;
  const std::unique_ptr<File> base_;
};

std::string_view FaultEnv::Name(Op op) {
  switch (op) {
    case Op::kCreate:
      return "create";
    case Op::kWrite:
      return "write";
    case Op::kSync:
      return "fsync";
    case Op::kTruncate:
      return "truncate";
    case Op::kRename:
      return "rename";
    case Op::kLink:
      return "link";
    case Op::kUnlink:
      return "unlink";
    case Op::kMakeDirectories:
      return "mkdir";
    case Op::kSyncDirectory:
      return "fsync directory";
    case Op::kSyncFileSystem:
      return "syncfs";
  }
  return "?";
}

FaultEnv::FaultEnv(Env* base, bool sync_for_real) : base_(base), sync_for_real_(sync_for_real) {}

void FaultEnv::FailFrom(Op op, int err, int64_t skip) {
  std::lock_guard lock(mu_);
  failures_[op] = Failure{.err = err, .skip = skip};
}

void FaultEnv::LimitSpace(int64_t bytes) {
  std::lock_guard lock(mu_);
  space_ = bytes;
}

void FaultEnv::CrashAfter(int64_t steps) {
  std::lock_guard lock(mu_);
  crash_after_ = steps_ + steps;
}

void FaultEnv::BeforeRead(std::function<void(const std::string&, int64_t)> hook) {
  before_read_ = std::move(hook);
}

void FaultEnv::Heal() {
  std::lock_guard lock(mu_);
  failures_.clear();
  space_.reset();
  crash_after_.reset();
  crashed_at_.reset();
}

bool FaultEnv::crashed() const {
  std::lock_guard lock(mu_);
  return crashed_at_.has_value();
}

std::optional<FaultEnv::Op> FaultEnv::crashed_at() const {
  std::lock_guard lock(mu_);
  return crashed_at_;
}

int64_t FaultEnv::steps() const {
  std::lock_guard lock(mu_);
  return steps_;
}

int64_t FaultEnv::steps(Op op) const {
  std::lock_guard lock(mu_);
  auto it = steps_of_.find(op);
  return it == steps_of_.end() ? 0 : it->second;
}

absl::Status FaultEnv::Step(Op op, const std::string& path) {
  std::lock_guard lock(mu_);
  if (!crashed_at_ && crash_after_ && steps_ >= *crash_after_) crashed_at_ = op;
  if (crashed_at_) return ErrnoStatus(fmt::format("{} {} (crashed)", Name(op), path), EIO);
  if (auto it = failures_.find(op); it != failures_.end()) {
    if (it->second.skip == 0) {
      return ErrnoStatus(fmt::format("{} {} (injected)", Name(op), path), it->second.err);
    }
    --it->second.skip;
  }
  ++steps_;
  ++steps_of_[op];
  return absl::OkStatus();
}

absl::Status FaultEnv::Alive(const std::string& path) const {
  std::lock_guard lock(mu_);
  if (crashed_at_ || (crash_after_ && steps_ >= *crash_after_)) {
    return ErrnoStatus(fmt::format("{} (crashed)", path), EIO);
  }
  return absl::OkStatus();
}

int64_t FaultEnv::TakeSpace(int64_t bytes) {
  constexpr int64_t kBlock = 4096;
  std::lock_guard lock(mu_);
  if (!space_) return bytes;
  if (bytes <= *space_) {
    *space_ -= bytes;
    return bytes;
  }
  const int64_t fits = *space_ / kBlock * kBlock;
  *space_ = 0;  // full: what is left is less than a block
  return fits;
}

void FaultEnv::Synced(const std::string& path, int64_t size) {
  std::lock_guard lock(mu_);
  synced_size_[path] = size;
}

void FaultEnv::NewName(const std::string& path) {
  std::lock_guard lock(mu_);
  unsynced_names_.insert(path);
}

void FaultEnv::DropUnsyncedData() {
  std::lock_guard lock(mu_);
  for (const auto& [path, size] : synced_size_) {
    auto file = base_->Open(path, O_WRONLY);
    if (file.ok()) (*file)->Truncate(size).IgnoreError();  // gone already: nothing to lose
  }
  for (const std::string& path : unsynced_names_) base_->Unlink(path).IgnoreError();
  for (const auto& [to, from] : renamed_from_) base_->Rename(to, from).IgnoreError();
  synced_size_.clear();
  unsynced_names_.clear();
  renamed_from_.clear();
}

absl::StatusOr<std::unique_ptr<File>> FaultEnv::Open(const std::string& path, int flags,
                                                     mode_t mode) {
  const bool create = (flags & O_CREAT) != 0;
  const bool writes = (flags & O_ACCMODE) != O_RDONLY;
  CHAINFS_RETURN_IF_ERROR(create ? Step(Op::kCreate, path) : Alive(path));
  const bool is_new = create && absl::IsNotFound(base_->FileSize(path).status());
  absl::StatusOr<std::unique_ptr<File>> file = base_->Open(path, flags, mode);
  if (!file.ok()) return file.status();
  if (writes) {
    std::lock_guard lock(mu_);
    if (is_new || (flags & O_TRUNC) != 0) {
      synced_size_[path] = 0;
    } else if (!synced_size_.contains(path)) {
      absl::StatusOr<int64_t> size = (*file)->Size();
      synced_size_[path] = size.ok() ? *size : 0;
    }
  }
  if (is_new) NewName(path);
  return std::unique_ptr<File>(new FaultFile(this, std::move(*file)));
}

absl::Status FaultEnv::Rename(const std::string& from, const std::string& to) {
  CHAINFS_RETURN_IF_ERROR(Step(Op::kRename, from));
  const bool is_new = absl::IsNotFound(base_->FileSize(to).status());
  CHAINFS_RETURN_IF_ERROR(base_->Rename(from, to));
  std::lock_guard lock(mu_);
  if (auto it = synced_size_.find(from); it != synced_size_.end()) {
    synced_size_[to] = it->second;
    synced_size_.erase(from);
  }
  if (!is_new) return absl::OkStatus();  // an atomic replace: the old or the new file, both whole
  if (unsynced_names_.erase(from) > 0) {
    unsynced_names_.insert(to);
  } else if (auto it = renamed_from_.find(from); it != renamed_from_.end()) {
    renamed_from_[to] = it->second;
    renamed_from_.erase(it);
  } else {
    renamed_from_[to] = from;
  }
  return absl::OkStatus();
}

absl::Status FaultEnv::Link(const std::string& from, const std::string& to) {
  CHAINFS_RETURN_IF_ERROR(Step(Op::kLink, from));
  CHAINFS_RETURN_IF_ERROR(base_->Link(from, to));
  NewName(to);
  return absl::OkStatus();
}

absl::Status FaultEnv::Unlink(const std::string& path) {
  CHAINFS_RETURN_IF_ERROR(Step(Op::kUnlink, path));
  CHAINFS_RETURN_IF_ERROR(base_->Unlink(path));
  std::lock_guard lock(mu_);
  synced_size_.erase(path);
  unsynced_names_.erase(path);
  renamed_from_.erase(path);
  return absl::OkStatus();
}

absl::Status FaultEnv::MakeDirectories(const std::string& dir) {
  CHAINFS_RETURN_IF_ERROR(Step(Op::kMakeDirectories, dir));
  return base_->MakeDirectories(dir);
}

absl::StatusOr<std::vector<std::string>> FaultEnv::ListDirectory(const std::string& dir) {
  CHAINFS_RETURN_IF_ERROR(Alive(dir));
  return base_->ListDirectory(dir);
}

absl::StatusOr<int64_t> FaultEnv::FileSize(const std::string& path) {
  CHAINFS_RETURN_IF_ERROR(Alive(path));
  return base_->FileSize(path);
}

absl::Status FaultEnv::SyncDirectory(const std::string& dir) {
  CHAINFS_RETURN_IF_ERROR(Step(Op::kSyncDirectory, dir));
  if (sync_for_real_) CHAINFS_RETURN_IF_ERROR(base_->SyncDirectory(dir));
  std::lock_guard lock(mu_);
  std::erase_if(unsynced_names_, [&](const std::string& path) { return DirOf(path) == dir; });
  std::erase_if(renamed_from_, [&](const auto& entry) { return DirOf(entry.first) == dir; });
  return absl::OkStatus();
}

absl::Status FaultEnv::SyncFileSystem(const File& on) {
  CHAINFS_RETURN_IF_ERROR(Step(Op::kSyncFileSystem, on.path()));
  if (sync_for_real_) CHAINFS_RETURN_IF_ERROR(base_->SyncFileSystem(on));
  std::lock_guard lock(mu_);
  for (auto& [path, size] : synced_size_) {
    if (absl::StatusOr<int64_t> now = base_->FileSize(path); now.ok()) size = *now;
  }
  unsynced_names_.clear();
  renamed_from_.clear();
  return absl::OkStatus();
}

}  // namespace chainfs
