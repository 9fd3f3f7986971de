// The real ZooKeeper wrapper over the zookeeper_mt C client.
//
// Threads: the C client calls OnSessionEvent and OnWatch on its own thread; they only
// record state and post work to events_, where session listeners and watches run.
// Handle replacement after expiry happens on events_ under an exclusive handle_mu_;
// calls hold it shared, so they never see a closed handle.
//
// Chroot: paths are prefixed with the chroot here (the C client's chrooted connect
// string cannot create the chroot itself); the chroot is ensured on every connect before
// the session is reported connected.
#include "common/zk/zookeeper.h"

#include <fmt/format.h>
#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>

#include "common/log.h"
#include "common/status.h"
#include "common/zk/event_loop.h"
#include "common/zk/session.h"

namespace chainfs::zk {
namespace {

constexpr int kInitialDataBytes = 64 << 10;

absl::Status FromZk(int rc, const std::string& what) {
  if (rc == ZOK) return absl::OkStatus();
  std::string message = fmt::format("ZooKeeper {}: {}", what, zerror(rc));
  switch (rc) {
    case ZNONODE:
      return absl::NotFoundError(message);
    case ZNODEEXISTS:
      return absl::AlreadyExistsError(message);
    case ZBADVERSION:
      return absl::FailedPreconditionError(message);
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
    case ZCLOSING:
      return absl::UnavailableError(message);
    case ZNOAUTH:
    case ZAUTHFAILED:
      return absl::PermissionDeniedError(message);
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE:
      return absl::AbortedError(message);
    default:
      return absl::InternalError(message);
  }
}

// The C client's log lines ("...:ZOO_ERROR@function@line: text") go to the "zk" logger.
// Its errors are mostly connection trouble, repeated many times a second while a server is
// down and already reported by the session events: at most one per kClientErrorLogInterval
// is a warning, the rest are debug.
constexpr Duration kClientErrorLogInterval = std::chrono::seconds(10);

void LogFromClient(const char* message) {
  static auto log = Logger("zk");
  static std::atomic<int64_t> last_warning_ns{0};
  if (strstr(message, "ZOO_ERROR") != nullptr) {
    int64_t now = SystemClock::Get()->Now().time_since_epoch().count();
    int64_t last = last_warning_ns.load();
    if (now - last >= kClientErrorLogInterval.count() &&
        last_warning_ns.compare_exchange_strong(last, now)) {
      log->warn("client: {}", message);
      return;
    }
  }
  log->debug("client: {}", message);
}

// Paths are absolute within the chroot; the server checks the rest.
absl::Status CheckPath(const std::string& path) {
  if (path.empty() || path[0] != '/' || (path.size() > 1 && path.back() == '/')) {
    return absl::InternalError(fmt::format("ZooKeeper: bad path '{}'", path));
  }
  return absl::OkStatus();
}

// Anyone may read; only the identity that created a node (the daemons' shared digest
// identity, scheme "auth") may change, delete under or administer it.
ACL kSecuredAcl[] = {{ZOO_PERM_READ, {const_cast<char*>("world"), const_cast<char*>("anyone")}},
                     {ZOO_PERM_ALL, {const_cast<char*>("auth"), const_cast<char*>("")}}};
ACL_vector kSecuredAcls = {2, kSecuredAcl};

class RealZooKeeper final : public SessionHolder {
 public:
  RealZooKeeper(ZkAddress address, Duration session_timeout, std::string digest)
      : address_(std::move(address)),
        requested_timeout_(session_timeout),
        digest_(std::move(digest)),
        acl_(digest_.empty() ? &ZOO_OPEN_ACL_UNSAFE : &kSecuredAcls),
        watchdog_([this] { Watchdog(); }) {}

  ~RealZooKeeper() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    watchdog_cv_.notify_all();
    watchdog_.join();
    events_.Stop();
    std::unique_lock lock(handle_mu_);
    if (zh_ != nullptr) zookeeper_close(zh_);
  }

  absl::Status Open() {
    std::unique_lock lock(handle_mu_);
    return OpenLocked();
  }

  std::string Describe() const override { return address_.ConnectString(); }

  Duration session_timeout() const override {
    std::shared_lock lock(handle_mu_);
    if (zh_ != nullptr && connected()) return std::chrono::milliseconds(zoo_recv_timeout(zh_));
    return requested_timeout_;
  }

  absl::Status Create(const std::string& path, std::string_view data, bool ephemeral) override {
    CHAINFS_RETURN_IF_ERROR(CheckPath(path));
    std::string full = Full(path);
    return Call(fmt::format("create {}", full), [&](zhandle_t* zh) {
      return zoo_create(zh, full.c_str(), data.data(), static_cast<int>(data.size()), acl_,
                        ephemeral ? ZOO_EPHEMERAL : ZOO_PERSISTENT, nullptr, 0);
    });
  }

  absl::Status EnsurePath(const std::string& path) override {
    CHAINFS_RETURN_IF_ERROR(CheckPath(path));
    std::string full = Full(path);
    return Call(fmt::format("ensure {}", full),
                [&](zhandle_t* zh) { return EnsureFullPath(zh, full, acl_); });
  }

  absl::StatusOr<Node> Get(const std::string& path, WatchFn watch) override {
    CHAINFS_RETURN_IF_ERROR(CheckPath(path));
    std::string full = Full(path);
    uint64_t id = AddWatch(std::move(watch));
    watcher_fn fn = id != 0 ? OnWatch : nullptr;
    void* context = reinterpret_cast<void*>(id);
    std::string buf(kInitialDataBytes, '\0');
    while (true) {
      int len = static_cast<int>(buf.size());
      Stat stat{};
      absl::Status st = Call(fmt::format("get {}", full), [&](zhandle_t* zh) {
        return zoo_wget(zh, full.c_str(), fn, context, buf.data(), &len, &stat);
      });
      if (st.ok()) {
        if (stat.dataLength > len) {  // grew between calls or larger than the buffer
          buf.resize(stat.dataLength);
          continue;
        }
        buf.resize(len < 0 ? 0 : len);
        return Node{std::move(buf), stat.version};
      }
      if (!absl::IsNotFound(st) || id == 0) {
        DropWatch(id);
        return st;
      }
      // Absent: arm the watch for the node's creation instead.
      st = Call(fmt::format("exists {}", full),
                [&](zhandle_t* zh) { return zoo_wexists(zh, full.c_str(), fn, context, &stat); });
      if (absl::IsNotFound(st)) return absl::NotFoundError(fmt::format("no node {}", full));
      if (!st.ok()) {
        DropWatch(id);
        return st;
      }
      // Created in between: read it (the same watch context is registered only once).
    }
  }

  absl::StatusOr<int32_t> Set(const std::string& path, std::string_view data,
                              int32_t expected_version) override {
    CHAINFS_RETURN_IF_ERROR(CheckPath(path));
    std::string full = Full(path);
    Stat stat{};
    CHAINFS_RETURN_IF_ERROR(Call(fmt::format("set {}", full), [&](zhandle_t* zh) {
      return zoo_set2(zh, full.c_str(), data.data(), static_cast<int>(data.size()),
                      expected_version, &stat);
    }));
    return stat.version;
  }

  absl::Status Delete(const std::string& path, int32_t expected_version) override {
    CHAINFS_RETURN_IF_ERROR(CheckPath(path));
    std::string full = Full(path);
    return Call(fmt::format("delete {}", full),
                [&](zhandle_t* zh) { return zoo_delete(zh, full.c_str(), expected_version); });
  }

  absl::StatusOr<std::vector<std::string>> Children(const std::string& path,
                                                    WatchFn watch) override {
    CHAINFS_RETURN_IF_ERROR(CheckPath(path));
    std::string full = Full(path);
    uint64_t id = AddWatch(std::move(watch));
    String_vector names{};
    absl::Status st = Call(fmt::format("children {}", full), [&](zhandle_t* zh) {
      return zoo_wget_children(zh, full.c_str(), id != 0 ? OnWatch : nullptr,
                               reinterpret_cast<void*>(id), &names);
    });
    if (!st.ok()) {
      DropWatch(id);
      return st;
    }
    std::vector<std::string> out(names.data, names.data + names.count);
    deallocate_String_vector(&names);
    return out;
  }

 private:
  // What the C client hands back to our callbacks: which wrapper, which handle.
  struct HandleContext {
    RealZooKeeper* self;
    uint64_t generation;
  };

  std::string Full(const std::string& path) const {
    if (address_.chroot.empty()) return path;
    return path == "/" ? address_.chroot : address_.chroot + path;
  }

  // Runs one C-client call on the current handle; UNAVAILABLE while not connected.
  template <typename F>
  absl::Status Call(const std::string& what, F&& call) {
    std::shared_lock lock(handle_mu_);
    if (zh_ == nullptr || !connected()) {
      return absl::UnavailableError(
          fmt::format("ZooKeeper {}: not connected to {}", what, address_.hosts));
    }
    return FromZk(call(zh_), what);
  }

  static int EnsureFullPath(zhandle_t* zh, const std::string& full, ACL_vector* acl) {
    Stat stat{};
    int rc = zoo_exists(zh, full.c_str(), 0, &stat);
    if (rc != ZNONODE) return rc;
    for (size_t slash = full.find('/', 1);; slash = full.find('/', slash + 1)) {
      std::string prefix = full.substr(0, slash);
      rc = zoo_create(zh, prefix.c_str(), nullptr, -1, acl, ZOO_PERSISTENT, nullptr, 0);
      if (rc != ZOK && rc != ZNODEEXISTS) return rc;
      if (slash == std::string::npos) return ZOK;
    }
  }

  absl::Status OpenLocked() {
    context_ = std::make_unique<HandleContext>(HandleContext{this, ++generation_});
    int timeout_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(requested_timeout_).count());
    zh_ = zookeeper_init2(address_.hosts.c_str(), OnSessionEvent, timeout_ms, nullptr,
                          context_.get(), 0, LogFromClient);
    if (zh_ == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("zookeeper_init({}): {}", address_.hosts, strerror(errno)));
    }
    // Sent before any request of the session, and again by the client on every reconnect.
    // The C client refuses it (ZINVALIDSTATE) while the handle sits between a refused
    // connection and its next attempt, which is normal when ZooKeeper is still starting: it
    // is then sent on connecting (OnSessionEvent), before this wrapper says it is connected.
    if (!digest_.empty()) {
      int rc = AddAuth(zh_);
      if (rc == ZINVALIDSTATE && is_unrecoverable(zh_) == ZOK) {
        auth_pending_ = true;
      } else if (rc != ZOK) {
        return FromZk(rc, "add_auth");
      }
    }
    return absl::OkStatus();
  }

  uint64_t AddWatch(WatchFn fn) {
    if (!fn) return 0;
    std::lock_guard lock(mu_);
    uint64_t id = ++next_watch_id_;
    watches_.emplace(id, std::move(fn));
    return id;
  }

  void DropWatch(uint64_t id) {
    if (id == 0) return;
    std::lock_guard lock(mu_);
    watches_.erase(id);
  }

  int AddAuth(zhandle_t* zh) const {
    return zoo_add_auth(zh, "digest", digest_.data(), static_cast<int>(digest_.size()), nullptr,
                        nullptr);
  }

  // C-client thread: the session's state changed.
  static void OnSessionEvent(zhandle_t* zh, int type, int state, const char*, void* context) {
    if (type != ZOO_SESSION_EVENT) return;
    auto* ctx = static_cast<HandleContext*>(context);
    RealZooKeeper* self = ctx->self;
    uint64_t generation = ctx->generation;
    if (state == ZOO_CONNECTED_STATE) {
      // Queued ahead of every request this wrapper lets through once it heard of the session.
      if (self->auth_pending_.exchange(false)) {
        if (int rc = self->AddAuth(zh); rc != ZOK) {
          self->log_->error("ZooKeeper add_auth on connecting: {}", zerror(rc));
        }
      }
      self->events_.Post([self, generation] { self->HandleConnected(generation); });
    } else if (state == ZOO_CONNECTING_STATE || state == ZOO_EXPIRED_SESSION_STATE) {
      if (generation == self->generation_) {
        std::lock_guard lock(self->mu_);
        self->connected_ = false;
      }
      bool expired = state == ZOO_EXPIRED_SESSION_STATE;
      self->events_.Post([self, generation, expired] {
        expired ? self->HandleExpired(generation) : self->HandleSuspended(generation);
      });
    } else if (state == ZOO_AUTH_FAILED_STATE) {
      self->log_->error("ZooKeeper authentication failed");
    }
  }

  // C-client thread: a node watch fired. Session events also reach node watchers; they are
  // ignored here because HandleExpired fires every pending watch itself.
  static void OnWatch(zhandle_t* zh, int type, int, const char*, void* watch_context) {
    if (type == ZOO_SESSION_EVENT) return;
    auto* ctx = static_cast<const HandleContext*>(zoo_get_context(zh));
    RealZooKeeper* self = ctx->self;
    uint64_t id = reinterpret_cast<uint64_t>(watch_context);
    WatchFn fn;
    {
      std::lock_guard lock(self->mu_);
      auto it = self->watches_.find(id);
      if (it == self->watches_.end()) return;
      fn = std::move(it->second);
      self->watches_.erase(it);
    }
    self->events_.Post(std::move(fn));
  }

  void Notify(SessionEvent event) {
    SessionFn listener = Listener();
    last_event_ = event;
    if (listener) listener(event);
  }

  // Event thread from here on.
  void HandleConnected(uint64_t generation) {
    if (generation != generation_) return;
    int64_t session_id = 0;
    {
      std::shared_lock lock(handle_mu_);
      if (!address_.chroot.empty()) {
        if (int rc = EnsureFullPath(zh_, address_.chroot, acl_); rc != ZOK) {
          log_->warn("cannot create chroot {}: {}", address_.chroot, zerror(rc));
          return;  // the next connect tries again
        }
      }
      session_id = zoo_client_id(zh_)->client_id;
    }
    std::vector<WatchFn> fire;
    {
      std::lock_guard lock(mu_);
      SetConnectedLocked(true);
      suspended_since_.reset();
      fire.swap(expired_watches_);
    }
    if (last_event_ != SessionEvent::kConnected) {
      log_->info("ZooKeeper session 0x{:x} with {} connected (timeout {}ms)", session_id,
                 address_.ConnectString(),
                 std::chrono::duration_cast<std::chrono::milliseconds>(session_timeout()).count());
      Notify(SessionEvent::kConnected);
    }
    for (auto& fn : fire) fn();
  }

  void HandleSuspended(uint64_t generation) {
    if (generation != generation_) return;
    bool had_session = last_event_ == SessionEvent::kConnected;
    {
      std::lock_guard lock(mu_);
      connected_ = false;
      if (had_session) suspended_since_ = SystemClock::Get()->Now();
    }
    watchdog_cv_.notify_all();
    if (had_session) {
      log_->info("ZooKeeper connection to {} lost; session suspended", address_.hosts);
      Notify(SessionEvent::kSuspended);
    }
  }

  void HandleExpired(uint64_t generation) {
    if (generation != generation_) return;
    log_->info("ZooKeeper session with {} expired; opening a new one", address_.hosts);
    {
      std::lock_guard lock(mu_);
      connected_ = false;
      suspended_since_.reset();
      // The old handle's watch registrations die with it; these fire once the new session
      // is up, so that their owners can re-read and re-arm.
      for (auto& [id, fn] : watches_) expired_watches_.push_back(std::move(fn));
      watches_.clear();
    }
    Notify(SessionEvent::kExpired);
    std::unique_lock lock(handle_mu_);
    zookeeper_close(zh_);
    zh_ = nullptr;
    if (absl::Status st = OpenLocked(); !st.ok()) {
      log_->error("cannot reopen the ZooKeeper handle: {}", st.ToString());
    }
  }

  // Event thread: no connection for a whole session timeout. By now the server has
  // expired the session, or never knew it: a server that lost its data (or a new
  // ensemble) refuses, forever, a client that saw newer transactions than it has, instead
  // of telling it that its session expired. So the session is given up here and a new one
  // opened, as Curator does.
  void HandleGivenUp(uint64_t generation) {
    if (generation != generation_ || connected()) return;
    log_->warn("no connection to ZooKeeper {} for a whole session timeout: giving the session up",
               address_.hosts);
    HandleExpired(generation);
  }

  // Own thread: sleeps until a session's connection is lost, then posts HandleGivenUp if it
  // is still lost a session timeout later.
  void Watchdog() {
    std::unique_lock lock(mu_);
    while (true) {
      watchdog_cv_.wait(lock, [this] { return stopping_ || suspended_since_.has_value(); });
      if (stopping_) return;
      TimePoint since = *suspended_since_;
      watchdog_cv_.wait_until(lock, since + requested_timeout_, [&] {
        return stopping_ || suspended_since_ != since;  // reconnected, expired or lost again
      });
      if (stopping_) return;
      if (suspended_since_ != since) continue;
      suspended_since_.reset();
      uint64_t generation = generation_;
      lock.unlock();
      events_.Post([this, generation] { HandleGivenUp(generation); });
      lock.lock();
    }
  }

  const ZkAddress address_;
  const Duration requested_timeout_;
  const std::string digest_;  // "user:password", or "" for open nodes
  ACL_vector* const acl_;     // of every node created
  std::shared_ptr<spdlog::logger> log_ = Logger("zk");

  mutable std::shared_mutex handle_mu_;  // guards zh_ and context_
  zhandle_t* zh_ = nullptr;
  std::unique_ptr<HandleContext> context_;
  std::atomic<uint64_t> generation_{0};
  // The digest could not be given at open: it goes with the first connection (OnSessionEvent).
  std::atomic<bool> auth_pending_{false};

  // Guarded by SessionHolder::mu_.
  uint64_t next_watch_id_ = 0;
  std::map<uint64_t, WatchFn> watches_;  // armed in the C client, by context id
  std::vector<WatchFn> expired_watches_;

  std::optional<SessionEvent> last_event_;    // event thread only
  std::optional<TimePoint> suspended_since_;  // a session's connection lost (guarded by mu_)
  bool stopping_ = false;                     // guarded by mu_
  std::condition_variable watchdog_cv_;
  EventLoop events_;      // its thread stops before the members above go
  std::thread watchdog_;  // last member: started once everything else exists
};

}  // namespace

absl::StatusOr<std::unique_ptr<ZooKeeper>> NewZooKeeper(const ZkAddress& address,
                                                        Duration session_timeout,
                                                        std::string digest) {
  static std::once_flag quiet;
  std::call_once(quiet, [] { zoo_set_debug_level(ZOO_LOG_LEVEL_WARN); });
  if (address.hosts.empty()) return absl::InvalidArgumentError("no ZooKeeper hosts given");
  auto zk = std::make_unique<RealZooKeeper>(address, session_timeout, std::move(digest));
  if (absl::Status st = zk->Open(); !st.ok()) return st;
  return zk;
}

}  // namespace chainfs::zk
