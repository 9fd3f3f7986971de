# The operator's tools against a real cluster: chainfs fsck (--repair), chainfs top --once, and
# the NameServer's status page in headless Chromium.
chainfs_integration_test(operator_tools_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/operator_tools_test.cc
  LIBS chainfs_client chainfs_zk)
if(TARGET operator_tools_test)
  add_dependencies(operator_tools_test chainfs chainfs-nameserver chainfs-filestore)
endif()
