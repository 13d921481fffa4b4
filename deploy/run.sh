#!/usr/bin/env bash
# Installs what vnas needs, builds vnasd and runs it in the foreground on
# loopback, with its datastore under the checkout (./data by default).
# Extra arguments go to vnasd (e.g. --nfs_listen=127.0.0.1:2050).
# Ctrl-C (SIGINT) or SIGTERM stops it cleanly.
#
# The portmapper wants 127.0.0.1:111. When that port cannot be bound (not
# root, or a system rpcbind owns it) vnasd still runs, says the portmapper is
# off, and prints the nfs://...?nfsport=...&mountport=... form that works
# without it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh
bazel build //server:vnasd

mkdir -p data
exec bazel-bin/server/vnasd \
  --data_dir="$PWD/data" \
  --nfs_listen=127.0.0.1:2049 \
  --portmap_listen=127.0.0.1:111 \
  --control_listen=127.0.0.1:50051 \
  "$@"
