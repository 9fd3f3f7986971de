# Integration tests of nameserver: real ZooKeeper, chainfs-nameserver and chainfs-filestore
# processes with short timings.
chainfs_integration_test(nameserver_cluster_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/nameserver_cluster_test.cc
  LIBS chainfs_client chainfs_zk)
if(TARGET nameserver_cluster_test)
  add_dependencies(nameserver_cluster_test chainfs-nameserver)
endif()
