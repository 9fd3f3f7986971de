// The FileStore gRPC service (proto/chainfs.proto): validates every request at the edge,
// stores through the ObjectStore, forwards Create down the chain while the bytes arrive and
// pulls copies, both through the client layer (FileStoreApi), and reports through the
// Reporter.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/client/filestore_api.h"
#include "common/clock.h"
#include "common/defaults.h"
#include "common/metrics/metrics.h"
#include "common/write_token.h"
#include "proto/chainfs.grpc.pb.h"
#include "servers/filestore/flusher.h"
#include "servers/filestore/object_store.h"
#include "servers/filestore/reporter.h"

namespace chainfs::filestore {

struct FileStoreSettings {
  std::string self;      // advertised host:port
  int max_streams = 64;  // concurrent Create/Read/Copy streams, CreateSmall/ReadSmall calls
  Duration stream_timeout = kDefaultStreamTimeout;  // whole streams, downstream included
  // How often streams are checked against the stream timeout; zero: stream_timeout / 16.
  Duration watchdog_interval = Duration::zero();
};

class BaseCopy;  // filestore_create.cc

class FileStoreService final : public v1::FileStore::Service {
 public:
  // None is owned; reporter may be null. `filestores` forwards creates down the chain and
  // reads the sources of copies.
  // Chain-forwarding errors are counted in `registry` (a registry of its own when null).
  FileStoreService(ObjectStore* store, FileStoreApi* filestores, Reporter* reporter,
                   FileStoreSettings settings, const Clock* clock = SystemClock::Get(),
                   prometheus::Registry* registry = nullptr);
  ~FileStoreService() override;

  // Late wiring for daemons listening on port 0: the address is known once serving.
  void SetSelf(const std::string& self, Reporter* reporter);
  // Stream slots taken now (of max_streams), for metrics.
  int streams_in_use() const { return streams_; }

  grpc::Status Create(grpc::ServerContext* ctx, grpc::ServerReader<v1::CreateRequest>* reader,
                      v1::CreateReply* reply) override;
  grpc::Status CreateSmall(grpc::ServerContext* ctx, const v1::CreateSmallRequest* req,
                           v1::CreateReply* reply) override;
  grpc::Status Read(grpc::ServerContext* ctx,
                    grpc::ServerReaderWriter<v1::ReadReply, v1::ReadRequest>* stream) override;
  grpc::Status ReadSmall(grpc::ServerContext* ctx, const v1::ReadSmallRequest* req,
                         v1::ReadSmallReply* reply) override;
  grpc::Status Delete(grpc::ServerContext* ctx, const v1::DeleteRequest* req,
                      v1::DeleteReply* reply) override;
  grpc::Status ListFilesAndTombstones(grpc::ServerContext* ctx,
                                      const v1::ListFilesAndTombstonesRequest* req,
                                      grpc::ServerWriter<v1::FileInfoBatch>* writer) override;
  grpc::Status CopyFile(grpc::ServerContext* ctx, const v1::CopyFileRequest* req,
                        v1::CopyFileReply* reply) override;
  grpc::Status BumpVersion(grpc::ServerContext* ctx, const v1::BumpVersionRequest* req,
                           v1::BumpVersionReply* reply) override;
  grpc::Status Clone(grpc::ServerContext* ctx, const v1::CloneRequest* req,
                     v1::CloneReply* reply) override;
  // Answered once the Flusher flushed what was committed before the call (at once without a
  // Flusher or in sync mode). Set the Flusher before serving.
  void SetFlusher(Flusher* flusher) { flusher_ = flusher; }
  // Create and CreateSmall accept a byte only with a write token that `checker` accepts for
  // this FileStore and the rest of the chain (not owned; null, the default: not checked).
  // Set before serving.
  void SetWriteTokens(WriteTokenChecker* checker) { tokens_ = checker; }
  grpc::Status Flush(grpc::ServerContext* ctx, const v1::FlushRequest* req,
                     v1::FlushReply* reply) override;
  // verify.h; a missing or corrupt copy is dropped and reported as a corrupt read is.
  grpc::Status Verify(grpc::ServerContext* ctx, const v1::VerifyRequest* req,
                      v1::VerifyReply* reply) override;

 private:
  // A slot among max_streams, watched for the stream timeout; released when destroyed.
  class StreamSlot;
  // Cancels streams that outlived the stream timeout (a client that stalls without a
  // deadline would otherwise hold its slot forever).
  void Watchdog();
  absl::StatusOr<v1::CreateReply> DoCreate(grpc::ServerContext* ctx,
                                           grpc::ServerReader<v1::CreateRequest>* reader);
  absl::StatusOr<v1::CreateReply> DoCreateSmall(grpc::ServerContext* ctx,
                                                const v1::CreateSmallRequest& req);
  absl::Status ValidateHeader(const v1::CreateHeader& header) const;
  // After the local commit of `info` (created by `header`): waits for the rest of the chain
  // (`down`, null at the chain's end); then the head of the chain (header not forwarded)
  // reports the commit of every member at once, and others queue their report. The reply
  // once the chain and the head's report succeeded.
  absl::StatusOr<v1::CreateReply> Committed(const v1::FileInfo& info,
                                            const v1::CreateHeader& header,
                                            FileStoreApi::CreateCall* down,
                                            const std::string& what);
  absl::Status DoRead(grpc::ServerReaderWriter<v1::ReadReply, v1::ReadRequest>* stream);
  absl::Status DoReadSmall(const v1::ReadSmallRequest& req, v1::ReadSmallReply* reply);
  absl::StatusOr<v1::FileInfo> DoCopy(const grpc::ServerContext& ctx,
                                      const v1::CopyFileRequest& req);
  std::string self() const;
  Reporter* reporter() const;
  // Reports a commit to the NameServer; OK once it recorded it (or when there is none).
  absl::Status Report(const v1::FileInfo& file);
  // A version a create, delete, clone or bump may bring: positive, within kMaxVersion and
  // within the cluster's lease.
  absl::Status CheckNewVersion(int64_t version) const;
  void Corrupt(const std::string& name, int64_t version, const absl::Status& status);
  // The base a create builds on (CreateHeader.base_version): ERROR_BASE_MISSING unless this
  // FileStore holds exactly that version of file.name().
  absl::StatusOr<std::unique_ptr<BaseCopy>> OpenBase(const v1::FileInfo& file, int64_t version);
  // `status` of a call to the next chain member, counted when it failed (a refusal to build
  // on a base it lacks is not counted).
  absl::Status Forwarded(absl::Status status);
  // One line for a create that failed here (at debug for ERROR_BASE_MISSING).
  void LogCreateFailure(const grpc::ServerContext* ctx, const absl::Status& status);

  ObjectStore* store_;
  FileStoreApi* filestores_;
  FileStoreSettings settings_;
  mutable std::mutex mu_;
  Reporter* reporter_;  // guarded by mu_, with settings_.self
  const Clock* clock_;
  std::atomic<int> streams_{0};
  std::mutex streams_mu_;
  std::map<grpc::ServerContext*, TimePoint> stream_deadlines_;
  Ticker ticker_;
  std::thread watchdog_;
  std::atomic<Flusher*> flusher_{nullptr};
  WriteTokenChecker* tokens_ = nullptr;
  std::unique_ptr<prometheus::Registry> own_registry_;
  prometheus::Counter& chain_errors_;
  prometheus::Counter& received_bytes_;
  prometheus::Counter& base_builds_;
};

}  // namespace chainfs::filestore
