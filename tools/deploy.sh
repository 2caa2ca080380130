#!/usr/bin/env bash
# npm run deploy -- <stack> [pulumi up flags...]
# The first deploy from a fresh clone, without knowing Pulumi's set-up steps: picks a Pulumi CLI and checks that it
# runs; uses the backend you are logged in to (or PULUMI_BACKEND_URL), else logs in to a local backend
# (`pulumi login --local`, state under ~/.pulumi); creates the stack if it does not exist (its configuration comes
# from Pulumi.<stack>.yaml), generating a passphrase for it on a non-Cloud backend unless you set one; then runs
# `pulumi up` on it. A passphrase is only ever generated for a stack this command creates: an existing stack gets
# yours or the one this command generated when it created it, never a guess.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly INSTALL_URL=https://www.pulumi.com/docs/install/
PULUMI=

log() { echo "deploy: $*" >&2; }
die() {
  log "ERROR: $*"
  exit 2
}

usage() {
  cat >&2 <<'USAGE'
usage: npm run deploy -- <stack> [pulumi up flags, e.g. --yes]
  <stack>  dev, prod or another stack; Pulumi.<stack>.yaml holds its configuration
environment:
  PULUMI_CLI                                          the Pulumi CLI to run (default: a pulumi you installed on
                                                      PATH, else the npm package pulumi from npm ci)
  PULUMI_BACKEND_URL                                  backend to use instead of the one you are logged in to
  PULUMI_CONFIG_PASSPHRASE, PULUMI_CONFIG_PASSPHRASE_FILE  passphrase of a local/object-store backend's stack
USAGE
}

# The first `pulumi` on PATH for which IS_NPM_BIN (yes/no) says whether it sits in a node_modules/.bin.
# `npm run` puts node_modules/.bin first on PATH, so a CLI the user installed is looked for past it.
find_on_path() {
  local want_npm_bin=$1 dir
  local -a dirs
  IFS=: read -r -a dirs <<<"$PATH"
  for dir in "${dirs[@]}"; do
    [[ -n $dir && -x $dir/pulumi && ! -d $dir/pulumi ]] || continue
    if [[ $dir == */node_modules/.bin ]]; then
      [[ $want_npm_bin == yes ]] && {
        echo "$dir/pulumi"
        return 0
      }
    else
      [[ $want_npm_bin == no ]] && {
        echo "$dir/pulumi"
        return 0
      }
    fi
  done
  return 1
}

# Sets PULUMI: PULUMI_CLI, else a pulumi the user installed, else the npm package; then checks that it runs.
choose_cli() {
  local source output
  if [[ -n ${PULUMI_CLI:-} ]]; then
    [[ -x $PULUMI_CLI ]] || die "PULUMI_CLI=$PULUMI_CLI is not an executable file"
    PULUMI=$PULUMI_CLI source="PULUMI_CLI"
  elif PULUMI=$(find_on_path no); then
    source="installed on PATH"
  elif PULUMI=$(find_on_path yes); then
    source="the npm package pulumi (devDependencies)"
  else
    die "no Pulumi CLI: run 'npm ci' first (it installs the npm package pulumi), or install the CLI ($INSTALL_URL) and put it on PATH, or set PULUMI_CLI"
  fi
  log "Pulumi CLI: $PULUMI ($source)"
  if ! output=$("$PULUMI" version 2>&1); then
    log "'$PULUMI version' failed:"
    tail -n 5 <<<"$output" | sed 's/^/  /' >&2
    [[ $source == the\ npm\ package* ]] &&
      die "the npm package pulumi downloads the CLI from get.pulumi.com on first use, and that did not work (no network to it?): install the CLI ($INSTALL_URL) and put it on PATH, or set PULUMI_CLI to its path"
    die "the Pulumi CLI at $PULUMI does not run; set PULUMI_CLI to one that does ($INSTALL_URL)"
  fi
  log "Pulumi CLI version: $output"
}

# The backend the CLI will use: PULUMI_BACKEND_URL, else the one `pulumi whoami` reports; empty when logged out.
current_backend() {
  if [[ -n ${PULUMI_BACKEND_URL:-} ]]; then
    echo "$PULUMI_BACKEND_URL"
    return 0
  fi
  "$PULUMI" whoami --non-interactive >/dev/null 2>&1 || return 0
  "$PULUMI" whoami --verbose --non-interactive 2>/dev/null | sed -n 's/^Backend URL: *//p' | head -n1
}

ensure_backend() {
  local backend output
  backend=$(current_backend)
  if [[ -z $backend ]]; then
    log "not logged in to any Pulumi backend: using a local one (pulumi login --local, state in ~/.pulumi)"
    output=$("$PULUMI" login --local --non-interactive 2>&1) || {
      printf '%s\n' "$output" >&2
      die "pulumi login --local failed (its output is above)"
    }
    backend=$(current_backend)
    [[ -n $backend ]] || backend="file://~"
  fi
  log "backend: $backend"
  echo "$backend"
}

# Whether the stack exists on the backend: 0 yes, 1 no ("no stack named"); anything else ends the run.
stack_exists() {
  local stack=$1 output
  output=$("$PULUMI" stack select --non-interactive "$stack" 2>&1) && return 0
  [[ $output == *"no stack named"* ]] && return 1
  printf '%s\n' "$output" >&2
  die "cannot select stack $stack (the CLI's output is above)"
}

# Whether the stack needs a passphrase from us: not on Pulumi Cloud, none set by the user, and its stack file
# names no other secrets provider (awskms://, ...).
needs_passphrase() {
  local backend=$1 stack=$2 provider
  [[ $backend == http://* || $backend == https://* ]] && return 1
  [[ -n ${PULUMI_CONFIG_PASSPHRASE+set} || -n ${PULUMI_CONFIG_PASSPHRASE_FILE:-} ]] && return 1
  provider=$(sed -n 's/^secretsprovider: *//p' "Pulumi.$stack.yaml" 2>/dev/null | head -n1)
  [[ -z $provider || $provider == passphrase ]]
}

# use_passphrase_file BACKEND STACK NEW: points PULUMI_CONFIG_PASSPHRASE_FILE at this command's passphrase file of
# the stack on that backend (one directory per backend: a stack of the same name elsewhere never gets it).
# NEW=yes generates it (the stack is about to be created); NEW=no only reuses one it generated before.
use_passphrase_file() {
  local backend=$1 stack=$2 new=$3 dir file
  dir="${PULUMI_HOME:-$HOME/.pulumi}/consistent-snapshots/$(printf '%s' "$backend" | sha256sum | cut -c1-16)"
  file="$dir/$stack.passphrase"
  if [[ $new == yes && ! -s $file ]]; then
    (umask 077 && mkdir -p "$dir" && printf '%s\n' "$backend" >"$dir/backend" &&
      head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$file") || die "cannot write a passphrase file at $file"
    log "generated the passphrase of stack $stack in $file (keep it: it decrypts the stack's secrets)"
  elif [[ ! -s $file ]]; then
    die "stack $stack already exists on $backend and was not created by this command: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE to its passphrase (nothing was generated, nothing deployed)"
  fi
  export PULUMI_CONFIG_PASSPHRASE_FILE=$file
}

main() {
  local stack backend new=no
  if (($# == 0)) || [[ $1 == -h || $1 == --help ]]; then
    usage
    exit 2
  fi
  stack=$1
  shift
  [[ $stack =~ ^([A-Za-z0-9][A-Za-z0-9_.-]*/){0,2}[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "'$stack' is not a stack name (letters, digits, - _ . ; optionally org/project/ prefixed)"
  [[ -f Pulumi.${stack##*/}.yaml ]] || log "note: no Pulumi.${stack##*/}.yaml: the stack runs on the defaults in Pulumi.yaml"
  choose_cli
  backend=$(ensure_backend)
  stack_exists "$stack" || new=yes
  if needs_passphrase "$backend" "${stack##*/}"; then use_passphrase_file "$backend" "${stack##*/}" "$new"; fi
  if [[ $new == yes ]]; then
    log "creating stack $stack"
    "$PULUMI" stack init --non-interactive "$stack" >&2 || die "cannot create stack $stack"
  fi
  log "pulumi up --stack $stack $*"
  exec "$PULUMI" up --stack "$stack" "$@"
}

main "$@"
