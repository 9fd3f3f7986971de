# Issue 15 groups 1, 4, 6 and 7 compared with ext4: other users, deep trees, files unlinked or
# renamed over while open, errno of mismatches.
chainfs_integration_test(posix_open_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/posix_open_test.cc)
