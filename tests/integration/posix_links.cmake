# Hard links on the mount compared with a local ext4 directory, as root and other users.
chainfs_integration_test(posix_links_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/posix_links_test.cc)
