// Mounting chainfs: the settings of chainfs-mount (also run as mount.chainfs by mount(8)),
// the "-o" option parsing they share, and RunMount, which connects to ZooKeeper, mounts,
// serves until unmounted and cleans up.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "common/defaults.h"
#include "common/tls/tls.h"
#include "fuse/times.h"

namespace chainfs::mount {

struct MountOptions {
  std::string zk;  // HOST:PORT[,...]/CHROOT
  std::string mountpoint;
  std::vector<std::string> fuse_options;  // passed to libfuse ("ro", "allow_root", ...)
  // Whether other local users may use the mount (libfuse's allow_other; the kernel then
  // checks mode bits against the stored owner, default_permissions). Unset: on for a mount
  // made by root, as mfsmount does; off for a user's mount, which needs user_allow_other in
  // /etc/fuse.conf to ask for it. -o allow_other / -o noallow_other, --[no-]allow-other.
  std::optional<bool> allow_other;
  bool foreground = false;
  bool debug = false;     // libfuse request tracing
  std::string cache_dir;  // "" = /var/cache/chainfs if writable, else /tmp
  Duration attr_timeout = std::chrono::seconds(1);
  Duration entry_timeout = std::chrono::seconds(1);
  // How long the kernel may answer ENOENT itself after a lookup found nothing (a negative
  // entry, which also spares a create its lookup). Off by default: within it, a name another
  // mount creates stays invisible here, which close-to-open does not allow.
  Duration negative_timeout = Duration::zero();
  Duration connect_timeout = kDefaultConnectTimeout;  // ZooKeeper must answer within this
  Duration session_timeout = kDefaultSessionTimeout;
  Duration call_timeout = std::chrono::seconds(60);  // per NameServer call, across failover
  std::string log_level = "info";
  // Uploads: doCreate + chain attempts per close/fsync (a failed FileStore is excluded from
  // the next chain) and the backoff before the second one (doubled after).
  int upload_attempts = 4;
  Duration upload_backoff = std::chrono::milliseconds(50);
  // Staged files kept after failed closes, over every mount using the same cache base:
  // beyond either bound the oldest are discarded (logged as errors).
  int64_t max_kept_bytes = int64_t{4} << 30;
  int max_kept_files = 1000;
  // The kernel's read-ahead on the mount (its bdi's read_ahead_kb); 0 leaves the kernel's
  // default (128 KiB, which cuts sequential reads into 128 KiB requests). Needs root.
  int read_ahead_kb = 4096;
  tls::TlsSettings tls{
      .name = "client"};  // --tls-dir (-o tls_dir=), --tls-name (-o tls_name=), --insecure
  // --metrics-listen HOST:PORT (-o metrics_listen=): serve Prometheus /metrics there; "" = off.
  std::string metrics_listen;
  // -o relatime (default), noatime, strictatime: when reads move atime (fuse/times.h).
  AtimeMode atime = AtimeMode::kRelatime;
  // -o whole_uploads (--whole-uploads): every upload sends the whole file, never only what
  // changed since the version it was staged from (to compare, or while FileStores older than
  // uploads on a base version serve).
  bool whole_uploads = false;
};

// Applies one "-o" argument ("a,b=c,..."): chainfs's own keys (zk=, cache_dir=,
// attr_timeout=, entry_timeout=, negative_timeout=, log_level=, read_ahead_kb=, tls_dir=,
// tls_name=, insecure, metrics_listen=, allow_other, noallow_other, whole_uploads, relatime,
// noatime, strictatime) set fields, mount(8) bookkeeping (defaults, _netdev, auto, noauto, nofail,
// user, users, x-*, comment=) is dropped, the rest goes to libfuse.
absl::Status ApplyMountOptions(const std::string& text, MountOptions* options);

// What libfuse is given: default_permissions always (the kernel checks modes), allow_other
// as MountOptions::allow_other says (unset: only when `as_root`), then the libfuse options
// asked for.
std::string FuseOptions(const MountOptions& options, bool as_root);

// Mounts and serves. Without `foreground` it returns in the parent once the mount serves
// (or failed), and the child serves in the background. Returns the exit code.
int RunMount(const MountOptions& options);

// `chainfs-mount --list-kept`: prints the kept staged files under the cache base (path,
// size, staging file), oldest first. Returns the exit code.
int ListKeptFiles(const MountOptions& options);
// `chainfs-mount --retry-kept --zk ...`: uploads every kept file to its path and removes
// the stored ones. Exit code 0 when none is left.
int RetryKeptFiles(const MountOptions& options);

}  // namespace chainfs::mount
