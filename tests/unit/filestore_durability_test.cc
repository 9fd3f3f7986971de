// Durability modes of the object store (DESIGN.md "Durability"), on a FaultEnv that counts
// fsyncs and takes away on "power loss" (DropUnsyncedData) what was never synced: replicated
// mode acknowledges without fsyncs and the Flusher makes commits durable by group commit;
// sync mode fsyncs before acknowledging; after an unclean stop recovery verifies what no
// completed flush covered.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "common/client/memory_filestores.h"
#include "servers/filestore/filestore_service.h"
#include "servers/filestore/flusher.h"
#include "tests/unit/filestore_object_store_fixture.h"

namespace chainfs::filestore {
namespace {

using Op = FaultEnv::Op;

constexpr Duration kNeverByTimer = std::chrono::hours(1);

class DurabilityTest : public ObjectStoreTest {
 protected:
  void TearDown() override {
    flusher_.reset();
    ObjectStoreTest::TearDown();
  }
  // A store in `mode` on the FaultEnv (or `env`), with its Flusher (not started).
  void Open(Durability mode, Env* env = nullptr, const Clock* clock = SystemClock::Get()) {
    flusher_.reset();
    store_.reset();
    auto store = ObjectStore::Open({.dir = (root_ / "data").string(),
                                    .env = env != nullptr ? env : &fault_,
                                    .durability = mode,
                                    .clock = clock});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    flusher_ = std::make_unique<Flusher>(
        store_.get(), FlushSettings{.durability = mode, .interval = kNeverByTimer});
  }
  // The process is killed (no clean stop): the disk keeps what the OS had.
  void Kill() {
    flusher_.reset();
    store_.reset();
  }
  // Power loss: the disk keeps only what was synced. Then a restart on the real disk.
  void PowerLossAndRestart(Durability mode = Durability::kReplicated) {
    Kill();
    fault_.DropUnsyncedData();
    fault_.Heal();
    Open(mode, Env::Default());
  }
  int64_t Syncs() const {
    return fault_.steps(Op::kSync) + fault_.steps(Op::kSyncDirectory) +
           fault_.steps(Op::kSyncFileSystem);
  }
  absl::Status WaitFlushed() {
    return flusher_->WaitFlushed(SystemClock::Get()->Now() + std::chrono::seconds(30));
  }

  std::unique_ptr<Flusher> flusher_;
};

TEST_F(DurabilityTest, Replicated_CommitsAndTombstonesIssueNoFsync_TheFlushSyncsThem) {
  Open(Durability::kReplicated);
  // Older versions first: their shard directories are made (and synced) once for all.
  ASSERT_TRUE(Put("/small", 1, "x").ok());
  ASSERT_TRUE(Put("/large", 2, "x").ok());
  ASSERT_TRUE(Put("/gone", 3, "x").ok());
  const int64_t before = Syncs();
  ASSERT_TRUE(Put("/small", 12, Content(4096)).ok());
  ASSERT_TRUE(Put("/large", 13, Content(kInlineBytes * 2)).ok());
  ASSERT_TRUE(store_->AddTombstone("/gone", 14).ok());
  EXPECT_EQ(Syncs(), before) << "no fsync before the acknowledgement";
  EXPECT_GT(store_->pending_flush(), 0);

  ASSERT_TRUE(flusher_->FlushNow().ok());
  EXPECT_GT(Syncs(), before);
  EXPECT_EQ(store_->pending_flush(), 0);
}

TEST_F(DurabilityTest, Replicated_AfterAFlush_PowerLossLosesNothing) {
  Open(Durability::kReplicated);
  std::map<std::string, std::string> written;
  for (int i = 0; i < 20; ++i) {
    const std::string name = fmt::format("/f{}", i);
    written[name] = Content(i % 4 == 0 ? kInlineBytes + 1000 : 4096, i);
    ASSERT_TRUE(Put(name, 10 + i, written[name]).ok());
  }
  ASSERT_TRUE(Put("/f0", 100, "replaced").ok());
  written["/f0"] = "replaced";
  ASSERT_TRUE(store_->AddTombstone("/f1", 101).ok());
  written.erase("/f1");
  ASSERT_TRUE(flusher_->FlushNow().ok());

  PowerLossAndRestart();
  EXPECT_EQ(store_->Lookup("/f0")->version(), 100);
  EXPECT_TRUE(store_->Lookup("/f1")->tombstone());
  for (const auto& [name, content] : written) {
    auto got = Get(name);
    ASSERT_TRUE(got.ok()) << name << ": " << got.status();
    EXPECT_EQ(*got, content) << name;
  }
}

TEST_F(DurabilityTest, Replicated_PowerLossBeforeTheFlush_LosesOnlyUnflushedObjects) {
  Open(Durability::kReplicated);
  const std::string flushed = Content(kInlineBytes + 10, 1);
  ASSERT_TRUE(Put("/flushed", 1, flushed).ok());
  ASSERT_TRUE(flusher_->FlushNow().ok());
  ASSERT_TRUE(Put("/unflushed-small", 2, "small").ok());
  ASSERT_TRUE(Put("/unflushed-large", 3, Content(kInlineBytes * 3, 2)).ok());
  ASSERT_TRUE(Put("/flushed", 4, "newer, not flushed").ok());

  PowerLossAndRestart();
  EXPECT_TRUE(store_->recovery_stats().unclean);
  EXPECT_FALSE(store_->Lookup("/unflushed-small").has_value());
  EXPECT_FALSE(store_->Lookup("/unflushed-large").has_value());
  // The flushed version is back whole (its unflushed replacement is gone, and so is the
  // unlink of the old one that the replacement did).
  EXPECT_EQ(store_->Lookup("/flushed")->version(), 1);
  EXPECT_EQ(*Get("/flushed"), flushed);
}

TEST_F(DurabilityTest, UncleanStop_RecoveryDropsUnflushedObjectsThatFailVerification) {
  Open(Durability::kReplicated);
  const std::string large = Content(kInlineBytes * 2, 3);
  ASSERT_TRUE(Put("/torn-data", 1, large).ok());
  ASSERT_TRUE(Put("/torn-inline", 2, Content(4096, 4)).ok());
  ASSERT_TRUE(Put("/intact", 3, large).ok());
  // What a power loss may leave of writes that were never synced: a meta whose content did
  // not all reach the disk. Flipped in place, sizes unchanged, so only checksums tell.
  auto flip = [](const std::string& path, int64_t offset) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(offset);
    char c = static_cast<char>(f.get());
    f.seekp(offset);
    f.put(static_cast<char>(c ^ 0x5a));
  };
  flip(store_->ObjectPath("/torn-data", 1, false), kBlockBytes + 7);
  const std::string inline_meta = store_->ObjectPath("/torn-inline", 2, true);
  flip(inline_meta, static_cast<int64_t>(fs::file_size(inline_meta)) - 100);
  Kill();

  Open(Durability::kReplicated, Env::Default());
  EXPECT_TRUE(store_->recovery_stats().unclean);
  EXPECT_EQ(store_->recovery_stats().verified, 3);
  EXPECT_EQ(store_->recovery_stats().dropped, 2);
  EXPECT_FALSE(store_->Lookup("/torn-data").has_value());
  EXPECT_FALSE(store_->Lookup("/torn-inline").has_value());
  EXPECT_FALSE(fs::exists(store_->ObjectPath("/torn-data", 1, false))) << "its data is gone too";
  EXPECT_EQ(*Get("/intact"), large);
}

TEST_F(DurabilityTest, KilledBeforeTheFlush_RestartSyncsWhatItVerified_ThenPowerLossLosesNothing) {
  Open(Durability::kReplicated);
  const std::string content = Content(kInlineBytes + 3, 5);
  ASSERT_TRUE(Put("/acknowledged", 1, content).ok());
  Kill();  // nothing synced: the object is only in the OS
  Open(Durability::kReplicated);
  EXPECT_EQ(store_->recovery_stats().verified, 1);

  PowerLossAndRestart();
  EXPECT_EQ(*Get("/acknowledged"), content);
}

TEST_F(DurabilityTest, ObjectsCoveredByTheLastFlush_AreNotVerifiedAgain) {
  // The flush is recorded as starting well after every file time on this disk.
  FakeClock clock;
  clock.Advance(std::chrono::hours(24 * 365 * 30));
  Open(Durability::kReplicated, nullptr, &clock);
  ASSERT_TRUE(Put("/f", 1, Content(4096)).ok());
  ASSERT_TRUE(flusher_->FlushNow().ok());
  Kill();
  Open(Durability::kReplicated, nullptr, &clock);
  EXPECT_TRUE(store_->recovery_stats().unclean);
  EXPECT_EQ(store_->recovery_stats().verified, 0);
  EXPECT_TRUE(store_->Lookup("/f").has_value());
}

TEST_F(DurabilityTest, CleanStop_FlushesFirst_NextStartVerifiesNothing) {
  Open(Durability::kReplicated);
  ASSERT_TRUE(Put("/f", 1, "content").ok());
  ASSERT_TRUE(flusher_->Stop().ok());
  EXPECT_EQ(flusher_->WaitFlushed(SystemClock::Get()->Now()).code(),
            absl::StatusCode::kUnavailable);

  PowerLossAndRestart();
  EXPECT_FALSE(store_->recovery_stats().unclean);
  EXPECT_EQ(*Get("/f"), "content");
}

TEST_F(DurabilityTest, WaitFlushed_WakesTheFlusher_ReturnsOnceTheCommitIsDurable) {
  Open(Durability::kReplicated);
  flusher_->Start();  // its timer would take an hour: only the wait wakes it
  ASSERT_TRUE(Put("/f", 1, "content").ok());
  ASSERT_TRUE(WaitFlushed().ok());
  EXPECT_EQ(flusher_->flushes(), 1);

  PowerLossAndRestart();
  EXPECT_EQ(*Get("/f"), "content");
}

TEST_F(DurabilityTest, FlushCall_AnsweredOnceTheFlusherFlushed_ABadNameRefused) {
  Open(Durability::kReplicated);
  flusher_->Start();
  MemoryFileStores downstream;
  FileStoreService service(store_.get(), &downstream, nullptr, FileStoreSettings{});
  service.SetFlusher(flusher_.get());
  ASSERT_TRUE(Put("/f", 1, "content").ok());
  grpc::ServerContext ctx;
  v1::FlushRequest req;
  req.set_name("/f");
  req.set_version(1);
  v1::FlushReply reply;
  EXPECT_TRUE(service.Flush(&ctx, &req, &reply).ok());
  EXPECT_EQ(flusher_->flushes(), 1);
  req.set_name("not/absolute");
  EXPECT_EQ(service.Flush(&ctx, &req, &reply).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  PowerLossAndRestart();
  EXPECT_EQ(*Get("/f"), "content");
}

TEST_F(DurabilityTest, FailedFsyncInTheFlush_Reported_CommitsRefusedUntilAFlushSucceeds) {
  Open(Durability::kReplicated);
  flusher_->Start();
  ASSERT_TRUE(Put("/before", 1, "acknowledged before the failure").ok());
  fault_.FailFrom(Op::kSyncFileSystem, EIO);
  EXPECT_EQ(WaitFlushed().code(), absl::StatusCode::kInternal);
  EXPECT_GE(flusher_->failures(), 1);
  EXPECT_EQ(Put("/during", 2, "refused").status().code(), absl::StatusCode::kUnavailable);

  fault_.Heal();
  ASSERT_TRUE(WaitFlushed().ok());
  ASSERT_TRUE(Put("/after", 3, "accepted again").ok());
  ASSERT_TRUE(WaitFlushed().ok());

  PowerLossAndRestart();
  EXPECT_EQ(*Get("/before"), "acknowledged before the failure") << "retried by the next flush";
  EXPECT_EQ(*Get("/after"), "accepted again");
  EXPECT_FALSE(store_->Lookup("/during").has_value());
}

TEST_F(DurabilityTest, CrashAtEveryStepOfAFlush_FlushedOrNot_NothingTornServed) {
  const std::string large = Content(kInlineBytes * 2, 6);
  int64_t steps = 0;
  for (;; ++steps) {
    SCOPED_TRACE(fmt::format("crash after {} steps of the flush", steps));
    fault_.Heal();
    fs::remove_all(root_ / "data");
    Open(Durability::kReplicated);
    ASSERT_TRUE(Put("/small", 1, "small").ok());
    ASSERT_TRUE(Put("/large", 2, large).ok());
    fault_.CrashAfter(steps);
    const bool flushed = flusher_->FlushNow().ok();
    PowerLossAndRestart();
    if (flushed) {
      EXPECT_EQ(*Get("/small"), "small");
      EXPECT_EQ(*Get("/large"), large);
    } else {
      if (store_->Lookup("/small")) {
        EXPECT_EQ(*Get("/small"), "small");
      }
      if (store_->Lookup("/large")) {
        EXPECT_EQ(*Get("/large"), large);
      }
    }
    if (flushed) break;
  }
  EXPECT_GE(steps, 2) << "the syncfs and the flush record each took a step";
}

TEST_F(DurabilityTest, Sync_EveryCommitIsSyncedBeforeItIsAcknowledged) {
  Open(Durability::kSync);
  ASSERT_TRUE(Put("/small", 1, "x").ok());  // makes its shard directory (and syncs it)
  ASSERT_TRUE(Put("/large", 1, "x").ok());
  int64_t before = Syncs();
  ASSERT_TRUE(Put("/small", 2, Content(4096)).ok());
  EXPECT_EQ(Syncs() - before, 2) << "the meta (holding the content) and its directory";
  before = Syncs();
  ASSERT_TRUE(Put("/large", 3, Content(kInlineBytes * 2)).ok());
  EXPECT_EQ(Syncs() - before, 3) << "the content, the meta and their directory";
  EXPECT_EQ(store_->pending_flush(), 0);
  EXPECT_TRUE(WaitFlushed().ok()) << "answers at once";

  fault_.FailFrom(Op::kSync, EIO);
  EXPECT_FALSE(Put("/refused", 4, "x").ok());
  fault_.Heal();
  ASSERT_TRUE(Put("/kept", 5, "kept").ok());
  PowerLossAndRestart(Durability::kSync);
  EXPECT_EQ(*Get("/kept"), "kept");
}

// A measurement, not a test (--gtest_also_run_disabled_tests): 2,000 creates of 4 KiB on the
// real disk in each mode, fsyncs done for real and counted.
TEST_F(DurabilityTest, DISABLED_Measure_4KiBCreates_SyncVersusReplicated) {
  const std::string content = Content(4096);
  constexpr int kFiles = 2000;
  for (Durability mode : {Durability::kSync, Durability::kReplicated}) {
    FaultEnv real(Env::Default(), /*sync_for_real=*/true);
    fs::remove_all(root_ / "data");
    Open(mode, &real);
    // A first round makes the 256 shard directories (each synced once in a store's life).
    for (int i = 0; i < kFiles; ++i) ASSERT_TRUE(Put(fmt::format("/m{}", i), 1, content).ok());
    ASSERT_TRUE(flusher_->FlushNow().ok());
    auto syncs = [&real] {
      return real.steps(Op::kSync) + real.steps(Op::kSyncDirectory) +
             real.steps(Op::kSyncFileSystem);
    };
    const int64_t before = syncs();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kFiles; ++i) ASSERT_TRUE(Put(fmt::format("/m{}", i), 2, content).ok());
    const auto committed = std::chrono::steady_clock::now();
    const int64_t commit_syncs = syncs() - before;
    ASSERT_TRUE(flusher_->FlushNow().ok());
    const auto flushed = std::chrono::steady_clock::now();
    using Us = std::chrono::duration<double, std::micro>;
    fmt::print("{}: {:.1f} us per commit ({} fsyncs), then one flush of {:.1f} ms ({} syncs)\n",
               mode == Durability::kSync ? "sync" : "replicated",
               Us(committed - start).count() / kFiles, commit_syncs,
               Us(flushed - committed).count() / 1000, syncs() - before - commit_syncs);
    Kill();
  }
}

}  // namespace
}  // namespace chainfs::filestore
