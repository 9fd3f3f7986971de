// The NameServer's status page, served at `/` on its metrics port, and the `/status.json` it
// reads every few seconds: which NameServer leads (a standby says so and links to the
// leader's page), the FileStores (address, live, late or dropped, a space bar, files, last
// heartbeat), under-replicated names, versions (next, /maxver, /minver), GC (rounds, the last
// round's outcome) and the recent events (EventLog). Plain HTML and CSS with a little inline
// script; no external assets. The script puts every value into the page as text (never as
// markup), so a name in an event cannot inject anything.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "proto/chainfs.pb.h"
#include "servers/nameserver/events.h"

namespace chainfs::nameserver {

class NameServer;

// Everything the page shows, gathered at one moment.
struct StatusView {
  std::string self;         // this NameServer's host:port
  bool is_leader = false;   // this one leads: `cluster` has the cluster's figures
  std::string leader_page;  // URL of the leader's status page, when known
  v1::ClusterStatusReply cluster;
  std::vector<DroppedFileStore> dropped;
  std::vector<Event> events;  // newest first
  GcOutcome gc;
  int replication = 0;
  int64_t heartbeat_interval_ms = 0;
  int64_t now_wall_ns = 0;
};

// The status page URL of the leader, for a standby's page: asks the leader (ClusterStatus,
// within `timeout`) for its metrics address, once per leader; a wildcard host (0.0.0.0, ::)
// there is replaced by the leader's own host. "" when unknown.
class LeaderPage {
 public:
  explicit LeaderPage(Duration timeout) : timeout_(timeout) {}
  std::string For(const std::string& leader);

 private:
  const Duration timeout_;
  std::mutex mu_;
  std::string leader_;  // whose URL url_ is
  std::string url_;
};

// `leader_page` (may be null) finds the leader's page when this NameServer is a standby.
StatusView CollectStatus(NameServer& nameserver, int64_t now_wall_ns,
                         LeaderPage* leader_page = nullptr);

std::string StatusJson(const StatusView& view);

// The page itself (the same bytes every time).
std::string_view StatusPageHtml();

}  // namespace chainfs::nameserver
