#!/usr/bin/env bash
# Benchmarks a chainfs mount against a local directory in the same run:
#   bench/mount_bench.sh [MOUNT_DIR (default ./mnt)] [LOCAL_DIR (default a temp dir)]
# 1 GiB sequential write with fsync, read cold (page caches dropped) and warm; 2,000 files of
# 4 KiB (create, ls -l, read, rm in files/s); cp -r /usr/include (copy, diff -r, rm -r in s).
# 8 processes creating 4 KiB files at once, each in its own directory (files/s, and the ratio
# to one process). For chainfs also the CPU per create and per rm of every process that
# `scripts/cluster up` started (daemons, mount and ZooKeeper together, from /proc/PID/stat).
# Prints each figure with its ratio to the local directory. Needs root to drop caches.
# BENCH_BIG_MIB=0 skips the large file.
set -euo pipefail
cd "$(dirname "$0")/.."
MOUNT=${1:-./mnt}
LOCAL=${2:-$(mktemp -d /var/tmp/chainfs-bench-local.XXXXXX)}
FILES=${BENCH_FILES:-2000}
BIG_MIB=${BENCH_BIG_MIB:-1024}
[[ $(stat -f -c %t "$MOUNT") == 65735546 ]] || { echo "mount_bench: $MOUNT is not a FUSE mount" >&2; exit 1; }

now() { date +%s.%N; }
calc() { awk "BEGIN { print $* }"; }
elapsed() { calc "$(now) - $1"; }
drop_caches() {
  sync
  if [[ -w /proc/sys/vm/drop_caches ]]; then echo 3 >/proc/sys/vm/drop_caches; else
    echo "mount_bench: not root, cannot drop caches: 'cold' reads may be warm" >&2; fi
}

# CPU seconds (user + system) used so far by every process of the cluster that
# `scripts/cluster up` started (its pid files under ./run).
cluster_cpu() {
  local pids ticks
  pids=$(cat run/*/pid 2>/dev/null || true)
  ticks=$(for p in $pids; do awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null; done |
    awk '{ s += $1 } END { print s + 0 }')
  calc "$ticks / $(getconf CLK_TCK)"
}

# parallel_create DIR PROCS FILES DATA: PROCS processes, each writing FILES/PROCS files in
# its own directory; prints files/s.
parallel_create() {
  local dir=$1 procs=$2 files=$3 data=$4 t p
  for ((p = 0; p < procs; p++)); do mkdir -p "$dir/p$p"; done
  t=$(now)
  for ((p = 0; p < procs; p++)); do
    (for ((i = 0; i < files / procs; i++)); do printf '%s' "$data" >"$dir/p$p/f$i"; done) &
  done
  wait
  calc "$files / $(elapsed "$t")"
  rm -rf "$dir"
}

declare -A R
run_suite() {  # run_suite NAME DIR
  local name=$1 dir=$2/chainfs-bench.$$ t
  mkdir -p "$dir"
  if ((BIG_MIB > 0)); then
    t=$(now)
    dd if=/dev/zero of="$dir/big" bs=1M count="$BIG_MIB" conv=fsync status=none
    R[$name.write]=$(calc "$BIG_MIB / $(elapsed "$t")")
    drop_caches
    t=$(now)
    dd if="$dir/big" of=/dev/null bs=1M status=none
    R[$name.cold]=$(calc "$BIG_MIB / $(elapsed "$t")")
    t=$(now)
    dd if="$dir/big" of=/dev/null bs=1M status=none
    R[$name.warm]=$(calc "$BIG_MIB / $(elapsed "$t")")
    rm -f "$dir/big"
  fi

  local data; data=$(head -c 3072 /dev/urandom | base64 -w0)  # 4096 bytes
  mkdir -p "$dir/small"
  local cpu; cpu=$(cluster_cpu)
  t=$(now)
  for ((i = 0; i < FILES; i++)); do printf '%s' "$data" >"$dir/small/f$i"; done
  R[$name.create]=$(calc "$FILES / $(elapsed "$t")")
  R[$name.create_cpu]=$(calc "($(cluster_cpu) - $cpu) * 1000 / $FILES")
  drop_caches
  t=$(now)
  ls -l "$dir/small" >/dev/null
  R[$name.ls]=$(calc "$FILES / $(elapsed "$t")")
  local x
  drop_caches
  t=$(now)
  for ((i = 0; i < FILES; i++)); do read -r -d '' x <"$dir/small/f$i" || true; done
  R[$name.read]=$(calc "$FILES / $(elapsed "$t")")
  cpu=$(cluster_cpu)
  t=$(now)
  rm -r "$dir/small"
  R[$name.rm]=$(calc "$FILES / $(elapsed "$t")")
  R[$name.rm_cpu]=$(calc "($(cluster_cpu) - $cpu) * 1000 / $FILES")
  R[$name.parallel]=$(parallel_create "$dir/parallel" 8 "$FILES" "$data")
  R[$name.scaling]=$(calc "${R[$name.parallel]} / ${R[$name.create]}")

  t=$(now)
  cp -r /usr/include "$dir/include"
  R[$name.cp]=$(elapsed "$t")
  t=$(now)
  diff -r --no-dereference /usr/include "$dir/include" >/dev/null
  R[$name.diff]=$(elapsed "$t")
  t=$(now)
  rm -rf "$dir/include"
  R[$name.rmtree]=$(elapsed "$t")
  R[$name.tree]=$(calc "${R[$name.cp]} + ${R[$name.diff]} + ${R[$name.rmtree]}")
  rmdir "$dir"
}

echo "mount_bench: chainfs at $MOUNT vs local $LOCAL ($BIG_MIB MiB, $FILES files)"
run_suite chainfs "$MOUNT"
run_suite local "$LOCAL"
[[ $LOCAL == /var/tmp/chainfs-bench-local.* ]] && rmdir "$LOCAL"

row() {  # row LABEL KEY UNIT GOAL
  printf '%-34s %10.1f %-7s local %10.1f  ratio %5.2f   goal %s\n' "$1" "${R[chainfs.$2]}" "$3" \
    "${R[local.$2]}" "$(calc "${R[chainfs.$2]} / ${R[local.$2]}")" "$4"
}
if ((BIG_MIB > 0)); then
  row "sequential write + fsync" write MiB/s ">= 130"
  row "sequential read, cold" cold MiB/s ">= 800"
  row "sequential read, warm" warm MiB/s ""
fi
row "4 KiB files: create" create files/s ">= 600"
row "4 KiB files: ls -l" ls files/s ""
row "4 KiB files: read" read files/s ""
row "4 KiB files: rm" rm files/s ""
row "4 KiB files: create, 8 processes" parallel files/s ""
row "  8 processes / 1 process" scaling x ">= 4"
printf '%-34s %10.2f ms     (chainfs daemons, mount and ZooKeeper together)\n' \
  "CPU per 4 KiB create" "${R[chainfs.create_cpu]}"
printf '%-34s %10.2f ms\n' "CPU per rm" "${R[chainfs.rm_cpu]}"
row "cp -r /usr/include" cp s ""
row "diff -r /usr/include" diff s ""
row "rm -r of the copy" rmtree s ""
row "tree copy + verify + remove" tree s "<= 15"
