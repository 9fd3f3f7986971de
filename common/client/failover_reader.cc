#include "common/client/failover_reader.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/log.h"

namespace chainfs {

FailoverReader::FailoverReader(std::string name, std::vector<std::string> holders)
    : name_(std::move(name)), holders_(std::move(holders)) {}

absl::Status FailoverReader::OpenNext(int64_t version) {
  absl::Status last = absl::NotFoundError(fmt::format("{}: no holder to read from", name_));
  for (size_t tries = 0; tries < holders_.size(); ++tries) {
    const std::string& address = holders_[next_++ % holders_.size()];
    absl::StatusOr<v1::FileInfo> opened = Open(address, version);
    if (!opened.ok()) {
      last = opened.status();
      Logger("client")->debug("{}", std::string(last.message()));
      continue;
    }
    // Never a mix of two versions.
    if (info_.version() != 0 && opened->version() != info_.version()) {
      last = absl::NotFoundError(fmt::format("read {}@{} from {}: holds version {}", name_,
                                             info_.version(), address, opened->version()));
      Close();
      continue;
    }
    info_ = *std::move(opened);
    address_ = address;
    return absl::OkStatus();
  }
  return last;
}

absl::StatusOr<size_t> FailoverReader::ReadAt(int64_t offset, size_t length, char* buf) {
  if (offset < 0) return absl::InvalidArgumentError("negative offset");
  if (offset >= info_.size() || length == 0) return 0;
  length =
      static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(length), info_.size() - offset));
  size_t done = 0;
  for (size_t failures = 0;; ++failures) {
    absl::Status st = ReadOpened(offset, length, buf, &done);
    if (st.ok()) return done;
    if (failures >= holders_.size()) return st;
    Logger("client")->warn("{}; trying the next holder", std::string(st.message()));
    Close();
    if (!OpenNext(info_.version()).ok()) return st;
  }
}

}  // namespace chainfs
