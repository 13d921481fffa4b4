#!/usr/bin/env bash
# copy_bench.sh — throughput of vnas-offload's host-copy fallback vs nfs-cp.
#
# For each measurement: starts a private vnasd on loopback (fresh data dir,
# free ports, no portmapper), uploads SIZE_MB of random data, syncs, then
# copies it NFS -> NFS on that server with one tool; rounds alternate which
# tool goes first:
#   nfs-cp SRC_URL DST_URL                          (libnfs-utils, the anchor)
#   vnas-offload clone --no-offload SRC_URL DST_URL (our fallback engine)
# Both copies are verified by md5. Prints per-run MiB/s, the medians and the
# ratio (goal: >= 80% of nfs-cp). vnas-offload's figure includes its COMMITs
# (data durable on return); nfs-cp never sends COMMIT. Not a test.
#
# Usage: plugins/bench/copy_bench.sh [SIZE_MB=1024] [ROUNDS=3] [extra vnas-offload flags]
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MB=${1:-1024}
ROUNDS=${2:-3}
shift $(( $# > 2 ? 2 : $# )) || true
EXTRA=("$@")

bazel build -c opt //server:vnasd //plugins/host:vnas-offload >/dev/null 2>&1 ||
  bazel build -c opt //server:vnasd //plugins/host:vnas-offload
BIN=$(bazel info -c opt bazel-bin 2>/dev/null)
work=$(mktemp -d /tmp/vnas-copy-bench.XXXXXX)
cp "$BIN/server/vnasd" "$BIN/plugins/host/vnas-offload" "$work/"
pid=""
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
now() { date +%s.%N; }
mibs() { python3 -c "print(f'{$SIZE_MB/($2-$1):.0f}')"; }

head -c $((SIZE_MB << 20)) /dev/urandom >"$work/src.img"
want=$(md5sum <"$work/src.img" | cut -d' ' -f1)
declare -a CP OFF
U="nfs://127.0.0.1/vnas"
# One fresh vnasd per measurement: neither tool pays for the other's data
# (a COMMIT flushes every dirty byte of the store's member files).
fresh_store() {
  NFS_PORT=$(free_port); CTL_PORT=$(free_port)
  rm -rf "$work/data"
  "$work/vnasd" --data_dir="$work/data" --nfs_listen=127.0.0.1:$NFS_PORT --portmap_listen=none \
    --control_listen=127.0.0.1:$CTL_PORT >"$work/vnasd.log" 2>&1 &
  pid=$!
  Q="?nfsport=$NFS_PORT&mountport=$NFS_PORT"
  for _ in $(seq 50); do nfs-ls "$U$Q" >/dev/null 2>&1 && break; sleep 0.1; done
  nfs-cp "$work/src.img" "$U/src.img$Q" >/dev/null
  sync
}
stop_store() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
verify() {
  got=$(nfs-cat "$U/$1$Q" | md5sum | cut -d' ' -f1)
  [ "$got" = "$want" ] || { echo "$1: content differs" >&2; exit 1; }
}
run_cp() {
  fresh_store
  local t0 t1; t0=$(now); nfs-cp "$U/src.img$Q" "$U/cp.img$Q" >/dev/null; t1=$(now)
  CP+=("$(mibs "$t0" "$t1")")
  verify cp.img; stop_store
}
run_off() {
  fresh_store
  local t0 t1 rc=0; t0=$(now)
  "$work/vnas-offload" clone "$U/src.img$Q" "$U/off.img$Q" --no-offload --progress=false \
    --control 127.0.0.1:$CTL_PORT "${EXTRA[@]}" >/dev/null || rc=$?
  t1=$(now)
  [ "$rc" -eq 3 ] || { echo "vnas-offload exited $rc" >&2; exit 1; }
  OFF+=("$(mibs "$t0" "$t1")")
  verify off.img; stop_store
}
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then run_cp; run_off; else run_off; run_cp; fi
done

python3 - "$SIZE_MB" "${CP[*]}" "${OFF[*]}" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import sys, statistics
size, cp, off = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
print(f"file: {size} MiB random data, NFS->NFS on a fresh loopback vnasd per copy, "
      f"{len(cp)} rounds, {sys.argv[4]} CPUs, load {sys.argv[5]}")
print(f"nfs-cp                 : median {statistics.median(cp):.0f} MiB/s  runs {cp}")
print(f"vnas-offload (fallback): median {statistics.median(off):.0f} MiB/s  runs {off}")
print(f"ratio (medians)        : {100*statistics.median(off)/statistics.median(cp):.0f}% of nfs-cp")
PY
