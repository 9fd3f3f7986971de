// Process-wide settings, applied first thing in every main().
#pragma once

namespace chainfs {

// Applies both settings below.
void TuneProcess();

// gRPC hands every received message of up to 1 MiB to freshly allocated memory. With
// glibc's defaults such blocks come from new mmaps or from heap that was just returned to
// the kernel, so every page of every chunk page-faults again (~13 us a page here, a few ms
// per MiB: more than the network and the disk together). Keeping blocks up to 32 MiB in
// the heap and not trimming it below 512 MiB reuses the same pages instead.
void KeepFreedMemoryForReuse();

// Debian builds abseil with absl::Mutex deadlock detection on: every lock gRPC takes then
// records an edge in a global lock graph (2-3% of all CPU on small-file operations, in
// GraphCycles). Our own locks are std::mutex; the detection finds nothing for us.
void SkipMutexDeadlockDetection();

}  // namespace chainfs
