#include "common/client/nameserver_rules.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/client/filestore_client.h"
#include "common/client/xattr_rules.h"
#include "common/names.h"
#include "common/status.h"

namespace chainfs {

namespace {

constexpr size_t kDefaultListLimit = 1000;
constexpr size_t kMaxListLimit = 10'000;
constexpr int kMaxExclude = 64;
// At most this much of a client-supplied name goes into an error message.
constexpr size_t kMaxEchoBytes = 100;
std::string_view Echo(std::string_view name) { return name.substr(0, kMaxEchoBytes); }

}  // namespace

absl::Status ValidateFileStore(const std::string& address) {
  if (address.empty()) return absl::InvalidArgumentError("filestore address is missing");
  // The address is dialled by replication and handed to clients: host:port only.
  return ValidateFileStoreAddress(address);
}

absl::Status ValidateBytes(int64_t bytes_used, int64_t bytes_available) {
  if (bytes_used < 0 || bytes_available < 0) {
    return absl::InvalidArgumentError("byte counts must not be negative");
  }
  return absl::OkStatus();
}

absl::Status ValidateReported(const v1::FileInfo& f) {
  CHAINFS_RETURN_IF_ERROR(ValidateName(f.name()));
  if (f.version() <= 0) return absl::InvalidArgumentError("version must be positive");
  if (f.size() < 0) return absl::InvalidArgumentError("size must not be negative");
  CHAINFS_RETURN_IF_ERROR(ValidateEntry(f));
  return ValidateContentSize(f.kind(), f.size());
}

absl::Status ValidateAddFileOrTombstone(const v1::AddFileOrTombstoneRequest& req) {
  CHAINFS_RETURN_IF_ERROR(ValidateFileStore(req.filestore()));
  CHAINFS_RETURN_IF_ERROR(ValidateReported(req.file()));
  if (req.also_on_size() > kMaxAlsoOn) return absl::InvalidArgumentError("also_on is too long");
  for (const std::string& address : req.also_on()) {
    if (!ValidateFileStore(address).ok()) return absl::InvalidArgumentError("bad also_on address");
  }
  if (req.more_size() > kMaxReportBatch) return absl::InvalidArgumentError("too many reports");
  for (const v1::FileInfo& f : req.more()) CHAINFS_RETURN_IF_ERROR(ValidateReported(f));
  return absl::OkStatus();
}

absl::Status ValidateDoCreate(const v1::DoCreateRequest& req) {
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.path()));
  if (req.expected_size() < 0) return absl::InvalidArgumentError("negative expected size");
  if (req.base_version() < 0) return absl::InvalidArgumentError("negative base version");
  if (req.exclude_size() > kMaxExclude) return absl::InvalidArgumentError("too many excludes");
  for (const std::string& address : req.exclude()) {
    if (!ValidateFileStore(address).ok()) return absl::InvalidArgumentError("bad exclude address");
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> ValidateListDirectory(const v1::ListDirectoryRequest& req) {
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.path(), /*allow_root=*/true));
  if (!req.start_after().empty()) {
    CHAINFS_RETURN_IF_ERROR(ValidateName("/" + req.start_after()));
    if (req.start_after().find('/') != std::string::npos) {
      return absl::InvalidArgumentError("start_after must be a child name, not a path");
    }
  }
  if (req.limit() < 0) return absl::InvalidArgumentError("limit is negative");
  if (req.limit() == 0) return kDefaultListLimit;
  return std::min(static_cast<size_t>(req.limit()), kMaxListLimit);
}

absl::Status ValidateReplicate(const v1::ReplicateRequest& req) {
  if (req.paths_size() == 0 || req.paths_size() > kMaxReplicatePaths) {
    return absl::InvalidArgumentError(
        fmt::format("replicate takes 1 to {} paths, not {}", kMaxReplicatePaths, req.paths_size()));
  }
  for (const std::string& path : req.paths()) CHAINFS_RETURN_IF_ERROR(ValidateName(path));
  return absl::OkStatus();
}

v1::FileInfo ImpliedDirectory(const std::string& name) {
  v1::FileInfo info;
  info.set_name(name);
  info.set_kind(v1::KIND_DIRECTORY);
  info.mutable_attributes()->set_mode(0755);
  return info;
}

absl::Status CheckRenameOver(bool source_is_directory, const v1::FileInfo& target, bool no_replace,
                             const std::function<bool()>& target_has_children) {
  std::string_view to = Echo(target.name());
  if (no_replace) return absl::AlreadyExistsError(fmt::format("{} exists", to));
  bool target_is_directory = target.kind() == v1::KIND_DIRECTORY;
  if (target_is_directory && !source_is_directory) {
    return Error(v1::ERROR_IS_A_DIRECTORY, fmt::format("{}: is a directory", to));
  }
  if (!target_is_directory && source_is_directory) {
    return Error(v1::ERROR_NOT_A_DIRECTORY, fmt::format("{}: not a directory", to));
  }
  if (target_is_directory && target_has_children()) {
    return Error(v1::ERROR_NOT_EMPTY, fmt::format("{}: directory not empty", to));
  }
  return absl::OkStatus();
}

absl::Status RenameBeneathItselfError(std::string_view from, std::string_view to) {
  return absl::InvalidArgumentError(
      fmt::format("cannot move {} beneath itself ({})", Echo(from), Echo(to)));
}

}  // namespace chainfs
