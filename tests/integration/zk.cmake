# Integration tests of zk.
