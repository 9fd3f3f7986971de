// Process-wide memory settings, applied first thing in every main().
#pragma once

namespace chainfs {

// gRPC hands every received message of up to 1 MiB to freshly allocated memory. With
// glibc's defaults such blocks come from new mmaps or from heap that was just returned to
// the kernel, so every page of every chunk page-faults again (~13 us a page here, a few ms
// per MiB: more than the network and the disk together). Keeping blocks up to 32 MiB in
// the heap and not trimming it below 512 MiB reuses the same pages instead.
void KeepFreedMemoryForReuse();

}  // namespace chainfs
