// Content checksums: XXH3-64 (libxxhash), fast enough to run on every byte of the data
// path. Streaming so that no whole file is ever held in memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

namespace chainfs {

uint64_t Checksum(std::string_view data);

class StreamingChecksum {
 public:
  StreamingChecksum();
  ~StreamingChecksum();
  StreamingChecksum(const StreamingChecksum&) = delete;
  StreamingChecksum& operator=(const StreamingChecksum&) = delete;

  void Update(std::string_view data);
  uint64_t Digest() const;
  void Reset();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace chainfs
