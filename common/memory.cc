#include "common/memory.h"

#include <malloc.h>

namespace chainfs {

void KeepFreedMemoryForReuse() {
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);  // the largest value glibc accepts
  ::mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

}  // namespace chainfs
