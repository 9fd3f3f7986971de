// Reads of one remote file for the mount: a small file whole in one call (RemoteFile), a
// larger one through a few reused windows, the next one fetched in the background while a
// sequential reader consumes the current one (ReadAhead).
#pragma once

#include <sys/uio.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/client/filestore_api.h"
#include "proto/chainfs.pb.h"

namespace chainfs::mount {

// Reads of one remote file through a few reused windows of `window` bytes. A read is served
// from the window holding it; when none does, it waits for the background fetch if that one
// covers it, and otherwise fetches a window synchronously into the least recently used one
// (random access; a useless prefetch is simply overwritten later). After a read that
// continues the previous one, the window following it is fetched in the background, so the
// network and the kernel's consumption overlap. Keeping the windows behind the current one
// serves the kernel's read-ahead requests that arrive slightly out of order.
// Not thread-safe: callers serialize (FileHandle::mu). The destructor waits for a background
// fetch, so nothing touches freed buffers.
class ReadAhead {
 public:
  // One piece, or two when a read straddles windows; valid only during the call.
  using Reply = std::function<void(const struct iovec* pieces, int count)>;

  ReadAhead(std::unique_ptr<FileStoreApi::Reader> reader, int64_t file_size, size_t window);
  ~ReadAhead();
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // Replies with `size` bytes at `offset`, fewer only at the end of the file; `size` is cut
  // to the window (at least 1 MiB, the largest FUSE read).
  absl::Status Read(size_t size, int64_t offset, const Reply& reply);

  // Remote fetches so far: synchronous ones (the reader waited) and background ones.
  int64_t sync_fetches() const { return sync_fetches_; }
  int64_t background_fetches() const { return background_fetches_; }

 private:
  static constexpr int kWindows = 3;
  struct Window {
    std::unique_ptr<char[]> data;
    size_t capacity = 0;
    int64_t offset = 0;
    size_t length = 0;  // bytes valid from offset (a failed fetch leaves a correct prefix)
    uint64_t used = 0;  // for least-recently-used replacement
    int64_t end() const { return offset + static_cast<int64_t>(length); }
    bool Contains(int64_t at) const { return at >= offset && at < end(); }
  };
  // Fills `w` from `start`; runs on the caller's thread or the background one.
  absl::Status Fill(Window& w, int64_t start);
  // Hands windows_[fetching_] to the worker thread (started on first use) to fill.
  void StartPrefetch(Window& target, int64_t start);
  // Waits for the background fetch, if any; afterwards every window is the caller's.
  void WaitPrefetch();
  void WorkerLoop();
  // The window holding `at`, waiting for the background fetch when it covers `at`; null
  // when none does.
  Window* Holding(int64_t at);
  // The window holding `at`, fetched now when needed into one other than `keep`; null when
  // the file ends before `at`.
  absl::StatusOr<Window*> Get(int64_t at, const Window* keep);
  // The least recently used window that is neither `a` nor `b`.
  Window& Victim(const Window* a, const Window* b);

  // Used by one thread at a time: the worker while a fetch is under way, else the caller.
  std::unique_ptr<FileStoreApi::Reader> reader_;
  const int64_t size_;
  const size_t window_;
  Window windows_[kWindows];
  // Until WaitPrefetch, windows_[fetching_] belongs to the worker, which fills it from
  // fetch_start_.
  int fetching_ = -1;
  int64_t fetch_start_ = 0;
  uint64_t tick_ = 0;
  int64_t expected_ = 0;  // where a sequential reader reads next
  int64_t sync_fetches_ = 0;
  int64_t background_fetches_ = 0;

  // The worker: one reused thread per reader, so no thread is made per window.
  std::mutex mu_;
  std::condition_variable cv_;
  Window* task_ = nullptr;  // set by StartPrefetch, cleared by the worker when filled
  absl::Status task_status_;
  bool stop_ = false;
  std::thread worker_;  // declared last: joined before anything it touches goes
};

// One open file's remote reads. A file of at most kMaxChunkBytes is fetched whole by the first
// read, in one ReadSmall (failing over between holders), and every read is served from that;
// a larger file, or a small one whose ReadSmall failed (a holder from before the call, the
// version replaced since open), streams through a ReadAhead as before. Not thread-safe.
class RemoteFile {
 public:
  // `file` is open()'s DoRead answer: the version, size and holders that every read uses.
  // `filestores` is not owned.
  RemoteFile(FileStoreApi* filestores, std::string path, const v1::DoReadReply& file,
             size_t window);

  // As ReadAhead::Read.
  absl::Status Read(size_t size, int64_t offset, const ReadAhead::Reply& reply);
  // The streamed reads, if any (null for a file read whole).
  const ReadAhead* stream() const { return stream_.get(); }

 private:
  FileStoreApi* const filestores_;
  const std::string path_;
  const int64_t version_;
  const int64_t size_;
  const std::vector<std::string> holders_;
  const size_t window_;
  std::optional<std::string> whole_;  // the content, once ReadSmall got it
  bool small_failed_ = false;
  std::unique_ptr<ReadAhead> stream_;
};

}  // namespace chainfs::mount
