#!/usr/bin/env bash
# Builds the chainfs-server and chainfs-client packages, installs them with dpkg, checks
# the installed files, verifies the systemd units, and runs the installed binaries with the
# packaged configuration (ports, data and ZooKeeper overridden on the command line) for a
# write/read round trip through the installed CLI. Removes the packages at the end.
set -euo pipefail
BUILD=${1:?usage: packaging_test.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
WORK=$(mktemp -d /tmp/chainfs-pkgtest.XXXXXX)
PIDS=()
passed=0
failed=0

cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  dpkg -P chainfs-client chainfs-server >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

check() {  # check "what" command...
  local what=$1
  shift
  if "$@"; then
    echo "ok   $what"
    passed=$((passed + 1))
  else
    echo "FAIL $what"
    failed=$((failed + 1))
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_for() {  # wait_for SECONDS command...: polls until the command succeeds
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

echo "== building packages"
(cd "$BUILD" && cpack -G DEB -B "$WORK/debs" >"$WORK/cpack.log" 2>&1) || {
  cat "$WORK/cpack.log"
  exit 1
}
SERVER_DEB=$(ls "$WORK"/debs/chainfs-server_*.deb)
CLIENT_DEB=$(ls "$WORK"/debs/chainfs-client_*.deb)

echo "== package contents"
dpkg-deb -c "$SERVER_DEB" >"$WORK/server.list"
dpkg-deb -c "$CLIENT_DEB" >"$WORK/client.list"
for f in ./usr/bin/chainfs-nameserver ./usr/bin/chainfs-filestore \
  ./usr/lib/systemd/system/chainfs-nameserver.service \
  ./usr/lib/systemd/system/chainfs-filestore@.service \
  ./etc/chainfs/nameserver.toml ./etc/chainfs/filestore-1.toml; do
  check "server package has $f" grep -q " $f\$" "$WORK/server.list"
done
for f in ./usr/bin/chainfs-mount ./usr/bin/chainfs ./usr/sbin/mount.chainfs ./etc/chainfs/mount.toml; do
  check "client package has $f" grep -qE " $f( ->.*)?\$" "$WORK/client.list"
done
check "server package declares its library dependencies" \
  bash -c "dpkg-deb -f '$SERVER_DEB' Depends | grep -q libgrpc"
check "client package depends on fuse3" bash -c "dpkg-deb -f '$CLIENT_DEB' Depends | grep -q fuse3"

echo "== installing"
dpkg -i "$SERVER_DEB" "$CLIENT_DEB" >"$WORK/dpkg.log" 2>&1 || {
  cat "$WORK/dpkg.log"
  exit 1
}
check "system user chainfs exists" getent passwd chainfs
check "installed binaries run" /usr/bin/chainfs-filestore --help
check "units pass systemd-analyze verify" \
  systemd-analyze verify /lib/systemd/system/chainfs-nameserver.service \
  /lib/systemd/system/chainfs-filestore@1.service

echo "== round trip with the installed binaries"
ZK_PORT=$(free_port)
mkdir -p "$WORK/zk"
cat >"$WORK/zk/zoo.cfg" <<CFG
tickTime=250
dataDir=$WORK/zk
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
CFG
java -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
  org.apache.zookeeper.server.ZooKeeperServerMain "$WORK/zk/zoo.cfg" >"$WORK/zk.log" 2>&1 &
PIDS+=($!)
ZK="127.0.0.1:$ZK_PORT/pkgtest"
# A CA and a certificate per role, made with the installed CLI; everything runs with TLS.
/usr/bin/chainfs certs init "$WORK/tls" >/dev/null
for role in filestore nameserver client admin; do
  /usr/bin/chainfs certs issue --role $role --name localhost --name 127.0.0.1 "$WORK/tls" >/dev/null
done
check "certs writes keys 0600" bash -c "[[ \$(stat -c %a '$WORK/tls/client.key') == 600 ]]"
TLS=(--tls-dir "$WORK/tls")

for i in 1 2 3; do
  mkdir -p "$WORK/fs$i"
  /usr/bin/chainfs-filestore --config /etc/chainfs/filestore-1.toml --zk "$ZK" "${TLS[@]}" \
    --listen 127.0.0.1:0 --data-dir "$WORK/fs$i" --heartbeat-interval 300ms \
    --address-file "$WORK/fs$i.addr" >"$WORK/fs$i.log" 2>&1 &
  PIDS+=($!)
done
/usr/bin/chainfs-nameserver --config /etc/chainfs/nameserver.toml --zk "$ZK" "${TLS[@]}" \
  --listen 127.0.0.1:0 --heartbeat-interval 300ms --startup-wait 2s \
  --address-file "$WORK/ns.addr" >"$WORK/ns.log" 2>&1 &
PIDS+=($!)

head -c 3000000 /dev/urandom >"$WORK/in"
CLI=(/usr/bin/chainfs --zk "$ZK" "${TLS[@]}")
check "put through the installed CLI" wait_for 60 "${CLI[@]}" put "$WORK/in" /hello
check "get returns the same bytes" bash -c \
  "${CLI[*]} get /hello '$WORK/out' && cmp '$WORK/in' '$WORK/out'"
check "status lists three FileStores" bash -c "${CLI[*]} --tls-name admin status | grep -qE '^filestores: +3\$'"

if ((failed)); then
  for f in "$WORK"/*.log; do
    echo "--- $f"
    tail -20 "$f"
  done
fi
echo "$passed passed, $failed failed"
((failed == 0))
