#include "fuse/read_ahead.h"

#include <algorithm>
#include <string>
#include <system_error>
#include <utility>

#include "common/log.h"
#include "common/status.h"

namespace chainfs::mount {

namespace {

constexpr int64_t kBlock = 1 << 20;  // remote windows start on these boundaries

}  // namespace

ReadAhead::ReadAhead(std::unique_ptr<FileStoreApi::Reader> reader, int64_t file_size, size_t window)
    : reader_(std::move(reader)), size_(file_size), window_(std::max<size_t>(window, kBlock)) {}

ReadAhead::~ReadAhead() {
  WaitPrefetch();
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void ReadAhead::WorkerLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || task_ != nullptr; });
    if (task_ == nullptr) return;  // stopping
    Window* w = task_;
    int64_t start = fetch_start_;
    lock.unlock();
    absl::Status status = Fill(*w, start);
    lock.lock();
    task_status_ = std::move(status);
    task_ = nullptr;
    cv_.notify_all();
  }
}

void ReadAhead::StartPrefetch(Window& target, int64_t start) {
  if (!worker_.joinable()) {
    try {
      worker_ = std::thread([this] { WorkerLoop(); });
    } catch (const std::system_error& e) {
      // No thread to spare: the next window is fetched when it is needed.
      Logger("mount")->debug("read-ahead not started: {}", e.what());
      return;
    }
  }
  {
    std::lock_guard lock(mu_);
    fetching_ = static_cast<int>(&target - windows_);
    fetch_start_ = start;
    task_ = &target;
  }
  cv_.notify_all();
  ++background_fetches_;
}

void ReadAhead::WaitPrefetch() {
  if (fetching_ < 0) return;
  absl::Status status;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return task_ == nullptr; });
    status = std::move(task_status_);
  }
  fetching_ = -1;
  // Whoever needs those bytes fetches them again, failing over or reporting the error.
  if (!status.ok()) Logger("mount")->debug("read-ahead: {}", std::string(status.message()));
}

absl::Status ReadAhead::Fill(Window& w, int64_t start) {
  size_t want = static_cast<size_t>(std::min<int64_t>(window_, size_ - start));
  if (w.capacity < want) {
    w.data.reset(new char[want]);
    w.capacity = want;
  }
  w.offset = start;
  w.length = 0;
  while (w.length < want) {
    CHAINFS_ASSIGN_OR_RETURN(size_t got,
                             reader_->ReadAt(w.end(), want - w.length, w.data.get() + w.length));
    if (got == 0) break;
    w.length += got;
  }
  return absl::OkStatus();
}

ReadAhead::Window* ReadAhead::Holding(int64_t at) {
  for (int i = 0; i < kWindows; ++i) {
    if (i != fetching_ && windows_[i].Contains(at)) return &windows_[i];
  }
  if (fetching_ >= 0 && at >= fetch_start_ && at < fetch_start_ + static_cast<int64_t>(window_)) {
    Window* w = &windows_[fetching_];
    WaitPrefetch();
    if (w->Contains(at)) return w;
  }
  return nullptr;
}

ReadAhead::Window& ReadAhead::Victim(const Window* a, const Window* b) {
  Window* victim = nullptr;
  for (Window& w : windows_) {
    if (&w != a && &w != b && (victim == nullptr || w.used < victim->used)) victim = &w;
  }
  return *victim;
}

absl::StatusOr<ReadAhead::Window*> ReadAhead::Get(int64_t at, const Window* keep) {
  if (Window* w = Holding(at)) return w;
  WaitPrefetch();  // the reader is the caller's again
  // Fetch from the start of the 1 MiB block holding `at`, so that requests arriving slightly
  // out of order still hit the window.
  Window& w = Victim(keep, nullptr);
  ++sync_fetches_;
  CHAINFS_RETURN_IF_ERROR(Fill(w, at - at % kBlock));
  if (!w.Contains(at)) return nullptr;  // the holder's file ended before the size we were told
  return &w;
}

absl::Status ReadAhead::Read(size_t size, int64_t offset, const Reply& reply) {
  if (offset >= size_ || size == 0) {
    reply(nullptr, 0);
    return absl::OkStatus();
  }
  // FUSE reads are at most 1 MiB (max_pages 256), never more than a window.
  size = std::min<size_t>({size, window_, static_cast<size_t>(size_ - offset)});
  // The kernel's read-ahead requests may arrive slightly out of order (several threads).
  const int64_t slack = static_cast<int64_t>(window_ / 2);
  const bool sequential = offset >= expected_ - slack && offset <= expected_ + slack;
  expected_ = offset + static_cast<int64_t>(size);

  CHAINFS_ASSIGN_OR_RETURN(Window * w, Get(offset, nullptr));
  if (w == nullptr) {
    reply(nullptr, 0);
    return absl::OkStatus();
  }
  w->used = ++tick_;
  iovec pieces[2];
  int count = 1;
  const int64_t end = offset + static_cast<int64_t>(size);
  pieces[0] = {w->data.get() + (offset - w->offset), static_cast<size_t>(w->end() - offset)};
  Window* last = w;
  if (w->end() < end) {
    // The rest lies in the following window (the background fetch's, or fetched now).
    CHAINFS_ASSIGN_OR_RETURN(Window * rest, Get(w->end(), w));
    if (rest != nullptr && rest->end() >= end) {
      rest->used = ++tick_;
      pieces[1] = {rest->data.get(), static_cast<size_t>(end - rest->offset)};
      count = 2;
      last = rest;
    } else {
      // A window cut short (a failed background fetch, or the holder's file ended early):
      // one fresh window from `offset` holds the whole request (size <= window_). A short
      // reply means end of file to the kernel, so it is given only when the file ended.
      WaitPrefetch();
      Window& fresh = Victim(nullptr, nullptr);
      ++sync_fetches_;
      CHAINFS_RETURN_IF_ERROR(Fill(fresh, offset));
      fresh.used = ++tick_;
      pieces[0] = {fresh.data.get(), static_cast<size_t>(std::min(fresh.end(), end) - offset)};
      last = w = &fresh;
    }
  } else {
    pieces[0].iov_len = size;
  }
  reply(pieces, count);

  const int64_t ahead = last->end();
  if (sequential && fetching_ < 0 && ahead < size_ && Holding(ahead) == nullptr) {
    Window& target = Victim(w, last);
    target.used = ++tick_;
    StartPrefetch(target, ahead);
  }
  return absl::OkStatus();
}

RemoteFile::RemoteFile(FileStoreApi* filestores, std::string path, const v1::DoReadReply& file,
                       size_t window)
    : filestores_(filestores),
      path_(std::move(path)),
      version_(file.file().version()),
      size_(file.file().size()),
      holders_(file.holders().begin(), file.holders().end()),
      window_(window) {}

absl::Status RemoteFile::Read(size_t size, int64_t offset, const ReadAhead::Reply& reply) {
  if (offset >= size_ || size == 0) {
    reply(nullptr, 0);
    return absl::OkStatus();
  }
  if (!whole_ && !small_failed_ && size_ <= static_cast<int64_t>(kMaxChunkBytes)) {
    auto small = filestores_->ReadSmall(path_, version_, holders_);
    if (small.ok()) {
      whole_ = std::move(*small->mutable_content());
    } else {
      small_failed_ = true;
      Logger("mount")->debug("read {}: {}; streaming it instead", path_,
                             std::string(small.status().message()));
    }
  }
  if (whole_) {
    // ReadSmall answered for open()'s version, so whole_ holds size_ bytes.
    const size_t at = std::min(static_cast<size_t>(offset), whole_->size());
    iovec piece = {whole_->data() + at, std::min(size, whole_->size() - at)};
    reply(&piece, piece.iov_len > 0 ? 1 : 0);
    return absl::OkStatus();
  }
  if (!stream_) {
    CHAINFS_ASSIGN_OR_RETURN(auto reader, filestores_->OpenReader(path_, version_, holders_));
    stream_ = std::make_unique<ReadAhead>(std::move(reader), size_, window_);
  }
  return stream_->Read(size, offset, reply);
}

}  // namespace chainfs::mount
