// `chainfs fsck [PATH] [--repair]`: walks the namespace under PATH and asks each name's
// holders (the FileStores' Verify call) whether they have its latest version with content that
// matches its checksums; counts the good copies against the replication factor (or the live
// FileStores, when fewer). A holder that turns out to miss its copy, or to hold a corrupt one,
// drops it and reports it, so the NameServer stops counting it. With --repair, the names short
// of copies are handed to the NameServer's Replicate call, fsck waits (at most --timeout) until
// they are back at full replication, and checks everything again.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/client/filestore_api.h"
#include "common/client/nameserver_api.h"
#include "common/clock.h"

namespace chainfs::cli {

struct FsckOptions {
  std::string path = "/";
  bool repair = false;
  // --repair: how long to wait for full replication, and how often to look.
  Duration timeout = std::chrono::seconds(60);
  Duration poll_interval = std::chrono::milliseconds(200);
  // Names per Verify call (the FileStore takes at most 1000).
  int batch = 1000;
};

// One thing wrong with one name: `filestore` is the holder concerned ("" for the name as a
// whole, such as too few copies).
struct FsckProblem {
  std::string name;
  std::string what;
  std::string filestore;
};

struct FsckReport {
  int64_t names = 0;        // names checked
  int64_t good_copies = 0;  // copies of the latest version that verified
  int64_t changed = 0;      // names that changed while being checked (not problems)
  int replication = 0;      // copies each name should have
  int live_filestores = 0;
  std::vector<FsckProblem> problems;
  std::vector<std::string> under_replicated;  // names with fewer good copies than replication
  bool healthy() const { return problems.empty(); }
};

// One pass over the namespace under options.path; INVALID_ARGUMENT for a bad path.
absl::StatusOr<FsckReport> CheckNamespace(NameServerApi* ns, FileStoreApi* filestores,
                                          const FsckOptions& options);

// Prints each problem and a summary to `out`.
void PrintReport(const FsckReport& report, const std::string& path, std::FILE* out);

// The whole command: check, print, and with options.repair replicate, wait and check again.
// Returns whether the namespace is healthy at the end.
absl::StatusOr<bool> RunFsck(NameServerApi* ns, FileStoreApi* filestores,
                             const FsckOptions& options, const Clock* clock, std::FILE* out);

}  // namespace chainfs::cli
