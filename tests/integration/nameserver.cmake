# Integration tests of nameserver.
