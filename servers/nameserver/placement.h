// Placement: which FileStores get a new file or a new replica. The chain is up to
// `count` distinct live FileStores with the most free space; ties are broken at random so
// equal FileStores share the load. A FileStore that a client reported as failing its chain
// is suspect until its next heartbeat: chosen only when too few others remain.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "servers/nameserver/namespace.h"

namespace chainfs::nameserver {

class Placement {
 public:
  explicit Placement(uint64_t seed = std::random_device{}());

  // Never a FileStore from `exclude`, never one twice. With expected_size > 0, FileStores
  // that reported less free space than that are skipped (0 available = not reported).
  // Suspect FileStores come last: they are chosen only when fewer than `count` others are
  // left.
  std::vector<FileStoreInfo> Choose(std::vector<FileStoreInfo> candidates, size_t count,
                                    const std::vector<std::string>& exclude = {},
                                    int64_t expected_size = 0);

  // Marks `address` suspect (a chain through it failed); true when it was not yet.
  bool MarkSuspect(const std::string& address);
  // Its heartbeat arrived after the mark: placed on as usual again.
  void ClearSuspect(const std::string& address);
  bool IsSuspect(const std::string& address) const;

 private:
  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  std::set<std::string, std::less<>> suspects_;
};

}  // namespace chainfs::nameserver
