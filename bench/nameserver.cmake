# NameServer benchmark: doRead and doCreate per second over gRPC with 1 and 16 clients,
# and resident memory per name with 1,000,000 names, against a real chainfs-nameserver
# (with a real ZooKeeper) and fake FileStores that register through the gRPC API.
add_executable(nameserver_bench ${CMAKE_CURRENT_SOURCE_DIR}/nameserver_bench.cc)
target_compile_options(nameserver_bench PRIVATE ${CHAINFS_WARNINGS})
target_link_libraries(nameserver_bench PRIVATE chainfs_client chainfs_zk chainfs_fixtures)
target_compile_definitions(nameserver_bench PRIVATE CHAINFS_BUILD_DIR="${CMAKE_BINARY_DIR}")
add_dependencies(nameserver_bench chainfs-nameserver)
