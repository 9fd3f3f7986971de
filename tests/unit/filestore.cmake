# Unit tests of filestore.
