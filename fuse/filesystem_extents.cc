// Filesystem's fallocate and SEEK_DATA/SEEK_HOLE: holes of the staged file are the file's
// holes (uploaded as holes: common/client/sparse_upload.h).
#include <fcntl.h>
#include <unistd.h>

#include "common/status.h"
#include "fuse/errors.h"
#include "fuse/filesystem.h"

namespace chainfs::mount {

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

}  // namespace chainfs::mount
