#!/usr/bin/env bash
# nfs_bench.sh — vnasd against nfs-ganesha (and local disk where it makes
# sense) in one run on this machine, for every workload of issue #7:
#   1. sequential 1 GiB write and read: nfs-cp in, nfs-cat out (warm and
#      cold), and qemu-img convert (raw file -> nfs:// URL -> raw file; qemu
#      asks the portmapper on 111);
#   2. 4 KiB random read and write, 16 in flight (bench/rand_io): read,
#      write UNSTABLE + COMMIT, write FILE_SYNC; a stable stream (1 MiB
#      FILE_SYNC writes in order, 8 in flight); and a lock file's heartbeat
#      (512 bytes rewritten FILE_SYNC, 1 in flight);
#   3. metadata rates of a synchronous client (bench/meta_ops): NULL (the
#      client's ceiling), GETATTR, LOOKUP, CREATE, REMOVE; plus small-file
#      create+write / remove (bench/small_files) and pipelined NULL / GETATTR
#      (bench/rpc_load, 4 connections x 32 in flight).
# Prints each figure, vnasd/ganesha, the goal and whether it is met.
#
#   bash bench/nfs_bench.sh [SIZE_MB=1024] [FILES=2000]
#   VNASD_FLAGS="--direct_bulk_io=false" bash bench/nfs_bench.sh   # vnasd flags
#   ROUNDS=1 bash bench/nfs_bench.sh   # one round per server (default 3,
#                                      # in A B B A A B order; each figure is
#                                      # the median of its rounds)
#
# Small arguments make a quick run (e.g. 256 500); below 1024 MiB the timed
# runs are shorter too. Everything runs inside a private network namespace
# (unshare -n, as root), so the servers' ports (2049, 20048, 111) never touch
# the machine's: vnasd runs its own portmapper, ganesha registers with an
# rpcbind started here. Both servers keep their data under /var/tmp (the
# same disk). Needs nfs-ganesha nfs-ganesha-vfs rpcbind qemu-utils
# libnfs-utils (installed with apt-get when missing; the ganesha column is
# skipped when that fails). The machine is shared, so page caches are never
# dropped as a whole: a read right after the write measures the server from
# its cache, and the "cold" read row first evicts just that server's data
# files (dd iflag=nocache). Timed reads go to /dev/null (nfs-cat) or over a
# RAM file written before (qemu-img -n), so no step pays for the client's
# own page allocation; and each timed client run starts on warm memory
# (warm_client: this VM returns free pages to its host).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-1024}
FILES=${2:-2000}
ROUNDS=${ROUNDS:-3}   # rounds per server, in A B B A A B order
TARGETS=(//server:vnasd //server/admin:vnasctl //bench:small_files //bench:rpc_load //bench:rand_io //bench:meta_ops)

if [ "${VNAS_BENCH_IN_NETNS:-}" != 1 ]; then
  bazel build -c opt "${TARGETS[@]}" >/dev/null 2>&1 || bazel build -c opt "${TARGETS[@]}"
  BIN=$(bazel info -c opt bazel-bin 2>/dev/null)
  if ! command -v ganesha.nfsd >/dev/null || ! command -v rpcbind >/dev/null ||
     ! command -v qemu-img >/dev/null || ! command -v nfs-cp >/dev/null ||
     [ ! -x /usr/bin/time ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      nfs-ganesha nfs-ganesha-vfs rpcbind qemu-utils qemu-block-extra libnfs-utils time \
      >/dev/null 2>&1 || true
  fi
  export VNAS_BENCH_IN_NETNS=1 VNAS_BENCH_BIN="$BIN" ROUNDS
  exec unshare -n bash "$0" "$SIZE_MB" "$FILES"
fi

ip link set lo up
BIN=$VNAS_BENCH_BIN
WORK=$(mktemp -d /var/tmp/vnas-bench.XXXXXX)
# Read copies and the qemu-img sink land in RAM (/dev/shm) when it has room,
# so the read figures measure the NFS path rather than the client's local
# disk; else in WORK.
BACK=$WORK
if [ -d /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR==2 { print $4 }')" -gt $(( (2 * SIZE_MB + 256) * 1024 )) ]; then
  BACK=$(mktemp -d /dev/shm/vnas-bench.XXXXXX)
fi
ERRS=$WORK/errors.log
: > "$ERRS"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK" "$BACK"
}
trap cleanup EXIT

if [ "$SIZE_MB" -ge 1024 ]; then RAND_SECS=10; META_SECS=3; else RAND_SECS=4; META_SECS=2; fi

now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "-" }'; }
# failed CMD...: notes that CMD failed, with its stderr, and prints ERR.
failed() {
  { echo "${1##*/} ${2:-} ${3:-}: failed"; sed 's/^/    /' "$WORK/stderr"; } >>"$ERRS"
  echo ERR
}
# timed CMD...: runs CMD, noting the client's CPU time (user + system, its
# children included) in $WORK/cpu when /usr/bin/time is there.
timed() {
  if [ -x /usr/bin/time ]; then /usr/bin/time -f "%U %S" -o "$WORK/cpu" "$@"
  else echo "- -" > "$WORK/cpu"; "$@"; fi
}
# rate T0 T1: "MB/s client-busy%" for SIZE_MB moved between T0 and T1; the
# client's CPU time over the same wall time says whether the client itself
# is what limits the figure (100 = one core busy throughout).
rate() {
  local user sys
  read -r user sys < <(tail -n 1 "$WORK/cpu")  # time's figures come last
  awk -v mb="$SIZE_MB" -v a="$1" -v b="$2" -v u="$user" -v s="$sys" '
    BEGIN { busy = (u ~ /^[0-9.]+$/) ? sprintf("%.0f", 100 * (u + s) / (b - a)) : "-"
            printf "%.1f %s\n", mb / (b - a), busy }'
}
# warm_client: touches and frees WARM_MB MiB of anonymous memory (dd's
# buffer filled from /dev/zero), so the timed client that follows gets
# pages the host backs. This VM hands free memory back to its host
# (virtio-balloon free page reporting); a process's first touch of such a
# page costs several times more (qemu-img's read against vnasd spent 13-19%
# of its CPU in clear_page_erms without this step, 5-7% with it, as against
# ganesha). Which pages a client gets depends on what ran before, e.g. on a
# server committing its cache at start, so each timed run of either server
# starts from the same warm state. WARM_MB=0 leaves it out.
WARM_MB=${WARM_MB:-1024}
avail_mb=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
[ "$WARM_MB" -le $((avail_mb / 4)) ] || WARM_MB=$((avail_mb / 4))
warm_client() {
  [ "$WARM_MB" -gt 0 ] || return 0
  dd if=/dev/zero of=/dev/null bs="${WARM_MB}M" count=1 status=none 2>/dev/null || true
}
# mbps_of CMD...: runs CMD, prints SIZE_MB / seconds and the client's busy
# percentage, or ERR (its stderr noted).
mbps_of() {
  local t0 t1
  warm_client
  t0=$(now)
  if ! timed "$@" >/dev/null 2>"$WORK/stderr"; then failed "$@"; return; fi
  t1=$(now)
  rate "$t0" "$t1"
}
# durable_mbps_of CMD...: like mbps_of for a write, honestly durable and
# from a clean start: the page cache is written back first (untimed), and
# the timed run ends with sync(1), so data the server still holds dirty
# in the page cache is on disk before the clock stops. Both servers
# keep their data on the same file system, so the sync costs each the same
# for the same dirty data.
durable_mbps_of() {
  local t0 t1
  warm_client
  sync
  t0=$(now)
  if ! timed "$@" >/dev/null 2>"$WORK/stderr"; then failed "$@"; return; fi
  sync
  t1=$(now)
  rate "$t0" "$t1"
}
# grab SED_EXPR CMD...: runs CMD and prints its figures picked by SED_EXPR,
# or ERR (its stderr noted).
grab() {
  local expr=$1 out; shift
  if ! out=$("$@" 2>"$WORK/stderr"); then failed "$@"; return; fi
  sed -E "$expr" <<<"$out"
}
# check NAME FILE: the round trip's copy must match the source.
check() {
  [ -f "$2" ] || return 0   # the copy failed; already noted
  if [ "$(sha256sum "$2" | cut -d' ' -f1)" != "$SUM" ]; then
    echo "$1: CHECKSUM MISMATCH" >>"$ERRS"; echo "nfs_bench: $1: CHECKSUM MISMATCH" >&2
  fi
  rm -f "$2"
}

# evict DIR: drops the (clean) page-cache pages of every file under DIR, so
# the next read of them comes from the disk (per file: the machine's other
# caches stay).
evict() {
  sync
  find "$1" -type f -exec dd if={} iflag=nocache count=0 status=none \;
}

echo "nfs_bench: ${SIZE_MB} MiB file, ${FILES} small files of 4 KiB; work dir $WORK"
head -c $((SIZE_MB << 20)) /dev/urandom > "$WORK/src"
SUM=$(sha256sum "$WORK/src" | cut -d' ' -f1)
# The qemu-img read target: written once here, then overwritten in place.
SINK=$BACK/sink.img
head -c $((SIZE_MB << 20)) /dev/zero > "$SINK"
sync

declare -A R   # R[metric,server] = figure

# ---- local disk -------------------------------------------------------------
mkdir -p "$WORK/local"
read -r R[cp_in,local] _ < <(durable_mbps_of dd if="$WORK/src" of="$WORK/local/f" bs=1M conv=fsync)
read -r R[cp_out,local] _ < <(mbps_of sh -c "cat '$WORK/local/f' > /dev/null")
evict "$WORK/local"
read -r R[cp_cold,local] _ < <(mbps_of sh -c "cat '$WORK/local/f' > /dev/null")
read -r R[create,local] R[remove,local] < <(grab 's/.*create\+write\/s=([0-9.]+) remove\/s=([0-9.]+)/\1 \2/' \
  "$BIN/bench/small_files" --local_dir="$WORK/local" --files="$FILES")
rm -f "$WORK/local/f" "$BACK/local.back"


# nfs_case NAME HOST_PATH PORTS EXPORT MOUNT_PORT DATA_DIR COLD: every
# workload against one server; HOST_PATH is nfs://host/export, PORTS the
# ?nfsport=..&mountport=.. query for libnfs tools (qemu-img uses the
# portmapper instead); DATA_DIR holds the server's data files; COLD is a
# command that empties the server's own caches (ganesha has none beyond the
# page cache: true; vnasd's data cache is in its memory: a restart).
nfs_case() {
  local name=$1 url=$2 q=$3 export=$4 mport=$5 data=$6 cold=$7 r
  echo "nfs_bench: $name ..."
  # 1. sequential; the read once more from the disk (cold)
  # nfs-cp sends no COMMIT: one follows it, timed (what a client's close
  # does), so a server holding written data in its own memory pays for it.
  read -r R[cp_in,$name] R[cp_in%,$name] < <(durable_mbps_of sh -c "nfs-cp '$WORK/src' '$url/big$q' &&
    '$BIN/bench/rand_io' --mode=commit --url='$url/big$q'")
  # Timed reads go where the client allocates no memory (nfs-cat to
  # /dev/null; qemu-img into the sink written before, in place): a copy
  # into new tmpfs pages costs this VM's client ~0.45 s/GiB on its own.
  # The copies are checked in untimed passes.
  read -r R[cp_out,$name] R[cp_out%,$name] < <(mbps_of sh -c "nfs-cat '$url/big$q' > /dev/null")
  nfs-cp "$url/big$q" "$BACK/$name.back" >/dev/null 2>&1 || true
  check "$name nfs-cp" "$BACK/$name.back"
  $cold
  evict "$data"
  read -r R[cp_cold,$name] R[cp_cold%,$name] < <(mbps_of sh -c "nfs-cat '$url/big$q' > /dev/null")
  read -r R[qemu_in,$name] R[qemu_in%,$name] < <(durable_mbps_of qemu-img convert -t writeback -f raw -O raw "$WORK/src" "$url/qemu.img")
  read -r R[qemu_out,$name] R[qemu_out%,$name] < <(mbps_of qemu-img convert -n -f raw -O raw "$url/qemu.img" "$SINK")
  if [ "$(sha256sum "$SINK" | cut -d' ' -f1)" != "$SUM" ]; then
    echo "$name qemu-img: CHECKSUM MISMATCH" >>"$ERRS"; echo "nfs_bench: $name qemu-img: CHECKSUM MISMATCH" >&2
  fi
  # Zeros again, in place, so the next server's copy is checked afresh.
  dd if=/dev/zero of="$SINK" bs=1M count="$SIZE_MB" conv=notrunc status=none
  # 2. random 4 KiB, 16 in flight, over the big file
  for m in randread randwrite randwrite_sync; do
    R[$m,$name]=$(grab 's/.*: ([0-9]+) IOPS.*/\1/' "$BIN/bench/rand_io" --url="$url/big$q" \
      --mode=$m --bs=4096 --depth=16 --seconds="$RAND_SECS")
  done
  # A hypervisor's stable stream: 1 MiB FILE_SYNC writes in order, 8 in
  # flight, over the big file (MiB/s = IOPS at 1 MiB).
  R[seqwrite_sync,$name]=$(grab 's/.*: ([0-9]+) IOPS.*/\1/' "$BIN/bench/rand_io" --url="$url/big$q" \
    --mode=randwrite_sync --sequential --bs=1048576 --depth=8 --seconds="$RAND_SECS")
  # A hypervisor's lock file (ESXi .lck-<fileid>): 512 bytes rewritten
  # FILE_SYNC in place, one at a time (the heartbeat).
  head -c 512 /dev/urandom >"$WORK/lck"
  if nfs-cp "$WORK/lck" "$url/.lck-1$q" >/dev/null 2>"$WORK/stderr"; then
    R[heartbeat,$name]=$(grab 's/.*: ([0-9]+) IOPS.*/\1/' "$BIN/bench/rand_io" --url="$url/.lck-1$q" \
      --mode=randwrite_sync --bs=512 --depth=1 --seconds="$RAND_SECS")
  else
    R[heartbeat,$name]=$(failed nfs-cp lock file)
  fi
  # 3. metadata
  read -r R[create,$name] R[remove,$name] < <(grab 's/.*create\+write\/s=([0-9.]+) remove\/s=([0-9.]+)/\1 \2/' \
    "$BIN/bench/small_files" --nfs_url="$url$q" --files="$FILES")
  r=$(grab 's/.*null\/s=([0-9]+) getattr\/s=([0-9]+) lookup\/s=([0-9]+) create\/s=([0-9]+) remove\/s=([0-9]+).*/\1 \2 \3 \4 \5/' \
    "$BIN/bench/meta_ops" --port=2049 --mount_port="$mport" --export_path="$export" \
    --files="$FILES" --seconds="$META_SECS")
  [ "$r" = ERR ] && r="ERR ERR ERR ERR ERR"
  read -r R[m_null,$name] R[m_getattr,$name] R[m_lookup,$name] R[m_create,$name] R[m_remove,$name] <<<"$r"
  for p in null getattr; do
    R[p_$p,$name]=$(grab 's/.*: ([0-9]+) calls.*/\1/' "$BIN/bench/rpc_load" --port=2049 \
      --mount_port="$mport" --export_path="$export" --proc=$p --conns=4 --depth=32 --seconds="$META_SECS")
  done
}

METRICS="cp_in cp_out cp_cold qemu_in qemu_out cp_in% cp_out% cp_cold% qemu_in% qemu_out% randread randwrite randwrite_sync seqwrite_sync heartbeat
  cow_randwrite cow_randwrite_sync
  create remove m_null m_getattr m_lookup m_create m_remove p_null p_getattr"
declare -A ALL   # ALL[metric,server] = the rounds' figures, space-separated
# keep NAME: appends this round's figures of server NAME to ALL.
keep() {
  local m
  for m in $METRICS; do
    [[ $m == cow_* && $1 != vnasd ]] && continue  # vnasd only
    ALL[$m,$1]="${ALL[$m,$1]:-} ${R[$m,$1]:-ERR}"
  done
}

# cow_case: vnasd only (ganesha has no clones): 4 KiB random writes on a
# fresh offloaded clone of the big file, where a first write to each 64 KiB
# segment copies it (the cost of writing to a linked clone or after a
# snapshot), unstable + COMMIT and FILE_SYNC, each on a clone of its own.
cow_case() {
  local q="?nfsport=2049&mountport=2049" m
  for m in randwrite randwrite_sync; do
    if ! "$BIN/server/admin/vnasctl" --control=127.0.0.1:50099 clone /vnas/big "/vnas/cow.$m" \
         >/dev/null 2>"$WORK/stderr"; then
      R[cow_$m,vnasd]=$(failed vnasctl clone "$m"); continue
    fi
    R[cow_$m,vnasd]=$(grab 's/.*: ([0-9]+) IOPS.*/\1/' "$BIN/bench/rand_io" \
      --url="nfs://127.0.0.1/vnas/cow.$m$q" --mode=$m --bs=4096 --depth=16 --seconds="$RAND_SECS")
  done
}

# ---- vnasd (with its own portmapper on 111, for qemu-img) ---------------------
# run_vnasd ROUND: a fresh store, every workload, the exit counters checked.
# start_vnasd DIR: starts vnasd on store DIR (VNASD_PID) and waits until it
# serves (it commits its data cache's memory first).
start_vnasd() {
  # shellcheck disable=SC2086  # VNASD_FLAGS: extra flags, split on spaces
  "$BIN/server/vnasd" --data_dir="$1" --nfs_listen=127.0.0.1:2049 \
    --portmap_listen=127.0.0.1:111 --control_listen=127.0.0.1:50099 ${VNASD_FLAGS:-} \
    >>"$1.log" 2>&1 &
  VNASD_PID=$!; PIDS+=("$VNASD_PID")
  for _ in $(seq 300); do nfs-ls "nfs://127.0.0.1/vnas?nfsport=2049&mountport=2049" >/dev/null 2>&1 && break; sleep 0.1; done
}
# restart_vnasd: the cold read's server: same store, empty caches.
restart_vnasd() {
  kill "$VNASD_PID" 2>/dev/null || true; wait "$VNASD_PID" 2>/dev/null || true
  start_vnasd "$VNASD_DIR"
}
run_vnasd() {
  VNASD_DIR=$WORK/vnasd.$1
  start_vnasd "$VNASD_DIR"
  nfs_case vnasd "nfs://127.0.0.1/vnas" "?nfsport=2049&mountport=2049" /vnas 2049 "$VNASD_DIR" restart_vnasd
  cow_case
  kill "$VNASD_PID" 2>/dev/null || true; wait "$VNASD_PID" 2>/dev/null || true
  local dir=$VNASD_DIR
  # Failed calls in vnasd's exit counters, or a crash, are problems to report.
  if ! grep -q "calls=" "$dir.log" ||
     grep -qE "errors=[1-9]|FATAL|Check failed|Assertion|Aborted" "$dir.log"; then
    { echo "vnasd round $1 log (no clean exit, or failed calls):"
      grep -E "errors=[1-9]|FATAL|Check failed|Assertion|Aborted" "$dir.log" | head -20; } >>"$ERRS"
  fi
  rm -rf "$dir"
  keep vnasd
}

# ---- nfs-ganesha (FSAL VFS, same disk; rpcbind on 111) -------------------------
HAVE_GANESHA=0
command -v ganesha.nfsd >/dev/null && command -v rpcbind >/dev/null && HAVE_GANESHA=1
# run_ganesha ROUND: a fresh export directory, every workload.
run_ganesha() {
  local dir=$WORK/ganesha.$1 rb gp up=0
  local gexp=$dir/export
  mkdir -p "$gexp" /run/rpcbind /var/lib/nfs/ganesha
  cat > "$dir/ganesha.conf" <<CONF
NFS_CORE_PARAM { Protocols = 3; NFS_Port = 2049; MNT_Port = 20048;
  Enable_NLM = false; Enable_RQUOTA = false; Enable_UDP = false; }
NFS_KRB5 { Active_krb5 = false; }
EXPORT { Export_Id = 1; Path = $gexp; Pseudo = /gan;
  Protocols = 3; Transports = TCP; Access_Type = RW; Squash = No_Root_Squash;
  SecType = sys; FSAL { Name = VFS; } }
LOG { Default_Log_Level = WARN; }
CONF
  rpcbind -w -f & rb=$!; PIDS+=("$rb")
  sleep 0.5
  ganesha.nfsd -F -f "$dir/ganesha.conf" -L "$dir/log" -p "$dir/pid" & gp=$!; PIDS+=("$gp")
  local g="nfs://127.0.0.1$gexp"
  for _ in $(seq 100); do nfs-ls "$g?nfsport=2049&mountport=20048" >/dev/null 2>&1 && up=1 && break; sleep 0.2; done
  if [ $up = 1 ]; then
    nfs_case ganesha "$g" "?nfsport=2049&mountport=20048" "$gexp" 20048 "$gexp" true
    keep ganesha
  else
    HAVE_GANESHA=0
  fi
  kill "$gp" 2>/dev/null || true; wait "$gp" 2>/dev/null || true
  kill "$rb" 2>/dev/null || true; wait "$rb" 2>/dev/null || true
  rm -rf "$dir"
}

# Rounds in A B B A A B order, so neither server always runs first (the VM's
# memory and disk state drift during a run). Each figure is the median of
# its rounds (the mean of the middle two for an even count): on this shared
# VM one round now and then runs at half speed for reasons outside both
# servers (host memory, discards of the last round's files), and a mean
# lets that one round decide the ratio. Every round's figure is printed.
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="vnasd ganesha"; else order="ganesha vnasd"; fi
  for server in $order; do
    if [ "$server" = vnasd ]; then run_vnasd "$round"
    elif [ $HAVE_GANESHA = 1 ]; then run_ganesha "$round"; fi
  done
done
# median FIGURES...: their median, or ERR when any is not a number.
median() { tr ' ' '\n' <<<"$*" | sort -g | awk '!/^[0-9.]+$/ { bad = 1 } { v[NR] = $1 }
  END { if (bad || NR == 0) { print "ERR"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.1f", m }'; }
for server in vnasd ganesha; do
  for m in $METRICS; do
    [ -n "${ALL[$m,$server]:-}" ] && R[$m,$server]=$(median ${ALL[$m,$server]})
  done
done

# ---- report ---------------------------------------------------------------------
# row LABEL METRIC GOAL: one line; GOAL is the minimum vnasd/ganesha ratio
# ("-" for none).
row() {
  local v=${R[$2,vnasd]:--} g=${R[$2,ganesha]:--} l=${R[$2,local]:--} x verdict=""
  x=$(ratio "$v" "$g")
  if [ "$3" != - ]; then
    if [ "$x" = - ]; then verdict="n/a"
    elif awk -v x="$x" -v goal="$3" 'BEGIN { exit !(x >= goal) }'; then verdict="met"
    else verdict="MISSED"; fi
  fi
  printf '%-36s %10s %10s %10s %8s  %-8s %s\n' "$1" "$l" "$v" "$g" "${x}x" \
    "$([ "$3" = - ] && echo - || echo ">= ${3}x")" "$verdict"
}
echo
printf '%-36s %10s %10s %10s %8s  %-8s %s\n' "workload" "local" "vnasd" "ganesha" "v/g" "goal" ""
echo "-- 1. sequential ${SIZE_MB} MiB (MB/s; each figure the median of $ROUNDS rounds per server, run A B B A A B)${VNASD_FLAGS:+; vnasd $VNASD_FLAGS}"
row "nfs-cp write (in)" cp_in 1.5
row "nfs-cat read (out)" cp_out 1.0
row "nfs-cat read, from the disk (cold)" cp_cold 1.0
row "qemu-img convert raw -> nfs://" qemu_in 1.5
row "qemu-img convert nfs:// -> raw" qemu_out 1.0
echo "   client CPU busy, % of the timed run (100 = one core throughout; near 100, the client is the limit):"
for m in cp_in cp_out cp_cold qemu_in qemu_out; do
  printf '   %-33s %10s %10s %10s\n' "$m" - "${R[$m%,vnasd]:--}" "${R[$m%,ganesha]:--}"
done
echo "-- 2. random 4 KiB, 16 in flight (IOPS)"
row "randread" randread 2
row "randwrite UNSTABLE + COMMIT" randwrite 2
row "randwrite FILE_SYNC" randwrite_sync 2
echo "   on a fresh clone of the file, every first write of a 64 KiB segment copying it (vnasd only):"
row "randwrite UNSTABLE + COMMIT, clone" cow_randwrite -
row "randwrite FILE_SYNC, clone" cow_randwrite_sync -
echo "-- stable stream: 1 MiB FILE_SYNC writes in order, 8 in flight (MiB/s)"
row "seq write FILE_SYNC 1 MiB" seqwrite_sync -
echo "-- lock-file heartbeat: 512 B FILE_SYNC rewrites in place, 1 in flight (IOPS)"
row "lock file rewrite FILE_SYNC" heartbeat -
echo "-- 3. metadata, 1 sync client (calls/s)"
row "NULL (ceiling of this client)" m_null -
row "GETATTR" m_getattr -
row "LOOKUP" m_lookup -
row "CREATE" m_create -
row "REMOVE" m_remove -
row "small file create+write 4 KiB" create -
row "small file remove" remove -
echo "-- pipelined, 4 conns x 32 in flight (calls/s)"
row "NULL" p_null -
row "GETATTR" p_getattr -
echo "-- each round's figures (in the order run), to show the spread behind the medians:"
for m in cp_in cp_out cp_cold qemu_in qemu_out randread randwrite randwrite_sync m_null m_getattr; do
  printf '   %-16s vnasd %-24s ganesha %s\n' "$m" "${ALL[$m,vnasd]:- -}" "${ALL[$m,ganesha]:- -}"
done
echo
x=$(ratio "${R[m_getattr,vnasd]}" "${R[m_null,vnasd]}")
printf 'vnasd GETATTR / NULL (sync client): %sx  goal >= 0.9x  %s\n' "$x" \
  "$(awk -v x="$x" 'BEGIN { if (x == "-") print "n/a"; else if (x >= 0.9) print "met"; else print "MISSED" }')"
echo "(local = dd conv=fsync in, cat out, POSIX create/write/close and unlink;"
echo " sequential writes start after a sync and end with one, so they are durable;"
echo " reads go to /dev/null or, for qemu-img, over a file in RAM written before;"
echo " each timed run first touches and frees ${WARM_MB} MiB of memory: see warm_client)"
[ $HAVE_GANESHA = 1 ] || echo "nfs-ganesha: not available (apt-get install nfs-ganesha nfs-ganesha-vfs rpcbind)"
if [ -s "$ERRS" ]; then echo; echo "problems seen:"; sed 's/^/  /' "$ERRS"; fi
