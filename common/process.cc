#include "common/process.h"

#include <malloc.h>

#include "absl/synchronization/mutex.h"

namespace chainfs {

void TuneProcess() {
  KeepFreedMemoryForReuse();
  SkipMutexDeadlockDetection();
}

void KeepFreedMemoryForReuse() {
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);  // the largest value glibc accepts
  ::mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

void SkipMutexDeadlockDetection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace chainfs
