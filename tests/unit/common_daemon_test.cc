// The daemon scaffold: the listen and advertised address rules, the shared flags and
// --config, the gRPC server's address and the stop signals.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/address.h"
#include "common/daemon.h"
#include "common/file_util.h"
#include "common/metrics/metrics_server.h"

namespace chainfs {
namespace {

using std::chrono::seconds;

TEST(AdvertisedAddress, WildcardListenHostAdvertisesTheMachineName) {
  for (std::string_view wildcard : {"", "0.0.0.0", "::", "[::]"}) {
    EXPECT_EQ(AdvertisedAddress("", wildcard, 7000, "box"), "box:7000") << wildcard;
  }
}

TEST(AdvertisedAddress, SpecificListenHostIsAdvertisedAsItIs) {
  EXPECT_EQ(AdvertisedAddress("", "127.0.0.1", 7000, "box"), "127.0.0.1:7000");
  EXPECT_EQ(AdvertisedAddress("", "ns1.example.org", 1, "box"), "ns1.example.org:1");
}

TEST(AdvertisedAddress, AdvertiseFlagWinsOverTheListenHost) {
  EXPECT_EQ(AdvertisedAddress("10.0.0.5", "0.0.0.0", 7201, "box"), "10.0.0.5:7201");
  EXPECT_EQ(AdvertisedAddress("store1", "127.0.0.1", 7201, "box"), "store1:7201");
}

TEST(AdvertisedAddress, WildcardAdvertiseFallsBackToTheMachineName) {
  EXPECT_EQ(AdvertisedAddress("[::]", "127.0.0.1", 7000, "box"), "box:7000");
  EXPECT_EQ(AdvertisedAddress("0.0.0.0", "", 7000, "box"), "box:7000");
}

TEST(AdvertisedAddress, Ipv6HostsAreBracketedSoTheyCanBeDialled) {
  EXPECT_EQ(AdvertisedAddress("", "::1", 7000, "box"), "[::1]:7000");
  EXPECT_EQ(AdvertisedAddress("[fd00::5]", "0.0.0.0", 7000, "box"), "[fd00::5]:7000");
  EXPECT_EQ(AdvertisedAddress("fd00::5", "0.0.0.0", 7000, "box"), "[fd00::5]:7000");
}

TEST(ListenAddress, EveryListenFormSplitsIntoHostAndPort) {
  EXPECT_EQ(*SplitHostPort("[::]:7000"), std::make_pair(std::string("::"), 7000));
  EXPECT_EQ(*SplitHostPort("0.0.0.0:0"), std::make_pair(std::string("0.0.0.0"), 0));
  EXPECT_EQ(*SplitHostPort("ns1.example.org:7100"),
            std::make_pair(std::string("ns1.example.org"), 7100));
  EXPECT_EQ(*SplitHostPort("[fd00::5]:7100"), std::make_pair(std::string("fd00::5"), 7100));
}

TEST(ListenAddress, UnbracketedIpv6HostIsRefusedAsAmbiguous) {
  EXPECT_EQ(SplitHostPort("::1:7000").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SplitHostPort(":::7000").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ListenAddress, JoinHostPortRoundTripsThroughSplitHostPort) {
  for (std::string_view host : {"127.0.0.1", "::1", "box"}) {
    EXPECT_EQ(SplitHostPort(JoinHostPort(host, 9))->first, host) << host;
  }
  EXPECT_TRUE(IsWildcardHost("[::]"));
  EXPECT_FALSE(IsWildcardHost("::1"));
}

// Parses argv with a fresh Daemon, restoring the signal mask Parse changes.
class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pthread_sigmask(SIG_SETMASK, nullptr, &saved_mask_);
    std::string pattern = ::testing::TempDir() + "/daemon-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    pthread_sigmask(SIG_SETMASK, &saved_mask_, nullptr);
    std::filesystem::remove_all(dir_);
  }

  // Tests of other things run --insecure (TLS has its own tests in tls_test).
  std::optional<int> Parse(Daemon& daemon, std::vector<std::string> args, bool insecure = true) {
    if (insecure) args.insert(args.begin(), "--insecure");
    args.insert(args.begin(), "chainfs-test");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    return daemon.Parse(static_cast<int>(argv.size()), argv.data());
  }

  std::string WriteConfig(const std::string& text) {
    std::string path = dir_ + "/daemon.toml";
    EXPECT_TRUE(WriteFileAtomically(path, text).ok());
    return path;
  }

  sigset_t saved_mask_;
  std::string dir_;
};

TEST_F(DaemonTest, ConfigFileSetsTheSharedFlagsAndTheCommandLineOverridesIt) {
  Daemon daemon("test", "test daemon", {.listen = "0.0.0.0:7000"}, /*zk_required=*/true);
  std::string config = WriteConfig(
      "zk = \"127.0.0.1:2181/chainfs\"\nlisten = \"[::]:7100\"\nsession-timeout = \"3s\"\n"
      "shutdown-grace = \"250ms\"\nadvertise = \"store1\"\n");
  ASSERT_EQ(Parse(daemon, {"--config", config, "--listen", "127.0.0.1:0"}), std::nullopt);
  EXPECT_EQ(daemon.settings().zk, "127.0.0.1:2181/chainfs");
  EXPECT_EQ(daemon.settings().listen, "127.0.0.1:0");
  EXPECT_EQ(daemon.settings().session_timeout, seconds(3));
  EXPECT_EQ(daemon.settings().shutdown_grace, std::chrono::milliseconds(250));
  EXPECT_EQ(daemon.settings().advertise, "store1");
}

TEST_F(DaemonTest, DefaultsHoldWhereNeitherFileNorFlagSaysOtherwise) {
  Daemon daemon("test", "test daemon", {.session_timeout = seconds(4), .listen = "0.0.0.0:7000"},
                /*zk_required=*/false);
  ASSERT_EQ(Parse(daemon, {}), std::nullopt);
  EXPECT_EQ(daemon.settings().listen, "0.0.0.0:7000");
  EXPECT_EQ(daemon.settings().session_timeout, seconds(4));
  EXPECT_EQ(daemon.settings().shutdown_grace, kDefaultShutdownGrace);
  EXPECT_EQ(daemon.settings().zk, "");
}

TEST_F(DaemonTest, MissingOrBadZooKeeperAndBadListenAddressAreUsageErrors) {
  Daemon needs_zk("test", "test daemon", {.listen = "0.0.0.0:0"}, /*zk_required=*/true);
  EXPECT_EQ(Parse(needs_zk, {}), 2);
  Daemon bad_zk("test", "test daemon", {.listen = "0.0.0.0:0"}, /*zk_required=*/false);
  EXPECT_EQ(Parse(bad_zk, {"--zk", "no-port/chainfs"}), 2);
  Daemon bad_listen("test", "test daemon", {.listen = "0.0.0.0:0"}, /*zk_required=*/false);
  EXPECT_EQ(Parse(bad_listen, {"--listen", "::1:7000"}), 2);
  Daemon bad_level("test", "test daemon", {.listen = "0.0.0.0:0"}, /*zk_required=*/false);
  EXPECT_EQ(Parse(bad_level, {"--log-level", "verbose"}), 2);
}

TEST_F(DaemonTest, DaemonFlagsAddedByMainAreReadFromTheConfigFileToo) {
  Daemon daemon("test", "test daemon", {.listen = "0.0.0.0:0"}, /*zk_required=*/false);
  int max_streams = 64;
  daemon.flags().add_option("--max-streams", max_streams, "streams");
  ASSERT_EQ(Parse(daemon, {"--config", WriteConfig("max-streams = 3\n")}), std::nullopt);
  EXPECT_EQ(max_streams, 3);
}

TEST_F(DaemonTest, ServesOnAWildcardAndAdvertisesTheMachineNameWithTheBoundPort) {
  Daemon daemon("test", "test daemon", {.listen = "0.0.0.0:0"}, /*zk_required=*/false);
  const std::string address_file = dir_ + "/address";
  ASSERT_EQ(Parse(daemon, {"--address-file", address_file}), std::nullopt);
  ASSERT_TRUE(daemon.Serve({}, {.max_message_bytes = 1 << 20}).ok());
  auto hp = SplitHostPort(daemon.address());
  ASSERT_TRUE(hp.ok()) << daemon.address();
  EXPECT_EQ(hp->first, HostName());
  EXPECT_GT(hp->second, 0);
  ASSERT_TRUE(daemon.WriteAddressFile().ok());
  EXPECT_EQ(*ReadFileToString(address_file), daemon.address() + "\n");
  daemon.Shutdown();
}

TEST_F(DaemonTest, ServesOnASpecificHostAndAdvertisesIt) {
  Daemon daemon("test", "test daemon", {.listen = "127.0.0.1:0"}, /*zk_required=*/false);
  ASSERT_EQ(Parse(daemon, {}), std::nullopt);
  ASSERT_TRUE(daemon.Serve({}, {}).ok());
  EXPECT_TRUE(daemon.address().starts_with("127.0.0.1:")) << daemon.address();
  EXPECT_NE(daemon.address(), "127.0.0.1:0");
}

TEST_F(DaemonTest, AnAddressInUseIsAnError) {
  Daemon first("test", "test daemon", {.listen = "127.0.0.1:0"}, /*zk_required=*/false);
  ASSERT_EQ(Parse(first, {}), std::nullopt);
  ASSERT_TRUE(first.Serve({}, {}).ok());
  Daemon second("test", "test daemon", {.listen = "127.0.0.1:0"}, /*zk_required=*/false);
  ASSERT_EQ(Parse(second, {"--listen", first.address()}), std::nullopt);
  EXPECT_FALSE(second.Serve({}, {}).ok());
}

TEST_F(DaemonTest, NeitherTlsNorInsecure_RefusesToStart) {
  Daemon daemon("test", "test daemon", {}, /*zk_required=*/false);
  EXPECT_EQ(Parse(daemon, {}, /*insecure=*/false), 2);
}

TEST_F(DaemonTest, MetricsAreOffUnlessMetricsListenIsSet) {
  Daemon daemon("test", "test daemon", {.listen = "127.0.0.1:0"}, /*zk_required=*/false);
  ASSERT_EQ(Parse(daemon, {}), std::nullopt);
  EXPECT_EQ(daemon.metrics_server(), nullptr);
  EXPECT_NE(daemon.registry(), nullptr);
}

TEST_F(DaemonTest, MetricsListenStartsTheMetricsServerAtParse) {
  Daemon daemon("test", "test daemon", {.listen = "127.0.0.1:0"}, /*zk_required=*/false);
  ASSERT_EQ(Parse(daemon, {"--metrics-listen", "127.0.0.1:0"}), std::nullopt);
  ASSERT_NE(daemon.metrics_server(), nullptr);
  EXPECT_TRUE(daemon.metrics_server()->address().starts_with("127.0.0.1:"));
  EXPECT_NE(daemon.metrics_server()->address(), "127.0.0.1:0");
}

TEST_F(DaemonTest, BadOrTakenMetricsAddressStopsTheStart) {
  Daemon bad("test", "test daemon", {.listen = "127.0.0.1:0"}, /*zk_required=*/false);
  EXPECT_EQ(Parse(bad, {"--metrics-listen", "no-port"}), 2);
  Daemon first("test", "test daemon", {.listen = "127.0.0.1:0"}, /*zk_required=*/false);
  ASSERT_EQ(Parse(first, {"--metrics-listen", "127.0.0.1:0"}), std::nullopt);
  Daemon second("test", "test daemon", {.listen = "127.0.0.1:0"}, /*zk_required=*/false);
  EXPECT_EQ(Parse(second, {"--metrics-listen", first.metrics_server()->address()}), 1);
}

TEST_F(DaemonTest, SigtermAfterParseIsTakenByWaitForStop) {
  Daemon daemon("test", "test daemon", {.listen = "127.0.0.1:0"}, /*zk_required=*/false);
  ASSERT_EQ(Parse(daemon, {}), std::nullopt);
  // Blocked by Parse, so it stays pending for this thread instead of ending the process.
  ASSERT_EQ(::raise(SIGTERM), 0);
  EXPECT_EQ(daemon.WaitForStop(), SIGTERM);
}

}  // namespace
}  // namespace chainfs
