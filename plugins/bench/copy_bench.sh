#!/usr/bin/env bash
# copy_bench.sh — throughput of vnas-offload's host-copy fallback vs nfs-cp.
#
# Starts a private vnasd on loopback (temp data dir, free ports, no
# portmapper), writes a SIZE_MB file of random data to it, then copies it
# NFS -> NFS on the same server RUNS times with each tool:
#   nfs-cp SRC_URL DST_URL                          (libnfs-utils, the anchor)
#   vnas-offload clone --no-offload SRC_URL DST_URL (our fallback engine)
# and prints the best and median MiB/s of each and the ratio (goal >= 80%).
# Copies are verified by md5. Not a test: it prints figures.
#
# Usage: plugins/bench/copy_bench.sh [SIZE_MB=1024] [RUNS=3] [extra vnas-offload flags]
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MB=${1:-1024}
RUNS=${2:-3}
shift $(( $# > 2 ? 2 : $# )) || true
EXTRA=("$@")

bazel build -c opt //server:vnasd //plugins/host:vnas-offload >/dev/null 2>&1 ||
  bazel build -c opt //server:vnasd //plugins/host:vnas-offload
BIN=$(bazel info -c opt bazel-bin 2>/dev/null)
VNASD=$BIN/server/vnasd
OFFLOAD=$BIN/plugins/host/vnas-offload

work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
NFS_PORT=$(free_port)
CTL_PORT=$(free_port)
"$VNASD" --data_dir="$work/data" --nfs_listen=127.0.0.1:$NFS_PORT --portmap_listen=none \
  --control_listen=127.0.0.1:$CTL_PORT >"$work/vnasd.log" 2>&1 &
pid=$!
for _ in $(seq 50); do
  nfs-ls "nfs://127.0.0.1/vnas?nfsport=$NFS_PORT&mountport=$NFS_PORT" >/dev/null 2>&1 && break
  sleep 0.1
done

U="nfs://127.0.0.1/vnas"
Q="?nfsport=$NFS_PORT&mountport=$NFS_PORT"
head -c $((SIZE_MB << 20)) /dev/urandom >"$work/src.img"
want=$(md5sum <"$work/src.img" | cut -d' ' -f1)
nfs-cp "$work/src.img" "$U/src.img$Q" >/dev/null
rm -f "$work/src.img"

now() { date +%s.%N; }
mibs() { python3 -c "print(f'{$SIZE_MB/($2-$1):.0f}')"; }
declare -a CP OFF
for i in $(seq "$RUNS"); do
  t0=$(now); nfs-cp "$U/src.img$Q" "$U/cp$i.img$Q" >/dev/null; t1=$(now)
  CP+=("$(mibs "$t0" "$t1")")
  t0=$(now)
  rc=0
  "$OFFLOAD" clone "$U/src.img$Q" "$U/off$i.img$Q" --no-offload --progress=false \
    --control 127.0.0.1:$CTL_PORT "${EXTRA[@]}" >/dev/null || rc=$?
  t1=$(now)
  [ "$rc" -eq 3 ] || { echo "vnas-offload exited $rc" >&2; exit 1; }
  OFF+=("$(mibs "$t0" "$t1")")
  for f in cp$i off$i; do
    got=$(nfs-cat "$U/$f.img$Q" | md5sum | cut -d' ' -f1)
    [ "$got" = "$want" ] || { echo "$f.img: content differs" >&2; exit 1; }
    nfs-rm "$U/$f.img$Q" >/dev/null 2>&1 || true
  done
done

python3 - "$SIZE_MB" "${CP[*]}" "${OFF[*]}" <<'PY'
import sys, statistics
size = sys.argv[1]
cp = [float(x) for x in sys.argv[2].split()]
off = [float(x) for x in sys.argv[3].split()]
print(f"file: {size} MiB random data, NFS->NFS on one loopback vnasd, {len(cp)} runs each")
print(f"nfs-cp                 : best {max(cp):.0f} MiB/s, median {statistics.median(cp):.0f} MiB/s  runs {cp}")
print(f"vnas-offload (fallback): best {max(off):.0f} MiB/s, median {statistics.median(off):.0f} MiB/s  runs {off}")
print(f"ratio (median)         : {100*statistics.median(off)/statistics.median(cp):.0f}% of nfs-cp")
PY
