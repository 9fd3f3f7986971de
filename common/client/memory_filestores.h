// In-memory twin of a cluster's FileStores, for unit tests of whatever holds a FileStoreApi*
// (the mount, the CLI, the FileStore's own chain forwarding). Any valid host:port is a live,
// empty FileStore until a test says otherwise; each holds, per name, its latest version (a
// file with its content, or a tombstone), under the real FileStore's observable rules:
// - a new version of a name (Create, Delete, CopyFile, Clone, BumpVersion) must be above
//   that store's latest for the name and not below the minimum version, else
//   FAILED_PRECONDITION "version too old" (the same tombstone again is OK);
// - Delete records a tombstone whether or not the name was held;
// - BumpVersion relabels only a live latest version equal to the expected one;
// - Clone copies name@version (which must be held, and not a tombstone) to a new name
//   and/or version with new attributes; kind and content come from the source;
// - CopyFile pulls name@version (0 = latest) from the first source that has it;
// - a Create validates on every member first, then commits on each member in chain order;
//   a member that cannot take it (dead, injected failure, version too old) commits nothing
//   anywhere, and the error names it (FailedMember) when the fault is the member's;
// - with a NameServerApi, the head (chain[0]) reports a create once all members committed,
//   naming the others (AddFileOrTombstone with also_on) before the call returns, as the
//   real chain does; a refused report fails the call after the commits, which stay. A
//   forwarded create (one with a `parent` server call) is the forwarding head's to report.
//   After a failed create each member that committed reports its own copy (the real ones'
//   background reports); after a successful one the other members do not (the real ones'
//   background reports repeat the head's). Delete does not report: the NameServer that
//   asked records it.
// Readers see the content of the version they opened, even after it is replaced, and fail
// over to the next holder when theirs dies.
//
// Wiring with the NameServer twin, for a test of a mount or a client:
//   MemoryNameServer nameserver({"fs1:7000", "fs2:7000", "fs3:7000"});
//   MemoryFileStores filestores(&nameserver);  // commits are reported: names become visible
//   nameserver.SetFileStores(&filestores);     // delete, rename, chmod reach the copies
//
// Write tokens: after SetWriteTokenKey, every member checks the token of each create as a real
// FileStore run with that key does (WriteTokenChecker: one per address), and a create
// without a valid token commits nothing anywhere (PERMISSION_DENIED).
//
// Fault injection: SetDead makes an address unreachable (UNAVAILABLE, named as the failed
// member of a chain through it); FailNext fails the next calls of one method; SetHook runs
// before every call (to block, count or fail it). Thread-safe; the NameServer and the hook
// are called without the twin's lock held.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/client/filestore_api.h"
#include "common/client/nameserver_api.h"
#include "common/clock.h"
#include "common/write_token.h"

namespace chainfs {

class MemoryFileStores final : public FileStoreApi {
 public:
  // The calls that faults and counters are kept for. kCreate covers every upload (Create,
  // CreateFromString, CreateFromFd, streams), counted once per chain member; kRead covers
  // each open of a holder and each ranged read from it; kReadSmall each ReadSmall of a holder.
  enum class Method {
    kCreate,
    kRead,
    kReadSmall,
    kDelete,
    kCopyFile,
    kBumpVersion,
    kClone,
    kList,
    kFlush,
    kVerify
  };

  // nameserver (not owned) may be null: commits are then not reported.
  explicit MemoryFileStores(NameServerApi* nameserver = nullptr);
  ~MemoryFileStores() override;

  void SetNameServer(NameServerApi* nameserver);
  // Creates must carry write tokens signed with `key`, checked on `clock` (not owned).
  void SetWriteTokenKey(std::string key, const Clock* clock = SystemClock::Get());

  // --- Faults ---
  // A dead address answers every call UNAVAILABLE; its contents stay and come back with it.
  void SetDead(const std::string& address, bool dead = true);
  // The next `count` calls of `method` (on `address`, or on any when empty) fail with
  // `status` before doing anything.
  void FailNext(Method method, int count, absl::Status status = absl::UnavailableError("injected"),
                const std::string& address = "");
  // Called before each call of a method on an address (a chain member, a read holder),
  // without the lock held: may block, and a non-OK answer fails that call as FailNext does.
  using Hook = std::function<absl::Status(Method method, const std::string& address)>;
  void SetHook(Hook hook);
  // The next read of address's copy of name answers DATA_LOSS and drops it (reported to the
  // NameServer as a bad replica), as a real FileStore does with a corrupt object.
  void Corrupt(const std::string& address, const std::string& name);
  // address loses its copy of name without telling anyone (a file removed under a FileStore).
  void Lose(const std::string& address, const std::string& name);
  // Everything below min_version goes, everywhere, and such versions are refused later.
  void SetMinVersion(int64_t min_version);

  // --- Inspection and seeding ---
  // Calls of `method` that reached `address` (any address when empty), failed ones included.
  int64_t Calls(Method method, const std::string& address = "") const;
  // The latest version of name on address, if any.
  std::optional<v1::FileInfo> Lookup(const std::string& address, const std::string& name) const;
  // Its content; NOT_FOUND when address does not hold name, or holds a tombstone.
  absl::StatusOr<std::string> Content(const std::string& address, const std::string& name) const;
  // Addresses whose latest version of name is `version` (any, when 0), in address order.
  std::vector<std::string> Holders(const std::string& name, int64_t version = 0) const;
  // Stores file (its size set from content) on address without any rule or report.
  void Put(const std::string& address, v1::FileInfo file, std::string content = "");

  // --- FileStoreApi ---
  absl::StatusOr<v1::CreateReply> Create(const v1::FileInfo& file,
                                         const std::vector<std::string>& chain,
                                         const ContentSource& source, int64_t expected_size = 0,
                                         std::string_view token = {}) override;
  absl::StatusOr<v1::CreateReply> CreateFromString(const v1::FileInfo& file,
                                                   const std::vector<std::string>& chain,
                                                   std::string_view content,
                                                   bool allow_small = true,
                                                   std::string_view token = {}) override;
  absl::StatusOr<v1::CreateReply> CreateFromFd(const v1::FileInfo& file,
                                               const std::vector<std::string>& chain, int fd,
                                               std::string_view token = {}) override;
  // The twin's stream gathers the content and runs the whole create at Close; Finish
  // answers its result. A CreateSmall runs at once.
  absl::StatusOr<std::unique_ptr<CreateStream>> OpenCreateStream(
      const v1::FileInfo& file, const std::vector<std::string>& chain, int64_t expected_size,
      const grpc::ServerContext* parent = nullptr, std::string_view token = {},
      int64_t base_version = 0) override;
  absl::StatusOr<std::unique_ptr<CreateCall>> StartCreateSmall(
      const v1::FileInfo& file, const std::vector<std::string>& chain, std::string content,
      uint64_t checksum, const grpc::ServerContext* parent = nullptr,
      std::string_view token = {}) override;
  absl::Status Delete(const std::string& address, const std::string& name,
                      int64_t version) override;
  // Counted (Calls(kFlush)); the twin holds everything in memory, so there is nothing to do.
  absl::Status Flush(const std::string& address, const std::string& name, int64_t version) override;
  // As the real one: a copy that is corrupt (Corrupt) or missing (Lose, or older than asked)
  // is dropped and reported to the NameServer as a bad replica.
  absl::StatusOr<v1::VerifyReply> Verify(const std::string& address,
                                         const v1::VerifyRequest& req) override;
  absl::StatusOr<v1::CopyFileReply> CopyFile(const std::string& address,
                                             const v1::CopyFileRequest& req) override;
  absl::StatusOr<v1::BumpVersionReply> BumpVersion(const std::string& address,
                                                   const v1::BumpVersionRequest& req) override;
  absl::StatusOr<v1::CloneReply> Clone(const std::string& address,
                                       const v1::CloneRequest& req) override;
  std::vector<absl::Status> DeleteOnEach(const std::vector<std::string>& addresses,
                                         const std::string& name, int64_t version) override;
  std::vector<absl::StatusOr<v1::CloneReply>> CloneOnEach(const std::vector<std::string>& addresses,
                                                          const v1::CloneRequest& req) override;
  absl::StatusOr<std::vector<v1::FileInfo>> ListFilesAndTombstones(
      const std::string& address) override;
  absl::StatusOr<std::unique_ptr<Reader>> OpenReader(
      const std::string& name, int64_t version, const std::vector<std::string>& holders,
      const grpc::ServerContext* parent = nullptr) override;
  absl::StatusOr<std::string> ReadAll(const std::string& name, int64_t version,
                                      const std::vector<std::string>& holders) override;
  absl::StatusOr<v1::ReadSmallReply> ReadSmall(const std::string& name, int64_t version,
                                               const std::vector<std::string>& holders) override;

 private:
  struct Object {
    v1::FileInfo info;
    std::shared_ptr<const std::string> content;  // shared with open readers
    bool corrupt = false;
  };
  struct Store {
    bool dead = false;
    std::map<std::string, Object> objects;
  };
  struct Failure {
    Method method;
    std::string address;  // empty: any
    int count;
    absl::Status status;
  };
  class ReaderImpl;
  class StreamImpl;

  // Counts the call and answers whether it may go on: dead, injected failure or hook.
  absl::Status Enter(Method method, const std::string& address);
  // The version rules for a new version of name on store.
  absl::Status CheckNewVersionLocked(const Store& store, const std::string& name,
                                     int64_t version) const;
  // Installs object on address, if the version rules still allow it.
  absl::StatusOr<v1::FileInfo> InstallLocked(const std::string& address, Object object);
  // Tells the NameServer (if any) that address (and also_on) committed file.
  absl::Status Report(const std::string& address, const v1::FileInfo& file,
                      const std::vector<std::string>& also_on = {});
  // The whole upload of content down chain; `forwarded`: chain[0] is not the head.
  absl::StatusOr<v1::CreateReply> CreateOnChain(const v1::FileInfo& file,
                                                const std::vector<std::string>& chain,
                                                std::string content, bool forwarded,
                                                std::string_view token);
  // CreateOnChain once the content matches the size and checksum its sender announced.
  absl::StatusOr<v1::CreateReply> CreateVerified(const v1::FileInfo& file,
                                                 const std::vector<std::string>& chain,
                                                 std::string content, int64_t size,
                                                 uint64_t checksum, bool forwarded,
                                                 std::string_view token);
  // Each member's check of the token (when a key is set), before anything commits.
  absl::Status CheckTokens(const v1::FileInfo& file, const std::vector<std::string>& chain,
                           std::string_view token);
  // Counts a read (`method`) of name on address; fails it when address is dead or failing, or
  // when its copy is corrupt (which is then dropped and reported).
  absl::Status CheckRead(const std::string& address, const std::string& name, int64_t version,
                         Method method = Method::kRead);
  // Opens name@version on address for reading: its info and content, or why not.
  absl::StatusOr<Object> OpenOn(const std::string& address, const std::string& name,
                                int64_t version, Method method = Method::kRead);

  mutable std::mutex mu_;
  NameServerApi* nameserver_ = nullptr;
  Hook hook_;
  int64_t min_version_ = 0;
  std::map<std::string, Store> stores_;
  std::vector<Failure> failures_;
  std::map<std::pair<Method, std::string>, int64_t> calls_;
  std::string token_key_;  // empty: tokens are not checked
  const Clock* token_clock_ = nullptr;
  std::map<std::string, std::unique_ptr<WriteTokenChecker>> token_checkers_;  // per address
};

}  // namespace chainfs
