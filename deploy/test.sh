#!/usr/bin/env bash
# Installs what vnas needs, builds everything and runs every test (unit and
# integration) with Bazel. Ends with the plain line "N passed, N failed",
# counted from the test cases' results, and exits non-zero when anything
# failed or did not build.
set -uo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh || exit 1

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Integration tests start vnasd and real clients on loopback; they need the
# binaries built first (they are data dependencies of the tests).
bazel test --test_summary=short --keep_going "$@" //... 2>&1 | tee "$log"
bazel_rc=${PIPESTATUS[0]}

# Count test cases from the JUnit XML each test target leaves behind; a
# target that failed to build or left no XML counts as one failure.
passed=0
failed=0
testlogs=$(bazel info bazel-testlogs 2>/dev/null)
while read -r target status; do
  pkg=${target#//}
  xml="$testlogs/${pkg/://}/test.xml"
  if [ -f "$xml" ] && [ "$status" != "FAILED_TO_BUILD" ]; then
    read -r t f e <<<"$(python3 - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) for s in suites)
e = sum(int(s.get("errors", 0)) for s in suites)
print(t, f, e)
PY
)"
    if [ "$status" = "FLAKY" ]; then
      # Tagged flaky = True: failed at least once, passed on a retry. Said
      # loudly; see the target's BUILD comment for the known bug behind it.
      echo "FLAKY: $target failed at least one attempt and passed on a retry"
      status=PASSED
    fi
    if [ "${t:-0}" -eq 0 ]; then
      # A test without cases (a script test): the target's verdict counts.
      if [ "$status" = "PASSED" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    else
      bad=$((f + e))
      if [ "$status" != "PASSED" ] && [ "$bad" -eq 0 ]; then bad=1; fi
      passed=$((passed + t - bad))
      failed=$((failed + bad))
    fi
  else
    failed=$((failed + 1))
  fi
done < <(sed -nE 's#^(//[^ ]+)[[:space:]]+(\(cached\) )?(PASSED|FAILED|TIMEOUT|FLAKY|NO STATUS|FAILED TO BUILD|INCOMPLETE)( in .*)?$#\1 \3#p' "$log" | sed 's/FAILED TO BUILD/FAILED_TO_BUILD/; s/NO STATUS/NO_STATUS/')

# ---- Fuzzing (deploy/fuzz.sh) ------------------------------------------------
# Every *_fuzzer target, built with clang in its own output base, runs for
# ${VNAS_FUZZ_SECONDS:-30} s over its checked-in corpus; each fuzzer counts as
# one test (passed, or failed on a crash / build failure). VNAS_SKIP_FUZZ=1
# skips this step.
if [ "${VNAS_SKIP_FUZZ:-0}" != "1" ]; then
  fuzz_log=$(mktemp)
  bash deploy/fuzz.sh --seconds "${VNAS_FUZZ_SECONDS:-30}" 2>&1 | tee "$fuzz_log"
  fuzz_rc=${PIPESTATUS[0]}
  fuzz_passed=$(grep -cE '^FUZZ [^ ]+ PASSED' "$fuzz_log")
  fuzz_failed=$(grep -cE '^FUZZ [^ ]+ FAILED' "$fuzz_log")
  if [ "$fuzz_rc" -ne 0 ] && [ "$fuzz_failed" -eq 0 ]; then fuzz_failed=1; fi
  passed=$((passed + fuzz_passed))
  failed=$((failed + fuzz_failed))
  rm -f "$fuzz_log"
fi
# ------------------------------------------------------------------------------

if [ "$bazel_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "bazel test exited $bazel_rc (build error or no tests)"
  failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$bazel_rc" -eq 0 ]
