#include "servers/filestore/verify.h"

#include <fmt/format.h>

#include "common/names.h"
#include "common/status.h"
#include "servers/filestore/reporter.h"

namespace chainfs::filestore {

absl::Status VerifyObjects(ObjectStore* store, const v1::VerifyRequest& req, v1::VerifyReply* reply,
                           const BadReplicaFn& bad) {
  if (req.files_size() > kMaxVerifyFiles) {
    return absl::InvalidArgumentError(
        fmt::format("at most {} names per Verify call, not {}", kMaxVerifyFiles, req.files_size()));
  }
  for (const v1::NameVersion& f : req.files()) {
    CHAINFS_RETURN_IF_ERROR(ValidateName(f.name()));
    if (f.version() <= 0 || f.version() > kMaxVersion) {
      return absl::InvalidArgumentError("version must be positive and within the version range");
    }
  }
  auto held_version = [store](const std::string& name) {
    std::optional<v1::FileInfo> held = store->Lookup(name);
    return held ? held->version() : int64_t{0};
  };
  for (const v1::NameVersion& f : req.files()) {
    v1::VerifyResult* r = reply->add_results();
    r->set_name(f.name());
    absl::Status st = store->CheckStored(f.name(), f.version());
    const int64_t held = held_version(f.name());
    r->set_held_version(held);
    if (held > f.version()) continue;  // replaced meanwhile: nothing wrong with this copy
    r->set_present(held == f.version() && !absl::IsNotFound(st));
    r->set_checksum_ok(r->present() && st.ok());
    if (r->checksum_ok()) continue;
    // Expected here, but missing (or older) or bad: the NameServer must stop counting it.
    if (!r->present()) st = absl::NotFoundError("missing");
    r->set_problem(std::string(st.message()));
    bad(f.name(), f.version(), st);
  }
  return absl::OkStatus();
}

}  // namespace chainfs::filestore
