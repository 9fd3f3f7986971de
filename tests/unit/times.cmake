# Unit tests of POSIX times and directory link counts (issue 15, group 3).
chainfs_unit_test(nameserver_times_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/nameserver_times_test.cc LIBS nameserver_lib)
chainfs_unit_test(mount_times_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mount_times_test.cc LIBS mount_lib)
