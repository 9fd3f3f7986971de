#include "servers/filestore/reporter.h"

#include <fmt/format.h>

#include "common/log.h"

namespace chainfs::filestore {
namespace {

constexpr size_t kMaxPending = 100000;

std::shared_ptr<spdlog::logger> Log() {
  static auto log = Logger("filestore");
  return log;
}

}  // namespace

Reporter::Reporter(ObjectStore* store, zk::ZooKeeper* zk, NameServerClient* ns, const Clock* clock,
                   ReporterSettings settings)
    : store_(store), zk_(zk), ns_(ns), clock_(clock), settings_(std::move(settings)) {}

Reporter::~Reporter() { Stop(); }

void Reporter::Start() {
  if (zk_) {
    zk_->SetSessionListener([this](zk::SessionEvent event) {
      if (event == zk::SessionEvent::kConnected) {
        need_ephemeral_ = true;
        need_leader_read_ = true;
        need_minver_read_ = true;
        ticker_.Wake();
      }
    });
  }
  thread_ = std::thread([this] { Loop(); });
}

void Reporter::Stop() {
  ticker_.Stop();
  if (thread_.joinable()) thread_.join();
  if (zk_) zk_->SetSessionListener(nullptr);
}

void Reporter::Loop() {
  while (!ticker_.stopped()) {
    RunOnce();
    Duration wait = settings_.heartbeat_interval - (clock_->Now() - last_heartbeat_);
    if (wait < std::chrono::milliseconds(1)) wait = std::chrono::milliseconds(1);
    if (!ticker_.WaitFor(wait)) break;
  }
}

void Reporter::RunOnce() {
  if (zk_) SyncZooKeeper();
  if (!ns_ || (zk_ && leader_.empty())) return;  // nobody to talk to yet
  if (need_register_) {
    Register();
  } else if (clock_->Now() - last_heartbeat_ >= settings_.heartbeat_interval) {
    HeartBeat();
  }
  if (registered_ && !need_register_) FlushPending();
}

void Reporter::SyncZooKeeper() {
  if (!zk_->connected()) return;
  auto wake = [this](std::atomic<bool>* flag) {
    return [this, flag] {
      *flag = true;
      ticker_.Wake();
    };
  };
  if (need_ephemeral_.exchange(false)) {
    const std::string path = "/filestores/" + settings_.self;
    absl::Status st = zk_->EnsurePath("/filestores");
    if (st.ok()) st = zk_->Create(path, "", /*ephemeral=*/true);
    if (st.ok()) Log()->info("registered {} in ZooKeeper", path);
    if (st.ok() || st.code() == absl::StatusCode::kAlreadyExists) {
      // Fires when the node goes (an old session's node expiring, or our session's).
      auto node = zk_->Get(path, wake(&need_ephemeral_));
      if (!node.ok()) need_ephemeral_ = true;
    } else {
      Log()->warn("cannot create {}: {}", path, std::string(st.message()));
      need_ephemeral_ = true;
    }
  }
  if (need_leader_read_.exchange(false)) {
    auto node = zk_->Get("/leader", wake(&need_leader_read_));
    std::string leader;
    if (node.ok()) {
      leader = node->data.substr(0, node->data.find('\n'));
    } else if (node.status().code() != absl::StatusCode::kNotFound) {
      need_leader_read_ = true;
      return;
    }
    if (leader != leader_) {
      leader_ = leader;
      if (!leader.empty()) {
        Log()->info("NameServer leader is {}", leader);
        registered_ = false;
        need_register_ = true;
      }
    }
  }
  if (need_minver_read_.exchange(false)) {
    auto node = zk_->Get("/minver", wake(&need_minver_read_));
    if (node.ok()) {
      int64_t min_version = std::strtoll(node->data.c_str(), nullptr, 10);
      if (min_version > 0) {
        absl::Status st = store_->SetMinVersion(min_version);
        if (!st.ok()) Log()->warn("set minimum version: {}", std::string(st.message()));
      }
    } else if (node.status().code() != absl::StatusCode::kNotFound) {
      need_minver_read_ = true;
    }
  }
}

void Reporter::Register() {
  {
    std::lock_guard lock(mu_);
    pending_.clear();  // the registration covers them
  }
  std::vector<v1::FileInfo> files = store_->List();
  absl::Status st = ns_->RegisterFilesAndTombstones(settings_.self, files, store_->bytes_used(),
                                                    store_->bytes_available());
  last_heartbeat_ = clock_->Now();
  if (!st.ok()) {
    if (registered_.exchange(false) || !leader_.empty()) {
      Log()->warn("registration with the NameServer failed: {}", std::string(st.message()));
    }
    return;
  }
  need_register_ = false;
  registered_ = true;
  Log()->info("registered {} files and tombstones with the NameServer", files.size());
}

void Reporter::HeartBeat() {
  v1::HeartBeatRequest req;
  req.set_filestore(settings_.self);
  req.set_bytes_used(store_->bytes_used());
  req.set_bytes_available(store_->bytes_available());
  last_heartbeat_ = clock_->Now();
  auto reply = ns_->HeartBeat(req);
  if (!reply.ok()) {
    if (registered_.exchange(false)) {
      Log()->warn("heartbeat failed: {}", std::string(reply.status().message()));
    }
    return;
  }
  registered_ = true;
  if (reply->reregister()) {
    need_register_ = true;
    Register();
  }
}

void Reporter::Report(const v1::FileInfo& file) {
  if (ns_ && registered_ && !need_register_) {
    v1::AddFileOrTombstoneRequest req;
    req.set_filestore(settings_.self);
    *req.mutable_file() = file;
    auto reply = ns_->AddFileOrTombstone(req);
    if (reply.ok()) {
      if (reply->reregister()) {
        need_register_ = true;
        ticker_.Wake();
      }
      return;
    }
    Log()->warn("report of {}@{} failed, will retry: {}", file.name(), file.version(),
                std::string(reply.status().message()));
    registered_ = false;
  }
  ReportLater(file);
}

void Reporter::ReportLater(const v1::FileInfo& file) {
  if (!ns_) return;
  std::lock_guard lock(mu_);
  if (pending_.size() >= kMaxPending) {
    pending_.clear();  // too many: a registration reports everything at once
    need_register_ = true;
    return;
  }
  pending_.push_back(file);
}

void Reporter::FlushPending() {
  while (true) {
    v1::AddFileOrTombstoneRequest req;
    {
      std::lock_guard lock(mu_);
      if (pending_.empty()) return;
      *req.mutable_file() = pending_.front();
      pending_.pop_front();
    }
    req.set_filestore(settings_.self);
    auto reply = ns_->AddFileOrTombstone(req);
    if (!reply.ok()) {
      std::lock_guard lock(mu_);
      pending_.push_front(req.file());
      registered_ = false;
      return;
    }
    if (reply->reregister()) {
      need_register_ = true;
      return;
    }
  }
}

void Reporter::ReportBadReplica(const std::string& name, int64_t version) {
  if (!ns_) return;
  v1::ReportBadReplicaRequest req;
  req.set_filestore(settings_.self);
  req.mutable_file()->set_name(name);
  req.mutable_file()->set_version(version);
  auto reply = ns_->ReportBadReplica(req);
  if (!reply.ok()) {
    Log()->warn("report of bad replica {}@{} failed: {}", name, version,
                std::string(reply.status().message()));
  }
}

}  // namespace chainfs::filestore
