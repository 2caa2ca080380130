#!/usr/bin/env bash
# npm run deploy -- <stack> [pulumi up flags...]
# The first deploy from a fresh clone, without knowing Pulumi's set-up steps: uses the backend you are logged in
# to (or PULUMI_BACKEND_URL), else logs in to a local backend (`pulumi login --local`, state under ~/.pulumi);
# gives a local backend's stack a passphrase (PULUMI_CONFIG_PASSPHRASE[_FILE] if you set one, else a generated
# one kept in a 0600 file); creates the stack if it does not exist (its config comes from Pulumi.<stack>.yaml);
# then runs `pulumi up` on it. `pulumi` is the CLI npm package in devDependencies (npm run puts it on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "deploy: $*" >&2; }
die() { log "ERROR: $*"; exit 2; }

usage() {
  cat >&2 <<'USAGE'
usage: npm run deploy -- <stack> [pulumi up flags, e.g. --yes]
  <stack>  dev, prod or another stack; Pulumi.<stack>.yaml holds its configuration
environment:
  PULUMI_BACKEND_URL                                  backend to use instead of the one you are logged in to
  PULUMI_CONFIG_PASSPHRASE, PULUMI_CONFIG_PASSPHRASE_FILE  passphrase of a local/object-store backend's stack
USAGE
}

# The backend the CLI will use: PULUMI_BACKEND_URL, else the one `pulumi whoami` reports; empty when logged out.
current_backend() {
  if [[ -n ${PULUMI_BACKEND_URL:-} ]]; then echo "$PULUMI_BACKEND_URL"; return 0; fi
  pulumi whoami --non-interactive >/dev/null 2>&1 || return 0
  pulumi whoami --verbose --non-interactive 2>/dev/null | sed -n 's/^Backend URL: *//p' | head -n1
}

ensure_backend() {
  local backend
  backend=$(current_backend)
  if [[ -z $backend ]]; then
    log "not logged in to any Pulumi backend: using a local one (pulumi login --local, state in ~/.pulumi)"
    pulumi login --local --non-interactive >&2 || die "pulumi login --local failed"
    backend=$(current_backend)
    [[ -n $backend ]] || backend="file://~"
  fi
  log "backend: $backend"
  echo "$backend"
}

# Pulumi Cloud (http/https) encrypts secrets itself; every other backend uses a passphrase.
ensure_passphrase() {
  local backend=$1 stack=$2 file
  [[ $backend == http://* || $backend == https://* ]] && return 0
  if [[ -n ${PULUMI_CONFIG_PASSPHRASE+set} || -n ${PULUMI_CONFIG_PASSPHRASE_FILE:-} ]]; then return 0; fi
  file="${PULUMI_HOME:-$HOME/.pulumi}/consistent-snapshots/$stack.passphrase"
  if [[ ! -s $file ]]; then
    (umask 077 && mkdir -p "$(dirname "$file")" && head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$file") ||
      die "cannot write a passphrase file at $file"
    log "generated the passphrase of stack $stack in $file (keep it: it decrypts the stack's secrets)"
  fi
  export PULUMI_CONFIG_PASSPHRASE_FILE=$file
}

main() {
  local stack backend
  if (($# == 0)) || [[ $1 == -h || $1 == --help ]]; then usage; exit 2; fi
  stack=$1
  shift
  [[ $stack =~ ^([A-Za-z0-9][A-Za-z0-9_.-]*/){0,2}[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "'$stack' is not a stack name (letters, digits, - _ . ; optionally org/project/ prefixed)"
  [[ -f Pulumi.${stack##*/}.yaml ]] || log "note: no Pulumi.${stack##*/}.yaml: the stack runs on the defaults in Pulumi.yaml"
  command -v pulumi >/dev/null || die "the pulumi CLI is not on PATH: run 'npm ci' first, then 'npm run deploy -- $stack'"
  backend=$(ensure_backend)
  ensure_passphrase "$backend" "${stack##*/}"
  pulumi stack select --create --non-interactive "$stack" >&2 || die "cannot select or create stack $stack"
  log "pulumi up --stack $stack $*"
  exec pulumi up --stack "$stack" "$@"
}

main "$@"
