// The operator's tools against a real cluster (ZooKeeper, a NameServer, three FileStores as
// processes with short timings): `chainfs fsck` finds a replica removed from a FileStore's
// data directory and `--repair` brings it back; the NameServer's status page, rendered by
// headless Chromium, lists the FileStores live, names the leader, and marks a killed
// FileStore dropped (a screenshot is kept in <build>/test-artifacts/); `chainfs top --once`.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include "common/client/nameserver_client.h"
#include "common/zk/zookeeper.h"
#include "tests/fixtures/process.h"
#include "tests/fixtures/tls.h"
#include "tests/fixtures/zk_server.h"

namespace chainfs {
namespace {

using std::chrono::seconds;
using testing::BinaryPath;
using testing::Daemon;
using testing::Eventually;
using testing::TempDir;

struct Shell {
  int code = -1;
  std::string output;
};

Shell Sh(const std::string& command) {
  std::FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  Shell result;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) result.output.append(buf, n);
  int status = ::pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

class OperatorToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    zk_server_ = testing::SharedZkServer();
    zk_spec_ = zk_server_->ConnectString(testing::UniqueChroot());
    auto address = ParseZkAddress(zk_spec_);
    ASSERT_TRUE(address.ok());
    auto zk = zk::NewZooKeeper(*address, seconds(10));
    ASSERT_TRUE(zk.ok()) << zk.status();
    zk_ = std::move(*zk);
    ASSERT_TRUE(zk_->WaitConnected(seconds(10)).ok());
    client_ = std::make_unique<NameServerClient>(
        zk_.get(), NameServerClientSettings{.credentials = testing::TestChannelCredentials()});
  }
  void TearDown() override {
    client_.reset();
    for (Daemon& d : filestores_) {
      if (d.process) d.process->Kill(SIGKILL);
    }
  }

  // One NameServer and three FileStores (with these arguments added), serving.
  void StartCluster(std::vector<std::string> nameserver_args = {},
                    std::vector<std::string> filestore_args = {}) {
    std::vector<std::string> args = {"--zk",
                                     zk_spec_,
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--session-timeout",
                                     "2s",
                                     "--heartbeat-interval",
                                     "200ms",
                                     "--startup-wait",
                                     "1s",
                                     "--replication-interval",
                                     "300ms",
                                     "--create-grace",
                                     "500ms"};
    args.insert(args.end(), nameserver_args.begin(), nameserver_args.end());
    auto ns = testing::StartDaemon(BinaryPath("servers/nameserver/chainfs-nameserver"), args,
                                   dir_.path() + "/ns.log");
    ASSERT_TRUE(ns.ok()) << ns.status();
    nameserver_ = std::move(*ns);
    for (int i = 0; i < 3; ++i) {
      std::string data = fmt::format("{}/fs{}", dir_.path(), i);
      std::filesystem::create_directories(data);
      std::vector<std::string> fs_args = {"--zk",
                                          zk_spec_,
                                          "--listen",
                                          "127.0.0.1:0",
                                          "--data-dir",
                                          data,
                                          "--session-timeout",
                                          "2s",
                                          "--heartbeat-interval",
                                          "200ms"};
      fs_args.insert(fs_args.end(), filestore_args.begin(), filestore_args.end());
      auto fs = testing::StartDaemon(BinaryPath("servers/filestore/chainfs-filestore"), fs_args,
                                     fmt::format("{}/fs{}.log", dir_.path(), i));
      ASSERT_TRUE(fs.ok()) << fs.status();
      data_dirs_[fs->address] = data;
      filestores_.push_back(std::move(*fs));
    }
    ASSERT_TRUE(Eventually([&] {
      auto st = client_->ClusterStatus({});
      return st.ok() && st->serving() && st->filestores_size() == 3;
    }));
  }

  // The NameServer's metrics URL base ("http://127.0.0.1:PORT/"), from its log.
  std::string NameServerHttp() {
    std::string base;
    Eventually([&] {
      std::ifstream log(nameserver_.process->log_path());
      std::stringstream text;
      text << log.rdbuf();
      std::smatch m;
      const std::string all = text.str();
      if (!std::regex_search(all, m, std::regex(R"(metrics at (http://[0-9.]+:[0-9]+/))"))) {
        return false;
      }
      base = m[1];
      return true;
    });
    return base;
  }
  // Headless Chromium on `url` with `what` ("--dump-dom", "--screenshot=PATH"): the page's
  // script runs for a few seconds of virtual time (it fetches status.json at once).
  Shell Chromium(const std::string& what, const std::string& url) {
    return Sh(fmt::format(
        "chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
        "--user-data-dir={}/chromium --window-size=1280,900 --virtual-time-budget=2000 {} {}",
        dir_.path(), what, url));
  }

  Shell Cli(const std::string& args) {
    // admin: fsck, top and status are operators' calls (and admin may do what a client may).
    return Sh(
        fmt::format("{} --zk {} --tls-name admin {}", BinaryPath("tools/chainfs"), zk_spec_, args));
  }
  void Put(const std::string& remote, const std::string& content) {
    std::string local = dir_.path() + "/upload";
    std::FILE* f = std::fopen(local.c_str(), "w");
    std::fwrite(content.data(), 1, content.size(), f);
    std::fclose(f);
    Shell put = Cli(fmt::format("put {} {}", local, remote));
    ASSERT_EQ(put.code, 0) << put.output;
  }
  absl::StatusOr<v1::DoReadReply> Read(const std::string& path) {
    v1::DoReadRequest req;
    req.set_path(path);
    return client_->DoRead(req);
  }
  // Removes every file of version `version` under a FileStore's data directory (its object
  // files are named <digest>-<version>.data/.meta); returns how many went.
  int RemoveObjectFiles(const std::string& filestore, int64_t version) {
    int removed = 0;
    const std::string suffix = fmt::format("-{}.", version);
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(data_dirs_[filestore] + "/objects")) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && name.find(suffix) != std::string::npos) {
        std::filesystem::remove(entry.path());
        ++removed;
      }
    }
    return removed;
  }

  testing::ZkServer* zk_server_ = nullptr;
  std::string zk_spec_;
  TempDir dir_;
  std::unique_ptr<zk::ZooKeeper> zk_;
  std::unique_ptr<NameServerClient> client_;
  Daemon nameserver_;
  std::vector<Daemon> filestores_;
  std::map<std::string, std::string> data_dirs_;  // FileStore address -> data directory
};

TEST_F(OperatorToolsTest, Fsck_HealthyThenReplicaRemoved_ReportedAndRepaired) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ASSERT_NO_FATAL_FAILURE(Put("/docs/small", "a small file"));
  ASSERT_NO_FATAL_FAILURE(Put("/docs/big", std::string(300000, 'x')));
  Shell healthy = Cli("fsck");
  EXPECT_EQ(healthy.code, 0) << healthy.output;
  EXPECT_NE(healthy.output.find("checked 2 names under /"), std::string::npos) << healthy.output;

  absl::StatusOr<v1::DoReadReply> big = Read("/docs/big");
  ASSERT_TRUE(big.ok()) << big.status();
  ASSERT_EQ(big->holders_size(), 3);
  const std::string victim = big->holders(1);
  ASSERT_GT(RemoveObjectFiles(victim, big->file().version()), 0);

  Shell broken = Cli("fsck /docs");
  EXPECT_EQ(broken.code, 1) << broken.output;
  EXPECT_NE(broken.output.find("/docs/big: copy of version"), std::string::npos) << broken.output;
  EXPECT_NE(broken.output.find("on " + victim), std::string::npos) << broken.output;
  EXPECT_NE(broken.output.find("UNHEALTHY"), std::string::npos);

  // The same on another name, repaired by fsck itself.
  absl::StatusOr<v1::DoReadReply> small = Read("/docs/small");
  ASSERT_TRUE(small.ok()) << small.status();
  ASSERT_GT(RemoveObjectFiles(small->holders(0), small->file().version()), 0);
  Shell repaired = Cli("fsck --repair --timeout 20s");
  EXPECT_EQ(repaired.code, 0) << repaired.output;
  EXPECT_NE(repaired.output.find("/docs/small: copy of version"), std::string::npos)
      << repaired.output;
  EXPECT_NE(repaired.output.find("repair: every name is back at 3 copies"), std::string::npos)
      << repaired.output;
  Shell again = Cli("fsck");
  EXPECT_EQ(again.code, 0) << again.output;
  for (const std::string path : {"/docs/big", "/docs/small"}) {
    absl::StatusOr<v1::DoReadReply> read = Read(path);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->holders_size(), 3) << path;
  }

  // Nothing was lost: both read back whole.
  for (const auto& [path, content] :
       {std::pair<std::string, std::string>{"/docs/big", std::string(300000, 'x')},
        {"/docs/small", "a small file"}}) {
    Shell get = Cli("get " + path + " -");
    EXPECT_EQ(get.code, 0) << path;
    EXPECT_EQ(get.output, content) << path;
  }

  Shell bad = Cli("fsck relative/path");
  EXPECT_EQ(bad.code, 2) << bad.output;
}

TEST_F(OperatorToolsTest, TopOnce_OneFrameWithTheLeaderAndEveryFileStore) {
  ASSERT_NO_FATAL_FAILURE(
      StartCluster({"--metrics-listen", "127.0.0.1:0"}, {"--metrics-listen", "127.0.0.1:0"}));
  Shell top = Cli("top --once --interval 300ms");
  EXPECT_EQ(top.output.find("no --metrics-listen"), std::string::npos) << top.output;
  EXPECT_EQ(top.code, 0) << top.output;
  EXPECT_NE(top.output.find("leader " + nameserver_.address), std::string::npos) << top.output;
  EXPECT_NE(top.output.find("nameserver " + nameserver_.address), std::string::npos) << top.output;
  for (const Daemon& fs : filestores_) {
    EXPECT_NE(top.output.find("filestore  " + fs.address), std::string::npos) << top.output;
  }
  EXPECT_EQ(top.output.find("\x1b["), std::string::npos) << "--once draws no control codes";
}

TEST_F(OperatorToolsTest, StatusPage_InChromium_FileStoresLiveLeaderNamed_KilledOneDropped) {
  if (Sh("command -v chromium").code != 0) {
    GTEST_SKIP() << "chromium is not installed (Debian package chromium): no browser test";
  }
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--metrics-listen", "127.0.0.1:0"}));
  const std::string page = NameServerHttp();
  ASSERT_FALSE(page.empty());
  Shell dom = Chromium("--dump-dom", page);
  ASSERT_EQ(dom.code, 0) << dom.output;
  EXPECT_NE(dom.output.find(fmt::format(R"(<strong id="leader">{}</strong>)", nameserver_.address)),
            std::string::npos)
      << dom.output;
  EXPECT_NE(dom.output.find("this NameServer leads"), std::string::npos);
  for (const Daemon& fs : filestores_) {
    EXPECT_NE(dom.output.find(fmt::format(R"(data-address="{}" data-state="live")", fs.address)),
              std::string::npos)
        << fs.address << " not live in:\n"
        << dom.output;
  }

  const std::string victim = filestores_[0].address;
  filestores_[0].process->Kill(SIGKILL);
  ASSERT_TRUE(Eventually([&] {
    auto st = client_->ClusterStatus({});
    return st.ok() && st->filestores_size() == 2;
  }));
  // The same run saves the screenshot, the test's artefact.
  const std::string artifacts = BinaryPath("test-artifacts");
  std::filesystem::create_directories(artifacts);
  const std::string screenshot = artifacts + "/status_page_filestore_dropped.png";
  std::filesystem::remove(screenshot);
  dom = Chromium("--dump-dom --screenshot=" + screenshot, page);
  ASSERT_EQ(dom.code, 0) << dom.output;
  EXPECT_NE(dom.output.find(fmt::format(R"(data-address="{}" data-state="dropped")", victim)),
            std::string::npos)
      << dom.output;
  EXPECT_NE(dom.output.find(fmt::format("FileStore {} dropped", victim)), std::string::npos)
      << dom.output;
  EXPECT_TRUE(std::filesystem::exists(screenshot)) << dom.output;
  std::cout << "status page screenshot: " << screenshot << std::endl;
  RecordProperty("screenshot", screenshot);
}

}  // namespace
}  // namespace chainfs
