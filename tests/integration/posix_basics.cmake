# The POSIX comparison harness itself, on everyday operations by several users.
chainfs_integration_test(posix_basics_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/posix_basics_test.cc)
