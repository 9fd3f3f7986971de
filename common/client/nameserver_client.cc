#include "common/client/nameserver_client.h"

#include <fmt/format.h>
#include <grpc/support/time.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <map>

#include "common/client/filestore_channels.h"
#include "common/defaults.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/status.h"

namespace chainfs {
namespace {

using Stub = v1::NameServer::Stub;

constexpr int kMaxMessageBytes = kNameServerMaxMessageBytes;
constexpr size_t kRegisterBatch = 1000;
constexpr size_t kRegisterBatchBytes = 4 << 20;
// Redirects followed at once before backing off (two NameServers naming each other while
// an election settles must not spin).
constexpr int kMaxImmediateRedirects = 2;

int Milliseconds(Duration d) {
  return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// Waits up to `wait` (real time) for a channel that failed to connect to connect again,
// unless `stop` turns true (checked every few milliseconds). A synchronous client polls
// gRPC only inside its calls, and a channel in TRANSIENT_FAILURE fails calls at once: left
// alone, its reconnect attempts would be seen only when gRPC's backup poller (every 5 s)
// happens by, and a NameServer up again or newly elected would stay unreachable for
// seconds. Waiting on the channel's state polls it.
void AwaitReconnect(grpc::Channel& channel, Duration wait, const std::function<bool()>& stop) {
  constexpr auto kSlice = std::chrono::milliseconds(20);
  auto until = std::chrono::steady_clock::now() + wait;
  while (channel.GetState(/*try_to_connect=*/true) == GRPC_CHANNEL_TRANSIENT_FAILURE && !stop()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= until) return;
    auto slice = std::min<Duration>(kSlice, until - now);
    channel.WaitForStateChange(GRPC_CHANNEL_TRANSIENT_FAILURE,
                               std::chrono::system_clock::now() + slice);
  }
}

// The leader named by a "not leader" answer, or "".
std::string LeaderHint(const grpc::ClientContext& ctx) {
  for (const auto* metadata : {&ctx.GetServerTrailingMetadata(), &ctx.GetServerInitialMetadata()}) {
    if (auto it = metadata->find(kLeaderMetadataKey); it != metadata->end()) {
      return std::string(it->second.data(), it->second.size());
    }
  }
  return "";
}

}  // namespace

// Named, not anonymous: NameServerClient::Impl holds one (and a unity build must not warn).
namespace nameserver_client_internal {

// The leader as /leader in ZooKeeper names it, re-read whenever that node changes. Shared
// with the watch callback, which holds it weakly so that it may outlive the client.
class LeaderWatch : public std::enable_shared_from_this<LeaderWatch> {
 public:
  LeaderWatch(zk::ZooKeeper* zk, const Clock* clock) : zk_(zk), clock_(clock) {}

  // Reads /leader now, arming a watch unless one is pending. "" when there is no leader
  // or ZooKeeper cannot be reached.
  std::string Refresh() {
    bool arm;
    uint64_t read;
    {
      std::lock_guard lock(mu_);
      arm = !armed_;
      armed_ = true;
      read = ++reads_started_;
    }
    zk::WatchFn watch;
    if (arm) {
      watch = [weak = weak_from_this()] {
        if (auto self = weak.lock()) {
          self->Disarm();
          self->Refresh();
        }
      };
    }
    auto node = zk_->Get("/leader", std::move(watch));
    bool found = node.ok() || absl::IsNotFound(node.status());
    std::string address = node.ok() ? FirstLine(node->data) : "";
    std::lock_guard lock(mu_);
    if (arm && !found) armed_ = false;  // the watch was not armed
    if (!found) return "";
    // Reads of one session are ordered: a read that started later saw newer data, so an
    // older read finishing last must not overwrite it.
    if (read < read_applied_) return leader_;
    read_applied_ = read;
    if (address != leader_) {
      Logger("client")->info("NameServer leader is {}", address.empty() ? "unknown" : address);
      ++changes_;
      changed_.notify_all();
    }
    leader_ = address;
    return address;
  }

  // How many times /leader was seen to change; for WaitForChange.
  uint64_t changes() {
    std::lock_guard lock(mu_);
    return changes_;
  }

  // Waits until `deadline` for /leader to change after `seen` = changes().
  void WaitForChange(uint64_t seen, TimePoint deadline) {
    std::unique_lock lock(mu_);
    while (changes_ == seen && clock_->Now() < deadline)
      clock_->WaitUntil(lock, changed_, deadline);
  }

  // What the last read found, while a watch keeps it fresh; else a new read.
  std::string Leader() {
    {
      std::lock_guard lock(mu_);
      if (armed_ && !leader_.empty()) return leader_;
    }
    return Refresh();
  }

 private:
  void Disarm() {
    std::lock_guard lock(mu_);
    armed_ = false;
  }

  zk::ZooKeeper* const zk_;
  const Clock* const clock_;
  std::mutex mu_;
  std::condition_variable changed_;
  uint64_t changes_ = 0;
  std::string leader_;
  bool armed_ = false;
  uint64_t reads_started_ = 0;
  uint64_t read_applied_ = 0;
};

}  // namespace nameserver_client_internal

using nameserver_client_internal::LeaderWatch;

struct NameServerClient::Impl {
  NameServerClientSettings settings;
  const Clock* clock = nullptr;
  std::shared_ptr<LeaderWatch> discovery;  // null for a fixed address
  std::shared_ptr<spdlog::logger> log = Logger("client");

  std::mutex mu;
  std::string leader;  // believed in: from /leader, a redirect, or the fixed address
  std::string last_from_zk;
  struct Connection {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<Stub> stub;
  };
  std::map<std::string, std::shared_ptr<Connection>> connections;

  // The address to call: the last redirect's, unless /leader changed since. After a
  // failure (leader forgotten) /leader is read afresh.
  std::string Leader() {
    bool fresh;
    {
      std::lock_guard lock(mu);
      if (discovery == nullptr) return leader;
      fresh = leader.empty();
    }
    std::string from_zk = fresh ? discovery->Refresh() : discovery->Leader();
    std::lock_guard lock(mu);
    if (from_zk != last_from_zk || leader.empty()) leader = from_zk;
    last_from_zk = from_zk;
    return leader;
  }

  void SetLeader(const std::string& address) {
    std::lock_guard lock(mu);
    leader = address;
  }

  // After a failure of `address` without a hint: ask ZooKeeper again (a fixed address
  // stays what it is).
  void Forget(const std::string& address) {
    if (discovery == nullptr) return;
    std::lock_guard lock(mu);
    if (leader == address) leader.clear();
  }

  std::shared_ptr<Connection> ConnectionTo(const std::string& address) {
    std::lock_guard lock(mu);
    auto& connection = connections[address];
    if (connection == nullptr) {
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(kMaxMessageBytes);
      args.SetMaxSendMessageSize(kMaxMessageBytes);
      // A NameServer that comes back (or a new leader on an old address) is found quickly.
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                  Milliseconds(settings.reconnect_backoff_initial));
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, Milliseconds(settings.reconnect_backoff_max));
      // Despite its name, gRPC's minimum connect timeout.
      args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, Milliseconds(settings.connect_timeout));
      connection = std::make_shared<Connection>();
      connection->channel =
          grpc::CreateCustomChannel(address, CredentialsOrInsecure(settings.credentials), args);
      connection->stub = v1::NameServer::NewStub(connection->channel);
    }
    return connection;
  }

  // Runs `rpc(stub, context, reply)` against the leader until it answers something other
  // than UNAVAILABLE or settings.call_timeout has passed: follows redirects, re-reads
  // /leader, backs off exponentially. An idempotent call gives each attempt at most
  // settings.attempt_timeout, so a leader cut off from the network costs one attempt, not
  // the whole budget; other calls may not be repeated blindly and get the whole budget.
  template <typename Reply, typename Rpc>
  absl::StatusOr<Reply> Call(const char* name, bool idempotent, Rpc rpc) {
    TimePoint deadline = clock->Now() + settings.call_timeout;
    Duration backoff = settings.retry_backoff_min;
    int redirects = 0;
    absl::Status last = absl::UnavailableError("no NameServer leader is known");
    auto gave_up = [&] {
      return absl::UnavailableError(fmt::format("NameServer {}: gave up after {}: {}", name,
                                                FormatDuration(settings.call_timeout),
                                                std::string(last.message())));
    };
    while (true) {
      // A backoff may end past the deadline (a clock that jumped): no attempt without time.
      if (clock->Now() >= deadline) return gave_up();
      uint64_t changes = discovery ? discovery->changes() : 0;
      std::string address = Leader();
      if (!address.empty()) {
        auto connection = ConnectionTo(address);
        AwaitReconnect(*connection->channel,
                       std::min<Duration>(deadline - clock->Now(), settings.reconnect_wait),
                       [&] { return discovery && discovery->changes() != changes; });
        if (clock->Now() >= deadline) return gave_up();
        grpc::ClientContext ctx;
        Duration remaining = deadline - clock->Now();
        if (idempotent) remaining = std::min(remaining, settings.attempt_timeout);
        ctx.set_deadline(gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                      gpr_time_from_nanos(remaining.count(), GPR_TIMESPAN)));
        Reply reply;
        grpc::Status st = rpc(*connection->stub, &ctx, &reply);
        if (st.ok()) return reply;
        last = FromGrpc(st);
        bool attempt_timed_out = idempotent &&
                                 st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
                                 clock->Now() < deadline;
        if (st.error_code() != grpc::StatusCode::UNAVAILABLE && !attempt_timed_out) {
          return WithMessage(last, fmt::format("NameServer {} at {}: {}", name, address,
                                               std::string(last.message())));
        }
        std::string hint = LeaderHint(ctx);
        if (!hint.empty() && hint != address) {
          log->debug("{}: {} is not the leader, {} is", name, address, hint);
          SetLeader(hint);
          if (++redirects <= kMaxImmediateRedirects) continue;
        } else {
          Forget(address);
        }
        last = absl::UnavailableError(
            fmt::format("NameServer {} at {}: {}", name, address, std::string(last.message())));
      }
      if (clock->Now() + backoff >= deadline) return gave_up();
      if (discovery) {
        discovery->WaitForChange(changes, clock->Now() + backoff);
      } else {
        clock->SleepUntil(clock->Now() + backoff);
      }
      backoff = std::min(backoff * 2, settings.retry_backoff_max);
      redirects = 0;
    }
  }

  template <typename Request, typename Reply>
  absl::StatusOr<Reply> Unary(const char* name,
                              grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                           Reply*),
                              const Request& req, bool idempotent = true) {
    return Call<Reply>(name, idempotent, [&](Stub& stub, grpc::ClientContext* ctx, Reply* reply) {
      return (stub.*method)(ctx, req, reply);
    });
  }
};

NameServerClient::NameServerClient(zk::ZooKeeper* zk, NameServerClientSettings settings,
                                   const Clock* clock)
    : impl_(std::make_unique<Impl>()) {
  impl_->settings = settings;
  impl_->clock = clock;
  impl_->discovery = std::make_shared<LeaderWatch>(zk, clock);
}

NameServerClient::NameServerClient(std::string address, NameServerClientSettings settings,
                                   const Clock* clock)
    : impl_(std::make_unique<Impl>()) {
  impl_->settings = settings;
  impl_->clock = clock;
  impl_->leader = std::move(address);
}

NameServerClient::~NameServerClient() = default;

std::string NameServerClient::leader() const { return impl_->Leader(); }

absl::StatusOr<v1::DoCreateReply> NameServerClient::DoCreate(const v1::DoCreateRequest& req) {
  return impl_->Unary("DoCreate", &Stub::DoCreate, req);
}

absl::StatusOr<v1::DoReadReply> NameServerClient::DoRead(const v1::DoReadRequest& req) {
  return impl_->Unary("DoRead", &Stub::DoRead, req);
}

absl::StatusOr<v1::DoDeleteReply> NameServerClient::DoDelete(const v1::DoDeleteRequest& req) {
  return impl_->Unary("DoDelete", &Stub::DoDelete, req, /*idempotent=*/false);
}

absl::StatusOr<v1::ListReply> NameServerClient::List(const v1::ListRequest& req) {
  return impl_->Unary("List", &Stub::List, req);
}

absl::StatusOr<v1::StatReply> NameServerClient::Stat(const v1::StatRequest& req) {
  return impl_->Unary("Stat", &Stub::Stat, req);
}

absl::StatusOr<v1::ListDirectoryReply> NameServerClient::ListDirectory(
    const v1::ListDirectoryRequest& req) {
  return impl_->Unary("ListDirectory", &Stub::ListDirectory, req);
}

absl::StatusOr<v1::RenameReply> NameServerClient::Rename(const v1::RenameRequest& req) {
  return impl_->Unary("Rename", &Stub::Rename, req, /*idempotent=*/false);
}

absl::StatusOr<v1::LinkReply> NameServerClient::Link(const v1::LinkRequest& req) {
  return impl_->Unary("Link", &Stub::Link, req, /*idempotent=*/false);
}

absl::StatusOr<v1::SetAttributesReply> NameServerClient::SetAttributes(
    const v1::SetAttributesRequest& req) {
  return impl_->Unary("SetAttributes", &Stub::SetAttributes, req, /*idempotent=*/false);
}

absl::StatusOr<v1::StatFsReply> NameServerClient::StatFs(const v1::StatFsRequest& req) {
  return impl_->Unary("StatFs", &Stub::StatFs, req);
}

absl::StatusOr<v1::ClusterStatusReply> NameServerClient::ClusterStatus(
    const v1::ClusterStatusRequest& req) {
  return impl_->Unary("ClusterStatus", &Stub::ClusterStatus, req);
}

absl::StatusOr<v1::ReplicateReply> NameServerClient::Replicate(const v1::ReplicateRequest& req) {
  return impl_->Unary("Replicate", &Stub::Replicate, req);
}

absl::StatusOr<v1::HeartBeatReply> NameServerClient::HeartBeat(const v1::HeartBeatRequest& req) {
  return impl_->Unary("HeartBeat", &Stub::HeartBeat, req);
}

absl::StatusOr<v1::AddFileOrTombstoneReply> NameServerClient::AddFileOrTombstone(
    const v1::AddFileOrTombstoneRequest& req) {
  return impl_->Unary("AddFileOrTombstone", &Stub::AddFileOrTombstone, req);
}

absl::StatusOr<v1::ReportBadReplicaReply> NameServerClient::ReportBadReplica(
    const v1::ReportBadReplicaRequest& req) {
  return impl_->Unary("ReportBadReplica", &Stub::ReportBadReplica, req);
}

absl::Status NameServerClient::RegisterFilesAndTombstones(const std::string& filestore,
                                                          const std::vector<v1::FileInfo>& files,
                                                          int64_t bytes_used,
                                                          int64_t bytes_available) {
  auto register_all = [&](Stub& stub, grpc::ClientContext* ctx, v1::RegisterReply* reply) {
    auto writer = stub.RegisterFilesAndTombstones(ctx, reply);
    size_t next = 0;
    do {
      v1::RegisterRequest batch;
      if (next == 0) {
        batch.set_filestore(filestore);
        batch.set_bytes_used(bytes_used);
        batch.set_bytes_available(bytes_available);
      }
      // Bounded by count and by bytes: extended attributes can make a FileInfo 128 KiB.
      size_t end = std::min(files.size(), next + kRegisterBatch);
      for (size_t bytes = 0; next < end && bytes < kRegisterBatchBytes; ++next) {
        bytes += files[next].ByteSizeLong();
        *batch.add_files() = files[next];
      }
      batch.set_last(next >= files.size());
      if (!writer->Write(batch)) break;  // the server ended the call; Finish says why
    } while (next < files.size());
    writer->WritesDone();
    return writer->Finish();
  };
  return impl_
      ->Call<v1::RegisterReply>("RegisterFilesAndTombstones", /*idempotent=*/false, register_all)
      .status();
}

}  // namespace chainfs
