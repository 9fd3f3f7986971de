#include "common/file_util.h"

#include <fcntl.h>

#include <filesystem>

namespace chainfs {

std::string DirOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

absl::Status FsyncDirectory(const std::string& dir, Env* env) { return env->SyncDirectory(dir); }

absl::Status MakeDirectories(const std::string& dir, Env* env) { return env->MakeDirectories(dir); }

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents, Env* env) {
  auto file = AtomicFile::Create(path, env);
  if (!file.ok()) return file.status();
  if (auto st = file->Append(contents); !st.ok()) return st;
  return file->Commit();
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path, Env* env) {
  auto file = env->Open(path, O_RDONLY);
  if (!file.ok()) return file.status();
  std::string out;
  constexpr size_t kChunk = 65536;
  while (true) {
    const size_t at = out.size();
    out.resize(at + kChunk);
    auto n = (*file)->ReadAt(out.data() + at, kChunk, static_cast<int64_t>(at));
    if (!n.ok()) return n.status();
    out.resize(at + *n);
    if (*n < kChunk) break;
  }
  return out;
}

absl::StatusOr<AtomicFile> AtomicFile::Create(const std::string& path, Env* env,
                                              std::string temp_path) {
  if (temp_path.empty()) temp_path = path + std::string(kTempSuffix);
  auto file = env->Open(temp_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!file.ok()) return file.status();
  return AtomicFile(env, path, std::move(temp_path), std::move(*file));
}

AtomicFile::AtomicFile(Env* env, std::string path, std::string temp_path,
                       std::unique_ptr<File> file)
    : env_(env), path_(std::move(path)), temp_path_(std::move(temp_path)), file_(std::move(file)) {}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : env_(other.env_),
      path_(std::move(other.path_)),
      temp_path_(std::move(other.temp_path_)),
      file_(std::move(other.file_)),
      size_(other.size_),
      synced_(other.synced_) {
  other.temp_path_.clear();
}

AtomicFile::~AtomicFile() {
  file_.reset();
  if (!temp_path_.empty()) env_->Unlink(temp_path_).IgnoreError();  // best effort
}

absl::Status AtomicFile::Append(std::string_view data) {
  if (!file_) return absl::FailedPreconditionError("atomic file is closed");
  if (auto st = file_->WriteAt(data, size_); !st.ok()) return st;
  size_ += static_cast<int64_t>(data.size());
  synced_ = false;
  return absl::OkStatus();
}

absl::Status AtomicFile::Sync() {
  if (synced_) return absl::OkStatus();
  if (!file_) return absl::FailedPreconditionError("atomic file is closed");
  if (auto st = file_->Sync(); !st.ok()) return st;
  synced_ = true;
  return absl::OkStatus();
}

absl::Status AtomicFile::Commit(bool sync_dir, bool sync) {
  if (auto st = sync ? Sync() : absl::OkStatus(); !st.ok()) return st;
  file_.reset();
  if (auto st = env_->Rename(temp_path_, path_); !st.ok()) return st;
  temp_path_.clear();
  if (sync_dir && sync) return env_->SyncDirectory(DirOf(path_));
  return absl::OkStatus();
}

}  // namespace chainfs
