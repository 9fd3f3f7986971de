#!/bin/sh
# Sparse files on a running mount (issue 15 group 8): one byte written at 3 GiB of a new
# file, the time its close takes, and what the FileStores' data directories grew by.
#   bench/sparse_bench.sh MOUNT DATA_DIR...
# e.g. after `scripts/cluster up --mount /tmp/mnt`: bench/sparse_bench.sh /tmp/mnt /tmp/chainfs/fs*
set -eu
mnt=$1
shift
du_all() { du -sk "$@" | awk '{s += $1} END {print s}'; }
before=$(du_all "$@")
start=$(date +%s.%N)
dd if=/dev/zero of="$mnt/sparse-bench" bs=1 count=1 seek=3G status=none
end=$(date +%s.%N)
after=$(du_all "$@")
echo "write + close of 1 byte at 3 GiB: $(echo "$end - $start" | bc) s"
echo "FileStores' data directories grew by $((after - before)) KiB"
rm -f "$mnt/sparse-bench"
