# Integration tests of mount: a real ZooKeeper, NameServers, FileStores and FUSE mounts.
chainfs_integration_test(mount_cluster_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mount_cluster_test.cc LIBS mount_lib)
