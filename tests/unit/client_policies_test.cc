// The client policies (upload with retries, mkdir, symlink, rename) against the in-memory
// twins of the NameServer and the FileStores.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "common/client/client.h"
#include "common/client/memory_filestores.h"
#include "common/client/memory_nameserver.h"
#include "common/status.h"
#include "tests/unit/client_fixtures.h"

namespace chainfs {
namespace {

using testing::kTwinStores;
using testing::NewFile;

using std::chrono::seconds;
using Chain = std::vector<std::string>;

v1::Attributes DirAttributes() {
  v1::Attributes a;
  a.set_mode(0755);
  return a;
}

class ClientTest : public ::testing::Test {
 protected:
  ClientTest() { ns_.SetFileStores(&fs_); }

  absl::StatusOr<v1::FileInfo> Stat(const std::string& path) { return ns_.StatPath(path); }
  void Put(const std::string& path, const std::string& content = "x") {
    ASSERT_TRUE(client_.UploadString(NewFile(path), content).ok());
  }
  void Dir(const std::string& path) { ASSERT_TRUE(client_.Mkdir(path, DirAttributes()).ok()); }

  MemoryNameServer ns_{kTwinStores, 3};
  MemoryFileStores fs_{&ns_};
  FakeClock clock_;
  Client client_{&ns_, &fs_, UploadRetrySettings{.attempts = 3, .backoff = Duration::zero()},
                 &clock_};
};

TEST_F(ClientTest, Upload_CommitsAndTheNameServerRecordsTheVersion) {
  auto reply = client_.UploadString(NewFile("/f"), "hello");
  ASSERT_TRUE(reply.ok()) << reply.status();
  auto f = Stat("/f");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->version(), reply->file().version());
  EXPECT_EQ(f->size(), 5);
  EXPECT_EQ(fs_.Content("a:1", "/f").value(), "hello");
}

TEST_F(ClientTest, Upload_AFailedMemberIsExcludedFromTheRetry) {
  fs_.SetDead("a:1");
  auto reply = client_.UploadString(NewFile("/f"), "hello");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(ns_.calls("DoCreate"), 2);
  EXPECT_EQ(ns_.Holders("/f"), (Chain{"b:1", "c:1", "d:1"}));
  EXPECT_EQ(fs_.Holders("/f"), (Chain{"b:1", "c:1", "d:1"}));
}

TEST_F(ClientTest, Upload_GivesUpAfterTheAttemptsWithTheChainsError) {
  for (const std::string& store : kTwinStores) fs_.SetDead(store);
  auto reply = client_.UploadString(NewFile("/f"), "hello");
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(FailedMember(reply.status()), "c:1");  // a:1, then b:1, then c:1 excluded
  EXPECT_EQ(ns_.calls("DoCreate"), 3);
  EXPECT_EQ(Stat("/f").status().code(), absl::StatusCode::kNotFound);
}

// The first attempt committed on one member before the chain broke: the retry must not ask
// for exclusivity, or it would refuse because of its own half-committed copy.
TEST_F(ClientTest, Upload_ExclusiveIsAskedOnlyOnTheFirstAttempt) {
  fs_.FailNext(MemoryFileStores::Method::kCreate, 1, absl::UnavailableError("chain broke"), "b:1");
  int creates = 0;
  ns_.SetHook([&](std::string_view method) {
    // The head's copy of the first attempt, as it reported it.
    if (method == "DoCreate" && ++creates == 2) {
      v1::FileInfo half = NewFile("/f");
      half.set_version(ns_.last_version());
      ns_.Put(half, {"a:1"});
    }
  });
  auto reply = client_.UploadString(NewFile("/f"), "hello", {.exclusive = true});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(ns_.calls("DoCreate"), 2);
  EXPECT_EQ(Stat("/f")->version(), reply->file().version());
  // A first attempt does ask it.
  EXPECT_EQ(client_.UploadString(NewFile("/f"), "again", {.exclusive = true}).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(ClientTest, Upload_VersionTooOldRetriesWithANewVersionOnTheSameFileStores) {
  fs_.FailNext(MemoryFileStores::Method::kCreate, 1, VersionTooOld("on b:1"), "b:1");
  auto reply = client_.UploadString(NewFile("/f"), "hello");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(ns_.calls("DoCreate"), 2);
  EXPECT_EQ(ns_.Holders("/f"), (Chain{"a:1", "b:1", "c:1"}));
}

TEST_F(ClientTest, Upload_ARefusalIsNotRetried) {
  ns_.FailNext("DoCreate", absl::ResourceExhaustedError("no FileStore has room"));
  auto reply = client_.UploadString(NewFile("/f"), "hello");
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ns_.calls("DoCreate"), 1);
  EXPECT_EQ(fs_.Calls(MemoryFileStores::Method::kCreate), 0);
}

TEST_F(ClientTest, Upload_ASourceThatCannotStartAgainEndsTheUpload) {
  fs_.SetDead("a:1");
  int attempts = 0;
  auto reply = client_.Upload(NewFile("/f"), [&](int64_t) -> absl::StatusOr<ContentSource> {
    if (++attempts > 1) return absl::FailedPreconditionError("stdin cannot be re-read");
    return ContentSource([](char*, size_t) -> absl::StatusOr<size_t> { return 0; });
  });
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(ns_.calls("DoCreate"), 2);
}

TEST_F(ClientTest, Upload_EachAttemptStreamsFromTheStartWithItsOwnVersion) {
  fs_.SetDead("a:1");
  std::vector<int64_t> versions;
  auto reply = client_.Upload(NewFile("/f"), [&](int64_t version) -> absl::StatusOr<ContentSource> {
    versions.push_back(version);
    auto sent = std::make_shared<bool>(false);
    return ContentSource([sent](char* buf, size_t) -> absl::StatusOr<size_t> {
      if (std::exchange(*sent, true)) return 0;
      buf[0] = 'z';
      return 1;
    });
  });
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_LT(versions[0], versions[1]);
  EXPECT_EQ(reply->file().version(), versions[1]);
  EXPECT_EQ(fs_.Content("b:1", "/f").value(), "z");
}

TEST_F(ClientTest, Upload_TheBackoffBetweenAttemptsIsMeasuredOnTheClock) {
  Client client(&ns_, &fs_, UploadRetrySettings{.attempts = 2, .backoff = seconds(1)}, &clock_);
  fs_.FailNext(MemoryFileStores::Method::kCreate, 1, absl::UnavailableError("chain broke"));
  absl::StatusOr<v1::CreateReply> reply;
  std::thread upload([&] { reply = client.UploadString(NewFile("/f"), "hello"); });
  auto give_up = std::chrono::steady_clock::now() + seconds(20);
  bool waited_on_the_clock = false;
  while (!(waited_on_the_clock = clock_.waiters() > 0) &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::yield();
  }
  int creates_while_waiting = ns_.calls("DoCreate");
  clock_.Advance(seconds(1));
  upload.join();
  EXPECT_TRUE(waited_on_the_clock);
  EXPECT_EQ(creates_while_waiting, 1);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(ns_.calls("DoCreate"), 2);
}

TEST_F(ClientTest, UploadFd_OnABase_BuildsOnItAndUploadsAllWhenTheChainLacksIt) {
  std::FILE* tmp = std::tmpfile();
  ASSERT_NE(tmp, nullptr);
  const int fd = ::fileno(tmp);
  std::string want(3 << 20, 'a');
  ASSERT_EQ(::pwrite(fd, want.data(), want.size(), 0), static_cast<ssize_t>(want.size()));
  auto v1 = client_.UploadFd(NewFile("/f"), fd);
  ASSERT_TRUE(v1.ok()) << v1.status();
  want[2 << 20] = 'b';
  ASSERT_EQ(::pwrite(fd, "b", 1, 2 << 20), 1);
  auto v2 = client_.UploadFd(
      NewFile("/f"), fd,
      {.base_version = v1->file().version(), .changed = {{2 << 20, (2 << 20) + 1}}});
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(fs_.Content("a:1", "/f").value(), want);
  EXPECT_EQ(ns_.calls("DoCreate"), 2);
  // Version 1 is gone from every member: the whole content goes after all.
  want[1 << 20] = 'c';
  ASSERT_EQ(::pwrite(fd, "c", 1, 1 << 20), 1);
  auto v3 = client_.UploadFd(
      NewFile("/f"), fd,
      {.base_version = v1->file().version(), .changed = {{1 << 20, (1 << 20) + 1}}});
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_EQ(ns_.calls("DoCreate"), 4);
  for (const std::string& store : ns_.Holders("/f")) {
    EXPECT_TRUE(fs_.Content(store, "/f").value() == want) << store;
  }
  std::fclose(tmp);
}

TEST_F(ClientTest, Mkdir_CreatesADirectoryEntryExclusively) {
  ASSERT_TRUE(client_.Mkdir("/d", DirAttributes()).ok());
  auto d = Stat("/d");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind(), v1::KIND_DIRECTORY);
  EXPECT_GT(d->version(), 0);
  EXPECT_EQ(client_.Mkdir("/d", DirAttributes()).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(ClientTest, MkdirAll_CreatesMissingParentsAndAcceptsExistingDirectories) {
  Dir("/a");
  ASSERT_TRUE(client_.MkdirAll("/a/b/c", DirAttributes()).ok());
  EXPECT_GT(Stat("/a/b")->version(), 0);
  EXPECT_GT(Stat("/a/b/c")->version(), 0);
  EXPECT_TRUE(client_.MkdirAll("/a/b/c", DirAttributes()).ok());
  EXPECT_TRUE(client_.MkdirAll("/", DirAttributes()).ok());
}

TEST_F(ClientTest, MkdirAll_GivesAnImpliedDirectoryAnEntry) {
  Put("/implied/f");
  EXPECT_EQ(Stat("/implied")->version(), 0);
  ASSERT_TRUE(client_.MkdirAll("/implied", DirAttributes()).ok());
  EXPECT_GT(Stat("/implied")->version(), 0);
}

TEST_F(ClientTest, MkdirAll_OverAFileIsAlreadyExists) {
  Put("/f");
  EXPECT_EQ(client_.MkdirAll("/f", DirAttributes()).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(client_.MkdirAll("/f/g", DirAttributes()).ok());
}

TEST_F(ClientTest, Symlink_StoresTheTargetAsContent) {
  v1::Attributes a;
  a.set_mode(0777);
  auto reply = client_.Symlink("/link", "../target", a);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(Stat("/link")->kind(), v1::KIND_SYMLINK);
  EXPECT_EQ(fs_.Content("a:1", "/link").value(), "../target");
  EXPECT_EQ(client_.Symlink("/link", "x", a).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(ClientTest, Rename_MovesAFile) {
  Put("/f", "content");
  ASSERT_TRUE(client_.Rename("/f", "/g").ok());
  EXPECT_EQ(Stat("/f").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Stat("/g")->size(), 7);
}

TEST_F(ClientTest, Rename_NoReplaceRefusesAnExistingTarget) {
  Put("/f");
  Put("/g");
  EXPECT_EQ(client_.Rename("/f", "/g", /*no_replace=*/true).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ns_.calls("Rename"), 0);
  EXPECT_TRUE(client_.Rename("/f", "/g").ok());
}

TEST_F(ClientTest, Rename_AFileOverADirectoryIsEisdir) {
  Put("/f");
  Dir("/d");
  absl::Status st = client_.Rename("/f", "/d");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("is a directory"), std::string::npos) << st;
  EXPECT_EQ(ns_.calls("Rename"), 0);
}

TEST_F(ClientTest, Rename_ADirectoryOverAFileIsEnotdir) {
  Put("/f");
  Dir("/d");
  absl::Status st = client_.Rename("/d", "/f");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("not a directory"), std::string::npos) << st;
}

TEST_F(ClientTest, Rename_OverANonEmptyDirectoryIsEnotempty) {
  Dir("/d");
  Put("/e/child");
  absl::Status st = client_.Rename("/d", "/e");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("not empty"), std::string::npos) << st;
}

TEST_F(ClientTest, Rename_ADirectoryOverAnEmptyDirectoryReplacesIt) {
  Dir("/d");
  Put("/d/f");
  Dir("/e");
  ASSERT_TRUE(client_.Rename("/d", "/e").ok());
  EXPECT_TRUE(Stat("/e/f").ok());
  EXPECT_EQ(Stat("/d").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ClientTest, Rename_BeneathItselfIsInvalid) {
  Dir("/d");
  EXPECT_EQ(client_.Rename("/d", "/d/e").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, Rename_OfAMissingSourceIsNotFound) {
  EXPECT_EQ(client_.Rename("/missing", "/x").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(client_.Rename("/same", "/same").ok());
}

TEST_F(ClientTest, CheckRenameTarget_JudgesASourceKnownOnlyToTheCaller) {
  Dir("/d");
  EXPECT_EQ(client_.CheckRenameTarget("/staged", false, "/d", false).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(client_.CheckRenameTarget("/staged", false, "/new", false).ok());
}

TEST_F(ClientTest, FlushToDisk_FlushesEveryHolderOfTheLatestVersion) {
  Put("/f", "hello");
  ASSERT_TRUE(client_.FlushToDisk("/f").ok());
  for (const std::string& holder : ns_.Holders("/f")) {
    EXPECT_EQ(fs_.Calls(MemoryFileStores::Method::kFlush, holder), 1) << holder;
  }
  EXPECT_EQ(fs_.Calls(MemoryFileStores::Method::kFlush), 3);
  fs_.FailNext(MemoryFileStores::Method::kFlush, 1, absl::DataLossError("fsync failed"));
  EXPECT_EQ(client_.FlushToDisk("/f").code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(client_.FlushToDisk("/never-stored").ok()) << "nothing stored, nothing to flush";
}

}  // namespace
}  // namespace chainfs
