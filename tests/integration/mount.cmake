# Integration tests of mount.
