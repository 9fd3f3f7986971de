# shellcheck shell=bash
# Helpers of multihost_test.sh: checks and their summary, bounded polls, the namespaces and
# bridge, processes started inside them, and the cleanup that undoes all of it.
# Expects HOSTS (array) and IP (host -> address) from the test.

PREFIX="cfs-$$-"            # network namespace names: cfs-<pid>-zk1, cfs-<pid>-sw, ...
SWITCH="${PREFIX}sw"
# shellcheck disable=SC2034  # used by the test
RUN_ID="$$-$(date +%s)"
WORK=$(mktemp -d /tmp/chainfs-multihost.XXXXXX)
LOGS=$WORK/logs
MNT=$WORK/mnt
# shellcheck disable=SC2034
MNT_LOG=$LOGS/client.log
mkdir -p "$LOGS"
START_NS=$(date +%s%N)

PASSED=0
FAILED=0
FAILED_CHECKS=()
CREATED_NETNS=()
declare -A PID=()          # host -> pid of the process it runs
MOUNTED=0
WAITED_MS=0
ROOT_LINKS=""

elapsed() {
  local t=$((($(date +%s%N) - START_NS) / 100000000))
  printf '%d.%d' $((t / 10)) $((t % 10))
}
log() { echo "[multihost +$(elapsed)s] $*"; }
section() { echo; log "== $*"; }
die() {
  log "FATAL: $*"
  FAILED=$((FAILED + 1))
  FAILED_CHECKS+=("fatal: $*")
  exit 1
}

pass() {
  PASSED=$((PASSED + 1))
  log "PASS: $*"
}
fail() {
  FAILED=$((FAILED + 1))
  FAILED_CHECKS+=("$*")
  log "FAIL: $*"
}
# check DESCRIPTION COMMAND...: runs the command and records the result; never exits.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
check_eq() {
  if [[ $2 == "$3" ]]; then
    pass "$1"
  else
    fail "$1 (got '$2', want '$3')"
  fi
}

SUMMARY_PRINTED=0
summary() {
  SUMMARY_PRINTED=1
  echo
  log "multihost: $PASSED passed, $FAILED failed"
  local c
  for c in "${FAILED_CHECKS[@]}"; do log "  failed: $c"; done
  ((FAILED == 0)) || exit 1
  exit 0
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls every 200 ms until the command succeeds (0,
# WAITED_MS set) or the time is up (1).
wait_for() {
  local limit=$1 what=$2
  shift 2
  local start now
  start=$(date +%s%N)
  local deadline=$((start + limit * 1000000000))
  while true; do
    if "$@"; then
      WAITED_MS=$((($(date +%s%N) - start) / 1000000))
      log "$what after ${WAITED_MS} ms"
      return 0
    fi
    now=$(date +%s%N)
    if ((now >= deadline)); then
      log "no $what within ${limit}s"
      return 1
    fi
    sleep 0.2
  done
}

# ---------------------------------------------------------------------------------------------
# Network

ns_of() { echo "${PREFIX}$1"; }

# Namespaces left by an earlier run of this test that was killed (cfs-<pid>-*, that pid gone):
# their processes are stopped and the namespaces deleted, so addresses and names are free.
remove_stale_namespaces() {
  local ns pid pids
  for ns in $(ip netns list | awk '{print $1}' | grep -E '^cfs-[0-9]+-' || true); do
    pid=${ns#cfs-}
    pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null && continue
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    log "removing $ns, left by an earlier run${pids:+ (stopping pids $pids)}"
    # shellcheck disable=SC2086
    [[ -n $pids ]] && kill -KILL $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
  done
}

root_links() { ip -o link show | awk -F': ' '{print $2}' | sort | tr '\n' ' '; }

setup_network() {
  section "network namespaces"
  remove_stale_namespaces
  ROOT_LINKS=$(root_links)
  CREATED_NETNS+=("$SWITCH")
  ip netns add "$SWITCH"
  ip -n "$SWITCH" link set lo up
  ip -n "$SWITCH" link add br0 type bridge stp_state 0 forward_delay 0
  ip -n "$SWITCH" link set br0 up
  local host ns
  for host in "${HOSTS[@]}"; do
    ns=$(ns_of "$host")
    CREATED_NETNS+=("$ns")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$SWITCH" link add "v-$host" type veth peer name eth0 netns "$ns"
    ip -n "$SWITCH" link set "v-$host" master br0
    ip -n "$SWITCH" link set "v-$host" up
    ip -n "$ns" addr add "${IP[$host]}/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
  log "switch $SWITCH, hosts: $(for h in "${HOSTS[@]}"; do printf '%s=%s ' "$h" "${IP[$h]}"; done)"
}

cut_link() {
  log "cutting the link of $1 (${IP[$1]})"
  ip -n "$SWITCH" link set "v-$1" down
}
restore_link() {
  log "restoring the link of $1 (${IP[$1]})"
  ip -n "$SWITCH" link set "v-$1" up
}

# in_host HOST SECONDS COMMAND...: runs a command on a host, killed after SECONDS.
in_host() {
  local host=$1 limit=$2
  shift 2
  timeout -s KILL "$limit" ip netns exec "$(ns_of "$host")" "$@" </dev/null
}
in_host_quiet() { in_host "$@" 2>/dev/null; }

# From every host, a TCP connection to every other host's port 9 is refused at once (the
# packet got there and back); an unreachable host gives "no route" or times out instead.
all_hosts_connected() {
  local from targets="" h ok=0
  for h in "${HOSTS[@]}"; do targets+="${IP[$h]} "; done
  for from in "${HOSTS[@]}"; do
    # shellcheck disable=SC2016
    if ! in_host "$from" 20 bash -c '
      for ip in '"$targets"'; do
        err=$( (exec 3<>"/dev/tcp/$ip/9") 2>&1)
        case $err in *refused*) ;; *) echo "$ip: $err"; exit 1 ;; esac
      done'; then
      log "$from does not reach every host"
      ok=1
    fi
  done
  return $ok
}

# reachable FROM TO: a connection from FROM to TO's port 9 is refused within a second.
reachable() {
  # shellcheck disable=SC2016
  in_host "$1" 5 timeout 1 bash -c '(exec 3<>"/dev/tcp/$0/9") 2>&1 | grep -q refused' "${IP[$2]}"
}

root_network_unchanged() { [[ $(root_links) == "$ROOT_LINKS" ]]; }

# ---------------------------------------------------------------------------------------------
# Processes

# start_in HOST LOGNAME COMMAND...: starts a process in HOST's network namespace (ip netns exec
# execs the command, so $! is the daemon's own pid).
start_in() {
  local host=$1 name=$2
  shift 2
  ip netns exec "$(ns_of "$host")" "$@" </dev/null >"$LOGS/$name.log" 2>&1 &
  PID[$host]=$!
  log "started $name (pid ${PID[$host]})"
}
# start_with HOST LOGFILE COMMAND...: starts a process as it is (the command switches namespace).
start_with() {
  local host=$1 logfile=$2
  shift 2
  "$@" </dev/null >"$logfile" 2>&1 &
  PID[$host]=$!
  log "started $host (pid ${PID[$host]})"
}

# wait_started HOST FILE SECONDS: the process on HOST wrote FILE (its --address-file); fails
# at once when the process died.
wait_started() {
  wait_for "$3" "$1 to write its address (or exit)" started_or_dead "$1" "$2" && running "$1"
}
started_or_dead() { [[ -s $2 ]] || ! running "$1"; }

running() { [[ -n ${PID[$1]:-} ]] && kill -0 "${PID[$1]}" 2>/dev/null; }

kill_host_process() {
  local pid=${PID[$1]}
  log "killing $1 (pid $pid)"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Sends SIGTERM to all the pids given, waits up to 5 s, then SIGKILLs what is left.
stop_pids() {
  local pid left i
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    left=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && left=1; done
    ((left)) || break
    sleep 0.1
  done
  for pid in "$@"; do
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

print_logs() {
  local f lines
  for f in "$LOGS"/*.log; do
    [[ -e $f ]] || continue
    lines=40
    [[ $(basename "$f") == zk* ]] && lines=15
    echo
    echo "----- last $lines lines of $(basename "$f") -----"
    tail -n "$lines" "$f" || true
  done
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT
  ((rc == 0 && FAILED == 0)) || print_logs
  if ((!SUMMARY_PRINTED && rc != 77)); then
    echo
    log "multihost: $PASSED passed, $FAILED failed (stopped early, exit code $rc)"
  fi
  if ((MOUNTED)) && mounted; then
    fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
  fi
  # The mount first, then the FileStores and NameServers, then ZooKeeper.
  local h pids=()
  [[ -n ${PID[client]:-} ]] && stop_pids "${PID[client]}"
  for h in fs1 fs2 fs3 fs4 ns1 ns2; do [[ -n ${PID[$h]:-} ]] && pids+=("${PID[$h]}"); done
  ((${#pids[@]})) && stop_pids "${pids[@]}"
  pids=()
  for h in zk1 zk2 zk3; do [[ -n ${PID[$h]:-} ]] && pids+=("${PID[$h]}"); done
  ((${#pids[@]})) && stop_pids "${pids[@]}"
  if ((MOUNTED)) && mounted; then umount -l "$MNT" 2>/dev/null; fi
  # Deleting a namespace deletes its veth end, and with it the peer in the switch.
  local ns
  for ns in "${CREATED_NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  if [[ -n $ROOT_LINKS && $(root_links) != "$ROOT_LINKS" ]]; then
    log "WARNING: the root namespace's links changed: $(root_links)"
  fi
  if [[ ${CHAINFS_MULTIHOST_KEEP:-0} == 1 ]]; then
    log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
