// Who may call what: the one table of RPC method -> roles allowed to call it, and the check
// every daemon's server runs before a call reaches its handler (installed by
// ServerCredentialsFor in common/tls/tls.h). The caller's role comes from its verified
// certificate (the URI SANs "chainfs-role:ROLE" that `chainfs certs issue` writes). A call
// outside its role gets PERMISSION_DENIED and one log line naming method, role and peer.
#pragma once

#include <grpcpp/security/auth_context.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace chainfs::tls {

// The roles a certificate can carry.
inline constexpr std::string_view kRoleFileStore = "filestore";
inline constexpr std::string_view kRoleNameServer = "nameserver";
inline constexpr std::string_view kRoleClient = "client";
inline constexpr std::string_view kRoleAdmin = "admin";
// A certificate's role is the URI SAN kRoleUriPrefix + ROLE.
inline constexpr std::string_view kRoleUriPrefix = "chainfs-role:";

bool IsRole(std::string_view role);
// "filestore, nameserver, client, admin", for messages.
std::string RoleList();

// The roles in the verified peer certificate of `context` (usually one; test certificates
// carry several); empty when there is none.
std::vector<std::string> RolesOf(const grpc::AuthContext& context);

// OK when one of `roles` may call `method` (the full gRPC path,
// "/chainfs.v1.FileStore/Delete"); PERMISSION_DENIED otherwise, unknown methods included.
absl::Status Authorize(std::string_view method, const std::vector<std::string>& roles);
// "client", "filestore+nameserver", "none": roles for log lines.
std::string Describe(const std::vector<std::string>& roles);

}  // namespace chainfs::tls
