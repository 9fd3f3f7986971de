# Prometheus metrics on a real cluster: counters moved by known creates and reads, and the
# text format parsed strictly.
chainfs_integration_test(metrics_cluster_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/metrics_cluster_test.cc
  LIBS chainfs_client PkgConfig::HTTPLIB)
