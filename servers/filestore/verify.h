// The FileStore's Verify call (`chainfs fsck`): for each name@version asked about, whether
// it is held and whether its files on disk still match their checksums (read in full). A copy
// the caller expects here but that is missing or corrupt is handed to `bad`, which drops it
// and reports it to the NameServer as a bad replica, as reads and the scrubber do; a name
// replaced by a newer version meanwhile is only answered, never reported.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "proto/chainfs.pb.h"
#include "servers/filestore/object_store.h"

namespace chainfs::filestore {

// The most names one Verify call may ask about.
inline constexpr int kMaxVerifyFiles = 1000;

using BadReplicaFn =
    std::function<void(const std::string& name, int64_t version, const absl::Status& why)>;

// INVALID_ARGUMENT for a bad name or version, or too many names; otherwise one result per file.
absl::Status VerifyObjects(ObjectStore* store, const v1::VerifyRequest& req, v1::VerifyReply* reply,
                           const BadReplicaFn& bad);

}  // namespace chainfs::filestore
