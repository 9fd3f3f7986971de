#include "common/client/create_calls.h"

#include <grpcpp/grpcpp.h>

#include "common/status.h"

namespace chainfs {
namespace {

class CreateStreamImpl final : public FileStoreApi::CreateStream {
 public:
  CreateStreamImpl(std::shared_ptr<v1::FileStore::Stub> stub,
                   std::unique_ptr<grpc::ClientContext> ctx, std::string head, std::string what)
      : stub_(std::move(stub)),
        ctx_(std::move(ctx)),
        head_(std::move(head)),
        what_(std::move(what)) {}

  // Cancels an unfinished stream, so the chain commits nothing.
  ~CreateStreamImpl() override {
    if (!finished_) {
      ctx_->TryCancel();
      writer_->Finish();
    }
  }

  void Start(const v1::CreateHeader& header) {
    writer_ = stub_->Create(ctx_.get(), &reply_);
    *req_.mutable_header() = header;
    if (!writer_->Write(req_)) Broken().IgnoreError();  // the next call answers it
  }

  absl::Status Write(std::string* chunk) override {
    if (finished_) return Ended();
    req_.mutable_data()->swap(*chunk);
    const bool sent = writer_->Write(req_);
    req_.mutable_data()->swap(*chunk);
    return sent ? absl::OkStatus() : Broken();
  }

  absl::Status WriteExtent(int64_t offset, std::string* chunk) override {
    if (finished_) return Ended();
    v1::Extent* extent = req_.mutable_extent();
    extent->set_offset(offset);
    extent->mutable_data()->swap(*chunk);
    const bool sent = writer_->Write(req_);
    extent->mutable_data()->swap(*chunk);
    return sent ? absl::OkStatus() : Broken();
  }

  absl::Status WriteHole(int64_t offset, int64_t length) override {
    if (finished_) return Ended();
    v1::Extent* extent = req_.mutable_extent();
    extent->set_offset(offset);
    extent->clear_data();
    extent->set_hole(length);
    const bool sent = writer_->Write(req_);
    extent->set_hole(0);
    return sent ? absl::OkStatus() : Broken();
  }
  absl::Status Close(int64_t size, uint64_t checksum, bool block_checksum = false) override {
    if (finished_) return Ended();
    v1::CreateClose* close = req_.mutable_close();
    close->set_size(size);
    close->set_checksum(checksum);
    close->set_block_checksum(block_checksum);
    if (!writer_->Write(req_)) return Broken();
    writer_->WritesDone();
    return absl::OkStatus();
  }

  absl::StatusOr<v1::CreateReply> Finish() override {
    if (!finished_) {
      finished_ = true;
      status_ = ChainMemberFailure(FromGrpc(writer_->Finish()), head_, what_);
    }
    if (!status_.ok()) return status_;
    return reply_;
  }

 private:
  // After a failed Write the call is over: its status, never OK.
  absl::Status Broken() {
    finished_ = true;
    grpc::Status st = writer_->Finish();
    if (st.ok()) st = grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream broke");
    status_ = ChainMemberFailure(FromGrpc(st), head_, what_);
    return status_;
  }
  absl::Status Ended() const {
    if (!status_.ok()) return status_;
    return absl::FailedPreconditionError("the create stream is already finished");
  }

  std::shared_ptr<v1::FileStore::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::string head_;
  std::string what_;
  std::unique_ptr<grpc::ClientWriter<v1::CreateRequest>> writer_;
  v1::CreateRequest req_;  // one message, and so one data buffer, for the whole stream
  v1::CreateReply reply_;
  absl::Status status_;
  bool finished_ = false;
};

// Its own completion queue is polled by the thread that finishes it, so no other thread
// takes part. Cancelled and waited for when left unfinished, so nothing outlives it.
class CreateSmallCallImpl final : public FileStoreApi::CreateCall {
 public:
  CreateSmallCallImpl(std::shared_ptr<v1::FileStore::Stub> stub,
                      std::unique_ptr<grpc::ClientContext> ctx, std::string head, std::string what,
                      v1::CreateSmallRequest req, CreateFallback fallback)
      : stub_(std::move(stub)),
        ctx_(std::move(ctx)),
        head_(std::move(head)),
        what_(std::move(what)),
        req_(std::move(req)),
        fallback_(std::move(fallback)) {}

  ~CreateSmallCallImpl() override {
    if (pending_) {
      ctx_->TryCancel();
      Wait();
    }
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  void Start() {
    call_ = stub_->AsyncCreateSmall(ctx_.get(), req_, &cq_);
    call_->Finish(&reply_, &status_, this);
    pending_ = true;
  }

  absl::StatusOr<v1::CreateReply> Finish() override {
    if (pending_) Wait();
    if (status_.error_code() == grpc::StatusCode::UNIMPLEMENTED && fallback_) {
      return std::exchange(fallback_, nullptr)(req_);
    }
    CHAINFS_RETURN_IF_ERROR(ChainMemberFailure(FromGrpc(status_), head_, what_));
    return reply_;
  }

 private:
  void Wait() {
    void* tag;
    bool ok;
    cq_.Next(&tag, &ok);
    pending_ = false;
  }

  std::shared_ptr<v1::FileStore::Stub> stub_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::string head_;
  std::string what_;
  v1::CreateSmallRequest req_;
  CreateFallback fallback_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::CreateReply>> call_;
  v1::CreateReply reply_;
  grpc::Status status_;
  bool pending_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<FileStoreApi::CreateStream>> FileStoreApi::OpenCreateStream(
    const v1::FileInfo&, const std::vector<std::string>&, int64_t, const grpc::ServerContext*,
    std::string_view, int64_t) {
  return absl::UnimplementedError("this FileStoreApi does not forward create streams");
}

absl::StatusOr<std::unique_ptr<FileStoreApi::CreateCall>> FileStoreApi::StartCreateSmall(
    const v1::FileInfo&, const std::vector<std::string>&, std::string, uint64_t,
    const grpc::ServerContext*, std::string_view) {
  return absl::UnimplementedError("this FileStoreApi does not forward CreateSmall");
}

std::unique_ptr<FileStoreApi::CreateStream> StartCreateStream(
    std::shared_ptr<v1::FileStore::Stub> stub, std::unique_ptr<grpc::ClientContext> ctx,
    std::string head, std::string what, const v1::CreateHeader& header) {
  auto stream = std::make_unique<CreateStreamImpl>(std::move(stub), std::move(ctx), std::move(head),
                                                   std::move(what));
  stream->Start(header);
  return stream;
}

std::unique_ptr<FileStoreApi::CreateCall> StartCreateSmallCall(
    std::shared_ptr<v1::FileStore::Stub> stub, std::unique_ptr<grpc::ClientContext> ctx,
    std::string head, std::string what, v1::CreateSmallRequest req, CreateFallback fallback) {
  auto call =
      std::make_unique<CreateSmallCallImpl>(std::move(stub), std::move(ctx), std::move(head),
                                            std::move(what), std::move(req), std::move(fallback));
  call->Start();
  return call;
}

}  // namespace chainfs
