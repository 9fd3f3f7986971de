#!/usr/bin/env bash
# What a feature costs: two identical clusters on this machine (one NameServer, three
# FileStores and a mount each, under one ZooKeeper) that differ in one thing, measured
# alternately in the same run, BENCH_ROUNDS times (default 3):
#   - a BENCH_BIG_MIB MiB (default 1024; 0 skips it) sequential write with fsync, MiB/s
#   - BENCH_FILES (default 1000) 4 KiB creates, files/s
# Prints the median of each and the ratio of the two.
#   bench/compare_bench.sh tls|metrics [BUILD_DIR (default ./build)]
#     tls:     mutual TLS, role checks and write tokens vs --insecure
#     metrics: --metrics-listen on every daemon and the mount (scraped once a second, as
#              Prometheus would) vs none, both insecure
# Needs FUSE (fusermount3) and ZooKeeper (Debian package). Uses free ports only,
# so it runs beside scripts/cluster. Everything it starts is stopped by pid on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
COMPARE=${1:?usage: compare_bench.sh tls|metrics [BUILD_DIR]}
BUILD=$(realpath "${2:-./build}")
ROUNDS=${BENCH_ROUNDS:-3}
BIG_MIB=${BENCH_BIG_MIB:-1024}
FILES=${BENCH_FILES:-1000}
WORK=$(mktemp -d /var/tmp/chainfs-compare-bench.XXXXXX)
PIDS=()
MOUNTS=()
cleanup() {
  for m in "${MOUNTS[@]}"; do fusermount3 -u -z "$m" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

die() { echo "compare_bench: $*" >&2; exit 1; }
now() { date +%s.%N; }
calc() { awk "BEGIN { print $* }"; }
median() { tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
wait_for() {  # wait_for SECONDS COMMAND...
  local secs=$1; shift
  for ((i = 0; i < secs * 10; i++)); do "$@" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
is_fuse() { [[ $(stat -f -c %t "$1" 2>/dev/null) == 65735546 ]]; }
port_free() { ! ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
bg() { "$@" & PIDS+=($!); }

CLI=$BUILD/tools/chainfs
for b in "$CLI" "$BUILD"/servers/filestore/chainfs-filestore \
  "$BUILD"/servers/nameserver/chainfs-nameserver "$BUILD"/fuse/chainfs-mount; do
  [[ -x $b ]] || die "$b is missing: build it first"
done

"$CLI" certs init "$WORK/tls" >/dev/null
for role in filestore nameserver client admin; do
  "$CLI" certs issue --role $role --name localhost --name 127.0.0.1 "$WORK/tls" >/dev/null
done

zk_port=22181
while ! port_free $zk_port; do zk_port=$((zk_port + 1)); done
mkdir -p "$WORK/zk"
printf 'tickTime=500\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nmaxClientCnxns=0\n' \
  "$WORK/zk" "$zk_port" >"$WORK/zk/zoo.cfg"
bg java -Xmx256m -XX:+UseSerialGC -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
  org.apache.zookeeper.server.ZooKeeperServerMain "$WORK/zk/zoo.cfg" >"$WORK/zk.log" 2>&1
wait_for 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$zk_port" || die "ZooKeeper did not start"

start_cluster() {  # start_cluster NAME TLS-FLAGS...
  local name=$1; shift
  local dir=$WORK/$name zk=127.0.0.1:$zk_port/$name
  for i in 1 2 3; do
    mkdir -p "$dir/fs$i"
    bg "$BUILD"/servers/filestore/chainfs-filestore --zk "$zk" "$@" --listen 127.0.0.1:0 \
      --data-dir "$dir/fs$i" --heartbeat-interval 1s --address-file "$dir/fs$i.addr" \
      >"$dir/fs$i.log" 2>&1
  done
  bg "$BUILD"/servers/nameserver/chainfs-nameserver --zk "$zk" "$@" --listen 127.0.0.1:0 \
    --heartbeat-interval 1s --startup-wait 2s --address-file "$dir/ns.addr" >"$dir/ns.log" 2>&1
  mkdir -p "$dir/mnt" "$dir/cache"
  bg "$BUILD"/fuse/chainfs-mount --zk "$zk" "$@" "$dir/mnt" -f --cache-dir "$dir/cache" \
    >"$dir/mount.log" 2>&1
  MOUNTS+=("$dir/mnt")
  wait_for 60 is_fuse "$dir/mnt" || die "$name: no mount (logs in $dir)"
  wait_for 60 bash -c "echo ok >'$dir/mnt/.check'" || die "$name: the mount does not store files"
  rm -f "$dir/mnt/.check"
}

case $COMPARE in
  tls) A=tls B=insecure
    start_cluster tls --tls-dir "$WORK/tls"
    start_cluster insecure --insecure ;;
  metrics) A=metrics B=plain
    start_cluster metrics --insecure --metrics-listen 127.0.0.1:0
    start_cluster plain --insecure
    # Scrape every /metrics once a second, as Prometheus would.
    urls=$(grep -ho 'metrics at http://[^ ]*' "$WORK"/metrics/*.log | sed 's/metrics at //' | tr '\n' ' ')
    [[ $(wc -w <<<"$urls") == 5 ]] || die "expected 5 metrics URLs, found: $urls"
    bg bash -c "while :; do for u in $urls; do curl -s -o /dev/null \$u; done; sleep 1; done" ;;
  *) die "compare what? tls or metrics" ;;
esac

data=$(head -c 3072 /dev/urandom | base64 -w0)  # 4096 bytes
declare -A R
measure() {  # measure NAME ROUND
  local name=$1 round=$2 dir=$WORK/$1/mnt/r$2 t
  mkdir -p "$dir"
  if ((BIG_MIB > 0)); then
    t=$(now)
    dd if=/dev/zero of="$dir/big" bs=1M count="$BIG_MIB" conv=fsync status=none
    R[$name.write]+=" $(calc "$BIG_MIB / ($(now) - $t)")"
    rm -f "$dir/big"
  fi
  t=$(now)
  for ((i = 0; i < FILES; i++)); do printf '%s' "$data" >"$dir/f$i"; done
  R[$name.create]+=" $(calc "$FILES / ($(now) - $t)")"
  rm -rf "$dir"
}

echo "compare_bench: $ROUNDS rounds of a $BIG_MIB MiB write + fsync and $FILES 4 KiB creates, $A vs $B"
for ((r = 0; r < ROUNDS; r++)); do
  # Alternate which goes first, so neither always meets the other's background flushes.
  if ((r % 2 == 0)); then measure $A $r; measure $B $r; else measure $B $r; measure $A $r; fi
done

row() {  # row LABEL KEY UNIT
  local a b
  a=$(echo ${R[$A.$2]} | median)
  b=$(echo ${R[$B.$2]} | median)
  printf '%-26s %s %9.1f %-7s %s %9.1f  ratio %5.2f   (rounds %s:%s; %s:%s)\n' \
    "$1" "$A" "$a" "$3" "$B" "$b" "$(calc "$a / $b")" "$A" "${R[$A.$2]}" "$B" "${R[$B.$2]}"
}
((BIG_MIB > 0)) && row "sequential write + fsync" write MiB/s
row "4 KiB files: create" create files/s
