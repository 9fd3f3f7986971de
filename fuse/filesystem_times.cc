// Filesystem: POSIX times on the mount's side (see fuse/times.h): the times setattr sets,
// a directory's times when an entry is created or removed here, and atime on reads.
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include "common/client/time_rules.h"
#include "fuse/filesystem.h"
#include "fuse/times.h"

namespace chainfs::mount {

void Filesystem::SetTimes(const struct stat& attr, int to_set, int64_t now_ns,
                          v1::SetAttributesRequest* req) {
  v1::Attributes* a = req->mutable_attributes();
  if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW)) {
    req->set_set_atime(true);
    a->set_atime_ns(to_set & FUSE_SET_ATTR_ATIME_NOW ? now_ns : Nanos(attr.st_atim));
  }
  if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
    req->set_set_mtime(true);
    a->set_mtime_ns(to_set & FUSE_SET_ATTR_MTIME_NOW ? now_ns : Nanos(attr.st_mtim));
  }
  // Any change of status moves ctime (to the kernel's value when it sends one); the mount's
  // clock sets it, as it sets mtime on writes.
  if (req->set_mode() || req->set_uid() || req->set_gid() || req->set_atime() || req->set_mtime() ||
      (to_set & FUSE_SET_ATTR_CTIME)) {
    req->set_set_ctime(true);
    a->set_ctime_ns(to_set & FUSE_SET_ATTR_CTIME ? Nanos(attr.st_ctim) : now_ns);
  }
}

void Filesystem::EntriesChanged(uint64_t dir_ino) {
  // The NameServer moved the directory's times (or will, once a new file is stored): what
  // this mount learnt of it before is stale, and the new times show here at once.
  if (auto info = inodes_.Info(dir_ino, TimePoint::min())) {
    inodes_.SetInfo(dir_ino, *info, TimePoint::min());
  }
  local_times_.EntriesChanged(dir_ino, clock_->WallNanos());
}

void Filesystem::NoteRead(FileHandle* fh) {
  if (settings_.times.atime == AtimeMode::kNoatime) return;
  const int64_t now = clock_->WallNanos();
  if (fh->staged) {
    v1::Attributes attributes = fh->staged->attributes();
    if (!AtimeDue(settings_.times.atime, attributes, now)) return;
    attributes.set_atime_ns(now);
    fh->staged->SetAttributes(attributes, false, false, false, false, /*atime=*/true);
    // Stored with the content when it is uploaded; a clean file gets a clone instead.
    if (fh->staged->dirty()) return;
  } else if (!AtimeDue(settings_.times.atime, fh->file.file().attributes(), now)) {
    return;
  }
  // Once per open file (and per inode per interval): the first read after open decides.
  if (fh->atime_noted.exchange(true)) return;
  fh->atime_pending_ns = now;
}

void Filesystem::SendPendingAtime(FileHandle* fh) {
  const int64_t atime = fh->atime_pending_ns.exchange(0);
  if (atime != 0 && atime_updater_.Request(fh->ino, atime)) local_times_.Accessed(fh->ino, atime);
}

absl::Status Filesystem::SendAtime(uint64_t ino, int64_t atime_ns) {
  auto path = inodes_.Path(ino);
  if (!path) return absl::OkStatus();  // unlinked meanwhile
  v1::SetAttributesRequest req;
  req.set_path(*path);
  req.mutable_attributes()->set_atime_ns(atime_ns);
  req.set_set_atime(true);
  const TimePoint asked = clock_->Now();
  std::optional<v1::FileInfo> read = inodes_.Info(ino, TimePoint::min());  // what open saw
  auto reply = nameserver_->SetAttributes(req);
  if (!reply.ok()) return reply.status();
  const v1::FileInfo& cloned = reply->file();
  // A clone of the version that was read (same size, mtime and ctime: any other change moves
  // ctime) holds the same bytes: the kernel may keep its pages at the next open.
  if (read && read->size() == cloned.size() &&
      read->attributes().mtime_ns() == cloned.attributes().mtime_ns() &&
      CtimeOf(read->attributes()) == CtimeOf(cloned.attributes())) {
    const int64_t previous = inodes_.ExchangeVersion(ino, cloned.version());
    if (previous != read->version()) inodes_.ExchangeVersion(ino, previous);  // not ours
  }
  inodes_.SetInfo(ino, cloned, asked);
  return absl::OkStatus();
}

}  // namespace chainfs::mount
