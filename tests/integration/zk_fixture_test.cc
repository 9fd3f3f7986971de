// The integration-test fixtures: processes are logged, reaped and stopped by pid; daemons
// are found through their address file; ZooKeeper starts and serves sessions.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <thread>

#include "common/file_util.h"
#include "common/zk/zookeeper.h"
#include "tests/fixtures/process.h"
#include "tests/fixtures/zk_server.h"

namespace chainfs::testing {
namespace {

using std::chrono::seconds;

TEST(ProcessFixture, OutputGoesToTheLogAndTheExitCodeIsKept) {
  TempDir dir;
  std::string log = dir.path() + "/sh.log";
  auto process = Process::Start("/bin/sh", {"-c", "echo hello; echo oops >&2; exit 3"}, log);
  ASSERT_TRUE(process.ok()) << process.status();
  while ((*process)->Running()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(WIFEXITED((*process)->wait_status()));
  EXPECT_EQ(WEXITSTATUS((*process)->wait_status()), 3);
  EXPECT_EQ(*ReadFileToString(log), "hello\noops\n");
  EXPECT_EQ((*process)->LogTail(1), "oops\n");
}

TEST(ProcessFixture, StopEndsARunningProcessAndReapsIt) {
  TempDir dir;
  auto process = Process::Start("/bin/sleep", {"1000"}, dir.path() + "/sleep.log");
  ASSERT_TRUE(process.ok()) << process.status();
  int pid = (*process)->pid();
  EXPECT_TRUE((*process)->Running());
  (*process)->Stop();
  EXPECT_FALSE((*process)->Running());
  EXPECT_NE(kill(pid, 0), 0);  // reaped: the pid is gone
}

TEST(ProcessFixture, StoppedProcessCanBeContinuedAndKilled) {
  TempDir dir;
  auto process = Process::Start("/bin/sleep", {"1000"}, dir.path() + "/sleep.log");
  ASSERT_TRUE(process.ok()) << process.status();
  (*process)->Kill(SIGSTOP);
  EXPECT_TRUE((*process)->Running());
  (*process)->Kill(SIGCONT);
  EXPECT_TRUE((*process)->Running());
  (*process)->Kill();
  EXPECT_FALSE((*process)->Running());
  EXPECT_TRUE(WIFSIGNALED((*process)->wait_status()));
}

TEST(ProcessFixture, MissingBinaryFailsToStart) {
  TempDir dir;
  auto process = Process::Start("/nonexistent/binary", {}, dir.path() + "/x.log");
  EXPECT_FALSE(process.ok());
}

TEST(ProcessFixture, StartDaemonReturnsTheAddressTheDaemonWrote) {
  TempDir dir;
  // sh -c SCRIPT sh --address-file PATH: $2 is the address file.
  auto daemon = StartDaemon(
      "/bin/sh",
      {"-c", "sleep 0.2; echo 127.0.0.1:4242 > \"$2.tmp\" && mv \"$2.tmp\" \"$2\"; exec sleep 1000",
       "sh"},
      dir.path() + "/daemon.log");
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  EXPECT_EQ(daemon->address, "127.0.0.1:4242");
  EXPECT_TRUE(daemon->process->Running());
}

TEST(ProcessFixture, StartDaemonReportsTheLogWhenTheDaemonDies) {
  TempDir dir;
  auto daemon =
      StartDaemon("/bin/sh", {"-c", "echo cannot bind; exit 1", "sh"}, dir.path() + "/daemon.log");
  ASSERT_FALSE(daemon.ok());
  EXPECT_NE(std::string(daemon.status().message()).find("cannot bind"), std::string::npos)
      << daemon.status();
}

TEST(ProcessFixture, WaitForFileTimesOut) {
  TempDir dir;
  auto content = WaitForFile(dir.path() + "/never", std::chrono::milliseconds(50));
  EXPECT_EQ(content.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(ProcessFixture, TempDirIsRemovedWithItsContent) {
  std::string path;
  {
    TempDir dir;
    path = dir.path();
    ASSERT_TRUE(WriteFileAtomically(path + "/f", "x").ok());
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(ProcessFixture, BinaryPathIsUnderTheBuildDirectory) {
  EXPECT_TRUE(std::filesystem::exists(BinaryPath("CMakeCache.txt")))
      << BinaryPath("CMakeCache.txt");
}

TEST(ZkServerFixture, SharedServerServesSessions) {
  ZkServer* server = SharedZkServer();
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(SharedZkServer(), server);
  auto address = ParseZkAddress(server->ConnectString(UniqueChroot()));
  ASSERT_TRUE(address.ok()) << address.status();
  auto zk = zk::NewZooKeeper(*address, seconds(5));
  ASSERT_TRUE(zk.ok()) << zk.status();
  ASSERT_TRUE((*zk)->WaitConnected(seconds(10)).ok());
  EXPECT_TRUE((*zk)->Create("/hello", "world", false).ok());
}

TEST(ZkServerFixture, UniqueChrootIsFreshOnEveryCallAndNamesTheTest) {
  std::string a = UniqueChroot();
  std::string b = UniqueChroot();
  EXPECT_NE(a, b);
  EXPECT_NE(a.find("ZkServerFixture_UniqueChrootIsFresh"), std::string::npos) << a;
  EXPECT_EQ(a.find('.'), std::string::npos);
}

TEST(ZkServerFixture, OwnServerStopsByPid) {
  auto server = ZkServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  int pid = (*server)->pid();
  EXPECT_EQ(kill(pid, 0), 0);
  server->reset();
  EXPECT_NE(kill(pid, 0), 0);
}

}  // namespace
}  // namespace chainfs::testing
