// Hard links (issue 15): the file of a hard-linked name lives under a hidden inode name,
// "/.chainfs-inodes/<id>", and every name of it is a KIND_HARD_LINK entry whose
// Attributes.inode names it. Inode names are ordinary names for FileStores, replication, GC
// and fsck; clients never see them (the NameServer answers NOT_FOUND for them by name and
// leaves them out of listings).
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace chainfs {

// The hidden directory of inode names.
inline constexpr std::string_view kInodeDirectory = "/.chainfs-inodes";

// The inode name of inode `id` (a version the NameServer allocated when it made the inode).
inline std::string InodeName(int64_t id) {
  return std::string(kInodeDirectory) + "/" + std::to_string(id);
}

// The id of an inode name; 0 when `name` is not one.
inline int64_t InodeId(std::string_view name) {
  if (name.size() <= kInodeDirectory.size() + 1 ||
      name.substr(0, kInodeDirectory.size()) != kInodeDirectory ||
      name[kInodeDirectory.size()] != '/') {
    return 0;
  }
  std::string_view digits = name.substr(kInodeDirectory.size() + 1);
  int64_t id = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (error != std::errc() || end != digits.data() + digits.size() || id <= 0) return 0;
  return InodeName(id) == name ? id : 0;  // canonical spelling only
}

// The hidden directory itself or anything beneath it: not a name clients may use.
inline bool IsHiddenName(std::string_view name) {
  return name.substr(0, kInodeDirectory.size()) == kInodeDirectory &&
         (name.size() == kInodeDirectory.size() || name[kInodeDirectory.size()] == '/');
}

}  // namespace chainfs
