#!/usr/bin/env bash
# chainfs across several "hosts": every daemon runs in its own network namespace with its own
# address, all joined by a Linux bridge that lives in a dedicated "switch" namespace.
#
#   zk1 zk2 zk3   10.213.0.11-13   three-server ZooKeeper ensemble (Debian's zookeeper)
#   ns1 ns2       10.213.0.21-22   chainfs-nameserver (one leader, one standby)
#   fs1..fs4      10.213.0.31-34   chainfs-filestore, each with its own data directory
#   client        10.213.0.41      chainfs-mount (FUSE mount visible to this script)
#
# A link is cut by setting the host's veth end down inside the switch namespace. Nothing in
# the root network namespace changes and no packet leaves our own namespaces.
#
# Usage: multihost_test.sh BUILD_DIR      (as root; needs iproute2, nsenter, ZooKeeper, FUSE)
# Environment: CHAINFS_MULTIHOST_KEEP=1 keeps the work directory (logs, data) afterwards;
#              CHAINFS_MULTIHOST_SCAFFOLD_ONLY=1 stops after the network and ZooKeeper checks.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD_DIR=${1:-$HERE/../../../build}
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

FS_BIN=$BUILD_DIR/servers/filestore/chainfs-filestore
NS_BIN=$BUILD_DIR/servers/nameserver/chainfs-nameserver
MOUNT_BIN=$BUILD_DIR/fuse/chainfs-mount
CLI_BIN=$BUILD_DIR/tools/chainfs

# Short timings so the whole test takes a few minutes at most.
HEARTBEAT=300ms
SESSION_TIMEOUT=3s
STARTUP_WAIT=2s
REPLICATION_DEADLINE=5s
REPLICATION_INTERVAL=500ms
CREATE_GRACE=1s
GC_INTERVAL=2s
GC_VERSION_AGE=2s
# Bounds of the polls (seconds).
REPLICATED_WITHIN=15   # heartbeats missed (0.6 s) + replication deadline (5 s) + slack
REJOIN_WITHIN=20
RECONCILE_WITHIN=30
FAILOVER_WITHIN=30
OP_TIMEOUT=45          # any single file operation or CLI call

declare -A IP=(
  [zk1]=10.213.0.11 [zk2]=10.213.0.12 [zk3]=10.213.0.13
  [ns1]=10.213.0.21 [ns2]=10.213.0.22
  [fs1]=10.213.0.31 [fs2]=10.213.0.32 [fs3]=10.213.0.33 [fs4]=10.213.0.34
  [client]=10.213.0.41
)
HOSTS=(zk1 zk2 zk3 ns1 ns2 fs1 fs2 fs3 fs4 client)
FILESTORES=(fs1 fs2 fs3 fs4)
ZK_PORT=2181
NS_PORT=7000
FS_PORT=7100
ZK="${IP[zk1]}:$ZK_PORT,${IP[zk2]}:$ZK_PORT,${IP[zk3]}:$ZK_PORT/chainfs"
# Mutual TLS everywhere: one CA, a certificate per role naming every host's address.
TLS=(--tls-dir "$WORK/tls")

preflight() {
  if [[ $(id -u) != 0 ]]; then
    echo "multihost: needs root (network namespaces, FUSE); skipped"
    exit 77
  fi
  local tool
  for tool in ip nsenter java timeout; do
    command -v "$tool" >/dev/null || die "missing tool: $tool"
  done
  [[ -r /usr/share/java/zookeeper.jar ]] || die "missing the Debian package zookeeper"
  [[ -c /dev/fuse ]] || die "missing /dev/fuse"
  if ! ip netns add "${PREFIX}probe" 2>/dev/null; then
    echo "multihost: cannot create network namespaces here; skipped"
    exit 77
  fi
  ip netns del "${PREFIX}probe"
  if [[ ${CHAINFS_MULTIHOST_SCAFFOLD_ONLY:-0} != 1 ]]; then
    local bin
    for bin in "$FS_BIN" "$NS_BIN" "$MOUNT_BIN" "$CLI_BIN"; do
      [[ -x $bin ]] || die "not built: $bin"
    done
  fi
}

# ---------------------------------------------------------------------------------------------
# ZooKeeper ensemble

start_zookeeper() {
  local i host dir
  for i in 1 2 3; do
    host=zk$i
    dir=$WORK/$host
    mkdir -p "$dir/data"
    echo "$i" >"$dir/data/myid"
    cat >"$dir/zoo.cfg" <<EOF
tickTime=250
initLimit=40
syncLimit=8
minSessionTimeout=500
maxSessionTimeout=30000
dataDir=$dir/data
clientPort=$ZK_PORT
clientPortAddress=${IP[$host]}
admin.enableServer=false
4lw.commands.whitelist=srvr,ruok
preAllocSize=1024
snapCount=100000
maxClientCnxns=0
cnxTimeout=1000
server.1=${IP[zk1]}:2888:3888
server.2=${IP[zk2]}:2888:3888
server.3=${IP[zk3]}:2888:3888
EOF
    start_in "$host" "$host" java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -Dzookeeper.forceSync=no -Dzookeeper.admin.enableServer=false \
      -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
      -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
      org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg"
  done
}

# Prints "leader", "follower", ... for one ZooKeeper server, asked from the client host.
zk_mode() {
  local ip=${IP[$1]}
  in_host_quiet client 3 bash -c \
    "exec 3<>/dev/tcp/$ip/$ZK_PORT && printf srvr >&3 && cat <&3" |
    sed -n 's/^Mode: //p'
}

# True when the servers given form a quorum: exactly one leader, the others following.
zk_quorum() {
  local host mode leaders=0 followers=0
  for host in "$@"; do
    mode=$(zk_mode "$host" || true)
    case $mode in
      leader) leaders=$((leaders + 1)) ;;
      follower) followers=$((followers + 1)) ;;
    esac
  done
  ((leaders == 1 && followers == $# - 1))
}

zk_leader() {
  local host
  for host in zk1 zk2 zk3; do
    if [[ $(zk_mode "$host" || true) == leader ]]; then
      echo "$host"
      return 0
    fi
  done
  return 1
}

# ---------------------------------------------------------------------------------------------
# chainfs daemons and tools

make_certs() {
  local names=() role
  for host in "${HOSTS[@]}"; do names+=(--name "${IP[$host]}"); done
  "$CLI_BIN" certs init "$WORK/tls" >/dev/null
  for role in filestore nameserver client admin; do
    "$CLI_BIN" certs issue --role $role "${names[@]}" "$WORK/tls" >/dev/null
  done
}

start_nameserver() {
  local host=$1
  start_in "$host" "$host" "$NS_BIN" --zk "$ZK" "${TLS[@]}" \
    --listen "${IP[$host]}:$NS_PORT" --advertise "${IP[$host]}" \
    --address-file "$WORK/$host.address" --log-level info \
    --session-timeout "$SESSION_TIMEOUT" --heartbeat-interval "$HEARTBEAT" \
    --startup-wait "$STARTUP_WAIT" --replication-deadline "$REPLICATION_DEADLINE" \
    --replication-interval "$REPLICATION_INTERVAL" --create-grace "$CREATE_GRACE" \
    --gc-interval "$GC_INTERVAL" \
    --gc-min-new-versions 0 --gc-version-age "$GC_VERSION_AGE" --replication 3
}

start_filestore() {
  local host=$1
  mkdir -p "$WORK/$host/data"
  start_in "$host" "$host" "$FS_BIN" --zk "$ZK" "${TLS[@]}" \
    --listen "${IP[$host]}:$FS_PORT" --advertise "${IP[$host]}" \
    --address-file "$WORK/$host.address" --log-level info \
    --session-timeout "$SESSION_TIMEOUT" --heartbeat-interval "$HEARTBEAT" \
    --data-dir "$WORK/$host/data"
}

start_mount() {
  mkdir -p "$MNT" "$WORK/cache"
  # Not `ip netns exec`: it gives the process a private mount namespace and the FUSE mount
  # would be invisible here. nsenter --net switches only the network namespace.
  start_with client "$MNT_LOG" nsenter --net="/run/netns/$(ns_of client)" \
    "$MOUNT_BIN" -f --zk "$ZK" "${TLS[@]}" --cache-dir "$WORK/cache" \
    --session-timeout "$SESSION_TIMEOUT" --connect-timeout 20s --call-timeout 30s \
    --log-level info "$MNT"
  MOUNTED=1
}

mounted_or_dead() { mounted || ! running client; }
mounted() { awk -v m="$MNT" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts; }

# The CLI, run on HOST: cli HOST ARGS...
cli() {
  local host=$1
  shift
  in_host "$host" "$OP_TIMEOUT" "$CLI_BIN" --zk "$ZK" "${TLS[@]}" --tls-name admin \
    --timeout "${CLI_TIMEOUT:-20s}" \
    --connect-timeout 10s "$@"
}

# `chainfs status` asked from the client host:
#   leader:           10.213.0.21:7000[ (starting: waiting for FileStores)]
#   under-replicated: 0
#   filestores:       4
#     10.213.0.31:7100   <used> <available> <files> <age>s  live|late
STATUS=""
read_status() {
  # A short timeout: a poll must not hang on a NameServer that was just cut off.
  STATUS=$(CLI_TIMEOUT=4s cli client status --heartbeat-interval "$HEARTBEAT" 2>&1) || {
    STATUS=""
    return 1
  }
}
status_field() { sed -n "s/^$1: *\([^ ]*\).*/\1/p" <<<"$STATUS" | head -1; }
status_live() { grep -cE '^ +10\.213\.[0-9.]+:[0-9]+ .* live$' <<<"$STATUS" || true; }
status_serving() { ! grep -q '^leader:.*starting' <<<"$STATUS"; }

# N FileStores known and live, the leader serving.
live_filestores_are() {
  read_status && status_serving && [[ $(status_field filestores) == "$1" && $(status_live) == "$1" ]]
}
# ... and nothing under-replicated.
fully_replicated() { live_filestores_are "$1" && [[ $(status_field under-replicated) == 0 ]]; }
leader_is() { read_status && status_serving && [[ $(status_field leader) == "${IP[$1]}:$NS_PORT" ]]; }

# ---------------------------------------------------------------------------------------------
# File helpers

# make_source NAME SIZE: a file of SIZE bytes starting with a unique marker line.
make_source() {
  local name=$1 size=$2
  mkdir -p "$WORK/src"
  {
    echo "MARKER-$RUN_ID-$name-$RANDOM$RANDOM"
    head -c "$size" /dev/urandom
  } >"$WORK/src/$name"
}
marker_of() { head -n 1 "$WORK/src/$1"; }

mount_write() { timeout -s KILL "$OP_TIMEOUT" cp "$WORK/src/$1" "$MNT/$2"; }
mount_matches() { timeout -s KILL "$OP_TIMEOUT" cmp -s "$WORK/src/$1" "$MNT/$2"; }
mount_absent() {
  local out
  out=$(timeout -s KILL "$OP_TIMEOUT" stat "$MNT/$1" 2>&1) && return 1
  grep -q 'No such file' <<<"$out"
}
# cli_matches HOST SOURCE PATH: `chainfs get` on HOST returns the same bytes.
cli_matches() {
  local out=$WORK/get.$1.$$
  cli "$1" get "/$3" "$out" >/dev/null 2>&1 || { rm -f "$out"; return 1; }
  local rc=0
  cmp -s "$WORK/src/$2" "$out" || rc=1
  rm -f "$out"
  return "$rc"
}
# Does this FileStore still store (any version of) bytes that start with this marker?
filestore_has_marker() { grep -rqaF -- "$2" "$WORK/$1/data" 2>/dev/null; }

# files_on FILESTORE SOURCE...: the sources whose marker is in the FileStore's data, one grep.
files_on() {
  local fs=$1 src found
  shift
  found=$(for src in "$@"; do marker_of "$src"; done |
    grep -rhoaF -f - "$WORK/$fs/data" 2>/dev/null | sort -u || true)
  for src in "$@"; do
    if grep -qxF -- "$(marker_of "$src")" <<<"$found"; then printf '%s ' "$src"; fi
  done
}

write_and_read() {  # write_and_read SOURCE PATH
  mount_write "$1" "$2" && mount_matches "$1" "$2"
}

# =============================================================================================

main() {
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  preflight
  setup_network

  section "network"
  check "every host reaches every other host over the bridge" all_hosts_connected
  check "the root network namespace is untouched" root_network_unchanged
  cut_link fs2
  check "a cut link isolates its host" not reachable client fs2
  restore_link fs2
  check "a restored link reconnects its host" wait_for 10 "fs2 reachable" reachable client fs2

  section "ZooKeeper ensemble"
  start_zookeeper
  wait_for 90 "ZooKeeper quorum (1 leader, 2 followers)" zk_quorum zk1 zk2 zk3 ||
    die "the ZooKeeper ensemble did not form a quorum"
  pass "three ZooKeeper servers form a quorum"
  if [[ ${CHAINFS_MULTIHOST_SCAFFOLD_ONLY:-0} == 1 ]]; then
    summary
    return
  fi

  section "chainfs cluster"
  make_certs
  start_nameserver ns1
  wait_started ns1 "$WORK/ns1.address" 30 || die "ns1 did not start"
  wait_for 30 "ns1 leads" leader_is ns1 || die "ns1 did not become the leader"
  start_nameserver ns2
  wait_started ns2 "$WORK/ns2.address" 30 || die "ns2 did not start"
  local fs
  for fs in "${FILESTORES[@]}"; do start_filestore "$fs"; done
  for fs in "${FILESTORES[@]}"; do
    wait_started "$fs" "$WORK/$fs.address" 30 || die "$fs did not start"
  done
  check_eq "each daemon advertises its own address" \
    "$(cat "$WORK"/{ns1,ns2,fs1,fs2,fs3,fs4}.address | tr -d '\n ')" \
    "${IP[ns1]}:$NS_PORT${IP[ns2]}:$NS_PORT${IP[fs1]}:$FS_PORT${IP[fs2]}:$FS_PORT${IP[fs3]}:$FS_PORT${IP[fs4]}:$FS_PORT"
  wait_for 30 "4 live FileStores" live_filestores_are 4 || die "FileStores did not register"
  check "status names ns1 as the leader" leader_is ns1

  start_mount
  if ! wait_for 30 "the mount" mounted_or_dead || ! mounted; then
    die "chainfs-mount did not mount"
  fi
  pass "chainfs-mount mounted on the client host"

  section "write and read across hosts"
  local i
  for i in 1 2 3 4 5 6 7 8; do make_source "f$i" $((i * 150000)); done
  for i in 1 2 3 4 5 6 7 8; do
    check "write /f$i through the mount" mount_write "f$i" "f$i"
  done
  for i in 1 2 3 4 5 6 7 8; do
    check "read /f$i back through the mount" mount_matches "f$i" "f$i"
  done
  check "read /f3 with the CLI on another host (ns2)" cli_matches ns2 f3 f3
  check "read /f8 with the CLI on another host (fs4)" cli_matches fs4 f8 f8
  wait_for 20 "full replication" fully_replicated 4 || true
  check "fully replicated on 4 FileStores" fully_replicated 4

  section "cut one FileStore's link"
  # The FileStore holding the most files is cut (ties: the first).
  local victim="" held=() f n best=-1
  for fs in "${FILESTORES[@]}"; do
    n=$(files_on "$fs" f1 f2 f3 f4 f5 f6 f7 f8 | wc -w)
    if ((n > best)); then
      best=$n
      victim=$fs
    fi
  done
  read -r -a held <<<"$(files_on "$victim" f1 f2 f3 f4 f5 f6 f7 f8)"
  log "cutting $victim, which holds: ${held[*]:-nothing}"
  check "$victim holds at least two of the files" test "${#held[@]}" -ge 2
  cut_link "$victim"
  if wait_for "$REPLICATED_WITHIN" "$victim dropped and everything back to three live copies" \
    fully_replicated 3; then
    pass "everything $victim held is back to three live copies in ${WAITED_MS} ms"
  else
    fail "everything $victim held is back to three live copies within ${REPLICATED_WITHIN}s"
  fi
  for f in "${held[@]}"; do
    check "/$f holds three live copies without $victim" three_holders_without "$f" "$victim"
  done
  # Change what the cut FileStore holds while it is away: overwrite one file, delete another.
  local overwritten=${held[0]:-f1} deleted=${held[1]:-f2}
  make_source "$overwritten.v2" 300000
  check "overwrite /$overwritten while $victim is cut" \
    mount_write "$overwritten.v2" "$overwritten"
  check "delete /$deleted while $victim is cut" timeout -s KILL "$OP_TIMEOUT" rm "$MNT/$deleted"
  check "read the other files while $victim is cut" read_all_except "$overwritten" "$deleted"

  section "restore the FileStore's link"
  restore_link "$victim"
  wait_for "$REJOIN_WITHIN" "4 live FileStores" live_filestores_are 4 || true
  check "$victim rejoins (4 live FileStores)" live_filestores_are 4
  if wait_for "$RECONCILE_WITHIN" "$victim dropped its stale copies" stale_copies_gone \
    "$victim" "$overwritten" "$deleted"; then
    pass "$victim no longer stores the old /$overwritten nor the deleted /$deleted"
  else
    fail "$victim drops its stale copies within ${RECONCILE_WITHIN}s"
  fi
  check "the mount reads the new /$overwritten" mount_matches "$overwritten.v2" "$overwritten"
  check "the mount sees /$deleted deleted" mount_absent "$deleted"
  for f in "$victim" ns2; do
    check "the CLI on $f reads the new /$overwritten" cli_matches "$f" "$overwritten.v2" \
      "$overwritten"
    check "the CLI on $f finds /$deleted deleted" cli_absent "$f" "$deleted"
  done
  wait_for 20 "full replication" fully_replicated 4 || true
  check "fully replicated on 4 FileStores again" fully_replicated 4

  section "cut the leader NameServer's link"
  local leader=ns1 standby=ns2
  if leader_is ns2; then
    leader=ns2
    standby=ns1
  fi
  make_source g0 120000
  make_source g1 200000
  cut_link "$leader"
  # Informational: a write started right away has to ride out the failover by itself.
  local early_pid
  (write_and_read g0 g0) &
  early_pid=$!
  check "$standby takes over as the leader" \
    wait_for "$FAILOVER_WITHIN" "$standby leads" leader_is "$standby"
  check "the mount resumes: a new write and read succeed" write_and_read g1 g1
  check "read /g1 with the CLI on fs2" cli_matches fs2 g1 g1
  check "every earlier file still reads" read_all_except "$overwritten" "$deleted"
  if wait "$early_pid"; then
    log "INFO: a write started during the failover succeeded"
  else
    log "INFO: a write started during the failover failed (see client.log)"
  fi
  restore_link "$leader"
  make_source g2 100000
  check "$leader back on the network: write and read still work" write_and_read g2 g2
  check "$standby is still the leader" leader_is "$standby"

  section "stop one ZooKeeper server"
  local zkl
  zkl=$(zk_leader) || zkl=zk1
  log "stopping the ZooKeeper leader $zkl"
  kill_host_process "$zkl"
  local others=()
  for i in zk1 zk2 zk3; do [[ $i == "$zkl" ]] || others+=("$i"); done
  check "the two remaining ZooKeeper servers form a quorum" \
    wait_for 30 "ZooKeeper quorum of two" zk_quorum "${others[@]}"
  make_source h1 250000
  check "write and read through the mount with a ZooKeeper server down" write_and_read h1 h1
  check "read /h1 with the CLI on ns1" cli_matches ns1 h1 h1
  check "chainfs status shows 4 live FileStores with a ZooKeeper server down" \
    wait_for 20 "4 live FileStores" live_filestores_are 4
  check "every earlier file still reads" read_all_except "$overwritten" "$deleted"

  section "processes"
  local host
  for host in ns1 ns2 fs1 fs2 fs3 fs4 client; do
    check "$host's daemon is still running" running "$host"
  done
  summary
}

three_holders_without() {  # three_holders_without FILE FILESTORE
  local out
  out=$(cli client stat "/$1" 2>&1) || return 1
  local holders
  holders=$(sed -n 's/^holders: *//p' <<<"$out" | tr ' ' '\n' | grep . | sort -u)
  [[ $(wc -l <<<"$holders") == 3 ]] && ! grep -qF "${IP[$2]}:" <<<"$holders"
}

read_all_except() {
  local i
  for i in 1 2 3 4 5 6 7 8; do
    [[ f$i == "$1" || f$i == "$2" ]] && continue
    mount_matches "f$i" "f$i" || { log "/f$i does not read back"; return 1; }
  done
}

# `chainfs stat` on HOST answers "not found" (exit code 3).
cli_absent() {
  local rc=0
  cli "$1" stat "/$2" >/dev/null 2>&1 || rc=$?
  ((rc == 3))
}

# stale_copies_gone FILESTORE OLD... : no trace of the old contents in its data directory.
stale_copies_gone() {
  local fs=$1 f
  shift
  for f in "$@"; do
    ! filestore_has_marker "$fs" "$(marker_of "$f")" || return 1
  done
}

not() { ! "$@"; }

main "$@"
