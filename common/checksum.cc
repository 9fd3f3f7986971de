#include "common/checksum.h"

#include <xxhash.h>

namespace chainfs {

struct StreamingChecksum::State {
  XXH3_state_t* s = XXH3_createState();
  ~State() { XXH3_freeState(s); }
};

uint64_t Checksum(std::string_view data) { return XXH3_64bits(data.data(), data.size()); }

StreamingChecksum::StreamingChecksum() : state_(std::make_unique<State>()) { Reset(); }
StreamingChecksum::~StreamingChecksum() = default;

void StreamingChecksum::Update(std::string_view data) {
  XXH3_64bits_update(state_->s, data.data(), data.size());
}

uint64_t StreamingChecksum::Digest() const { return XXH3_64bits_digest(state_->s); }

void StreamingChecksum::Reset() { XXH3_64bits_reset(state_->s); }

}  // namespace chainfs
