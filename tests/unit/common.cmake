# Unit tests of common.
