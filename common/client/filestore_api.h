// FileStores' calls as the client side sees them. FileStoreClient is the real one (cached
// channels, chain uploads, ranged reads with fail-over, deadlines); MemoryFileStores is the
// in-memory twin for unit tests. Callers hold a FileStoreApi* so either can be swapped in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/chainfs.pb.h"

namespace grpc {
class ServerContext;
}

namespace chainfs {

// The largest data chunk in one message of a Create or Read stream.
inline constexpr size_t kMaxChunkBytes = 1 << 20;

// Supplies content for an upload: fills `buf` with up to `max` bytes, returns the count,
// 0 at the end. Errors abort the upload.
using ContentSource = std::function<absl::StatusOr<size_t>(char* buf, size_t max)>;

// The failure `status` of chain member `member` as the member before it (or the client)
// reports it: `what` appended to the message, and the failed member named (FailedMember) —
// the one the status already names, else `member` itself when the fault is its own
// (unreachable, broken, overloaded...), else none (a refusal of the request).
absl::Status ChainMemberFailure(const absl::Status& status, const std::string& member,
                                std::string_view what);

class FileStoreApi {
 public:
  virtual ~FileStoreApi() = default;

  // Uploads `file` (name, version, kind, attributes) to chain[0], which forwards it to
  // chain[1..]. Returns after the whole chain committed. Every create carries `token`, the
  // write token doCreate answered with the chain (DoCreateReply.token; common/write_token.h),
  // to every member; a FileStore that checks tokens refuses a create without a valid one.
  virtual absl::StatusOr<v1::CreateReply> Create(const v1::FileInfo& file,
                                                 const std::vector<std::string>& chain,
                                                 const ContentSource& source,
                                                 int64_t expected_size = 0,
                                                 std::string_view token = {}) = 0;
  // Content of at most one chunk goes in one CreateSmall call (the stream when chain[0]
  // does not know it, or when allow_small is false); larger content is streamed.
  virtual absl::StatusOr<v1::CreateReply> CreateFromString(const v1::FileInfo& file,
                                                           const std::vector<std::string>& chain,
                                                           std::string_view content,
                                                           bool allow_small = true,
                                                           std::string_view token = {}) = 0;
  // Uploads the whole content of an open file descriptor (from offset 0), in one
  // CreateSmall call when it fits in a chunk.
  virtual absl::StatusOr<v1::CreateReply> CreateFromFd(const v1::FileInfo& file,
                                                       const std::vector<std::string>& chain,
                                                       int fd, std::string_view token = {}) = 0;

  // The answer of a create in flight down a chain. Destroying it unfinished cancels the
  // call: whatever has not committed downstream commits nothing.
  class CreateCall {
   public:
    virtual ~CreateCall() = default;
    // Waits for the chain's answer. A failure names the failed member (ChainMemberFailure).
    virtual absl::StatusOr<v1::CreateReply> Finish() = 0;
  };
  // A Create stream down a chain, written chunk by chunk while the content arrives: how a
  // FileStore forwards the Create it receives to the rest of its chain.
  class CreateStream : public CreateCall {
   public:
    // Sends *chunk (at most kMaxChunkBytes) without copying it: the buffer is borrowed for
    // the call and handed back unchanged. An error ends the stream (Finish repeats it).
    virtual absl::Status Write(std::string* chunk) = 0;
    // Sends *chunk as an Extent at `offset` (not before the end of what was sent; the gap is
    // a hole), borrowed as by Write.
    virtual absl::Status WriteExtent(int64_t offset, std::string* chunk) = 0;
    // Sends an Extent that makes `length` bytes at `offset` zeros: on a base version only.
    virtual absl::Status WriteHole(int64_t offset, int64_t length) = 0;
    // Sends the close {size, checksum}: the chain verifies and commits. With block_checksum the
    // checksum has the block-list form (common/block_checksum.h) and size may end in a hole.
    virtual absl::Status Close(int64_t size, uint64_t checksum, bool block_checksum = false) = 0;
  };
  // Opens the stream of `file` to chain[0], which forwards it to chain[1..]. With `parent`
  // (the server call being forwarded) it carries that call's deadline (capped by the stream
  // timeout) and is cancelled with it, and chain[0] is told it is not the chain's head
  // (CreateHeader.forwarded): the forwarding head reports for it.
  // Both are what a FileStore forwards with; a fake that never stands in for that may keep
  // these defaults, which answer UNIMPLEMENTED. With base_version the members build the new
  // version on that one (CreateHeader.base_version): the stream sends the changes only.
  virtual absl::StatusOr<std::unique_ptr<CreateStream>> OpenCreateStream(
      const v1::FileInfo& file, const std::vector<std::string>& chain, int64_t expected_size,
      const grpc::ServerContext* parent = nullptr, std::string_view token = {},
      int64_t base_version = 0);
  // Starts one CreateSmall of `content` (at most kMaxChunkBytes, whose checksum the caller
  // knows) down the chain; the caller does its own work while it runs, then Finish()es.
  // A chain[0] that does not know CreateSmall gets the same content as a stream.
  virtual absl::StatusOr<std::unique_ptr<CreateCall>> StartCreateSmall(
      const v1::FileInfo& file, const std::vector<std::string>& chain, std::string content,
      uint64_t checksum, const grpc::ServerContext* parent = nullptr, std::string_view token = {});

  virtual absl::Status Delete(const std::string& address, const std::string& name,
                              int64_t version) = 0;
  virtual absl::StatusOr<v1::CopyFileReply> CopyFile(const std::string& address,
                                                     const v1::CopyFileRequest& req) = 0;
  virtual absl::StatusOr<v1::BumpVersionReply> BumpVersion(const std::string& address,
                                                           const v1::BumpVersionRequest& req) = 0;
  virtual absl::StatusOr<v1::CloneReply> Clone(const std::string& address,
                                               const v1::CloneRequest& req) = 0;
  // The same call on several FileStores at once: one result per address, in order.
  virtual std::vector<absl::Status> DeleteOnEach(const std::vector<std::string>& addresses,
                                                 const std::string& name, int64_t version) = 0;
  virtual std::vector<absl::StatusOr<v1::CloneReply>> CloneOnEach(
      const std::vector<std::string>& addresses, const v1::CloneRequest& req) = 0;
  virtual absl::StatusOr<std::vector<v1::FileInfo>> ListFilesAndTombstones(
      const std::string& address) = 0;
  // fsync()/fdatasync()/syncfs: returns once name@version (empty name: everything) is on
  // address's stable storage. A fake that never stands in for it may keep this default.
  virtual absl::Status Flush(const std::string& address, const std::string& name, int64_t version) {
    (void)address, (void)name, (void)version;
    return absl::UnimplementedError("this FileStoreApi does not flush");
  }
  // `chainfs fsck`: whether address holds each name@version with content matching its
  // checksums; a missing or corrupt copy is dropped and reported there. A fake that never
  // stands in for it may keep this default.
  virtual absl::StatusOr<v1::VerifyReply> Verify(const std::string& address,
                                                 const v1::VerifyRequest& req) {
    (void)address, (void)req;
    return absl::UnimplementedError("this FileStoreApi does not verify");
  }

  // Reads name@version from the first holder that works, failing over to the next one in
  // the middle of the file when a holder dies. version 0 = the holder's latest.
  class Reader {
   public:
    virtual ~Reader() = default;
    // Metadata from the holder that answered the open.
    virtual const v1::FileInfo& info() const = 0;
    // Reads up to `length` bytes at `offset` into buf; returns bytes read (0 at EOF).
    virtual absl::StatusOr<size_t> ReadAt(int64_t offset, size_t length, char* buf) = 0;
  };
  // With `parent` (a server call this read serves), the streams carry its deadline (capped
  // by the stream timeout) and are cancelled with it.
  virtual absl::StatusOr<std::unique_ptr<Reader>> OpenReader(
      const std::string& name, int64_t version, const std::vector<std::string>& holders,
      const grpc::ServerContext* parent = nullptr) = 0;
  // The whole of name@version (0 = a holder's latest) in one call when it has at most
  // kMaxChunkBytes: its metadata and content from the first holder that answers, else the
  // next one (a corrupt replica answers DATA_LOSS, and its holder drops and reports it).
  // FAILED_PRECONDITION when larger; UNIMPLEMENTED from holders that predate the call (and
  // from this default): OpenReader reads any file.
  virtual absl::StatusOr<v1::ReadSmallReply> ReadSmall(const std::string& name, int64_t version,
                                                       const std::vector<std::string>& holders);
  // Whole content into a string (small files, tests, tools).
  virtual absl::StatusOr<std::string> ReadAll(const std::string& name, int64_t version,
                                              const std::vector<std::string>& holders) = 0;
};

}  // namespace chainfs
