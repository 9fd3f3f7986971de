# Unit tests of nameserver.
