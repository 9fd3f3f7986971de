#include "servers/filestore/filestore_service.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "common/checksum.h"
#include "common/client/filestore_channels.h"
#include "common/client/xattr_rules.h"
#include "common/log.h"
#include "common/names.h"
#include "common/settings.h"
#include "common/status.h"
#include "servers/filestore/log.h"
#include "servers/filestore/verify.h"

namespace chainfs::filestore {
namespace {

constexpr int kMaxChain = 16;
constexpr size_t kListBatchBytes = 1 << 20;

absl::Status ValidateAddress(const std::string& address) {
  absl::Status st = ValidateFileStoreAddress(address);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("bad FileStore address: {}", std::string(st.message())));
  }
  return absl::OkStatus();
}

absl::Status ValidateVersion(int64_t version) {
  if (version <= 0 || version > kMaxVersion) {
    return absl::InvalidArgumentError(fmt::format("bad version {}", version));
  }
  return absl::OkStatus();
}

}  // namespace

class FileStoreService::StreamSlot {
 public:
  StreamSlot(FileStoreService* service, grpc::ServerContext* ctx) : service_(service), ctx_(ctx) {
    ok_ = ++service_->streams_ <= service_->settings_.max_streams;
    std::lock_guard lock(service_->streams_mu_);
    service_->stream_deadlines_[ctx_] =
        service_->clock_->Now() + service_->settings_.stream_timeout;
  }
  ~StreamSlot() {
    --service_->streams_;
    std::lock_guard lock(service_->streams_mu_);
    service_->stream_deadlines_.erase(ctx_);
  }
  bool ok() const { return ok_; }

 private:
  FileStoreService* service_;
  grpc::ServerContext* ctx_;
  bool ok_;
};

FileStoreService::FileStoreService(ObjectStore* store, FileStoreApi* filestores, Reporter* reporter,
                                   FileStoreSettings settings, const Clock* clock,
                                   prometheus::Registry* registry)
    : store_(store),
      filestores_(filestores),
      settings_(std::move(settings)),
      reporter_(reporter),
      clock_(clock),
      watchdog_([this] { Watchdog(); }),
      chain_errors_(NewCounter(RegistryOr(registry, own_registry_),
                               "chainfs_filestore_chain_forward_errors_total",
                               "Creates whose forwarding to the next FileStore of the chain "
                               "failed.")),
      received_bytes_(NewCounter(RegistryOr(registry, own_registry_),
                                 "chainfs_filestore_create_received_bytes_total",
                                 "Content bytes that Create and CreateSmall calls brought (what "
                                 "a base version supplied is not counted).")),
      base_builds_(NewCounter(RegistryOr(registry, own_registry_),
                              "chainfs_filestore_base_builds_total",
                              "New versions committed here on this FileStore's copy of a base "
                              "version: only their changes were received.")) {}

absl::Status FileStoreService::Forwarded(absl::Status status) {
  // A member without the base refuses a create on it: an answer, not a forwarding fault.
  if (!status.ok() && !IsBaseMissing(status)) chain_errors_.Increment();
  return status;
}

void FileStoreService::LogCreateFailure(const grpc::ServerContext* ctx,
                                        const absl::Status& status) {
  // A member without the base is expected now and then (the client sends the whole file
  // then): not an operator's concern.
  Log()->log(IsBaseMissing(status) ? spdlog::level::debug : spdlog::level::info,
             "create from {} failed: {}", ctx->peer(), std::string(status.message()));
}

FileStoreService::~FileStoreService() {
  ticker_.Stop();
  watchdog_.join();
}

void FileStoreService::Watchdog() {
  const Duration interval = settings_.watchdog_interval > Duration::zero()
                                ? settings_.watchdog_interval
                                : settings_.stream_timeout / 16;
  while (ticker_.WaitFor(interval)) {
    std::lock_guard lock(streams_mu_);
    for (auto& [ctx, deadline] : stream_deadlines_) {
      if (clock_->Now() >= deadline) {
        Log()->info("stream from {} exceeded the stream timeout: cancelled", ctx->peer());
        ctx->TryCancel();
        deadline = TimePoint::max();
      }
    }
  }
}

void FileStoreService::SetSelf(const std::string& self, Reporter* reporter) {
  std::lock_guard lock(mu_);
  settings_.self = self;
  reporter_ = reporter;
}

std::string FileStoreService::self() const {
  std::lock_guard lock(mu_);
  return settings_.self;
}

Reporter* FileStoreService::reporter() const {
  std::lock_guard lock(mu_);
  return reporter_;
}

absl::Status FileStoreService::Report(const v1::FileInfo& file) {
  if (Reporter* r = reporter()) return r->ReportNow(file);
  return absl::OkStatus();
}

absl::Status FileStoreService::CheckNewVersion(int64_t version) const {
  CHAINFS_RETURN_IF_ERROR(ValidateVersion(version));
  if (Reporter* r = reporter()) return r->CheckLease(version);
  return absl::OkStatus();
}

void FileStoreService::Corrupt(const std::string& name, int64_t version, const absl::Status& st) {
  Log()->error("corrupt replica {}@{}: {}", name, version, std::string(st.message()));
  store_->DropCorrupt(name, version);
  if (Reporter* r = reporter()) r->ReportBadReplica(name, version);
}

// ---------------------------------------------------------------------------------------
// Create

grpc::Status FileStoreService::Create(grpc::ServerContext* ctx,
                                      grpc::ServerReader<v1::CreateRequest>* reader,
                                      v1::CreateReply* reply) {
  StreamSlot slot(this, ctx);
  if (!slot.ok()) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many concurrent streams");
  }
  auto result = DoCreate(ctx, reader);
  if (!result.ok()) {
    LogCreateFailure(ctx, result.status());
    return ToGrpc(result.status());
  }
  *reply = std::move(*result);
  return grpc::Status::OK;
}

absl::Status FileStoreService::ValidateHeader(const v1::CreateHeader& header) const {
  const v1::FileInfo& file = header.file();
  CHAINFS_RETURN_IF_ERROR(ValidateName(file.name()));
  CHAINFS_RETURN_IF_ERROR(CheckNewVersion(file.version()));
  // The NameServer refuses other entries, so a store holding one could never register.
  CHAINFS_RETURN_IF_ERROR(ValidateEntry(file));
  if (header.expected_size() < 0) return absl::InvalidArgumentError("negative expected size");
  if (header.base_version() < 0 || header.base_version() >= file.version()) {
    return absl::InvalidArgumentError("base version not below the new version");
  }
  if (header.base_version() > 0 && file.kind() != v1::KIND_FILE) {
    return absl::InvalidArgumentError("only a file is built on a base version");
  }
  if (header.chain_size() > kMaxChain) return absl::InvalidArgumentError("chain is too long");
  for (const std::string& address : header.chain()) {
    CHAINFS_RETURN_IF_ERROR(ValidateAddress(address));
    if (address == self()) {
      return absl::InvalidArgumentError("chain names this FileStore twice");
    }
  }
  if (!tokens_) return absl::OkStatus();
  // Last: a token is used up only by a create that is otherwise fine.
  std::vector<std::string> tail = {self()};
  tail.insert(tail.end(), header.chain().begin(), header.chain().end());
  return tokens_->Check(header.token(), file.name(), file.version(), tail);
}

absl::StatusOr<v1::CreateReply> FileStoreService::Committed(const v1::FileInfo& info,
                                                            const v1::CreateHeader& header,
                                                            FileStoreApi::CreateCall* down,
                                                            const std::string& what) {
  v1::CreateReply reply;
  *reply.mutable_file() = info;
  reply.add_committed_on(self());
  // The members after this one that committed, as far as this one sent it: the NameServer
  // records no holder that this chain did not name.
  std::vector<std::string> also_on;
  absl::Status chain;
  if (down) {
    absl::StatusOr<v1::CreateReply> downstream = down->Finish();
    chain = Forwarded(downstream.status());
    const auto& sent_to = header.chain();
    for (int i = 0; chain.ok() && i < downstream->committed_on_size(); ++i) {
      const std::string& address = downstream->committed_on(i);
      if (std::find(sent_to.begin(), sent_to.end(), address) == sent_to.end()) continue;
      reply.add_committed_on(address);
      also_on.push_back(address);
    }
  }
  Reporter* r = reporter();
  if (header.forwarded() || !chain.ok()) {
    // The head reports this copy with its own; queued as well, so that the NameServer
    // learns of it even if the head dies before it reports, or the chain failed.
    if (r) r->ReportLater(info);
    CHAINFS_RETURN_IF_ERROR(chain);
  } else if (r) {
    // The head: one report for every member, and the client hears of success only once
    // the NameServer recorded it.
    CHAINFS_RETURN_IF_ERROR(r->ReportNow(info, also_on));
  }
  Log()->debug("committed {} ({} bytes)", what, info.size());
  return reply;
}

grpc::Status FileStoreService::CreateSmall(grpc::ServerContext* ctx,
                                           const v1::CreateSmallRequest* req,
                                           v1::CreateReply* reply) {
  // Counted with the streams: it holds as much as a stream of one chunk.
  StreamSlot slot(this, ctx);
  if (!slot.ok()) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many concurrent streams");
  }
  auto result = DoCreateSmall(ctx, *req);
  if (!result.ok()) {
    LogCreateFailure(ctx, result.status());
    return ToGrpc(result.status());
  }
  *reply = std::move(*result);
  return grpc::Status::OK;
}

absl::StatusOr<v1::CreateReply> FileStoreService::DoCreateSmall(grpc::ServerContext* ctx,
                                                                const v1::CreateSmallRequest& req) {
  CHAINFS_RETURN_IF_ERROR(ValidateHeader(req.header()));
  if (req.header().base_version() != 0) {
    return absl::InvalidArgumentError("CreateSmall does not build on a base version");
  }
  const v1::FileInfo& file = req.header().file();
  const std::string what = fmt::format("create {}@{}", file.name(), file.version());
  const std::string& content = req.content();
  if (content.size() > kMaxChunkBytes) {
    return absl::InvalidArgumentError(fmt::format("{}: {} bytes in one call, the limit is {}", what,
                                                  content.size(), kMaxChunkBytes));
  }
  received_bytes_.Increment(static_cast<double>(content.size()));
  // Verified before anything is forwarded or written.
  if (req.close().size() < 0) return absl::InvalidArgumentError("negative size in close");
  CHAINFS_RETURN_IF_ERROR(ValidateContentSize(file.kind(), req.close().size()));
  if (req.close().size() != static_cast<int64_t>(content.size()) ||
      req.close().checksum() != Checksum(content)) {
    return absl::DataLossError(
        fmt::format("{}: received {} bytes, the sender announced {} (or the checksum differs)",
                    what, content.size(), req.close().size()));
  }
  CHAINFS_ASSIGN_OR_RETURN(auto writer, store_->StartCreate(file, req.close().size()));

  // The rest of the chain stores its copy while this one does.
  std::unique_ptr<FileStoreApi::CreateCall> down;
  if (req.header().chain_size() > 0) {
    const std::vector<std::string> rest(req.header().chain().begin(), req.header().chain().end());
    CHAINFS_ASSIGN_OR_RETURN(
        down, filestores_->StartCreateSmall(file, rest, content, req.close().checksum(), ctx,
                                            req.header().token()));
  }
  CHAINFS_RETURN_IF_ERROR(writer->Append(content));
  CHAINFS_ASSIGN_OR_RETURN(v1::FileInfo info,
                           writer->Commit(req.close().size(), req.close().checksum()));
  return Committed(info, req.header(), down.get(), what);
}

// ---------------------------------------------------------------------------------------
// Read

grpc::Status FileStoreService::Read(
    grpc::ServerContext* ctx, grpc::ServerReaderWriter<v1::ReadReply, v1::ReadRequest>* stream) {
  StreamSlot slot(this, ctx);
  if (!slot.ok()) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many concurrent streams");
  }
  absl::Status st = DoRead(stream);
  if (!st.ok()) Log()->info("read from {} failed: {}", ctx->peer(), std::string(st.message()));
  return ToGrpc(st);
}

absl::Status FileStoreService::DoRead(
    grpc::ServerReaderWriter<v1::ReadReply, v1::ReadRequest>* stream) {
  v1::ReadRequest req;
  if (!stream->Read(&req)) return absl::OkStatus();
  if (!req.has_open()) return absl::InvalidArgumentError("read must start with open");
  const std::string name = req.open().name();
  CHAINFS_RETURN_IF_ERROR(ValidateName(name));
  if (req.open().version() < 0) return absl::InvalidArgumentError("negative version");
  CHAINFS_ASSIGN_OR_RETURN(auto object, store_->OpenObject(name, req.open().version()));
  const int64_t size = object->info().size();
  v1::ReadReply reply;
  *reply.mutable_info() = object->info();
  if (!stream->Write(reply)) return absl::OkStatus();

  // One reply, and so one data buffer, for every chunk of the stream.
  v1::DataChunk* chunk = reply.mutable_chunk();
  std::string* data = chunk->mutable_data();
  while (stream->Read(&req)) {
    if (!req.has_range()) return absl::InvalidArgumentError("expected a range after open");
    const int64_t offset = req.range().offset();
    const int64_t length = req.range().length();
    if (offset < 0 || length < 0) return absl::InvalidArgumentError("negative offset or length");
    const int64_t end = offset >= size ? offset : offset + std::min(length, size - offset);
    int64_t pos = offset;
    do {
      size_t n = static_cast<size_t>(std::min<int64_t>(kMaxChunkBytes, end - pos));
      data->resize(n);
      if (n > 0) {
        auto got = object->ReadAt(pos, n, data->data());
        if (!got.ok()) {
          if (got.status().code() == absl::StatusCode::kDataLoss) {
            Corrupt(name, object->info().version(), got.status());
          }
          return got.status();
        }
        if (*got != n) return absl::DataLossError(fmt::format("{}: short read", name));
      }
      chunk->set_offset(pos);
      pos += static_cast<int64_t>(n);
      chunk->set_last(pos >= end);
      if (!stream->Write(reply)) return absl::OkStatus();
    } while (pos < end);
  }
  return absl::OkStatus();
}

grpc::Status FileStoreService::ReadSmall(grpc::ServerContext* ctx, const v1::ReadSmallRequest* req,
                                         v1::ReadSmallReply* reply) {
  // Counted with the streams: it holds up to a chunk of content.
  StreamSlot slot(this, ctx);
  if (!slot.ok()) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many concurrent streams");
  }
  absl::Status st = DoReadSmall(*req, reply);
  if (!st.ok() && st.code() != absl::StatusCode::kNotFound) {
    Log()->info("read from {} failed: {}", ctx->peer(), std::string(st.message()));
  }
  return ToGrpc(st);
}

absl::Status FileStoreService::DoReadSmall(const v1::ReadSmallRequest& req,
                                           v1::ReadSmallReply* reply) {
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.name()));
  if (req.version() < 0) return absl::InvalidArgumentError("negative version");
  CHAINFS_ASSIGN_OR_RETURN(auto object, store_->OpenObject(req.name(), req.version()));
  const v1::FileInfo& info = object->info();
  if (info.tombstone()) return absl::NotFoundError(fmt::format("{} is deleted", req.name()));
  if (info.size() > static_cast<int64_t>(kMaxChunkBytes)) {
    return absl::FailedPreconditionError(fmt::format("{}@{} has {} bytes, over ReadSmall's {}",
                                                     req.name(), info.version(), info.size(),
                                                     kMaxChunkBytes));
  }
  std::string* content = reply->mutable_content();
  content->resize(static_cast<size_t>(info.size()));
  auto got = object->ReadAt(0, content->size(), content->data());
  if (got.ok() && *got != content->size()) got = absl::DataLossError("short read");
  if (!got.ok()) {
    if (got.status().code() == absl::StatusCode::kDataLoss) {
      Corrupt(req.name(), info.version(), got.status());
    }
    return got.status();
  }
  *reply->mutable_info() = info;
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// Unary calls

grpc::Status FileStoreService::Delete(grpc::ServerContext*, const v1::DeleteRequest* req,
                                      v1::DeleteReply*) {
  absl::Status st = ValidateName(req->name());
  if (st.ok()) st = CheckNewVersion(req->version());
  if (!st.ok()) return ToGrpc(st);
  auto info = store_->AddTombstone(req->name(), req->version());
  if (!info.ok()) return ToGrpc(info.status());
  // The NameServer asked for it and records it when this call succeeds: no second round
  // trip before the answer; the queued report covers a reply that got lost.
  if (Reporter* r = reporter()) r->ReportLater(*info);
  return grpc::Status::OK;
}

grpc::Status FileStoreService::ListFilesAndTombstones(
    grpc::ServerContext*, const v1::ListFilesAndTombstonesRequest*,
    grpc::ServerWriter<v1::FileInfoBatch>* writer) {
  v1::FileInfoBatch batch;
  size_t bytes = 0;
  for (v1::FileInfo& file : store_->List()) {
    bytes += file.ByteSizeLong();
    *batch.add_files() = std::move(file);
    if (bytes >= kListBatchBytes) {
      if (!writer->Write(batch)) return grpc::Status::OK;
      batch.Clear();
      bytes = 0;
    }
  }
  if (batch.files_size() > 0) writer->Write(batch);
  return grpc::Status::OK;
}

grpc::Status FileStoreService::CopyFile(grpc::ServerContext* ctx, const v1::CopyFileRequest* req,
                                        v1::CopyFileReply* reply) {
  StreamSlot slot(this, ctx);
  if (!slot.ok()) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many concurrent streams");
  }
  auto info = DoCopy(*ctx, *req);
  if (!info.ok()) {
    Log()->info("copy {}@{} failed: {}", req->name(), req->version(),
                std::string(info.status().message()));
    return ToGrpc(info.status());
  }
  *reply->mutable_file() = *info;
  return grpc::Status::OK;
}

absl::StatusOr<v1::FileInfo> FileStoreService::DoCopy(const grpc::ServerContext& ctx,
                                                      const v1::CopyFileRequest& req) {
  CHAINFS_RETURN_IF_ERROR(ValidateName(req.name()));
  if (req.version() < 0 || req.version() > kMaxVersion) {
    return absl::InvalidArgumentError("bad version");
  }
  if (req.sources().empty()) return absl::InvalidArgumentError("copy needs a source");
  std::vector<std::string> sources;
  for (const std::string& address : req.sources()) {
    CHAINFS_RETURN_IF_ERROR(ValidateAddress(address));
    if (address != self()) sources.push_back(address);
  }
  if (auto held = store_->Lookup(req.name()); held && held->version() == req.version()) {
    return *held;
  }
  // The source is read within the caller's deadline and cancelled with the caller.
  CHAINFS_ASSIGN_OR_RETURN(auto reader,
                           filestores_->OpenReader(req.name(), req.version(), sources, &ctx));
  const v1::FileInfo source = reader->info();
  if (source.name() != req.name() || source.version() <= 0 || source.version() > kMaxVersion) {
    return absl::DataLossError(fmt::format("copy {}: the source answered for {}@{}", req.name(),
                                           source.name(), source.version()));
  }
  if (auto held = store_->Lookup(req.name()); held && held->version() == source.version()) {
    return *held;
  }
  v1::FileInfo info;
  if (source.tombstone()) {
    CHAINFS_ASSIGN_OR_RETURN(info, store_->AddTombstone(source.name(), source.version()));
  } else {
    CHAINFS_ASSIGN_OR_RETURN(auto writer, store_->StartCreate(source, source.size()));
    std::string buf(kMaxChunkBytes, '\0');
    int64_t offset = 0;
    while (offset < source.size()) {
      CHAINFS_ASSIGN_OR_RETURN(size_t n, reader->ReadAt(offset, buf.size(), buf.data()));
      if (n == 0) break;
      // Blocks of zeros stay holes: a sparse object's copy is sparse.
      CHAINFS_RETURN_IF_ERROR(writer->AppendSparse(std::string_view(buf.data(), n)));
      offset += static_cast<int64_t>(n);
    }
    if (offset != source.size()) {
      return absl::DataLossError(fmt::format("copy {}@{}: got {} of {} bytes", source.name(),
                                             source.version(), offset, source.size()));
    }
    CHAINFS_ASSIGN_OR_RETURN(info, writer->Commit(writer->size(), writer->block_checksum(), true));
  }
  Log()->info("copied {}@{}{}", info.name(), info.version(),
              info.tombstone() ? " (tombstone)" : "");
  CHAINFS_RETURN_IF_ERROR(Report(info));
  return info;
}

grpc::Status FileStoreService::BumpVersion(grpc::ServerContext*, const v1::BumpVersionRequest* req,
                                           v1::BumpVersionReply* reply) {
  absl::Status st = CheckNewVersion(req->new_version());
  for (const v1::NameVersion& file : req->files()) {
    if (st.ok()) st = ValidateName(file.name());
    if (st.ok() && (file.version() < 0 || file.version() > kMaxVersion)) {
      st = absl::InvalidArgumentError("bad version");
    }
  }
  if (!st.ok()) return ToGrpc(st);
  int64_t bumped = 0;
  for (const v1::NameVersion& file : req->files()) {
    int64_t stored = 0;
    auto done = store_->Bump(file.name(), file.version(), req->new_version(), &stored);
    if (done.ok() && *done) {
      ++bumped;
      if (auto info = store_->Lookup(file.name())) {
        if (Reporter* r = reporter()) r->ReportLater(*info);
      }
      continue;
    }
    if (!done.ok()) {
      Log()->warn("bump {}@{} failed: {}", file.name(), file.version(),
                  std::string(done.status().message()));
    }
    v1::NameVersion* skipped = reply->add_skipped();
    skipped->set_name(file.name());
    skipped->set_version(stored);
  }
  reply->set_bumped(bumped);
  Log()->info("bumped {} of {} names to version {}", bumped, req->files_size(), req->new_version());
  return grpc::Status::OK;
}

grpc::Status FileStoreService::Clone(grpc::ServerContext*, const v1::CloneRequest* req,
                                     v1::CloneReply* reply) {
  absl::Status st = ValidateName(req->source().name());
  if (st.ok()) st = ValidateVersion(req->source().version());
  if (st.ok()) st = ValidateName(req->target().name());
  if (st.ok()) st = CheckNewVersion(req->target().version());
  if (st.ok()) st = ValidateEntry(req->target());  // its kind is the source's
  if (!st.ok()) return ToGrpc(st);
  auto info = store_->Clone(req->source(), req->target());
  if (!info.ok()) return ToGrpc(info.status());
  if (st = Report(*info); !st.ok()) return ToGrpc(st);
  *reply->mutable_file() = *info;
  return grpc::Status::OK;
}

// ---------------------------------------------------------------------------------------
// Flush

grpc::Status FileStoreService::Flush(grpc::ServerContext*, const v1::FlushRequest* req,
                                     v1::FlushReply*) {
  if (!req->name().empty()) {
    if (absl::Status st = ValidateName(req->name()); !st.ok()) return ToGrpc(st);
  }
  Flusher* flusher = flusher_;
  absl::Status st =
      flusher ? flusher->WaitFlushed(clock_->Now() + settings_.stream_timeout) : absl::OkStatus();
  Log()->debug("flush of {}@{}: {}", req->name().empty() ? "everything" : req->name(),
               req->version(), st.ok() ? "done" : std::string(st.message()));
  return ToGrpc(st);
}

grpc::Status FileStoreService::Verify(grpc::ServerContext*, const v1::VerifyRequest* req,
                                      v1::VerifyReply* reply) {
  return ToGrpc(VerifyObjects(store_, *req, reply, [this](const auto& name, int64_t v, auto& st) {
    Corrupt(name, v, st);
  }));
}

}  // namespace chainfs::filestore
