# Unit tests of zk: the in-memory twin of the ZooKeeper wrapper.
chainfs_unit_test(zk_memory_zookeeper_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/zk_memory_zookeeper_test.cc
  LIBS chainfs_zk)
