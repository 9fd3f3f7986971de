#include "common/tls/roles.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <grpc/grpc_security_constants.h>

#include <array>
#include <initializer_list>
#include <map>

namespace chainfs::tls {
namespace {

enum RoleBit : unsigned {
  kFileStore = 1u << 0,
  kNameServer = 1u << 1,
  kClient = 1u << 2,
  kAdmin = 1u << 3,
};

constexpr std::array<std::pair<std::string_view, unsigned>, 4> kRoles = {{
    {kRoleFileStore, kFileStore},
    {kRoleNameServer, kNameServer},
    {kRoleClient, kClient},
    {kRoleAdmin, kAdmin},
}};

// Clients: the mount and the CLI (admin may do all they do, and more).
constexpr unsigned kClients = kClient | kAdmin;

// The role table. Everything not named here is refused.
const std::map<std::string, unsigned, std::less<>>& Table() {
  static const auto* table = new std::map<std::string, unsigned, std::less<>>{
      // NameServer: the client calls, ClusterStatus for operators, the FileStores' reports.
      {"/chainfs.v1.NameServer/DoCreate", kClients},
      {"/chainfs.v1.NameServer/DoRead", kClients},
      {"/chainfs.v1.NameServer/DoDelete", kClients},
      {"/chainfs.v1.NameServer/List", kClients},
      {"/chainfs.v1.NameServer/Stat", kClients},
      {"/chainfs.v1.NameServer/ListDirectory", kClients},
      {"/chainfs.v1.NameServer/Rename", kClients},
      {"/chainfs.v1.NameServer/SetAttributes", kClients},
      {"/chainfs.v1.NameServer/StatFs", kClients},
      {"/chainfs.v1.NameServer/ClusterStatus", kAdmin},
      {"/chainfs.v1.NameServer/RegisterFilesAndTombstones", kFileStore},
      {"/chainfs.v1.NameServer/HeartBeat", kFileStore},
      {"/chainfs.v1.NameServer/AddFileOrTombstone", kFileStore},
      {"/chainfs.v1.NameServer/ReportBadReplica", kFileStore},
      {"/chainfs.v1.NameServer/Replicate", kAdmin},  // chainfs fsck --repair
      {"/chainfs.v1.NameServer/Link", kClients},
      // FileStore: clients write and read; a FileStore forwards creates down the chain and
      // reads the source of a copy; the NameServer alone deletes, relabels, copies, clones
      // and lists (admin may list too, to check a FileStore).
      // The NameServer writes the (empty) entries of hard links.
      {"/chainfs.v1.FileStore/Create", kClients | kFileStore},
      {"/chainfs.v1.FileStore/CreateSmall", kClients | kFileStore | kNameServer},
      {"/chainfs.v1.FileStore/Read", kClients | kFileStore},
      {"/chainfs.v1.FileStore/ReadSmall", kClients | kFileStore},
      {"/chainfs.v1.FileStore/Flush", kClients},
      {"/chainfs.v1.FileStore/Delete", kNameServer},
      {"/chainfs.v1.FileStore/BumpVersion", kNameServer},
      {"/chainfs.v1.FileStore/CopyFile", kNameServer},
      {"/chainfs.v1.FileStore/Clone", kNameServer},
      {"/chainfs.v1.FileStore/ListFilesAndTombstones", kNameServer | kAdmin},
      {"/chainfs.v1.FileStore/Verify", kAdmin},  // chainfs fsck: drops what fails the check
      // gRPC reflection (grpc_cli): operators only.
      {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", kAdmin},
  };
  return *table;
}

unsigned BitOf(std::string_view role) {
  for (const auto& [name, bit] : kRoles) {
    if (name == role) return bit;
  }
  return 0;
}

}  // namespace

bool IsRole(std::string_view role) { return BitOf(role) != 0; }

std::string RoleList() {
  std::string list;
  for (const auto& [name, bit] : kRoles)
    list += fmt::format("{}{}", list.empty() ? "" : ", ", name);
  return list;
}

std::vector<std::string> RolesOf(const grpc::AuthContext& context) {
  std::vector<std::string> roles;
  if (!context.IsPeerAuthenticated()) return roles;
  for (const grpc::string_ref& uri : context.FindPropertyValues(GRPC_PEER_URI_PROPERTY_NAME)) {
    std::string_view value(uri.data(), uri.size());
    if (value.starts_with(kRoleUriPrefix)) {
      roles.emplace_back(value.substr(kRoleUriPrefix.size()));
    }
  }
  return roles;
}

absl::Status Authorize(std::string_view method, const std::vector<std::string>& roles) {
  auto it = Table().find(method);
  if (it == Table().end()) return absl::PermissionDeniedError("unknown method");
  for (const std::string& role : roles) {
    if ((it->second & BitOf(role)) != 0) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      fmt::format("role {} may not call {}", Describe(roles), method));
}

std::string Describe(const std::vector<std::string>& roles) {
  return roles.empty() ? "none" : fmt::format("{}", fmt::join(roles, "+"));
}

}  // namespace chainfs::tls
