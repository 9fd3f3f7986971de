// Helpers shared by the object store's files (object_store.cc, object_writer.cc,
// object_reader.cc, object_recovery.cc); not for use outside them.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/log.h"

namespace chainfs::filestore::internal {

// O_DIRECT writes: buffer size (large writes keep the disk busy) and alignment of
// addresses, offsets and lengths.
inline constexpr size_t kWriteBufferBytes = 4 << 20;
inline constexpr size_t kDirectAlign = 4096;

inline std::shared_ptr<spdlog::logger> Log() {
  static auto log = Logger("filestore");
  return log;
}

// XXH3-128 of a name in hex: what stands for the name in paths.
std::string Digest(const std::string& name);

inline bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix.data(), suffix.size()) == 0;
}

}  // namespace chainfs::filestore::internal
