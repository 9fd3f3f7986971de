# Unit tests of common: names, settings, files, checksums, clock, status mapping, and the
# NameServer client against a fake NameServer in the test process.
chainfs_unit_test(common_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/common_names_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/common_settings_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/common_file_util_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/common_fault_env_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/common_checksum_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/common_clock_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/common_status_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/common_write_token_test.cc
  LIBS chainfs_common)
chainfs_unit_test(common_daemon_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/common_daemon_test.cc
  LIBS chainfs_daemon)
chainfs_unit_test(common_nameserver_client_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/common_nameserver_client_test.cc
  LIBS chainfs_client)
chainfs_unit_test(client_memory_filestores_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/client_memory_filestores_test.cc
  LIBS chainfs_client)
# The client layer's in-memory NameServer twin and the upload, mkdir and rename policies.
chainfs_unit_test(client_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/client_memory_nameserver_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/client_policies_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/client_write_token_test.cc
  LIBS chainfs_client)
# The cluster CA, mutual TLS over loopback gRPC and the role table.
chainfs_unit_test(tls_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tls_test.cc
  LIBS chainfs_tls)
# The /metrics HTTP server, process metrics and the gRPC interceptor.
chainfs_unit_test(common_metrics_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/common_metrics_server_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/common_rpc_metrics_test.cc
  LIBS chainfs_metrics PkgConfig::HTTPLIB)
