#include "servers/nameserver/placement.h"

#include <algorithm>

namespace chainfs::nameserver {

Placement::Placement(uint64_t seed) : rng_(seed) {}

std::vector<FileStoreInfo> Placement::Choose(std::vector<FileStoreInfo> candidates, size_t count,
                                             const std::vector<std::string>& exclude,
                                             int64_t expected_size) {
  std::erase_if(candidates, [&](const FileStoreInfo& fs) {
    if (std::find(exclude.begin(), exclude.end(), fs.address) != exclude.end()) return true;
    return expected_size > 0 && fs.bytes_available > 0 && fs.bytes_available < expected_size;
  });
  {
    std::lock_guard lock(mu_);
    std::shuffle(candidates.begin(), candidates.end(), rng_);
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const FileStoreInfo& a, const FileStoreInfo& b) {
                     return a.bytes_available > b.bytes_available;
                   });
  if (candidates.size() > count) candidates.resize(count);
  return candidates;
}

}  // namespace chainfs::nameserver
