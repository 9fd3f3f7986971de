// The object store's metas on disk (their format) and start-up recovery: leftovers of a crash
// removed, the newest intact meta of each name kept (after an unclean stop, verified against
// its checksums when the last completed flush may not cover it), the index rebuilt from them.
#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <map>
#include <set>

#include "common/status.h"
#include "servers/filestore/object_meta.pb.h"
#include "servers/filestore/object_store.h"
#include "servers/filestore/object_store_internal.h"

namespace chainfs::filestore {

std::string ObjectMeta::Serialize() const {
  ObjectMetaRecord record;
  v1::FileInfo unnamed = file;
  unnamed.clear_name();
  record.set_file(unnamed.SerializeAsString());
  record.set_name(file.name());
  record.set_checksum(checksum);
  record.set_checksum_format(checksum_format);
  record.set_block_bytes(block_bytes);
  record.mutable_block_checksums()->Add(block_checksums.begin(), block_checksums.end());
  record.set_inline_content(inline_content);
  record.set_content(content);
  return record.SerializeAsString();
}

bool ObjectMeta::Parse(const std::string& bytes) {
  ObjectMetaRecord record;
  if (!record.ParseFromString(bytes) || !file.ParseFromString(record.file())) return false;
  file.set_name(record.name());
  checksum = record.checksum();
  checksum_format = record.checksum_format();
  if (checksum_format > kBlockListChecksum) return false;  // a form this build does not know
  block_bytes = record.block_bytes();
  block_checksums.assign(record.block_checksums().begin(), record.block_checksums().end());
  inline_content = record.inline_content();
  content = std::move(*record.mutable_content());
  return true;
}

absl::Status ObjectStore::Recover() {
  const int64_t started = clock_->WallNanos();
  const std::string objects = options_.dir + "/objects";
  CHAINFS_RETURN_IF_ERROR(env_->MakeDirectories(objects));
  CHAINFS_RETURN_IF_ERROR(env_->SyncDirectory(options_.dir));
  CHAINFS_ASSIGN_OR_RETURN(std::vector<std::string> shards, env_->ListDirectory(objects));
  if (auto text = ReadFileToString(options_.dir + "/minver", env_); text.ok()) {
    min_version_ = std::strtoll(text->c_str(), nullptr, 10);
  }
  ReadFlushMarker();
  std::map<std::string, std::pair<std::shared_ptr<ObjectMeta>, std::string>> newest;
  std::vector<std::string> data_files;
  for (const std::string& prefix : shards) {
    if (prefix.size() != 2 || !std::isxdigit(prefix[0]) || !std::isxdigit(prefix[1])) continue;
    shards_.insert(prefix);
    std::string shard = fmt::format("{}/{}", objects, prefix);
    CHAINFS_ASSIGN_OR_RETURN(std::vector<std::string> files, env_->ListDirectory(shard));
    for (const std::string& file : files) {
      std::string path = fmt::format("{}/{}", shard, file);
      if (internal::EndsWith(file, kTempSuffix)) {
        internal::Log()->info("recovery: removing leftover {}", path);
        RemoveFile(path);
      } else if (internal::EndsWith(file, ".data")) {
        data_files.push_back(path);
      } else if (internal::EndsWith(file, ".meta")) {
        auto meta = std::make_shared<ObjectMeta>();
        auto bytes = ReadFileToString(path, env_);
        if (!bytes.ok() || !meta->Parse(*bytes) ||
            ObjectPath(meta->file.name(), meta->file.version(), true) != path) {
          internal::Log()->warn("recovery: removing unreadable meta {}", path);
          RemoveFile(path);
          continue;
        }
        if (NeedsVerifying(path)) {
          if (!VerifyObject(*meta)) {
            RemoveFile(path);
            continue;
          }
        }
        if (meta->inline_content) {
          // Checked here and not kept: the index holds no content.
          bool intact = static_cast<int64_t>(meta->content.size()) == meta->file.size();
          meta->content.clear();
          meta->content.shrink_to_fit();
          if (!intact) {
            internal::Log()->warn("recovery: {}@{} has no intact content, dropped",
                                  meta->file.name(), meta->file.version());
            RemoveFile(path);
            continue;
          }
        }
        auto& slot = newest[meta->file.name()];
        if (slot.first && slot.first->file.version() >= meta->file.version()) {
          RemoveFile(path);
          continue;
        }
        if (slot.first) RemoveFile(slot.second);
        slot = {std::move(meta), path};
      }
    }
  }
  std::set<std::string> wanted_data;
  for (auto& [name, slot] : newest) {
    const v1::FileInfo& info = slot.first->file;
    if (info.version() < min_version_) {
      RemoveFile(slot.second);
      continue;
    }
    if (!slot.first->inline_content && !info.tombstone()) {
      std::string data = ObjectPath(name, info.version(), false);
      absl::StatusOr<int64_t> size = env_->FileSize(data);
      if (!size.ok() || *size != info.size()) {
        internal::Log()->warn("recovery: {}@{} has no intact content, dropped", name,
                              info.version());
        RemoveFile(slot.second);
        continue;
      }
      wanted_data.insert(data);
    }
    Account(info, +1);
    index_[name] = Entry{std::move(slot.first)};
  }
  for (const std::string& path : data_files) {
    if (!wanted_data.contains(path)) {
      internal::Log()->info("recovery: removing uncommitted {}", path);
      RemoveFile(path);
    }
  }
  CHAINFS_RETURN_IF_ERROR(EndRecovery(started));
  internal::Log()->info("recovered {} objects and tombstones ({} bytes) from {}", index_.size(),
                        used_, options_.dir);
  return absl::OkStatus();
}

}  // namespace chainfs::filestore
