# Unit tests of zk.
