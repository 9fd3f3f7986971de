# Integration tests of filestore.
