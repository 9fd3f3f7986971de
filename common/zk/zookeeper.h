// The oracle: a small interface over ZooKeeper with two implementations, the real one over
// the zookeeper_mt C client (NewZooKeeper) and an in-memory twin for unit tests
// (NewMemoryZooKeeper). Paths are relative to the chroot of the ZkAddress ("/leader").
//
// Contract:
// - Calls block until ZooKeeper answers; they may be made from any thread, including
//   from watch and session callbacks (those run on the wrapper's own event thread, never
//   on the C client's thread).
// - A watch fires once: when the node changes, is created or deleted, or when the session
//   expires (every pending watch is then fired, so the owner re-reads and re-arms).
// - Connection loss is not session expiry: on loss the session listener hears kSuspended
//   and calls fail UNAVAILABLE; on reconnection within the session it hears kConnected.
//   On expiry it hears kExpired, the wrapper recreates its handle, and kConnected follows
//   once the new session is up: ephemeral nodes must then be recreated by their owners.
// - Error codes: NOT_FOUND (no node), ALREADY_EXISTS (node exists), FAILED_PRECONDITION
//   (version mismatch), UNAVAILABLE (not connected / connection lost / timeout),
//   ABORTED (session expired during the call), PERMISSION_DENIED (the node's ACL forbids
//   it), INTERNAL (anything else).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/address.h"
#include "common/clock.h"

namespace chainfs::zk {

enum class SessionEvent { kConnected, kSuspended, kExpired };

struct Node {
  std::string data;
  int32_t version = 0;  // the znode's data version, for conditional Set
};

using WatchFn = std::function<void()>;
using SessionFn = std::function<void(SessionEvent)>;

class ZooKeeper {
 public:
  virtual ~ZooKeeper() = default;

  // Replaces the session listener. Called on the wrapper's event thread.
  virtual void SetSessionListener(SessionFn fn) = 0;
  virtual bool connected() const = 0;
  // Waits up to `timeout` for a connected session; UNAVAILABLE if none came.
  virtual absl::Status WaitConnected(Duration timeout) = 0;
  virtual Duration session_timeout() const = 0;

  // Creates a node; ALREADY_EXISTS when present. Parents are not created.
  virtual absl::Status Create(const std::string& path, std::string_view data, bool ephemeral) = 0;
  // Creates path and any missing parents as empty persistent nodes; OK when present.
  virtual absl::Status EnsurePath(const std::string& path) = 0;
  // NOT_FOUND when absent. A given watch is armed either way: on the node's next change
  // or deletion, or on its creation when it is absent.
  virtual absl::StatusOr<Node> Get(const std::string& path, WatchFn watch = nullptr) = 0;
  // Sets data when the node's version equals expected_version (-1: any). Returns the new
  // version. FAILED_PRECONDITION on a mismatch (fencing), NOT_FOUND when absent.
  virtual absl::StatusOr<int32_t> Set(const std::string& path, std::string_view data,
                                      int32_t expected_version) = 0;
  virtual absl::Status Delete(const std::string& path, int32_t expected_version) = 0;
  // Child names (not paths). The watch fires when the set of children changes.
  virtual absl::StatusOr<std::vector<std::string>> Children(const std::string& path,
                                                            WatchFn watch = nullptr) = 0;
};

// A conditional Set whose reply may be lost. ZooKeeper answers connection loss or a timeout
// (UNAVAILABLE) also when the write was applied, so a writer that fences others by znode
// version (the leader's /maxver and /minver) must not keep its old version then. This
// Set, on UNAVAILABLE, resolves the outcome with ResolveSet.
absl::StatusOr<int32_t> SetAndResolve(ZooKeeper* zk, const std::string& path, std::string_view data,
                                      int32_t expected_version);
// Settles a Set(path, data, expected_version >= 0) that answered UNAVAILABLE, by reading the
// node: it holds `data` at expected_version + 1 -> ours applied: its new version. It still
// has expected_version -> ours did not apply: it is sent again (once). Anything else ->
// someone else wrote: FAILED_PRECONDITION (fenced), as is a deleted node. UNAVAILABLE while
// ZooKeeper cannot be read: the outcome is still unknown, so the caller keeps (path, data,
// expected_version) and calls ResolveSet again before any other write to that node.
absl::StatusOr<int32_t> ResolveSet(ZooKeeper* zk, const std::string& path, std::string_view data,
                                   int32_t expected_version);

// Connects to a real ensemble. The chroot, when set, is created if missing. Returns once
// the handle exists; use WaitConnected to wait for the session.
// With `digest` ("user:password", the daemons' shared identity) every session authenticates
// with it and every node it creates (the chroot included) is readable by anyone but
// writable, deletable and administrable only by that identity; a session without it cannot
// change them (PERMISSION_DENIED). Without it nodes are open to all (--insecure).
absl::StatusOr<std::unique_ptr<ZooKeeper>> NewZooKeeper(const ZkAddress& address,
                                                        Duration session_timeout,
                                                        std::string digest = "");

// The in-memory twin: every instance made from one MemoryEnsemble shares its tree, and
// ephemeral nodes belong to the instance (session) that made them.
class MemoryEnsemble;
std::shared_ptr<MemoryEnsemble> NewMemoryEnsemble();
std::unique_ptr<ZooKeeper> NewMemoryZooKeeper(std::shared_ptr<MemoryEnsemble> ensemble);
// Test hooks for a memory instance: drop the connection (kSuspended), restore it
// (kConnected), or expire the session (ephemerals removed, kExpired then kConnected).
void MemorySuspend(ZooKeeper* zk);
void MemoryResume(ZooKeeper* zk);
void MemoryExpire(ZooKeeper* zk);
// The next Set, Create or Delete of this memory instance answers UNAVAILABLE ("connection
// loss") as a real one may after the request left: `applied` says whether the write took
// effect anyway; with `then_suspend` the connection is lost right after it (kSuspended).
void MemoryLoseNextReply(ZooKeeper* zk, bool applied, bool then_suspend = false);
// Blocks until every callback queued so far for this memory instance has run, so unit
// tests can assert on what watches and session listeners did without sleeping.
void MemoryWaitIdle(ZooKeeper* zk);

}  // namespace chainfs::zk
