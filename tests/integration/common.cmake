# Integration tests of common.
