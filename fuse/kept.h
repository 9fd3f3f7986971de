// Staged files kept after a failed close (the FUSE contract: never silently dropped).
// Next to each kept staging file `staged-N` lies `staged-N.kept`, a v1::FileInfo naming the
// chainfs path and attributes it was to be stored under. Kept files of every mount that
// used the same cache directory are bounded together (oldest discarded first, each with an
// error log line), can be listed (`chainfs-mount --list-kept`) and uploaded again
// (`chainfs-mount --retry-kept`), which removes each one that is then stored.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/client/chain_upload.h"
#include "common/client/filestore_api.h"
#include "common/client/nameserver_api.h"
#include "proto/chainfs.pb.h"

namespace chainfs::mount {

struct KeptLimits {
  int64_t max_bytes = int64_t{4} << 30;
  int max_files = 1000;
};

struct KeptFile {
  std::string staged;  // the staging file with the bytes
  v1::FileInfo file;   // name and attributes to store it under
  int64_t size = 0;
  int64_t mtime_ns = 0;  // when it was kept
};

// Records `staged` as kept for `file`, then enforces `limits` over every kept file under
// `base` (the cache base: one staging directory per mount beneath it).
absl::Status KeepStaged(const std::string& base, const std::string& staged,
                        const v1::FileInfo& file, const KeptLimits& limits);
// Forgets the record (the staged file was stored after all); the bytes go with the file.
void ForgetKept(const std::string& staged);
// Every kept file under `base`, oldest first.
std::vector<KeptFile> ListKept(const std::string& base);
// Drops the oldest kept files beyond `limits`; returns how many were dropped.
int EnforceKeptLimits(const std::string& base, const KeptLimits& limits);
// Uploads every kept file to its path through a Client (a new version, as its close would
// have made); removes the ones stored. Returns how many remain (failed), with one log line each.
int RetryKept(const std::string& base, NameServerApi* nameserver, FileStoreApi* filestores,
              const UploadRetrySettings& retry);

}  // namespace chainfs::mount
