// POSIX ACLs in their extended-attribute form ("system.posix_acl_access" and "_default":
// a little-endian version 2 header, then 8-byte entries {tag, perm, id}), and what the
// filesystem owes the kernel when it enables FUSE_CAP_POSIX_ACL. The kernel then checks
// permissions against the ACLs itself (default_permissions) and validates what setfacl sends,
// but, unlike a local filesystem, leaves the rest to the FUSE server (fs/fuse/acl.c):
// - setting an access ACL updates the mode's permission bits (posix_acl_equiv_mode), and an
//   ACL that says no more than the mode is not stored at all;
// - chmod rewrites the owner, mask (or group) and other entries of the access ACL
//   (posix_acl_chmod);
// - a new file or directory in a directory with a default ACL gets the default ACL as its
//   access ACL, masked by the mode that create/mkdir asked for, and the umask is not applied
//   (posix_acl_create); a new directory also inherits the default ACL itself. Without a
//   default ACL the umask applies (the mount asks for FUSE_CAP_DONT_MASK, so it is ours).
// These functions are those kernel helpers, on the xattr form.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace chainfs::mount {

struct AclEntry {
  uint16_t tag = 0;   // ACL_USER_OBJ (1), ACL_USER (2), ACL_GROUP_OBJ (4), ACL_GROUP (8),
                      // ACL_MASK (0x10), ACL_OTHER (0x20)
  uint16_t perm = 0;  // rwx as 4, 2, 1
  uint32_t id = 0;    // uid or gid for ACL_USER and ACL_GROUP
};
using Acl = std::vector<AclEntry>;

// EINVAL for anything that is not a version 2 ACL of whole entries.
absl::StatusOr<Acl> ParseAcl(std::string_view xattr);
std::string SerializeAcl(const Acl& acl);

// posix_acl_equiv_mode: the permission bits of `*mode` from `acl`; returns whether the ACL says
// more than the mode does (named users or groups, a mask), i.e. whether it must be kept.
bool AclToMode(const Acl& acl, mode_t* mode);
// posix_acl_chmod: the access ACL after chmod to `mode`.
void AclChmod(Acl* acl, mode_t mode);

// What posix_acl_create gives a new entry: its mode and the xattrs to store with it.
struct Inherited {
  mode_t mode = 0;                      // permission bits (and setuid/setgid/sticky)
  std::optional<std::string> access;    // system.posix_acl_access, when needed
  std::optional<std::string> default_;  // system.posix_acl_default (directories only)
};
// A new entry asking for `mode` (permission bits) with `umask`, under a directory whose
// default ACL is `parent_default` (nullopt: none, and the umask applies).
absl::StatusOr<Inherited> InheritAcl(const std::optional<std::string>& parent_default, mode_t mode,
                                     mode_t umask, bool directory);

}  // namespace chainfs::mount
