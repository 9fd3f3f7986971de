# Issue 15 group 10: extended attributes and POSIX ACLs on the mount, compared with ext4.
chainfs_integration_test(posix_xattr_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/posix_xattr_test.cc)
