// What the client layer's unit tests share: the FileStore addresses of the in-memory twins
// and a new file's metadata.
#pragma once

#include <string>
#include <vector>

#include "proto/chainfs.pb.h"

namespace chainfs::testing {

inline const std::vector<std::string> kTwinStores = {"a:1", "b:1", "c:1", "d:1"};

// A regular file `name`, mode 0644, version and size left to the upload.
inline v1::FileInfo NewFile(const std::string& name) {
  v1::FileInfo f;
  f.set_name(name);
  f.set_kind(v1::KIND_FILE);
  f.mutable_attributes()->set_mode(0644);
  return f;
}

}  // namespace chainfs::testing
