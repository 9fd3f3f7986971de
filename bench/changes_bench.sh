#!/bin/sh
# Small changes to big files on a running mount (issue 15 group 9), with same-run baselines: a
# local directory, and optionally a second mount of the same cluster made with --whole-uploads
# (every upload whole, as before uploads on a base version). Measures sqlite autocommit inserts
# on a small and a 32 MiB database, and a 1 MiB append to a 512 MiB file (open, append, close;
# the open fetches the file). Medians of RUNS runs (default 3).
#   bench/changes_bench.sh MOUNT LOCAL_DIR [RUNS [WHOLE_UPLOADS_MOUNT]]
# e.g. after `scripts/cluster up --mount /tmp/mnt` and a second mount at /tmp/whole (the
# command `up` prints, plus --whole-uploads):
#   bench/changes_bench.sh /tmp/mnt /var/tmp 3 /tmp/whole
set -eu
mnt=$1
local_dir=$2
runs=${3:-3}
whole=${4:-}
commits=100

# ms per autocommit INSERT into a database of about $2 KiB in directory $1.
sqlite_ms() {
  python3 - "$1/changes-bench.db" "$2" "$commits" <<'EOF'
import os, sqlite3, sys, time
path, kib, commits = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for suffix in ("", "-journal"):
    if os.path.exists(path + suffix):
        os.remove(path + suffix)
db = sqlite3.connect(path, isolation_level=None)
db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
db.execute("BEGIN")
for i in range(kib // 4):
    db.execute("INSERT INTO t (v) VALUES (randomblob(4000))")
db.execute("COMMIT")
start = time.monotonic()
for i in range(commits):
    db.execute("INSERT INTO t (v) VALUES (randomblob(100))")
print("%.2f" % ((time.monotonic() - start) * 1000 / commits))
db.close()
os.remove(path)
EOF
}

# seconds to open a 512 MiB file, append 1 MiB and close it, in directory $1.
append_s() {
  f="$1/changes-bench.log"
  head -c 512M /dev/urandom > "$f"
  start=$(date +%s.%N)
  head -c 1M /dev/urandom >> "$f"
  end=$(date +%s.%N)
  rm -f "$f"
  echo "$end - $start" | bc
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

measure() {  # NAME COMMAND...
  name=$1
  shift
  m=$(for i in $(seq "$runs"); do "$@" "$mnt"; done | median)
  l=$(for i in $(seq "$runs"); do "$@" "$local_dir"; done | median)
  echo "$name: chainfs $m, local $l, chainfs/local $(ratio "$m" "$l")"
  if [ -n "$whole" ]; then
    w=$(for i in $(seq "$runs"); do "$@" "$whole"; done | median)
    echo "  with --whole-uploads $w: whole/chainfs $(ratio "$w" "$m")"
  fi
}

small() { sqlite_ms "$1" 64; }
large() { sqlite_ms "$1" 32768; }
measure "sqlite autocommit insert, 64 KiB database (ms)" small
measure "sqlite autocommit insert, 32 MiB database (ms)" large
measure "append 1 MiB to a 512 MiB file, open to close (s)" append_s
