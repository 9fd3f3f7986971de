// Hostile requests (issue 10): raw gRPC calls with bad input to every RPC of the NameServer
// and the FileStore on a real cluster (ZooKeeper, one NameServer, three FileStores). Every
// one must be refused (INVALID_ARGUMENT, or the one precise code named where the input is
// well-formed but not allowed), none may crash a daemon, no status message may exceed
// gRPC's 8 KiB metadata limit, and the cluster must still create and read files, also
// after a leader change.
// With write tokens on (issue 14), a client that calls the FileStores directly with versions
// and tokens it made up or copied creates and overwrites nothing.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "common/checksum.h"
#include "common/client/client.h"
#include "common/client/filestore_client.h"
#include "common/client/nameserver_client.h"
#include "common/write_token.h"
#include "common/zk/zookeeper.h"
#include "tests/fixtures/process.h"
#include "tests/fixtures/tls.h"
#include "tests/fixtures/zk_server.h"

namespace chainfs {
namespace {

using grpc::StatusCode;
using std::chrono::seconds;
using testing::BinaryPath;
using testing::Daemon;
using testing::Eventually;
using testing::TempDir;
using Codes = std::set<StatusCode>;

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();
constexpr size_t kMaxStatusMessageBytes = 8 * 1024;
constexpr uint32_t kBadMode = 0177777;
const Codes kInvalid = {StatusCode::INVALID_ARGUMENT};
// Well-formed but not allowed: a version above the current lease, a child of a file.
const Codes kRefused = {StatusCode::INVALID_ARGUMENT, StatusCode::FAILED_PRECONDITION};
// protobuf refuses to parse a proto3 string that is not UTF-8, so gRPC (or the end of a
// stream it cut) answers before any chainfs code sees the name: any error will do.
const Codes kNotUtf8 = {};
const Codes kNotFound = {StatusCode::NOT_FOUND};
// A close announcing more bytes than arrived: bad input, or data lost on the way.
const Codes kMismatch = {StatusCode::INVALID_ARGUMENT, StatusCode::DATA_LOSS};

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// A valid name of about 2.7 KB, every byte non-ASCII: 11 components of 120 "ü".
std::string LongNonAsciiName() {
  std::string name;
  for (int i = 0; i < 11; ++i) name += "/" + Repeat("\xc3\xbc", 120);
  return name;
}

struct BadName {
  std::string what;
  std::string name;
  Codes expected;
};

std::vector<BadName> BadNames() {
  std::vector<BadName> names = {
      {"empty name", "", kInvalid},
      {"relative name", "relative/name", kInvalid},
      {"name with ..", "/hostile/../etc/passwd", kInvalid},
      {"name that is ..", "/..", kInvalid},
      {"name with .", "/hostile/./x", kInvalid},
      {"empty component", "/hostile//x", kInvalid},
      {"trailing slash", "/hostile/x/", kInvalid},
      {"NUL byte", std::string("/hostile/x\0y", 12), kInvalid},
      {"256-byte component", "/hostile/" + std::string(256, 'c'), kInvalid},
      // Over the 32 KiB limit of a whole name, each component within its 255 bytes.
      {"33,000-byte name", Repeat("/" + std::string(250, 'l'), 132), kInvalid},
      {"100 KB name", "/" + std::string(100 * 1024, 'h'), kInvalid},
      {"6 KB non-ASCII component", "/" + Repeat("\xc3\xa9", 3000), kInvalid},
      {"non-UTF-8 name", "/hostile/\xff\xfe\xc3", kNotUtf8},
  };
  return names;
}

// Unusable host:port strings for chains and CopyFile sources.
std::vector<std::string> BadAddresses() {
  return {"unix:/tmp/chainfs-hostile.sock:1",
          "garbage",
          "",
          "127.0.0.1:99999",
          "127.0.0.1:-1",
          "127.0.0.1:",
          ":7000",
          "[::1",
          "dns:///127.0.0.1:7000",
          "127.0.0.1:7000/extra",
          std::string(10000, 'a') + ":1"};
}

std::string CodeList(const Codes& codes) {
  std::string out;
  for (StatusCode c : codes)
    out += fmt::format("{}{}", out.empty() ? "" : ", ", static_cast<int>(c));
  return out;
}

class HostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    zk_server_ = testing::SharedZkServer();
    ASSERT_NE(zk_server_, nullptr);
    chroot_ = testing::UniqueChroot();
    auto zk = zk::NewZooKeeper(ZkAddress{zk_server_->hosts(), chroot_}, seconds(10),
                               testing::TestZkDigest());
    ASSERT_TRUE(zk.ok()) << zk.status();
    zk_ = std::move(*zk);
    ASSERT_TRUE(zk_->WaitConnected(seconds(10)).ok());
    NameServerClientSettings settings;
    settings.call_timeout = seconds(10);
    settings.credentials = testing::TestChannelCredentials();
    client_ = std::make_unique<NameServerClient>(zk_.get(), settings);
  }

  void TearDown() override {
    client_.reset();
    nameservers_.clear();
    for (Daemon& fs : filestores_) {
      if (fs.process) fs.process->Kill(SIGKILL);
    }
    filestores_.clear();
  }

  // A daemon's arguments, with the write token key when the test set one.
  std::vector<std::string> WithTokenKey(std::vector<std::string> args) const {
    if (!token_key_file_.empty()) {
      args.push_back("--token-key-file");
      args.push_back(token_key_file_);
    }
    return args;
  }

  void StartNameServer() {
    int n = next_nameserver_++;
    auto d = testing::StartDaemon(
        BinaryPath("servers/nameserver/chainfs-nameserver"),
        WithTokenKey({"--zk", zk_server_->ConnectString(chroot_), "--listen", "127.0.0.1:0",
                      "--session-timeout", "2s", "--heartbeat-interval", "1s", "--startup-wait",
                      "2s", "--replication-deadline", "5s", "--replication-interval", "500ms",
                      "--create-grace", "1s"}),
        fmt::format("{}/ns{}.log", dir_.path(), n));
    ASSERT_TRUE(d.ok()) << d.status();
    nameserver_ = std::move(*d);
    nameserver_stub_ = v1::NameServer::NewStub(Channel(nameserver_.address));
  }

  void StartFileStore() {
    int n = static_cast<int>(filestores_.size());
    std::string data = fmt::format("{}/fs{}", dir_.path(), n);
    std::filesystem::create_directories(data);
    auto d = testing::StartDaemon(
        BinaryPath("servers/filestore/chainfs-filestore"),
        WithTokenKey({"--zk", zk_server_->ConnectString(chroot_), "--listen", "127.0.0.1:0",
                      "--data-dir", data, "--session-timeout", "2s", "--heartbeat-interval", "1s"}),
        fmt::format("{}/fs{}.log", dir_.path(), n));
    ASSERT_TRUE(d.ok()) << d.status();
    filestores_.push_back(std::move(*d));
  }

  bool Serving() {
    return Eventually(
        [&] {
          auto st = client_->ClusterStatus({});
          return st.ok() && st->serving() && st->filestores_size() == 3;
        },
        seconds(30));
  }

  static std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    // Every role by default: what is tested here is what the daemons accept from a party
    // allowed to call. CHAINFS_HOSTILE_CERT=client runs the same calls with a valid client
    // certificate (then most are refused PERMISSION_DENIED, which the expectations name).
    const char* cert = ::getenv("CHAINFS_HOSTILE_CERT");
    return grpc::CreateCustomChannel(address, testing::TestChannelCredentials(cert ? cert : "test"),
                                     args);
  }

  std::unique_ptr<v1::FileStore::Stub> FileStoreStub(int i = 0) {
    return v1::FileStore::NewStub(Channel(filestores_[i].address));
  }

  static void SetDeadline(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + seconds(20));
  }

  // Tallies one answer to a request with invalid input.
  void Check(const std::string& what, const grpc::Status& st, const Codes& expected) {
    ++requests_;
    // A message over the limit reaches the caller as RESOURCE_EXHAUSTED "... metadata size
    // exceeds limit" instead of the server's answer.
    if (st.error_message().size() >= kMaxStatusMessageBytes ||
        st.error_message().find("metadata size exceeds limit") != std::string::npos) {
      ++oversized_;
      ADD_FAILURE() << what << ": status message of " << st.error_message().size() << " bytes";
    }
    if (st.ok()) {
      ++ok_for_invalid_;
      ADD_FAILURE() << what << ": OK for invalid input";
      return;
    }
    if (!expected.empty() && !expected.contains(st.error_code())) {
      ++wrong_code_;
      ADD_FAILURE() << what << ": code " << st.error_code() << " ("
                    << st.error_message().substr(0, 200) << "), expected one of {"
                    << CodeList(expected) << "}";
    }
  }

  // A request whose answer may be OK or an error; only the message size is checked.
  void CheckAny(const std::string& what, const grpc::Status& st) {
    ++requests_;
    if (st.error_message().size() >= kMaxStatusMessageBytes ||
        st.error_message().find("metadata size exceeds limit") != std::string::npos) {
      ++oversized_;
      ADD_FAILURE() << what << ": status message of " << st.error_message().size() << " bytes";
    }
  }

  // A call with valid input (every RPC is called at least once): must be OK.
  void CheckValid(const std::string& what, const grpc::Status& st) {
    ++requests_;
    EXPECT_TRUE(st.ok()) << what << ": " << st.error_code() << " " << st.error_message();
  }

  // After each batch: every daemon still runs.
  void CheckAlive(const std::string& batch) {
    auto check = [&](Daemon& d, const std::string& who) {
      if (d.process && !d.process->Running()) {
        ++crashes_;
        ADD_FAILURE() << who << " " << d.address << " exited (wait status "
                      << d.process->wait_status() << ") during the batch " << batch;
      }
    };
    check(nameserver_, "NameServer");
    for (size_t i = 0; i < filestores_.size(); ++i) check(filestores_[i], fmt::format("fs{}", i));
  }

  // A fresh version (and chain) for `path` from the NameServer. Once DoCreate failed (the
  // hostile requests so far wedged the NameServer), made-up versions above the last real
  // one, so that the FileStore calls are still exercised without waiting for timeouts.
  v1::DoCreateReply Fresh(const std::string& path) {
    if (!wedged_) {
      v1::DoCreateRequest req;
      req.set_path(path);
      auto r = client_->DoCreate(req);
      if (r.ok()) {
        last_version_ = r->version();
        return *r;
      }
      wedged_ = true;
      ADD_FAILURE() << "DoCreate " << path
                    << " fails after the hostile requests so far: " << r.status()
                    << "; the rest of the requests use made-up versions";
    }
    v1::DoCreateReply made;
    made.set_version(last_version_ += 1000);
    return made;
  }

  // Stores `path` on the whole cluster; returns its version.
  int64_t Store(const std::string& path, const std::string& content,
                v1::Kind kind = v1::KIND_FILE) {
    v1::DoCreateReply created = Fresh(path);
    v1::FileInfo info;
    info.set_name(path);
    info.set_version(created.version());
    info.set_kind(kind);
    info.mutable_attributes()->set_mode(0644);
    auto up = filestore_client_.CreateFromString(
        info, {created.chain().begin(), created.chain().end()}, content);
    EXPECT_TRUE(up.ok()) << path << ": " << up.status();
    return created.version();
  }

  absl::StatusOr<std::string> ReadBack(const std::string& path) {
    v1::DoReadRequest req;
    req.set_path(path);
    auto r = client_->DoRead(req);
    if (!r.ok()) return r.status();
    return filestore_client_.ReadAll(path, r->file().version(),
                                     {r->holders().begin(), r->holders().end()});
  }

  // A header for a one-member chain on fs0, at a fresh version of a fresh name.
  v1::CreateHeader GoodHeader() {
    std::string path = fmt::format("/hostile/c{}", next_file_++);
    v1::CreateHeader h;
    h.mutable_file()->set_name(path);
    h.mutable_file()->set_version(Fresh(path).version());
    h.mutable_file()->set_kind(v1::KIND_FILE);
    h.mutable_file()->mutable_attributes()->set_mode(0644);
    return h;
  }

  static v1::CreateRequest HeaderMessage(const v1::CreateHeader& h) {
    v1::CreateRequest m;
    *m.mutable_header() = h;
    return m;
  }
  static v1::CreateRequest DataMessage(const std::string& data) {
    v1::CreateRequest m;
    m.set_data(data);
    return m;
  }
  static v1::CreateRequest CloseMessage(const std::string& content) {
    v1::CreateRequest m;
    m.mutable_close()->set_size(static_cast<int64_t>(content.size()));
    m.mutable_close()->set_checksum(Checksum(content));
    return m;
  }

  // A whole Create stream: header, "payload", close.
  std::vector<v1::CreateRequest> CreateMessages(const v1::CreateHeader& h,
                                                const std::string& content = "payload") {
    return {HeaderMessage(h), DataMessage(content), CloseMessage(content)};
  }

  grpc::Status CreateStream(const std::vector<v1::CreateRequest>& messages) {
    auto stub = FileStoreStub();
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::CreateReply reply;
    auto writer = stub->Create(&ctx, &reply);
    for (const auto& m : messages) {
      if (!writer->Write(m)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status CreateSmall(const v1::CreateHeader& h, const std::string& content,
                           int64_t size = -2) {
    auto stub = FileStoreStub();
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::CreateSmallRequest req;
    *req.mutable_header() = h;
    req.set_content(content);
    req.mutable_close()->set_size(size == -2 ? static_cast<int64_t>(content.size()) : size);
    req.mutable_close()->set_checksum(Checksum(content));
    v1::CreateReply reply;
    return stub->CreateSmall(&ctx, req, &reply);
  }

  grpc::Status ReadStream(const std::vector<v1::ReadRequest>& messages) {
    auto stub = FileStoreStub();
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto stream = stub->Read(&ctx);
    for (const auto& m : messages) {
      if (!stream->Write(m)) break;
    }
    stream->WritesDone();
    v1::ReadReply reply;
    while (stream->Read(&reply)) {
    }
    return stream->Finish();
  }

  static v1::ReadRequest Open(const std::string& name, int64_t version = 0) {
    v1::ReadRequest m;
    m.mutable_open()->set_name(name);
    m.mutable_open()->set_version(version);
    return m;
  }
  static v1::ReadRequest Range(int64_t offset, int64_t length) {
    v1::ReadRequest m;
    m.mutable_range()->set_offset(offset);
    m.mutable_range()->set_length(length);
    return m;
  }

  grpc::Status Register(const std::vector<v1::RegisterRequest>& messages) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::RegisterReply reply;
    auto writer = nameserver_stub_->RegisterFilesAndTombstones(&ctx, &reply);
    for (size_t i = 0; i < messages.size(); ++i) {
      v1::RegisterRequest m = messages[i];
      m.set_last(i + 1 == messages.size());
      if (!writer->Write(m)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  testing::ZkServer* zk_server_ = nullptr;
  std::string chroot_;
  TempDir dir_;
  std::unique_ptr<zk::ZooKeeper> zk_;
  std::unique_ptr<NameServerClient> client_;
  FileStoreClient filestore_client_{{.credentials = testing::TestChannelCredentials()}};
  Daemon nameserver_;
  std::vector<Daemon> nameservers_;  // replaced NameServers, kept until the end
  std::unique_ptr<v1::NameServer::Stub> nameserver_stub_;
  std::vector<Daemon> filestores_;
  int next_nameserver_ = 0;
  int next_file_ = 0;
  bool wedged_ = false;
  int64_t last_version_ = 0;
  std::string token_key_file_;  // --token-key-file of every daemon; "" = write tokens off

  int requests_ = 0;
  int crashes_ = 0;
  int ok_for_invalid_ = 0;
  int wrong_code_ = 0;
  int oversized_ = 0;
};

// Calls a unary method of a stub with a deadline.
#define CALL(stub, Method, req)                   \
  ([&] {                                          \
    grpc::ClientContext _ctx;                     \
    SetDeadline(&_ctx);                           \
    v1::Method##Reply _reply;                     \
    return (stub)->Method(&_ctx, (req), &_reply); \
  }())

TEST_F(HostileTest, BadRequestsGetInvalidArgumentAndNeverCrash) {
  ASSERT_NO_FATAL_FAILURE(StartNameServer());
  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(StartFileStore());
  ASSERT_TRUE(Serving()) << "the cluster did not serve";
  // A regular file (for /file/child), a directory and the FileStore addresses.
  Store("/hostile/file", "a regular file");
  std::string fs0 = filestores_[0].address;
  std::string fs1 = filestores_[1].address;
  const std::string long_name = LongNonAsciiName();
  const std::string child = "/hostile/file/child";
  const std::string fake_filestore = "127.0.0.1:9";
  auto ns = nameserver_stub_.get();

  // --- NameServer: client calls ---
  for (const BadName& b : BadNames()) {
    v1::DoCreateRequest create;
    create.set_path(b.name);
    Check("DoCreate " + b.what, CALL(ns, DoCreate, create), b.expected);
    v1::DoReadRequest read;
    read.set_path(b.name);
    Check("DoRead " + b.what, CALL(ns, DoRead, read), b.expected);
    v1::DoDeleteRequest del;
    del.set_path(b.name);
    Check("DoDelete " + b.what, CALL(ns, DoDelete, del), b.expected);
    v1::ListRequest list;
    list.set_glob(b.name);
    Check("List " + b.what, CALL(ns, List, list), b.expected);
    v1::StatRequest stat;
    stat.set_path(b.name);
    Check("Stat " + b.what, CALL(ns, Stat, stat), b.expected);
    v1::ListDirectoryRequest ls;
    ls.set_path(b.name);
    Check("ListDirectory " + b.what, CALL(ns, ListDirectory, ls), b.expected);
    v1::RenameRequest from;
    from.set_from(b.name);
    from.set_to("/hostile/renamed");
    Check("Rename from " + b.what, CALL(ns, Rename, from), b.expected);
    v1::RenameRequest to;
    to.set_from("/hostile/file");
    to.set_to(b.name);
    Check("Rename to " + b.what, CALL(ns, Rename, to), b.expected);
    v1::SetAttributesRequest attrs;
    attrs.set_path(b.name);
    attrs.set_set_mode(true);
    attrs.mutable_attributes()->set_mode(0600);
    Check("SetAttributes " + b.what, CALL(ns, SetAttributes, attrs), b.expected);
    CheckAlive("NameServer client calls, " + b.what);
  }
  {
    v1::DoCreateRequest create;
    create.set_path("/hostile/negative-size");
    create.set_expected_size(-1);
    Check("DoCreate expected_size -1", CALL(ns, DoCreate, create), kInvalid);
    create.set_path(child);
    create.set_expected_size(0);
    Check("DoCreate beneath a regular file", CALL(ns, DoCreate, create), kRefused);
    v1::ListDirectoryRequest ls;
    ls.set_path("/hostile");
    ls.set_start_after("a/b");
    Check("ListDirectory start_after a/b", CALL(ns, ListDirectory, ls), kInvalid);
    ls.set_start_after("");
    ls.set_limit(-1);
    Check("ListDirectory limit -1", CALL(ns, ListDirectory, ls), kInvalid);
    v1::RenameRequest rename;
    rename.set_from("/hostile/file");
    rename.set_to("/hostile/file/child");
    Check("Rename beneath a regular file (itself)", CALL(ns, Rename, rename), kRefused);
    v1::SetAttributesRequest attrs;
    attrs.set_path("/hostile/file");
    attrs.set_set_mode(true);
    attrs.mutable_attributes()->set_mode(kBadMode);
    Check("SetAttributes mode 0177777", CALL(ns, SetAttributes, attrs), kInvalid);
    // A valid name of 2.7 KB non-ASCII: NOT_FOUND, with a message that fits.
    v1::DoReadRequest read;
    read.set_path(long_name);
    Check("DoRead 2.7 KB non-ASCII name", CALL(ns, DoRead, read), kNotFound);
    v1::StatRequest stat;
    stat.set_path(long_name);
    Check("Stat 2.7 KB non-ASCII name", CALL(ns, Stat, stat), kNotFound);
    v1::DoDeleteRequest del;
    del.set_path(long_name);
    Check("DoDelete 2.7 KB non-ASCII name", CALL(ns, DoDelete, del), kNotFound);
    v1::ListDirectoryRequest ls_long;
    ls_long.set_path(long_name);
    Check("ListDirectory 2.7 KB non-ASCII name", CALL(ns, ListDirectory, ls_long), kNotFound);
    v1::RenameRequest rename_long;
    rename_long.set_from(long_name);
    rename_long.set_to("/hostile/x");
    Check("Rename from 2.7 KB non-ASCII name", CALL(ns, Rename, rename_long), kNotFound);
    v1::SetAttributesRequest attrs_long;
    attrs_long.set_path(long_name);
    attrs_long.set_set_mode(true);
    Check("SetAttributes 2.7 KB non-ASCII name", CALL(ns, SetAttributes, attrs_long), kNotFound);
    CheckValid("StatFs", CALL(ns, StatFs, v1::StatFsRequest()));
    CheckValid("ClusterStatus", CALL(ns, ClusterStatus, v1::ClusterStatusRequest()));
    CheckAlive("NameServer client calls, other fields");
  }

  // --- NameServer: FileStore calls ---
  auto file = [](const std::string& name, int64_t version) {
    v1::FileInfo f;
    f.set_name(name);
    f.set_version(version);
    f.set_kind(v1::KIND_FILE);
    f.mutable_attributes()->set_mode(0644);
    f.set_size(3);
    return f;
  };
  struct BadFile {
    std::string what;
    v1::FileInfo file;
    Codes expected;
  };
  std::vector<BadFile> bad_files = {
      {"version -1", file("/hostile/f", -1), kInvalid},
      {"version 0", file("/hostile/f", 0), kInvalid},
      {"version 2^63-1", file("/hostile/f", kMaxInt64), kRefused},
      {"size -1", file("/hostile/f", 5), kInvalid},
      {"kind 99", file("/hostile/f", 5), kInvalid},
      {"mode 0177777", file("/hostile/f", 5), kInvalid},
      {"a child of a regular file", file(child, 5), kRefused},
  };
  bad_files[3].file.set_size(-1);
  bad_files[4].file.set_kind(static_cast<v1::Kind>(99));
  bad_files[5].file.mutable_attributes()->set_mode(kBadMode);
  for (const BadName& b : BadNames()) {
    bad_files.push_back({"name: " + b.what, file(b.name, 5), b.expected});
  }
  for (const BadFile& b : bad_files) {
    v1::RegisterRequest first;
    first.set_filestore(fake_filestore);
    *first.add_files() = b.file;
    // A registration says what a FileStore holds, and FileStores keep names, not a tree: a
    // name beneath a file is refused where it is created (doCreate, AddFileOrTombstone), and a
    // registration carrying one must not lock the FileStore out. Any answer, then.
    const bool beneath_file = b.file.name() == child;
    if (beneath_file) {
      CheckAny("Register " + b.what, Register({first}));
    } else {
      Check("Register " + b.what, Register({first}), b.expected);
    }
    v1::RegisterRequest head;
    head.set_filestore(fake_filestore);
    v1::RegisterRequest batch;
    *batch.add_files() = file("/hostile/ok", 4);
    *batch.add_files() = b.file;
    if (beneath_file) {
      CheckAny("Register, second batch: " + b.what, Register({head, batch}));
    } else {
      Check("Register, second batch: " + b.what, Register({head, batch}), b.expected);
    }
    v1::AddFileOrTombstoneRequest add;
    add.set_filestore(fs0);
    *add.mutable_file() = b.file;
    Check("AddFileOrTombstone " + b.what, CALL(ns, AddFileOrTombstone, add), b.expected);
    CheckAlive("NameServer FileStore calls, " + b.what);
  }
  {
    for (const std::string& address : BadAddresses()) {
      std::string what = fmt::format("filestore \"{}\"", address.substr(0, 40));
      v1::RegisterRequest reg;
      reg.set_filestore(address);
      Check("Register " + what, Register({reg}), kInvalid);
      v1::HeartBeatRequest hb;
      hb.set_filestore(address);
      Check("HeartBeat " + what, CALL(ns, HeartBeat, hb), kInvalid);
      v1::AddFileOrTombstoneRequest add;
      add.set_filestore(address);
      *add.mutable_file() = file("/hostile/f", 5);
      Check("AddFileOrTombstone " + what, CALL(ns, AddFileOrTombstone, add), kInvalid);
      v1::ReportBadReplicaRequest bad;
      bad.set_filestore(address);
      bad.mutable_file()->set_name("/hostile/file");
      bad.mutable_file()->set_version(1);
      Check("ReportBadReplica " + what, CALL(ns, ReportBadReplica, bad), kInvalid);
    }
    v1::RegisterRequest reg;
    reg.set_filestore(fake_filestore);
    reg.set_bytes_used(-1);
    Check("Register bytes_used -1", Register({reg}), kInvalid);
    reg.set_bytes_used(0);
    reg.set_bytes_available(-1);
    Check("Register bytes_available -1", Register({reg}), kInvalid);
    // Sizes that are each valid but overflow when summed: refused, or StatFs saturates.
    reg.set_bytes_available(kMaxInt64);
    reg.set_bytes_used(kMaxInt64);
    ++requests_;
    (void)Register({reg});
    v1::StatFsReply totals;
    {
      grpc::ClientContext ctx;
      SetDeadline(&ctx);
      CheckValid("StatFs after a registration of 2 x (2^63-1) bytes",
                 ns->StatFs(&ctx, v1::StatFsRequest(), &totals));
    }
    if (totals.bytes_total() < 0 || totals.bytes_used() < 0 || totals.bytes_available() < 0) {
      ++wrong_code_;
      ADD_FAILURE() << "StatFs sums overflowed: " << totals.ShortDebugString();
    }
    v1::HeartBeatRequest hb;
    hb.set_filestore(fs0);
    hb.set_bytes_used(-1);
    Check("HeartBeat bytes_used -1", CALL(ns, HeartBeat, hb), kInvalid);
    hb.set_bytes_used(0);
    hb.set_bytes_available(-1);
    Check("HeartBeat bytes_available -1", CALL(ns, HeartBeat, hb), kInvalid);
    for (const BadName& b : BadNames()) {
      v1::ReportBadReplicaRequest bad;
      bad.set_filestore(fs0);
      bad.mutable_file()->set_name(b.name);
      bad.mutable_file()->set_version(1);
      Check("ReportBadReplica " + b.what, CALL(ns, ReportBadReplica, bad), b.expected);
    }
    for (int64_t v : {int64_t{-1}, int64_t{0}}) {
      v1::ReportBadReplicaRequest bad;
      bad.set_filestore(fs0);
      bad.mutable_file()->set_name("/hostile/file");
      bad.mutable_file()->set_version(v);
      Check(fmt::format("ReportBadReplica version {}", v), CALL(ns, ReportBadReplica, bad),
            kInvalid);
    }
    CheckAlive("NameServer FileStore calls, addresses and sizes");
  }

  // --- FileStore: Create and CreateSmall ---
  {
    for (const BadName& b : BadNames()) {
      v1::CreateHeader h = GoodHeader();
      h.mutable_file()->set_name(b.name);
      Check("Create " + b.what, CreateStream(CreateMessages(h)), b.expected);
      Check("CreateSmall " + b.what, CreateSmall(h, "payload"), b.expected);
    }
    struct BadHeader {
      std::string what;
      std::function<void(v1::CreateHeader*)> spoil;
      Codes expected;
    };
    std::vector<BadHeader> headers = {
        {"version 0", [](auto* h) { h->mutable_file()->set_version(0); }, kInvalid},
        {"version -1", [](auto* h) { h->mutable_file()->set_version(-1); }, kInvalid},
        {"version 2^63-1", [](auto* h) { h->mutable_file()->set_version(kMaxInt64); }, kRefused},
        {"kind 99", [](auto* h) { h->mutable_file()->set_kind(static_cast<v1::Kind>(99)); },
         kInvalid},
        {"mode 0177777",
         [](auto* h) { h->mutable_file()->mutable_attributes()->set_mode(kBadMode); }, kInvalid},
        {"expected_size -1", [](auto* h) { h->set_expected_size(-1); }, kInvalid},
        {"a child of a regular file", [&](auto* h) { h->mutable_file()->set_name(child); },
         kRefused},
    };
    for (const std::string& address : BadAddresses()) {
      headers.push_back({fmt::format("chain [\"{}\"]", address.substr(0, 40)),
                         [address](auto* h) { h->add_chain(address); }, kInvalid});
    }
    for (const BadHeader& b : headers) {
      v1::CreateHeader h = GoodHeader();
      b.spoil(&h);
      Check("Create " + b.what, CreateStream(CreateMessages(h)), b.expected);
      v1::CreateHeader small = GoodHeader();
      b.spoil(&small);
      Check("CreateSmall " + b.what, CreateSmall(small, "payload"), b.expected);
    }
    CheckAlive("FileStore Create headers");

    v1::CreateHeader h = GoodHeader();
    Check("Create data before the header",
          CreateStream({DataMessage("x"), HeaderMessage(h), DataMessage("y"), CloseMessage("xy")}),
          kInvalid);
    h = GoodHeader();
    Check("Create with two headers",
          CreateStream({HeaderMessage(h), HeaderMessage(h), DataMessage("x"), CloseMessage("x")}),
          kInvalid);
    h = GoodHeader();
    std::vector<v1::CreateRequest> negative = CreateMessages(h);
    negative.back().mutable_close()->set_size(-1);
    Check("Create close size -1", CreateStream(negative), kInvalid);
    h = GoodHeader();
    std::vector<v1::CreateRequest> wrong_size = CreateMessages(h);
    wrong_size.back().mutable_close()->set_size(1000);
    Check("Create close size above the bytes sent", CreateStream(wrong_size), kMismatch);
    h = GoodHeader();
    std::vector<v1::CreateRequest> after = CreateMessages(h);
    after.push_back(DataMessage("after the close"));
    Check("Create data after the close", CreateStream(after), kInvalid);
    h = GoodHeader();
    after = CreateMessages(h);
    after.push_back(CloseMessage("payload"));
    Check("Create a second close", CreateStream(after), kInvalid);
    h = GoodHeader();
    Check("CreateSmall close size -1", CreateSmall(h, "payload", -1), kInvalid);
    h = GoodHeader();
    Check("CreateSmall close size above the content", CreateSmall(h, "payload", 1000), kMismatch);
    h = GoodHeader();
    Check("CreateSmall content above 1 MiB", CreateSmall(h, std::string((1 << 20) + 1, 'x')),
          kInvalid);
    CheckAlive("FileStore Create streams");
  }

  // --- FileStore: Read ---
  {
    for (const BadName& b : BadNames()) {
      // An open that protobuf cannot parse ends the stream as the FileStore sees it: an
      // empty Read stream, which may well be answered OK.
      if (b.expected.empty()) continue;
      Check("Read open " + b.what, ReadStream({Open(b.name), Range(0, 10)}), b.expected);
    }
    Check("Read open version -1", ReadStream({Open("/hostile/file", -1), Range(0, 10)}), kInvalid);
    Check("Read range before open", ReadStream({Range(0, 10)}), kInvalid);
    Check("Read range offset -1", ReadStream({Open("/hostile/file"), Range(-1, 10)}), kInvalid);
    Check("Read range length -1", ReadStream({Open("/hostile/file"), Range(0, -1)}), kInvalid);
    // Past the end of the file: no bytes, or INVALID_ARGUMENT; offset + length must not wrap.
    CheckAny("Read range offset 2^63-1 length 2^63-1",
             ReadStream({Open("/hostile/file"), Range(kMaxInt64, kMaxInt64)}));
    Check("Read a second open", ReadStream({Open("/hostile/file"), Open("/hostile/file")}),
          kInvalid);
    Check("Read open 2.7 KB non-ASCII name", ReadStream({Open(long_name), Range(0, 10)}),
          kNotFound);
    CheckAlive("FileStore Read");
  }

  // --- FileStore: Delete, ListFilesAndTombstones, CopyFile, BumpVersion, Clone ---
  auto fs = FileStoreStub();
  {
    for (const BadName& b : BadNames()) {
      v1::DeleteRequest del;
      del.set_name(b.name);
      del.set_version(Fresh("/hostile/deleted").version());
      Check("Delete " + b.what, CALL(fs, Delete, del), b.expected);
    }
    for (int64_t v : {int64_t{0}, int64_t{-1}, kMaxInt64}) {
      v1::DeleteRequest del;
      del.set_name("/hostile/never");
      del.set_version(v);
      Check(fmt::format("Delete version {}", v), CALL(fs, Delete, del),
            v == kMaxInt64 ? kRefused : kInvalid);
    }
    {
      grpc::ClientContext ctx;
      SetDeadline(&ctx);
      auto reader = fs->ListFilesAndTombstones(&ctx, v1::ListFilesAndTombstonesRequest());
      v1::FileInfoBatch batch;
      while (reader->Read(&batch)) {
      }
      CheckValid("ListFilesAndTombstones", reader->Finish());
    }
    for (const BadName& b : BadNames()) {
      v1::CopyFileRequest copy;
      copy.set_name(b.name);
      copy.add_sources(fs1);
      Check("CopyFile " + b.what, CALL(fs, CopyFile, copy), b.expected);
    }
    for (const std::string& address : BadAddresses()) {
      v1::CopyFileRequest copy;
      copy.set_name("/hostile/nothing");
      copy.add_sources(address);
      Check(fmt::format("CopyFile source \"{}\"", address.substr(0, 40)), CALL(fs, CopyFile, copy),
            kInvalid);
    }
    v1::CopyFileRequest copy;
    copy.set_name("/hostile/file");
    copy.add_sources(fs1);
    copy.set_version(-1);
    Check("CopyFile version -1", CALL(fs, CopyFile, copy), kInvalid);
    v1::CopyFileRequest copy_long;
    copy_long.set_name(long_name);
    copy_long.add_sources(fs1);
    Check("CopyFile 2.7 KB non-ASCII name", CALL(fs, CopyFile, copy_long), kNotFound);
    CheckAlive("FileStore Delete and CopyFile");

    for (int64_t v : {int64_t{0}, int64_t{-1}, kMaxInt64}) {
      v1::BumpVersionRequest bump;
      auto* nv = bump.add_files();
      nv->set_name("/hostile/never");
      nv->set_version(3);
      bump.set_new_version(v);
      Check(fmt::format("BumpVersion new_version {}", v), CALL(fs, BumpVersion, bump),
            v == kMaxInt64 ? kRefused : kInvalid);
    }
    for (const BadName& b : BadNames()) {
      v1::BumpVersionRequest bump;
      auto* nv = bump.add_files();
      nv->set_name(b.name);
      nv->set_version(3);
      bump.set_new_version(Fresh("/hostile/bumped").version());
      Check("BumpVersion " + b.what, CALL(fs, BumpVersion, bump), b.expected);
    }
    v1::BumpVersionRequest bump;
    auto* nv = bump.add_files();
    nv->set_name("/hostile/never");
    nv->set_version(-1);
    bump.set_new_version(Fresh("/hostile/bumped").version());
    Check("BumpVersion expected version -1", CALL(fs, BumpVersion, bump), kInvalid);

    v1::DoReadRequest read;
    read.set_path("/hostile/file");
    auto held = client_->DoRead(read);
    ASSERT_TRUE(held.ok()) << held.status();
    int64_t file_version = held->file().version();
    auto clone = [&](const std::string& what, auto spoil, const Codes& expected) {
      v1::CloneRequest req;
      req.mutable_source()->set_name("/hostile/file");
      req.mutable_source()->set_version(file_version);
      std::string target = fmt::format("/hostile/clone{}", next_file_++);
      req.mutable_target()->set_name(target);
      req.mutable_target()->set_version(Fresh(target).version());
      req.mutable_target()->mutable_attributes()->set_mode(0644);
      spoil(&req);
      Check("Clone " + what, CALL(fs, Clone, req), expected);
    };
    for (const BadName& b : BadNames()) {
      clone(
          "source " + b.what, [&](v1::CloneRequest* r) { r->mutable_source()->set_name(b.name); },
          b.expected);
      clone(
          "target " + b.what, [&](v1::CloneRequest* r) { r->mutable_target()->set_name(b.name); },
          b.expected);
    }
    clone(
        "source version -1", [](v1::CloneRequest* r) { r->mutable_source()->set_version(-1); },
        kInvalid);
    clone(
        "target version 0", [](v1::CloneRequest* r) { r->mutable_target()->set_version(0); },
        kInvalid);
    clone(
        "target version -1", [](v1::CloneRequest* r) { r->mutable_target()->set_version(-1); },
        kInvalid);
    clone(
        "target version 2^63-1",
        [](v1::CloneRequest* r) { r->mutable_target()->set_version(kMaxInt64); }, kRefused);
    clone(
        "target mode 0177777",
        [](v1::CloneRequest* r) { r->mutable_target()->mutable_attributes()->set_mode(kBadMode); },
        kInvalid);
    clone(
        "target a child of a regular file",
        [&](v1::CloneRequest* r) { r->mutable_target()->set_name(child); }, kRefused);
    CheckAlive("FileStore BumpVersion and Clone");
  }

  fmt::print(
      "hostile requests: {} requests, {} crashes, {} OKs for invalid input, {} unexpected codes, "
      "{} status messages of 8 KiB or more\n",
      requests_, crashes_, ok_for_invalid_, wrong_code_, oversized_);
  EXPECT_EQ(crashes_, 0);
  EXPECT_EQ(ok_for_invalid_, 0);
  EXPECT_EQ(oversized_, 0);
  EXPECT_EQ(wrong_code_, 0);

  // The cluster still stores and reads a file (hostile registrations of a fake FileStore
  // may leave it in the placement for two heartbeat intervals).
  ASSERT_TRUE(Eventually([&] { return Serving(); }, seconds(30)));
  bool stored = Eventually(
      [&] {
        v1::DoCreateRequest req;
        req.set_path("/after/one");
        auto created = client_->DoCreate(req);
        if (!created.ok()) return false;
        v1::FileInfo info;
        info.set_name("/after/one");
        info.set_version(created->version());
        info.mutable_attributes()->set_mode(0644);
        return filestore_client_
            .CreateFromString(info, {created->chain().begin(), created->chain().end()},
                              "still works")
            .ok();
      },
      seconds(20));
  EXPECT_TRUE(stored) << "no file could be stored after the hostile requests";
  auto one = ReadBack("/after/one");
  EXPECT_TRUE(one.ok() && *one == "still works") << one.status();

  // A leader change still works: kill the NameServer, start another, create succeeds.
  nameserver_.process->Kill(SIGKILL);
  nameservers_.push_back(std::move(nameserver_));
  ASSERT_NO_FATAL_FAILURE(StartNameServer());
  EXPECT_TRUE(Serving()) << "the new NameServer did not serve";
  v1::DoCreateRequest create;
  create.set_path("/after/two");
  auto created = client_->DoCreate(create);
  ASSERT_TRUE(created.ok()) << "DoCreate after the leader change: " << created.status();
  EXPECT_GT(created->version(), 0);
  EXPECT_LT(created->version(), kMaxInt64 / 2);
  v1::FileInfo info;
  info.set_name("/after/two");
  info.set_version(created->version());
  info.mutable_attributes()->set_mode(0644);
  auto up = filestore_client_.CreateFromString(
      info, {created->chain().begin(), created->chain().end()}, "after the leader change");
  EXPECT_TRUE(up.ok()) << up.status();
  auto two = ReadBack("/after/two");
  EXPECT_TRUE(two.ok() && *two == "after the leader change") << two.status();
  one = ReadBack("/after/one");
  EXPECT_TRUE(one.ok() && *one == "still works") << one.status();
  for (size_t i = 0; i < filestores_.size(); ++i) {
    EXPECT_TRUE(filestores_[i].process->Running()) << "fs" << i << " exited";
  }
}

// A raw create of `content` on the FileStore at `address`: one CreateSmall, or a stream.
grpc::Status RawCreate(const std::string& address, const v1::CreateHeader& header,
                       const std::string& content, bool stream) {
  // A valid client certificate: what is tested is what the token alone lets a client do.
  auto stub = v1::FileStore::NewStub(
      grpc::CreateChannel(address, testing::TestChannelCredentials("client")));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + seconds(20));
  v1::CreateReply reply;
  v1::CreateClose close;
  close.set_size(static_cast<int64_t>(content.size()));
  close.set_checksum(Checksum(content));
  if (!stream) {
    v1::CreateSmallRequest req;
    *req.mutable_header() = header;
    req.set_content(content);
    *req.mutable_close() = close;
    return stub->CreateSmall(&ctx, req, &reply);
  }
  auto writer = stub->Create(&ctx, &reply);
  v1::CreateRequest m;
  *m.mutable_header() = header;
  if (writer->Write(m)) {
    m.set_data(content);
    if (writer->Write(m)) {
      *m.mutable_close() = close;
      writer->Write(m);
    }
  }
  writer->WritesDone();
  return writer->Finish();
}

// Issue 14: every daemon shares a write token key. The client layer's put works; raw creates
// with no token, a forged one, one of another key, one for another name, version or chain,
// or one already used are refused with PERMISSION_DENIED by the head and by a middle member
// called directly, and nothing they sent is stored anywhere.
TEST_F(HostileTest, WithWriteTokens_DirectCreatesWithoutAValidTokenChangeNothing) {
  token_key_file_ = dir_.path() + "/token.key";
  ASSERT_TRUE(WriteTokenKey(token_key_file_).ok());
  ASSERT_NO_FATAL_FAILURE(StartNameServer());
  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(StartFileStore());
  ASSERT_TRUE(Serving()) << "the cluster did not serve";

  Client client(client_.get(), &filestore_client_);
  v1::FileInfo kept;
  kept.set_name("/tok/kept");
  kept.set_kind(v1::KIND_FILE);
  kept.mutable_attributes()->set_mode(0644);
  auto put = client.UploadString(kept, "original");
  ASSERT_TRUE(put.ok()) << "a normal put with write tokens on: " << put.status();
  const int64_t kept_version = put->file().version();

  v1::DoCreateRequest req;
  req.set_path("/tok/new");
  auto created = client_->DoCreate(req);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(created->chain_size(), 3);
  ASSERT_FALSE(created->token().empty());
  const std::vector<std::string> chain(created->chain().begin(), created->chain().end());
  const int64_t v = created->version();
  const std::string& token = created->token();
  std::string forged = token;
  forged[forged.size() - 5] ^= 0x01;
  const std::string other_key(kWriteTokenKeyBytes, 'h');

  // Headers on the head (chain[0] with the rest after it) or, forwarded, on the middle member.
  auto header = [&](const std::string& name, int64_t version, const std::string& t,
                    bool middle = false) {
    v1::CreateHeader h;
    h.mutable_file()->set_name(name);
    h.mutable_file()->set_version(version);
    h.mutable_file()->mutable_attributes()->set_mode(0644);
    for (size_t i = middle ? 2 : 1; i < chain.size(); ++i) h.add_chain(chain[i]);
    h.set_forwarded(middle);
    h.set_token(t);
    return h;
  };
  struct Attempt {
    std::string what;
    v1::CreateHeader header;
  };
  std::vector<Attempt> attempts = {
      {"no token", header("/tok/new", v, "")},
      {"forged token", header("/tok/new", v, forged)},
      {"token of another key",
       header("/tok/new", v, SignWriteToken(other_key, {"/tok/new", v, chain, kMaxInt64}))},
      {"token for another name (overwrite)", header("/tok/kept", v, token)},
      // Versions within the lease (others are refused before the token is looked at).
      {"token for another version", header("/tok/new", v + 1, token)},
      {"invented version and token over a live name",
       header("/tok/kept", kept_version + 3, forged)},
      {"tombstone with a forged token", header("/tok/kept", v, forged)},
      {"middle member, forged token", header("/tok/new", v, forged, /*middle=*/true)},
      {"middle member, token of another key",
       header("/tok/new", v, SignWriteToken(other_key, {"/tok/new", v, chain, kMaxInt64}), true)},
  };
  attempts[6].header.mutable_file()->set_tombstone(true);
  // The token with the chain cut short: only the head, which then forwards nowhere.
  attempts.push_back({"chain cut short", header("/tok/new", v, token)});
  attempts.back().header.clear_chain();
  int refused = 0, calls = 0;
  for (const Attempt& a : attempts) {
    for (bool stream : {false, true}) {
      const bool middle = a.header.forwarded();
      grpc::Status st = RawCreate(chain[middle ? 1 : 0], a.header, "hostile", stream);
      ++calls;
      refused += st.error_code() == StatusCode::PERMISSION_DENIED;
      EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
          << a.what << (stream ? " (stream)" : " (CreateSmall)") << ": " << st.error_message();
    }
  }

  // The genuine token still works once (no refusal above used it up), and only once.
  v1::FileInfo fresh;
  fresh.set_name("/tok/new");
  fresh.set_version(v);
  fresh.set_kind(v1::KIND_FILE);
  fresh.mutable_attributes()->set_mode(0644);
  auto up = filestore_client_.CreateFromString(fresh, chain, "genuine", true, token);
  ASSERT_TRUE(up.ok()) << up.status();
  for (bool middle : {false, true}) {
    grpc::Status st = RawCreate(chain[middle ? 1 : 0], header("/tok/new", v, token, middle),
                                "replayed", /*stream=*/false);
    ++calls;
    refused += st.error_code() == StatusCode::PERMISSION_DENIED;
    EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
        << "replayed token" << (middle ? " on the middle member" : "") << ": "
        << st.error_message();
  }
  fmt::print(
      "write tokens: {} direct creates with made-up or copied tokens, {} refused with "
      "PERMISSION_DENIED\n",
      calls, refused);

  // Nothing the hostile calls sent is stored anywhere; the genuine files are intact.
  EXPECT_EQ(ReadBack("/tok/kept").value_or("?"), "original");
  EXPECT_EQ(ReadBack("/tok/new").value_or("?"), "genuine");
  for (const Daemon& fs : filestores_) {
    auto files = filestore_client_.ListFilesAndTombstones(fs.address);
    ASSERT_TRUE(files.ok()) << files.status();
    for (const v1::FileInfo& f : *files) {
      EXPECT_FALSE(f.tombstone()) << f.name() << " tombstoned on " << fs.address;
      EXPECT_TRUE((f.name() == "/tok/kept" && f.version() == kept_version) ||
                  (f.name() == "/tok/new" && f.version() == v))
          << f.name() << "@" << f.version() << " on " << fs.address;
    }
  }
  for (size_t i = 0; i < filestores_.size(); ++i) {
    EXPECT_TRUE(filestores_[i].process->Running()) << "fs" << i << " exited";
  }
}

}  // namespace
}  // namespace chainfs
