# Unit tests of mount: errno mapping, inode table, staging files, mount options, read-ahead,
# and the POSIX mapping (Filesystem) against the in-memory NameServer and FileStores.
chainfs_unit_test(mount_errors_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mount_errors_test.cc
  LIBS mount_lib)
chainfs_unit_test(mount_inode_table_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mount_inode_table_test.cc LIBS mount_lib)
chainfs_unit_test(mount_staging_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mount_staging_test.cc
  LIBS mount_lib)
chainfs_unit_test(mount_options_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mount_options_test.cc
  LIBS mount_lib)
chainfs_unit_test(mount_read_ahead_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mount_read_ahead_test.cc LIBS mount_lib)
chainfs_unit_test(mount_avail_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mount_avail_test.cc
  LIBS mount_lib)
chainfs_unit_test(mount_filesystem_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mount_filesystem_test.cc LIBS mount_lib)
chainfs_unit_test(mount_posix_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mount_posix_test.cc
  LIBS mount_lib)
# Holes of staging files: fallocate modes, SEEK_DATA/SEEK_HOLE, zeros left as holes.
chainfs_unit_test(mount_extents_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mount_extents_test.cc
  LIBS mount_lib)
chainfs_unit_test(mount_links_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mount_links_test.cc LIBS mount_lib)
