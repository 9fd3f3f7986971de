# Unit tests of the chainfs CLI's subcommands with logic of their own (fsck, top).
chainfs_unit_test(tools_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tools_fsck_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/tools_top_test.cc
  LIBS chainfs_tools)
