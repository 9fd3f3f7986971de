#include "common/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/status.h"

namespace chainfs {

absl::Status ErrnoStatus(std::string_view what, int err) {
  std::string message = fmt::format("{}: {}", what, std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case ENOSPC:
    case EDQUOT:
      return Error(v1::ERROR_NO_SPACE, message);
    case EEXIST:
      return absl::AlreadyExistsError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case ENAMETOOLONG:
      return Error(v1::ERROR_NAME_TOO_LONG, message);
    case ENOTDIR:
      return Error(v1::ERROR_NOT_A_DIRECTORY, message);
    case EISDIR:
      return Error(v1::ERROR_IS_A_DIRECTORY, message);
    case ENOTEMPTY:
      return Error(v1::ERROR_NOT_EMPTY, message);
    case EINVAL:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

ssize_t PreadFull(int fd, char* buf, size_t size, int64_t offset) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, buf + done, size - done, offset + static_cast<int64_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

namespace {

class PosixFile : public File {
 public:
  PosixFile(std::string path, int fd) : File(std::move(path), fd) {}
  ~PosixFile() override { ::close(fd()); }

  absl::Status WriteAt(std::string_view data, int64_t offset) override {
    while (!data.empty()) {
      ssize_t n = ::pwrite(fd(), data.data(), data.size(), offset);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(fmt::format("write {}", path()), errno);
      }
      data.remove_prefix(static_cast<size_t>(n));
      offset += n;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> ReadAt(char* buf, size_t size, int64_t offset) override {
    ssize_t n = PreadFull(fd(), buf, size, offset);
    if (n < 0) return ErrnoStatus(fmt::format("read {}", path()), errno);
    return static_cast<size_t>(n);
  }

  absl::Status Sync() override {
    if (::fsync(fd()) != 0) return ErrnoStatus(fmt::format("fsync {}", path()), errno);
    return absl::OkStatus();
  }

  absl::Status Truncate(int64_t size) override {
    if (::ftruncate(fd(), size) != 0) {
      return ErrnoStatus(fmt::format("truncate {}", path()), errno);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> Size() const override {
    struct stat st;
    if (::fstat(fd(), &st) != 0) return ErrnoStatus(fmt::format("stat {}", path()), errno);
    return static_cast<int64_t>(st.st_size);
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();
  return env;
}

absl::StatusOr<std::unique_ptr<File>> PosixEnv::Open(const std::string& path, int flags,
                                                     mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) {
    return ErrnoStatus(fmt::format("{} {}", (flags & O_CREAT) ? "create" : "open", path), errno);
  }
  return std::unique_ptr<File>(new PosixFile(path, fd));
}

absl::Status PosixEnv::Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return ErrnoStatus(fmt::format("rename {}", from), errno);
  }
  return absl::OkStatus();
}

absl::Status PosixEnv::Link(const std::string& from, const std::string& to) {
  if (::link(from.c_str(), to.c_str()) != 0) {
    return ErrnoStatus(fmt::format("link {}", from), errno);
  }
  return absl::OkStatus();
}

absl::Status PosixEnv::Unlink(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return ErrnoStatus(fmt::format("unlink {}", path), errno);
  return absl::OkStatus();
}

absl::Status PosixEnv::MakeDirectories(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return ErrnoStatus(fmt::format("create directory {}", dir), ec.value());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> PosixEnv::ListDirectory(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus(fmt::format("list {}", dir), errno);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return ErrnoStatus(fmt::format("list {}", dir), err);
  return names;
}

absl::StatusOr<int64_t> PosixEnv::FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus(fmt::format("stat {}", path), errno);
  return static_cast<int64_t>(st.st_size);
}

absl::Status PosixEnv::SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(fmt::format("open directory {}", dir), errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(fmt::format("fsync directory {}", dir), err);
  return absl::OkStatus();
}

absl::Status PosixEnv::SyncFileSystem(const File& on) {
  if (::syncfs(on.fd()) != 0) return ErrnoStatus(fmt::format("syncfs {}", on.path()), errno);
  return absl::OkStatus();
}

}  // namespace chainfs
