# Unit tests of filestore.
chainfs_unit_test(filestore_object_store_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/filestore_object_store_test.cc
  LIBS filestore_store)
chainfs_unit_test(filestore_object_store_fault_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/filestore_object_store_fault_test.cc
  LIBS filestore_store)
chainfs_unit_test(filestore_service_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/filestore_service_test.cc
  LIBS filestore_lib)
chainfs_unit_test(filestore_client_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/filestore_client_test.cc
  LIBS chainfs_client)
chainfs_unit_test(filestore_scrubber_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/filestore_scrubber_test.cc
  LIBS filestore_lib)
# FileStoreService against the twins (MemoryFileStores downstream, MemoryNameServer).
chainfs_unit_test(filestore_service_core_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/filestore_service_core_test.cc
  LIBS filestore_lib)
chainfs_unit_test(filestore_durability_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/filestore_durability_test.cc
  LIBS filestore_lib)
# FileStoreService checking write tokens, as the head and as a middle member.
chainfs_unit_test(filestore_write_token_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/filestore_write_token_test.cc
  LIBS filestore_lib)
# The Verify call (fsck) over a real ObjectStore.
chainfs_unit_test(filestore_verify_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/filestore_verify_test.cc
  LIBS filestore_lib)
# Sparse objects: holes, the block-list checksum, verification.
chainfs_unit_test(filestore_sparse_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/filestore_sparse_test.cc
  LIBS filestore_store)
# Sparse uploads down a chain of two real services; copies; a member lost mid-upload.
chainfs_unit_test(filestore_sparse_chain_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/filestore_sparse_chain_test.cc
  LIBS filestore_lib)
