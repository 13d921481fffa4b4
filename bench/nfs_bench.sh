#!/usr/bin/env bash
# nfs_bench.sh — vnasd against baselines in one run, on this machine:
#   * local disk: dd (conv=fsync) in, cat out, of the same data;
#   * nfs-ganesha 4 (FSAL VFS) on the same disk, when it can be started;
#   * vnasd.
# Measures nfs-cp of one big file in and out (checksummed) and the
# small-file create+write / remove rate, and prints ratios.
#
#   bash bench/nfs_bench.sh [SIZE_MB=1024] [FILES=2000]
#
# Everything runs inside a private network namespace (unshare -n, as root),
# so the servers' ports (2049, 20048, 111) never touch the machine's. Needs
# nfs-ganesha nfs-ganesha-vfs rpcbind for the ganesha column (installed with
# apt-get when missing; the column is skipped when that fails).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-1024}
FILES=${2:-2000}

if [ "${VNAS_BENCH_IN_NETNS:-}" != 1 ]; then
  bazel build -c opt //server:vnasd //bench:small_files //bench:rpc_load >/dev/null 2>&1 ||
    bazel build -c opt //server:vnasd //bench:small_files //bench:rpc_load
  BIN=$(bazel info -c opt bazel-bin 2>/dev/null)
  if ! command -v ganesha.nfsd >/dev/null || ! command -v rpcbind >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      nfs-ganesha nfs-ganesha-vfs rpcbind >/dev/null 2>&1 || true
  fi
  export VNAS_BENCH_IN_NETNS=1 VNAS_BENCH_BIN="$BIN"
  exec unshare -n bash "$0" "$SIZE_MB" "$FILES"
fi

ip link set lo up
BIN=$VNAS_BENCH_BIN
WORK=$(mktemp -d /var/tmp/vnas-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
mbps() { awk -v mb="$SIZE_MB" -v t="$1" 'BEGIN { printf "%.1f", mb / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
timeit() { local t0; t0=$(now); "$@" >/dev/null 2>&1; awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

echo "nfs_bench: ${SIZE_MB} MiB file, ${FILES} small files of 4 KiB; work dir $WORK"
head -c $((SIZE_MB << 20)) /dev/urandom > "$WORK/src"
SUM=$(sha256sum "$WORK/src" | cut -d' ' -f1)
sync

declare -A IN OUT CREATE REMOVE RPC

# ---- local disk -------------------------------------------------------------
mkdir -p "$WORK/local"
IN[local]=$(timeit dd if="$WORK/src" of="$WORK/local/f" bs=1M conv=fsync)
OUT[local]=$(timeit sh -c "cat '$WORK/local/f' > '$WORK/local.back'")
read -r CREATE[local] REMOVE[local] < <("$BIN/bench/small_files" --local_dir="$WORK/local" --files="$FILES" |
  sed -E 's/.*create\+write\/s=([0-9.]+) remove\/s=([0-9.]+)/\1 \2/')
rm -f "$WORK/local/f" "$WORK/local.back"

# nfs_case NAME URL_DIR: nfs-cp in/out + small files against one server.
nfs_case() {
  local name=$1 url_dir=$2 q=$3
  IN[$name]=$(timeit nfs-cp "$WORK/src" "$url_dir/big$q")
  OUT[$name]=$(timeit nfs-cp "$url_dir/big$q" "$WORK/$name.back")
  local got
  got=$(sha256sum "$WORK/$name.back" | cut -d' ' -f1)
  if [ "$got" != "$SUM" ]; then echo "nfs_bench: $name: CHECKSUM MISMATCH" >&2; exit 1; fi
  rm -f "$WORK/$name.back"
  read -r CREATE[$name] REMOVE[$name] < <("$BIN/bench/small_files" --nfs_url="$url_dir$q" --files="$FILES" |
    sed -E 's/.*create\+write\/s=([0-9.]+) remove\/s=([0-9.]+)/\1 \2/')
}

# ---- vnasd --------------------------------------------------------------------
"$BIN/server/vnasd" --data_dir="$WORK/vnasd" --nfs_listen=127.0.0.1:2049 \
  --portmap_listen=none --control_listen=127.0.0.1:50099 >"$WORK/vnasd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do nfs-ls "nfs://127.0.0.1/vnas?nfsport=2049&mountport=2049" >/dev/null 2>&1 && break; sleep 0.1; done
nfs_case vnasd "nfs://127.0.0.1/vnas" "?nfsport=2049&mountport=2049"
RPC[vnasd]=$("$BIN/bench/rpc_load" --port=2049 --conns=4 --depth=32 --seconds=3 | sed -E 's/.*: ([0-9]+) calls.*/\1/')
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

# ---- nfs-ganesha ----------------------------------------------------------------
HAVE_GANESHA=0
if command -v ganesha.nfsd >/dev/null && command -v rpcbind >/dev/null; then
  mkdir -p "$WORK/ganesha/export" /run/rpcbind /var/lib/nfs/ganesha
  cat > "$WORK/ganesha/ganesha.conf" <<CONF
NFS_CORE_PARAM { Protocols = 3; NFS_Port = 2049; MNT_Port = 20048;
  Enable_NLM = false; Enable_RQUOTA = false; Enable_UDP = false; }
NFS_KRB5 { Active_krb5 = false; }
EXPORT { Export_Id = 1; Path = $WORK/ganesha/export; Pseudo = /gan;
  Protocols = 3; Transports = TCP; Access_Type = RW; Squash = No_Root_Squash;
  SecType = sys; FSAL { Name = VFS; } }
LOG { Default_Log_Level = WARN; }
CONF
  rpcbind -w -f & PIDS+=($!)
  sleep 0.5
  ganesha.nfsd -F -f "$WORK/ganesha/ganesha.conf" -L "$WORK/ganesha/log" -p "$WORK/ganesha/pid" &
  PIDS+=($!)
  G="nfs://127.0.0.1$WORK/ganesha/export"
  for _ in $(seq 100); do nfs-ls "$G?nfsport=2049&mountport=20048" >/dev/null 2>&1 && HAVE_GANESHA=1 && break; sleep 0.2; done
  if [ $HAVE_GANESHA = 1 ]; then
    nfs_case ganesha "$G" "?nfsport=2049&mountport=20048"
    RPC[ganesha]=$("$BIN/bench/rpc_load" --port=2049 --mount_port=20048 \
      --export_path="$WORK/ganesha/export" --conns=4 --depth=32 --seconds=3 |
      sed -E 's/.*: ([0-9]+) calls.*/\1/')
  fi
fi

# ---- report ---------------------------------------------------------------------
printf '\n%-10s %14s %14s %18s %12s %16s\n' "" "nfs-cp in" "nfs-cp out" "create+write 4K/s" "remove/s" "GETATTR/s (4x32)"
for n in local vnasd ganesha; do
  [ -n "${IN[$n]:-}" ] || continue
  printf '%-10s %9s MB/s %9s MB/s %18s %12s %16s\n' "$n" "$(mbps "${IN[$n]}")" "$(mbps "${OUT[$n]}")" "${CREATE[$n]}" "${REMOVE[$n]}" "${RPC[$n]:--}"
done
echo
echo "(local = dd conv=fsync in, cat out, POSIX create/write/close and unlink)"
echo "vnasd / local:   in $(ratio "${IN[local]}" "${IN[vnasd]}")x  out $(ratio "${OUT[local]}" "${OUT[vnasd]}")x  create $(ratio "${CREATE[vnasd]}" "${CREATE[local]}")x  remove $(ratio "${REMOVE[vnasd]}" "${REMOVE[local]}")x"
if [ $HAVE_GANESHA = 1 ]; then
  echo "vnasd / ganesha: in $(ratio "${IN[ganesha]}" "${IN[vnasd]}")x  out $(ratio "${OUT[ganesha]}" "${OUT[vnasd]}")x  create $(ratio "${CREATE[vnasd]}" "${CREATE[ganesha]}")x  remove $(ratio "${REMOVE[vnasd]}" "${REMOVE[ganesha]}")x  GETATTR $(ratio "${RPC[vnasd]}" "${RPC[ganesha]}")x"
else
  echo "nfs-ganesha: not available (apt-get install nfs-ganesha nfs-ganesha-vfs rpcbind)"
fi
