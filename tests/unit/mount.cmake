# Unit tests of mount.
