# Unit tests of nameserver.
chainfs_unit_test(nameserver_glob_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/nameserver_glob_test.cc LIBS nameserver_lib)
chainfs_unit_test(nameserver_namespace_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/nameserver_namespace_test.cc LIBS nameserver_lib)
chainfs_unit_test(nameserver_version_allocator_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/nameserver_version_allocator_test.cc LIBS nameserver_lib)
chainfs_unit_test(nameserver_election_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/nameserver_election_test.cc LIBS nameserver_lib)
chainfs_unit_test(nameserver_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/nameserver_test.cc LIBS nameserver_lib)
chainfs_unit_test(nameserver_placement_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/nameserver_placement_test.cc LIBS nameserver_lib)
chainfs_unit_test(nameserver_events_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/nameserver_events_test.cc LIBS nameserver_lib)
chainfs_unit_test(nameserver_links_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/nameserver_links_test.cc LIBS nameserver_lib)
