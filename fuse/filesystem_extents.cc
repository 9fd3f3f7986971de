// Filesystem's fallocate and SEEK_DATA/SEEK_HOLE, and staging a stored file: holes of the
// staged file are the file's holes (uploaded as holes: common/client/sparse_upload.h), and
// blocks of zeros fetched from a stored file stay holes. Staging and reads follow a version
// replaced while they fetch it to the one that replaced it.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "common/log.h"
#include "common/status.h"
#include "fuse/errors.h"
#include "fuse/extents.h"
#include "fuse/filesystem.h"

namespace chainfs::mount {

namespace {

constexpr size_t kDownloadChunk = 4 << 20;  // bytes fetched per read while staging

}  // namespace

absl::Status Filesystem::Fallocate(FileHandle* fh, int mode, int64_t offset, int64_t length) {
  if (!fh->writer || !fh->staged) return ErrnoError(EBADF, "not open for writing");
  return fh->staged->Allocate(mode, offset, length, clock_->WallNanos());
}

absl::StatusOr<int64_t> Filesystem::Lseek(FileHandle* fh, int64_t offset, int whence) {
  if (whence != SEEK_DATA && whence != SEEK_HOLE) return ErrnoError(EINVAL, "bad whence");
  if (offset < 0) return ErrnoError(ENXIO, "negative offset");
  if (std::shared_ptr<StagedFile> staged = fh->staged) return staged->Seek(offset, whence);
  // A remote file: answered as one extent of data, which POSIX allows (the FileStore keeps
  // the holes, reads of them are zeros).
  CHAINFS_ASSIGN_OR_RETURN(struct stat st, GetAttr(fh->ino));
  if (offset >= st.st_size) return ErrnoError(ENXIO, "offset at or past the end");
  return whence == SEEK_DATA ? offset : int64_t{st.st_size};
}

absl::StatusOr<std::unique_ptr<StagedFile>> Filesystem::StageExisting(const std::string& path) {
  // A version replaced while it is fetched (a chmod, an atime update, a write elsewhere) is
  // gone from its holders (NOT_FOUND): fetch the version that replaced it, a few times.
  absl::StatusOr<std::unique_ptr<StagedFile>> staged;
  for (int attempt = 0; attempt < 3; ++attempt) {
    staged = StageLatest(path);
    if (staged.ok() || !absl::IsNotFound(staged.status())) break;
  }
  return staged;
}

absl::StatusOr<std::unique_ptr<StagedFile>> Filesystem::StageLatest(const std::string& path) {
  v1::DoReadRequest req;
  req.set_path(path);
  CHAINFS_ASSIGN_OR_RETURN(v1::DoReadReply file, nameserver_->DoRead(req));
  if (file.file().kind() == v1::KIND_DIRECTORY) return ErrnoError(EISDIR, "is a directory");
  CHAINFS_ASSIGN_OR_RETURN(auto staged, NewStaged(file.file().attributes()));
  int64_t size = file.file().size();
  if (size > 0) {
    CHAINFS_ASSIGN_OR_RETURN(
        auto reader, filestores_->OpenReader(ObjectName(file), file.file().version(),
                                             {file.holders().begin(), file.holders().end()}));
    std::unique_ptr<char[]> buffer(new char[kDownloadChunk]);
    int64_t offset = 0;
    while (offset < size) {
      size_t want = std::min<int64_t>(kDownloadChunk, size - offset);
      CHAINFS_ASSIGN_OR_RETURN(size_t got, reader->ReadAt(offset, want, buffer.get()));
      if (got == 0) return ErrnoError(EIO, fmt::format("{} ended early at {}", path, offset));
      // Zeros stay holes: a sparse file stays sparse here and in its next upload.
      CHAINFS_RETURN_IF_ERROR(WriteSkippingZeros(staged->fd(), buffer.get(), got, offset));
      offset += got;
    }
    if (::ftruncate(staged->fd(), size) != 0) {
      return ErrnoError(errno, fmt::format("size {}", staged->path()));
    }
    staged->StopAppends();  // holds bytes that were not appended through Write
  }
  staged->MarkUploaded(staged->generation(), file.file().version());
  return staged;
}

absl::Status Filesystem::FollowReplacement(FileHandle* fh) {
  v1::DoReadRequest req;
  req.set_path(inodes_.Path(fh->ino).value_or(fh->path));
  CHAINFS_ASSIGN_OR_RETURN(v1::DoReadReply file, nameserver_->DoRead(req));
  if (file.file().kind() == v1::KIND_DIRECTORY) return ErrnoError(EISDIR, "is a directory");
  if (file.file().version() == fh->file.file().version()) {
    return absl::NotFoundError(
        fmt::format("{} version {} is not held by its holders", req.path(), file.file().version()));
  }
  Logger("mount")->debug("read of {}: version {} was replaced by {}", req.path(),
                         fh->file.file().version(), file.file().version());
  fh->file = std::move(file);
  fh->remote = std::make_unique<RemoteFile>(filestores_, ObjectName(fh->file), fh->file,
                                            settings_.read_ahead);
  return absl::OkStatus();
}

}  // namespace chainfs::mount
