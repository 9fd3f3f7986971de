#include "fuse/posix_acl.h"

#include <cerrno>

#include "common/status.h"
#include "fuse/errors.h"

namespace chainfs::mount {

namespace {

constexpr uint32_t kAclVersion = 2;
constexpr size_t kHeaderBytes = 4;
constexpr size_t kEntryBytes = 8;
constexpr uint16_t kUserObj = 0x01, kUser = 0x02, kGroupObj = 0x04, kGroup = 0x08, kMask = 0x10,
                   kOther = 0x20;

uint32_t LoadLe(std::string_view bytes, size_t at, size_t width) {
  uint32_t value = 0;
  for (size_t i = 0; i < width; ++i) {
    value |= uint32_t{static_cast<unsigned char>(bytes[at + i])} << (8 * i);
  }
  return value;
}

void StoreLe(std::string* out, uint32_t value, size_t width) {
  for (size_t i = 0; i < width; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// posix_acl_create_masq: masks `acl` by `*mode` and the mode by the ACL; true when the ACL
// says more than the mode.
bool CreateMasq(Acl* acl, mode_t* mode_p) {
  mode_t mode = *mode_p;
  AclEntry* group_obj = nullptr;
  AclEntry* mask_obj = nullptr;
  bool not_equiv = false;
  for (AclEntry& e : *acl) {
    switch (e.tag) {
      case kUserObj:
        e.perm &= (mode >> 6) | ~07;
        mode &= (e.perm << 6) | ~0700;
        break;
      case kUser:
      case kGroup:
        not_equiv = true;
        break;
      case kGroupObj:
        group_obj = &e;
        break;
      case kOther:
        e.perm &= mode | ~07;
        mode &= e.perm | ~07;
        break;
      case kMask:
        mask_obj = &e;
        not_equiv = true;
        break;
      default:
        break;
    }
  }
  AclEntry* group = mask_obj ? mask_obj : group_obj;
  if (group != nullptr) {
    group->perm &= (mode >> 3) | ~07;
    mode &= (group->perm << 3) | ~070;
  }
  *mode_p = (*mode_p & ~0777) | (mode & 0777);
  return not_equiv;
}

}  // namespace

absl::StatusOr<Acl> ParseAcl(std::string_view xattr) {
  if (xattr.size() < kHeaderBytes || (xattr.size() - kHeaderBytes) % kEntryBytes != 0 ||
      LoadLe(xattr, 0, 4) != kAclVersion) {
    return ErrnoError(EINVAL, "not a POSIX ACL");
  }
  Acl acl;
  for (size_t at = kHeaderBytes; at < xattr.size(); at += kEntryBytes) {
    acl.push_back({.tag = static_cast<uint16_t>(LoadLe(xattr, at, 2)),
                   .perm = static_cast<uint16_t>(LoadLe(xattr, at + 2, 2)),
                   .id = LoadLe(xattr, at + 4, 4)});
  }
  return acl;
}

std::string SerializeAcl(const Acl& acl) {
  std::string out;
  out.reserve(kHeaderBytes + acl.size() * kEntryBytes);
  StoreLe(&out, kAclVersion, 4);
  for (const AclEntry& e : acl) {
    StoreLe(&out, e.tag, 2);
    StoreLe(&out, e.perm, 2);
    StoreLe(&out, e.id, 4);
  }
  return out;
}

bool AclToMode(const Acl& acl, mode_t* mode_p) {
  mode_t mode = 0;
  bool not_equiv = false;
  for (const AclEntry& e : acl) {
    switch (e.tag) {
      case kUserObj:
        mode |= (e.perm & 07) << 6;
        break;
      case kGroupObj:
        mode |= (e.perm & 07) << 3;
        break;
      case kOther:
        mode |= e.perm & 07;
        break;
      case kMask:
        mode = (mode & ~070) | ((e.perm & 07) << 3);
        not_equiv = true;
        break;
      default:  // named users and groups
        not_equiv = true;
        break;
    }
  }
  *mode_p = (*mode_p & ~0777) | mode;
  return not_equiv;
}

void AclChmod(Acl* acl, mode_t mode) {
  AclEntry* group_obj = nullptr;
  AclEntry* mask_obj = nullptr;
  for (AclEntry& e : *acl) {
    if (e.tag == kUserObj) e.perm = (mode & 0700) >> 6;
    if (e.tag == kOther) e.perm = mode & 07;
    if (e.tag == kGroupObj) group_obj = &e;
    if (e.tag == kMask) mask_obj = &e;
  }
  AclEntry* group = mask_obj ? mask_obj : group_obj;
  if (group != nullptr) group->perm = (mode & 070) >> 3;
}

absl::StatusOr<Inherited> InheritAcl(const std::optional<std::string>& parent_default, mode_t mode,
                                     mode_t umask, bool directory) {
  Inherited out;
  if (!parent_default) {
    out.mode = mode & ~umask & 07777;
    return out;
  }
  CHAINFS_ASSIGN_OR_RETURN(Acl acl, ParseAcl(*parent_default));
  out.mode = mode & 07777;
  if (CreateMasq(&acl, &out.mode)) out.access = SerializeAcl(acl);
  if (directory) out.default_ = *parent_default;
  return out;
}

}  // namespace chainfs::mount
