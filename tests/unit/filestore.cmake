# Unit tests of filestore.
chainfs_unit_test(filestore_object_store_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/filestore_object_store_test.cc
  LIBS filestore_store)
