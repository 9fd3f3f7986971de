#include "fuse/filesystem.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/fs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include "common/client/xattr_rules.h"
#include "common/log.h"
#include "common/names.h"
#include "common/status.h"
#include "fuse/errors.h"
#include "fuse/extents.h"

namespace chainfs::mount {

namespace {

mode_t KindBits(v1::Kind kind) {
  switch (kind) {
    case v1::KIND_DIRECTORY:
      return S_IFDIR;
    case v1::KIND_SYMLINK:
      return S_IFLNK;
    case v1::KIND_FIFO:
      return S_IFIFO;
    case v1::KIND_CHAR_DEVICE:
      return S_IFCHR;
    case v1::KIND_BLOCK_DEVICE:
      return S_IFBLK;
    case v1::KIND_SOCKET:
      return S_IFSOCK;
    default:
      return S_IFREG;
  }
}

}  // namespace

Filesystem::Filesystem(NameServerApi* nameserver, FileStoreApi* filestores, Clock* clock,
                       FilesystemSettings settings)
    : nameserver_(nameserver),
      filestores_(filestores),
      clock_(clock),
      settings_(std::move(settings)),
      client_(nameserver, filestores, settings_.upload_retry, clock),
      uploader_(&client_, {.cache_base = settings_.cache_base,
                           .kept_limits = settings_.kept_limits,
                           .write_behind = settings_.write_behind,
                           .whole_uploads = settings_.whole_uploads}),
      start_ns_(clock->WallNanos()),
      local_times_(clock, settings_.times.local_hold),
      atime_updater_(clock, settings_.times.atime_interval,
                     [this](uint64_t ino, int64_t atime_ns) { return SendAtime(ino, atime_ns); }) {}

struct stat Filesystem::ToStat(uint64_t ino, const v1::FileInfo& info) {
  struct stat st = {};
  st.st_ino = ino;
  mode_t perm = info.attributes().mode() & 07777;
  if (info.kind() == v1::KIND_DIRECTORY && perm == 0) perm = 0755;
  if (info.kind() == v1::KIND_SYMLINK) perm = 0777;
  st.st_mode = KindBits(info.kind()) | perm;
  st.st_nlink = info.nlink() != 0 ? info.nlink() : info.kind() == v1::KIND_DIRECTORY ? 2 : 1;
  st.st_uid = info.attributes().uid();
  st.st_gid = info.attributes().gid();
  st.st_rdev = info.attributes().rdev();
  st.st_size = info.size();
  st.st_blksize = 1 << 20;
  st.st_blocks = (info.size() + 511) / 512;
  FillTimes(info.attributes(), &st);
  return st;
}

absl::StatusOr<std::string> Filesystem::PathOf(uint64_t ino) const {
  auto path = inodes_.Path(ino);
  if (!path) return ErrnoError(ENOENT, fmt::format("inode {} is gone", ino));
  return *path;
}

absl::StatusOr<v1::FileInfo> Filesystem::StatPath(const std::string& path) {
  absl::StatusOr<v1::FileInfo> reply = nameserver_->StatPath(path);
  if (path == "/" && (!reply.ok() || reply->version() == 0)) {
    // The root always exists; without an entry of its own it belongs to the mounting user.
    if (!reply.ok() && reply.status().code() != absl::StatusCode::kNotFound &&
        reply.status().code() != absl::StatusCode::kInvalidArgument) {
      return reply.status();
    }
    v1::FileInfo root;
    root.set_name("/");
    root.set_kind(v1::KIND_DIRECTORY);
    root.mutable_attributes()->set_mode(0755);
    root.mutable_attributes()->set_uid(settings_.root_uid);
    root.mutable_attributes()->set_gid(settings_.root_gid);
    // Its times: the NameServer's while it kept them (entries changed in it), else the mount's.
    const bool timed = reply.ok() && reply->attributes().mtime_ns() != 0;
    root.mutable_attributes()->set_mtime_ns(timed ? reply->attributes().mtime_ns() : start_ns_);
    if (timed) root.mutable_attributes()->set_ctime_ns(reply->attributes().ctime_ns());
    if (reply.ok()) root.set_nlink(reply->nlink());
    return root;
  }
  return reply;
}

absl::StatusOr<v1::FileInfo> Filesystem::StatInode(uint64_t ino, const std::string& path) {
  const TimePoint asked = clock_->Now();
  if (settings_.attr_timeout > Duration::zero()) {
    if (auto info = inodes_.Info(ino, asked - settings_.attr_timeout)) return *std::move(info);
  }
  CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo info, StatPath(path));
  inodes_.SetInfo(ino, info, asked);
  return info;
}

struct stat Filesystem::StagedStat(uint64_t ino, StagedFile& staged) {
  v1::FileInfo info;
  info.set_kind(v1::KIND_FILE);
  *info.mutable_attributes() = staged.attributes();
  auto size = staged.Size();
  info.set_size(size.ok() ? *size : 0);
  if (auto known = inodes_.Info(ino, TimePoint::min())) info.set_nlink(known->nlink());
  return ToStat(ino, info);
}

v1::Attributes Filesystem::NewAttributes(mode_t mode, uid_t uid, gid_t gid) const {
  v1::Attributes attributes;
  attributes.set_mode(mode & 07777);
  attributes.set_uid(uid);
  attributes.set_gid(gid);
  const int64_t now = clock_->WallNanos();
  attributes.set_mtime_ns(now);
  attributes.set_atime_ns(now);
  attributes.set_ctime_ns(now);
  return attributes;
}

absl::StatusOr<Entry> Filesystem::Lookup(uint64_t parent, const std::string& name) {
  CHAINFS_ASSIGN_OR_RETURN(std::string dir, PathOf(parent));
  CHAINFS_ASSIGN_OR_RETURN(std::string path, ChildPath(dir, name));
  std::optional<uint64_t> known = inodes_.Find(path);
  if (known) {
    if (auto staged = inodes_.Staged(*known)) {
      Entry entry{.ino = inodes_.Ref(path)};
      entry.attr = StagedStat(entry.ino, *staged);
      return entry;
    }
  }
  const TimePoint asked = clock_->Now();
  absl::StatusOr<v1::FileInfo> info = known ? StatInode(*known, path) : StatPath(path);
  if (!info.ok()) return info.status();
  Entry entry{.ino = inodes_.Ref(path, info->attributes().inode())};
  if (!known || *known != entry.ino) inodes_.SetInfo(entry.ino, *info, asked);
  entry.attr = ToStat(entry.ino, *info);
  local_times_.Apply(&entry.attr);
  return entry;
}

absl::StatusOr<struct stat> Filesystem::GetAttr(uint64_t ino) {
  std::optional<std::string> path = inodes_.Path(ino);
  if (!path) return UnlinkedAttr(ino);
  if (auto staged = inodes_.Staged(ino)) return StagedStat(ino, *staged);
  CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo info, StatInode(ino, *path));
  struct stat st = ToStat(ino, info);
  local_times_.Apply(&st);
  return st;
}

absl::StatusOr<struct stat> Filesystem::SetAttr(uint64_t ino, const struct stat& attr, int to_set,
                                                FileHandle* fh) {
  std::shared_ptr<StagedFile> staged = fh && fh->staged ? fh->staged : inodes_.Staged(ino);
  // Unlinked while open: a staged file changes only here, one renamed away under its name.
  std::optional<std::string> named = inodes_.Path(ino);
  if (!named) named = open_files_.Hidden(ino);
  if (!named && !staged) return ErrnoError(ENOENT, fmt::format("inode {} is gone", ino));
  const std::string path = named.value_or("");
  int64_t now = clock_->WallNanos();

  if (to_set & FUSE_SET_ATTR_SIZE) {
    if (attr.st_size < 0) return ErrnoError(EINVAL, "negative size");
    if (attr.st_size > kMaxFileBytes) return ErrnoError(EFBIG, "over the largest file size");
    if (staged) {
      CHAINFS_RETURN_IF_ERROR(staged->Truncate(attr.st_size, now));
    } else {
      // truncate(2) of a file nobody here has open: stage, truncate, upload.
      std::unique_ptr<StagedFile> temp;
      if (attr.st_size == 0) {
        CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo info, StatInode(ino, path));
        if (info.kind() == v1::KIND_DIRECTORY) return ErrnoError(EISDIR, "is a directory");
        CHAINFS_ASSIGN_OR_RETURN(temp, NewStaged(info.attributes()));
      } else {
        CHAINFS_ASSIGN_OR_RETURN(temp, StageExisting(path));
      }
      CHAINFS_RETURN_IF_ERROR(temp->Truncate(attr.st_size, now));
      CHAINFS_RETURN_IF_ERROR(UploadStaged(ino, *temp));
    }
  }

  v1::SetAttributesRequest req;
  req.set_path(path);
  v1::Attributes& wanted = *req.mutable_attributes();
  wanted.set_mode(attr.st_mode & 07777);
  wanted.set_uid(attr.st_uid);
  wanted.set_gid(attr.st_gid);
  req.set_set_mode(to_set & FUSE_SET_ATTR_MODE);
  req.set_set_uid(to_set & FUSE_SET_ATTR_UID);
  req.set_set_gid(to_set & FUSE_SET_ATTR_GID);
  SetTimes(attr, to_set, now, &req);
  if (req.set_mode()) {  // an access ACL follows chmod (posix_acl_chmod)
    CHAINFS_ASSIGN_OR_RETURN(std::optional<std::string> acl,
                             AclAfterChmod(ino, wanted.mode(), staged.get()));
    if (acl) (*req.mutable_set_xattrs())[std::string(kAclAccessXattr)] = *acl;
  }
  if (req.set_ctime()) {
    local_times_.Forget(ino);
    if (staged) {
      staged->SetAttributes(wanted, req.set_mode(), req.set_uid(), req.set_gid(), req.set_mtime(),
                            req.set_atime(), req.set_ctime());
    }
    if (named && (!staged || !staged->dirty())) {
      atime_updater_.Drain();  // its clone of the same version would make this one fail
      auto reply = nameserver_->SetAttributes(req);
      if (!reply.ok()) return reply.status();
      inodes_.SetInfo(ino, reply->file(), clock_->Now());
      if (!staged && inodes_.Path(ino)) return ToStat(ino, reply->file());
    }
  }
  return GetAttr(ino);
}

absl::StatusOr<std::unique_ptr<StagedFile>> Filesystem::NewStaged(
    const v1::Attributes& attributes) {
  uint64_t seq;
  {
    std::lock_guard lock(staged_name_mu_);
    seq = ++staged_seq_;
  }
  v1::Attributes own = attributes;
  own.clear_inode();  // a hard link's inode name is the NameServer's to give, not content's
  return StagedFile::Create(fmt::format("{}/staged-{}", settings_.cache_dir, seq), own);
}

absl::Status Filesystem::UploadStaged(uint64_t ino, StagedFile& staged) {
  std::lock_guard upload(staged.upload_mutex());
  if (!staged.dirty()) return absl::OkStatus();
  auto path = inodes_.Path(ino);
  if (!path) {
    // Unlinked while open: its bytes go nowhere, as on a local filesystem.
    staged.EndWriteBehind(/*finish=*/false);
    staged.MarkUploaded(staged.generation());
    return absl::OkStatus();
  }
  uint64_t generation = staged.generation();
  CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo stored, uploader_.StoreStaged(*path, staged));
  staged.MarkUploaded(generation, stored.version());
  NameLinkedUpload(ino, *path, &stored);
  inodes_.SetVersion(ino, stored.version());
  // What the NameServer recorded: a getattr after close needs no Stat.
  inodes_.SetInfo(ino, stored, clock_->Now());
  return absl::OkStatus();
}

absl::StatusOr<Entry> Filesystem::CreateObject(uint64_t parent, const std::string& name,
                                               v1::Kind kind, const v1::Attributes& attributes,
                                               const std::string& target) {
  CHAINFS_ASSIGN_OR_RETURN(std::string dir, PathOf(parent));
  CHAINFS_ASSIGN_OR_RETURN(std::string path, ChildPath(dir, name));
  CHAINFS_ASSIGN_OR_RETURN(v1::CreateReply made,
                           kind == v1::KIND_DIRECTORY ? client_.Mkdir(path, attributes)
                           : IsSpecialKind(kind)      ? client_.MakeSpecial(path, kind, attributes)
                                                      : client_.Symlink(path, target, attributes));
  v1::FileInfo info = made.file();
  info.set_kind(kind);
  *info.mutable_attributes() = attributes;
  info.set_size(target.size());
  Entry entry{.ino = inodes_.Ref(path)};
  inodes_.SetInfo(entry.ino, info, clock_->Now());
  entry.attr = ToStat(entry.ino, info);
  EntriesChanged(parent);
  return entry;
}

absl::StatusOr<Entry> Filesystem::Mkdir(uint64_t parent, const std::string& name, mode_t mode,
                                        uid_t uid, gid_t gid, mode_t umask) {
  if (std::optional<gid_t> group = SetgidGroup(parent)) {
    gid = *group;
    mode |= S_ISGID;
  }
  CHAINFS_ASSIGN_OR_RETURN(v1::Attributes attributes,
                           InheritedAttributes(parent, mode, uid, gid, umask, /*directory=*/true));
  return CreateObject(parent, name, v1::KIND_DIRECTORY, attributes, "");
}

absl::StatusOr<Entry> Filesystem::Symlink(const std::string& target, uint64_t parent,
                                          const std::string& name, uid_t uid, gid_t gid) {
  if (target.empty() || target.size() > kMaxSymlinkTargetBytes) {
    return ErrnoError(target.empty() ? ENOENT : ENAMETOOLONG, "bad symlink target");
  }
  gid = SetgidGroup(parent).value_or(gid);
  return CreateObject(parent, name, v1::KIND_SYMLINK, NewAttributes(0777, uid, gid), target);
}

absl::StatusOr<std::string> Filesystem::ReadLink(uint64_t ino) {
  CHAINFS_ASSIGN_OR_RETURN(std::string path, PathOf(ino));
  v1::DoReadRequest req;
  req.set_path(path);
  CHAINFS_ASSIGN_OR_RETURN(v1::DoReadReply file, nameserver_->DoRead(req));
  if (file.file().kind() != v1::KIND_SYMLINK) return ErrnoError(EINVAL, "not a symlink");
  const std::vector<std::string> holders(file.holders().begin(), file.holders().end());
  // A target is at most 4 KiB: one ReadSmall, or the stream from holders that predate it.
  auto small = filestores_->ReadSmall(ObjectName(file), file.file().version(), holders);
  if (small.ok()) return std::move(*small->mutable_content());
  return filestores_->ReadAll(ObjectName(file), file.file().version(), holders);
}

absl::Status Filesystem::Unlink(uint64_t parent, const std::string& name) {
  CHAINFS_ASSIGN_OR_RETURN(std::string dir, PathOf(parent));
  CHAINFS_ASSIGN_OR_RETURN(std::string path, ChildPath(dir, name));
  CHAINFS_ASSIGN_OR_RETURN(bool moved_away, MoveAwayIfReadRemotely(path));
  v1::DoDeleteRequest req;
  req.set_path(path);
  req.set_directory_must_be_empty(true);
  auto reply = moved_away ? absl::StatusOr<v1::DoDeleteReply>(v1::DoDeleteReply())
                          : nameserver_->DoDelete(req);
  if (!reply.ok()) {
    // A file created here and not yet uploaded exists only in its staging file.
    auto ino = inodes_.Find(path);
    bool staged_only = ino && inodes_.Staged(*ino);
    if (!(staged_only && reply.status().code() == absl::StatusCode::kNotFound)) {
      return reply.status();
    }
  }
  inodes_.Detach(path);
  EntriesChanged(parent);
  return absl::OkStatus();
}

absl::Status Filesystem::Rmdir(uint64_t parent, const std::string& name) {
  CHAINFS_ASSIGN_OR_RETURN(std::string dir, PathOf(parent));
  CHAINFS_ASSIGN_OR_RETURN(std::string path, ChildPath(dir, name));
  v1::ListDirectoryRequest list;
  list.set_path(path);
  list.set_limit(1);
  CHAINFS_ASSIGN_OR_RETURN(v1::ListDirectoryReply children, nameserver_->ListDirectory(list));
  if (children.entries_size() > 0) return ErrnoError(ENOTEMPTY, "directory not empty");
  v1::DoDeleteRequest req;
  req.set_path(path);
  req.set_directory_must_be_empty(true);
  auto reply = nameserver_->DoDelete(req);
  if (!reply.ok()) return reply.status();
  inodes_.Detach(path);
  EntriesChanged(parent);
  return absl::OkStatus();
}

absl::Status Filesystem::Rename(uint64_t parent, const std::string& name, uint64_t new_parent,
                                const std::string& new_name, unsigned int flags) {
  if (flags & ~RENAME_NOREPLACE) return ErrnoError(EINVAL, "rename flags not supported");
  CHAINFS_ASSIGN_OR_RETURN(std::string dir, PathOf(parent));
  CHAINFS_ASSIGN_OR_RETURN(std::string from, ChildPath(dir, name));
  CHAINFS_ASSIGN_OR_RETURN(std::string new_dir, PathOf(new_parent));
  CHAINFS_ASSIGN_OR_RETURN(std::string to, ChildPath(new_dir, new_name));
  if (from == to) return absl::OkStatus();
  const bool no_replace = flags & RENAME_NOREPLACE;
  // An atime update of ours in flight would clone a version the rename is cloning too.
  atime_updater_.Drain();
  auto from_ino = inodes_.Find(from);
  auto to_ino = inodes_.Find(to);
  bool target_moved = false;
  if (to_ino && to_ino != from_ino) {
    // A target open here keeps its content until closed: checked first, then moved away.
    absl::StatusOr<v1::FileInfo> source = StatPath(from);
    const bool staged_only =
        from_ino && inodes_.Staged(*from_ino) && absl::IsNotFound(source.status());
    if (!source.ok() && !staged_only) return source.status();
    const bool from_is_dir = source.ok() && source->kind() == v1::KIND_DIRECTORY;
    CHAINFS_RETURN_IF_ERROR(client_.CheckRenameTarget(from, from_is_dir, to, no_replace));
    CHAINFS_ASSIGN_OR_RETURN(target_moved, MoveAwayIfReadRemotely(to));
  }
  // A file created here and not stored yet exists only in its staging file: the checks are
  // the Client's, the move only the inode table's.
  if (from_ino && inodes_.Staged(*from_ino)) {
    auto source = StatPath(from);
    if (!source.ok() && source.status().code() == absl::StatusCode::kNotFound) {
      CHAINFS_RETURN_IF_ERROR(client_.CheckRenameTarget(from, false, to, no_replace));
      inodes_.Rename(from, to);
      EntriesChanged(parent);
      EntriesChanged(new_parent);
      return absl::OkStatus();
    }
  }
  if (absl::Status renamed = client_.Rename(from, to, no_replace); !renamed.ok()) {
    if (target_moved) MoveBack(*to_ino, to);
    return renamed;
  }
  inodes_.Rename(from, to);
  EntriesChanged(parent);
  EntriesChanged(new_parent);
  if (from_ino) RepointReaders(*from_ino, to);
  return absl::OkStatus();
}

absl::StatusOr<struct statvfs> Filesystem::StatFs() {
  CHAINFS_ASSIGN_OR_RETURN(v1::StatFsReply fs, nameserver_->StatFs(v1::StatFsRequest()));
  struct statvfs st = {};
  constexpr uint64_t kBlock = 4096;
  st.f_bsize = 1 << 20;
  st.f_frsize = kBlock;
  st.f_blocks = fs.bytes_total() / kBlock;
  st.f_bfree = fs.bytes_available() / kBlock;
  st.f_bavail = st.f_bfree;
  st.f_files = fs.files() + st.f_bfree;
  st.f_ffree = st.f_bfree;
  st.f_favail = st.f_bfree;
  st.f_namemax = kMaxComponentBytes;
  return st;
}

absl::StatusOr<FileHandle*> Filesystem::Open(uint64_t ino, int flags, bool* keep_cache) {
  CHAINFS_ASSIGN_OR_RETURN(std::string path, PathOf(ino));
  auto fh = std::make_unique<FileHandle>();
  fh->ino = ino;
  fh->path = path;
  fh->writer = (flags & O_ACCMODE) != O_RDONLY;
  *keep_cache = false;
  if (fh->writer) {
    std::lock_guard lock(open_mu_);
    std::shared_ptr<StagedFile> staged = inodes_.Staged(ino);
    if (!staged) {
      if (flags & O_TRUNC) {
        CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo info, StatInode(ino, path));
        if (info.kind() == v1::KIND_DIRECTORY) return ErrnoError(EISDIR, "is a directory");
        CHAINFS_ASSIGN_OR_RETURN(staged, NewStaged(info.attributes()));
      } else {
        CHAINFS_ASSIGN_OR_RETURN(staged, StageExisting(path));
      }
      inodes_.SetStaged(ino, staged);
      // The kernel's size may predate the content just staged (O_APPEND writes at it).
      if (invalidate_attributes_) invalidate_attributes_(ino);
    }
    if (flags & O_TRUNC) CHAINFS_RETURN_IF_ERROR(staged->Truncate(0, clock_->WallNanos()));
    if (staged->writers() > 0) staged->StopAppends();  // a second writer: no write-behind
    staged->AddWriter();
    fh->staged = std::move(staged);
    return Opened(std::move(fh));
  }
  if (auto staged = inodes_.Staged(ino)) {
    fh->staged = std::move(staged);
    return Opened(std::move(fh));
  }
  // Close-to-open: every open asks the NameServer for the latest version.
  v1::DoReadRequest req;
  req.set_path(path);
  const TimePoint asked = clock_->Now();
  CHAINFS_ASSIGN_OR_RETURN(fh->file, nameserver_->DoRead(req));
  if (fh->file.file().kind() == v1::KIND_DIRECTORY) return ErrnoError(EISDIR, "is a directory");
  const int64_t version = fh->file.file().version();
  // The kernel's attributes came from the last open or, before any, a lookup or getattr.
  std::optional<v1::FileInfo> told = inodes_.Info(ino, TimePoint::min());
  inodes_.SetInfo(ino, fh->file.file(), asked);
  int64_t previous = inodes_.ExchangeVersion(ino, version);
  *keep_cache = previous == version;
  if (previous == 0 && told) previous = told->version();
  if (previous != 0 && previous != version && invalidate_attributes_) invalidate_attributes_(ino);
  return Opened(std::move(fh));
}

absl::StatusOr<std::pair<Entry, FileHandle*>> Filesystem::Create(uint64_t parent,
                                                                 const std::string& name,
                                                                 mode_t mode, uid_t uid, gid_t gid,
                                                                 mode_t umask) {
  CHAINFS_ASSIGN_OR_RETURN(std::string dir, PathOf(parent));
  CHAINFS_ASSIGN_OR_RETURN(std::string path, ChildPath(dir, name));
  // O_EXCL needs no question of its own: the kernel sends create only right after a lookup
  // found no such name (it answers EEXIST itself otherwise).
  gid = SetgidGroup(parent).value_or(gid);
  CHAINFS_ASSIGN_OR_RETURN(v1::Attributes attributes,
                           InheritedAttributes(parent, mode, uid, gid, umask, false));
  CHAINFS_ASSIGN_OR_RETURN(std::shared_ptr<StagedFile> staged, NewStaged(attributes));
  staged->MarkDirty();  // even an empty new file is uploaded on close
  staged->AddWriter();
  Entry entry{.ino = inodes_.Ref(path)};
  {
    std::lock_guard lock(open_mu_);
    inodes_.SetStaged(entry.ino, staged);
  }
  entry.attr = StagedStat(entry.ino, *staged);
  EntriesChanged(parent);
  auto fh = std::make_unique<FileHandle>();
  fh->ino = entry.ino;
  fh->path = path;
  fh->writer = true;
  fh->created = true;
  fh->staged = std::move(staged);
  return std::make_pair(entry, Opened(std::move(fh)));
}

absl::Status Filesystem::Read(FileHandle* fh, size_t size, int64_t offset,
                              const ReadAhead::Reply& reply) {
  std::lock_guard lock(fh->mu);
  if (fh->staged) {
    if (fh->buffer_capacity < size) {
      fh->buffer.reset(new char[size]);
      fh->buffer_capacity = size;
    }
    CHAINFS_ASSIGN_OR_RETURN(size_t got, fh->staged->Read(fh->buffer.get(), size, offset));
    iovec piece = {fh->buffer.get(), got};
    reply(&piece, 1);
    NoteRead(fh);
    return absl::OkStatus();
  }
  if (!fh->remote) {
    fh->remote = std::make_unique<RemoteFile>(filestores_, ObjectName(fh->file), fh->file,
                                              settings_.read_ahead);
  }
  absl::Status read = fh->remote->Read(size, offset, reply);
  for (int attempt = 0; attempt < 3 && absl::IsNotFound(read); ++attempt) {
    CHAINFS_RETURN_IF_ERROR(FollowReplacement(fh));
    read = fh->remote->Read(size, offset, reply);
  }
  CHAINFS_RETURN_IF_ERROR(read);
  NoteRead(fh);
  return absl::OkStatus();
}

absl::StatusOr<size_t> Filesystem::Write(FileHandle* fh, const char* data, size_t size,
                                         int64_t offset) {
  if (!fh->writer || !fh->staged) return ErrnoError(EBADF, "not open for writing");
  if (offset >= kMaxFileBytes) return ErrnoError(EFBIG, "write past the largest file size");
  size = std::min<int64_t>(size, kMaxFileBytes - offset);  // a short write up to it
  CHAINFS_ASSIGN_OR_RETURN(size_t written,
                           fh->staged->Write(data, size, offset, clock_->WallNanos()));
  if (auto path = inodes_.Path(fh->ino)) uploader_.MaybeWriteBehind(*path, *fh->staged);
  return written;
}

bool Filesystem::UntouchedCreate(FileHandle* fh) {
  // Generation 1 is the MarkDirty of Create: nothing written or truncated since.
  return fh->created && fh->staged->generation() == 1;
}

absl::Status Filesystem::Flush(FileHandle* fh,
                               const std::function<bool(const std::string&)>& held_elsewhere) {
  SendPendingAtime(fh);  // close(2) waits for flush, not for release
  if (!fh->writer || !fh->staged) return absl::OkStatus();
  if (held_elsewhere && UntouchedCreate(fh) && held_elsewhere(fh->path)) return absl::OkStatus();
  return UploadStaged(fh->ino, *fh->staged);
}

absl::Status Filesystem::Fsync(FileHandle* fh) {
  CHAINFS_RETURN_IF_ERROR(Flush(fh));
  auto path = inodes_.Path(fh->ino);
  if (!path) return absl::OkStatus();  // unlinked: nothing of it is stored
  return client_.FlushToDisk(*path);
}

void Filesystem::ReleaseHandle(FileHandle* fh) {
  // Read replies to the kernel before it is done with the handle (it may still start a
  // prefetch), and the kernel may release the file as soon as it has the reply: wait for
  // that Read to finish before the handle goes.
  { std::lock_guard finishing(fh->mu); }
  std::unique_ptr<FileHandle> owned(fh);
  if (const ReadAhead* stream = fh->remote ? fh->remote->stream() : nullptr) {
    Logger("mount")->debug("read {}: {} synchronous and {} background fetches", fh->path,
                           stream->sync_fetches(), stream->background_fetches());
  }
  if (!fh->writer || !fh->staged) return;
  if (fh->staged->writers() == 1 && UntouchedCreate(fh)) {
    UploadStaged(fh->ino, *fh->staged).IgnoreError();  // logged, and kept, on failure
  }
  {
    std::lock_guard lock(open_mu_);
    if (fh->staged->DropWriter() > 0) return;
    if (fh->staged->dirty() && inodes_.Path(fh->ino)) {
      Logger("mount")->error("{} closed with changes that were not stored; they are kept in {}",
                             fh->path, fh->staged->path());
      fh->staged->Keep();
    }
    inodes_.ClearStaged(fh->ino, fh->staged.get());
  }
  // Released without a flush: a write-behind stream is cancelled (nothing is committed).
  fh->staged->EndWriteBehind(/*finish=*/false);
}

}  // namespace chainfs::mount
