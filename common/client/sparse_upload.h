// Sparse uploads: a file with holes goes down the chain as its data extents only (Extent
// parts of a Create stream, found with SEEK_DATA/SEEK_HOLE), with the block-list checksum
// (common/block_checksum.h) and the file's size in the close; the FileStores store the holes
// as holes. Writing one byte at 3 GiB sends one 64 KiB block, not 3 GiB of zeros.
//
// Uploads on a base version (CreateHeader.base_version) send only the ranges changed since
// that version; each chain member copies the rest from its own copy of the base.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "common/client/filestore_api.h"

namespace chainfs {

// [offset, end) of data in a file.
struct DataExtent {
  int64_t offset = 0;
  int64_t end = 0;
};

// The data extents of `fd` in [0, size), in order, each rounded out to kChecksumBlockBytes
// (clipped at size) and merged: what a sparse upload sends. A file system without holes
// answers one extent for the whole file.
absl::StatusOr<std::vector<DataExtent>> BlockDataExtents(int fd, int64_t size);

// Bytes in `extents`.
int64_t ExtentBytes(const std::vector<DataExtent>& extents);

// Sends the extents of `fd` (from BlockDataExtents) in chunks of at most `chunk_bytes` (a
// multiple of the block size is used) and closes with `size` and the block-list checksum.
// Bytes the file lost meanwhile are sent as zeros (the file is dirty again then).
absl::Status SendExtents(FileStoreApi::CreateStream& stream, int fd, int64_t size,
                         const std::vector<DataExtent>& extents, size_t chunk_bytes);

// Sends the `changed` ranges of `fd` (in order, not overlapping; clipped at `size`) on a stream
// opened on a base version: their data as extents, their holes as hole extents. Closes with
// `size` and the block-list checksum of all of fd's content, which it reads (locally) once, in
// the same pass, so that what is sent and what is checked are the same bytes.
absl::Status SendChanges(FileStoreApi::CreateStream& stream, int fd, int64_t size,
                         const std::vector<DataExtent>& changed, size_t chunk_bytes);

}  // namespace chainfs
