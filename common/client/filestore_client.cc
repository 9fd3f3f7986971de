#include "common/client/filestore_client.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "common/checksum.h"
#include "common/client/create_calls.h"
#include "common/client/failover_reader.h"
#include "common/client/sparse_upload.h"
#include "common/file_util.h"
#include "common/log.h"
#include "common/status.h"

namespace chainfs {
namespace {

std::chrono::system_clock::time_point DeadlineAfter(Duration d) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
}

// The answer with what was asked added to its message (its codes stay).
absl::Status WithContext(const grpc::Status& status, const std::string& what) {
  if (status.ok()) return absl::OkStatus();
  return WithMessage(FromGrpc(status), fmt::format("{} ({})", status.error_message(), what));
}

}  // namespace

absl::Status ChainMemberFailure(const absl::Status& status, const std::string& member,
                                std::string_view what) {
  if (status.ok()) return status;
  std::string failed = FailedMember(status);
  if (failed.empty() && IsMemberFault(status)) failed = member;
  return WithFailedMember(
      WithMessage(status, fmt::format("{} ({})", std::string(status.message()), what)), failed);
}

struct FileStoreClient::Impl {
  explicit Impl(const FileStoreClientSettings& s)
      : settings(s), channels(s.max_channels, s.credentials) {}
  FileStoreClientSettings settings;
  FileStoreChannels channels;
};

namespace {

FileStoreClientSettings Sanitized(FileStoreClientSettings settings) {
  if (settings.chunk_bytes == 0 || settings.chunk_bytes > kMaxChunkBytes) {
    settings.chunk_bytes = kMaxChunkBytes;
  }
  return settings;
}

// `parent`: the server call of a FileStore forwarding down its chain (chain[0] is then not
// the head, which reports for the whole chain).
v1::CreateHeader HeaderFor(const v1::FileInfo& file, const std::vector<std::string>& chain,
                           int64_t expected_size, const grpc::ServerContext* parent,
                           std::string_view token, int64_t base_version = 0) {
  v1::CreateHeader header;
  *header.mutable_file() = file;
  for (size_t i = 1; i < chain.size(); ++i) header.add_chain(chain[i]);
  header.set_expected_size(expected_size);
  header.set_forwarded(parent != nullptr);
  header.set_token(std::string(token));
  header.set_base_version(base_version);
  return header;
}

std::string CreateWhat(const v1::FileInfo& file, const std::string& head) {
  return fmt::format("create {}@{} on {}", file.name(), file.version(), head);
}

}  // namespace

FileStoreClient::FileStoreClient(FileStoreClientSettings settings)
    : impl_(std::make_unique<Impl>(Sanitized(settings))) {}

FileStoreClient::~FileStoreClient() = default;

absl::StatusOr<std::shared_ptr<v1::FileStore::Stub>> FileStoreClient::Stub(
    const std::string& address) {
  return impl_->channels.Get(address);
}

size_t FileStoreClient::cached_channels() const { return impl_->channels.size(); }

absl::StatusOr<std::unique_ptr<FileStoreApi::CreateStream>> FileStoreClient::OpenCreateStream(
    const v1::FileInfo& file, const std::vector<std::string>& chain, int64_t expected_size,
    const grpc::ServerContext* parent, std::string_view token, int64_t base_version) {
  if (chain.empty()) return absl::InvalidArgumentError("create needs a chain of FileStores");
  CHAINFS_ASSIGN_OR_RETURN(auto stub, Stub(chain[0]));
  return StartCreateStream(std::move(stub), NewCallContext(impl_->settings.stream_timeout, parent),
                           chain[0], CreateWhat(file, chain[0]),
                           HeaderFor(file, chain, expected_size, parent, token, base_version));
}

absl::StatusOr<std::unique_ptr<FileStoreApi::CreateCall>> FileStoreClient::StartCreateSmall(
    const v1::FileInfo& file, const std::vector<std::string>& chain, std::string content,
    uint64_t checksum, const grpc::ServerContext* parent, std::string_view token) {
  if (chain.empty()) return absl::InvalidArgumentError("create needs a chain of FileStores");
  CHAINFS_ASSIGN_OR_RETURN(auto stub, Stub(chain[0]));
  v1::CreateSmallRequest req;
  const auto size = static_cast<int64_t>(content.size());
  *req.mutable_header() = HeaderFor(file, chain, size, parent, token);
  req.mutable_close()->set_size(size);
  req.mutable_close()->set_checksum(checksum);
  *req.mutable_content() = std::move(content);
  // A head from before CreateSmall: the stream does the same (with the same token: that head
  // refused the call without accepting it).
  auto fallback = [this, file, chain,
                   parent](const v1::CreateSmallRequest& sent) -> absl::StatusOr<v1::CreateReply> {
    CHAINFS_ASSIGN_OR_RETURN(auto stream, OpenCreateStream(file, chain, sent.close().size(), parent,
                                                           sent.header().token()));
    std::string data = sent.content();
    CHAINFS_RETURN_IF_ERROR(stream->Write(&data));
    CHAINFS_RETURN_IF_ERROR(stream->Close(sent.close().size(), sent.close().checksum()));
    return stream->Finish();
  };
  return StartCreateSmallCall(std::move(stub),
                              NewCallContext(impl_->settings.stream_timeout, parent), chain[0],
                              CreateWhat(file, chain[0]), std::move(req), std::move(fallback));
}

absl::StatusOr<v1::CreateReply> FileStoreClient::Create(const v1::FileInfo& file,
                                                        const std::vector<std::string>& chain,
                                                        const ContentSource& source,
                                                        int64_t expected_size,
                                                        std::string_view token) {
  CHAINFS_ASSIGN_OR_RETURN(auto stream,
                           OpenCreateStream(file, chain, expected_size, nullptr, token));
  // One buffer for the whole upload; the stream sends it without a copy.
  std::string data;
  StreamingChecksum checksum;
  int64_t size = 0;
  const size_t chunk = impl_->settings.chunk_bytes;
  while (true) {
    data.resize(chunk);
    CHAINFS_ASSIGN_OR_RETURN(size_t n, source(data.data(), chunk));
    if (n == 0) break;
    data.resize(n);
    checksum.Update(data);
    size += static_cast<int64_t>(n);
    CHAINFS_RETURN_IF_ERROR(stream->Write(&data));
  }
  CHAINFS_RETURN_IF_ERROR(stream->Close(size, checksum.Digest()));
  return stream->Finish();
}

absl::StatusOr<v1::CreateReply> FileStoreClient::CreateSmall(const v1::FileInfo& file,
                                                             const std::vector<std::string>& chain,
                                                             std::string content,
                                                             std::string_view token) {
  const uint64_t checksum = Checksum(content);
  CHAINFS_ASSIGN_OR_RETURN(
      auto call, StartCreateSmall(file, chain, std::move(content), checksum, nullptr, token));
  return call->Finish();
}

absl::StatusOr<v1::CreateReply> FileStoreClient::CreateFromString(
    const v1::FileInfo& file, const std::vector<std::string>& chain, std::string_view content,
    bool allow_small, std::string_view token) {
  if (allow_small && content.size() <= impl_->settings.chunk_bytes) {
    return CreateSmall(file, chain, std::string(content), token);
  }
  size_t pos = 0;
  return Create(
      file, chain,
      [&](char* buf, size_t max) -> absl::StatusOr<size_t> {
        size_t n = std::min(max, content.size() - pos);
        std::memcpy(buf, content.data() + pos, n);
        pos += n;
        return n;
      },
      static_cast<int64_t>(content.size()), token);
}

absl::StatusOr<v1::CreateReply> FileStoreClient::CreateFromFd(const v1::FileInfo& file,
                                                              const std::vector<std::string>& chain,
                                                              int fd, std::string_view token) {
  int64_t expected = 0;
  if (off_t end = ::lseek(fd, 0, SEEK_END); end > 0) expected = end;
  if (static_cast<size_t>(expected) <= impl_->settings.chunk_bytes) {
    // One byte more than its size, to notice a file that grew since: it is streamed then.
    std::string content(static_cast<size_t>(expected) + 1, '\0');
    ssize_t done = PreadFull(fd, content.data(), content.size(), 0);
    if (done < 0) return ErrnoStatus("read upload source", errno);
    if (done <= expected) {
      content.resize(static_cast<size_t>(done));
      return CreateSmall(file, chain, std::move(content), token);
    }
  }
  CHAINFS_ASSIGN_OR_RETURN(std::vector<DataExtent> extents, BlockDataExtents(fd, expected));
  if (const int64_t data = ExtentBytes(extents); data < expected) {
    // Holes: only the data goes down the chain (common/client/sparse_upload.h).
    CHAINFS_ASSIGN_OR_RETURN(auto stream, OpenCreateStream(file, chain, data, nullptr, token));
    CHAINFS_RETURN_IF_ERROR(
        SendExtents(*stream, fd, expected, extents, impl_->settings.chunk_bytes));
    return stream->Finish();
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  int64_t offset = 0;
  return Create(
      file, chain,
      [&](char* buf, size_t max) -> absl::StatusOr<size_t> {
        ssize_t n = PreadFull(fd, buf, max, offset);
        if (n < 0) return ErrnoStatus("read upload source", errno);
        offset += n;
        return static_cast<size_t>(n);
      },
      expected, token);
}

absl::Status FileStoreClient::Delete(const std::string& address, const std::string& name,
                                     int64_t version) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(impl_->settings.call_timeout));
  v1::DeleteRequest req;
  req.set_name(name);
  req.set_version(version);
  v1::DeleteReply reply;
  CHAINFS_ASSIGN_OR_RETURN(auto stub, Stub(address));
  return WithContext(stub->Delete(&ctx, req, &reply),
                     fmt::format("delete {}@{} on {}", name, version, address));
}

absl::Status FileStoreClient::Flush(const std::string& address, const std::string& name,
                                    int64_t version) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(impl_->settings.call_timeout));
  v1::FlushRequest req;
  req.set_name(name);
  req.set_version(version);
  v1::FlushReply reply;
  CHAINFS_ASSIGN_OR_RETURN(auto stub, Stub(address));
  return WithContext(stub->Flush(&ctx, req, &reply),
                     fmt::format("flush {}@{} on {}", name, version, address));
}

absl::StatusOr<v1::VerifyReply> FileStoreClient::Verify(const std::string& address,
                                                        const v1::VerifyRequest& req) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(impl_->settings.stream_timeout));
  v1::VerifyReply reply;
  CHAINFS_ASSIGN_OR_RETURN(auto stub, Stub(address));
  CHAINFS_RETURN_IF_ERROR(
      WithContext(stub->Verify(&ctx, req, &reply), fmt::format("verify on {}", address)));
  return reply;
}

absl::StatusOr<v1::CopyFileReply> FileStoreClient::CopyFile(const std::string& address,
                                                            const v1::CopyFileRequest& req) {
  grpc::ClientContext ctx;
  // A copy moves a whole file: it gets the stream timeout.
  ctx.set_deadline(DeadlineAfter(impl_->settings.stream_timeout));
  v1::CopyFileReply reply;
  CHAINFS_ASSIGN_OR_RETURN(auto stub, Stub(address));
  CHAINFS_RETURN_IF_ERROR(WithContext(stub->CopyFile(&ctx, req, &reply),
                                      fmt::format("copy {} to {}", req.name(), address)));
  return reply;
}

absl::StatusOr<v1::BumpVersionReply> FileStoreClient::BumpVersion(
    const std::string& address, const v1::BumpVersionRequest& req) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(impl_->settings.call_timeout));
  v1::BumpVersionReply reply;
  CHAINFS_ASSIGN_OR_RETURN(auto stub, Stub(address));
  CHAINFS_RETURN_IF_ERROR(WithContext(stub->BumpVersion(&ctx, req, &reply),
                                      fmt::format("bump version on {}", address)));
  return reply;
}

absl::StatusOr<v1::CloneReply> FileStoreClient::Clone(const std::string& address,
                                                      const v1::CloneRequest& req) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(impl_->settings.call_timeout));
  v1::CloneReply reply;
  CHAINFS_ASSIGN_OR_RETURN(auto stub, Stub(address));
  CHAINFS_RETURN_IF_ERROR(WithContext(
      stub->Clone(&ctx, req, &reply),
      fmt::format("clone {}@{} on {}", req.source().name(), req.source().version(), address)));
  return reply;
}

namespace {

// One unary call per address through the callback API, all in flight at once; returns
// each call's status and reply once every one has finished.
template <typename Reply, typename StartFn>
std::vector<std::pair<grpc::Status, Reply>> CallEach(size_t n, Duration timeout,
                                                     const StartFn& start) {
  std::unique_ptr<grpc::ClientContext[]> contexts(new grpc::ClientContext[n]);
  std::vector<std::pair<grpc::Status, Reply>> results(n);
  std::mutex mu;
  std::condition_variable cv;
  size_t pending = n;
  for (size_t i = 0; i < n; ++i) {
    contexts[i].set_deadline(DeadlineAfter(timeout));
    auto done = [&, i](grpc::Status status) {
      std::lock_guard lock(mu);
      results[i].first = std::move(status);
      if (--pending == 0) cv.notify_all();
    };
    // A call that cannot start (a bad address) is done at once.
    if (grpc::Status refused = start(i, &contexts[i], &results[i].second, done); !refused.ok()) {
      done(refused);
    }
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return pending == 0; });
  return results;
}

}  // namespace

std::vector<absl::Status> FileStoreClient::DeleteOnEach(const std::vector<std::string>& addresses,
                                                        const std::string& name, int64_t version) {
  v1::DeleteRequest req;
  req.set_name(name);
  req.set_version(version);
  auto results = CallEach<v1::DeleteReply>(
      addresses.size(), impl_->settings.call_timeout,
      [&](size_t i, grpc::ClientContext* ctx, v1::DeleteReply* reply, auto done) {
        auto stub = Stub(addresses[i]);
        if (!stub.ok()) return ToGrpc(stub.status());
        (*stub)->async()->Delete(ctx, &req, reply, std::move(done));
        return grpc::Status::OK;
      });
  std::vector<absl::Status> out;
  for (size_t i = 0; i < addresses.size(); ++i) {
    out.push_back(WithContext(results[i].first,
                              fmt::format("delete {}@{} on {}", name, version, addresses[i])));
  }
  return out;
}

std::vector<absl::StatusOr<v1::CloneReply>> FileStoreClient::CloneOnEach(
    const std::vector<std::string>& addresses, const v1::CloneRequest& req) {
  auto results = CallEach<v1::CloneReply>(
      addresses.size(), impl_->settings.call_timeout,
      [&](size_t i, grpc::ClientContext* ctx, v1::CloneReply* reply, auto done) {
        auto stub = Stub(addresses[i]);
        if (!stub.ok()) return ToGrpc(stub.status());
        (*stub)->async()->Clone(ctx, &req, reply, std::move(done));
        return grpc::Status::OK;
      });
  std::vector<absl::StatusOr<v1::CloneReply>> out;
  for (size_t i = 0; i < addresses.size(); ++i) {
    absl::Status st =
        WithContext(results[i].first, fmt::format("clone {}@{} on {}", req.source().name(),
                                                  req.source().version(), addresses[i]));
    if (st.ok()) {
      out.push_back(std::move(results[i].second));
    } else {
      out.push_back(st);
    }
  }
  return out;
}

absl::StatusOr<std::vector<v1::FileInfo>> FileStoreClient::ListFilesAndTombstones(
    const std::string& address) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(impl_->settings.stream_timeout));
  CHAINFS_ASSIGN_OR_RETURN(auto stub, Stub(address));
  auto stream = stub->ListFilesAndTombstones(&ctx, v1::ListFilesAndTombstonesRequest());
  std::vector<v1::FileInfo> out;
  v1::FileInfoBatch batch;
  while (stream->Read(&batch)) {
    for (auto& f : *batch.mutable_files()) out.push_back(std::move(f));
  }
  CHAINFS_RETURN_IF_ERROR(WithContext(stream->Finish(), fmt::format("list {}", address)));
  return out;
}

namespace {

// One open Read stream to one holder.
struct ReadStream {
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ReadRequest, v1::ReadReply>> stream;
  bool finished = false;

  // The status after a failed Read or Write (the call is over then). With cancel, the
  // call may still be going and is cancelled first.
  absl::Status Fail(const std::string& what, bool cancel = false) {
    if (cancel) ctx->TryCancel();
    finished = true;
    grpc::Status st = stream->Finish();
    if (st.ok()) st = grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream ended early");
    return WithContext(st, what);
  }
  ~ReadStream() {
    if (stream && !finished) {
      ctx->TryCancel();
      stream->Finish();
    }
  }
};

class ReaderImpl final : public FailoverReader {
 public:
  ReaderImpl(FileStoreChannels* channels, Duration timeout, std::string name,
             std::vector<std::string> holders, const grpc::ServerContext* parent)
      : FailoverReader(std::move(name), std::move(holders)),
        channels_(channels),
        timeout_(timeout),
        parent_(parent) {}

  ~ReaderImpl() override { Close(); }

 private:
  absl::StatusOr<v1::FileInfo> Open(const std::string& address, int64_t version) override {
    CHAINFS_ASSIGN_OR_RETURN(auto stub, channels_->Get(address));
    auto s = std::make_unique<ReadStream>();
    s->ctx = NewCallContext(timeout_, parent_);
    s->stream = stub->Read(s->ctx.get());
    v1::ReadRequest req;
    req.mutable_open()->set_name(name());
    req.mutable_open()->set_version(version);
    v1::ReadReply reply;
    const std::string what = fmt::format("read {}@{} from {}", name(), version, address);
    if (!s->stream->Write(req) || !s->stream->Read(&reply)) return s->Fail(what);
    if (!reply.has_info()) return s->Fail(what, /*cancel=*/true);
    current_ = std::move(s);
    return reply.info();
  }

  absl::Status ReadOpened(int64_t offset, size_t length, char* buf, size_t* done) override {
    if (!current_) return absl::UnavailableError(fmt::format("{}: no open holder", name()));
    const std::string what = fmt::format("read {}@{} from {}", name(), info().version(), address());
    v1::ReadRequest req;
    req.mutable_range()->set_offset(offset + static_cast<int64_t>(*done));
    req.mutable_range()->set_length(static_cast<int64_t>(length - *done));
    if (!current_->stream->Write(req)) return current_->Fail(what);
    while (true) {
      if (!current_->stream->Read(&reply_)) return current_->Fail(what);
      if (!reply_.has_chunk()) return current_->Fail(what, /*cancel=*/true);
      const v1::DataChunk& chunk = reply_.chunk();
      if (chunk.offset() != offset + static_cast<int64_t>(*done) ||
          chunk.data().size() > length - *done) {
        current_->Fail(what, /*cancel=*/true).IgnoreError();
        return absl::DataLossError(fmt::format("{}: unexpected chunk at {}", what, chunk.offset()));
      }
      std::memcpy(buf + *done, chunk.data().data(), chunk.data().size());
      *done += chunk.data().size();
      if (chunk.last()) break;
    }
    if (*done < length) {
      return absl::DataLossError(
          fmt::format("{}: short read ({} of {} bytes)", what, *done, length));
    }
    return absl::OkStatus();
  }

  void Close() override { current_.reset(); }

  FileStoreChannels* channels_;
  Duration timeout_;
  const grpc::ServerContext* parent_;  // may be null
  std::unique_ptr<ReadStream> current_;
  v1::ReadReply reply_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<FileStoreClient::Reader>> FileStoreClient::OpenReader(
    const std::string& name, int64_t version, const std::vector<std::string>& holders,
    const grpc::ServerContext* parent) {
  auto reader = std::make_unique<ReaderImpl>(&impl_->channels, impl_->settings.stream_timeout, name,
                                             holders, parent);
  CHAINFS_RETURN_IF_ERROR(reader->OpenNext(version));
  return std::unique_ptr<Reader>(std::move(reader));
}

absl::StatusOr<std::string> FileStoreClient::ReadAll(const std::string& name, int64_t version,
                                                     const std::vector<std::string>& holders) {
  CHAINFS_ASSIGN_OR_RETURN(auto reader, OpenReader(name, version, holders));
  std::string out;
  out.resize(static_cast<size_t>(reader->info().size()));
  size_t done = 0;
  while (done < out.size()) {
    size_t want = std::min(out.size() - done, size_t{16} << 20);
    CHAINFS_ASSIGN_OR_RETURN(size_t n,
                             reader->ReadAt(static_cast<int64_t>(done), want, out.data() + done));
    if (n == 0) return absl::DataLossError(fmt::format("{}: ended early", name));
    done += n;
  }
  return out;
}

absl::StatusOr<v1::ReadSmallReply> FileStoreClient::ReadSmall(
    const std::string& name, int64_t version, const std::vector<std::string>& holders) {
  v1::ReadSmallRequest req;
  req.set_name(name);
  req.set_version(version);
  return ReadSmallFromHolders(
      name, version, holders,
      [&](const std::string& address) -> absl::StatusOr<v1::ReadSmallReply> {
        CHAINFS_ASSIGN_OR_RETURN(auto stub, Stub(address));
        grpc::ClientContext ctx;
        ctx.set_deadline(DeadlineAfter(impl_->settings.call_timeout));
        v1::ReadSmallReply reply;
        CHAINFS_RETURN_IF_ERROR(
            WithContext(stub->ReadSmall(&ctx, req, &reply),
                        fmt::format("read {}@{} from {}", name, version, address)));
        return reply;
      });
}

}  // namespace chainfs
