# POSIX times and directory link counts (issue 15, group 3) against a local ext4 directory.
chainfs_integration_test(posix_times_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/posix_times_test.cc)
