#include "fuse/staging.h"

#include <fcntl.h>
#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <system_error>

#include "common/status.h"
#include "fuse/extents.h"

namespace chainfs::mount {
namespace {

// More separate changed ranges than this, and the next upload sends everything.
constexpr size_t kMaxChangedRanges = 4096;

}  // namespace

absl::StatusOr<std::unique_ptr<StagedFile>> StagedFile::Create(const std::string& path,
                                                               const v1::Attributes& attributes,
                                                               Env* env) {
  auto file = env->Open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (!file.ok()) return file.status();
  return std::unique_ptr<StagedFile>(new StagedFile(env, path, std::move(*file), attributes));
}

StagedFile::StagedFile(Env* env, std::string path, std::unique_ptr<File> file,
                       const v1::Attributes& attributes)
    : env_(env), path_(std::move(path)), file_(std::move(file)), attributes_(attributes) {}

StagedFile::~StagedFile() {
  EndWriteBehind(/*finish=*/false);
  file_.reset();
  if (!kept_) env_->Unlink(path_).IgnoreError();  // best effort: nothing refers to it any more
}

absl::StatusOr<size_t> StagedFile::Read(char* buf, size_t size, int64_t offset) {
  return file_->ReadAt(buf, size, offset);
}

absl::StatusOr<size_t> StagedFile::Write(const char* data, size_t size, int64_t offset,
                                         int64_t now_ns) {
  std::lock_guard modify(modify_mu_);
  // A write that is not the next append ends the append-only state before it changes a byte,
  // so a write-behind read that overlaps it sees the end when it checks afterwards.
  const bool append = EndAppendsUnlessAt(offset);
  const absl::Status written = file_->WriteAt(std::string_view(data, size), offset);
  // Even a failed write may have put part of it in the file: past what a write-behind would
  // send, and different from what was uploaded last.
  if (!written.ok()) StopAppends();
  {
    std::lock_guard lock(mu_);
    ++generation_;
    ChangedLocked(offset, offset + static_cast<int64_t>(size));
    if (!written.ok()) return written;
    attributes_.set_mtime_ns(now_ns);
    attributes_.set_ctime_ns(now_ns);
    if (append && append_only_) append_end_ += static_cast<int64_t>(size);
  }
  appended_.notify_all();
  return size;
}

absl::Status StagedFile::Truncate(int64_t size, int64_t now_ns) {
  std::lock_guard modify(modify_mu_);
  EndAppendsUnlessAt(size);
  CHAINFS_ASSIGN_OR_RETURN(int64_t old_size, file_->Size());
  if (absl::Status failed = file_->Truncate(size); !failed.ok()) return failed;
  {
    std::lock_guard lock(mu_);
    ++generation_;
    ChangedLocked(std::min(old_size, size), std::max(old_size, size));
    attributes_.set_mtime_ns(now_ns);
    attributes_.set_ctime_ns(now_ns);
  }
  appended_.notify_all();
  return absl::OkStatus();
}

absl::Status StagedFile::Allocate(int mode, int64_t offset, int64_t length, int64_t now_ns) {
  std::lock_guard modify(modify_mu_);
  EndAppendsUnlessAt(-1);
  absl::Status done = AllocateRange(file_->fd(), mode, offset, length);
  {
    std::lock_guard lock(mu_);
    ++generation_;  // even a failure may have changed part of the range
    ChangedLocked(offset, offset + length);
    attributes_.set_mtime_ns(now_ns);
  }
  appended_.notify_all();
  return done;
}

absl::StatusOr<int64_t> StagedFile::Seek(int64_t offset, int whence) const {
  return SeekExtent(file_->fd(), offset, whence);
}

bool StagedFile::EndAppendsUnlessAt(int64_t offset) {
  bool append;
  {
    std::lock_guard lock(mu_);
    if (offset != append_end_) append_only_ = false;
    append = append_only_;
  }
  if (!append) appended_.notify_all();
  return append;
}

absl::StatusOr<int64_t> StagedFile::Size() const { return file_->Size(); }

v1::Attributes StagedFile::attributes() const {
  std::lock_guard lock(mu_);
  return attributes_;
}

void StagedFile::SetAttributes(const v1::Attributes& attributes, bool mode, bool uid, bool gid,
                               bool mtime, bool atime, bool ctime) {
  std::lock_guard lock(mu_);
  if (mode) attributes_.set_mode(attributes.mode() & 07777);
  if (uid) attributes_.set_uid(attributes.uid());
  if (gid) attributes_.set_gid(attributes.gid());
  if (mtime) attributes_.set_mtime_ns(attributes.mtime_ns());
  if (atime) attributes_.set_atime_ns(attributes.atime_ns());
  if (ctime) attributes_.set_ctime_ns(attributes.ctime_ns());
}

absl::Status StagedFile::UpdateAttributes(
    const std::function<absl::Status(v1::Attributes*)>& change) {
  std::lock_guard lock(mu_);
  v1::Attributes changed = attributes_;
  CHAINFS_RETURN_IF_ERROR(change(&changed));
  attributes_ = std::move(changed);
  return absl::OkStatus();
}

bool StagedFile::dirty() const {
  std::lock_guard lock(mu_);
  return generation_ != uploaded_generation_;
}

void StagedFile::MarkDirty() {
  std::lock_guard lock(mu_);
  ++generation_;
}

void StagedFile::ChangedLocked(int64_t begin, int64_t end) {
  if (begin >= end || base_version_ == 0) return;
  auto it = changed_.upper_bound(begin);
  if (it != changed_.begin() && std::prev(it)->second >= begin) --it;
  while (it != changed_.end() && it->first <= end) {
    begin = std::min(begin, it->first);
    end = std::max(end, it->second);
    it = changed_.erase(it);
  }
  changed_.emplace(begin, end);
  if (changed_.size() > kMaxChangedRanges) {
    base_version_ = 0;
    changed_.clear();
  }
}

StagedFile::Base StagedFile::base() const {
  std::lock_guard lock(mu_);
  Base base{base_version_, {}};
  base.changed.reserve(changed_.size());
  for (const auto& [begin, end] : changed_) base.changed.push_back({begin, end});
  return base;
}

uint64_t StagedFile::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

void StagedFile::MarkUploaded(uint64_t generation, int64_t version) {
  std::lock_guard lock(mu_);
  uploaded_generation_ = generation;
  // Changes after `generation` are not told apart from those it stored: no base then.
  base_version_ = generation == generation_ ? version : 0;
  changed_.clear();
}

bool StagedFile::append_only() const {
  std::lock_guard lock(mu_);
  return append_only_;
}

void StagedFile::StopAppends() {
  {
    std::lock_guard lock(mu_);
    append_only_ = false;
  }
  appended_.notify_all();
}

bool StagedFile::WriteBehindDue(int64_t threshold) const {
  std::lock_guard lock(mu_);
  return append_only_ && !write_behind_started_ && append_end_ >= threshold;
}

std::string StagedFile::write_behind_path() const {
  std::lock_guard lock(mu_);
  return write_behind_path_;
}

bool StagedFile::MaybeStartWriteBehind(int64_t threshold, const std::string& path,
                                       std::function<void()> upload) {
  {
    std::lock_guard lock(mu_);
    if (!append_only_ || write_behind_started_ || append_end_ < threshold) return false;
    write_behind_started_ = true;  // at most one per file, even when this one fails
    write_behind_path_ = path;
  }
  std::lock_guard end(end_mu_);
  try {
    write_behind_ = std::thread(std::move(upload));
  } catch (const std::system_error&) {
    return false;  // no thread to spare: the upload happens at close, as without write-behind
  }
  return true;
}

absl::StatusOr<size_t> StagedFile::ReadAppended(char* buf, size_t max, int64_t offset) {
  int64_t end;
  {
    std::unique_lock lock(mu_);
    appended_.wait(lock, [&] {
      return !append_only_ || write_behind_ending_ ||
             append_end_ - offset >= static_cast<int64_t>(max);
    });
    if (!append_only_) {
      return absl::AbortedError(
          fmt::format("{} is no longer written in order from its start", path_));
    }
    end = append_end_;
  }
  if (end <= offset) return 0;
  const size_t want = static_cast<size_t>(std::min<int64_t>(end - offset, max));
  CHAINFS_ASSIGN_OR_RETURN(size_t n, Read(buf, want, offset));
  // A write elsewhere or a truncation may have changed these bytes during the read: it ended
  // the append-only state before it began, so checking now tells whether they are the appended
  // ones. (A stream that took a truncation's short read for the end of the file once committed
  // the old content under the new file's name.)
  std::lock_guard lock(mu_);
  if (!append_only_ || n != want) {
    return absl::AbortedError(
        fmt::format("{} is no longer written in order from its start", path_));
  }
  return n;
}

bool StagedFile::EndWriteBehind(bool finish) {
  std::lock_guard end(end_mu_);
  if (!write_behind_.joinable()) return false;
  {
    std::lock_guard lock(mu_);
    if (!write_behind_started_) return false;
    if (finish) {
      write_behind_ending_ = true;
    } else {
      append_only_ = false;
    }
  }
  appended_.notify_all();
  write_behind_.join();
  return true;
}

void StagedFile::Keep() {
  std::lock_guard lock(mu_);
  kept_ = true;
}

void StagedFile::Unkeep() {
  std::lock_guard lock(mu_);
  kept_ = false;
}

bool StagedFile::kept() const {
  std::lock_guard lock(mu_);
  return kept_;
}

}  // namespace chainfs::mount
