# Sparse files through the mount against ext4: one byte far out, fallocate modes,
# SEEK_DATA/SEEK_HOLE, holes kept by the FileStores, a FileStore killed mid-upload.
chainfs_integration_test(posix_sparse_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/posix_sparse_test.cc)
