#include "servers/filestore/scrubber.h"

#include "common/log.h"
#include "servers/filestore/log.h"

namespace chainfs::filestore {
namespace {

constexpr int64_t kMinAutoRate = 1 << 20;
constexpr int64_t kSecondsPerDay = 86400;
constexpr size_t kReadBytes = 1 << 20;

}  // namespace

Scrubber::Scrubber(ObjectStore* store, ReportBadFn report_bad, ScrubSettings settings)
    : store_(store), report_bad_(std::move(report_bad)), settings_(settings) {}

Scrubber::~Scrubber() { Stop(); }

void Scrubber::Start() {
  if (settings_.bytes_per_second == 0) return;
  thread_ = std::thread([this] {
    while (ticker_.WaitFor(settings_.pass_interval)) RunPass();
  });
}

void Scrubber::Stop() {
  ticker_.Stop();
  if (thread_.joinable()) thread_.join();
}

int64_t Scrubber::rate() const {
  if (settings_.bytes_per_second >= 0) return settings_.bytes_per_second;
  return std::max(kMinAutoRate, store_->bytes_used() / kSecondsPerDay);
}

void Scrubber::RunPass() {
  std::vector<v1::FileInfo> files = store_->List();
  int64_t total = 0;
  for (const v1::FileInfo& f : files) total += f.size();
  pass_bytes_total_ = total;
  pass_bytes_done_ = 0;
  int64_t bad = 0;
  for (const v1::FileInfo& f : files) {
    if (ticker_.stopped()) return;
    if (f.tombstone()) continue;
    if (!Verify(f)) ++bad;
    ++objects_checked_;
  }
  ++passes_;
  Log()->info("scrub pass {} done: {} objects, {} bytes, {} bad", passes_.load(), files.size(),
              total, bad);
}

bool Scrubber::Verify(const v1::FileInfo& file) {
  auto reader = store_->OpenObject(file.name(), file.version());
  if (!reader.ok()) {
    // Replaced or dropped since the listing: nothing to verify.
    if (reader.status().code() != absl::StatusCode::kDataLoss) return true;
  }
  absl::Status st = reader.ok() ? absl::OkStatus() : reader.status();
  buffer_.resize(kReadBytes);
  for (int64_t offset = 0; st.ok() && offset < file.size();) {
    auto n = (*reader)->ReadAt(offset, buffer_.size(), buffer_.data());
    if (!n.ok()) {
      st = n.status();
      break;
    }
    if (*n == 0) {
      st = absl::DataLossError("object ends early");
      break;
    }
    offset += static_cast<int64_t>(*n);
    pass_bytes_done_ += static_cast<int64_t>(*n);
    // The rate bound: this many bytes take this long.
    const int64_t per_second = rate();
    if (per_second > 0 && !ticker_.WaitFor(std::chrono::nanoseconds(static_cast<int64_t>(*n) *
                                                                    1'000'000'000 / per_second))) {
      return true;  // stopped
    }
  }
  if (st.ok() || st.code() != absl::StatusCode::kDataLoss) return true;
  Log()->error("scrub: corrupt replica {}@{}: {}", file.name(), file.version(),
               std::string(st.message()));
  store_->DropCorrupt(file.name(), file.version());
  ++bad_found_;
  if (report_bad_) report_bad_(file.name(), file.version());
  return false;
}

ScrubStats Scrubber::stats() const {
  return ScrubStats{.objects_checked = objects_checked_,
                    .bad_found = bad_found_,
                    .passes = passes_,
                    .pass_bytes_done = pass_bytes_done_,
                    .pass_bytes_total = pass_bytes_total_};
}

}  // namespace chainfs::filestore
