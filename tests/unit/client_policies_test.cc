// The client policies (upload with retries, mkdir, symlink, rename) against the in-memory
// NameServer and a small FileStore fake that commits, reports and fails on demand.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#include "common/client/client.h"
#include "common/client/memory_nameserver.h"
#include "common/status.h"

namespace chainfs {
namespace {

using std::chrono::seconds;
using Chain = std::vector<std::string>;

const Chain kStores = {"a:1", "b:1", "c:1", "d:1"};

// Commits an upload on every chain member and reports it to the NameServer, unless told to
// fail: then it returns the failure (naming a member) without committing anything, or after
// committing on the members before the failing one.
class FakeFileStores final : public FileStoreApi {
 public:
  explicit FakeFileStores(NameServerApi* ns) : ns_(ns) {}

  // Chains containing `member` fail, naming it.
  void FailMember(const std::string& member) {
    std::lock_guard lock(mu_);
    failing_.push_back(member);
  }
  // Every chain fails, naming its head.
  void FailEveryHead() {
    std::lock_guard lock(mu_);
    fail_every_head_ = true;
  }
  // The next upload fails with `status` (no member named) after committing on the members
  // before index `committed`.
  void FailNext(absl::Status status, size_t committed = 0) {
    std::lock_guard lock(mu_);
    next_failure_ = std::move(status);
    next_committed_ = committed;
  }
  std::vector<Chain> chains() {
    std::lock_guard lock(mu_);
    return chains_;
  }
  std::string content(const std::string& name) {
    std::lock_guard lock(mu_);
    return contents_[name];
  }

  absl::StatusOr<v1::CreateReply> Create(const v1::FileInfo& file, const Chain& chain,
                                         const ContentSource& source, int64_t) override {
    std::string content;
    char buf[4096];
    while (true) {
      CHAINFS_ASSIGN_OR_RETURN(size_t n, source(buf, sizeof buf));
      if (n == 0) break;
      content.append(buf, n);
    }
    return Commit(file, chain, content);
  }
  absl::StatusOr<v1::CreateReply> CreateFromString(const v1::FileInfo& file, const Chain& chain,
                                                   std::string_view content, bool) override {
    return Commit(file, chain, std::string(content));
  }
  absl::StatusOr<v1::CreateReply> CreateFromFd(const v1::FileInfo&, const Chain&, int) override {
    return absl::UnimplementedError("fd");
  }
  absl::Status Delete(const std::string&, const std::string&, int64_t) override {
    return absl::OkStatus();
  }
  absl::StatusOr<v1::CopyFileReply> CopyFile(const std::string&,
                                             const v1::CopyFileRequest&) override {
    return absl::UnimplementedError("copy");
  }
  absl::StatusOr<v1::BumpVersionReply> BumpVersion(const std::string&,
                                                   const v1::BumpVersionRequest&) override {
    return absl::UnimplementedError("bump");
  }
  absl::StatusOr<v1::CloneReply> Clone(const std::string&, const v1::CloneRequest&) override {
    return absl::UnimplementedError("clone");
  }
  std::vector<absl::Status> DeleteOnEach(const Chain& addresses, const std::string&,
                                         int64_t) override {
    return std::vector<absl::Status>(addresses.size());
  }
  std::vector<absl::StatusOr<v1::CloneReply>> CloneOnEach(const Chain& addresses,
                                                          const v1::CloneRequest& req) override {
    v1::CloneReply reply;
    *reply.mutable_file() = req.target();
    return std::vector<absl::StatusOr<v1::CloneReply>>(addresses.size(), reply);
  }
  absl::StatusOr<std::vector<v1::FileInfo>> ListFilesAndTombstones(const std::string&) override {
    return std::vector<v1::FileInfo>();
  }
  absl::StatusOr<std::unique_ptr<Reader>> OpenReader(const std::string&, int64_t, const Chain&,
                                                     const grpc::ServerContext*) override {
    return absl::UnimplementedError("read");
  }
  absl::StatusOr<std::string> ReadAll(const std::string& name, int64_t, const Chain&) override {
    return content(name);
  }

 private:
  absl::StatusOr<v1::CreateReply> Commit(v1::FileInfo file, const Chain& chain,
                                         const std::string& content) {
    absl::Status failure;
    size_t committed = chain.size();
    {
      std::lock_guard lock(mu_);
      chains_.push_back(chain);
      for (const std::string& member : chain) {
        if (std::find(failing_.begin(), failing_.end(), member) != failing_.end()) {
          return WithFailedMember(absl::UnavailableError("member down"), member);
        }
      }
      if (fail_every_head_) return WithFailedMember(absl::UnavailableError("down"), chain[0]);
      if (!next_failure_.ok()) {
        failure = std::exchange(next_failure_, absl::OkStatus());
        committed = std::min(next_committed_, chain.size());
      } else {
        contents_[file.name()] = content;
      }
    }
    file.set_size(static_cast<int64_t>(content.size()));
    v1::CreateReply reply;
    for (size_t i = 0; i < committed; ++i) {
      v1::AddFileOrTombstoneRequest report;
      report.set_filestore(chain[i]);
      *report.mutable_file() = file;
      CHAINFS_RETURN_IF_ERROR(ns_->AddFileOrTombstone(report).status());
      reply.add_committed_on(chain[i]);
    }
    if (!failure.ok()) return failure;
    *reply.mutable_file() = file;
    return reply;
  }

  NameServerApi* const ns_;
  std::mutex mu_;
  std::vector<std::string> failing_;
  bool fail_every_head_ = false;
  absl::Status next_failure_;
  size_t next_committed_ = 0;
  std::vector<Chain> chains_;
  std::map<std::string, std::string> contents_;
};

v1::FileInfo NewFile(const std::string& name) {
  v1::FileInfo f;
  f.set_name(name);
  f.set_kind(v1::KIND_FILE);
  f.mutable_attributes()->set_mode(0644);
  return f;
}

v1::Attributes DirAttributes() {
  v1::Attributes a;
  a.set_mode(0755);
  return a;
}

class ClientTest : public ::testing::Test {
 protected:
  ClientTest() { ns_.SetFileStores(&fs_); }

  absl::StatusOr<v1::FileInfo> Stat(const std::string& path) {
    v1::StatRequest req;
    req.set_path(path);
    auto reply = ns_.Stat(req);
    if (!reply.ok()) return reply.status();
    return reply->file();
  }
  void Put(const std::string& path, const std::string& content = "x") {
    ASSERT_TRUE(client_.UploadString(NewFile(path), content).ok());
  }
  void Dir(const std::string& path) { ASSERT_TRUE(client_.Mkdir(path, DirAttributes()).ok()); }

  MemoryNameServer ns_{kStores, 3};
  FakeFileStores fs_{&ns_};
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
  EXPECT_EQ(fs_.content("/f"), "hello");
}

TEST_F(ClientTest, Upload_AFailedMemberIsExcludedFromTheRetry) {
  fs_.FailMember("a:1");
  auto reply = client_.UploadString(NewFile("/f"), "hello");
  ASSERT_TRUE(reply.ok()) << reply.status();
  auto chains = fs_.chains();
  ASSERT_EQ(chains.size(), 2u);
  EXPECT_EQ(chains[0], (Chain{"a:1", "b:1", "c:1"}));
  EXPECT_EQ(chains[1], (Chain{"b:1", "c:1", "d:1"}));
  EXPECT_EQ(ns_.Holders("/f"), (Chain{"b:1", "c:1", "d:1"}));
}

TEST_F(ClientTest, Upload_GivesUpAfterTheAttemptsWithTheChainsError) {
  fs_.FailEveryHead();
  auto reply = client_.UploadString(NewFile("/f"), "hello");
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(FailedMember(reply.status()), "c:1");
  EXPECT_EQ(fs_.chains().size(), 3u);
  EXPECT_EQ(ns_.calls("DoCreate"), 3);
  EXPECT_EQ(Stat("/f").status().code(), absl::StatusCode::kNotFound);
}

// The first attempt committed on one member before the chain broke: the retry must not ask
// for exclusivity, or it would refuse because of its own half-committed copy.
TEST_F(ClientTest, Upload_ExclusiveIsAskedOnlyOnTheFirstAttempt) {
  fs_.FailNext(absl::UnavailableError("broke after the head committed"), 1);
  auto reply = client_.UploadString(NewFile("/f"), "hello", {.exclusive = true});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(fs_.chains().size(), 2u);
  EXPECT_EQ(Stat("/f")->version(), reply->file().version());
  // A first attempt does ask it.
  EXPECT_EQ(client_.UploadString(NewFile("/f"), "again", {.exclusive = true}).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(ClientTest, Upload_VersionTooOldRetriesWithANewVersionOnTheSameFileStores) {
  fs_.FailNext(VersionTooOld("on b:1"));
  auto reply = client_.UploadString(NewFile("/f"), "hello");
  ASSERT_TRUE(reply.ok()) << reply.status();
  auto chains = fs_.chains();
  ASSERT_EQ(chains.size(), 2u);
  EXPECT_EQ(chains[1], chains[0]);
}

TEST_F(ClientTest, Upload_ARefusalIsNotRetried) {
  ns_.FailNext("DoCreate", absl::ResourceExhaustedError("no FileStore has room"));
  auto reply = client_.UploadString(NewFile("/f"), "hello");
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ns_.calls("DoCreate"), 1);
  EXPECT_TRUE(fs_.chains().empty());
}

TEST_F(ClientTest, Upload_ASourceThatCannotStartAgainEndsTheUpload) {
  fs_.FailMember("a:1");
  int attempts = 0;
  auto reply = client_.Upload(NewFile("/f"), [&](int64_t) -> absl::StatusOr<ContentSource> {
    if (++attempts > 1) return absl::FailedPreconditionError("stdin cannot be re-read");
    return ContentSource([](char*, size_t) -> absl::StatusOr<size_t> { return 0; });
  });
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(fs_.chains().size(), 1u);
}

TEST_F(ClientTest, Upload_EachAttemptStreamsFromTheStartWithItsOwnVersion) {
  fs_.FailMember("a:1");
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
  EXPECT_EQ(fs_.content("/f"), "z");
}

TEST_F(ClientTest, Upload_TheBackoffBetweenAttemptsIsMeasuredOnTheClock) {
  Client client(&ns_, &fs_, UploadRetrySettings{.attempts = 2, .backoff = seconds(1)}, &clock_);
  fs_.FailNext(absl::UnavailableError("chain broke"));
  absl::StatusOr<v1::CreateReply> reply;
  std::thread upload([&] { reply = client.UploadString(NewFile("/f"), "hello"); });
  auto give_up = std::chrono::steady_clock::now() + seconds(20);
  bool waited_on_the_clock = false;
  while (!(waited_on_the_clock = clock_.waiters() > 0) &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::yield();
  }
  size_t chains_while_waiting = fs_.chains().size();
  clock_.Advance(seconds(1));
  upload.join();
  EXPECT_TRUE(waited_on_the_clock);
  EXPECT_EQ(chains_while_waiting, 1u);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(fs_.chains().size(), 2u);
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
  EXPECT_EQ(fs_.content("/link"), "../target");
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

}  // namespace
}  // namespace chainfs
