#include "tools/fsck.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "common/duration.h"
#include "common/names.h"
#include "common/status.h"

namespace chainfs::cli {
namespace {

// A name to check: its latest version and the FileStores the NameServer says hold it.
struct Target {
  std::string name;
  int64_t version = 0;
  std::vector<std::string> holders;
  int good = 0;
  bool changed = false;
};

// Every entry (version > 0) at or beneath `path`, in listing order.
absl::Status Walk(NameServerApi* ns, const std::string& path, std::vector<std::string>* names) {
  CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo self, ns->StatPath(path));
  if (self.version() > 0) names->push_back(path);
  if (self.kind() != v1::KIND_DIRECTORY) return absl::OkStatus();
  std::string after;
  while (true) {
    v1::ListDirectoryRequest req;
    req.set_path(path);
    req.set_start_after(after);
    absl::StatusOr<v1::ListDirectoryReply> page = ns->ListDirectory(req);
    if (absl::IsNotFound(page.status())) return absl::OkStatus();  // gone meanwhile
    CHAINFS_RETURN_IF_ERROR(page.status());
    for (const v1::FileInfo& child : page->entries()) {
      const std::string name = JoinName(path, child.name());
      if (child.kind() == v1::KIND_DIRECTORY) {
        absl::Status st = Walk(ns, name, names);
        if (!st.ok() && !absl::IsNotFound(st)) return st;
      } else if (child.version() > 0) {
        names->push_back(name);
      }
      after = child.name();
    }
    if (!page->more() || page->entries_size() == 0) return absl::OkStatus();
  }
}

// The latest version of `name` and its holders; nullopt when it is gone (deleted meanwhile).
absl::StatusOr<std::optional<v1::DoReadReply>> ReadLatest(NameServerApi* ns,
                                                          const std::string& name) {
  v1::DoReadRequest req;
  req.set_path(name);
  absl::StatusOr<v1::DoReadReply> read = ns->DoRead(req);
  if (absl::IsNotFound(read.status())) return std::nullopt;
  CHAINFS_RETURN_IF_ERROR(read.status());
  return std::move(*read);
}

// The NameServer's view of each name; names deleted meanwhile are left out.
absl::StatusOr<std::vector<Target>> Resolve(NameServerApi* ns,
                                            const std::vector<std::string>& names) {
  std::vector<Target> targets;
  for (const std::string& name : names) {
    CHAINFS_ASSIGN_OR_RETURN(std::optional<v1::DoReadReply> read, ReadLatest(ns, name));
    if (!read) continue;
    // A hard link's copies are its inode's, stored under the inode name.
    targets.push_back({read->read_name().empty() ? name : read->read_name(),
                       read->file().version(),
                       {read->holders().begin(), read->holders().end()}});
  }
  return targets;
}

// Asks every holder about its copies; counts good ones in the targets, records problems.
void VerifyCopies(FileStoreApi* filestores, int batch, std::vector<Target>* targets,
                  FsckReport* report) {
  std::map<std::string, std::vector<size_t>> by_holder;
  for (size_t i = 0; i < targets->size(); ++i) {
    for (const std::string& h : (*targets)[i].holders) by_holder[h].push_back(i);
  }
  for (const auto& [holder, indexes] : by_holder) {
    for (size_t start = 0, end = 0; start < indexes.size(); start = end) {
      end = NameBatchEnd(start, indexes.size(), static_cast<size_t>(batch),
                         [&](size_t k) { return (*targets)[indexes[k]].name.size(); });
      v1::VerifyRequest req;
      for (size_t k = start; k < end; ++k) {
        v1::NameVersion* f = req.add_files();
        f->set_name((*targets)[indexes[k]].name);
        f->set_version((*targets)[indexes[k]].version);
      }
      absl::StatusOr<v1::VerifyReply> reply = filestores->Verify(holder, req);
      for (size_t k = start; k < end; ++k) {
        Target& t = (*targets)[indexes[k]];
        if (!reply.ok()) {
          report->problems.push_back(
              {t.name, fmt::format("not verified: {}", std::string(reply.status().message())),
               holder});
          continue;
        }
        const v1::VerifyResult& r = reply->results(static_cast<int>(k - start));
        if (r.checksum_ok()) {
          ++t.good;
        } else if (r.held_version() > t.version) {
          t.changed = true;
        } else if (!r.present()) {
          report->problems.push_back({t.name,
                                      r.held_version() == 0
                                          ? fmt::format("copy of version {} missing", t.version)
                                          : fmt::format("copy of version {} missing (holds {})",
                                                        t.version, r.held_version()),
                                      holder});
        } else {
          report->problems.push_back(
              {t.name, fmt::format("copy of version {} corrupt: {}", t.version, r.problem()),
               holder});
        }
      }
    }
  }
}

}  // namespace

absl::StatusOr<FsckReport> CheckNamespace(NameServerApi* ns, FileStoreApi* filestores,
                                          const FsckOptions& options) {
  CHAINFS_RETURN_IF_ERROR(ValidateName(options.path, /*allow_root=*/true));
  if (options.batch <= 0) return absl::InvalidArgumentError("batch must be positive");
  FsckReport report;
  CHAINFS_ASSIGN_OR_RETURN(v1::StatFsReply fs, ns->StatFs(v1::StatFsRequest()));
  CHAINFS_ASSIGN_OR_RETURN(v1::ClusterStatusReply status,
                           ns->ClusterStatus(v1::ClusterStatusRequest()));
  report.live_filestores = status.filestores_size();
  report.replication = std::min(fs.replication(), report.live_filestores);
  std::vector<std::string> names;
  CHAINFS_RETURN_IF_ERROR(Walk(ns, options.path, &names));
  CHAINFS_ASSIGN_OR_RETURN(std::vector<Target> targets, Resolve(ns, names));
  VerifyCopies(filestores, options.batch, &targets, &report);
  // A name replaced while it was checked is checked once more at its new version.
  std::vector<std::string> changed;
  for (const Target& t : targets) {
    if (t.changed) changed.push_back(t.name);
  }
  std::erase_if(targets, [](const Target& t) { return t.changed; });
  if (!changed.empty()) {
    CHAINFS_ASSIGN_OR_RETURN(std::vector<Target> again, Resolve(ns, changed));
    VerifyCopies(filestores, options.batch, &again, &report);
    for (Target& t : again) {
      if (t.changed) ++report.changed;
      if (!t.changed) targets.push_back(std::move(t));
    }
  }
  for (const Target& t : targets) {
    ++report.names;
    report.good_copies += t.good;
    if (t.good < report.replication) {
      report.under_replicated.push_back(t.name);
      report.problems.push_back(
          {t.name, fmt::format("{} good copies of {} wanted", t.good, report.replication), ""});
    }
  }
  std::stable_sort(report.problems.begin(), report.problems.end(),
                   [](const FsckProblem& a, const FsckProblem& b) { return a.name < b.name; });
  return report;
}

void PrintReport(const FsckReport& report, const std::string& path, std::FILE* out) {
  for (const FsckProblem& p : report.problems) {
    if (p.filestore.empty()) {
      fmt::print(out, "{}: {}\n", p.name, p.what);
    } else {
      fmt::print(out, "{}: {} on {}\n", p.name, p.what, p.filestore);
    }
  }
  fmt::print(
      out,
      "checked {} names under {}: {} good copies, {} under-replicated names, {} problems "
      "(replication {} on {} live FileStores{})\n",
      report.names, path, report.good_copies, report.under_replicated.size(),
      report.problems.size(), report.replication, report.live_filestores,
      report.changed > 0 ? fmt::format("; {} names changed while checked", report.changed) : "");
  fmt::print(out, "status: {}\n", report.healthy() ? "HEALTHY" : "UNHEALTHY");
}

namespace {

// Whether every name has at least `want` holders (or is gone) by the NameServer's count.
absl::StatusOr<bool> FullyReplicated(NameServerApi* ns, const std::vector<std::string>& names,
                                     int want) {
  for (const std::string& name : names) {
    CHAINFS_ASSIGN_OR_RETURN(std::optional<v1::DoReadReply> read, ReadLatest(ns, name));
    if (read && read->holders_size() < want) return false;
  }
  return true;
}

absl::Status Repair(NameServerApi* ns, const FsckReport& report, const FsckOptions& options,
                    const Clock* clock, std::FILE* out) {
  std::set<std::string> unique(report.under_replicated.begin(), report.under_replicated.end());
  const std::vector<std::string> names(unique.begin(), unique.end());
  if (names.empty()) return absl::OkStatus();
  constexpr int kPerCall = 10'000;
  int64_t queued = 0;
  for (size_t start = 0; start < names.size(); start += kPerCall) {
    v1::ReplicateRequest req;
    for (size_t i = start; i < std::min(names.size(), start + kPerCall); ++i) {
      req.add_paths(names[i]);
    }
    CHAINFS_ASSIGN_OR_RETURN(v1::ReplicateReply reply, ns->Replicate(req));
    queued += reply.under_replicated();
  }
  fmt::print(out, "repair: replication asked for {} names ({} short now); waiting up to {}\n",
             names.size(), queued, FormatDuration(options.timeout));
  const TimePoint deadline = clock->Now() + options.timeout;
  while (true) {
    CHAINFS_ASSIGN_OR_RETURN(bool done, FullyReplicated(ns, names, report.replication));
    if (done) {
      fmt::print(out, "repair: every name is back at {} copies; checking again\n",
                 report.replication);
      return absl::OkStatus();
    }
    if (clock->Now() >= deadline) {
      fmt::print(out, "repair: not every name is back at full replication after {}\n",
                 FormatDuration(options.timeout));
      return absl::OkStatus();
    }
    clock->SleepUntil(std::min(deadline, clock->Now() + options.poll_interval));
  }
}

}  // namespace

absl::StatusOr<bool> RunFsck(NameServerApi* ns, FileStoreApi* filestores,
                             const FsckOptions& options, const Clock* clock, std::FILE* out) {
  if (options.timeout <= Duration::zero() || options.poll_interval <= Duration::zero()) {
    return absl::InvalidArgumentError("--timeout and the poll interval must be positive");
  }
  CHAINFS_ASSIGN_OR_RETURN(FsckReport report, CheckNamespace(ns, filestores, options));
  PrintReport(report, options.path, out);
  if (report.healthy() || !options.repair) return report.healthy();
  CHAINFS_RETURN_IF_ERROR(Repair(ns, report, options, clock, out));
  CHAINFS_ASSIGN_OR_RETURN(report, CheckNamespace(ns, filestores, options));
  PrintReport(report, options.path, out);
  return report.healthy();
}

}  // namespace chainfs::cli
