#!/usr/bin/env bash
# npm run test:compat — the compatibility matrix: script tests (tests/script) run unchanged inside a minimal
# Debian chroot per cell, each with its own database server, AWS CLI, curl, bash and util-linux
# (tests/compat/chroot.sh), and in the MariaDB cells the demo host's option-file test
# (tests/host/mariadb-options.spec.ts); then the README's "Verified with" table is rewritten from what each
# cell measured.
#   COMPAT_SUITES   the cells to run (default: bullseye bookworm trixie sid)
#   COMPAT_TESTS    compat (default): in each cell, the tests whose outcome depends on what the cell varies
#                   (COMPAT_GREP below); all: every script test in every cell. The host runs all of them always
#                   (npm run test:script).
#   COMPAT_JOBS     cells run at once (default 1)
#   COMPAT_TIMES    a file to append "compat: SUITE|SECONDS|OUTCOME" lines to (.ci/run's phase table)
set -euo pipefail
cd "$(dirname "$0")/../.."

# What every cell runs: the normal path and its restores, every quiesce method, the write stall, the snapshot
# call's failures and requests with each client, kill/cancel, long queries, and DLM's sequence with its
# deadline and kill cases. Left to the host: parameter validation, mount selection, retention, the client
# fallbacks (proved with shims, not with the cell's tools), the seed and dry runs — the script's own logic,
# the same in every cell.
readonly COMPAT_GREP='a normal run|quiesce|write stall|when the snapshot API fails .* (exits 207 on InternalError|exits 208)|sends the same request with either client|keeps the keys off|when the script itself is stopped|when the database is busy|pre-script exits 0|holder gives the host back|killed holder|pre-script cancelled|database restarted while held|writer\.sh|demo host MariaDB options|the helpers on a signal|SIGTERM to a pre-script|holder dies before|finds no snapshot DLM|replicas, and hosts|helper_main|interval since a volume'

read -r -a suites <<<"${COMPAT_SUITES:-bullseye bookworm trixie sid}"
tests=${COMPAT_TESTS:-compat}
[[ $tests == compat || $tests == all ]] || {
  echo "COMPAT_TESTS: 'compat' or 'all', not '$tests'" >&2
  exit 2
}
jobs=${COMPAT_JOBS:-1}
[[ $jobs =~ ^[1-9]$ ]] || {
  echo "COMPAT_JOBS: 1-9, not '$jobs'" >&2
  exit 2
}
results=tests/compat/results
logs=$(mktemp -d /tmp/compat-logs.XXXXXX)
mkdir -p "$results"

# Runs one cell; its output goes to $logs/SUITE.log, its outcome to $logs/SUITE.status ("passed N" or "failed").
run_cell() {
  local suite=$1 started=$SECONDS specs grep=() status
  specs=('tests/script/**/*.spec.ts')
  # The demo host's option files are MariaDB's (AL2023's mariadb105-server): checked by every MariaDB server.
  [[ $suite == sid ]] || specs+=(tests/host/mariadb-options.spec.ts)
  [[ $tests == all ]] || grep=(--grep "$COMPAT_GREP")
  rm -f "$results/$suite.json" "$results/$suite.tests"
  if tests/compat/chroot.sh run "$suite" env TS_NODE_TRANSPILE_ONLY=true COMPAT_RESULTS="/src/$results/$suite.json" \
    node node_modules/.bin/mocha --timeout 180000 "${grep[@]}" "${specs[@]}" >"$logs/$suite.log" 2>&1; then
    status="passed $((SECONDS - started))"
    sed -n 's/^ *\([0-9]*\) passing.*/\1/p' "$logs/$suite.log" | tail -n 1 >"$results/$suite.tests"
  else
    status="failed $((SECONDS - started))"
  fi
  echo "$status" >"$logs/$suite.status"
}

for suite in "${suites[@]}"; do
  tests/compat/chroot.sh build "$suite" >/dev/null
done
running=0
for suite in "${suites[@]}"; do
  echo "== compat: $suite started ($tests tests)"
  run_cell "$suite" &
  running=$((running + 1))
  if ((running >= jobs)); then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

failed=()
for suite in "${suites[@]}"; do
  outcome=failed seconds="?"
  [[ -f $logs/$suite.status ]] && read -r outcome seconds <"$logs/$suite.status"
  [[ -z ${COMPAT_TIMES:-} ]] || echo "compat: $suite|$seconds|$outcome" >>"$COMPAT_TIMES"
  if [[ $outcome == passed ]]; then
    echo "== compat: $suite passed in $seconds s ($(cat "$results/$suite.tests") tests)"
  else
    failed+=("$suite")
    cat "$logs/$suite.log"
    echo "== compat: $suite FAILED after $seconds s"
  fi
done
node tests/compat/verified-with.js "$results" README.md "$tests" "${suites[@]}"
if ((${#failed[@]} > 0)); then
  echo "compat: failed cells: ${failed[*]}" >&2
  exit 1
fi
echo "compat: all cells passed: ${suites[*]}"
