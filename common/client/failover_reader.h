// The fail-over policy of FileStoreApi::Reader, shared by FileStoreClient and its in-memory
// twin: name@version is opened on the first holder that answers; when a read fails, the
// same version is opened on the next holder and the read goes on from where it stopped.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/client/filestore_api.h"

namespace chainfs {

class FailoverReader : public FileStoreApi::Reader {
 public:
  // Opens name@version (0 = the holder's latest) on the holder after the last one tried,
  // then the following ones (wrapping around, so a holder whose stream merely expired is
  // tried again last), until one answers or every holder was tried once.
  absl::Status OpenNext(int64_t version);

  const v1::FileInfo& info() const final { return info_; }
  absl::StatusOr<size_t> ReadAt(int64_t offset, size_t length, char* buf) final;

 protected:
  FailoverReader(std::string name, std::vector<std::string> holders);

  // Opens name@version on `address` and makes it the holder read from: its metadata.
  virtual absl::StatusOr<v1::FileInfo> Open(const std::string& address, int64_t version) = 0;
  // Reads [offset + *done, offset + length) from the holder opened last, counting in *done.
  virtual absl::Status ReadOpened(int64_t offset, size_t length, char* buf, size_t* done) = 0;
  // Lets go of the holder opened last.
  virtual void Close() = 0;

  const std::string& name() const { return name_; }
  const std::string& address() const { return address_; }  // the holder opened last

 private:
  std::string name_;
  std::vector<std::string> holders_;
  size_t next_ = 0;
  v1::FileInfo info_;
  std::string address_;
};

// ReadSmall's fail-over, shared the same way: `read_one` on each holder in order until one
// answers with name@version (any version when 0) and its whole content. A refusal that every
// holder would repeat (INVALID_ARGUMENT, FAILED_PRECONDITION) ends it at once; otherwise the
// last holder's failure is returned.
absl::StatusOr<v1::ReadSmallReply> ReadSmallFromHolders(
    const std::string& name, int64_t version, const std::vector<std::string>& holders,
    const std::function<absl::StatusOr<v1::ReadSmallReply>(const std::string& address)>& read_one);

}  // namespace chainfs
