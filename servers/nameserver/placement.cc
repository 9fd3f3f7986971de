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
  std::vector<char> suspect(candidates.size());
  {
    std::lock_guard lock(mu_);
    std::shuffle(candidates.begin(), candidates.end(), rng_);
    if (!suspects_.empty()) {
      for (size_t i = 0; i < candidates.size(); ++i) {
        suspect[i] = suspects_.contains(candidates[i].address);
      }
    }
  }
  // Trusted ones first, each group by free space.
  std::vector<size_t> order(candidates.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (suspect[a] != suspect[b]) return suspect[a] < suspect[b];
    return candidates[a].bytes_available > candidates[b].bytes_available;
  });
  std::vector<FileStoreInfo> chosen;
  for (size_t i = 0; i < order.size() && chosen.size() < count; ++i) {
    chosen.push_back(std::move(candidates[order[i]]));
  }
  return chosen;
}

bool Placement::MarkSuspect(const std::string& address) {
  std::lock_guard lock(mu_);
  return suspects_.insert(address).second;
}

void Placement::ClearSuspect(const std::string& address) {
  std::lock_guard lock(mu_);
  if (!suspects_.empty()) suspects_.erase(address);
}

bool Placement::IsSuspect(const std::string& address) const {
  std::lock_guard lock(mu_);
  return suspects_.contains(address);
}

}  // namespace chainfs::nameserver
