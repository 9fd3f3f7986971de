# Issue 15 group 2: fifos, device nodes and sockets on the mount, compared with ext4.
chainfs_integration_test(posix_special_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/posix_special_test.cc)
