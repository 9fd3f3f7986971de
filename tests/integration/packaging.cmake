# Build the .deb packages, install them, verify the units and run the installed binaries.
if(NOT CHAINFS_UNIT_ONLY)
  add_test(NAME Packaging.DebsInstallVerifyAndRoundTrip
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/packaging/packaging_test.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(Packaging.DebsInstallVerifyAndRoundTrip PROPERTIES
    LABELS integration RUN_SERIAL TRUE TIMEOUT 600)
endif()
