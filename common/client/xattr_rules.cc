#include "common/client/xattr_rules.h"

#include <fmt/format.h>

namespace chainfs {

namespace {

constexpr std::string_view kXattrPrefixes[] = {"user.", "trusted.", "security."};

}  // namespace

bool KnownXattrName(std::string_view name) {
  if (name == kAclAccessXattr || name == kAclDefaultXattr) return true;
  for (std::string_view prefix : kXattrPrefixes) {
    if (name.size() > prefix.size() && name.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

size_t XattrBytes(const v1::Attributes& attributes) {
  size_t total = 0;
  for (const auto& [name, value] : attributes.xattrs()) total += name.size() + value.size();
  return total;
}

absl::Status ValidateXattrs(const v1::Attributes& attributes) {
  for (const auto& [name, value] : attributes.xattrs()) {
    if (!KnownXattrName(name)) {
      return absl::InvalidArgumentError(
          "extended attribute outside user.*, trusted.*, security.* and system.posix_acl_*");
    }
    if (name.size() > kMaxXattrNameBytes) {
      return absl::InvalidArgumentError(
          fmt::format("extended attribute name over {} bytes", kMaxXattrNameBytes));
    }
    if (value.size() > kMaxXattrValueBytes) {
      return absl::InvalidArgumentError(
          fmt::format("extended attribute value over {} bytes", kMaxXattrValueBytes));
    }
  }
  if (XattrBytes(attributes) > kMaxXattrTotalBytes) {
    return absl::InvalidArgumentError(
        fmt::format("extended attributes of one entry over {} bytes", kMaxXattrTotalBytes));
  }
  return absl::OkStatus();
}

absl::Status ApplyXattrChanges(const v1::SetAttributesRequest& req, v1::Attributes* attributes) {
  auto* xattrs = attributes->mutable_xattrs();
  for (const auto& [name, value] : req.set_xattrs()) {
    const bool exists = xattrs->contains(name);
    if (exists && (req.xattr_flags() & kXattrCreate)) {
      return absl::AlreadyExistsError("extended attribute exists (XATTR_CREATE)");
    }
    if (!exists && (req.xattr_flags() & kXattrReplace)) {
      return absl::FailedPreconditionError("no such extended attribute (XATTR_REPLACE)");
    }
    (*xattrs)[name] = value;
  }
  for (const std::string& name : req.remove_xattrs()) {
    if (xattrs->erase(name) == 0) {
      return absl::FailedPreconditionError("no such extended attribute to remove");
    }
  }
  return ValidateXattrs(*attributes);
}

bool XattrChanges(const v1::Attributes& from, const v1::Attributes& to,
                  v1::SetAttributesRequest* req) {
  bool changed = false;
  for (const auto& [name, value] : to.xattrs()) {
    auto it = from.xattrs().find(name);
    if (it != from.xattrs().end() && it->second == value) continue;
    (*req->mutable_set_xattrs())[name] = value;
    changed = true;
  }
  for (const auto& [name, value] : from.xattrs()) {
    if (to.xattrs().contains(name)) continue;
    req->add_remove_xattrs(name);
    changed = true;
  }
  return changed;
}

absl::Status ValidateEntry(const v1::FileInfo& file) {
  if (!v1::Kind_IsValid(file.kind())) return absl::InvalidArgumentError("unknown kind");
  if (file.attributes().mode() > 07777) {
    return absl::InvalidArgumentError("mode has bits above 07777");
  }
  return ValidateXattrs(file.attributes());
}

bool IsSpecialKind(v1::Kind kind) {
  return kind == v1::KIND_FIFO || kind == v1::KIND_CHAR_DEVICE || kind == v1::KIND_BLOCK_DEVICE ||
         kind == v1::KIND_SOCKET;
}

absl::Status ValidateContentSize(v1::Kind kind, int64_t size) {
  if (IsSpecialKind(kind) && size != 0) {
    return absl::InvalidArgumentError("a special file (fifo, device, socket) has no content");
  }
  return absl::OkStatus();
}

}  // namespace chainfs
