#include "common/client/filestore_client.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <list>
#include <map>
#include <mutex>

#include "common/checksum.h"
#include "common/file_util.h"
#include "common/log.h"
#include "common/status.h"

namespace chainfs {
namespace {

// Room for a 1 MiB chunk plus the message around it, and for listing batches.
constexpr int kMaxMessageBytes = 8 << 20;
constexpr int kLookaheadBytes = 8 << 20;

std::chrono::system_clock::time_point DeadlineAfter(Duration d) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
}

// Context goes after the message, so that prefixes such as "version too old" survive.
absl::Status WithContext(const grpc::Status& status, const std::string& what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      fmt::format("{} ({})", status.error_message(), what));
}

bool IsHostNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

bool IsIpv6Char(char c) {
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
         c == '.';
}

// The failure of a chain upload to chain[0]: names the member that failed, which is the
// head itself unless the head named one further down.
absl::Status ChainStatus(const grpc::Status& status, const std::string& head,
                         const std::string& what) {
  if (status.ok()) return absl::OkStatus();
  return ChainMemberFailure(FromGrpc(status), head, what);
}

}  // namespace

absl::Status ChainMemberFailure(const absl::Status& status, const std::string& member,
                                std::string_view what) {
  if (status.ok()) return status;
  std::string failed = FailedMember(status);
  if (failed.empty() && IsMemberFault(status)) failed = member;
  return WithFailedMember(
      absl::Status(status.code(), fmt::format("{} ({})", std::string(status.message()), what)),
      failed);
}

absl::Status ValidateFileStoreAddress(std::string_view address) {
  constexpr size_t kMaxHostBytes = 253;
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError("address is not host:port");
  }
  std::string_view port = address.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return absl::InvalidArgumentError("address has a bad port");
  }
  int number = std::stoi(std::string(port));
  if (number < 1 || number > 65535) return absl::InvalidArgumentError("address has a bad port");
  std::string_view host = address.substr(0, colon);
  if (host.size() > kMaxHostBytes) return absl::InvalidArgumentError("address host is too long");
  if (host.front() == '[') {
    if (host.size() < 4 || host.back() != ']' ||
        !std::all_of(host.begin() + 1, host.end() - 1, IsIpv6Char)) {
      return absl::InvalidArgumentError("address has a bad IPv6 host");
    }
    return absl::OkStatus();
  }
  if (host.front() == '-' || host.front() == '.' ||
      !std::all_of(host.begin(), host.end(), IsHostNameChar)) {
    return absl::InvalidArgumentError("address has a bad host");
  }
  return absl::OkStatus();
}

struct FileStoreClient::Impl {
  FileStoreClientSettings settings;
  mutable std::mutex mu;
  // Most recently used first; `stubs` points into it.
  using Entry = std::pair<std::string, std::shared_ptr<v1::FileStore::Stub>>;
  std::list<Entry> lru;
  std::map<std::string, std::list<Entry>::iterator> stubs;
};

FileStoreClient::FileStoreClient(FileStoreClientSettings settings)
    : impl_(std::make_unique<Impl>()) {
  if (settings.chunk_bytes == 0 || settings.chunk_bytes > kMaxChunkBytes) {
    settings.chunk_bytes = kMaxChunkBytes;
  }
  if (settings.max_channels == 0) settings.max_channels = 1;
  impl_->settings = settings;
}

FileStoreClient::~FileStoreClient() = default;

absl::StatusOr<std::shared_ptr<v1::FileStore::Stub>> FileStoreClient::Stub(
    const std::string& address) {
  CHAINFS_RETURN_IF_ERROR(ValidateFileStoreAddress(address));
  std::lock_guard lock(impl_->mu);
  if (auto it = impl_->stubs.find(address); it != impl_->stubs.end()) {
    impl_->lru.splice(impl_->lru.begin(), impl_->lru, it->second);
    return it->second->second;
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // A receive window of several chunks keeps ranged reads streaming without stalls.
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kLookaheadBytes);
  auto stub = std::shared_ptr<v1::FileStore::Stub>(v1::FileStore::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args)));
  impl_->lru.emplace_front(address, stub);
  impl_->stubs[address] = impl_->lru.begin();
  // Calls in flight keep their stub (and channel) alive after it leaves the cache.
  while (impl_->lru.size() > impl_->settings.max_channels) {
    impl_->stubs.erase(impl_->lru.back().first);
    impl_->lru.pop_back();
  }
  return stub;
}

size_t FileStoreClient::cached_channels() const {
  std::lock_guard lock(impl_->mu);
  return impl_->lru.size();
}

absl::StatusOr<v1::CreateReply> FileStoreClient::Create(const v1::FileInfo& file,
                                                        const std::vector<std::string>& chain,
                                                        const ContentSource& source,
                                                        int64_t expected_size) {
  if (chain.empty()) return absl::InvalidArgumentError("create needs a chain of FileStores");
  CHAINFS_ASSIGN_OR_RETURN(auto stub, Stub(chain[0]));
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(impl_->settings.stream_timeout));
  v1::CreateReply reply;
  auto stream = stub->Create(&ctx, &reply);
  const std::string what = fmt::format("create {}@{} on {}", file.name(), file.version(), chain[0]);

  v1::CreateRequest req;
  v1::CreateHeader* header = req.mutable_header();
  *header->mutable_file() = file;
  for (size_t i = 1; i < chain.size(); ++i) header->add_chain(chain[i]);
  header->set_expected_size(expected_size);
  bool alive = stream->Write(req);

  // One buffer for the whole upload: the request's own data field.
  StreamingChecksum checksum;
  int64_t size = 0;
  std::string* data = req.mutable_data();
  const size_t chunk = impl_->settings.chunk_bytes;
  while (alive) {
    data->resize(chunk);
    absl::StatusOr<size_t> n = source(data->data(), chunk);
    if (!n.ok()) {
      ctx.TryCancel();
      stream->Finish();
      return n.status();
    }
    if (*n == 0) break;
    data->resize(*n);
    checksum.Update(*data);
    size += static_cast<int64_t>(*n);
    alive = stream->Write(req);
  }
  if (alive) {
    v1::CreateClose* close = req.mutable_close();
    close->set_size(size);
    close->set_checksum(checksum.Digest());
    alive = stream->Write(req);
  }
  if (alive) stream->WritesDone();
  grpc::Status status = stream->Finish();
  if (status.ok() && !alive) status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream broke");
  CHAINFS_RETURN_IF_ERROR(ChainStatus(status, chain[0], what));
  return reply;
}

absl::StatusOr<v1::CreateReply> FileStoreClient::CreateSmall(const v1::FileInfo& file,
                                                             const std::vector<std::string>& chain,
                                                             std::string content) {
  if (chain.empty()) return absl::InvalidArgumentError("create needs a chain of FileStores");
  v1::CreateSmallRequest req;
  v1::CreateHeader* header = req.mutable_header();
  *header->mutable_file() = file;
  for (size_t i = 1; i < chain.size(); ++i) header->add_chain(chain[i]);
  header->set_expected_size(static_cast<int64_t>(content.size()));
  req.mutable_close()->set_size(static_cast<int64_t>(content.size()));
  req.mutable_close()->set_checksum(Checksum(content));
  *req.mutable_content() = std::move(content);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(impl_->settings.stream_timeout));
  v1::CreateReply reply;
  CHAINFS_ASSIGN_OR_RETURN(auto stub, Stub(chain[0]));
  grpc::Status status = stub->CreateSmall(&ctx, req, &reply);
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    // A FileStore from before CreateSmall: the stream does the same.
    return CreateFromString(file, chain, req.content(), /*allow_small=*/false);
  }
  CHAINFS_RETURN_IF_ERROR(ChainStatus(
      status, chain[0], fmt::format("create {}@{} on {}", file.name(), file.version(), chain[0])));
  return reply;
}

absl::StatusOr<v1::CreateReply> FileStoreClient::CreateFromString(
    const v1::FileInfo& file, const std::vector<std::string>& chain, std::string_view content,
    bool allow_small) {
  if (allow_small && content.size() <= impl_->settings.chunk_bytes) {
    return CreateSmall(file, chain, std::string(content));
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
      static_cast<int64_t>(content.size()));
}

absl::StatusOr<v1::CreateReply> FileStoreClient::CreateFromFd(const v1::FileInfo& file,
                                                              const std::vector<std::string>& chain,
                                                              int fd) {
  int64_t expected = 0;
  if (off_t end = ::lseek(fd, 0, SEEK_END); end > 0) expected = end;
  if (static_cast<size_t>(expected) <= impl_->settings.chunk_bytes) {
    // One byte more than its size, to notice a file that grew since: it is streamed then.
    std::string content(static_cast<size_t>(expected) + 1, '\0');
    ssize_t done = PreadFull(fd, content.data(), content.size(), 0);
    if (done < 0) return ErrnoStatus("read upload source", errno);
    if (done <= expected) {
      content.resize(static_cast<size_t>(done));
      return CreateSmall(file, chain, std::move(content));
    }
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
      expected);
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

class ReaderImpl final : public FileStoreClient::Reader {
 public:
  ReaderImpl(FileStoreClient* client, Duration timeout, std::string name,
             std::vector<std::string> holders, const grpc::ServerContext* parent)
      : client_(client),
        timeout_(timeout),
        name_(std::move(name)),
        holders_(std::move(holders)),
        parent_(parent) {}

  ~ReaderImpl() override { Close(); }

  // Opens name@version on the holder after the last one tried, then the following ones
  // (wrapping around, so a holder whose stream merely expired is tried again last), until
  // one answers or every holder was tried once.
  absl::Status OpenNext(int64_t version) {
    absl::Status last = absl::NotFoundError(fmt::format("{}: no holder to read from", name_));
    for (size_t tries = 0; tries < holders_.size(); ++tries) {
      const std::string& address = holders_[next_++ % holders_.size()];
      auto stub = client_->Stub(address);
      if (!stub.ok()) {
        last = stub.status();
        continue;
      }
      auto s = std::make_unique<ReadStream>();
      const auto deadline = DeadlineAfter(timeout_);
      if (parent_) {
        // Cancelled with the parent call, and never past its deadline.
        s->ctx = grpc::ClientContext::FromServerContext(*parent_);
        if (parent_->deadline() > deadline) s->ctx->set_deadline(deadline);
      } else {
        s->ctx = std::make_unique<grpc::ClientContext>();
        s->ctx->set_deadline(deadline);
      }
      s->stream = (*stub)->Read(s->ctx.get());
      v1::ReadRequest req;
      req.mutable_open()->set_name(name_);
      req.mutable_open()->set_version(version);
      v1::ReadReply reply;
      const std::string what = fmt::format("read {}@{} from {}", name_, version, address);
      if (!s->stream->Write(req) || !s->stream->Read(&reply)) {
        last = s->Fail(what);
        Logger("client")->debug("{}", std::string(last.message()));
        continue;
      }
      if (!reply.has_info()) {
        last = s->Fail(what, /*cancel=*/true);
        Logger("client")->debug("{}", std::string(last.message()));
        continue;
      }
      if (info_.version() != 0 && reply.info().version() != info_.version()) {
        last =
            absl::NotFoundError(fmt::format("{}: holds version {}", what, reply.info().version()));
        s->Fail(what, /*cancel=*/true).IgnoreError();
        continue;
      }
      info_ = reply.info();
      current_ = std::move(s);
      address_ = address;
      return absl::OkStatus();
    }
    return last;
  }

  const v1::FileInfo& info() const override { return info_; }

  absl::StatusOr<size_t> ReadAt(int64_t offset, size_t length, char* buf) override {
    if (offset < 0) return absl::InvalidArgumentError("negative offset");
    if (offset >= info_.size() || length == 0) return 0;
    length =
        static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(length), info_.size() - offset));
    size_t done = 0;
    for (size_t failures = 0;; ++failures) {
      absl::Status st = ReadFromCurrent(offset, length, buf, &done);
      if (st.ok()) return done;
      if (failures >= holders_.size()) return st;
      Logger("client")->warn("{}; trying the next holder", std::string(st.message()));
      Close();
      absl::Status opened = OpenNext(info_.version());
      if (!opened.ok()) return st;
    }
  }

 private:
  // Reads [offset + *done, offset + length) from the current holder.
  absl::Status ReadFromCurrent(int64_t offset, size_t length, char* buf, size_t* done) {
    if (!current_) return absl::UnavailableError(fmt::format("{}: no open holder", name_));
    const std::string what = fmt::format("read {}@{} from {}", name_, info_.version(), address_);
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

  void Close() { current_.reset(); }

  FileStoreClient* client_;
  Duration timeout_;
  std::string name_;
  std::vector<std::string> holders_;
  const grpc::ServerContext* parent_;  // may be null
  size_t next_ = 0;
  v1::FileInfo info_;
  std::unique_ptr<ReadStream> current_;
  std::string address_;
  v1::ReadReply reply_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<FileStoreClient::Reader>> FileStoreClient::OpenReader(
    const std::string& name, int64_t version, const std::vector<std::string>& holders,
    const grpc::ServerContext* parent) {
  auto reader =
      std::make_unique<ReaderImpl>(this, impl_->settings.stream_timeout, name, holders, parent);
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

}  // namespace chainfs
