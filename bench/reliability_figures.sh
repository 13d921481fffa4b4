#!/usr/bin/env bash
# Figures only (not a CI step): the reliability tests with long settings.
#   bench/reliability_figures.sh [kills=500] [load_seconds=60] [fuzz_seconds=300]
# Prints the crash soak summary (kills survived, ops, bytes verified), the
# load table (p50/p99 per op, VmHWM) and fuzz executions per target.
set -uo pipefail
cd "$(dirname "$0")/.."
kills=${1:-500}
load_s=${2:-60}
fuzz_s=${3:-300}

bazel test //integration:crash_test --test_output=streamed \
  --test_timeout=$((kills * 3 + 300)) --test_env=VNAS_CRASH_KILLS="$kills" \
  ${VNAS_CRASH_SEED:+--test_env=VNAS_CRASH_SEED=$VNAS_CRASH_SEED} 2>&1 |
  grep -E 'seed|survived|FAILED|Failure' | grep -v '^kill #'
bazel test //integration:load_test --test_output=streamed \
  --test_timeout=$((load_s * 3 + 120)) --test_env=VNAS_LOAD_SECONDS="$load_s" 2>&1 |
  sed -n '/^load_test:/,/total/p'
bash deploy/fuzz.sh --seconds "$fuzz_s" 2>&1 | grep -E '^FUZZ|^fuzz:'
