// SetAndResolve / ResolveSet: conditional writes that survive a lost reply (see zookeeper.h).
#include <fmt/format.h>

#include "common/log.h"
#include "common/zk/zookeeper.h"

namespace chainfs::zk {

absl::StatusOr<int32_t> SetAndResolve(ZooKeeper* zk, const std::string& path, std::string_view data,
                                      int32_t expected_version) {
  absl::StatusOr<int32_t> zv = zk->Set(path, data, expected_version);
  if (!absl::IsUnavailable(zv.status()) || expected_version < 0) return zv;
  Logger("zk")->warn("setting {} (at znode version {}) has an unknown outcome ({}): re-reading it",
                     path, expected_version, std::string(zv.status().message()));
  return ResolveSet(zk, path, data, expected_version);
}

absl::StatusOr<int32_t> ResolveSet(ZooKeeper* zk, const std::string& path, std::string_view data,
                                   int32_t expected_version) {
  absl::StatusOr<Node> node = zk->Get(path);
  if (absl::IsNotFound(node.status())) {
    return absl::FailedPreconditionError(
        fmt::format("ZooKeeper {}: deleted while our write's outcome was unknown", path));
  }
  if (!node.ok()) return node.status();  // still unknown
  // ZooKeeper's data version is a wrapping 32-bit counter.
  auto next = static_cast<int32_t>(static_cast<uint32_t>(expected_version) + 1u);
  if (node->version == next && node->data == data) {
    Logger("zk")->info("{}: our write had applied (znode version {})", path, node->version);
    return node->version;
  }
  if (node->version == expected_version) {
    Logger("zk")->info("{}: our write had not applied; writing again", path);
    return zk->Set(path, data, expected_version);
  }
  return absl::FailedPreconditionError(
      fmt::format("ZooKeeper {}: written by someone else (znode version {}, ours would be {})",
                  path, node->version, next));
}

}  // namespace chainfs::zk
