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

absl::StatusOr<v1::ReadSmallReply> FileStoreApi::ReadSmall(const std::string& name, int64_t,
                                                           const std::vector<std::string>&) {
  return absl::UnimplementedError(fmt::format("read {}: ReadSmall is not supported", name));
}

absl::StatusOr<v1::ReadSmallReply> ReadSmallFromHolders(
    const std::string& name, int64_t version, const std::vector<std::string>& holders,
    const std::function<absl::StatusOr<v1::ReadSmallReply>(const std::string& address)>& read_one) {
  absl::Status last = absl::NotFoundError(fmt::format("{}: no holder to read from", name));
  for (const std::string& address : holders) {
    absl::StatusOr<v1::ReadSmallReply> reply = read_one(address);
    if (reply.ok()) {
      const v1::FileInfo& info = reply->info();
      if (info.name() == name && (version == 0 || info.version() == version) && !info.tombstone() &&
          info.size() == static_cast<int64_t>(reply->content().size())) {
        return reply;
      }
      reply = absl::DataLossError(
          fmt::format("read {}@{} from {}: answered for {}@{} with {} bytes", name, version,
                      address, info.name(), info.version(), reply->content().size()));
    }
    last = reply.status();
    if (last.code() == absl::StatusCode::kInvalidArgument ||
        last.code() == absl::StatusCode::kFailedPrecondition) {
      break;
    }
    // A holder without that version, or from before ReadSmall, is at no fault.
    const bool fault = last.code() != absl::StatusCode::kNotFound &&
                       last.code() != absl::StatusCode::kUnimplemented;
    Logger("client")->log(fault ? spdlog::level::warn : spdlog::level::debug, "{}",
                          std::string(last.message()));
  }
  return last;
}

}  // namespace chainfs
