#include "fuse/uploader.h"

#include <string>
#include <utility>
#include <vector>

#include "common/client/xattr_rules.h"
#include "common/log.h"
#include "common/status.h"

namespace chainfs::mount {

namespace {

// The entry a staged file is stored as (the upload sets the version).
v1::FileInfo StagedEntry(const std::string& path, const v1::Attributes& attributes) {
  v1::FileInfo info;
  info.set_name(path);
  info.set_kind(v1::KIND_FILE);
  *info.mutable_attributes() = attributes;
  return info;
}

std::string Msg(const absl::Status& status) { return std::string(status.message()); }

// The directory holding a staging file's directory (the cache base of every mount).
std::string DirOf(const std::string& staged) {
  std::string dir = staged.substr(0, staged.rfind('/'));
  return dir.substr(0, dir.rfind('/'));
}

}  // namespace

Uploader::Uploader(Client* client, UploaderSettings settings)
    : client_(client), settings_(std::move(settings)) {}

absl::StatusOr<v1::FileInfo> Uploader::StoreStaged(const std::string& path, StagedFile& staged) {
  // A write-behind stream under the same name is finished (the rest, then close); one under
  // a name the file no longer has is cancelled. When it did not commit, the whole staged
  // file is uploaded as without it (its thread logged why).
  bool same_name = staged.write_behind_path() == path;
  if (staged.EndWriteBehind(/*finish=*/same_name) && same_name &&
      staged.write_behind_outcome().status.ok()) {
    auto settled = SettleWriteBehind(path, staged);
    if (settled.ok()) return settled;
    Logger("mount")->warn("could not set the attributes of {}: {}; uploading it again", path,
                          Msg(settled.status()));
  }
  StagedFile::Base base = settings_.whole_uploads ? StagedFile::Base{} : staged.base();
  auto stored =
      client_->UploadFd(StagedEntry(path, staged.attributes()), staged.fd(),
                        {.base_version = base.version, .changed = std::move(base.changed)});
  if (!stored.ok()) {
    Logger("mount")->error("could not store {}: {}; its data is kept in {}", path,
                           Msg(stored.status()), staged.path());
    Keep(path, staged);
    return stored.status();
  }
  if (staged.kept()) {
    ForgetKept(staged.path());
    staged.Unkeep();
  }
  return std::move(*stored->mutable_file());
}

void Uploader::Keep(const std::string& path, StagedFile& staged) {
  staged.Keep();
  v1::FileInfo file = StagedEntry(path, staged.attributes());
  const std::string& base =
      settings_.cache_base.empty() ? DirOf(staged.path()) : settings_.cache_base;
  if (absl::Status st = KeepStaged(base, staged.path(), file, settings_.kept_limits); !st.ok()) {
    Logger("mount")->error("could not record kept {}: {}", staged.path(), Msg(st));
  }
}

void Uploader::MaybeWriteBehind(const std::string& path, StagedFile& staged) {
  if (settings_.write_behind <= 0 || !staged.WriteBehindDue(settings_.write_behind)) return;
  // `staged` outlives the thread: its destructor joins it.
  staged.MaybeStartWriteBehind(settings_.write_behind, path, [this, &staged, path] {
    staged.SetWriteBehindOutcome(WriteBehind(path, staged));
  });
}

StagedFile::WriteBehindOutcome Uploader::WriteBehind(const std::string& path, StagedFile& staged) {
  StagedFile::WriteBehindOutcome out;
  out.attributes = staged.attributes();
  int64_t offset = 0;
  // Each attempt streams the staged file from its start (it is only appended to while the
  // write-behind runs); a failed member is excluded from the next attempt's chain.
  auto created = client_->Upload(
      StagedEntry(path, out.attributes), [&](int64_t version) -> absl::StatusOr<ContentSource> {
        out.version = version;
        offset = 0;
        return [&](char* buf, size_t max) -> absl::StatusOr<size_t> {
          CHAINFS_ASSIGN_OR_RETURN(size_t n, staged.ReadAppended(buf, max, offset));
          offset += static_cast<int64_t>(n);
          return n;
        };
      });
  out.status = created.status();
  if (created.ok()) {
    out.version = created->file().version();
    Logger("mount")->debug("write-behind of {} version {} committed ({} bytes)", path, out.version,
                           offset);
  } else if (staged.append_only()) {
    Logger("mount")->warn("write-behind of {} version {} failed: {}; it is uploaded again at close",
                          path, out.version, Msg(out.status));
  } else {
    Logger("mount")->debug("write-behind of {} version {} cancelled: {}", path, out.version,
                           Msg(out.status));
  }
  return out;
}

absl::StatusOr<v1::FileInfo> Uploader::SettleWriteBehind(const std::string& path,
                                                         StagedFile& staged) {
  const StagedFile::WriteBehindOutcome& out = staged.write_behind_outcome();
  v1::Attributes now = staged.attributes();
  v1::SetAttributesRequest req;
  const bool xattrs_changed = XattrChanges(out.attributes, now, &req);  // setxattr meanwhile
  if (!xattrs_changed && now.mode() == out.attributes.mode() && now.uid() == out.attributes.uid() &&
      now.gid() == out.attributes.gid() && now.mtime_ns() == out.attributes.mtime_ns() &&
      now.atime_ns() == out.attributes.atime_ns() && now.ctime_ns() == out.attributes.ctime_ns()) {
    // The stream committed the whole staged file: it is only appended to while streaming.
    CHAINFS_ASSIGN_OR_RETURN(int64_t size, staged.Size());
    v1::FileInfo stored = StagedEntry(path, out.attributes);
    stored.set_version(out.version);
    stored.set_size(size);
    return stored;
  }
  req.set_path(path);
  *req.mutable_attributes() = now;
  req.set_set_mode(true);
  req.set_set_uid(true);
  req.set_set_gid(true);
  req.set_set_mtime(true);
  req.set_set_atime(true);
  req.set_set_ctime(true);
  CHAINFS_ASSIGN_OR_RETURN(v1::SetAttributesReply reply, client_->nameserver()->SetAttributes(req));
  return std::move(*reply.mutable_file());
}

}  // namespace chainfs::mount
