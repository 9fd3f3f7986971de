// The one way to talk to the NameServer. Finds the leader through ZooKeeper's /leader
// (watched, first line host:port), follows "not leader" answers (UNAVAILABLE with the
// chainfs-leader trailing metadata), and retries UNAVAILABLE with backoff until the call's
// deadline (a retry waiting out its backoff goes at once when /leader changes). Every call
// carries a deadline. Thread-safe.
#pragma once

#include <grpcpp/security/credentials.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/client/nameserver_api.h"
#include "common/clock.h"
#include "common/zk/zookeeper.h"
#include "proto/chainfs.grpc.pb.h"

namespace chainfs {

struct NameServerClientSettings {
  Duration call_timeout = std::chrono::seconds(10);  // per call, retries included
  // Per attempt of a call that may be repeated (reads, DoCreate, reports): how long a
  // silent leader (cut off, not dead) is waited for before /leader is read again.
  Duration attempt_timeout = std::chrono::seconds(3);
  // Retries back off exponentially between these; a change of /leader ends a backoff at
  // once, so a new leader is called as soon as ZooKeeper names it. The cap is short because
  // a new leader answers "starting up" until its FileStores registered (failover time).
  Duration retry_backoff_min = std::chrono::milliseconds(20);
  Duration retry_backoff_max = std::chrono::milliseconds(250);
  // gRPC's reconnect backoff of a channel to a NameServer (GRPC_ARG_INITIAL_ and
  // GRPC_ARG_MAX_RECONNECT_BACKOFF_MS; gRPC's own defaults are 1 s and 120 s). Short, so
  // that a NameServer that comes back (or a new leader on an old address) is reached at once.
  Duration reconnect_backoff_initial = std::chrono::milliseconds(100);
  Duration reconnect_backoff_max = std::chrono::seconds(1);
  // How long one connection attempt may take (gRPC's minimum connect timeout, set through
  // GRPC_ARG_MIN_RECONNECT_BACKOFF_MS; its default is 20 s). Long enough for a SYN lost
  // once and sent again after 1 s.
  Duration connect_timeout = std::chrono::seconds(3);
  // How long an attempt on a channel that failed to connect first waits for it to connect
  // again, polling it (a synchronous client's channel is polled only inside calls): at least
  // one reconnect backoff. A change of /leader ends the wait.
  Duration reconnect_wait = std::chrono::milliseconds(1200);
  // What channels dial with (tls::Credentials::Channel()); null: plain, unauthenticated
  // channels, for --insecure and in-process unit tests.
  std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr;
};

class NameServerClient final : public NameServerApi {
 public:
  // Discovers the leader through `zk` (not owned; must outlive the client). Deadlines and
  // backoffs are measured on `clock` (not owned).
  NameServerClient(zk::ZooKeeper* zk, NameServerClientSettings settings = {},
                   const Clock* clock = SystemClock::Get());
  // Talks to a fixed address (tests and tools); redirects are still followed.
  explicit NameServerClient(std::string address, NameServerClientSettings settings = {},
                            const Clock* clock = SystemClock::Get());
  ~NameServerClient();

  // The leader address currently believed in ("" when unknown).
  std::string leader() const;

  absl::StatusOr<v1::DoCreateReply> DoCreate(const v1::DoCreateRequest& req) override;
  absl::StatusOr<v1::DoReadReply> DoRead(const v1::DoReadRequest& req) override;
  absl::StatusOr<v1::DoDeleteReply> DoDelete(const v1::DoDeleteRequest& req) override;
  absl::StatusOr<v1::ListReply> List(const v1::ListRequest& req) override;
  absl::StatusOr<v1::StatReply> Stat(const v1::StatRequest& req) override;
  absl::StatusOr<v1::ListDirectoryReply> ListDirectory(
      const v1::ListDirectoryRequest& req) override;
  absl::StatusOr<v1::RenameReply> Rename(const v1::RenameRequest& req) override;
  absl::StatusOr<v1::LinkReply> Link(const v1::LinkRequest& req) override;
  absl::StatusOr<v1::SetAttributesReply> SetAttributes(
      const v1::SetAttributesRequest& req) override;
  absl::StatusOr<v1::StatFsReply> StatFs(const v1::StatFsRequest& req) override;
  absl::StatusOr<v1::ClusterStatusReply> ClusterStatus(
      const v1::ClusterStatusRequest& req) override;
  absl::StatusOr<v1::ReplicateReply> Replicate(const v1::ReplicateRequest& req) override;
  absl::StatusOr<v1::HeartBeatReply> HeartBeat(const v1::HeartBeatRequest& req) override;
  absl::StatusOr<v1::AddFileOrTombstoneReply> AddFileOrTombstone(
      const v1::AddFileOrTombstoneRequest& req) override;
  absl::StatusOr<v1::ReportBadReplicaReply> ReportBadReplica(
      const v1::ReportBadReplicaRequest& req) override;
  // Streams `files` in batches; the whole registration is retried against a new leader.
  absl::Status RegisterFilesAndTombstones(const std::string& filestore,
                                          const std::vector<v1::FileInfo>& files,
                                          int64_t bytes_used, int64_t bytes_available) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chainfs
