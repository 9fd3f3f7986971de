#include "fuse/staging.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/file_util.h"

namespace chainfs::mount {

absl::StatusOr<std::unique_ptr<StagedFile>> StagedFile::Create(const std::string& path,
                                                               const v1::Attributes& attributes) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(fmt::format("create staging file {}", path), errno);
  return std::unique_ptr<StagedFile>(new StagedFile(path, fd, attributes));
}

StagedFile::StagedFile(std::string path, int fd, const v1::Attributes& attributes)
    : path_(std::move(path)), fd_(fd), attributes_(attributes) {}

StagedFile::~StagedFile() {
  ::close(fd_);
  if (!kept_) ::unlink(path_.c_str());
}

absl::StatusOr<size_t> StagedFile::Read(char* buf, size_t size, int64_t offset) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd_, buf + done, size - done, offset + done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(fmt::format("read staging file {}", path_), errno);
    }
    if (n == 0) break;
    done += n;
  }
  return done;
}

absl::StatusOr<size_t> StagedFile::Write(const char* data, size_t size, int64_t offset,
                                         int64_t now_ns) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd_, data + done, size - done, offset + done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(fmt::format("write staging file {}", path_), errno);
    }
    done += n;
  }
  std::lock_guard lock(mu_);
  ++generation_;
  attributes_.set_mtime_ns(now_ns);
  return done;
}

absl::Status StagedFile::Truncate(int64_t size, int64_t now_ns) {
  if (::ftruncate(fd_, size) != 0) {
    return ErrnoStatus(fmt::format("truncate staging file {}", path_), errno);
  }
  std::lock_guard lock(mu_);
  ++generation_;
  attributes_.set_mtime_ns(now_ns);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> StagedFile::Size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return ErrnoStatus(fmt::format("stat {}", path_), errno);
  return static_cast<int64_t>(st.st_size);
}

v1::Attributes StagedFile::attributes() const {
  std::lock_guard lock(mu_);
  return attributes_;
}

void StagedFile::SetAttributes(const v1::Attributes& attributes, bool mode, bool uid, bool gid,
                               bool mtime) {
  std::lock_guard lock(mu_);
  if (mode) attributes_.set_mode(attributes.mode() & 07777);
  if (uid) attributes_.set_uid(attributes.uid());
  if (gid) attributes_.set_gid(attributes.gid());
  if (mtime) attributes_.set_mtime_ns(attributes.mtime_ns());
}

bool StagedFile::dirty() const {
  std::lock_guard lock(mu_);
  return generation_ != uploaded_generation_;
}

void StagedFile::MarkDirty() {
  std::lock_guard lock(mu_);
  ++generation_;
}

uint64_t StagedFile::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

void StagedFile::MarkUploaded(uint64_t generation) {
  std::lock_guard lock(mu_);
  uploaded_generation_ = generation;
}

void StagedFile::Keep() {
  std::lock_guard lock(mu_);
  kept_ = true;
}

}  // namespace chainfs::mount
