# Integration tests of filestore: real chainfs-filestore processes and a real ZooKeeper.
chainfs_integration_test(filestore_chain_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/filestore_chain_test.cc
  LIBS chainfs_client chainfs_zk)
if(TARGET filestore_chain_test)
  add_dependencies(filestore_chain_test chainfs-filestore)
endif()
