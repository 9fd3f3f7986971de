# Issue 10: the fault test (writers through a mount while FileStores and the leader are
# killed, paused and corrupted; CHAINFS_FAULT_SECONDS sets its length, default 90) and
# the hostile-request test (bad input to every RPC of both services).
chainfs_integration_test(fault_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fault_test.cc LIBS chainfs_client chainfs_zk)
chainfs_integration_test(hostile_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/hostile_test.cc LIBS chainfs_client chainfs_zk)
if(TARGET fault_test)
  add_dependencies(fault_test chainfs-nameserver chainfs-filestore chainfs-mount chainfs)
  add_dependencies(hostile_test chainfs-nameserver chainfs-filestore)
endif()
