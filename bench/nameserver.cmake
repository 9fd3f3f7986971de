# NameServer benchmark.
