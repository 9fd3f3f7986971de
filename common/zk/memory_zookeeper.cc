// The in-memory twin of the ZooKeeper wrapper, for unit tests. One MemoryEnsemble holds
// the tree; each MemoryZooKeeper is one client session with its own event thread, so
// callbacks run asynchronously exactly as with the real one.
//
// Lock order: MemoryEnsemble::mu before MemoryZooKeeper::mu_, never the other way round.
#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>

#include "common/zk/event_loop.h"
#include "common/zk/session.h"
#include "common/zk/zookeeper.h"

namespace chainfs::zk {

class MemoryZooKeeper;

class MemoryEnsemble {
 public:
  struct MemNode {
    std::string data;
    int32_t version = 0;
    uint64_t owner = 0;  // session of an ephemeral node, 0 for persistent ones
  };
  struct Watch {
    MemoryZooKeeper* zk;
    WatchFn fn;
  };

  std::mutex mu;
  std::map<std::string, MemNode> nodes{{"/", MemNode{}}};
  std::multimap<std::string, Watch> data_watches;   // node created, changed or deleted
  std::multimap<std::string, Watch> child_watches;  // children added or removed, node deleted
  uint64_t next_session = 0;
};

namespace {

constexpr Duration kMemorySessionTimeout = std::chrono::seconds(10);

bool ValidPath(const std::string& path) {
  if (path.empty() || path[0] != '/') return false;
  if (path == "/") return true;
  return path.back() != '/' && path.find("//") == std::string::npos &&
         path.find('\0') == std::string::npos;
}

std::string Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

absl::Status BadPath(const std::string& path) {
  return absl::InternalError(fmt::format("ZooKeeper: bad path '{}'", path));
}

}  // namespace

// Inside MemoryZooKeeper's calls: UNAVAILABLE while suspended.
#define CHAINFS_MEMORY_CHECK_CONNECTED()                                  \
  do {                                                                    \
    if (!connected()) {                                                   \
      return absl::UnavailableError("memory ZooKeeper: connection lost"); \
    }                                                                     \
  } while (0)

class MemoryZooKeeper final : public SessionHolder {
 public:
  explicit MemoryZooKeeper(std::shared_ptr<MemoryEnsemble> ensemble)
      : ensemble_(std::move(ensemble)) {
    {
      std::lock_guard lock(mu_);
      SetConnectedLocked(true);
    }
    std::lock_guard lock(ensemble_->mu);
    session_ = ++ensemble_->next_session;
  }

  ~MemoryZooKeeper() override {
    {
      std::lock_guard lock(ensemble_->mu);
      TakeWatchesLocked();
      DropEphemeralsLocked();
    }
    events_.Stop();
  }

  Duration session_timeout() const override { return kMemorySessionTimeout; }
  std::string Describe() const override { return "the memory ensemble"; }

  absl::Status Create(const std::string& path, std::string_view data, bool ephemeral) override {
    if (!ValidPath(path) || path == "/") return BadPath(path);
    CHAINFS_MEMORY_CHECK_CONNECTED();
    return WithLostReply([&] {
      std::lock_guard lock(ensemble_->mu);
      return CreateLocked(path, data, ephemeral ? session_ : 0);
    });
  }

  absl::Status EnsurePath(const std::string& path) override {
    if (!ValidPath(path)) return BadPath(path);
    CHAINFS_MEMORY_CHECK_CONNECTED();
    std::lock_guard lock(ensemble_->mu);
    for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
      std::string prefix = path.substr(0, slash);
      if (prefix != "/" && !ensemble_->nodes.contains(prefix)) {
        if (absl::Status st = CreateLocked(prefix, "", 0); !st.ok()) return st;
      }
      if (slash == std::string::npos) return absl::OkStatus();
    }
  }

  absl::StatusOr<Node> Get(const std::string& path, WatchFn watch) override {
    if (!ValidPath(path)) return BadPath(path);
    CHAINFS_MEMORY_CHECK_CONNECTED();
    std::lock_guard lock(ensemble_->mu);
    if (watch) ensemble_->data_watches.emplace(path, MemoryEnsemble::Watch{this, std::move(watch)});
    auto it = ensemble_->nodes.find(path);
    if (it == ensemble_->nodes.end()) return NoNode(path);
    return Node{it->second.data, it->second.version};
  }

  absl::StatusOr<int32_t> Set(const std::string& path, std::string_view data,
                              int32_t expected_version) override {
    if (!ValidPath(path)) return BadPath(path);
    CHAINFS_MEMORY_CHECK_CONNECTED();
    int32_t version = 0;
    absl::Status st = WithLostReply([&]() -> absl::Status {
      std::lock_guard lock(ensemble_->mu);
      auto it = ensemble_->nodes.find(path);
      if (it == ensemble_->nodes.end()) return NoNode(path);
      if (expected_version != -1 && expected_version != it->second.version) {
        return BadVersion(path, expected_version, it->second.version);
      }
      it->second.data = std::string(data);
      version = ++it->second.version;
      FireLocked(ensemble_->data_watches, path);
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return version;
  }

  absl::Status Delete(const std::string& path, int32_t expected_version) override {
    if (!ValidPath(path) || path == "/") return BadPath(path);
    CHAINFS_MEMORY_CHECK_CONNECTED();
    return WithLostReply([&]() -> absl::Status {
      std::lock_guard lock(ensemble_->mu);
      auto it = ensemble_->nodes.find(path);
      if (it == ensemble_->nodes.end()) return NoNode(path);
      if (expected_version != -1 && expected_version != it->second.version) {
        return BadVersion(path, expected_version, it->second.version);
      }
      if (!ChildrenLocked(path).empty()) {
        return absl::InternalError(fmt::format("ZooKeeper delete {}: directory not empty", path));
      }
      DeleteLocked(it);
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<std::string>> Children(const std::string& path,
                                                    WatchFn watch) override {
    if (!ValidPath(path)) return BadPath(path);
    CHAINFS_MEMORY_CHECK_CONNECTED();
    std::lock_guard lock(ensemble_->mu);
    if (!ensemble_->nodes.contains(path)) return NoNode(path);
    if (watch) {
      ensemble_->child_watches.emplace(path, MemoryEnsemble::Watch{this, std::move(watch)});
    }
    return ChildrenLocked(path);
  }

  // Test hooks.
  void Suspend() {
    std::lock_guard lock(mu_);
    if (!connected_) return;
    connected_ = false;
    PostSessionEventLocked(SessionEvent::kSuspended);
  }

  void Resume() {
    std::lock_guard lock(mu_);
    if (connected_) return;
    ConnectLocked();
  }

  void Expire() {
    std::lock_guard ensemble_lock(ensemble_->mu);
    std::vector<WatchFn> pending = TakeWatchesLocked();
    DropEphemeralsLocked();
    session_ = ++ensemble_->next_session;
    std::lock_guard lock(mu_);
    connected_ = false;
    for (auto& fn : deferred_) pending.push_back(std::move(fn));
    deferred_.clear();
    PostSessionEventLocked(SessionEvent::kExpired);
    ConnectLocked();
    for (auto& fn : pending) events_.Post(std::move(fn));
  }

  void WaitIdle() { events_.WaitIdle(); }

  void LoseNextReply(bool applied, bool then_suspend) {
    std::lock_guard lock(mu_);
    lost_reply_ = LostReply{applied, then_suspend};
  }

  // Called with the ensemble locked: runs `fn` on this session's event thread, or once
  // the connection is back when suspended.
  void DeliverLocked(WatchFn fn) {
    std::lock_guard lock(mu_);
    if (connected_) {
      events_.Post(std::move(fn));
    } else {
      deferred_.push_back(std::move(fn));
    }
  }

 private:
  static absl::Status NoNode(const std::string& path) {
    return absl::NotFoundError(fmt::format("ZooKeeper: no node {}", path));
  }

  static absl::Status BadVersion(const std::string& path, int32_t expected, int32_t actual) {
    return absl::FailedPreconditionError(
        fmt::format("ZooKeeper {}: version is {}, not {}", path, actual, expected));
  }

  absl::Status CreateLocked(const std::string& path, std::string_view data, uint64_t owner) {
    auto& nodes = ensemble_->nodes;
    if (nodes.contains(path)) {
      return absl::AlreadyExistsError(fmt::format("ZooKeeper: {} exists", path));
    }
    std::string parent = Parent(path);
    auto p = nodes.find(parent);
    if (p == nodes.end()) return NoNode(parent);
    if (p->second.owner != 0) {
      return absl::InternalError(fmt::format("ZooKeeper: {} is ephemeral", parent));
    }
    nodes.emplace(path, MemoryEnsemble::MemNode{std::string(data), 0, owner});
    FireLocked(ensemble_->data_watches, path);
    FireLocked(ensemble_->child_watches, parent);
    return absl::OkStatus();
  }

  void DeleteLocked(std::map<std::string, MemoryEnsemble::MemNode>::iterator it) {
    std::string path = it->first;
    ensemble_->nodes.erase(it);
    FireLocked(ensemble_->data_watches, path);
    FireLocked(ensemble_->child_watches, path);
    FireLocked(ensemble_->child_watches, Parent(path));
  }

  std::vector<std::string> ChildrenLocked(const std::string& path) const {
    std::string prefix = path == "/" ? "/" : path + "/";
    std::vector<std::string> out;
    for (auto it = ensemble_->nodes.lower_bound(prefix);
         it != ensemble_->nodes.end() && it->first.starts_with(prefix); ++it) {
      std::string rest = it->first.substr(prefix.size());
      if (!rest.empty() && rest.find('/') == std::string::npos) out.push_back(rest);
    }
    return out;
  }

  static void FireLocked(std::multimap<std::string, MemoryEnsemble::Watch>& watches,
                         const std::string& path) {
    auto [begin, end] = watches.equal_range(path);
    for (auto it = begin; it != end; ++it) it->second.zk->DeliverLocked(std::move(it->second.fn));
    watches.erase(begin, end);
  }

  // Removes and returns every watch this session armed.
  std::vector<WatchFn> TakeWatchesLocked() {
    std::vector<WatchFn> out;
    for (auto* watches : {&ensemble_->data_watches, &ensemble_->child_watches}) {
      for (auto it = watches->begin(); it != watches->end();) {
        if (it->second.zk == this) {
          out.push_back(std::move(it->second.fn));
          it = watches->erase(it);
        } else {
          ++it;
        }
      }
    }
    return out;
  }

  void DropEphemeralsLocked() {
    auto& nodes = ensemble_->nodes;
    for (auto it = nodes.begin(); it != nodes.end();) {
      auto next = std::next(it);
      if (it->second.owner == session_) DeleteLocked(it);
      it = next;
    }
  }

  void PostSessionEventLocked(SessionEvent event) {
    events_.Post([this, event] {
      if (SessionFn listener = Listener()) listener(event);
    });
  }

  // With mu_ held: connected again; kConnected, then what was deferred meanwhile.
  void ConnectLocked() {
    SetConnectedLocked(true);
    PostSessionEventLocked(SessionEvent::kConnected);
    for (auto& fn : deferred_) events_.Post(std::move(fn));
    deferred_.clear();
  }

  // Runs a write, or answers as if its reply was lost when LoseNextReply asked for that.
  template <typename F>
  absl::Status WithLostReply(F&& write) {
    std::optional<LostReply> lost;
    {
      std::lock_guard lock(mu_);
      lost.swap(lost_reply_);
    }
    if (!lost) return write();
    if (lost->applied) (void)write();
    if (lost->then_suspend) Suspend();
    return absl::UnavailableError("memory ZooKeeper: connection loss (the reply was lost)");
  }

  struct LostReply {
    bool applied;
    bool then_suspend;
  };

  const std::shared_ptr<MemoryEnsemble> ensemble_;
  uint64_t session_ = 0;  // guarded by ensemble_->mu

  // Guarded by SessionHolder::mu_.
  std::vector<WatchFn> deferred_;  // watches that fired while suspended
  std::optional<LostReply> lost_reply_;
  EventLoop events_;
};

#undef CHAINFS_MEMORY_CHECK_CONNECTED

std::shared_ptr<MemoryEnsemble> NewMemoryEnsemble() { return std::make_shared<MemoryEnsemble>(); }

std::unique_ptr<ZooKeeper> NewMemoryZooKeeper(std::shared_ptr<MemoryEnsemble> ensemble) {
  return std::make_unique<MemoryZooKeeper>(std::move(ensemble));
}

namespace {
MemoryZooKeeper* AsMemory(ZooKeeper* zk) {
  auto* memory = dynamic_cast<MemoryZooKeeper*>(zk);
  if (memory == nullptr) {
    fprintf(stderr, "Memory* test hooks need a memory ZooKeeper\n");
    abort();
  }
  return memory;
}
}  // namespace

void MemorySuspend(ZooKeeper* zk) { AsMemory(zk)->Suspend(); }
void MemoryResume(ZooKeeper* zk) { AsMemory(zk)->Resume(); }
void MemoryExpire(ZooKeeper* zk) { AsMemory(zk)->Expire(); }
void MemoryWaitIdle(ZooKeeper* zk) { AsMemory(zk)->WaitIdle(); }
void MemoryLoseNextReply(ZooKeeper* zk, bool applied, bool then_suspend) {
  AsMemory(zk)->LoseNextReply(applied, then_suspend);
}

}  // namespace chainfs::zk
