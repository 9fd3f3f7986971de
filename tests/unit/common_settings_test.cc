#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "common/settings.h"

namespace chainfs {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ParseDuration, UnderstandsEveryUnitAndBareSeconds) {
  EXPECT_EQ(*ParseDuration("15s"), seconds(15));
  EXPECT_EQ(*ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(*ParseDuration("2m"), seconds(120));
  EXPECT_EQ(*ParseDuration("1h"), seconds(3600));
  EXPECT_EQ(*ParseDuration("100us"), std::chrono::microseconds(100));
  EXPECT_EQ(*ParseDuration("7"), seconds(7));
  EXPECT_EQ(*ParseDuration("1.5s"), milliseconds(1500));
}

TEST(ParseDuration, RejectsGarbage) {
  for (std::string_view bad : {"", "s", "-1s", "10 s", "10parsecs", "1..2s", "ms10"}) {
    EXPECT_EQ(ParseDuration(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(FormatDuration, RoundTripsThroughParseDuration) {
  for (Duration d : {Duration(seconds(30)), Duration(milliseconds(1500)), Duration(1234)}) {
    EXPECT_EQ(*ParseDuration(FormatDuration(d)), d) << FormatDuration(d);
  }
}

TEST(ParseZkAddress, SplitsHostsAndChroot) {
  auto a = ParseZkAddress("h1:2181,h2:2182/chainfs");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->hosts, "h1:2181,h2:2182");
  EXPECT_EQ(a->chroot, "/chainfs");
  EXPECT_EQ(a->ConnectString(), "h1:2181,h2:2182/chainfs");

  auto b = ParseZkAddress("127.0.0.1:2181");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->chroot, "");
  EXPECT_EQ(ParseZkAddress("h:1/")->chroot, "");
}

TEST(ParseZkAddress, RejectsBadAddresses) {
  for (std::string_view bad : {"", "host", "h:1,/x", "h:port", "h:1/x/", ":1"}) {
    EXPECT_FALSE(ParseZkAddress(bad).ok()) << bad;
  }
}

TEST(SplitHostPort, SplitsHostAndPortIncludingIpv6) {
  EXPECT_EQ(*SplitHostPort("localhost:80"), std::make_pair(std::string("localhost"), 80));
  EXPECT_EQ(*SplitHostPort("[::1]:9000"), std::make_pair(std::string("::1"), 9000));
  EXPECT_EQ(SplitHostPort("h:0")->second, 0);
}

TEST(SplitHostPort, RejectsMissingOrBadPorts) {
  for (std::string_view bad : {"host", ":80", "h:", "h:65536", "h:-1", "h:8x"}) {
    EXPECT_FALSE(SplitHostPort(bad).ok()) << bad;
  }
}

TEST(AddDurationOption, ParsesTheCommandLine) {
  CLI::App app;
  Duration interval = seconds(15);
  AddDurationOption(app, "--heartbeat-interval", interval, "how often");
  std::vector<std::string> args = {"--heartbeat-interval", "200ms"};
  std::reverse(args.begin(), args.end());
  app.parse(args);
  EXPECT_EQ(interval, milliseconds(200));
  std::vector<std::string> bad = {"soon", "--heartbeat-interval"};
  EXPECT_THROW(app.parse(bad), CLI::ParseError);
}

// Runs ParseFlags on argv (argv[0] added).
std::optional<int> Parse(CLI::App& app, std::vector<std::string> args) {
  args.insert(args.begin(), "chainfs-test");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return ParseFlags(app, static_cast<int>(argv.size()), argv.data());
}

TEST(ParseFlags, ConfigFileSetsKeysAndTheCommandLineOverridesThem) {
  const std::string path = ::testing::TempDir() + "/settings_test.toml";
  {
    std::ofstream out(path);
    out << "heartbeat-interval = \"2s\"\nlog-level = \"debug\"\nzk = \"h:1/c\"\n";
  }
  CLI::App app;
  Duration heartbeat = seconds(15);
  std::string level = "info", zk;
  Duration session = seconds(10);
  AddDurationOption(app, "--heartbeat-interval", heartbeat, "how often");
  AddLogLevelFlag(app, level);
  AddZooKeeperFlags(app, zk, session);
  ASSERT_EQ(Parse(app, {"--config", path, "--log-level", "warn"}), std::nullopt);
  EXPECT_EQ(heartbeat, seconds(2));
  EXPECT_EQ(level, "warn");
  EXPECT_EQ(zk, "h:1/c");
  EXPECT_EQ(session, seconds(10));
  std::remove(path.c_str());
}

TEST(ParseFlags, HelpExitsZeroAndBadInputExitsWithTheUsageCode) {
  CLI::App help_app;
  EXPECT_EQ(Parse(help_app, {"--help"}), 0);
  CLI::App unknown_app;
  EXPECT_EQ(Parse(unknown_app, {"--no-such-flag"}), 2);
  CLI::App missing_file_app;
  EXPECT_EQ(Parse(missing_file_app, {"--config", "/nonexistent/chainfs.toml"}), 2);
}

}  // namespace
}  // namespace chainfs
