#include "common/client/client.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <future>

#include "common/client/nameserver_rules.h"
#include "common/client/xattr_rules.h"
#include "common/file_util.h"
#include "common/log.h"
#include "common/names.h"
#include "common/status.h"

namespace chainfs {

namespace {

bool IsDirectory(const v1::FileInfo& info) { return info.kind() == v1::KIND_DIRECTORY; }

v1::FileInfo Entry(const std::string& path, v1::Kind kind, const v1::Attributes& attributes) {
  v1::FileInfo file;
  file.set_name(path);
  file.set_kind(kind);
  *file.mutable_attributes() = attributes;
  return file;
}

}  // namespace

Client::Client(NameServerApi* nameserver, FileStoreApi* filestores, UploadRetrySettings retry,
               const Clock* clock)
    : nameserver_(nameserver), filestores_(filestores), retry_(retry), clock_(clock) {}

absl::StatusOr<v1::CreateReply> Client::Run(const v1::FileInfo& file, const UploadOptions& options,
                                            const Attempt& attempt) {
  v1::DoCreateRequest req;
  req.set_path(file.name());
  req.set_exclusive(options.exclusive);
  req.set_expected_size(options.expected_size);
  req.set_base_version(options.base_version);
  v1::CreateReply committed;
  CHAINFS_RETURN_IF_ERROR(
      CreateWithRetry(
          nameserver_, req,
          [&](const v1::DoCreateReply& created) -> absl::StatusOr<v1::CreateReply> {
            v1::FileInfo info = file;
            // Through a hard link, the content goes to the inode name the token is signed for.
            if (!created.write_name().empty()) info.set_name(created.write_name());
            info.set_version(created.version());
            info.set_size(0);
            info.set_tombstone(false);
            CHAINFS_ASSIGN_OR_RETURN(
                committed,
                attempt(info, {created.chain().begin(), created.chain().end()}, created.token()));
            return committed;
          },
          retry_, file.name(), clock_)
          .status());
  return committed;
}

absl::StatusOr<v1::CreateReply> Client::Upload(const v1::FileInfo& file,
                                               const SourceForAttempt& source,
                                               const UploadOptions& options) {
  return Run(file, options,
             [&](const v1::FileInfo& info, const std::vector<std::string>& chain,
                 const std::string& token) -> absl::StatusOr<v1::CreateReply> {
               CHAINFS_ASSIGN_OR_RETURN(ContentSource content, source(info.version()));
               return filestores_->Create(info, chain, content, options.expected_size, token);
             });
}

absl::StatusOr<v1::CreateReply> Client::UploadFd(const v1::FileInfo& file, int fd,
                                                 const UploadOptions& options) {
  const off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < 0) return ErrnoStatus("size of upload source", errno);
  int64_t changed = 0;
  for (const DataExtent& range : options.changed) {
    changed += std::max<int64_t>(0, std::min<int64_t>(range.end, size) - range.offset);
  }
  // Worth it past one CreateSmall call, and when most of the content stays where it is.
  if (options.base_version > 0 && size > static_cast<off_t>(kMaxChunkBytes) && changed * 2 < size) {
    auto on_base = Run(
        file, options,
        [&](const v1::FileInfo& info, const std::vector<std::string>& chain,
            const std::string& token) -> absl::StatusOr<v1::CreateReply> {
          CHAINFS_ASSIGN_OR_RETURN(auto stream,
                                   filestores_->OpenCreateStream(info, chain, size, nullptr, token,
                                                                 options.base_version));
          CHAINFS_RETURN_IF_ERROR(SendChanges(*stream, fd, size, options.changed, kMaxChunkBytes));
          return stream->Finish();
        });
    if (!IsBaseMissing(on_base.status())) return on_base;
    Logger("client")->debug("{}: {}; uploading all of it", file.name(),
                            std::string(on_base.status().message()));
  }
  UploadOptions whole = options;
  whole.base_version = 0;
  return Run(
      file, whole,
      [&](const v1::FileInfo& info, const std::vector<std::string>& chain,
          const std::string& token) { return filestores_->CreateFromFd(info, chain, fd, token); });
}

absl::StatusOr<v1::CreateReply> Client::UploadString(const v1::FileInfo& file,
                                                     std::string_view content,
                                                     const UploadOptions& options) {
  return Run(file, options,
             [&](const v1::FileInfo& info, const std::vector<std::string>& chain,
                 const std::string& token) {
               return filestores_->CreateFromString(info, chain, content, true, token);
             });
}

absl::StatusOr<v1::CreateReply> Client::Mkdir(const std::string& path,
                                              const v1::Attributes& attributes) {
  return UploadString(Entry(path, v1::KIND_DIRECTORY, attributes), "", {.exclusive = true});
}

absl::Status Client::FlushToDisk(const std::string& path) {
  v1::DoReadRequest req;
  req.set_path(path);
  absl::StatusOr<v1::DoReadReply> found = nameserver_->DoRead(req);
  if (absl::IsNotFound(found.status())) return absl::OkStatus();  // deleted: nothing to keep
  CHAINFS_ASSIGN_OR_RETURN(v1::DoReadReply holders, std::move(found));
  std::vector<std::future<absl::Status>> flushes;
  for (const std::string& holder : holders.holders()) {
    flushes.push_back(std::async(std::launch::async, [this, holder, &holders] {
      return filestores_->Flush(holder, holders.file().name(), holders.file().version());
    }));
  }
  absl::Status st;
  for (auto& flush : flushes) st.Update(flush.get());
  return st;
}

absl::Status Client::MkdirAll(const std::string& path, const v1::Attributes& attributes) {
  if (path == "/") return absl::OkStatus();
  absl::StatusOr<v1::FileInfo> existing = nameserver_->StatPath(path);
  if (existing.ok() && existing->version() != 0) {
    if (IsDirectory(*existing)) return absl::OkStatus();
    return absl::AlreadyExistsError(fmt::format("{} exists and is not a directory", path));
  }
  if (!existing.ok() && !absl::IsNotFound(existing.status())) return existing.status();
  CHAINFS_RETURN_IF_ERROR(MkdirAll(std::string(ParentOf(path)), attributes));
  // An implied directory gets an entry of its own (not exclusively: it already exists).
  absl::Status made =
      UploadString(Entry(path, v1::KIND_DIRECTORY, attributes), "", {.exclusive = !existing.ok()})
          .status();
  if (absl::IsAlreadyExists(made)) {
    // Someone else made it meanwhile: fine if it is a directory.
    CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo now, nameserver_->StatPath(path));
    return IsDirectory(now) ? absl::OkStatus() : made;
  }
  return made;
}

absl::StatusOr<v1::CreateReply> Client::Symlink(const std::string& path, std::string_view target,
                                                const v1::Attributes& attributes) {
  return UploadString(Entry(path, v1::KIND_SYMLINK, attributes), target, {.exclusive = true});
}

absl::StatusOr<v1::CreateReply> Client::MakeSpecial(const std::string& path, v1::Kind kind,
                                                    const v1::Attributes& attributes) {
  if (!IsSpecialKind(kind)) return absl::InvalidArgumentError("not a special file kind");
  return UploadString(Entry(path, kind, attributes), "", {.exclusive = true});
}

absl::Status Client::CheckRenameTarget(const std::string& from, bool source_is_directory,
                                       const std::string& to, bool no_replace) {
  if (IsUnder(to, from)) return RenameBeneathItselfError(from, to);
  absl::StatusOr<v1::FileInfo> target = nameserver_->StatPath(to);
  if (absl::IsNotFound(target.status())) return absl::OkStatus();
  CHAINFS_RETURN_IF_ERROR(target.status());
  target->set_name(to);
  absl::Status children_unknown;
  absl::Status verdict = CheckRenameOver(source_is_directory, *target, no_replace, [&] {
    v1::ListDirectoryRequest list;
    list.set_path(to);
    list.set_limit(1);
    absl::StatusOr<v1::ListDirectoryReply> children = nameserver_->ListDirectory(list);
    children_unknown = children.status();
    return children.ok() && children->entries_size() > 0;
  });
  CHAINFS_RETURN_IF_ERROR(children_unknown);
  return verdict;
}

absl::Status Client::Rename(const std::string& from, const std::string& to, bool no_replace) {
  if (from == to) return absl::OkStatus();
  if (IsUnder(to, from)) return RenameBeneathItselfError(from, to);
  CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo source, nameserver_->StatPath(from));
  CHAINFS_RETURN_IF_ERROR(CheckRenameTarget(from, IsDirectory(source), to, no_replace));
  v1::RenameRequest req;
  req.set_from(from);
  req.set_to(to);
  req.set_no_replace(no_replace);
  return nameserver_->Rename(req).status();
}

}  // namespace chainfs
