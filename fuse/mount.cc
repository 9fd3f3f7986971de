#include "fuse/mount.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <prometheus/registry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

#include "common/client/filestore_client.h"
#include "common/client/nameserver_client.h"
#include "common/log.h"
#include "common/metrics/metrics_server.h"
#include "common/settings.h"
#include "common/zk/zookeeper.h"
#include "fuse/filesystem.h"
#include "fuse/fuse_ops.h"

namespace chainfs::mount {

namespace {

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

void Fail(const std::string& message) { fmt::print(stderr, "chainfs-mount: {}\n", message); }

// The base of the staging directory: --cache-dir, else /var/cache/chainfs when we may write
// there, else the temp directory.
std::string CacheBase(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (::mkdir("/var/cache/chainfs", 0700) == 0 || errno == EEXIST) {
    if (::access("/var/cache/chainfs", W_OK) == 0) return "/var/cache/chainfs";
  }
  const char* tmp = ::getenv("TMPDIR");
  return tmp && *tmp ? tmp : "/tmp";
}

// Tells the waiting parent how mounting went (background mode); a no-op in the foreground.
class Readiness {
 public:
  explicit Readiness(int fd) : fd_(fd) {}
  void Report(int code) {
    if (fd_ < 0) return;
    unsigned char byte = code;
    if (::write(fd_, &byte, 1) != 1) {
      // The parent is gone; nothing to tell.
    }
    ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Sets the kernel's read-ahead for the mount at `mountpoint` (its bdi is named after the
// device number). Runs beside the session loop: stat() needs the loop to answer, and the
// value must be written after the kernel applied the INIT reply, which caps it.
void SetKernelReadAhead(const std::string& mountpoint, int kib) {
  auto log = Logger("mount");
  struct stat st;
  if (::stat(mountpoint.c_str(), &st) != 0) {
    log->info("kernel read-ahead not set: stat {}: {}", mountpoint, std::strerror(errno));
    return;
  }
  std::string path =
      fmt::format("/sys/class/bdi/{}:{}/read_ahead_kb", major(st.st_dev), minor(st.st_dev));
  std::string value = std::to_string(kib);
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  bool ok =
      fd >= 0 && ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  int err = errno;
  if (fd >= 0) ::close(fd);
  if (ok) {
    log->info("kernel read-ahead on {}: {} KiB", mountpoint, kib);
  } else {
    log->info("kernel read-ahead on {} left as it was: {}: {}", mountpoint, path,
              std::strerror(err));
  }
}

// --zk parsed; INVALID_ARGUMENT with the message the user sees.
absl::StatusOr<ZkAddress> ZkAddressOf(const MountOptions& options) {
  auto address = ParseZkAddress(options.zk);
  if (!address.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("bad --zk {}: {}", options.zk, std::string(address.status().message())));
  }
  return address;
}

// What the mount and --retry-kept talk through: a ZooKeeper session (connected within
// connect_timeout) and the NameServer and FileStore clients over it.
struct Connection {
  explicit Connection(std::shared_ptr<grpc::ChannelCredentials> credentials)
      : filestores({.credentials = std::move(credentials)}) {}
  std::unique_ptr<zk::ZooKeeper> zk;
  std::unique_ptr<NameServerClient> nameserver;
  FileStoreClient filestores;
};

absl::StatusOr<std::unique_ptr<Connection>> Connect(const MountOptions& options) {
  auto address = ZkAddressOf(options);
  if (!address.ok()) return address.status();
  auto zk = zk::NewZooKeeper(*address, options.session_timeout);
  if (!zk.ok()) {
    return absl::Status(zk.status().code(), fmt::format("cannot use ZooKeeper {}: {}", options.zk,
                                                        std::string(zk.status().message())));
  }
  if (!(*zk)->WaitConnected(options.connect_timeout).ok()) {
    return absl::UnavailableError(fmt::format("ZooKeeper {} unreachable within {}", options.zk,
                                              FormatDuration(options.connect_timeout)));
  }
  auto credentials = tls::Credentials::Load(options.tls, *Logger("mount"));
  if (!credentials.ok()) return credentials.status();
  auto connection = std::make_unique<Connection>(credentials->Channel());
  connection->zk = std::move(*zk);
  NameServerClientSettings ns_settings;
  ns_settings.call_timeout = options.call_timeout;
  ns_settings.credentials = credentials->Channel();
  connection->nameserver = std::make_unique<NameServerClient>(connection->zk.get(), ns_settings);
  return connection;
}

// The exit code for a failed Connect: 2 for a bad --zk (usage), 1 otherwise.
int FailConnect(const absl::Status& status) {
  Fail(std::string(status.message()));
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

int Serve(const MountOptions& options, const std::string& cache_dir, Readiness& readiness) {
  auto log = Logger("mount");
  auto connection = Connect(options);
  if (!connection.ok()) return FailConnect(connection.status());
  prometheus::Registry registry;
  std::unique_ptr<MetricsServer> metrics;
  if (!options.metrics_listen.empty()) {
    auto started = MetricsServer::Start(options.metrics_listen, &registry);
    if (!started.ok()) {
      Fail(fmt::format("--metrics-listen: {}", std::string(started.status().message())));
      return 1;
    }
    metrics = *std::move(started);
    log->info("metrics at {}", metrics->url());
  }
  FilesystemSettings fs_settings;
  fs_settings.cache_dir = cache_dir;
  fs_settings.upload_retry.attempts = options.upload_attempts;
  fs_settings.upload_retry.backoff = options.upload_backoff;
  fs_settings.cache_base = CacheBase(options.cache_dir);
  fs_settings.kept_limits = {.max_bytes = options.max_kept_bytes,
                             .max_files = options.max_kept_files};
  fs_settings.root_uid = ::getuid();
  fs_settings.root_gid = ::getgid();
  fs_settings.attr_timeout = options.attr_timeout;
  fs_settings.times.atime = options.atime;
  fs_settings.whole_uploads = options.whole_uploads;
  Filesystem filesystem((*connection)->nameserver.get(), &(*connection)->filestores,
                        SystemClock::Get(), fs_settings);
  // Processes name files under the mount by its absolute path.
  char* real = ::realpath(options.mountpoint.c_str(), nullptr);
  MountMetrics mount_metrics(&registry);
  MountContext context{.fs = &filesystem,
                       .attr_timeout = Seconds(options.attr_timeout),
                       .entry_timeout = Seconds(options.entry_timeout),
                       .negative_timeout = Seconds(options.negative_timeout),
                       .mountpoint = real ? real : "",
                       .metrics = metrics ? &mount_metrics : nullptr};
  std::free(real);

  const std::string fuse_opts = FuseOptions(options, ::geteuid() == 0);
  std::vector<std::string> argv_strings = {"chainfs-mount", "-o", fuse_opts};
  if (options.debug) argv_strings.push_back("-d");
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse_session* se = fuse_session_new(&args, &Operations(), sizeof(fuse_lowlevel_ops), &context);
  if (se == nullptr) {
    Fail(fmt::format("bad mount options: {}", fuse_opts));
    return 1;
  }
  filesystem.SetAttributeInvalidator([se](uint64_t ino) {
    // A negative offset invalidates only the attributes: safe inside a request handler.
    fuse_lowlevel_notify_inval_inode(se, ino, -1, 0);
  });
  int code = 1;
  if (fuse_set_signal_handlers(se) != 0) {
    Fail("cannot install signal handlers");
  } else if (fuse_session_mount(se, options.mountpoint.c_str()) != 0) {
    Fail(
        fmt::format("cannot mount on {} (see the message above; a user needs user_allow_other "
                    "in /etc/fuse.conf for -o allow_other)",
                    options.mountpoint));
    fuse_remove_signal_handlers(se);
  } else {
    log->info("mounted chainfs {} on {} (staging in {})", options.zk, options.mountpoint,
              cache_dir);
    readiness.Report(0);
    if (!options.foreground) {
      int null = ::open("/dev/null", O_RDWR);
      if (null >= 0) {
        ::dup2(null, STDIN_FILENO);
        ::dup2(null, STDOUT_FILENO);
        if (::isatty(STDERR_FILENO)) ::dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO) ::close(null);
      }
    }
    std::thread read_ahead;
    if (options.read_ahead_kb > 0) {
      read_ahead = std::thread(SetKernelReadAhead, options.mountpoint, options.read_ahead_kb);
    }
    fuse_loop_config config = {.clone_fd = 0, .max_idle_threads = 16};
    code = fuse_session_loop_mt(se, &config) == 0 ? 0 : 1;
    fuse_session_unmount(se);  // also ends a stat() still waiting for the loop
    if (read_ahead.joinable()) read_ahead.join();
    fuse_remove_signal_handlers(se);
    log->info("unmounted {}", options.mountpoint);
  }
  fuse_session_destroy(se);
  fuse_opt_free_args(&args);
  return code;
}

}  // namespace

std::string FuseOptions(const MountOptions& options, bool as_root) {
  std::string fuse_opts = "fsname=chainfs,subtype=chainfs,default_permissions";
  // libfuse refuses allow_other beside allow_root: asking for the latter turns the default off.
  const bool allow_root = std::find(options.fuse_options.begin(), options.fuse_options.end(),
                                    "allow_root") != options.fuse_options.end();
  if (options.allow_other.value_or(as_root && !allow_root)) fuse_opts += ",allow_other";
  for (const std::string& o : options.fuse_options) fuse_opts += "," + o;
  return fuse_opts;
}

absl::Status ApplyMountOptions(const std::string& text, MountOptions* options) {
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    std::string key = item.substr(0, item.find('='));
    std::string value = item.find('=') == std::string::npos ? "" : item.substr(item.find('=') + 1);
    auto duration = [&](Duration* out) -> absl::Status {
      auto d = ParseDuration(value);
      if (!d.ok()) return absl::InvalidArgumentError(fmt::format("bad {}: {}", key, value));
      *out = *d;
      return absl::OkStatus();
    };
    if (key == "zk") {
      options->zk = value;
    } else if (key == "tls_dir") {
      options->tls.dir = value;
    } else if (key == "tls_name") {
      options->tls.name = value;
    } else if (key == "allow_other" || key == "noallow_other") {
      options->allow_other = key == "allow_other";
    } else if (key == "whole_uploads") {
      options->whole_uploads = true;
    } else if (key == "insecure") {
      options->tls.insecure = true;
    } else if (key == "cache_dir") {
      options->cache_dir = value;
    } else if (key == "metrics_listen") {
      options->metrics_listen = value;
    } else if (key == "log_level") {
      options->log_level = value;
    } else if (key == "attr_timeout") {
      if (auto st = duration(&options->attr_timeout); !st.ok()) return st;
    } else if (key == "entry_timeout") {
      if (auto st = duration(&options->entry_timeout); !st.ok()) return st;
    } else if (key == "negative_timeout") {
      if (auto st = duration(&options->negative_timeout); !st.ok()) return st;
    } else if (key == "read_ahead_kb") {
      int kib = -1;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), kib);
      if (ec != std::errc() || end != value.data() + value.size() || kib < 0) {
        return absl::InvalidArgumentError(fmt::format("bad {}: {}", key, value));
      }
      options->read_ahead_kb = kib;
    } else if (ParseAtimeOption(item, &options->atime)) {
      continue;
    } else if (key == "defaults" || key == "_netdev" || key == "auto" || key == "noauto" ||
               key == "nofail" || key == "user" || key == "users" || key == "nouser" ||
               key == "comment" || key.starts_with("x-")) {
      continue;
    } else {
      options->fuse_options.push_back(item);
    }
  }
  return absl::OkStatus();
}

int RunMount(const MountOptions& options) {
  SetLogLevel(options.log_level);
  struct stat st;
  if (::stat(options.mountpoint.c_str(), &st) != 0) {
    Fail(fmt::format("cannot mount on {}: {}", options.mountpoint, std::strerror(errno)));
    return 1;
  }
  if (!S_ISDIR(st.st_mode)) {
    Fail(fmt::format("cannot mount on {}: not a directory", options.mountpoint));
    return 1;
  }
  if (auto address = ZkAddressOf(options); !address.ok()) return FailConnect(address.status());
  if (!options.metrics_listen.empty() && !SplitHostPort(options.metrics_listen).ok()) {
    Fail(fmt::format("bad --metrics-listen {}: expected HOST:PORT", options.metrics_listen));
    return 2;
  }
  std::string base = CacheBase(options.cache_dir);
  if (::mkdir(base.c_str(), 0700) != 0 && errno != EEXIST) {
    Fail(fmt::format("cannot create cache directory {}: {}", base, std::strerror(errno)));
    return 1;
  }
  std::string cache_template = base + "/chainfs-mount-XXXXXX";
  if (::mkdtemp(cache_template.data()) == nullptr) {
    Fail(fmt::format("cannot create a staging directory in {}: {}", base, std::strerror(errno)));
    return 1;
  }
  const std::string cache_dir = cache_template;

  int ready_fd = -1;
  if (!options.foreground) {
    // Fork before any thread exists (ZooKeeper and gRPC start threads); the parent returns
    // the child's verdict once the mount serves or failed.
    int fds[2];
    if (::pipe(fds) != 0) {
      Fail(fmt::format("pipe: {}", std::strerror(errno)));
      return 1;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      Fail(fmt::format("fork: {}", std::strerror(errno)));
      return 1;
    }
    if (pid > 0) {
      ::close(fds[1]);
      unsigned char byte = 1;
      if (::read(fds[0], &byte, 1) != 1) byte = 1;
      return byte;
    }
    ::close(fds[0]);
    ::setsid();
    ready_fd = fds[1];
  }
  Readiness readiness(ready_fd);
  int code = Serve(options, cache_dir, readiness);
  readiness.Report(code);
  // Kept staged files (failed uploads) keep the directory; an empty one goes.
  ::rmdir(cache_dir.c_str());
  return code;
}

int ListKeptFiles(const MountOptions& options) {
  SetLogLevel(options.log_level);
  for (const KeptFile& k : ListKept(CacheBase(options.cache_dir))) {
    fmt::print("{}\t{}\t{}\n", k.file.name(), k.size, k.staged);
  }
  return 0;
}

int RetryKeptFiles(const MountOptions& options) {
  SetLogLevel(options.log_level);
  auto connection = Connect(options);
  if (!connection.ok()) return FailConnect(connection.status());
  UploadRetrySettings retry{.attempts = options.upload_attempts, .backoff = options.upload_backoff};
  int left = RetryKept(CacheBase(options.cache_dir), (*connection)->nameserver.get(),
                       &(*connection)->filestores, retry);
  if (left > 0) fmt::print(stderr, "chainfs-mount: {} kept files could not be stored\n", left);
  return left == 0 ? 0 : 1;
}

}  // namespace chainfs::mount
