// Filesystem: extended attributes and POSIX ACLs (see fuse/posix_acl.h for what the kernel
// leaves to us when it enforces ACLs).
#include <algorithm>
#include <cerrno>
#include <string_view>
#include <vector>

#include "common/client/xattr_rules.h"
#include "common/status.h"
#include "fuse/errors.h"
#include "fuse/filesystem.h"
#include "fuse/posix_acl.h"

namespace chainfs::mount {

namespace {

constexpr std::string_view kCapabilityXattr = "security.capability";
constexpr std::string_view kTrustedPrefix = "trusted.";

// The NameServer's (or the staged attributes') refusal of an xattr change, as setxattr(2) and
// removexattr(2) say it.
absl::Status XattrError(const absl::Status& status) {
  if (ErrorCodeOf(status) != v1::ERROR_CODE_UNSPECIFIED) return status;
  if (status.code() == absl::StatusCode::kFailedPrecondition) {
    return ErrnoError(ENODATA, std::string(status.message()));
  }
  if (status.code() == absl::StatusCode::kInvalidArgument) {
    return ErrnoError(ENOSPC, std::string(status.message()));  // over the limits
  }
  return status;
}

absl::Status CheckXattrName(const std::string& name) {
  if (KnownXattrName(name)) return absl::OkStatus();
  return ErrnoError(ENOTSUP, "extended attribute namespace not supported");
}

}  // namespace

absl::StatusOr<v1::Attributes> Filesystem::CurrentAttributes(uint64_t ino, bool any_age) {
  if (auto staged = inodes_.Staged(ino)) return staged->attributes();
  if (any_age) {
    if (auto info = inodes_.Info(ino, TimePoint::min())) return info->attributes();
  }
  CHAINFS_ASSIGN_OR_RETURN(std::string path, PathOf(ino));
  CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo info, StatInode(ino, path));
  return info.attributes();
}

absl::StatusOr<v1::Attributes> Filesystem::InheritedAttributes(uint64_t parent, mode_t mode,
                                                               uid_t uid, gid_t gid, mode_t umask,
                                                               bool directory) {
  // What is known of the directory, of any age: a create costs no Stat once the directory was
  // looked up (the kernel looks it up again, refreshing this, when its entry times out).
  CHAINFS_ASSIGN_OR_RETURN(v1::Attributes dir, CurrentAttributes(parent, true));
  std::optional<std::string> parent_default;
  if (auto it = dir.xattrs().find(std::string(kAclDefaultXattr)); it != dir.xattrs().end()) {
    parent_default = it->second;
  }
  CHAINFS_ASSIGN_OR_RETURN(Inherited inherited,
                           InheritAcl(parent_default, mode & 07777, umask, directory));
  v1::Attributes attributes = NewAttributes(inherited.mode, uid, gid);
  auto* xattrs = attributes.mutable_xattrs();
  if (inherited.access) (*xattrs)[std::string(kAclAccessXattr)] = *inherited.access;
  if (inherited.default_) (*xattrs)[std::string(kAclDefaultXattr)] = *inherited.default_;
  return attributes;
}

absl::Status Filesystem::ChangeAttributes(uint64_t ino, v1::SetAttributesRequest req) {
  CHAINFS_ASSIGN_OR_RETURN(std::string path, PathOf(ino));
  auto apply = [&req](v1::Attributes* attributes) {
    if (req.set_mode()) attributes->set_mode(req.attributes().mode() & 07777);
    return ApplyXattrChanges(req, attributes);
  };
  std::shared_ptr<StagedFile> staged = inodes_.Staged(ino);
  if (staged && staged->dirty()) {
    // Not stored yet (or changed since): the upload carries the attributes.
    return XattrError(staged->UpdateAttributes(apply));
  }
  req.set_path(path);
  auto reply = nameserver_->SetAttributes(req);
  if (!reply.ok()) return XattrError(reply.status());
  inodes_.SetInfo(ino, reply->file(), clock_->Now());
  if (staged) {
    req.set_xattr_flags(0);  // checked by the NameServer already
    staged->UpdateAttributes(apply).IgnoreError();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> Filesystem::AclAfterChmod(uint64_t ino, mode_t mode,
                                                                     StagedFile* staged) {
  CHAINFS_ASSIGN_OR_RETURN(v1::Attributes attributes, CurrentAttributes(ino, false));
  auto it = attributes.xattrs().find(std::string(kAclAccessXattr));
  if (it == attributes.xattrs().end()) return std::nullopt;
  CHAINFS_ASSIGN_OR_RETURN(Acl acl, ParseAcl(it->second));
  AclChmod(&acl, mode);
  std::string value = SerializeAcl(acl);
  if (staged) {
    staged
        ->UpdateAttributes([&value](v1::Attributes* a) {
          (*a->mutable_xattrs())[std::string(kAclAccessXattr)] = value;
          return absl::OkStatus();
        })
        .IgnoreError();
  }
  return value;
}

absl::StatusOr<std::string> Filesystem::GetXattr(uint64_t ino, const std::string& name) {
  CHAINFS_RETURN_IF_ERROR(CheckXattrName(name));
  // The kernel asks for security.capability before every write: no round trip for it.
  const bool any_age = name == kCapabilityXattr;
  absl::StatusOr<v1::Attributes> attributes = CurrentAttributes(ino, any_age);
  if (!attributes.ok()) return any_age ? ErrnoError(ENODATA, "unknown") : attributes.status();
  auto it = attributes->xattrs().find(name);
  if (it == attributes->xattrs().end()) return ErrnoError(ENODATA, "no such attribute");
  return it->second;
}

absl::StatusOr<std::string> Filesystem::ListXattr(uint64_t ino, bool privileged) {
  CHAINFS_ASSIGN_OR_RETURN(v1::Attributes attributes, CurrentAttributes(ino, false));
  // In name order: a proto map has none of its own, and listings should not change by chance.
  std::vector<std::string_view> sorted;
  for (const auto& [name, value] : attributes.xattrs()) {
    if (privileged || !name.starts_with(kTrustedPrefix)) sorted.push_back(name);
  }
  std::sort(sorted.begin(), sorted.end());
  std::string names;
  for (std::string_view name : sorted) {
    names.append(name);
    names.push_back('\0');
  }
  return names;
}

absl::Status Filesystem::SetXattr(uint64_t ino, const std::string& name, std::string_view value,
                                  int flags) {
  CHAINFS_RETURN_IF_ERROR(CheckXattrName(name));
  if (value.size() > kMaxXattrValueBytes) return ErrnoError(E2BIG, "value too large");
  v1::SetAttributesRequest req;
  req.set_xattr_flags(flags & (kXattrCreate | kXattrReplace));
  if (name == kAclAccessXattr || name == kAclDefaultXattr) {
    CHAINFS_ASSIGN_OR_RETURN(Acl acl, ParseAcl(value));
    if (name == kAclAccessXattr) {
      // The mode follows the ACL; an ACL the mode says all of is not kept (as ext4 does).
      CHAINFS_ASSIGN_OR_RETURN(v1::Attributes current, CurrentAttributes(ino, false));
      mode_t mode = current.mode();
      req.set_set_mode(true);
      req.set_xattr_flags(0);
      if (!AclToMode(acl, &mode)) {
        req.mutable_attributes()->set_mode(mode & 07777);
        if (current.xattrs().contains(name)) req.add_remove_xattrs(name);
        return ChangeAttributes(ino, std::move(req));
      }
      req.mutable_attributes()->set_mode(mode & 07777);
    }
  }
  (*req.mutable_set_xattrs())[name] = std::string(value);
  return ChangeAttributes(ino, std::move(req));
}

absl::Status Filesystem::RemoveXattr(uint64_t ino, const std::string& name) {
  CHAINFS_RETURN_IF_ERROR(CheckXattrName(name));
  v1::SetAttributesRequest req;
  req.add_remove_xattrs(name);
  return ChangeAttributes(ino, std::move(req));
}

}  // namespace chainfs::mount
