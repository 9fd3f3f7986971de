# Integration tests of common.

# A whole cluster across network namespaces: three-server ZooKeeper ensemble, two
# NameServers, four FileStores and a mount, each on its own address (needs root, iproute2;
# skipped, exit code 77, where network namespaces cannot be created).
if(NOT CHAINFS_UNIT_ONLY)
  add_test(NAME Multihost.ClusterAcrossNetworkNamespaces
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/multihost/multihost_test.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(Multihost.ClusterAcrossNetworkNamespaces PROPERTIES
    LABELS integration RUN_SERIAL TRUE TIMEOUT 600 SKIP_RETURN_CODE 77)
endif()
