// The retry loop of a new version's upload, behind Client::Upload (common/client/client.h,
// which callers use): doCreate,
// then the chain; when a chain member fails, a fresh doCreate that excludes it (HDFS's
// excluded nodes; the whole chain when the failed member is unknown), a bounded number of
// times with a short backoff. The NameServer also stops placing anyone's chains on an
// excluded FileStore until it heartbeats again, so one dead FileStore fails no upload while
// enough others are alive.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/client/nameserver_api.h"
#include "common/clock.h"
#include "proto/chainfs.pb.h"

namespace chainfs {

struct UploadRetrySettings {
  int attempts = 4;  // doCreate + chain, each with a fresh doCreate
  // Before the second attempt; doubled before each later one.
  Duration backoff = std::chrono::milliseconds(50);
};

// One attempt's upload to created.chain() at created.version().
using ChainUpload = std::function<absl::StatusOr<v1::CreateReply>(const v1::DoCreateReply&)>;

// Whether a failed upload is worth a fresh doCreate: a chain member failed (named or not)
// or the version was already too old on a member. Errors of the content itself (reading
// the local source) and refusals of the request are not.
bool IsChainFailure(const absl::Status& status);

// Runs `upload` against fresh doCreate(req) answers until one commits; returns that answer.
// `req.exclude` is filled by the retries; `req.exclusive` is asked only on the first
// attempt (a retry would find the half-committed first attempt). The final failure is the
// last chain's error when there was one. `what` names the upload in log lines. Backoffs are
// measured on `clock`.
absl::StatusOr<v1::DoCreateReply> CreateWithRetry(NameServerApi* nameserver,
                                                  v1::DoCreateRequest req,
                                                  const ChainUpload& upload,
                                                  const UploadRetrySettings& settings,
                                                  std::string_view what,
                                                  const Clock* clock = SystemClock::Get());

}  // namespace chainfs
