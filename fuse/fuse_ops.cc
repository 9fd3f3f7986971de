#include "fuse/fuse_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <memory>

#include "common/log.h"
#include "fuse/errors.h"

namespace chainfs::mount {

namespace {

constexpr unsigned kMaxWrite = 1 << 20;

MountContext* Ctx(fuse_req_t req) { return static_cast<MountContext*>(fuse_req_userdata(req)); }
Filesystem* Fs(fuse_req_t req) { return Ctx(req)->fs; }
FileHandle* Fh(fuse_file_info* fi) { return reinterpret_cast<FileHandle*>(fi->fh); }
DirHandle* Dh(fuse_file_info* fi) { return reinterpret_cast<DirHandle*>(fi->fh); }

int ReplyError(fuse_req_t req, const absl::Status& status, const char* op) {
  int err = ErrnoFromStatus(status);
  if (err == EIO) Logger("mount")->warn("{}: {}", op, std::string(status.message()));
  return fuse_reply_err(req, err);
}

fuse_entry_param ToEntryParam(fuse_req_t req, const Entry& entry) {
  fuse_entry_param e = {};
  e.ino = entry.ino;
  e.attr = entry.attr;
  e.attr_timeout = Ctx(req)->attr_timeout;
  e.entry_timeout = Ctx(req)->entry_timeout;
  return e;
}

void ReplyEntry(fuse_req_t req, const absl::StatusOr<Entry>& entry, const char* op) {
  if (!entry.ok()) {
    ReplyError(req, entry.status(), op);
    return;
  }
  fuse_entry_param e = ToEntryParam(req, *entry);
  if (fuse_reply_entry(req, &e) != 0) Fs(req)->inodes().Forget(entry->ino, 1);
}

void Init(void* userdata, fuse_conn_info* conn) {
  (void)userdata;
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  if (conn->capable & FUSE_CAP_READDIRPLUS) {
    conn->want |= FUSE_CAP_READDIRPLUS;
    conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;  // ls -l on big directories: one round trip
  }
  if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  // POSIX ACLs: the kernel enforces them (and with them default_permissions); their upkeep,
  // default-ACL inheritance and so the umask are ours (fuse/posix_acl.h).
  if (conn->capable & FUSE_CAP_POSIX_ACL) conn->want |= FUSE_CAP_POSIX_ACL;
  if (conn->capable & FUSE_CAP_DONT_MASK) conn->want |= FUSE_CAP_DONT_MASK;
  // Locks stay local to this machine: the kernel handles them.
  conn->want &= ~(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
  // max_write 1 MiB also makes libfuse ask for max_pages 256: reads of up to 1 MiB. The
  // kernel offers max_readahead = its bdi default (128 KiB) and takes the smaller of that and
  // ours, so it cannot be raised here: RunMount raises the bdi's read_ahead_kb after INIT.
  conn->max_write = kMaxWrite;
  Logger("mount")->debug("kernel connection: max_write {} max_readahead {}", conn->max_write,
                         conn->max_readahead);
}

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  absl::StatusOr<Entry> entry = Fs(req)->Lookup(parent, name);
  if (!entry.ok() && ErrnoFromStatus(entry.status()) == ENOENT && Ctx(req)->negative_timeout > 0) {
    // A negative entry (inode 0): the kernel answers ENOENT itself for negative_timeout, and
    // a create of the name goes straight to create without another lookup.
    fuse_entry_param e = {};
    e.entry_timeout = Ctx(req)->negative_timeout;
    fuse_reply_entry(req, &e);
    return;
  }
  ReplyEntry(req, entry, "lookup");
}

void Forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  Fs(req)->inodes().Forget(ino, nlookup);
  fuse_reply_none(req);
}

void ForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) Fs(req)->inodes().Forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* /*fi*/) {
  auto attr = Fs(req)->GetAttr(ino);
  if (!attr.ok()) {
    ReplyError(req, attr.status(), "getattr");
    return;
  }
  fuse_reply_attr(req, &*attr, Ctx(req)->attr_timeout);
}

void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  auto result = Fs(req)->SetAttr(ino, *attr, to_set, fi ? Fh(fi) : nullptr);
  if (!result.ok()) {
    ReplyError(req, result.status(), "setattr");
    return;
  }
  fuse_reply_attr(req, &*result, Ctx(req)->attr_timeout);
}

void ReadLink(fuse_req_t req, fuse_ino_t ino) {
  auto target = Fs(req)->ReadLink(ino);
  if (!target.ok()) {
    ReplyError(req, target.status(), "readlink");
    return;
  }
  fuse_reply_readlink(req, target->c_str());
}

void MkNod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  if (!S_ISREG(mode)) {
    ReplyEntry(req, Fs(req)->MkSpecial(parent, name, mode, rdev, ctx->uid, ctx->gid, ctx->umask),
               "mknod");
    return;
  }
  auto created = Fs(req)->Create(parent, name, mode, ctx->uid, ctx->gid, ctx->umask);
  if (!created.ok()) {
    ReplyError(req, created.status(), "mknod");
    return;
  }
  created->second->created = false;  // store it now, so that mknod reports the result
  absl::Status stored = Fs(req)->Flush(created->second);
  Fs(req)->Release(created->second);
  if (!stored.ok()) {
    Fs(req)->inodes().Forget(created->first.ino, 1);
    ReplyError(req, stored, "mknod");
    return;
  }
  ReplyEntry(req, created->first, "mknod");
}

void MkDir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  ReplyEntry(req, Fs(req)->Mkdir(parent, name, mode, ctx->uid, ctx->gid, ctx->umask), "mkdir");
}

void Symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  ReplyEntry(req, Fs(req)->Symlink(link, parent, name, ctx->uid, ctx->gid), "symlink");
}

void Unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  ReplyError(req, Fs(req)->Unlink(parent, name), "unlink");
}

void RmDir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  ReplyError(req, Fs(req)->Rmdir(parent, name), "rmdir");
}

void Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
            const char* newname, unsigned int flags) {
  ReplyError(req, Fs(req)->Rename(parent, name, newparent, newname, flags), "rename");
}

void Link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  ReplyEntry(req, Fs(req)->Link(ino, newparent, newname), "link");
}

void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  bool keep_cache = false;
  auto fh = Fs(req)->Open(ino, fi->flags, &keep_cache);
  if (!fh.ok()) {
    ReplyError(req, fh.status(), "open");
    return;
  }
  fi->fh = reinterpret_cast<uint64_t>(*fh);
  fi->keep_cache = keep_cache;
  if (fuse_reply_open(req, fi) != 0) Fs(req)->Release(*fh);
}

void Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  auto created = Fs(req)->Create(parent, name, mode, ctx->uid, ctx->gid, ctx->umask);
  if (!created.ok()) {
    ReplyError(req, created.status(), "create");
    return;
  }
  fi->fh = reinterpret_cast<uint64_t>(created->second);
  fuse_entry_param e = ToEntryParam(req, created->first);
  if (fuse_reply_create(req, &e, fi) != 0) {
    Fs(req)->Release(created->second);
    Fs(req)->inodes().Forget(created->first.ino, 1);
  }
}

void Read(fuse_req_t req, fuse_ino_t /*ino*/, size_t size, off_t off, fuse_file_info* fi) {
  MountMetrics* metrics = Ctx(req)->metrics;
  absl::Status status = Fs(req)->Read(Fh(fi), size, off, [&](const iovec* pieces, int count) {
    if (metrics) {
      for (int i = 0; i < count; ++i) metrics->bytes_read.Increment(pieces[i].iov_len);
    }
    if (count == 0) {
      fuse_reply_buf(req, nullptr, 0);
    } else {
      fuse_reply_iov(req, pieces, count);
    }
  });
  if (!status.ok()) ReplyError(req, status, "read");
}

void Write(fuse_req_t req, fuse_ino_t /*ino*/, const char* buf, size_t size, off_t off,
           fuse_file_info* fi) {
  auto written = Fs(req)->Write(Fh(fi), buf, size, off);
  if (!written.ok()) {
    ReplyError(req, written.status(), "write");
    return;
  }
  if (MountMetrics* metrics = Ctx(req)->metrics) metrics->bytes_written.Increment(*written);
  fuse_reply_write(req, *written);
}

void Fallocate(fuse_req_t req, fuse_ino_t /*ino*/, int mode, off_t offset, off_t length,
               fuse_file_info* fi) {
  ReplyError(req, Fs(req)->Fallocate(Fh(fi), mode, offset, length), "fallocate");
}

void Lseek(fuse_req_t req, fuse_ino_t /*ino*/, off_t off, int whence, fuse_file_info* fi) {
  auto at = Fs(req)->Lseek(Fh(fi), off, whence);
  if (!at.ok()) {
    ReplyError(req, at.status(), "lseek");
    return;
  }
  fuse_reply_lseek(req, *at);
}

// Whether process `pid` has a descriptor open on `path` (absolute, as it names files).
// False when that cannot be told: no such process, another mount namespace, no access.
bool HoldsDescriptor(pid_t pid, const std::string& path) {
  if (pid <= 0) return false;
  DIR* dir = ::opendir(fmt::format("/proc/{}/fd", pid).c_str());
  if (dir == nullptr) return false;
  bool found = false;
  char target[PATH_MAX];
  while (dirent* entry = ::readdir(dir)) {
    ssize_t n = ::readlinkat(::dirfd(dir), entry->d_name, target, sizeof(target));
    if (n == static_cast<ssize_t>(path.size()) && path.compare(0, n, target, n) == 0) {
      found = true;
      break;
    }
  }
  ::closedir(dir);
  return found;
}

void Flush(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
  // close() has already taken the descriptor out of the process's table: any descriptor
  // left on the same path is another one.
  pid_t pid = fuse_req_ctx(req)->pid;
  const std::string& mountpoint = Ctx(req)->mountpoint;
  auto held_elsewhere = [pid, &mountpoint](const std::string& path) {
    return !mountpoint.empty() && HoldsDescriptor(pid, mountpoint + path);
  };
  absl::Status status = Fs(req)->Flush(Fh(fi), held_elsewhere);
  if (!status.ok() && Ctx(req)->metrics) Ctx(req)->metrics->failed_closes.Increment();
  ReplyError(req, status, "flush");
}

void Release(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
  Fs(req)->Release(Fh(fi));
  fuse_reply_err(req, 0);
}

void Fsync(fuse_req_t req, fuse_ino_t /*ino*/, int /*datasync*/, fuse_file_info* fi) {
  ReplyError(req, Fs(req)->Fsync(Fh(fi)), "fsync");
}

void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto dh = Fs(req)->OpenDir(ino);
  if (!dh.ok()) {
    ReplyError(req, dh.status(), "opendir");
    return;
  }
  fi->fh = reinterpret_cast<uint64_t>(*dh);
  if (fuse_reply_open(req, fi) != 0) Fs(req)->ReleaseDir(*dh);
}

void ReadDirCommon(fuse_req_t req, size_t size, off_t offset, fuse_file_info* fi, bool plus) {
  std::unique_ptr<char[]> buf(new char[size]);
  size_t used = 0;
  absl::Status status = Fs(req)->ReadDir(
      Dh(fi), offset, plus, [&](const std::string& name, const Entry& entry, int64_t next) {
        size_t n;
        if (plus) {
          fuse_entry_param e = ToEntryParam(req, entry);
          n = fuse_add_direntry_plus(req, buf.get() + used, size - used, name.c_str(), &e, next);
        } else {
          n = fuse_add_direntry(req, buf.get() + used, size - used, name.c_str(), &entry.attr,
                                next);
        }
        if (n > size - used) return false;
        used += n;
        return true;
      });
  if (!status.ok() && used == 0) {
    ReplyError(req, status, "readdir");
    return;
  }
  fuse_reply_buf(req, buf.get(), used);
}

void ReadDir(fuse_req_t req, fuse_ino_t /*ino*/, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, size, off, fi, false);
}

void ReadDirPlus(fuse_req_t req, fuse_ino_t /*ino*/, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, size, off, fi, true);
}

void ReleaseDir(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
  Fs(req)->ReleaseDir(Dh(fi));
  fuse_reply_err(req, 0);
}

void FsyncDir(fuse_req_t req, fuse_ino_t /*ino*/, int /*datasync*/, fuse_file_info* /*fi*/) {
  fuse_reply_err(req, 0);  // directory changes are stored before their call returns
}

void StatFs(fuse_req_t req, fuse_ino_t /*ino*/) {
  auto st = Fs(req)->StatFs();
  if (!st.ok()) {
    ReplyError(req, st.status(), "statfs");
    return;
  }
  fuse_reply_statfs(req, &*st);
}

// A value of getxattr/listxattr: its size for a probe (size 0), ERANGE when it does not fit.
void ReplyXattr(fuse_req_t req, const absl::StatusOr<std::string>& value, size_t size,
                const char* op) {
  if (!value.ok()) {
    ReplyError(req, value.status(), op);
  } else if (size == 0) {
    fuse_reply_xattr(req, value->size());
  } else if (value->size() > size) {
    fuse_reply_err(req, ERANGE);
  } else {
    fuse_reply_buf(req, value->data(), value->size());
  }
}

void GetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  ReplyXattr(req, Fs(req)->GetXattr(ino, name), size, "getxattr");
}

void ListXattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  // As ext4 does, trusted.* is listed only to a privileged caller (root here).
  ReplyXattr(req, Fs(req)->ListXattr(ino, fuse_req_ctx(req)->uid == 0), size, "listxattr");
}

void SetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
              int flags) {
  ReplyError(req, Fs(req)->SetXattr(ino, name, std::string_view(value, size), flags), "setxattr");
}

void RemoveXattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  ReplyError(req, Fs(req)->RemoveXattr(ino, name), "removexattr");
}

// Handler `Fn` measured as `op` when the mount has metrics. The context is taken first: a
// request is gone once answered.
template <FuseOp op, auto Fn>
struct Timed;
template <FuseOp op, typename... Args, void (*Fn)(fuse_req_t, Args...)>
struct Timed<op, Fn> {
  static void Call(fuse_req_t req, Args... args) {
    MountContext* ctx = Ctx(req);
    if (ctx->metrics == nullptr) return Fn(req, args...);
    const TimePoint start = ctx->clock->Now();
    Fn(req, args...);
    ctx->metrics->op_seconds[static_cast<size_t>(op)]->Observe(
        ToSeconds(ctx->clock->Now() - start));
  }
};

fuse_lowlevel_ops MakeOperations() {
  fuse_lowlevel_ops ops = {};
  ops.init = Init;
  ops.lookup = Timed<FuseOp::kLookup, Lookup>::Call;
  ops.forget = Timed<FuseOp::kForget, Forget>::Call;
  ops.forget_multi = Timed<FuseOp::kForget, ForgetMulti>::Call;
  ops.getattr = Timed<FuseOp::kGetAttr, GetAttr>::Call;
  ops.setattr = Timed<FuseOp::kSetAttr, SetAttr>::Call;
  ops.readlink = Timed<FuseOp::kReadLink, ReadLink>::Call;
  ops.mknod = Timed<FuseOp::kMkNod, MkNod>::Call;
  ops.mkdir = Timed<FuseOp::kMkDir, MkDir>::Call;
  ops.symlink = Timed<FuseOp::kSymlink, Symlink>::Call;
  ops.unlink = Timed<FuseOp::kUnlink, Unlink>::Call;
  ops.rmdir = Timed<FuseOp::kRmDir, RmDir>::Call;
  ops.rename = Timed<FuseOp::kRename, Rename>::Call;
  ops.link = Timed<FuseOp::kLink, Link>::Call;
  ops.open = Timed<FuseOp::kOpen, Open>::Call;
  ops.create = Timed<FuseOp::kCreate, Create>::Call;
  ops.read = Timed<FuseOp::kRead, Read>::Call;
  ops.write = Timed<FuseOp::kWrite, Write>::Call;
  ops.flush = Timed<FuseOp::kFlush, Flush>::Call;
  ops.release = Timed<FuseOp::kRelease, Release>::Call;
  ops.fsync = Timed<FuseOp::kFsync, Fsync>::Call;
  ops.opendir = Timed<FuseOp::kOpenDir, OpenDir>::Call;
  ops.readdir = Timed<FuseOp::kReadDir, ReadDir>::Call;
  ops.readdirplus = Timed<FuseOp::kReadDir, ReadDirPlus>::Call;
  ops.releasedir = Timed<FuseOp::kReleaseDir, ReleaseDir>::Call;
  ops.fsyncdir = Timed<FuseOp::kFsyncDir, FsyncDir>::Call;
  ops.statfs = Timed<FuseOp::kStatFs, StatFs>::Call;
  ops.fallocate = Timed<FuseOp::kFallocate, Fallocate>::Call;
  ops.lseek = Timed<FuseOp::kLseek, Lseek>::Call;
  ops.getxattr = Timed<FuseOp::kGetXattr, GetXattr>::Call;
  ops.listxattr = Timed<FuseOp::kListXattr, ListXattr>::Call;
  ops.setxattr = Timed<FuseOp::kSetXattr, SetXattr>::Call;
  ops.removexattr = Timed<FuseOp::kRemoveXattr, RemoveXattr>::Call;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& Operations() {
  static const fuse_lowlevel_ops ops = MakeOperations();
  return ops;
}

}  // namespace chainfs::mount
