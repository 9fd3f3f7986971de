# Metrics cost: gRPC creates per second without and with the RpcMetrics interceptor (same
# run, interleaved), and the per-operation cost of the mount's FUSE timing.
add_executable(metrics_bench ${CMAKE_CURRENT_SOURCE_DIR}/metrics_bench.cc)
target_compile_options(metrics_bench PRIVATE ${CHAINFS_WARNINGS})
target_link_libraries(metrics_bench PRIVATE chainfs_metrics CLI11::CLI11)
