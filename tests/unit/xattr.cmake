# Unit tests of special files, extended attributes and POSIX ACLs: the NameServer's soft state
# and the shared rules, and the mount's side against the in-memory twins.
chainfs_unit_test(nameserver_xattr_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/nameserver_xattr_test.cc LIBS nameserver_lib)
chainfs_unit_test(mount_xattr_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mount_xattr_test.cc LIBS mount_lib)
chainfs_unit_test(filestore_xattr_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/filestore_xattr_test.cc LIBS filestore_lib)
