// chainfs: the command-line client. put/get/ls/rm/mkdir/mv/stat for scripts and
// `status` for operators, over the same client library as the mount.
//
// Exit codes: 0 ok, 1 other error, 2 usage (a bad or too long name included), 3 not found,
// 4 already exists, 5 cluster unavailable, 6 no space left, 7 directory not empty, 8 not a
// directory, 9 is a directory. They follow the chainfs error code of the answer, then its
// gRPC code; never its message.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/client/client.h"
#include "common/client/filestore_client.h"
#include "common/client/nameserver_client.h"
#include "common/file_util.h"
#include "common/log.h"
#include "common/names.h"
#include "common/process.h"
#include "common/settings.h"
#include "common/status.h"
#include "common/tls/tls.h"
#include "common/zk/zookeeper.h"
#include "tools/certs.h"
#include "tools/fsck.h"
#include "tools/top.h"

namespace chainfs::cli {
namespace {

enum Exit {
  kOk = 0,
  kError = 1,
  kUsage = 2,
  kNotFound = 3,
  kExists = 4,
  kUnavailable = 5,
  kNoSpace = 6,
  kNotEmpty = 7,
  kNotADirectory = 8,
  kIsADirectory = 9
};

constexpr int64_t kProgressMinBytes = 16 << 20;
constexpr size_t kBufferBytes = 4 << 20;

int ExitFor(const absl::Status& status) {
  switch (ErrorCodeOf(status)) {
    case v1::ERROR_NAME_TOO_LONG:
      return kUsage;
    case v1::ERROR_NO_SPACE:
      return kNoSpace;
    case v1::ERROR_NOT_EMPTY:
      return kNotEmpty;
    case v1::ERROR_NOT_A_DIRECTORY:
      return kNotADirectory;
    case v1::ERROR_IS_A_DIRECTORY:
      return kIsADirectory;
    default:
      break;
  }
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kOk;
    case absl::StatusCode::kNotFound:
      return kNotFound;
    case absl::StatusCode::kAlreadyExists:
      return kExists;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kUnavailable;
    case absl::StatusCode::kResourceExhausted:
      return kNoSpace;
    case absl::StatusCode::kInvalidArgument:
      return kUsage;
    default:
      return kError;
  }
}

int Report(const std::string& what, const absl::Status& status) {
  if (status.ok()) return kOk;
  fmt::print(stderr, "chainfs: {}: {}\n", what, std::string(status.message()));
  return ExitFor(status);
}

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (bytes >= 1024 && u < 5) {
    bytes /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} {}", bytes, units[u])
                : fmt::format("{:.1f} {}", bytes, units[u]);
}

// A progress bar on stderr, drawn only on a terminal and for large transfers.
class Progress {
 public:
  Progress(const std::string& label, int64_t total)
      : label_(label),
        total_(total),
        enabled_(::isatty(STDERR_FILENO) && total >= kProgressMinBytes),
        start_(SystemClock::Get()->Now()) {}
  ~Progress() {
    if (enabled_ && drawn_) fmt::print(stderr, "\n");
  }
  void Add(int64_t bytes) {
    done_ += bytes;
    if (!enabled_) return;
    TimePoint now = SystemClock::Get()->Now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(100) && done_ < total_) return;
    last_ = now;
    drawn_ = true;
    double secs = std::chrono::duration<double>(now - start_).count();
    int width = 30;
    int filled = total_ > 0 ? static_cast<int>(width * done_ / total_) : width;
    fmt::print(stderr, "\r{} [{}{}] {:3}% {} / {}  {}/s ", label_, std::string(filled, '#'),
               std::string(width - filled, ' '), total_ > 0 ? 100 * done_ / total_ : 100,
               HumanBytes(done_), HumanBytes(total_), HumanBytes(secs > 0 ? done_ / secs : 0));
  }

 private:
  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  bool enabled_;
  bool drawn_ = false;
  TimePoint start_;
  TimePoint last_;
};

struct Clients {
  explicit Clients(std::shared_ptr<grpc::ChannelCredentials> credentials)
      : fs({.credentials = std::move(credentials)}) {}
  std::unique_ptr<zk::ZooKeeper> zk;
  std::unique_ptr<NameServerClient> ns;
  FileStoreClient fs;
  std::unique_ptr<Client> client;  // the upload, mkdir and rename policies over ns and fs
};

absl::Status ValidPath(const std::string& path) { return ValidateName(path, /*allow_root=*/true); }

int Put(Clients& c, const std::string& local, const std::string& remote) {
  if (auto st = ValidPath(remote); !st.ok()) return Report(remote, st);
  int fd = local == "-" ? STDIN_FILENO : ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Report(local, ErrnoStatus("open", errno));
  struct stat st;
  ::fstat(fd, &st);
  bool seekable = S_ISREG(st.st_mode);
  int64_t size = seekable ? st.st_size : 0;
  v1::FileInfo file;
  file.set_name(remote);
  file.set_kind(v1::KIND_FILE);
  file.mutable_attributes()->set_mode(seekable ? st.st_mode & 07777 : 0644);
  file.mutable_attributes()->set_uid(::getuid());
  file.mutable_attributes()->set_gid(::getgid());
  file.mutable_attributes()->set_mtime_ns(SystemClock::Get()->WallNanos());
  std::unique_ptr<Progress> progress;
  int64_t offset = 0;
  // Each attempt (a failed chain is retried on other FileStores) reads from the start.
  auto source = [&](int64_t) -> absl::StatusOr<ContentSource> {
    if (progress != nullptr && !seekable) {
      return absl::FailedPreconditionError("upload failed and stdin cannot be re-read");
    }
    offset = 0;
    progress = std::make_unique<Progress>("put " + remote, size);
    return ContentSource([&](char* buf, size_t max) -> absl::StatusOr<size_t> {
      ssize_t n = seekable ? ::pread(fd, buf, max, offset) : ::read(fd, buf, max);
      if (n < 0) return ErrnoStatus("read " + local, errno);
      offset += n;
      progress->Add(n);
      return static_cast<size_t>(n);
    });
  };
  absl::Status result = c.client->Upload(file, source, {.expected_size = size}).status();
  if (fd != STDIN_FILENO) ::close(fd);
  return Report("put " + remote, result);
}

int Get(Clients& c, const std::string& remote, std::string local) {
  v1::DoReadRequest req;
  req.set_path(remote);
  auto file = c.ns->DoRead(req);
  if (!file.ok()) return Report(remote, file.status());
  if (file->file().kind() == v1::KIND_DIRECTORY) {
    return Report(remote, Error(v1::ERROR_IS_A_DIRECTORY, "is a directory"));
  }
  if (local.empty()) local = std::string(BaseName(remote));
  int fd = local == "-" ? STDOUT_FILENO
                        : ::open(local.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                                 file->file().attributes().mode() & 0777);
  if (fd < 0) return Report(local, ErrnoStatus("open", errno));
  int64_t size = file->file().size();
  absl::Status result;
  if (size > 0) {
    auto reader = c.fs.OpenReader(remote, file->file().version(),
                                  {file->holders().begin(), file->holders().end()});
    if (!reader.ok()) return Report(remote, reader.status());
    std::unique_ptr<char[]> buf(new char[kBufferBytes]);
    Progress progress("get " + remote, size);
    for (int64_t offset = 0; offset < size && result.ok();) {
      auto got =
          (*reader)->ReadAt(offset, std::min<int64_t>(kBufferBytes, size - offset), buf.get());
      if (!got.ok()) {
        result = got.status();
        break;
      }
      if (*got == 0) {
        result = absl::DataLossError(fmt::format("file ended at {} of {}", offset, size));
        break;
      }
      for (size_t done = 0; done < *got;) {
        ssize_t n = ::write(fd, buf.get() + done, *got - done);
        if (n < 0) {
          result = ErrnoStatus("write " + local, errno);
          break;
        }
        done += n;
      }
      offset += *got;
      progress.Add(*got);
    }
  }
  if (fd != STDOUT_FILENO && ::close(fd) != 0 && result.ok()) {
    result = ErrnoStatus("close " + local, errno);
  }
  return Report("get " + remote, result);
}

const char* KindName(v1::Kind kind) {
  switch (kind) {
    case v1::KIND_DIRECTORY:
      return "directory";
    case v1::KIND_SYMLINK:
      return "symlink";
    case v1::KIND_FIFO:
      return "fifo";
    case v1::KIND_CHAR_DEVICE:
      return "chardev";
    case v1::KIND_BLOCK_DEVICE:
      return "blockdev";
    case v1::KIND_SOCKET:
      return "socket";
    default:
      return "file";
  }
}

std::string FormatTime(int64_t ns) {
  time_t secs = ns / 1'000'000'000;
  struct tm tm;
  localtime_r(&secs, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

int Ls(Clients& c, const std::vector<std::string>& globs, bool long_format) {
  int code = kOk;
  for (const std::string& glob : globs) {
    v1::ListRequest req;
    req.set_glob(glob);
    auto reply = c.ns->List(req);
    if (!reply.ok()) {
      code = Report(glob, reply.status());
      continue;
    }
    for (const std::string& path : reply->paths()) {
      if (!long_format) {
        fmt::print("{}\n", path);
        continue;
      }
      absl::StatusOr<v1::FileInfo> st = c.ns->StatPath(path);
      if (!st.ok()) {
        code = Report(path, st.status());
        continue;
      }
      const v1::FileInfo& f = *st;
      fmt::print("{:<9} {:04o} {:>5} {:>5} {:>12} {} v{} {}\n", KindName(f.kind()),
                 f.attributes().mode(), f.attributes().uid(), f.attributes().gid(), f.size(),
                 FormatTime(f.attributes().mtime_ns()), f.version(), path);
    }
  }
  return code;
}

absl::Status Remove(Clients& c, const std::string& path, bool recursive) {
  CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo st, c.ns->StatPath(path));
  if (st.kind() == v1::KIND_DIRECTORY && recursive) {
    std::string after;
    while (true) {
      v1::ListDirectoryRequest lreq;
      lreq.set_path(path);
      lreq.set_start_after(after);
      CHAINFS_ASSIGN_OR_RETURN(v1::ListDirectoryReply page, c.ns->ListDirectory(lreq));
      for (const v1::FileInfo& child : page.entries()) {
        CHAINFS_RETURN_IF_ERROR(Remove(c, JoinName(path, child.name()), true));
        after = child.name();
      }
      if (!page.more() || page.entries_size() == 0) break;
    }
    if (st.version() == 0) return absl::OkStatus();  // implicit directory: now gone
  } else if (st.kind() == v1::KIND_DIRECTORY) {
    return Error(v1::ERROR_IS_A_DIRECTORY, "is a directory (use rm -r)");
  }
  v1::DoDeleteRequest req;
  req.set_path(path);
  req.set_directory_must_be_empty(true);
  return c.ns->DoDelete(req).status();
}

absl::Status MakeDirectory(Clients& c, const std::string& path, bool parents) {
  mode_t mask = ::umask(022);
  ::umask(mask);
  v1::Attributes attributes;
  attributes.set_mode(0777 & ~mask);
  attributes.set_uid(::getuid());
  attributes.set_gid(::getgid());
  attributes.set_mtime_ns(SystemClock::Get()->WallNanos());
  if (parents) return c.client->MkdirAll(path, attributes);
  if (path == "/") return absl::AlreadyExistsError("exists");
  return c.client->Mkdir(path, attributes).status();
}

int Stat(Clients& c, const std::string& path) {
  absl::StatusOr<v1::FileInfo> st = c.ns->StatPath(path);
  if (!st.ok()) return Report(path, st.status());
  const v1::FileInfo& f = *st;
  fmt::print(
      "path:    {}\nkind:    {}\nsize:    {}\nversion: {}\nmode:    {:04o}\n"
      "uid:     {}\ngid:     {}\nmtime:   {}\n",
      path, KindName(f.kind()), f.size(), f.version(), f.attributes().mode(), f.attributes().uid(),
      f.attributes().gid(), FormatTime(f.attributes().mtime_ns()));
  if (f.kind() == v1::KIND_CHAR_DEVICE || f.kind() == v1::KIND_BLOCK_DEVICE) {
    fmt::print("rdev:    {},{}\n", major(f.attributes().rdev()), minor(f.attributes().rdev()));
  }
  for (const auto& [name, value] : f.attributes().xattrs()) {
    fmt::print("xattr:   {} ({} bytes)\n", name, value.size());
  }
  if (f.kind() != v1::KIND_DIRECTORY) {
    v1::DoReadRequest rreq;
    rreq.set_path(path);
    if (auto file = c.ns->DoRead(rreq); file.ok()) {
      fmt::print("holders: {}\n", fmt::join(file->holders(), " "));
    }
  }
  return kOk;
}

int Status(Clients& c, Duration heartbeat) {
  auto status = c.ns->ClusterStatus(v1::ClusterStatusRequest());
  if (!status.ok()) return Report("status", status.status());
  fmt::print("leader:           {}{}\n", status->leader(),
             status->serving() ? "" : " (starting: waiting for FileStores)");
  fmt::print(
      "names:            {}\nunder-replicated: {}\nversions:         min {} next {} max {}\n",
      status->names(), status->under_replicated(), status->min_version(), status->next_version(),
      status->max_version());
  fmt::print("filestores:       {}\n", status->filestores_size());
  fmt::print("  {:<24} {:>12} {:>12} {:>9} {:>10}  {}\n", "address", "used", "available", "files",
             "heartbeat", "state");
  for (const v1::FileStoreStatus& fs : status->filestores()) {
    auto age = std::chrono::milliseconds(fs.last_heartbeat_age_ms());
    const char* state = age <= heartbeat + heartbeat / 2 ? "live" : "late";
    fmt::print("  {:<24} {:>12} {:>12} {:>9} {:>9.1f}s  {}\n", fs.address(),
               HumanBytes(fs.bytes_used()), HumanBytes(fs.bytes_available()), fs.files(),
               fs.last_heartbeat_age_ms() / 1000.0, state);
  }
  return kOk;
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"chainfs: command-line client of a chainfs cluster"};
  app.require_subcommand(1);
  std::string zk_spec;
  std::string nameserver;
  Duration timeout = std::chrono::seconds(30);
  Duration connect_timeout = std::chrono::seconds(10);
  Duration session_timeout = std::chrono::seconds(10);
  Duration heartbeat = std::chrono::seconds(15);
  std::string log_level = "warn";
  if (const char* env = ::getenv("CHAINFS_ZK")) zk_spec = env;
  app.add_option("--zk", zk_spec, "ZooKeeper HOST:PORT[,...]/CHROOT (default $CHAINFS_ZK)");
  app.add_option("--nameserver", nameserver, "talk to this NameServer HOST:PORT directly");
  AddDurationOption(app, "--timeout", timeout, "per NameServer call, retries included");
  AddDurationOption(app, "--connect-timeout", connect_timeout, "wait this long for ZooKeeper");
  AddDurationOption(app, "--zk-session-timeout", session_timeout, "ZooKeeper session timeout");
  app.add_option("--log-level", log_level, "client library log level");
  tls::TlsSettings tls_settings;
  tls::AddTlsFlags(app, tls_settings, "client");
  CertsCommand certs(app);

  std::string a, b;
  std::vector<std::string> many;
  bool flag = false;
  auto* put = app.add_subcommand("put", "upload LOCAL (or - for stdin) as REMOTE");
  put->add_option("local", a)->required();
  put->add_option("remote", b)->required();
  UploadRetrySettings upload_retry;
  put->add_option("--upload-attempts", upload_retry.attempts,
                  "doCreate + chain attempts; each excludes the FileStore that failed")
      ->check(CLI::Range(1, 100));
  AddDurationOption(*put, "--upload-backoff", upload_retry.backoff,
                    "wait before the second attempt (doubled after)");
  auto* get = app.add_subcommand("get", "download REMOTE to LOCAL (- for stdout)");
  get->add_option("remote", a)->required();
  get->add_option("local", b);
  auto* ls = app.add_subcommand("ls", "list paths matching GLOBs (*, ?, [...])");
  ls->add_option("glob", many)->required();
  ls->add_flag("-l", flag, "kind, mode, owner, size, mtime, version");
  auto* rm = app.add_subcommand("rm", "delete paths");
  rm->add_option("path", many)->required();
  rm->add_flag("-r", flag, "directories with everything beneath");
  auto* mkdir = app.add_subcommand("mkdir", "create directories");
  mkdir->add_option("path", many)->required();
  mkdir->add_flag("-p", flag, "create parents; no error if it exists");
  auto* mv = app.add_subcommand("mv", "rename FROM to TO (files and directories)");
  mv->add_option("from", a)->required();
  mv->add_option("to", b)->required();
  auto* stat = app.add_subcommand("stat", "attributes, version and holders of a path");
  stat->add_option("path", a)->required();
  auto* status = app.add_subcommand("status", "leader, FileStores, replication health");
  AddDurationOption(*status, "--heartbeat-interval", heartbeat,
                    "the FileStores' heartbeat interval (for live/late)");
  FsckOptions fsck_options;
  auto* fsck = app.add_subcommand("fsck", "verify every copy under PATH; exit 1 on problems");
  fsck->add_option("path", fsck_options.path, "where to start (default /)");
  fsck->add_flag("--repair", fsck_options.repair, "replicate what is short, wait, check again");
  AddDurationOption(*fsck, "--timeout", fsck_options.timeout, "--repair: wait at most this long");
  TopOptions top_options;
  auto* top = app.add_subcommand("top", "live RPC rates and latency of every daemon (--metrics)");
  AddDurationOption(*top, "--interval", top_options.interval, "time between frames");
  top->add_flag("--once", top_options.once, "print one frame (two scrapes apart) and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }
  SetLogLevel(log_level);
  if (certs.chosen()) return certs.Run();

  auto credentials = tls::Credentials::Load(tls_settings, *Logger("chainfs"));
  if (!credentials.ok()) return Report("TLS", credentials.status());
  Clients c(credentials->Channel());
  NameServerClientSettings settings;
  settings.call_timeout = timeout;
  settings.credentials = credentials->Channel();
  if (!nameserver.empty()) {
    c.ns = std::make_unique<NameServerClient>(nameserver, settings);
  } else {
    if (zk_spec.empty()) {
      fmt::print(stderr, "chainfs: --zk HOST:PORT/CHROOT (or CHAINFS_ZK) is required\n");
      return kUsage;
    }
    auto address = ParseZkAddress(zk_spec);
    if (!address.ok()) return Report("--zk " + zk_spec, address.status());
    auto zk = zk::NewZooKeeper(*address, session_timeout);
    if (!zk.ok()) return Report("ZooKeeper " + zk_spec, zk.status());
    if (auto st = (*zk)->WaitConnected(connect_timeout); !st.ok()) {
      return Report("ZooKeeper " + zk_spec,
                    absl::UnavailableError(
                        fmt::format("unreachable within {}", FormatDuration(connect_timeout))));
    }
    c.zk = std::move(*zk);
    c.ns = std::make_unique<NameServerClient>(c.zk.get(), settings);
  }
  c.client = std::make_unique<Client>(c.ns.get(), &c.fs, upload_retry);

  if (*put) return Put(c, a, b);
  if (*get) return Get(c, a, b);
  if (*ls) return Ls(c, many, flag);
  if (*stat) return Stat(c, a);
  if (*status) return Status(c, heartbeat);
  if (*top) {
    return Report("top", RunTop(c.ns.get(), HttpMetricsFetcher(top_options.interval), top_options,
                                SystemClock::Get(), stdout));
  }
  if (*fsck) {
    auto healthy = RunFsck(c.ns.get(), &c.fs, fsck_options, SystemClock::Get(), stdout);
    return healthy.ok() ? (*healthy ? kOk : kError) : Report("fsck", healthy.status());
  }
  if (*mv) return Report(fmt::format("mv {} {}", a, b), c.client->Rename(a, b));
  int code = kOk;
  for (const std::string& path : many) {
    if (auto st = ValidPath(path); !st.ok()) {
      code = Report(path, st);
      continue;
    }
    absl::Status st = *rm ? Remove(c, path, flag) : MakeDirectory(c, path, flag);
    if (!st.ok()) code = Report(path, st);
  }
  return code;
}

}  // namespace chainfs::cli

int main(int argc, char** argv) {
  chainfs::TuneProcess();
  return chainfs::cli::Main(argc, argv);
}
