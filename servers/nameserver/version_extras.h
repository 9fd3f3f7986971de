// The rarely present parts of a version that the NameServer keeps in its soft state: the
// device number of a device node and the extended attributes (POSIX ACLs included). Most
// names have neither, so VersionMeta holds them behind one pointer that stays null (8 bytes
// per name and per stale copy); copying a VersionMeta copies them.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proto/chainfs.pb.h"

namespace chainfs::nameserver {

class VersionExtras {
 public:
  VersionExtras() = default;
  VersionExtras(const VersionExtras& other);
  VersionExtras& operator=(const VersionExtras& other);
  VersionExtras(VersionExtras&&) noexcept = default;
  VersionExtras& operator=(VersionExtras&&) noexcept = default;

  // What `attributes` carries of them (nothing allocated when it has none).
  static VersionExtras Of(const v1::Attributes& attributes);
  // Writes them into `attributes` (FileInfo as the NameServer answers it).
  void FillIn(v1::Attributes* attributes) const;
  bool empty() const { return data_ == nullptr; }

 private:
  struct Data {
    uint64_t rdev = 0;
    std::vector<std::pair<std::string, std::string>> xattrs;  // sorted by name
  };
  std::unique_ptr<Data> data_;
};

}  // namespace chainfs::nameserver
