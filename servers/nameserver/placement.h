// Placement: which FileStores get a new file or a new replica. The chain is up to
// `count` distinct live FileStores with the most free space; ties are broken at random so
// equal FileStores share the load.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <vector>

#include "servers/nameserver/namespace.h"

namespace chainfs::nameserver {

class Placement {
 public:
  explicit Placement(uint64_t seed = std::random_device{}());

  // Never a FileStore from `exclude`, never one twice. With expected_size > 0, FileStores
  // that reported less free space than that are skipped (0 available = not reported).
  std::vector<FileStoreInfo> Choose(std::vector<FileStoreInfo> candidates, size_t count,
                                    const std::vector<std::string>& exclude = {},
                                    int64_t expected_size = 0);

 private:
  std::mutex mu_;
  std::mt19937_64 rng_;
};

}  // namespace chainfs::nameserver
