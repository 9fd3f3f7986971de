// An Env for tests that breaks on purpose, over a real one (PosixEnv by default):
// - FailFrom: a chosen call (fsync, directory fsync, rename, ...) fails with a chosen errno;
// - LimitSpace: the disk fills up, a write stores the whole blocks that fit and fails with
//   ENOSPC;
// - CrashAfter: the process "dies" after a number of steps (calls that change the disk): every
//   later call fails with EIO and changes nothing, so the disk is left exactly as a crash
//   between those two steps would leave it. DropUnsyncedData then takes away what a power
//   loss would (bytes never fsynced, new names whose directory was never fsynced), and the
//   test reopens the directory with a fresh PosixEnv, as a restart would.
// - BeforeRead: a hook runs before each read, to interleave a change with a reader.
// Syncs are recorded and not passed on to the disk (unless asked): a test's power loss is
// DropUnsyncedData, and real fsyncs would only make tests slow. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/env.h"

namespace chainfs {

class FaultEnv : public Env {
 public:
  // Calls that change the disk, each one step.
  enum class Op {
    kCreate,  // Open with O_CREAT
    kWrite,
    kSync,
    kTruncate,
    kRename,
    kLink,
    kUnlink,
    kMakeDirectories,
    kSyncDirectory,
    kSyncFileSystem,
  };
  static std::string_view Name(Op op);

  explicit FaultEnv(Env* base = Env::Default(), bool sync_for_real = false);

  // After `skip` more calls of `op` pass, every call of `op` fails with `err` (nothing done).
  void FailFrom(Op op, int err, int64_t skip = 0);
  // Writes store at most `bytes` more bytes; one that goes beyond stores the whole 4 KiB
  // blocks that fit (O_DIRECT allows no less) and fails with ENOSPC, as on a full disk.
  void LimitSpace(int64_t bytes);
  // After `steps` more steps, the process is dead: every call but closing fails with EIO
  // (reads too, once the steps are done).
  void CrashAfter(int64_t steps);
  // Ends every fault and the crash.
  void Heal();
  // Runs `hook` (path, offset) before every read through this env, on the reader's thread: a
  // test's way to change a file between a reader's decision and its read. Set before use.
  void BeforeRead(std::function<void(const std::string&, int64_t)> hook);

  // Whether the crash refused a step, and which one first (what would have been done next).
  bool crashed() const;
  std::optional<Op> crashed_at() const;
  // Steps done through this env so far, in all and of one kind (fsyncs, say).
  int64_t steps() const;
  int64_t steps(Op op) const;
  // Power loss: every file written through this env is cut back to what its last fsync
  // covered; names created or linked into a directory since that directory's last fsync
  // disappear, and renames there onto a new name are undone (the file is back under its old
  // name, or gone when that name was new too). Call once the users of this env closed
  // their files.
  void DropUnsyncedData();

  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, int flags,
                                             mode_t mode) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Link(const std::string& from, const std::string& to) override;
  absl::Status Unlink(const std::string& path) override;
  absl::Status MakeDirectories(const std::string& dir) override;
  absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& dir) override;
  absl::StatusOr<int64_t> FileSize(const std::string& path) override;
  absl::Status SyncDirectory(const std::string& dir) override;
  // Everything written through this env becomes synced (what DropUnsyncedData keeps).
  absl::Status SyncFileSystem(const File& on) override;

 private:
  friend class FaultFile;
  // OK when `op` on `path` may go ahead (and counts the step), else the injected failure.
  absl::Status Step(Op op, const std::string& path);
  // EIO once crashed (for calls that are not steps).
  absl::Status Alive(const std::string& path) const;
  // How many of `bytes` fit on the disk (taking them); fewer means ENOSPC after those.
  int64_t TakeSpace(int64_t bytes);
  void Synced(const std::string& path, int64_t size);
  void NewName(const std::string& path);

  struct Failure {
    int err = 0;
    int64_t skip = 0;
  };

  Env* const base_;
  const bool sync_for_real_;
  mutable std::mutex mu_;
  std::map<Op, Failure> failures_;
  std::optional<int64_t> space_;
  std::optional<int64_t> crash_after_;
  std::optional<Op> crashed_at_;
  std::function<void(const std::string&, int64_t)> before_read_;
  int64_t steps_ = 0;
  std::map<Op, int64_t> steps_of_;
  std::map<std::string, int64_t> synced_size_;       // files written through this env
  std::set<std::string> unsynced_names_;             // new names whose directory is not synced
  std::map<std::string, std::string> renamed_from_;  // unsynced rename: new name -> old name
};

}  // namespace chainfs
