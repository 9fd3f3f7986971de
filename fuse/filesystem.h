// The POSIX side of the mount, free of the kernel interface: each call takes inode numbers
// and names as the FUSE low-level API gives them, and answers with a struct stat or an
// absl::Status that fuse/errors.h turns into an errno. Namespace calls go to the
// NameServer; bytes go to FileStores:
// - reads of a file of at most 1 MiB fetch it whole with one ReadSmall; larger files stream
//   ranges from a holder into a few reused per-handle windows (RemoteFile and ReadAhead,
//   fuse/read_ahead.h); fail-over between holders happens inside FileStoreApi;
// - writes go to a StagedFile and are uploaded by the Uploader (fuse/uploader.h) on
//   flush/fsync; a final failure is returned and the staged file kept. A file written in
//   order from empty (cp, dd) starts its upload before close (write-behind); flush then
//   only sends the rest and waits for the chain. Anything else (writes elsewhere,
//   truncation, a second writer, a rename) cancels it, and flush uploads the whole file;
// - open() revalidates with the NameServer (close-to-open), and tells the kernel to keep
//   its page cache only when the version did not change since the inode's last open;
// - what a Stat, a DoRead or this mount's own upload said of an inode answers getattr (and
//   lookup, truncation) for attr_timeout without asking the NameServer again.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/client/client.h"
#include "common/client/filestore_api.h"
#include "common/client/nameserver_api.h"
#include "common/clock.h"
#include "fuse/inode_table.h"
#include "fuse/kept.h"
#include "fuse/open_unlinked.h"
#include "fuse/read_ahead.h"
#include "fuse/staging.h"
#include "fuse/times.h"
#include "fuse/uploader.h"

namespace chainfs::mount {

// The largest file the mount makes (its FUSE s_maxbytes, in effect): truncation beyond it
// answers EFBIG, writes stop at it (EFBIG at or past it), as on ext4, whose own limit with
// 4 KiB blocks this is. FileStores keep each object as one local file and the mount stages
// one, on ext4 as often as not, so no larger file could be stored anyway.
inline constexpr int64_t kMaxFileBytes = (int64_t{1} << 44) - 4096;

struct FilesystemSettings {
  std::string cache_dir;        // staging files go here (must exist)
  size_t read_ahead = 8 << 20;  // bytes per remote fetch (ReadAhead's window)
  // doCreate + chain attempts and the backoff between them; a failed member is excluded
  // from the next doCreate.
  UploadRetrySettings upload_retry;
  // Staged files kept after a failed close: under cache_base (every mount's cache_dir is
  // beneath it), bounded together by kept_limits.
  std::string cache_base;
  KeptLimits kept_limits;
  // Write-behind: a file written in order from empty starts uploading in the background
  // once it holds this many bytes (smaller files are uploaded at close in one go); 0 = off.
  int64_t write_behind = 4 << 20;
  // Uploads send the whole file, never only the ranges changed since its base version.
  bool whole_uploads = false;
  uint32_t root_uid = 0;  // owner of "/" when it has no entry of its own
  uint32_t root_gid = 0;
  // How long attributes learnt here answer without a Stat: the mount's --attr-timeout (the
  // kernel caches them as long); zero = always ask.
  Duration attr_timeout = Duration::zero();
  TimesSettings times;  // atime rule (-o relatime/noatime/strictatime) and its pacing
};

// An open file (fuse_file_info::fh).
struct FileHandle {
  uint64_t ino = 0;
  bool writer = false;
  // Made by create(): until the first write, flush skips the upload (a shell's `> f` closes
  // a dup of the descriptor before writing) and release stores the empty file instead.
  bool created = false;
  std::shared_ptr<StagedFile> staged;  // set when the inode is being written
  // Remote reads.
  std::string path;
  v1::DoReadReply file;  // its read_name, when set, is the name the holders store it under
  std::unique_ptr<RemoteFile> remote;    // made by the first read
  std::atomic<bool> atime_noted{false};  // this open's read decided on its atime update
  // The atime that update stores, sent when this handle is closed (flush): a clone while the
  // file is read would replace the version its reads ask for (0: none).
  std::atomic<int64_t> atime_pending_ns{0};
  // Reads of the staged file.
  std::unique_ptr<char[]> buffer;
  size_t buffer_capacity = 0;
  std::mutex mu;
};

// An open directory (fuse_file_info::fh): entries fetched page by page as readdir advances.
struct DirHandle {
  uint64_t ino = 0;
  std::string path;
  std::vector<v1::FileInfo> entries;
  bool more = true;
  std::mutex mu;
};

struct Entry {
  uint64_t ino = 0;
  struct stat attr = {};
};

class Filesystem {
 public:
  Filesystem(NameServerApi* nameserver, FileStoreApi* filestores, Clock* clock,
             FilesystemSettings settings);

  InodeTable& inodes() { return inodes_; }
  // Tells the kernel to drop its cached attributes of an inode (set once the session
  // exists); open() calls it when the version changed, so a stale size cannot clip reads.
  void SetAttributeInvalidator(std::function<void(uint64_t ino)> invalidate) {
    invalidate_attributes_ = std::move(invalidate);
  }

  absl::StatusOr<Entry> Lookup(uint64_t parent, const std::string& name);
  absl::StatusOr<struct stat> GetAttr(uint64_t ino);
  // `to_set` holds FUSE_SET_ATTR_* bits; `fh` is the handle for ftruncate/futimens, or null.
  absl::StatusOr<struct stat> SetAttr(uint64_t ino, const struct stat& attr, int to_set,
                                      FileHandle* fh);
  // `umask` applies unless the parent has a default ACL (the mount asks the kernel to leave
  // it to us: FUSE_CAP_DONT_MASK); so do Create and MkSpecial.
  absl::StatusOr<Entry> Mkdir(uint64_t parent, const std::string& name, mode_t mode, uid_t uid,
                              gid_t gid, mode_t umask = 0);
  absl::StatusOr<Entry> Symlink(const std::string& target, uint64_t parent, const std::string& name,
                                uid_t uid, gid_t gid);
  absl::StatusOr<std::string> ReadLink(uint64_t ino);
  absl::Status Unlink(uint64_t parent, const std::string& name);
  // link(2) (filesystem_links.cc): `new_name` in `new_parent` becomes another name of `ino`.
  absl::StatusOr<Entry> Link(uint64_t ino, uint64_t new_parent, const std::string& new_name);
  absl::Status Rmdir(uint64_t parent, const std::string& name);
  absl::Status Rename(uint64_t parent, const std::string& name, uint64_t new_parent,
                      const std::string& new_name, unsigned int flags);
  absl::StatusOr<struct statvfs> StatFs();

  // Opens a file; keep_cache says whether the kernel may keep cached pages.
  absl::StatusOr<FileHandle*> Open(uint64_t ino, int flags, bool* keep_cache);
  absl::StatusOr<std::pair<Entry, FileHandle*>> Create(uint64_t parent, const std::string& name,
                                                       mode_t mode, uid_t uid, gid_t gid,
                                                       mode_t umask = 0);
  // Calls `reply` with the bytes (valid only during the call).
  absl::Status Read(FileHandle* fh, size_t size, int64_t offset, const ReadAhead::Reply& reply);
  absl::StatusOr<size_t> Write(FileHandle* fh, const char* data, size_t size, int64_t offset);
  // fallocate(2) and lseek(2) SEEK_DATA/SEEK_HOLE (fuse/filesystem_extents.cc): on the staged
  // file; a file only read answers from its size (all of it data).
  absl::Status Fallocate(FileHandle* fh, int mode, int64_t offset, int64_t length);
  absl::StatusOr<int64_t> Lseek(FileHandle* fh, int64_t offset, int whence);
  // Uploads the staged content when it changed (a new file even when empty); close() and
  // fsync() return this. One exception saves a second upload: a new file nothing was
  // written to yet is left for a later close when `held_elsewhere(path)` says the closing
  // process still has it open through another descriptor (a shell's redirection opens,
  // duplicates onto stdout and closes the first descriptor before anything is written).
  absl::Status Flush(FileHandle* fh,
                     const std::function<bool(const std::string& path)>& held_elsewhere = {});
  // fsync(): Flush, then every holder of the file's latest version flushes it to disk.
  absl::Status Fsync(FileHandle* fh);
  // The last close of a file unlinked while open deletes what kept it (open_unlinked.h).
  void Release(FileHandle* fh);

  absl::StatusOr<DirHandle*> OpenDir(uint64_t ino);
  // Calls `add(entry, next_offset)` from `offset` on until it returns false. With `plus`,
  // every entry added counts a lookup (`add` returning false undoes it).
  absl::Status ReadDir(DirHandle* dh, int64_t offset, bool plus,
                       const std::function<bool(const std::string& name, const Entry& entry,
                                                int64_t next_offset)>& add);
  void ReleaseDir(DirHandle* dh);

  // mknod(2) of a fifo, character or block device or socket (`mode` holds the type): an
  // entry of that kind without content (fuse/special_files.cc). Regular files use Create.
  absl::StatusOr<Entry> MkSpecial(uint64_t parent, const std::string& name, mode_t mode, dev_t rdev,
                                  uid_t uid, gid_t gid, mode_t umask = 0);

  // Extended attributes, POSIX ACLs among them (fuse/filesystem_xattr.cc, fuse/posix_acl.h).
  // ENODATA for a name not set, ENOTSUP for a namespace chainfs does not store. The kernel
  // checks who may read or change which (default_permissions).
  absl::StatusOr<std::string> GetXattr(uint64_t ino, const std::string& name);
  // Every name followed by a NUL; trusted.* only for a `privileged` caller (as ext4 does).
  absl::StatusOr<std::string> ListXattr(uint64_t ino, bool privileged);
  // `flags`: XATTR_CREATE (EEXIST when set), XATTR_REPLACE (ENODATA when not).
  absl::Status SetXattr(uint64_t ino, const std::string& name, std::string_view value, int flags);
  absl::Status RemoveXattr(uint64_t ino, const std::string& name);

  // Attributes of a namespace entry as the kernel wants them.
  static struct stat ToStat(uint64_t ino, const v1::FileInfo& info);
  // Waits until every atime update queued so far was sent (tests).
  void DrainAtimeUpdates() { atime_updater_.Drain(); }

 private:
  absl::StatusOr<std::string> PathOf(uint64_t ino) const;
  // Files unlinked or renamed over while open (fuse/open_unlinked.cc).
  FileHandle* Opened(std::unique_ptr<FileHandle> fh);  // registers an open handle
  void ReleaseHandle(FileHandle* fh);
  // Before `path` loses its name: when a handle here reads it remotely, renames it to a hidden
  // name for as long as it is open and returns true (the name is gone); false otherwise.
  absl::StatusOr<bool> MoveAwayIfReadRemotely(const std::string& path);
  // Undoes MoveAwayIfReadRemotely when the rename it prepared failed.
  void MoveBack(uint64_t ino, const std::string& path);
  // Points the remote readers of `ino` at `path` (the name it was renamed to).
  void RepointReaders(uint64_t ino, const std::string& path);
  // getattr of an inode that has no name any more but is still open (nlink 0).
  absl::StatusOr<struct stat> UnlinkedAttr(uint64_t ino);
  // The name FileStores hold a DoRead's file under: its inode name for a hard link.
  static const std::string& ObjectName(const v1::DoReadReply& file);
  // What an upload stored, as `path` shows it: through a hard link it stored the inode name,
  // and it never says the link count.
  void NameLinkedUpload(uint64_t ino, const std::string& path, v1::FileInfo* stored);
  absl::StatusOr<v1::FileInfo> StatPath(const std::string& path);
  // The entry of inode `ino` at `path`: learnt within attr_timeout, or asked (and remembered).
  absl::StatusOr<v1::FileInfo> StatInode(uint64_t ino, const std::string& path);
  struct stat StagedStat(uint64_t ino, StagedFile& staged);
  absl::Status UploadStaged(uint64_t ino, StagedFile& staged);
  bool UntouchedCreate(FileHandle* fh);
  absl::StatusOr<std::unique_ptr<StagedFile>> NewStaged(const v1::Attributes& attributes);
  // A staging file holding the current remote content of `path`.
  absl::StatusOr<std::unique_ptr<StagedFile>> StageExisting(const std::string& path);
  // One attempt of StageExisting: the version DoRead names, fetched from its holders.
  absl::StatusOr<std::unique_ptr<StagedFile>> StageLatest(const std::string& path);
  // A read of a version replaced since open (an atime update, a chmod, a write elsewhere) that
  // its holders no longer keep: the handle goes on with the version that replaced it, as a
  // reader of a local file sees the writes of others. NOT_FOUND when there is none newer.
  absl::Status FollowReplacement(FileHandle* fh);
  // mkdir (kind directory), symlink (to `target`) or mknod (a special kind) through the Client.
  absl::StatusOr<Entry> CreateObject(uint64_t parent, const std::string& name, v1::Kind kind,
                                     const v1::Attributes& attributes, const std::string& target);
  v1::Attributes NewAttributes(mode_t mode, uid_t uid, gid_t gid) const;
  // NewAttributes for an entry created under `parent`: the umask applied, or the parent's
  // default ACL inherited (posix_acl_create), from what is known of the parent of any age.
  absl::StatusOr<v1::Attributes> InheritedAttributes(uint64_t parent, mode_t mode, uid_t uid,
                                                     gid_t gid, mode_t umask, bool directory);
  // What getxattr answers from: staged attributes, else learnt within attr_timeout (of any
  // age with `any_age`: security.capability, asked by the kernel before every write), else
  // asked.
  absl::StatusOr<v1::Attributes> CurrentAttributes(uint64_t ino, bool any_age);
  // A SetAttributes of `ino` (the path is filled in) that a staged, not yet stored file keeps
  // for its upload instead.
  absl::Status ChangeAttributes(uint64_t ino, v1::SetAttributesRequest req);
  // chmod of an inode with an access ACL rewrites the ACL too: its new value (also set on
  // `staged` when given), or nullopt.
  absl::StatusOr<std::optional<std::string>> AclAfterChmod(uint64_t ino, mode_t mode,
                                                           StagedFile* staged);
  // --- times (filesystem_times.cc) ---
  // An entry was created in or removed from directory `ino` (its mtime and ctime move).
  void EntriesChanged(uint64_t dir_ino);
  // A read through `fh` succeeded: atime moves as the atime rule says, off the read path.
  void NoteRead(FileHandle* fh);
  // Flush and Release: queue the atime update a read of `fh` decided on.
  void SendPendingAtime(FileHandle* fh);
  absl::Status SendAtime(uint64_t ino, int64_t atime_ns);
  // The times SetAttr sets (FUSE_SET_ATTR_ATIME, _MTIME, their _NOW, _CTIME) into `req`.
  static void SetTimes(const struct stat& attr, int to_set, int64_t now_ns,
                       v1::SetAttributesRequest* req);
  // The group a new entry in directory `parent` gets when the directory is set-group-ID (and
  // a new directory there is set-group-ID too), as on ext4; nullopt otherwise (fuse/setgid.cc).
  std::optional<gid_t> SetgidGroup(uint64_t parent);

  NameServerApi* const nameserver_;
  FileStoreApi* const filestores_;
  Clock* const clock_;
  const FilesystemSettings settings_;
  Client client_;  // the upload, mkdir, symlink and rename policies
  Uploader uploader_;
  const int64_t start_ns_;
  InodeTable inodes_;
  OpenFiles open_files_;
  std::function<void(uint64_t)> invalidate_attributes_;
  std::mutex open_mu_;  // serializes creating an inode's staging
  std::mutex staged_name_mu_;
  uint64_t staged_seq_ = 0;
  LocalTimes local_times_;
  AtimeUpdater atime_updater_;  // last: its thread calls into the members above
};

}  // namespace chainfs::mount
