# FileStore chain benchmark: 1 GiB (--size) through three chainfs-filestore processes and
# back, against writing it three times to local disk with fsync and reading it back.
add_executable(filestore_bench ${CMAKE_CURRENT_SOURCE_DIR}/filestore_bench.cc)
target_compile_options(filestore_bench PRIVATE ${CHAINFS_WARNINGS})
target_link_libraries(filestore_bench PRIVATE chainfs_client chainfs_fixtures)
target_compile_definitions(filestore_bench PRIVATE CHAINFS_BUILD_DIR="${CMAKE_BINARY_DIR}")
add_dependencies(filestore_bench chainfs-filestore)
