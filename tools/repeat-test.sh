#!/usr/bin/env bash
# npm run test:repeat -- COUNT PATTERN [SPEC...]: runs the tests whose full title matches PATTERN (mocha --grep)
# COUNT times in a row, each in a fresh mocha (fresh fixture), and keeps the output of every failed run.
# SPEC defaults to the script suite. Ends with "N passed, N failed"; exits 1 if any run failed.
#   npm run test:repeat -- 10 "auto takes no lock and freezes nothing"
#   npm run test:repeat -- 3 "" tests/script/writer.spec.ts
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: npm run test:repeat -- COUNT PATTERN [SPEC...]" >&2
  exit 2
}
[[ $# -ge 2 && $1 =~ ^[1-9][0-9]*$ ]] || usage
count=$1 pattern=$2
shift 2
specs=("$@")
((${#specs[@]} > 0)) || specs=('tests/script/**/*.spec.ts')

logs=$(mktemp -d /tmp/test-repeat.XXXXXX)
passed=0 failed=0
for ((run = 1; run <= count; run++)); do
  started=$SECONDS
  if TS_NODE_TRANSPILE_ONLY=true node_modules/.bin/mocha --timeout 180000 --grep "$pattern" "${specs[@]}" >"$logs/run-$run.log" 2>&1; then
    passed=$((passed + 1))
    echo "run $run/$count: passed in $((SECONDS - started)) s"
    rm -f "$logs/run-$run.log"
  else
    failed=$((failed + 1))
    echo "run $run/$count: FAILED in $((SECONDS - started)) s (output: $logs/run-$run.log)"
    grep -E -m 5 'Error|failing' "$logs/run-$run.log" | sed 's/^/    /' || true
  fi
done
echo "$passed passed, $failed failed"
((failed == 0))
