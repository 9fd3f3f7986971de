# Random operations on one file of the mount checked against the same operations on a local
# ext4 file (fsx-like): writes, reads, truncation, mmap, fallocate, reopening often.
chainfs_integration_test(posix_random_ops_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/posix_random_ops_test.cc)
