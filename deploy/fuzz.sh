#!/usr/bin/env bash
# Builds every libFuzzer target of the repository with clang (in its own
# Bazel output base, so the shared gcc build is not reconfigured) and runs
# each for a bounded time over its checked-in corpus.
#
#   deploy/fuzz.sh                      # every *_fuzzer target, 30 s each
#   deploy/fuzz.sh --seconds 600        # longer run on demand
#   deploy/fuzz.sh --max_len 65536      # larger generated inputs (default 8192)
#   deploy/fuzz.sh //server/vmformat:vmformat_fuzzer
#
# Targets: every target named *_fuzzer in a BUILD file, or the
# labels given. Corpus of //pkg:name_fuzzer: the first existing directory of
# pkg/testdata/name_corpus, pkg/testdata/name, pkg/testdata/corpus,
# pkg/testdata/malformed (read-only; new inputs go to a temp dir).
#
# Speed: the code under test is built with -O1 (libFuzzer's advice; at -O0
# every inlined accessor is an instrumented call, ~10x slower) and generated
# inputs are capped at --max_len bytes (otherwise libFuzzer uses the largest
# seed, and a parser's cost grows with its input).
#
# Output: one line per fuzzer, "FUZZ <label> PASSED|FAILED <executions>
# execs in <s> s", then "fuzz: N passed, N failed". Exit status non-zero when
# a fuzzer crashed, leaked, timed out or did not build. Crash inputs are kept
# in $VNAS_FUZZ_ARTIFACTS (default /tmp/vnas-fuzz-artifacts).
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=30
max_len=8192
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    --max_len) max_len="$2"; shift 2 ;;
    --max_len=*) max_len="${1#*=}"; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done

ob=${VNAS_FUZZ_OUTPUT_BASE:-/tmp/vnas-fuzz-ob}
artifacts=${VNAS_FUZZ_ARTIFACTS:-/tmp/vnas-fuzz-artifacts}
mkdir -p "$artifacts"
bz=(bazel --output_base="$ob")

if [ ${#targets[@]} -eq 0 ]; then
  # (bazel query //... would wander into the bazel-* convenience links.)
  mapfile -t targets < <(find . -name BUILD -not -path './bazel-*' \
    -not -path './third_party/*' -print0 | xargs -0 grep -HoE \
    'name = "[A-Za-z0-9_]+_fuzzer"' | sed -E 's#^\./(.*)/BUILD:name = "(.*)"#//\1:\2#' | sort)
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no *_fuzzer targets found"
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi

# Instrument the code under test too, not only the fuzzer's own file.
build_flags=(--config=fuzz
  --copt=-O1 --copt=-gline-tables-only
  --copt=-fsanitize=fuzzer-no-link,address,undefined
  --copt=-fno-sanitize=function,vptr
  --linkopt=-fsanitize=address,undefined)

passed=0
failed=0
built=()
# Build all together first; on failure, find which ones build on their own.
if "${bz[@]}" build "${build_flags[@]}" "${targets[@]}"; then
  built=("${targets[@]}")
else
  for t in "${targets[@]}"; do
    if "${bz[@]}" build "${build_flags[@]}" "$t"; then
      built+=("$t")
    else
      echo "FUZZ $t FAILED did not build"
      failed=$((failed + 1))
    fi
  done
fi

bin=$("${bz[@]}" info "${build_flags[@]}" bazel-bin 2>/dev/null)
for t in ${built[@]+"${built[@]}"}; do
  pkg=${t#//}; pkg=${pkg%%:*}
  name=${t##*:}
  stem=${name%_fuzzer}
  corpus=""
  for c in "$pkg/testdata/${stem}_corpus" "$pkg/testdata/$stem" \
           "$pkg/testdata/corpus" "$pkg/testdata/malformed"; do
    if [ -d "$c" ]; then corpus=$c; break; fi
  done
  work=$(mktemp -d)
  log="$work/log"
  mkdir -p "$work/corpus"
  # -max_total_time bounds the run; -max_len caps generated inputs (seeds
  # are cut to it); -timeout flags a single slow input; -rss_limit_mb
  # catches runaway allocation.
  timeout -s KILL $((seconds + 120)) "$bin/$pkg/$name" \
    -max_total_time="$seconds" -max_len="$max_len" -timeout=25 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$name-" \
    "$work/corpus" ${corpus:+"$corpus"} >"$log" 2>&1 </dev/null
  rc=$?
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(grep -oE '#[0-9]+' "$log" | tail -1 | tr -d '#')
  if [ "$rc" -eq 0 ]; then
    echo "FUZZ $t PASSED ${execs:-0} execs in ${seconds} s ($((${execs:-0} / seconds)) execs/s, corpus ${corpus:-none})"
    passed=$((passed + 1))
  else
    echo "FUZZ $t FAILED exit $rc after ${execs:-0} execs (corpus ${corpus:-none}); log tail:"
    tail -40 "$log" | sed 's/^/    /'
    failed=$((failed + 1))
  fi
  rm -rf "$work"
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
