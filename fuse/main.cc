// chainfs-mount: mounts chainfs at a directory. Also run by mount(8) as mount.chainfs (and
// mount.fuse.chainfs), which calls `mount.chainfs ZK-SPEC MOUNTPOINT [-o OPTIONS]`.
#include <CLI/CLI.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "common/metrics/metrics_server.h"
#include "common/process.h"
#include "common/settings.h"
#include "fuse/mount.h"

namespace {

int Usage(const std::string& message) {
  fprintf(stderr, "chainfs-mount: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  chainfs::TuneProcess();
  chainfs::mount::MountOptions options;
  CLI::App app{"chainfs-mount: mount chainfs at a directory"};
  std::vector<std::string> positionals;
  std::vector<std::string> opts;
  chainfs::AddZooKeeperFlags(app, options.zk, options.session_timeout);
  app.add_option("source_and_mountpoint", positionals, "[ZK-SPEC] MOUNTPOINT");
  app.add_option("-o", opts, "mount options (comma separated)");
  app.add_flag("-f,--foreground", options.foreground, "stay in the foreground");
  app.add_flag("-d,--debug", options.debug, "trace FUSE requests (implies -f)");
  bool ignored = false;
  app.add_flag("-n,-s,-v", ignored, "ignored (mount(8) helper flags)");
  app.add_flag_callback(
      "--allow-other", [&options] { options.allow_other = true; },
      "let other local users in (default for a mount made by root; the kernel checks modes)");
  app.add_flag_callback(
      "--no-allow-other", [&options] { options.allow_other = false; },
      "only the mounting user (and root) may use the mount");
  app.add_flag("--whole-uploads", options.whole_uploads,
               "upload whole files, never only the ranges changed since their last version");
  app.add_option("--cache-dir", options.cache_dir, "where staged writes are kept");
  chainfs::AddDurationOption(app, "--attr-timeout", options.attr_timeout,
                             "how long the kernel caches attributes");
  chainfs::AddDurationOption(app, "--entry-timeout", options.entry_timeout,
                             "how long the kernel caches names");
  chainfs::AddDurationOption(app, "--negative-timeout", options.negative_timeout,
                             "how long the kernel caches a name's absence (0: not at all)");
  chainfs::AddDurationOption(app, "--connect-timeout", options.connect_timeout,
                             "give up when ZooKeeper does not answer within this");
  chainfs::AddDurationOption(app, "--call-timeout", options.call_timeout,
                             "per NameServer call, retries and failover included");
  app.add_option("--upload-attempts", options.upload_attempts,
                 "doCreate + chain attempts per close; each excludes the FileStore that failed")
      ->check(CLI::Range(1, 100));
  chainfs::AddDurationOption(app, "--upload-backoff", options.upload_backoff,
                             "wait before the second upload attempt (doubled after)");
  app.add_option("--max-kept-bytes", options.max_kept_bytes,
                 "bytes of staged files kept after failed closes (oldest discarded beyond)");
  app.add_option("--max-kept-files", options.max_kept_files,
                 "staged files kept after failed closes (oldest discarded beyond)");
  bool list_kept = false;
  bool retry_kept = false;
  app.add_flag("--list-kept", list_kept,
               "list the staged files kept after failed closes (under --cache-dir) and exit");
  app.add_flag("--retry-kept", retry_kept,
               "upload the kept staged files to their paths (needs --zk), then exit");
  chainfs::AddLogLevelFlag(app, options.log_level);
  chainfs::tls::AddTlsFlags(app, options.tls, "client");
  chainfs::AddMetricsListenFlag(app, options.metrics_listen);
  if (std::optional<int> code = chainfs::ParseFlags(app, argc, argv)) return *code;

  if (list_kept) return chainfs::mount::ListKeptFiles(options);
  if (retry_kept) {
    if (positionals.size() == 1 && options.zk.empty()) options.zk = positionals[0];
    if (options.zk.empty()) return Usage("--zk HOST:PORT/CHROOT is required");
    return chainfs::mount::RetryKeptFiles(options);
  }
  if (positionals.size() == 2) {
    options.zk = positionals[0];
  } else if (positionals.size() != 1) {
    return Usage("expected [ZK-SPEC] MOUNTPOINT");
  }
  options.mountpoint = positionals.back();
  for (const std::string& o : opts) {
    if (auto st = chainfs::mount::ApplyMountOptions(o, &options); !st.ok()) {
      return Usage(std::string(st.message()));
    }
  }
  if (options.zk.empty()) return Usage("--zk HOST:PORT/CHROOT is required");
  if (options.debug) options.foreground = true;
  return chainfs::mount::RunMount(options);
}
