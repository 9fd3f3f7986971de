# Integration tests of zk: the test fixtures themselves and the ZooKeeper wrapper against a
# real ZooKeeper server.
chainfs_integration_test(zk_fixture_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/zk_fixture_test.cc
  LIBS chainfs_zk)
chainfs_integration_test(zk_real_zookeeper_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/zk_real_zookeeper_test.cc
  LIBS chainfs_zk)
