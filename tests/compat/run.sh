#!/usr/bin/env bash
# npm run test:compat — the compatibility matrix: the script tests (tests/script) run unchanged inside a
# minimal Debian chroot per cell, each with its own database server and AWS CLI (tests/compat/chroot.sh), and
# in the MariaDB cells the demo host's option-file test (tests/host/mariadb-options.spec.ts),
# then the README's "Verified with" table is rewritten from what each cell measured.
#   COMPAT_SUITES   the cells to run (default: bullseye bookworm trixie sid)
set -euo pipefail
cd "$(dirname "$0")/../.."

read -r -a suites <<<"${COMPAT_SUITES:-bullseye bookworm trixie sid}"
results=tests/compat/results
mkdir -p "$results"
failed=()
for suite in "${suites[@]}"; do
  echo "== compat: $suite"
  tests/compat/chroot.sh build "$suite" >/dev/null
  rm -f "$results/$suite.json"
  started=$SECONDS
  specs=('tests/script/**/*.spec.ts')
  # The demo host's option files are MariaDB's (AL2023's mariadb105-server): checked by every MariaDB server.
  [[ $suite == sid ]] || specs+=(tests/host/mariadb-options.spec.ts)
  if tests/compat/chroot.sh run "$suite" env TS_NODE_TRANSPILE_ONLY=true COMPAT_RESULTS="/src/$results/$suite.json" \
    node node_modules/.bin/mocha --timeout 180000 "${specs[@]}"; then
    echo "== compat: $suite passed in $((SECONDS - started)) s"
  else
    echo "== compat: $suite FAILED after $((SECONDS - started)) s"
    failed+=("$suite")
  fi
done
node tests/compat/verified-with.js "$results" README.md "${suites[@]}"
if ((${#failed[@]} > 0)); then
  echo "compat: failed cells: ${failed[*]}" >&2
  exit 1
fi
echo "compat: all cells passed: ${suites[*]}"
