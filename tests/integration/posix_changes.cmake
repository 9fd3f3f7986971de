# Small changes to big files through the mount: appends and in-place updates send only what
# changed; a chain member without the old version gets the whole file.
chainfs_integration_test(posix_changes_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/posix_changes_test.cc)
