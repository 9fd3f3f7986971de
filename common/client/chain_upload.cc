#include "common/client/chain_upload.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "common/log.h"
#include "common/status.h"

namespace chainfs {

bool IsChainFailure(const absl::Status& status) {
  if (status.ok() || IsBaseMissing(status)) return false;  // the caller uploads it all instead
  if (!FailedMember(status).empty() || IsVersionTooOld(status)) return true;
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<v1::DoCreateReply> CreateWithRetry(NameServerApi* nameserver,
                                                  v1::DoCreateRequest req,
                                                  const ChainUpload& upload,
                                                  const UploadRetrySettings& settings,
                                                  std::string_view what, const Clock* clock) {
  const bool exclusive = req.exclusive();
  const int attempts = std::max(settings.attempts, 1);
  absl::Status last;
  absl::Status last_chain;  // the last chain's failure, which says more than doCreate's
  Duration backoff = settings.backoff;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (attempt > 0 && backoff > Duration::zero()) {
      clock->SleepUntil(clock->Now() + backoff);
      backoff *= 2;
    }
    req.set_exclusive(exclusive && attempt == 0);
    absl::StatusOr<v1::DoCreateReply> created = nameserver->DoCreate(req);
    if (!created.ok()) {
      last = created.status();
      // With members excluded, a refusal usually means none is left: the chain's error
      // is the one to report.
      if (!last_chain.ok() && req.exclude_size() > 0) return last_chain;
      if (last.code() == absl::StatusCode::kAlreadyExists ||
          last.code() == absl::StatusCode::kInvalidArgument ||
          last.code() == absl::StatusCode::kNotFound ||
          last.code() == absl::StatusCode::kFailedPrecondition ||
          last.code() == absl::StatusCode::kResourceExhausted) {
        return last;
      }
      continue;
    }
    absl::StatusOr<v1::CreateReply> reply = upload(*created);
    if (reply.ok()) {
      if (attempt > 0) {
        Logger("client")->info("upload of {} version {} committed on {} (attempt {})", what,
                               created->version(), fmt::join(created->chain(), ","), attempt + 1);
      }
      return *created;
    }
    last = last_chain = reply.status();
    // Not the chain's failure (the content's, or a refusal): the caller reports it.
    if (!IsChainFailure(last)) return last;
    const bool retry = attempt + 1 < attempts;
    std::string member = FailedMember(last);
    Logger("client")->warn(
        "upload of {} version {} to {} failed (attempt {} of {}): {}{}", what, created->version(),
        fmt::join(created->chain(), ","), attempt + 1, attempts, std::string(last.message()),
        !retry ? ""
        : IsVersionTooOld(last)
            ? "; retrying with a new version"
            : fmt::format("; retrying without {}", member.empty() ? "that chain" : member));
    auto exclude = [&req](const std::string& address) {
      if (std::find(req.exclude().begin(), req.exclude().end(), address) == req.exclude().end()) {
        req.add_exclude(address);
      }
    };
    if (!member.empty()) {
      exclude(member);
    } else if (!IsVersionTooOld(last)) {
      for (const std::string& address : created->chain()) exclude(address);
    }
  }
  return last;
}

}  // namespace chainfs
