# FileStore chain benchmark.
