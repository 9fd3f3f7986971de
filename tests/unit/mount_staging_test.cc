#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <string>

#include "common/fault_env.h"
#include "fuse/staging.h"

namespace chainfs::mount {
namespace {

class StagedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mount-staging-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(system(cmd.c_str()), 0);
  }
  bool Exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
  }
  std::string dir_;
};

TEST_F(StagedFileTest, WritesReadsAndTruncates_LikeALocalFile) {
  v1::Attributes attrs;
  attrs.set_mode(0640);
  auto staged = StagedFile::Create(dir_ + "/s1", attrs);
  ASSERT_TRUE(staged.ok()) << staged.status();
  StagedFile& f = **staged;
  ASSERT_TRUE(f.Write("hello world", 11, 0, 100).ok());
  ASSERT_TRUE(f.Write("XY", 2, 20, 200).ok());  // a hole
  EXPECT_EQ(*f.Size(), 22);
  char buf[32] = {};
  EXPECT_EQ(*f.Read(buf, sizeof buf, 0), 22u);
  EXPECT_EQ(std::string(buf, 11), "hello world");
  EXPECT_EQ(buf[15], '\0');
  EXPECT_EQ(std::string(buf + 20, 2), "XY");
  ASSERT_TRUE(f.Truncate(5, 300).ok());
  EXPECT_EQ(*f.Size(), 5);
  EXPECT_EQ(*f.Read(buf, sizeof buf, 0), 5u);
  EXPECT_EQ(f.attributes().mtime_ns(), 300);
  EXPECT_EQ(f.attributes().mode(), 0640u);
}

TEST_F(StagedFileTest, Dirty_UntilTheGenerationUploadedIsTheLatest) {
  auto staged = StagedFile::Create(dir_ + "/s2", v1::Attributes());
  ASSERT_TRUE(staged.ok());
  StagedFile& f = **staged;
  EXPECT_FALSE(f.dirty());
  ASSERT_TRUE(f.Write("a", 1, 0, 1).ok());
  EXPECT_TRUE(f.dirty());
  uint64_t uploading = f.generation();
  ASSERT_TRUE(f.Write("b", 1, 1, 2).ok());  // a write racing the upload
  f.MarkUploaded(uploading);
  EXPECT_TRUE(f.dirty());
  f.MarkUploaded(f.generation());
  EXPECT_FALSE(f.dirty());
}

TEST_F(StagedFileTest, Base_TheVersionUploadedAndTheRangesChangedSince) {
  auto staged = StagedFile::Create(dir_ + "/base", v1::Attributes());
  ASSERT_TRUE(staged.ok());
  StagedFile& f = **staged;
  ASSERT_TRUE(f.Write(std::string(100, 'a').data(), 100, 0, 1).ok());
  EXPECT_EQ(f.base().version, 0);
  EXPECT_TRUE(f.base().changed.empty());  // no base: nothing to track
  f.MarkUploaded(f.generation(), 7);
  EXPECT_EQ(f.base().version, 7);
  ASSERT_TRUE(f.Write("xxxxx", 5, 10, 2).ok());
  ASSERT_TRUE(f.Write("yyyyyyyyyy", 10, 12, 3).ok());  // overlaps: merged
  ASSERT_TRUE(f.Write("z", 1, 50, 4).ok());
  ASSERT_TRUE(f.Truncate(150, 5).ok());  // grows: the new bytes changed
  ASSERT_TRUE(f.Truncate(120, 6).ok());  // shrinks: what went changed too (merged)
  StagedFile::Base base = f.base();
  EXPECT_EQ(base.version, 7);
  ASSERT_EQ(base.changed.size(), 3u);
  EXPECT_EQ(base.changed[0].offset, 10);
  EXPECT_EQ(base.changed[0].end, 22);
  EXPECT_EQ(base.changed[1].offset, 50);
  EXPECT_EQ(base.changed[1].end, 51);
  EXPECT_EQ(base.changed[2].offset, 100);
  EXPECT_EQ(base.changed[2].end, 150);
  // An upload with writes racing it cannot tell its changes from theirs: no base after it.
  uint64_t uploading = f.generation();
  ASSERT_TRUE(f.Write("w", 1, 0, 7).ok());
  f.MarkUploaded(uploading, 8);
  EXPECT_EQ(f.base().version, 0);
  EXPECT_TRUE(f.base().changed.empty());
}

TEST_F(StagedFileTest, SetAttributes_OnlyTheChosenFields) {
  v1::Attributes attrs;
  attrs.set_mode(0644);
  attrs.set_uid(1);
  attrs.set_gid(2);
  attrs.set_mtime_ns(3);
  auto staged = StagedFile::Create(dir_ + "/s3", attrs);
  ASSERT_TRUE(staged.ok());
  v1::Attributes wanted;
  wanted.set_mode(0100755);
  wanted.set_uid(9);
  wanted.set_mtime_ns(99);
  (*staged)->SetAttributes(wanted, true, false, false, true);
  v1::Attributes now = (*staged)->attributes();
  EXPECT_EQ(now.mode(), 0755u);
  EXPECT_EQ(now.uid(), 1u);
  EXPECT_EQ(now.gid(), 2u);
  EXPECT_EQ(now.mtime_ns(), 99);
}

TEST_F(StagedFileTest, Removed_UnlessKept) {
  {
    auto staged = StagedFile::Create(dir_ + "/gone", v1::Attributes());
    ASSERT_TRUE(staged.ok());
    EXPECT_TRUE(Exists(dir_ + "/gone"));
  }
  EXPECT_FALSE(Exists(dir_ + "/gone"));
  {
    auto staged = StagedFile::Create(dir_ + "/kept", v1::Attributes());
    ASSERT_TRUE(staged.ok());
    (*staged)->Keep();
  }
  EXPECT_TRUE(Exists(dir_ + "/kept"));
}

TEST_F(StagedFileTest, CreateOverAnExistingFile_Fails) {
  auto first = StagedFile::Create(dir_ + "/same", v1::Attributes());
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(StagedFile::Create(dir_ + "/same", v1::Attributes()).ok());
}

// A write-behind upload's view of the staged file: what ReadAppended returned, then its end.
// Read by the test once the stream ended, or through Received while it runs.
struct Streamed {
  std::string bytes;
  absl::Status end = absl::UnknownError("running");
  std::mutex mu;
  std::condition_variable changed;
  size_t received = 0;  // bytes.size(), under mu

  // Waits until the stream received `size` bytes.
  void WaitForBytes(size_t size) {
    std::unique_lock lock(mu);
    changed.wait(lock, [&] { return received >= size; });
  }
};

std::function<void()> Stream(StagedFile* f, Streamed* out) {
  return [f, out] {
    char buf[4];  // small reads: several per append
    while (true) {
      auto n = f->ReadAppended(buf, sizeof buf, static_cast<int64_t>(out->bytes.size()));
      if (!n.ok() || *n == 0) {
        out->end = n.status();
        return;
      }
      out->bytes.append(buf, *n);
      {
        std::lock_guard lock(out->mu);
        out->received = out->bytes.size();
      }
      out->changed.notify_all();
    }
  };
}

TEST_F(StagedFileTest, WriteBehind_StreamsAppendsAsTheyArrive_AndEndsWhenTold) {
  auto staged = StagedFile::Create(dir_ + "/wb1", v1::Attributes());
  ASSERT_TRUE(staged.ok());
  StagedFile& f = **staged;
  ASSERT_TRUE(f.Truncate(0, 1).ok());  // O_TRUNC of an empty file keeps it append-only
  ASSERT_TRUE(f.Write("hello", 5, 0, 1).ok());
  Streamed out;
  EXPECT_FALSE(f.WriteBehindDue(6));
  EXPECT_FALSE(f.MaybeStartWriteBehind(6, "/wb1", Stream(&f, &out)));  // below the threshold
  ASSERT_TRUE(f.Write(" world", 6, 5, 2).ok());
  EXPECT_TRUE(f.WriteBehindDue(6));
  ASSERT_TRUE(f.MaybeStartWriteBehind(6, "/wb1", Stream(&f, &out)));
  EXPECT_FALSE(f.MaybeStartWriteBehind(6, "/wb1", Stream(&f, &out)));  // once per file
  EXPECT_EQ(f.write_behind_path(), "/wb1");
  ASSERT_TRUE(f.Write("!!", 2, 11, 3).ok());
  EXPECT_TRUE(f.append_only());
  EXPECT_TRUE(f.EndWriteBehind(/*finish=*/true));
  EXPECT_TRUE(out.end.ok()) << out.end;
  EXPECT_EQ(out.bytes, "hello world!!");
  EXPECT_FALSE(f.EndWriteBehind(true));  // already collected
}

TEST_F(StagedFileTest, WriteBehind_AWriteElsewhereOrATruncation_FailsTheStream) {
  for (bool truncate : {false, true}) {
    auto staged = StagedFile::Create(dir_ + (truncate ? "/wb-t" : "/wb-w"), v1::Attributes());
    ASSERT_TRUE(staged.ok());
    StagedFile& f = **staged;
    ASSERT_TRUE(f.Write("abcdefgh", 8, 0, 1).ok());
    Streamed out;
    ASSERT_TRUE(f.MaybeStartWriteBehind(1, "/wb", Stream(&f, &out)));
    if (truncate) {
      ASSERT_TRUE(f.Truncate(3, 2).ok());
    } else {
      ASSERT_TRUE(f.Write("X", 1, 0, 2).ok());  // below what may have been streamed
    }
    EXPECT_FALSE(f.append_only());
    EXPECT_TRUE(f.EndWriteBehind(/*finish=*/true));
    EXPECT_EQ(out.end.code(), absl::StatusCode::kAborted) << out.end;
  }
}

// The race CI caught: the stream decided how much to read, a truncation (or a write
// elsewhere) came before its read, and the short read looked like the end of the file, so
// the upload committed the old content under the new file's name. Any change between the
// decision and the read must fail the stream.
TEST_F(StagedFileTest, WriteBehind_AChangeDuringAStreamRead_FailsTheStream) {
  for (bool truncate : {false, true}) {
    FaultEnv env;
    auto staged =
        StagedFile::Create(dir_ + (truncate ? "/race-t" : "/race-w"), v1::Attributes(), &env);
    ASSERT_TRUE(staged.ok());
    StagedFile& f = **staged;
    ASSERT_TRUE(f.Write("abcdefgh", 8, 0, 1).ok());
    bool changed = false;
    env.BeforeRead([&](const std::string&, int64_t offset) {
      if (offset != 4 || changed) return;
      changed = true;
      if (truncate) {
        ASSERT_TRUE(f.Truncate(2, 2).ok());  // the read at 4 then finds the end of the file
      } else {
        ASSERT_TRUE(f.Write("XY", 2, 4, 2).ok());  // over bytes the stream is about to send
      }
    });
    Streamed out;
    ASSERT_TRUE(f.MaybeStartWriteBehind(1, "/race", Stream(&f, &out)));
    EXPECT_TRUE(f.EndWriteBehind(/*finish=*/true));
    EXPECT_TRUE(changed);
    EXPECT_EQ(out.end.code(), absl::StatusCode::kAborted) << out.end << " after " << out.bytes;
  }
}

TEST_F(StagedFileTest, WriteBehind_CancelOrDestroy_EndsAStreamWaitingForData) {
  auto staged = StagedFile::Create(dir_ + "/wb3", v1::Attributes());
  ASSERT_TRUE(staged.ok());
  ASSERT_TRUE((*staged)->Write("abcdef", 6, 0, 1).ok());
  Streamed out;
  ASSERT_TRUE((*staged)->MaybeStartWriteBehind(1, "/wb3", Stream(staged->get(), &out)));
  // One whole chunk (4 bytes) is there; the stream then waits for a second one that never
  // comes, and the cancel ends it without the 2 bytes of a partial chunk.
  out.WaitForBytes(4);
  EXPECT_TRUE((*staged)->EndWriteBehind(/*finish=*/false));
  EXPECT_EQ(out.end.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(out.bytes, "abcd");

  // Destroying the file (release without flush) also ends a waiting stream.
  auto other = StagedFile::Create(dir_ + "/wb4", v1::Attributes());
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Write("abc", 3, 0, 1).ok());
  Streamed out2;
  ASSERT_TRUE((*other)->MaybeStartWriteBehind(1, "/wb4", Stream(other->get(), &out2)));
  other->reset();
  EXPECT_EQ(out2.end.code(), absl::StatusCode::kAborted);
}

TEST_F(StagedFileTest, WriteBehind_NotForContentStagedFromElsewhere) {
  auto staged = StagedFile::Create(dir_ + "/wb5", v1::Attributes());
  ASSERT_TRUE(staged.ok());
  (*staged)->StopAppends();
  ASSERT_TRUE((*staged)->Write("abcdef", 6, 0, 1).ok());
  EXPECT_FALSE((*staged)->WriteBehindDue(1));
  Streamed out;
  EXPECT_FALSE((*staged)->MaybeStartWriteBehind(1, "/wb5", Stream(staged->get(), &out)));
}

TEST_F(StagedFileTest, WriteOnAFullDisk_FailsWithResourceExhausted_AndIsNotStreamed) {
  FaultEnv fault;
  auto staged = StagedFile::Create(dir_ + "/full", v1::Attributes(), &fault);
  ASSERT_TRUE(staged.ok());
  StagedFile& f = **staged;
  ASSERT_TRUE(f.Write("abc", 3, 0, 1).ok());
  f.MarkUploaded(f.generation());
  fault.LimitSpace(4096 + 100);
  const std::string block(3 * 4096, 'x');
  auto written = f.Write(block.data(), block.size(), 3, 2);
  EXPECT_EQ(written.status().code(), absl::StatusCode::kResourceExhausted);
  // Whatever part of it reached the file is neither streamed nor mistaken for uploaded.
  EXPECT_FALSE(f.append_only());
  EXPECT_TRUE(f.dirty());
  fault.Heal();
  EXPECT_TRUE(f.Write("d", 1, 3, 3).ok());
}

TEST_F(StagedFileTest, FailedTruncateOrReadOrCreate_AreErrors) {
  FaultEnv fault;
  auto staged = StagedFile::Create(dir_ + "/t", v1::Attributes(), &fault);
  ASSERT_TRUE(staged.ok());
  StagedFile& f = **staged;
  ASSERT_TRUE(f.Write("hello", 5, 0, 1).ok());
  fault.FailFrom(FaultEnv::Op::kTruncate, EIO);
  EXPECT_EQ(f.Truncate(2, 2).code(), absl::StatusCode::kInternal);
  fault.FailFrom(FaultEnv::Op::kCreate, ENOSPC);
  EXPECT_EQ(StagedFile::Create(dir_ + "/u", v1::Attributes(), &fault).status().code(),
            absl::StatusCode::kResourceExhausted);
  fault.CrashAfter(0);  // the disk is gone: reads fail rather than return nothing
  char buf[8];
  EXPECT_FALSE(f.Read(buf, sizeof buf, 0).ok());
  EXPECT_FALSE(f.Size().ok());
  fault.Heal();
  EXPECT_EQ(*f.Size(), 5) << "the failed truncation changed nothing";
}

}  // namespace
}  // namespace chainfs::mount
