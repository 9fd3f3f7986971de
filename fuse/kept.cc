#include "fuse/kept.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "common/client/client.h"
#include "common/file_util.h"
#include "common/log.h"
#include "common/status.h"

namespace chainfs::mount {

namespace {

constexpr char kSuffix[] = ".kept";

std::shared_ptr<spdlog::logger> Log() { return Logger("mount"); }

void Remove(const KeptFile& k) {
  ::unlink(k.staged.c_str());
  ::unlink((k.staged + kSuffix).c_str());
}

}  // namespace

absl::Status KeepStaged(const std::string& base, const std::string& staged,
                        const v1::FileInfo& file, const KeptLimits& limits) {
  CHAINFS_RETURN_IF_ERROR(WriteFileAtomically(staged + kSuffix, file.SerializeAsString()));
  EnforceKeptLimits(base, limits);
  return absl::OkStatus();
}

void ForgetKept(const std::string& staged) { ::unlink((staged + kSuffix).c_str()); }

std::vector<KeptFile> ListKept(const std::string& base) {
  std::vector<KeptFile> out;
  std::error_code ec;
  for (const auto& dir : std::filesystem::directory_iterator(base, ec)) {
    if (!dir.is_directory(ec)) continue;
    for (const auto& e : std::filesystem::directory_iterator(dir.path(), ec)) {
      std::string record = e.path().string();
      if (!record.ends_with(kSuffix)) continue;
      KeptFile k;
      k.staged = record.substr(0, record.size() - std::strlen(kSuffix));
      absl::StatusOr<std::string> bytes = ReadFileToString(record);
      struct stat st;
      if (!bytes.ok() || !k.file.ParseFromString(*bytes) || ::stat(k.staged.c_str(), &st) != 0) {
        continue;
      }
      k.size = st.st_size;
      struct stat rst;
      k.mtime_ns = ::stat(record.c_str(), &rst) == 0
                       ? int64_t{rst.st_mtim.tv_sec} * 1'000'000'000 + rst.st_mtim.tv_nsec
                       : 0;
      out.push_back(std::move(k));
    }
  }
  std::sort(out.begin(), out.end(), [](const KeptFile& a, const KeptFile& b) {
    return a.mtime_ns != b.mtime_ns ? a.mtime_ns < b.mtime_ns : a.staged < b.staged;
  });
  return out;
}

int EnforceKeptLimits(const std::string& base, const KeptLimits& limits) {
  std::vector<KeptFile> kept = ListKept(base);
  int64_t bytes = 0;
  for (const KeptFile& k : kept) bytes += k.size;
  int dropped = 0;
  for (size_t i = 0; i < kept.size(); ++i) {
    size_t files = kept.size() - i;
    if (bytes <= limits.max_bytes && files <= static_cast<size_t>(limits.max_files)) break;
    Log()->error("discarded the kept data of {} ({} bytes, {}): over the limit of kept files",
                 kept[i].file.name(), kept[i].size, kept[i].staged);
    Remove(kept[i]);
    bytes -= kept[i].size;
    ++dropped;
  }
  return dropped;
}

int RetryKept(const std::string& base, NameServerApi* nameserver, FileStoreApi* filestores,
              const UploadRetrySettings& retry) {
  Client client(nameserver, filestores, retry);
  int failed = 0;
  for (const KeptFile& k : ListKept(base)) {
    int fd = ::open(k.staged.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      ++failed;
      Log()->error("cannot open kept {}: {}", k.staged, std::strerror(errno));
      continue;
    }
    auto stored = client.UploadFd(k.file, fd);
    ::close(fd);
    if (stored.ok()) {
      Log()->info("stored kept {} as {} version {}", k.staged, k.file.name(),
                  stored->file().version());
      Remove(k);
    } else {
      ++failed;
      Log()->error("could not store kept {} as {}: {}", k.staged, k.file.name(),
                   std::string(stored.status().message()));
    }
  }
  return failed;
}

}  // namespace chainfs::mount
