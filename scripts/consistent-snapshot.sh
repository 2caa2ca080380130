#!/usr/bin/env bash
# shellcheck disable=SC2317 # trap handlers and the watchdog body are invoked indirectly
# consistent-snapshot.sh — application-consistent EBS snapshots of this EC2 instance.
#
# Run by SSM Run Command (document parameters arrive as SSM_<name> environment variables,
# interpolationType ENV_VAR) or by hand as root with the same variables. Sequence:
#   prepare (validate, IMDSv2, describe, discover mounts, start the database session and the
#   AWS CLI process) -> lock the database in ONE session -> freeze -> ONE CreateSnapshots call
#   -> thaw -> unlock -> prune nothing -> report one JSON line on stdout.
# The host is always given back: a trap thaws and unlocks on any error or INT/TERM/HUP, and an
# independent watchdog (own session) does the same at once if this script is killed, after
# SSM_maxFreezeSeconds if it is stuck; a thaw counts only once verified (see helper_thaw_verified).
#
# Modes (SSM_command): snapshot (default; the above, for the maintenance window), and for Data Lifecycle
# Manager's pre/post scripts: pre-script (lock and freeze as above, then hand both to a detached holder and
# exit 0 while they stay held; the holder releases them on the post-script's signal or after
# SSM_maxFreezeSeconds, whichever comes first), post-script (release, then tag the snapshots DLM made of the
# instance's volumes while held with the binlog position read under the lock), dry-run (validate, report).
#
# Parameters (default; accepted form):
#   SSM_command               snapshot               snapshot | pre-script | post-script | dry-run
#   SSM_executionId           None                   None | DLM's execution id (a UUID): pairs a
#                                                    post-script with its pre-script
#   SSM_database              mysql                  mysql | none
#   SSM_quiesce               auto                   auto (the lightest of the below whose conditions hold,
#                                                    checked every run) | ftwrl (FLUSH TABLES WITH READ LOCK) |
#                                                    backup-lock (MariaDB BACKUP STAGE, MySQL LOCK INSTANCE FOR
#                                                    BACKUP) | crash-recovery (no lock, no freeze; refused
#                                                    unless recovery is exact)
#   SSM_apiClient             auto                   auto (curl signing the call itself where it can, else the
#                                                    AWS CLI) | curl | aws-cli: what sends CreateSnapshots
#   SSM_freezeMounts          auto                   auto | absolute mount points separated by spaces
#                                                    (auto: every filesystem on a snapshotted volume, and
#                                                    the ones holding the database's files). Never / or
#                                                    /boot: those are synced only. A filesystem on a
#                                                    snapshotted volume that is not frozen is reported
#                                                    (mountsNotFrozen, tag UnfrozenMounts).
#   SSM_maxFreezeSeconds      30                     2-600: the longest the lock and freeze may be held
#   SSM_lockTimeoutSeconds    5                      1-60: server-side wait for the lock, per attempt
#   SSM_lockRetries           3                      0-10: further lock attempts after the first
#   SSM_preScriptSeconds      120                    10-120: pre-script only: DLM's executionTimeout for the
#                                                    script. No lock attempt starts that could not be granted,
#                                                    frozen and handed over within it (counted from the start)
#   SSM_longQuerySeconds      1                      0-3600: send no FLUSH while a write (on MySQL: any
#                                                    statement) has run this long; 0 disables
#   SSM_excludeBootVolume     true                   true | false
#   SSM_dryRun                false                  true | false: discover and report, touch nothing
#   SSM_snapshotDescription   Consistent snapshot by consistent-snapshots
#                                                    0-255 of [A-Za-z0-9 _.:/=+@-], no "//"
#   SSM_retainCount           0                      0-1000: after a successful run, keep this many runs' snapshots
#                                                    of this instance (this run included), delete older ones; 0 keeps all
#   SSM_retainDays            0                      0-3650: delete this tool's snapshots of this instance older than
#                                                    this many days; 0 keeps all. Only snapshots tagged
#                                                    CreatedBy=consistent-snapshots are ever deleted, never this run's.
#   SSM_target                (empty)                0-128 of [A-Za-z0-9_.-]: the maintenance-window target
#                                                    this run serves, echoed in the summary ("target"), where
#                                                    the run metrics take their Target dimension from
#   SSM_mysqlDefaultsFile     (empty: ~/.my.cnf)     empty | absolute path of a MySQL option file
#                                                    (groups [client] and [client_consistent_snapshot])
#                                                    read besides the standard ones; a regular file owned
#                                                    by root in directories owned by root, none writable
#                                                    by group or others, no symlink. "~" is the running
#                                                    user's home from the passwd database: the SSM Agent
#                                                    gives its scripts no HOME.
# Standard variables honoured: AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_ENDPOINT_URL_EC2 (also passed as
# --endpoint-url for CLIs too old to read it) and AWS_ENDPOINT_URL, AWS_CA_BUNDLE, AWS_REGION /
# AWS_DEFAULT_REGION when IMDS gives none, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN.
#
# Exit codes:
#   0   snapshots created (or dry run reported)
#   201 a parameter is invalid                      202 a required tool is missing / not root
#   203 discovery failed (IMDS, EC2 describe, mounts, volumes, already frozen, another run active)
#   204 the database is unreachable                 205 the database lock could not be had in time, or its
#                                                       session was lost (killed) before the call
#   206 a filesystem could not be frozen            207 the CreateSnapshots call failed
#   208 the CreateSnapshots call timed out          209 interrupted by a signal
#   210 thaw or unlock failed: the host needs attention
#   211 pre-script while a hold is active           212 post-script without a hold (or for another executionId)
#   213 the hold had ended at its deadline (or its holder died) before the post-script: snapshots taken
#       after that may be crash-consistent only; they are not given the binlog position
#   214 post-script: the host was released, but DLM started no snapshot of its volumes while it was held
# After 208 or 209 the summary lists the snapshots the call created, found by their RunId tag, or says to
# search for that tag; snapshots are tagged on create, so retention also finds a run that was killed.
# SSM may start this file with sh; on Amazon Linux that is bash in POSIX mode.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set +o posix
set -Eeuo pipefail
shopt -s inherit_errexit

readonly E_PARAM=201 E_TOOL=202 E_DISCOVER=203 E_DB_DOWN=204 E_LOCK=205 E_FREEZE=206 \
  E_API=207 E_API_TIMEOUT=208 E_SIGNAL=209 E_RECOVER=210 E_HELD=211 E_NO_HOLD=212 E_HOLD_EXPIRED=213 \
  E_NOTHING_TAGGED=214
readonly CREATED_BY_TAG_KEY="CreatedBy" CREATED_BY_TAG_VALUE="consistent-snapshots" GTID_TAG_PARTS=8 \
  RUN_LOCK_WAIT_SECONDS=10 PRE_SCRIPT_HANDOVER_MS=3000 PRE_SCRIPT_FREEZE_MS=2000 VOLUME_SNAPSHOT_INTERVAL_MS=15000
readonly FTWRL="FLUSH TABLES WITH READ LOCK" BACKUP_STAGE="BACKUP STAGE BLOCK_COMMIT" NO_LOCK="none (crash recovery)" \
  LOCK_INSTANCE="LOCK INSTANCE FOR BACKUP"
LOCK_METHOD=$FTWRL LOCK_TAG=ftwrl

# ---------------------------------------------------------------- state
# The run's identity and timeline (ms since the epoch, 0 until it happens); each section below declares its own.
RUN_ID="cs-$(date -u +%Y%m%dT%H%M%SZ)-$$"
T_QUIESCED=0 T_FIRST_FLUSH=0 T_WRITES_RELEASED=0 T_LOCK_REQUESTED=0 T_LOCKED=0 T_UNLOCKED=0 T_FROZEN=0 T_ALL_FROZEN=0 T_THAWED=0 T_API_START=0 T_API_END=0
EXITING=false SENT_CALL_NOTE="" HOST_RECOVERED=false

# Sets variable $1 to the epoch time in ms without forking (it is also used inside the freeze).
stamp() {
  local t=${EPOCHREALTIME/[.,]/}
  printf -v "$1" '%d' $((t / 1000))
}
# Timestamped to the millisecond without forking (it is called while the lock is held).
log() {
  local t=${EPOCHREALTIME/[.,]/}
  printf '%(%H:%M:%S)T.%03d consistent-snapshot: %s\n' $((t / 1000000)) $((t / 1000 % 1000)) "$*" >&2
}

json_str() {
  local escaped
  json_escape escaped "$1"
  printf '"%s"' "$escaped"
}
json_array() {
  local out="" item
  for item in "$@"; do out+="${out:+,}$(json_str "$item")"; done
  printf '[%s]' "$out"
}

# The summary line's fields, in order: "key":value, the value already JSON.
SUMMARY_FIELDS=""
summary_raw() { SUMMARY_FIELDS+="${SUMMARY_FIELDS:+,}\"$1\":$2"; }
summary_str() { summary_raw "$1" "$(json_str "$2")"; }
summary_int() {
  local n
  printf -v n '%d' "${2:-0}" 2>/dev/null || n=0
  summary_raw "$1" "$n"
}

# One JSON line on stdout, success or failure, then exit with the code.
report_and_exit() {
  local code=$1 message=$2 status=failed snaps="" pair
  [[ $code -eq 0 ]] && status=ok
  [[ ${DRY_RUN:-false} == true && $code -eq 0 ]] && status=dry-run
  [[ ${COMMAND:-} == pre-script && $code -eq 0 ]] && status=held
  for pair in "${SNAPSHOTS[@]}"; do
    snaps+="${snaps:+,}{\"snapshotId\":$(json_str "${pair%%:*}"),\"volumeId\":$(json_str "${pair#*:}")}"
  done
  local lock_ms=0 frozen_ms=0 api_ms=0 window_ms=0
  ((T_UNLOCKED > T_LOCKED && T_LOCKED > 0)) && lock_ms=$((T_UNLOCKED - T_LOCKED))
  ((T_WRITES_RELEASED > T_FIRST_FLUSH && T_FIRST_FLUSH > 0)) && window_ms=$((T_WRITES_RELEASED - T_FIRST_FLUSH))
  ((T_THAWED > T_FROZEN && T_FROZEN > 0)) && frozen_ms=$((T_THAWED - T_FROZEN))
  ((T_API_END > T_API_START && T_API_START > 0)) && api_ms=$((T_API_END - T_API_START))
  SUMMARY_FIELDS=""
  summary_str status "$status"
  summary_int exitCode "$code"
  summary_str message "$message"
  summary_str command "${COMMAND:-}"
  summary_str executionId "${EXECUTION_ID:-}"
  summary_str runId "$RUN_ID"
  summary_str target "${TARGET_NAME:-}"
  summary_str instanceId "$INSTANCE_ID"
  summary_str region "$REGION"
  summary_str database "${DATABASE:-}"
  summary_str databaseUser "$DB_USER"
  summary_raw dryRun "${DRY_RUN:-false}"
  summary_str apiClient "$API_CLIENT"
  summary_str lockMethod "$([[ ${DATABASE:-} == mysql ]] && echo "$LOCK_METHOD")"
  summary_int lockHeldMs "$lock_ms"
  summary_int writeBlockWindowMs "$window_ms"
  summary_int frozenMs "$frozen_ms"
  summary_int apiMs "$api_ms"
  summary_int firstFlushAtMs "$T_FIRST_FLUSH"
  summary_int lockRequestedAtMs "$T_LOCK_REQUESTED"
  summary_int lockedAtMs "$T_LOCKED"
  summary_int frozenAtMs "$T_FROZEN"
  summary_int allFrozenAtMs "$T_ALL_FROZEN"
  summary_int apiStartMs "$T_API_START"
  summary_int apiEndMs "$T_API_END"
  summary_int thawedAtMs "$T_THAWED"
  summary_int unlockedAtMs "$T_UNLOCKED"
  summary_raw mountsFrozen "$(json_array "${FREEZE_MOUNTS[@]}")"
  summary_raw mountsSyncedOnly "$(json_array "${SYNC_ONLY_MOUNTS[@]}")"
  summary_raw mountsNotFrozen "$(json_array "${UNFROZEN_MOUNTS[@]}")"
  summary_raw volumes "$(json_array "${SNAPSHOT_VOLUME_IDS[@]}")"
  summary_raw snapshots "[$snaps]"
  summary_raw binlog "{\"file\":$(json_str "$BINLOG_FILE"),\"position\":$(json_str "$BINLOG_POSITION"),\"gtid\":$(json_str "$GTID_BINLOG_POS")}"
  summary_raw replication "$(replica_json)"
  summary_str binlogAfter "$BINLOG_AFTER"
  summary_str durability "$DURABILITY"
  summary_raw pruned "$(json_array "${PRUNED[@]}")"
  summary_raw pruneErrors "$(json_array "${PRUNE_ERRORS[@]}")"
  printf '{%s}\n' "$SUMMARY_FIELDS"
  exit "$code"
}

replica_json() {
  if ((REPLICA_CHANNELS == 0)); then
    echo null
    return
  fi
  printf '{"sourceLogFile":%s,"sourceLogPos":%s,"gtidPos":%s,"channels":%d}' \
    "$(json_str "$REPLICA_FILE")" "$(json_str "$REPLICA_POS")" "$(json_str "$REPLICA_GTID")" "$REPLICA_CHANNELS"
}

# Gives the host back (thaw, unlock, stop helpers) and reports. Every exit path goes through here.
fail() {
  local code=$1
  shift
  log "ERROR: $*"
  finish "$code" "$*"
}
finish() {
  local code=$1 message=$2
  # A trap can run inside "IFS= read": restore word splitting for what follows.
  IFS=$' \t\n'
  EXITING=true
  trap '' INT TERM HUP
  if ! recover_host; then
    [[ $code -eq 0 ]] && message="snapshots created, but the host could not be fully recovered"
    code=$E_RECOVER
    log "ERROR: thaw or unlock failed; check 'fsfreeze -u' on: ${FREEZE_MOUNTS[*]:-none}"
  fi
  stop_helpers
  if ((code == E_SIGNAL || code == E_API_TIMEOUT)) && ((T_API_START > 0)); then
    account_for_sent_call
    message+="; $SENT_CALL_NOTE"
  fi
  report_and_exit "$code" "$message"
}

# Children must not inherit this script's private pipe ends: a stray copy of a write end would keep
# its reader from ever seeing end-of-file (the lock session, the CLI's tag FIFO, the watchdog's trigger).
close_private_fds() {
  local fd
  for fd in "$DB_IN" "$DB_OUT" "$API_FD" "$API_OUT_FD" "$WATCHDOG_FD" "$SENTINEL_FD"; do
    if [[ -n $fd ]]; then eval "exec $fd>&-"; fi
  done
}

# ---------------------------------------------------------------- parameters
param_error() { fail "$E_PARAM" "parameter $1: invalid value '$2'; expected $3"; }

read_parameters() {
  # Under Run Command the agent sets AWS_SSM_INSTANCE_ID, and the agent (ENV_VAR) or the document's bootstrap
  # (older agents) every SSM_<name>, defaults included. Without them the script would silently run with defaults.
  if [[ -n ${AWS_SSM_INSTANCE_ID:-} && -z ${SSM_database+set} ]]; then
    fail "$E_TOOL" "running under SSM Run Command but the document's parameters did not arrive as SSM_* variables; run the script through the consistent-snapshots document, whose bootstrap sets them on any SSM Agent 3.x"
  fi
  COMMAND=${SSM_command:-snapshot}
  EXECUTION_ID=${SSM_executionId:-None}
  DATABASE=${SSM_database:-mysql}
  FREEZE_MOUNTS_PARAM=${SSM_freezeMounts:-auto}
  MAX_FREEZE_SECONDS=${SSM_maxFreezeSeconds:-30}
  LOCK_TIMEOUT_SECONDS=${SSM_lockTimeoutSeconds:-5}
  LOCK_RETRIES=${SSM_lockRetries:-3}
  PRE_SCRIPT_SECONDS=${SSM_preScriptSeconds:-120}
  LONG_QUERY_SECONDS=${SSM_longQuerySeconds:-1}
  EXCLUDE_BOOT_VOLUME=${SSM_excludeBootVolume:-true}
  DRY_RUN=${SSM_dryRun:-false}
  SNAPSHOT_DESCRIPTION=${SSM_snapshotDescription-Consistent snapshot by consistent-snapshots}
  MYSQL_DEFAULTS_FILE=${SSM_mysqlDefaultsFile:-}
  RETAIN_COUNT=${SSM_retainCount:-0}
  RETAIN_DAYS=${SSM_retainDays:-0}
  TARGET_NAME=${SSM_target:-}
  QUIESCE=${SSM_quiesce:-auto}
  API_CLIENT_PARAM=${SSM_apiClient:-auto}

  [[ $COMMAND =~ ^(snapshot|pre-script|post-script|dry-run)$ ]] ||
    param_error SSM_command "$COMMAND" "'snapshot', 'pre-script', 'post-script' or 'dry-run'"
  [[ $EXECUTION_ID =~ ^(None|[a-fA-F0-9]{8}(-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12})$ ]] ||
    param_error SSM_executionId "$EXECUTION_ID" "'None' or a UUID (DLM's execution id)"
  [[ $DATABASE =~ ^(mysql|none)$ ]] || param_error SSM_database "$DATABASE" "'mysql' or 'none'"
  [[ $QUIESCE =~ ^(auto|ftwrl|backup-lock|crash-recovery)$ ]] ||
    param_error SSM_quiesce "$QUIESCE" "'auto', 'ftwrl', 'backup-lock' or 'crash-recovery'"
  [[ $QUIESCE == crash-recovery && $COMMAND == pre-script ]] &&
    param_error SSM_quiesce "$QUIESCE" "a lock method for DLM's pre-script (crash-recovery needs no script: run the policy without pre and post scripts)"
  [[ $API_CLIENT_PARAM =~ ^(auto|curl|aws-cli)$ ]] || param_error SSM_apiClient "$API_CLIENT_PARAM" "'auto', 'curl' or 'aws-cli'"
  [[ $EXCLUDE_BOOT_VOLUME =~ ^(true|false)$ ]] || param_error SSM_excludeBootVolume "$EXCLUDE_BOOT_VOLUME" "'true' or 'false'"
  [[ $DRY_RUN =~ ^(true|false)$ ]] || param_error SSM_dryRun "$DRY_RUN" "'true' or 'false'"
  [[ $COMMAND == dry-run ]] && DRY_RUN=true
  check_int SSM_maxFreezeSeconds "$MAX_FREEZE_SECONDS" 2 600
  check_int SSM_lockTimeoutSeconds "$LOCK_TIMEOUT_SECONDS" 1 60
  check_int SSM_lockRetries "$LOCK_RETRIES" 0 10
  check_int SSM_preScriptSeconds "$PRE_SCRIPT_SECONDS" 10 120
  PRE_SCRIPT_DEADLINE_MS=$((T_START + PRE_SCRIPT_SECONDS * 1000 - PRE_SCRIPT_HANDOVER_MS))
  check_int SSM_longQuerySeconds "$LONG_QUERY_SECONDS" 0 3600
  check_int SSM_retainCount "$RETAIN_COUNT" 0 1000
  check_int SSM_retainDays "$RETAIN_DAYS" 0 3650
  ((LOCK_TIMEOUT_SECONDS < MAX_FREEZE_SECONDS)) ||
    param_error SSM_lockTimeoutSeconds "$LOCK_TIMEOUT_SECONDS" "an integer smaller than SSM_maxFreezeSeconds ($MAX_FREEZE_SECONDS)"
  # No "//": the AWS CLI replaces a value that starts with file:// (v1 also http(s)://) with what it reads
  # there, and the description is readable by anyone allowed ec2:DescribeSnapshots.
  [[ $SNAPSHOT_DESCRIPTION =~ ^[A-Za-z0-9\ _.:/=+@-]{0,255}$ && $SNAPSHOT_DESCRIPTION != *//* ]] ||
    param_error SSM_snapshotDescription "$SNAPSHOT_DESCRIPTION" "0-255 characters of letters, digits, space and _.:/=+@-, without '//'"
  [[ $TARGET_NAME =~ ^[A-Za-z0-9_.-]{0,128}$ ]] || param_error SSM_target "$TARGET_NAME" "0-128 of letters, digits and _.-"
  [[ -z $MYSQL_DEFAULTS_FILE || $MYSQL_DEFAULTS_FILE =~ ^/[A-Za-z0-9._/-]+$ ]] ||
    param_error SSM_mysqlDefaultsFile "$MYSQL_DEFAULTS_FILE" "empty or an absolute path of [A-Za-z0-9._/-]"
  if [[ $FREEZE_MOUNTS_PARAM != auto ]]; then
    local mount_point
    [[ $FREEZE_MOUNTS_PARAM =~ ^/[A-Za-z0-9._/-]*(\ +/[A-Za-z0-9._/-]*)*$ ]] ||
      param_error SSM_freezeMounts "$FREEZE_MOUNTS_PARAM" "'auto' or absolute mount points separated by spaces"
    for mount_point in $FREEZE_MOUNTS_PARAM; do
      if is_never_frozen "$mount_point"; then
        param_error SSM_freezeMounts "$FREEZE_MOUNTS_PARAM" "mount points other than / and /boot (these are never frozen: freezing them can hang the host)"
      fi
    done
  fi
  [[ -z $MYSQL_DEFAULTS_FILE ]] || check_root_only_file SSM_mysqlDefaultsFile "$MYSQL_DEFAULTS_FILE"
}

# The option file decides which server the client talks to (socket, host) and which code it loads as root
# (plugin-dir, default-auth): only root may have written it or any directory on its path.
check_root_only_file() {
  local name=$1 file=$2 path=$2 owner mode
  while :; do
    [[ ! -L $path ]] || param_error "$name" "$file" "a path without symlinks ($path is one)"
    read -r owner mode < <(stat -c '%u %a' -- "$path" 2>/dev/null) ||
      param_error "$name" "$file" "a readable MySQL option file ($path cannot be read)"
    # A root-owned sticky directory (/tmp) is fine: nobody else can rename or remove root's entries in it.
    if [[ $owner != 0 ]] || { (((8#$mode & 8#022) != 0)) && ! [[ $path != "$file" && -k $path ]]; }; then
      param_error "$name" "$file" "a file and directories owned by root, not writable by group or others ($path: uid $owner, mode $mode)"
    fi
    [[ $path != / ]] || break
    path=$(dirname -- "$path")
  done
  [[ -f $file && -r $file ]] || param_error "$name" "$file" "a readable regular file"
}

check_int() {
  local name=$1 value=$2 min=$3 max=$4
  if [[ ! $value =~ ^[0-9]{1,4}$ ]] || ((10#$value < min || 10#$value > max)); then
    param_error "$name" "$value" "an integer from $min to $max"
  fi
}

is_never_frozen() {
  local path
  path=$(realpath -m -- "$1")
  [[ $path == / || $path == /boot || $path == /boot/* ]]
}

# MAJ:MIN of the filesystems of /, /boot and /boot/efi, separated and surrounded by spaces. A filesystem is one
# of them wherever it is mounted: a bind mount of / (e.g. /var/lib/mysql bound from a directory on /) is /.
never_frozen_filesystems() {
  local m majmin out=" "
  for m in / /boot /boot/efi; do
    majmin=$(findmnt -n -o MAJ:MIN --mountpoint "$m" 2>/dev/null | head -n 1) || continue
    [[ -n $majmin ]] && out+="$majmin "
  done
  echo "$out"
}
# Whether mount point $1 (filesystem $2, MAJ:MIN) is /, /boot or /boot/efi, by path or by filesystem.
is_never_frozen_fs() { is_never_frozen "$1" || [[ $NEVER_FROZEN_FILESYSTEMS == *" $2 "* ]]; }

# ---------------------------------------------------------------- tools and environment
STATE_DIR="" RUN_BASE=""

check_tools() {
  [[ $EUID -eq 0 ]] || fail "$E_TOOL" "must run as root (fsfreeze and the database's option file need it)"
  local tool
  for tool in aws curl fsfreeze findmnt lsblk timeout setsid realpath mkfifo getent; do
    command -v "$tool" >/dev/null || fail "$E_TOOL" "required tool '$tool' not found in PATH"
  done
  set_home_from_passwd
  if [[ $DATABASE == mysql ]]; then
    local client
    client=$(command -v mariadb || command -v mysql) ||
      fail "$E_TOOL" "SSM_database=mysql needs the 'mariadb' or 'mysql' client in PATH"
    MYSQL_CMD=("$client")
    [[ -n $MYSQL_DEFAULTS_FILE ]] && MYSQL_CMD+=("--defaults-extra-file=$MYSQL_DEFAULTS_FILE")
    # Option groups [client_consistent_snapshot] (e.g. in root's ~/.my.cnf) apply to this script only.
    MYSQL_CMD+=(--defaults-group-suffix=_consistent_snapshot --batch --skip-column-names --connect-timeout=5)
  fi
}

# The SSM Agent is a systemd service without User=: its scripts get no HOME, so a client would skip
# ~/.my.cnf and connect as root with the compiled-in socket. Where the option files are is taken from the
# passwd database, whatever the caller's environment says (the AWS CLI's ~/.aws follows too).
set_home_from_passwd() {
  local entry home
  entry=$(getent passwd "$EUID") || fail "$E_TOOL" "no passwd entry for uid $EUID: cannot find its home directory for ~/.my.cnf"
  home=$(cut -d: -f6 <<<"$entry")
  [[ $home == /* ]] || fail "$E_TOOL" "the passwd entry of uid $EUID has no home directory (needed for ~/.my.cnf)"
  [[ ${HOME:-} == "$home" ]] || log "HOME is '${HOME:-unset}'; using $home (passwd) for option files"
  export HOME=$home
}

# A run that was cancelled leaves its watchdog a few seconds to give the host back (thaw, KILL the session),
# and the watchdog keeps the lock until then: wait that long for it, not for a run that is really active.
run_lock_take() {
  flock -n "$RUN_LOCK_FD" && return 0
  log "another consistent-snapshot run (or its watchdog, giving the host back) holds $1; waiting up to ${RUN_LOCK_WAIT_SECONDS}s"
  flock -w "$RUN_LOCK_WAIT_SECONDS" "$RUN_LOCK_FD" ||
    fail "$E_DISCOVER" "another consistent-snapshot run holds $1 (waited ${RUN_LOCK_WAIT_SECONDS}s)"
}

# $1 = unlocked: no run lock (the post-script runs while the pre-script's holder has it).
make_state_dir() {
  local base=${CONSISTENT_SNAPSHOT_RUN_DIR:-/run/consistent-snapshot}
  RUN_BASE=$base HOLD_DIR=$base/hold
  { mkdir -p "$base" && chmod 0700 "$base"; } || fail "$E_TOOL" "cannot create $base"
  if [[ ${1:-} != unlocked ]]; then
    [[ $COMMAND == pre-script ]] && refuse_active_hold
    exec {RUN_LOCK_FD}>"$base/lock"
    run_lock_take "$base/lock"
  fi
  STATE_DIR=$(mktemp -d "$base/run.XXXXXX") || fail "$E_TOOL" "cannot create a state directory under $base"
}

# ---------------------------------------------------------------- IMDSv2 and EC2 (outside the freeze)
INSTANCE_ID="" REGION="" AVAILABILITY_ZONE="" ROOT_DEVICE_NAME=""
declare -a VOLUME_IDS=() VOLUME_DEVICES=() SNAPSHOT_VOLUME_IDS=() EC2_ENDPOINT_ARGS=()
NEWEST_SNAPSHOT_MS=0 NEWEST_SNAPSHOT_VOLUME="" # the newest snapshot of those volumes (find_recent_snapshots)

IMDS_TOKEN=""
imds() {
  curl -fsS --max-time 2 --retry 2 --retry-max-time 6 -H "X-aws-ec2-metadata-token: $IMDS_TOKEN" \
    "$IMDS_ENDPOINT/latest/$1"
}

discover_instance() {
  IMDS_ENDPOINT=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
  IMDS_ENDPOINT=${IMDS_ENDPOINT%/}
  IMDS_TOKEN=$(curl -fsS --max-time 2 --retry 2 --retry-max-time 6 -X PUT \
    -H "X-aws-ec2-metadata-token-ttl-seconds: 300" "$IMDS_ENDPOINT/latest/api/token" 2>&1) ||
    fail "$E_DISCOVER" "IMDSv2 token request to $IMDS_ENDPOINT failed: $IMDS_TOKEN"
  INSTANCE_ID=$(imds meta-data/instance-id 2>&1) || fail "$E_DISCOVER" "IMDS instance-id: $INSTANCE_ID"
  [[ $INSTANCE_ID =~ ^i-[0-9a-f]{8,17}$ ]] || fail "$E_DISCOVER" "IMDS returned an unexpected instance id '$INSTANCE_ID'"
  AVAILABILITY_ZONE=$(imds meta-data/placement/availability-zone 2>/dev/null) || AVAILABILITY_ZONE=""
  REGION=$(imds meta-data/placement/region 2>/dev/null) || REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
  [[ -n $REGION ]] || fail "$E_DISCOVER" "no region: IMDS gave none and AWS_REGION/AWS_DEFAULT_REGION are unset"
  # amazonaws.com, amazonaws.com.cn in China, ...: the endpoints' domain as EC2 gives it to the instance.
  EC2_DOMAIN=$(imds meta-data/services/domain 2>/dev/null) && [[ $EC2_DOMAIN =~ ^[a-z0-9.-]+$ ]] || EC2_DOMAIN=amazonaws.com
  export AWS_DEFAULT_REGION=$REGION AWS_REGION=$REGION
  [[ -n ${AWS_ENDPOINT_URL_EC2:-} ]] && EC2_ENDPOINT_ARGS=(--endpoint-url "$AWS_ENDPOINT_URL_EC2")
  load_role_credentials
}

# The CLI would fetch the instance role's credentials from IMDS on its first request, inside the
# freeze; fetching them here keeps IMDS out of it. Credentials already in the environment win.
load_role_credentials() {
  [[ -n ${AWS_ACCESS_KEY_ID:-} || -n ${AWS_PROFILE:-} ]] && return 0
  local role doc
  role=$(imds meta-data/iam/security-credentials/ 2>/dev/null | head -n 1) || return 0
  [[ -n $role ]] || return 0
  doc=$(imds "meta-data/iam/security-credentials/$role" 2>/dev/null) || return 0
  AWS_ACCESS_KEY_ID=$(json_field AccessKeyId "$doc")
  AWS_SECRET_ACCESS_KEY=$(json_field SecretAccessKey "$doc")
  AWS_SESSION_TOKEN=$(json_field Token "$doc")
  if [[ -n $AWS_ACCESS_KEY_ID && -n $AWS_SECRET_ACCESS_KEY ]]; then
    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
  else
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
  fi
}
json_field() { sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" <<<"$2" | head -n 1; }

aws_ec2() {
  AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=${AWS_MAX_ATTEMPTS:-3} AWS_PAGER="" \
    aws ec2 "$@" "${EC2_ENDPOINT_ARGS[@]}" --region "$REGION" --cli-connect-timeout 5 --cli-read-timeout 20
}

# EC2 refuses a snapshot of a volume within 15 s of the one before (SnapshotCreationPerVolumeRateExceeded:
# "wait at least 15 seconds between concurrent volume snapshots"): another tool's, DLM's, or a run of ours just
# before. Inside the freeze that failure would cost the whole stall, so the newest snapshot of each volume is
# found now, and the lock waits until the interval has passed (wait_for_volume_snapshot_interval).
find_recent_snapshots() {
  local query="" volume out start pending epoch_ms
  for volume in "${SNAPSHOT_VOLUME_IDS[@]}"; do
    query+="${query:+, }['$volume', max_by(Snapshots[?VolumeId=='$volume'], &StartTime).StartTime, length(Snapshots[?VolumeId=='$volume' && State=='pending'])]"
  done
  if ! out=$(aws_ec2 describe-snapshots --owner-ids self --output text \
    --filters "Name=volume-id,Values=$(
      IFS=,
      echo "${SNAPSHOT_VOLUME_IDS[*]}"
    )" --query "[$query]" 2>&1); then
    log "NOTE: could not look for recent snapshots of the volumes (the call may meet EC2's 15 s per-volume interval): ${out//$'\n'/ }"
    return 0
  fi
  NEWEST_SNAPSHOT_MS=0 NEWEST_SNAPSHOT_VOLUME=""
  while read -r volume start pending; do
    [[ $volume == vol-* ]] || continue
    ((${pending:-0} == 0)) || log "NOTE: $pending snapshot(s) of $volume still pending"
    [[ $start == None || -z $start ]] && continue
    epoch_ms=$(date -u -d "$start" +%s%3N 2>/dev/null) || {
      log "NOTE: the newest snapshot of $volume has a start time '$start' this host cannot read"
      continue
    }
    ((epoch_ms > NEWEST_SNAPSHOT_MS)) && NEWEST_SNAPSHOT_MS=$epoch_ms NEWEST_SNAPSHOT_VOLUME=$volume
  done <<<"$out"
  return 0
}

# Just before the lock (or, under crash-recovery, which locks nothing, the call): sleeps out EC2's per-volume
# interval since the newest snapshot found.
wait_for_volume_snapshot_interval() {
  ((${NEWEST_SNAPSHOT_MS:-0} > 0)) || return 0
  local now wait_ms before="locking"
  is_crash_recovery && before="the call (nothing is locked under crash-recovery)"
  stamp now
  wait_ms=$((NEWEST_SNAPSHOT_MS + VOLUME_SNAPSHOT_INTERVAL_MS - now))
  ((wait_ms > 0)) || return 0
  log "a snapshot of $NEWEST_SNAPSHOT_VOLUME started $((now - NEWEST_SNAPSHOT_MS)) ms ago; EC2 allows one snapshot of a volume every $((VOLUME_SNAPSHOT_INTERVAL_MS / 1000)) s: waiting $wait_ms ms before $before"
  sleep "$((wait_ms / 1000)).$(printf '%03d' $((wait_ms % 1000)))"
}

discover_volumes() {
  local out line
  # shellcheck disable=SC2016 # JMESPath literals, not shell
  out=$(aws_ec2 describe-instances --instance-ids "$INSTANCE_ID" --output text \
    --query 'Reservations[0].Instances[0].[RootDeviceName, join(`,`, BlockDeviceMappings[].join(`=`, [DeviceName, Ebs.VolumeId]))]' 2>&1) ||
    fail "$E_DISCOVER" "ec2 DescribeInstances for $INSTANCE_ID failed: $out"
  ROOT_DEVICE_NAME=$(cut -f1 <<<"$out")
  local mappings
  mappings=$(cut -f2 <<<"$out")
  local -a lines=()
  IFS=',' read -r -a lines <<<"$mappings"
  for line in "${lines[@]}"; do
    [[ $line == *=vol-* ]] || continue
    VOLUME_DEVICES+=("${line%%=*}")
    VOLUME_IDS+=("${line#*=}")
    if [[ $EXCLUDE_BOOT_VOLUME == true && ${line%%=*} == "$ROOT_DEVICE_NAME" ]]; then continue; fi
    SNAPSHOT_VOLUME_IDS+=("${line#*=}")
  done
  ((${#SNAPSHOT_VOLUME_IDS[@]} > 0)) ||
    fail "$E_DISCOVER" "no EBS volume to snapshot on $INSTANCE_ID (excludeBootVolume=$EXCLUDE_BOOT_VOLUME, mappings: ${mappings:-none})"
  log "instance $INSTANCE_ID in $REGION; volumes to snapshot: ${SNAPSHOT_VOLUME_IDS[*]}"
  find_recent_snapshots
}

# Maps a block device (any layer: partition, LVM, md, loop) to the EBS volume ids beneath it:
# NVMe serial (Nitro: vol0abc -> vol-0abc), else the device name in the block device mapping
# (xvdf and sdf are the same attachment).
volumes_of_device() {
  local source=$1 name type serial i found=""
  while read -r name type serial; do
    [[ $type == disk || $type == loop ]] || continue
    if [[ $serial =~ ^vol([0-9a-f]{8,17})$ ]]; then
      found+=" vol-${BASH_REMATCH[1]}"
      continue
    fi
    for i in "${!VOLUME_DEVICES[@]}"; do
      if [[ $(normalize_device "${VOLUME_DEVICES[$i]}") == "$(normalize_device "/dev/$name")" ]]; then
        found+=" ${VOLUME_IDS[$i]}"
      fi
    done
  done < <(lsblk -nsr -o NAME,TYPE,SERIAL "$source" 2>/dev/null)
  echo "${found# }"
}
normalize_device() {
  local d=${1#/dev/}
  d=${d#xvd}
  d=${d#sd}
  echo "$d"
}
is_snapshotted_volume() { [[ " ${SNAPSHOT_VOLUME_IDS[*]} " == *" $1 "* ]]; }

# ---------------------------------------------------------------- mounts
declare -a FREEZE_MOUNTS=() SYNC_ONLY_MOUNTS=() UNFROZEN_MOUNTS=()
FROZEN_FILESYSTEMS=" "       # MAJ:MIN of each filesystem in FREEZE_MOUNTS
NEVER_FROZEN_FILESYSTEMS=" " # MAJ:MIN of the filesystems of /, /boot, /boot/efi

# The EBS volume ids under the filesystem mounted at $1 (empty when it is on none).
volumes_of_mount() {
  local source
  source=$(findmnt -n -o SOURCE --mountpoint "$1" | head -n 1 | sed 's/\[.*//')
  volumes_of_device "$source"
}
path_on_snapshotted_volumes() {
  local m vols v
  m=$(mount_of "$1") || return 1
  vols=$(volumes_of_mount "$m")
  [[ -n $vols ]] || return 1
  for v in $vols; do is_snapshotted_volume "$v" || return 1; done
}
mount_of() {
  local target
  target=$(findmnt -n -o TARGET --target "$1" 2>/dev/null | head -n 1) && [[ -n $target ]] && echo "$target"
}

discover_mounts() {
  local -a candidates=() on_snapshotted=()
  local target majmin snapshotted_pairs
  # Every mounted filesystem on a volume in the snapshot set, one mount point per filesystem.
  snapshotted_pairs=$(snapshotted_filesystems)
  while read -r target majmin; do [[ -n $target ]] && on_snapshotted+=("$target"); done <<<"$snapshotted_pairs"
  NEVER_FROZEN_FILESYSTEMS=$(never_frozen_filesystems)
  [[ $DATABASE == mysql ]] && check_database_paths
  if [[ $FREEZE_MOUNTS_PARAM != auto ]]; then
    local m
    for m in $FREEZE_MOUNTS_PARAM; do
      majmin=$(findmnt -n -o MAJ:MIN --mountpoint "$m" 2>/dev/null | head -n 1) ||
        fail "$E_DISCOVER" "parameter SSM_freezeMounts: '$m' is not a mount point on this host"
      [[ $NEVER_FROZEN_FILESYSTEMS != *" $majmin "* ]] ||
        param_error SSM_freezeMounts "$m" "mount points other than /, /boot and /boot/efi; $m is one of their filesystems (MAJ:MIN $majmin) mounted again, e.g. a bind mount of /"
      candidates+=("$m")
    done
  else
    if [[ $DATABASE == mysql ]]; then
      local path m
      for path in "${DB_PATHS[@]}"; do
        m=$(mount_of "$path") || fail "$E_DISCOVER" "cannot find the mount holding the database path $path"
        candidates+=("$m")
      done
    fi
    candidates+=("${on_snapshotted[@]}")
  fi
  classify_mounts "${candidates[@]}"
  find_unfrozen_mounts <<<"$snapshotted_pairs"
}

# Every database path must be in the snapshot. One on tmpfs, NFS/EFS, instance store or a volume not snapshotted
# would be in no snapshot while the run said it was consistent. (The boot volume is classify_mounts' to judge:
# it says to set SSM_excludeBootVolume=false.)
check_database_paths() {
  local path m majmin fstype source
  for path in "${DB_PATHS[@]}"; do
    path_on_snapshotted_volumes "$path" && continue
    m=$(mount_of "$path") || fail "$E_DISCOVER" "cannot find the mount holding the database path $path"
    read -r majmin fstype source < <(findmnt -n -o MAJ:MIN,FSTYPE,SOURCE --mountpoint "$m" | head -n 1)
    is_never_frozen_fs "$m" "$majmin" && continue
    fail "$E_PARAM" "the database path $path is on $m ($fstype, $source), which is on no EBS volume this run snapshots (tmpfs, NFS/EFS, instance store, or a volume not attached to $INSTANCE_ID): the database would be in no snapshot; move it to an EBS volume of the instance"
  done
}

# "TARGET MAJ:MIN" of each filesystem (deduplicated by MAJ:MIN) whose device is on a snapshotted volume.
snapshotted_filesystems() {
  local target majmin source v seen=" "
  while read -r target majmin source; do
    [[ $source == /dev/* && $seen != *" $majmin "* ]] || continue
    for v in $(volumes_of_device "${source%%\[*}"); do
      if is_snapshotted_volume "$v"; then
        seen+="$majmin "
        printf '%s %s\n' "$target" "$majmin"
        break
      fi
    done
  done < <(findmnt -rn -o TARGET,MAJ:MIN,SOURCE)
}

# Filesystems on snapshotted volumes that will not be frozen get a crash-consistent snapshot: synced right
# before the call, and said so (log, summary, tag) instead of being passed off as consistent.
# Reads the "TARGET MAJ:MIN" lines of snapshotted_filesystems.
find_unfrozen_mounts() {
  local target majmin
  while read -r target majmin; do
    [[ -n $target && $FROZEN_FILESYSTEMS != *" $majmin "* ]] && UNFROZEN_MOUNTS+=("$target")
  done
  if ((${#UNFROZEN_MOUNTS[@]} > 0)); then
    log "WARNING: not frozen although on a snapshotted volume (their snapshots are crash-consistent only): ${UNFROZEN_MOUNTS[*]}"
  fi
}

# Splits candidates into mounts to freeze (ext4/xfs, deduplicated by filesystem, children first)
# and mounts that are only synced (/, /boot, other filesystem types). Under crash-recovery it only checks them:
# nothing is frozen or synced, and find_unfrozen_mounts lists every snapshotted filesystem.
classify_mounts() {
  local m target fstype majmin seen=" " vols
  local -a freeze=()
  for m in "$@"; do
    read -r target fstype majmin < <(findmnt -n -o TARGET,FSTYPE,MAJ:MIN --mountpoint "$m" | head -n 1)
    [[ $seen == *" $majmin "* ]] && continue
    seen+="$majmin "
    if is_never_frozen_fs "$target" "$majmin" || [[ $fstype != ext4 && $fstype != xfs ]]; then
      if [[ $EXCLUDE_BOOT_VOLUME == true ]] && is_never_frozen_fs "$target" "$majmin"; then
        fail "$E_PARAM" "parameter SSM_excludeBootVolume: the database's files are on $target (boot volume) but SSM_excludeBootVolume=true; set it to 'false'"
      fi
      is_crash_recovery && continue
      SYNC_ONLY_MOUNTS+=("$target")
      log "NOTE: $target ($fstype) is not frozen; it is synced and covered by the database lock only"
      continue
    fi
    vols=$(volumes_of_mount "$target")
    [[ -n $vols ]] || fail "$E_DISCOVER" "mount $target is not on an EBS volume of $INSTANCE_ID"
    local v
    for v in $vols; do
      is_snapshotted_volume "$v" ||
        fail "$E_DISCOVER" "mount $target is on $v, which is not snapshotted (SSM_excludeBootVolume=$EXCLUDE_BOOT_VOLUME)"
    done
    is_crash_recovery && continue
    freeze+=("$(awk -F/ '{print NF}' <<<"$target") $target")
    FROZEN_FILESYSTEMS+="$majmin "
  done
  local line
  while read -r line; do
    [[ -n $line ]] && FREEZE_MOUNTS+=("${line#* }")
  done < <(printf '%s\n' "${freeze[@]}" | sort -rn -k1,1)
  log "mounts to freeze (in order): ${FREEZE_MOUNTS[*]:-none}; synced only: ${SYNC_ONLY_MOUNTS[*]:-none}"
}

# ---------------------------------------------------------------- database session
declare -a MYSQL_CMD=() DB_LINES=()
DB_PID="" DB_IN="" DB_OUT="" DB_SEQ=0 DB_CONNECTION_ID="" DB_LOCKED=false DB_ERROR="" LOCK_ERROR=""
DB_USER="" DB_FLAVOR="" DB_VERSION="" DB_LOG_BIN=false PROCESSLIST_TABLE=""
DURABILITY="" CRASH_RECOVERY_PROBLEMS="" NON_TRANSACTIONAL_TABLES="" TABLES_LISTED=false
BINLOG_QUERY="" BINLOG_FILE="" BINLOG_POSITION="" GTID_BINLOG_POS="" BINLOG_AFTER=""
# A replica's applied position (discover_replica, read_replica_position): the statement and its columns' indexes.
REPLICA_STATEMENT="" REPLICA_FILE_COLUMN=-1 REPLICA_POS_COLUMN=-1 REPLICA_GTID_COLUMN=-1
REPLICA_FILE="" REPLICA_POS="" REPLICA_GTID="" REPLICA_CHANNELS=0

declare -a DB_PATHS=()

db_oneshot() { "${MYSQL_CMD[@]}" -e "$1" 2>&1; }

# Two servers on one host: which one the client reaches is whatever the option files say, and the other goes on
# writing unlocked. So with more than one running, the run needs SSM_mysqlDefaultsFile to name the one to hold.
refuse_ambiguous_server() {
  local comm pids="" count=0 file
  for file in /proc/[0-9]*/comm; do
    read -r comm 2>/dev/null <"$file" || continue
    [[ $comm == mysqld || $comm == mariadbd ]] || continue
    count=$((count + 1)) pids+=" ${file//[!0-9]/}"
  done
  ((count > 1)) || return 0
  [[ -n $MYSQL_DEFAULTS_FILE ]] ||
    param_error SSM_mysqlDefaultsFile "" "an option file naming the server to hold (socket=, or host= and port=): $count database servers run on this host (pids$pids)"
  log "NOTE: $count database servers run on this host (pids$pids); holding the one $MYSQL_DEFAULTS_FILE names: the others' files are crash-consistent only"
}

discover_database() {
  local out
  refuse_ambiguous_server
  # Fields joined by the unit separator: tabs would collapse empty fields in 'read'.
  out=$(db_oneshot "SELECT CONCAT_WS(CHAR(31), @@version, @@version_comment, @@datadir, IFNULL(@@innodb_log_group_home_dir,''), IFNULL(@@innodb_data_home_dir,''), IFNULL(@@log_bin_basename,''), @@log_bin, CURRENT_USER())") ||
    fail "$E_DB_DOWN" "cannot reach the database with ${MYSQL_CMD[*]}: $out"
  local version comment datadir logdir datahome binlog logbin
  IFS=$'\x1f' read -r version comment datadir logdir datahome binlog logbin DB_USER <<<"$out"
  DB_VERSION=$version
  if [[ $version$comment == *MariaDB* ]]; then DB_FLAVOR=mariadb; else DB_FLAVOR=mysql; fi
  DB_PATHS=("$datadir")
  local p
  for p in "$logdir" "$datahome"; do
    [[ -n $p ]] || continue
    [[ $p == /* ]] || p="$datadir/$p"
    DB_PATHS+=("$p")
  done
  DB_LOG_BIN=false
  if [[ $logbin == 1 || $logbin == ON ]] && [[ -n $binlog ]]; then
    DB_LOG_BIN=true
    DB_PATHS+=("$(dirname -- "$binlog")")
  fi
  # One round trip under the lock. MySQL 8.2 renamed SHOW MASTER STATUS (8.4 removed it); its GTID set is
  # a column of it. MySQL 8.0.22 added performance_schema.processlist; 9.x deprecates the I_S one.
  local version_number=0
  [[ $version =~ ^([0-9]+)\.([0-9]+)\.([0-9]+) ]] &&
    version_number=$((BASH_REMATCH[1] * 10000 + BASH_REMATCH[2] * 100 + BASH_REMATCH[3]))
  PROCESSLIST_TABLE=information_schema.PROCESSLIST
  if [[ $DB_FLAVOR == mariadb ]]; then
    BINLOG_QUERY="SHOW MASTER STATUS; SELECT @@gtid_binlog_pos"
  elif ((version_number >= 80200)); then
    BINLOG_QUERY="SHOW BINARY LOG STATUS"
  else
    BINLOG_QUERY="SHOW MASTER STATUS"
  fi
  [[ $DB_FLAVOR == mysql ]] && ((version_number >= 80022)) && PROCESSLIST_TABLE=performance_schema.processlist
  log "database $DB_FLAVOR $DB_VERSION as $DB_USER; files under: ${DB_PATHS[*]}"
  discover_replica "$version_number"
  choose_lock_method "$version_number"
}

# A replica's applied position (the source's binlog file and position its SQL thread has executed, MariaDB's
# gtid_slave_pos): where a server restored from the snapshot resumes replicating. Its columns are found here,
# once, by name (their order differs between versions); the values are read under the lock, in the session
# (read_replica_position). MariaDB lists every connection, MySQL every channel; the first is tagged.
discover_replica() {
  local version_number=$1 out header i
  local -a names=()
  if [[ $DB_FLAVOR == mariadb ]]; then
    REPLICA_STATEMENT="SHOW ALL SLAVES STATUS"
  elif ((version_number >= 80022)); then
    REPLICA_STATEMENT="SHOW REPLICA STATUS"
  else REPLICA_STATEMENT="SHOW SLAVE STATUS"; fi
  if ! out=$(db_oneshot_with_names "$REPLICA_STATEMENT"); then
    log "NOTE: not known whether this server is a replica (its applied position is not tagged): ${out//$'\n'/ } (the account needs SLAVE MONITOR on MariaDB, REPLICATION CLIENT on MySQL)"
    REPLICA_STATEMENT=""
    return 0
  fi
  header=${out%%$'\n'*}
  if [[ $out != *$'\n'* ]]; then
    REPLICA_STATEMENT=""
    return 0
  fi # a header and no row: not a replica
  IFS=$'\t' read -r -a names <<<"$header"
  for i in "${!names[@]}"; do
    case ${names[$i]} in
      Relay_Master_Log_File | Relay_Source_Log_File) REPLICA_FILE_COLUMN=$i ;;
      Exec_Master_Log_Pos | Exec_Source_Log_Pos) REPLICA_POS_COLUMN=$i ;;
      Gtid_Slave_Pos) REPLICA_GTID_COLUMN=$i ;;
    esac
  done
  ((REPLICA_FILE_COLUMN >= 0 && REPLICA_POS_COLUMN >= 0)) ||
    {
      log "NOTE: $REPLICA_STATEMENT has no executed-position columns this script knows: not tagged"
      REPLICA_STATEMENT=""
      return 0
    }
  log "a replica: its applied position is read under the lock ($REPLICA_STATEMENT)"
}

db_oneshot_with_names() { "${MYSQL_CMD[@]}" --column-names -e "$1" 2>&1; }

# BACKUP STAGE (MariaDB >= 10.4.1) blocks only what a snapshot needs: from FLUSH, new writes to
# non-transactional tables; BLOCK_DDL waits for their running writes and flushes them; BLOCK_COMMIT blocks
# commits and the binlog (MariaDB's sql/backup.cc). It never waits for a SELECT, however long.
# crash-recovery takes no lock and freezes nothing: CreateSnapshots is one point in time across the instance's
# volumes, and a server that passes crash_recovery_problems recovers from it as from a power cut.
choose_lock_method() {
  local backup_stage=false
  [[ $DB_FLAVOR == mariadb ]] && (($1 >= 100401)) && backup_stage=true
  [[ $DB_FLAVOR == mysql ]] && (($1 >= 80000)) && backup_stage=instance
  if [[ $QUIESCE == crash-recovery || ($QUIESCE == auto && $COMMAND != pre-script) ]]; then
    crash_recovery_problems
    local problems=$CRASH_RECOVERY_PROBLEMS
    if [[ -z $problems ]]; then
      LOCK_METHOD=$NO_LOCK LOCK_TAG=crash-recovery
      log "lock method: $LOCK_METHOD (SSM_quiesce=$QUIESCE): $DURABILITY, every table crash-safe, every database file on a snapshotted volume"
      return 0
    fi
    [[ $QUIESCE == crash-recovery ]] &&
      fail "$E_PARAM" "parameter SSM_quiesce: crash-recovery refused, a snapshot without lock would not be exact: $problems"
    log "crash recovery would not be exact ($problems)"
  fi
  [[ $QUIESCE == backup-lock && $backup_stage == false ]] &&
    param_error SSM_quiesce "$QUIESCE" "'ftwrl' or 'auto' on $DB_FLAVOR $DB_VERSION (backup-lock is MariaDB's BACKUP STAGE from 10.4.1, MySQL's LOCK INSTANCE FOR BACKUP from 8.0)"
  # LOCK INSTANCE FOR BACKUP leaves writes to non-transactional tables free, and gives no exact binlog position
  # for DLM's post-script to tag: there FLUSH TABLES WITH READ LOCK is the lock.
  if [[ $backup_stage == instance && $QUIESCE != ftwrl ]]; then
    [[ $TABLES_LISTED == true ]] || non_transactional_tables
    if [[ -n $NON_TRANSACTIONAL_TABLES ]]; then
      log "$FTWRL instead of $LOCK_INSTANCE: it does not hold writes to non-transactional tables ($NON_TRANSACTIONAL_TABLES)"
      backup_stage=false
    elif [[ $COMMAND == pre-script ]]; then
      log "$FTWRL instead of $LOCK_INSTANCE: DLM's post-script tags the exact binlog position only a lock on commits gives"
      backup_stage=false
    fi
  fi
  case $QUIESCE:$backup_stage in
    backup-lock:true | auto:true) LOCK_METHOD=$BACKUP_STAGE LOCK_TAG=backup-stage ;;
    backup-lock:instance | auto:instance) LOCK_METHOD=$LOCK_INSTANCE LOCK_TAG=lock-instance ;;
    *) LOCK_METHOD=$FTWRL LOCK_TAG=ftwrl ;;
  esac
  log "lock method: $LOCK_METHOD (SSM_quiesce=$QUIESCE)"
}

# Whether this run locks nothing and freezes nothing (choose_lock_method found crash recovery exact).
is_crash_recovery() { [[ $DATABASE == mysql && $LOCK_TAG == crash-recovery ]]; }

# The tables whose writes only a lock holds (listed as "schema.table (ENGINE)"): not InnoDB, not crash-safe Aria,
# not the CSV log tables while nothing logs to them.
readonly NOT_CRASH_SAFE_TABLES_SQL="IFNULL((SELECT GROUP_CONCAT(CONCAT(TABLE_SCHEMA, '.', TABLE_NAME, ' (', ENGINE, ')') ORDER BY TABLE_SCHEMA, TABLE_NAME SEPARATOR ', ') FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ('information_schema', 'performance_schema', 'sys') AND ENGINE <> 'InnoDB' AND NOT (ENGINE = 'Aria' AND CREATE_OPTIONS LIKE '%transactional=1%') AND NOT (TABLE_SCHEMA = 'mysql' AND TABLE_NAME IN ('general_log', 'slow_log') AND NOT (@@log_output LIKE '%TABLE%' AND (@@general_log OR @@slow_query_log)))), '')"

# Whether the account sees every table in information_schema (a global SHOW VIEW or SELECT).
readonly SEES_EVERY_TABLE_SQL="EXISTS(SELECT 1 FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE IN ('SHOW VIEW', 'SELECT') AND GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), ''''))"

non_transactional_tables() {
  local out visible
  out=$(db_oneshot "SELECT CONCAT_WS(CHAR(31), $SEES_EVERY_TABLE_SQL, $NOT_CRASH_SAFE_TABLES_SQL)") ||
    fail "$E_DB_DOWN" "cannot list the tables' engines: $out"
  IFS=$'\x1f' read -r visible NON_TRANSACTIONAL_TABLES <<<"$out"
  [[ $visible == 1 ]] ||
    NON_TRANSACTIONAL_TABLES="unknown: the account $DB_USER cannot see every table's engine (grant it SHOW VIEW ON *.*, which shows no rows)"
  TABLES_LISTED=true
}

# Sets CRASH_RECOVERY_PROBLEMS to why crash recovery from a snapshot would not be exact, empty when it would.
# Needs: every table crash-safe (InnoDB, Aria TRANSACTIONAL=1; the CSV log tables unless logging to them),
# every commit durable (innodb_flush_log_at_trx_commit=1, sync_binlog=1), no torn pages (doublewrite), and
# every file the server needs on a snapshotted volume. Sets DURABILITY, the settings seen (a tag).
crash_recovery_problems() {
  local out flush sync doublewrite undo path problem
  local -a problems=()
  out=$(db_oneshot "SELECT CONCAT_WS(CHAR(31), @@innodb_flush_log_at_trx_commit, @@sync_binlog, @@innodb_doublewrite, IFNULL(@@innodb_undo_directory, ''))") ||
    fail "$E_DB_DOWN" "cannot check the server for crash recovery: $out"
  IFS=$'\x1f' read -r flush sync doublewrite undo <<<"$out"
  non_transactional_tables
  [[ $flush == 1 ]] || problems+=("innodb_flush_log_at_trx_commit=$flush (needs 1)")
  [[ $DB_LOG_BIN == false || $sync == 1 ]] || problems+=("sync_binlog=$sync (needs 1)")
  [[ $doublewrite =~ ^(1|ON|DETECT_AND_RECOVER)$ ]] || problems+=("innodb_doublewrite=$doublewrite (needs ON)")
  [[ -z $NON_TRANSACTIONAL_TABLES ]] || problems+=("tables that are not crash-safe: $NON_TRANSACTIONAL_TABLES")
  [[ -z $undo || $undo == /* ]] || undo="${DB_PATHS[0]}/$undo"
  for path in "${DB_PATHS[@]}" ${undo:+"$undo"}; do
    path_on_snapshotted_volumes "$path" || problems+=("$path is not on a snapshotted EBS volume")
  done
  DURABILITY="innodb_flush_log_at_trx_commit=$flush sync_binlog=$sync innodb_doublewrite=$doublewrite"
  CRASH_RECOVERY_PROBLEMS=""
  for problem in "${problems[@]}"; do CRASH_RECOVERY_PROBLEMS+="${CRASH_RECOVERY_PROBLEMS:+; }$problem"; done
}

db_start_session() {
  local fifo_in="$STATE_DIR/db.in" fifo_out="$STATE_DIR/db.out"
  local -a detach=()
  # A pre-script's session must outlive the script (the holder keeps its pipes open): its own session.
  [[ $COMMAND == pre-script ]] && detach=(setsid)
  mkfifo -m 0600 "$fifo_in" "$fifo_out"
  (
    close_private_fds
    exec "${detach[@]}" "${MYSQL_CMD[@]}" --unbuffered --force <"$fifo_in" >"$fifo_out" 2>&1
  ) &
  DB_PID=$!
  exec {DB_IN}>"$fifo_in" {DB_OUT}<"$fifo_out"
  db_query "SET SESSION lock_wait_timeout = $LOCK_TIMEOUT_SECONDS" 10 ||
    fail "$E_DB_DOWN" "cannot open the database session: $DB_ERROR"
  db_query "SELECT CONNECTION_ID()" 10 || fail "$E_DB_DOWN" "cannot open the database session: $DB_ERROR"
  DB_CONNECTION_ID=${DB_LINES[0]:-}
}

# Sends one statement to the open session and waits (at most $2 s) for its end marker.
# Result rows in DB_LINES; an error sets DB_ERROR and returns 1.
db_query() {
  local sql=$1 wait=$2 marker line
  DB_SEQ=$((DB_SEQ + 1))
  marker="__consistent_snapshot_${DB_SEQ}__"
  DB_LINES=()
  DB_ERROR=""
  { printf '%s;\nSELECT '\''%s'\'';\n' "$sql" "$marker" >&"$DB_IN"; } 2>/dev/null || {
    DB_ERROR="session closed"
    return 1
  }
  while true; do
    if ! IFS= read -r -t "$wait" line <&"$DB_OUT"; then
      DB_ERROR="no answer within ${wait}s (session lost or stuck)"
      return 1
    fi
    [[ $line == "$marker" ]] && break
    if [[ $line == ERROR* ]]; then DB_ERROR+="$line"; else DB_LINES+=("$line"); fi
  done
  [[ -z $DB_ERROR ]]
}

# A FLUSH waits for the statements that have the tables open, and every writer queues behind that wait.
# On MariaDB only writes are waited for. On MySQL every statement is, and a FLUSH that waited marks the
# table: each new statement on it then waits ("Waiting for table flush") until the long one ends, even
# after the FLUSH gave up (seen on 9.7). So no FLUSH is sent while such a statement has run for
# SSM_longQuerySeconds (as XtraBackup's --ftwrl-wait-threshold); this waits, without locking, at most
# SSM_lockTimeoutSeconds for them to end.
wait_for_no_long_queries() {
  ((LONG_QUERY_SECONDS == 0)) && return 0
  local filter="" now deadline
  stamp now
  deadline=$((now + LOCK_TIMEOUT_SECONDS * 1000))
  [[ $DB_FLAVOR == mariadb ]] &&
    filter="AND INFO NOT REGEXP '^[[:space:](]*(SELECT|SHOW|DESC|DESCRIBE|EXPLAIN|WITH|HANDLER|DO|CHECKSUM)[[:space:]]'"
  while true; do
    db_query "SELECT COUNT(*) FROM $PROCESSLIST_TABLE WHERE ID <> CONNECTION_ID() AND COMMAND = 'Query' AND TIME >= $LONG_QUERY_SECONDS AND INFO IS NOT NULL $filter" 10 ||
      fail "$E_DB_DOWN" "database session lost while checking for long queries: $DB_ERROR"
    [[ ${DB_LINES[0]:-0} == 0 ]] && return 0
    stamp now
    ((now >= deadline)) && return 1
    sleep 0.2
  done
}

# DLM waits for a pre-script until its executionTimeout (SSM_preScriptSeconds), then counts it failed and
# sends no post-script: a lock and freeze taken after that would be held for nothing until maxFreezeSeconds.
# So an attempt starts only when, each of its statements waiting the server's lock_wait_timeout at most, it
# leaves time to freeze and to hand over before that.
lock_attempt_fits() {
  [[ $COMMAND == pre-script ]] || return 0
  local attempt=$1 statements now need
  case $LOCK_METHOD in
    "$BACKUP_STAGE") statements=4 ;;
    "$LOCK_INSTANCE") statements=1 ;;
    *) statements=$((LONG_QUERY_SECONDS > 0 ? 3 : 2)) ;; # (the wait for long queries,) FLUSH TABLES, FTWRL
  esac
  stamp now
  need=$(((attempt > 1 ? 1000 : 0) + statements * LOCK_TIMEOUT_SECONDS * 1000 + PRE_SCRIPT_FREEZE_MS))
  ((now + need <= PRE_SCRIPT_DEADLINE_MS)) && return 0
  fail "$E_LOCK" "lock attempt $attempt not started: $((now - T_START)) ms into the pre-script, it could take $need ms with the freeze, and SSM_preScriptSeconds=$PRE_SCRIPT_SECONDS (DLM's executionTimeout) leaves $((PRE_SCRIPT_DEADLINE_MS - now)) ms before the hand-over; the database was left writable"
}

# FLUSH TABLES first makes the flush inside FLUSH TABLES WITH READ LOCK short. From the first FLUSH sent
# until UNLOCK (or until the last attempt gave up) writers may wait: reported as writeBlockWindowMs.
db_lock() {
  [[ $LOCK_METHOD == "$BACKUP_STAGE" ]] && {
    db_lock_attempts backup_stage_attempt
    return
  }
  [[ $LOCK_METHOD == "$LOCK_INSTANCE" ]] && {
    db_lock_attempts lock_instance_attempt
    return
  }
  local attempt preflushed=false
  for ((attempt = 1; attempt <= LOCK_RETRIES + 1; attempt++)); do
    lock_attempt_fits "$attempt"
    ((attempt > 1)) && sleep 1
    if ! wait_for_no_long_queries; then
      log "attempt $attempt: a query running for >= ${LONG_QUERY_SECONDS}s would make a FLUSH wait (and writers behind it); not flushing or locking"
      continue
    fi
    ((T_FIRST_FLUSH > 0)) || stamp T_FIRST_FLUSH
    if [[ $preflushed == false ]]; then
      if ! db_query "FLUSH NO_WRITE_TO_BINLOG TABLES" $((LOCK_TIMEOUT_SECONDS + 10)); then
        stamp T_WRITES_RELEASED
        [[ $DB_ERROR == "no answer"* ]] && fail "$E_DB_DOWN" "database session lost during FLUSH TABLES: $DB_ERROR"
        log "attempt $attempt: FLUSH TABLES not done within ${LOCK_TIMEOUT_SECONDS}s: $DB_ERROR"
        continue
      fi
      preflushed=true
    fi
    presync_mounts
    stamp T_LOCK_REQUESTED
    if db_query "FLUSH TABLES WITH READ LOCK" $((LOCK_TIMEOUT_SECONDS + 10)); then
      stamp T_LOCKED
      DB_LOCKED=true
      log "database locked ($LOCK_METHOD) on attempt $attempt"
      return 0
    fi
    stamp T_WRITES_RELEASED
    [[ $DB_ERROR == "no answer"* ]] && fail "$E_DB_DOWN" "database session lost while locking: $DB_ERROR"
    log "attempt $attempt: lock not granted within ${LOCK_TIMEOUT_SECONDS}s: $DB_ERROR"
  done
  fail "$E_LOCK" "could not acquire $LOCK_METHOD within SSM_lockTimeoutSeconds=$LOCK_TIMEOUT_SECONDS after $((LOCK_RETRIES + 1)) attempts; the database was left writable"
}

# The lock methods that take one lock statement (or a sequence) per attempt: runs attempt function $1 up to
# lockRetries + 1 times. An attempt returns 0 when granted; otherwise it has released what it took, stamped
# T_WRITES_RELEASED and set LOCK_ERROR.
db_lock_attempts() {
  local attempt_fn=$1 attempt
  for ((attempt = 1; attempt <= LOCK_RETRIES + 1; attempt++)); do
    lock_attempt_fits "$attempt"
    ((attempt > 1)) && sleep 1
    presync_mounts
    stamp T_LOCK_REQUESTED
    ((T_FIRST_FLUSH > 0)) || T_FIRST_FLUSH=$T_LOCK_REQUESTED
    if "$attempt_fn"; then
      stamp T_LOCKED
      DB_LOCKED=true
      log "database locked ($LOCK_METHOD) on attempt $attempt"
      return 0
    fi
    log "attempt $attempt: not granted within ${LOCK_TIMEOUT_SECONDS}s: $LOCK_ERROR"
  done
  fail "$E_LOCK" "could not acquire $LOCK_METHOD within SSM_lockTimeoutSeconds=$LOCK_TIMEOUT_SECONDS after $((LOCK_RETRIES + 1)) attempts; the database was left writable"
}

# Stage by stage, stopping at the first that is not granted within lock_wait_timeout (the server would walk a
# later stage through the failed one again). From BACKUP STAGE FLUSH on, writes to non-transactional tables
# wait; from BLOCK_COMMIT, commits.
backup_stage_attempt() {
  local stage
  for stage in START FLUSH BLOCK_DDL BLOCK_COMMIT; do
    db_query "BACKUP STAGE $stage" $((LOCK_TIMEOUT_SECONDS + 10)) && continue
    LOCK_ERROR="BACKUP STAGE $stage: $DB_ERROR"
    [[ $DB_ERROR == "no answer"* ]] && fail "$E_DB_DOWN" "database session lost while locking: $LOCK_ERROR"
    # A START not granted leaves no backup stage to end.
    if [[ $stage != START ]] && ! db_query "BACKUP STAGE END" 10; then
      fail "$E_DB_DOWN" "BACKUP STAGE END failed after a failed attempt: $DB_ERROR"
    fi
    stamp T_WRITES_RELEASED
    return 1
  done
}

# MySQL >= 8.0: LOCK INSTANCE FOR BACKUP blocks DDL and file operations, never DML: commits go on until the
# freeze holds them at the disk, and what the snapshot holds is what the freeze flushed, made exact by InnoDB's
# crash recovery and the binlog's two-phase commit. Chosen only when every table is transactional.
lock_instance_attempt() {
  db_query "$LOCK_INSTANCE" $((LOCK_TIMEOUT_SECONDS + 10)) && return 0
  stamp T_WRITES_RELEASED
  LOCK_ERROR="$LOCK_INSTANCE: $DB_ERROR"
  [[ $DB_ERROR == "no answer"* ]] && fail "$E_DB_DOWN" "database session lost while locking: $LOCK_ERROR"
  return 1
}

# Under the lock, whether or not this server writes a binlog. Where commits go on under the lock (MySQL's
# LOCK INSTANCE FOR BACKUP) the applier goes on too, and the position read now is not the snapshot's: not
# tagged (the snapshot holds it anyway, in mysql.slave_relay_log_info, crash-safe).
read_replica_position() {
  [[ -n $REPLICA_STATEMENT ]] || return 0
  if commits_go_on; then
    log "NOTE: the replica's applied position is not tagged under $LOCK_METHOD (the applier goes on until the freeze); the snapshot holds it"
    return 0
  fi
  if ! db_query "$REPLICA_STATEMENT" 5; then
    log "NOTE: replica position unavailable: $DB_ERROR"
    return 0
  fi
  local -a fields=()
  REPLICA_CHANNELS=${#DB_LINES[@]}
  ((REPLICA_CHANNELS > 0)) || return 0
  IFS=$'\x1f' read -r -a fields <<<"${DB_LINES[0]//$'\t'/$'\x1f'}"
  REPLICA_FILE=${fields[$REPLICA_FILE_COLUMN]:-} REPLICA_POS=${fields[$REPLICA_POS_COLUMN]:-}
  ((REPLICA_GTID_COLUMN < 0)) || REPLICA_GTID=${fields[$REPLICA_GTID_COLUMN]:-}
  ((REPLICA_CHANNELS == 1)) || log "NOTE: $REPLICA_CHANNELS replication channels; the first one's position is tagged"
  return 0
}

# The replica tags (for $1, an array name): nothing on a server that is not one.
replica_tags() {
  ((REPLICA_CHANNELS > 0)) || return 0
  local -n into=$1
  into+=("ReplicationSourceLogFile=$REPLICA_FILE" "ReplicationSourceLogPos=$REPLICA_POS" "ReplicationChannels=$REPLICA_CHANNELS")
  [[ -z $REPLICA_GTID ]] || gtid_tags ReplicationGtidPos "$REPLICA_GTID" "$1"
}

read_binlog_position() {
  [[ $DB_LOG_BIN == true ]] || return 0
  if ! db_query "$BINLOG_QUERY" 5; then
    log "NOTE: binlog position unavailable: $DB_ERROR"
    return 0
  fi
  # Tabs are IFS whitespace: runs of them (empty Binlog_Do_DB, Binlog_Ignore_DB) would collapse into one.
  local gtid_column row=${DB_LINES[0]:-}
  IFS=$'\x1f' read -r BINLOG_FILE BINLOG_POSITION _ _ gtid_column <<<"${row//$'\t'/$'\x1f'}"
  if [[ $DB_FLAVOR == mariadb ]]; then GTID_BINLOG_POS=${DB_LINES[1]:-}; else GTID_BINLOG_POS=${gtid_column:-}; fi
  # MySQL breaks a set of several source UUIDs after each comma; --batch prints that newline as \n.
  GTID_BINLOG_POS=${GTID_BINLOG_POS//\\n/}
  return 0
}

# Appends to the array named $3 the tags of GTID set $2 under key $1. A tag value holds 256 characters and a
# set of many domains or source UUIDs is longer: it continues in $1 2 .. $1 8 (keys ${1}2 .. ${1}8, 2048
# characters in all); a longer set is cut there, its last part ending in "...", and ${1}Cut=true says so (the
# run's summary has the whole set). Never cut silently.
gtid_tags() {
  local key=$1 value=$2 part
  local -n gtid_out=$3
  gtid_out+=("$key=${value:0:256}")
  for ((part = 2; part <= GTID_TAG_PARTS && ${#value} > (part - 1) * 256; part++)); do
    gtid_out+=("$key$part=${value:(part - 1)*256:256}")
  done
  if ((${#value} > GTID_TAG_PARTS * 256)); then
    gtid_out[-1]="${gtid_out[-1]::-3}..."
    gtid_out+=("${key}Cut=true")
    log "WARNING: the GTID set is ${#value} characters; tagged the first $((GTID_TAG_PARTS * 256 - 3)) in $key..${key}$GTID_TAG_PARTS, ${key}Cut=true (the summary has all of it)"
  fi
}

# Whether commits go on while the snapshot is taken (no lock, or LOCK INSTANCE FOR BACKUP): then the binlog
# position is read just before the call and again just after, and the snapshot's binlog ends between the two.
commits_go_on() { [[ $LOCK_TAG == crash-recovery || $LOCK_TAG == lock-instance ]]; }

read_binlog_after() {
  local file=$BINLOG_FILE position=$BINLOG_POSITION gtid=$GTID_BINLOG_POS
  read_binlog_position
  BINLOG_AFTER="$BINLOG_FILE:$BINLOG_POSITION${GTID_BINLOG_POS:+ $GTID_BINLOG_POS}"
  BINLOG_FILE=$file BINLOG_POSITION=$position GTID_BINLOG_POS=$gtid
}

# Right before the call (everything is frozen): the lock lives in the session, and a KILL of it (pt-kill, an
# admin) releases it without a word; a client that reconnected would answer from a new session. One round trip.
db_check_lock_session() {
  [[ $DATABASE == mysql && $DB_LOCKED == true ]] || return 0
  if db_query "SELECT CONNECTION_ID()" 2 && [[ ${DB_LINES[0]:-} == "$DB_CONNECTION_ID" ]]; then return 0; fi
  DB_LOCKED=false
  fail "$E_LOCK" "the lock's session (connection $DB_CONNECTION_ID) was lost before the snapshot call (killed?): ${DB_ERROR:-the client answers as connection ${DB_LINES[0]:-?}}; nothing was snapshotted"
}

db_unlock() {
  [[ $DB_LOCKED == true ]] || return 0
  local unlock="UNLOCK TABLES"
  [[ $LOCK_METHOD == "$BACKUP_STAGE" ]] && unlock="BACKUP STAGE END"
  [[ $LOCK_METHOD == "$LOCK_INSTANCE" ]] && unlock="UNLOCK INSTANCE"
  if db_query "$unlock" 5; then
    DB_LOCKED=false
    stamp T_UNLOCKED
    T_WRITES_RELEASED=$T_UNLOCKED
    log "database unlocked"
    return 0
  fi
  # Closing the session releases the lock whatever state the client is in.
  log "$unlock failed ($DB_ERROR); closing the session to release the lock"
  db_close_session
  DB_LOCKED=false
  stamp T_UNLOCKED
  T_WRITES_RELEASED=$T_UNLOCKED
}

db_close_session() {
  [[ -n $DB_IN ]] && {
    exec {DB_IN}>&-
    DB_IN=""
  }
  [[ -n $DB_OUT ]] && {
    exec {DB_OUT}<&-
    DB_OUT=""
  }
  if [[ -n $DB_PID ]]; then
    kill "$DB_PID" 2>/dev/null || true
    wait "$DB_PID" 2>/dev/null || true
    DB_PID=""
  fi
}

# ---------------------------------------------------------------- freeze
declare -a FROZEN=() FREEZE_STATUS=() FREEZE_INDEX=()
declare -A FREEZES_IN_FLIGHT=() # mount -> PID of its fsfreeze --freeze not known to have ended
FREEZE_STATUS_FD=""

# Flushes what the freeze would otherwise flush while holding everything (writers keep running).
presync_mounts() {
  local m
  for m in "${FREEZE_MOUNTS[@]}"; do sync -f "$m" || true; done
  sync_unfrozen_mounts
}

# Mounts that are not frozen (synced only, or on a snapshotted volume but not frozen) get a sync instead.
sync_unfrozen_mounts() {
  local m
  for m in "${SYNC_ONLY_MOUNTS[@]}" "${UNFROZEN_MOUNTS[@]}"; do sync -f "$m" || true; done
}

# FREEZE_MOUNTS is ordered deepest first; mounts of the same depth cannot contain each other, so each
# depth is frozen in parallel (the freezes' flushes overlap), children before parents. Each filesystem is
# frozen once per run: one someone else froze fails with EBUSY, and the run stops (exit 203) leaving that
# freeze alone.
freeze_mounts() {
  stamp T_FROZEN
  for_each_depth freeze_wave "${FREEZE_MOUNTS[@]}"
  stamp T_ALL_FROZEN
}

# Calls "$1 mounts..." once per run of equal-depth mounts, in order.
for_each_depth() {
  local action=$1 m depth previous=""
  shift
  local -a wave=()
  for m in "$@"; do
    depth=${m//[!\/]/}
    if [[ ${#wave[@]} -gt 0 && ${#depth} != "$previous" ]]; then
      "$action" "${wave[@]}"
      wave=()
    fi
    wave+=("$m")
    previous=${#depth}
  done
  if ((${#wave[@]} > 0)); then "$action" "${wave[@]}"; fi
  return 0
}

# fsfreeze --freeze can block in the kernel (it waits for every writer inside the filesystem, e.g. one in
# splice()), cannot be killed there, and completes whenever that writer moves on. So each freeze is bounded:
# at the run's deadline less a second (what the call needs), a pre-script's at its own deadline, the run
# stops; a freeze still in flight stays in FREEZES_IN_FLIGHT, and thawing waits for it to end before it can
# be verified.
freeze_wave() {
  local -a mounts=("$@")
  local i line now remaining seconds deadline_ms=$((T_QUIESCED + MAX_FREEZE_SECONDS * 1000 - 1000)) failed="" busy=""
  [[ $COMMAND == pre-script ]] && ((PRE_SCRIPT_DEADLINE_MS < deadline_ms)) && deadline_ms=$PRE_SCRIPT_DEADLINE_MS
  FROZEN+=("$@") # before starting: a signal now must thaw them (thawing an unfrozen mount is harmless)
  for i in "${!mounts[@]}"; do
    helpers_send "freeze ${mounts[$i]}" # the helpers thaw what they were told of, before it can be frozen
    freeze_start "${mounts[$i]}" "$i"
  done
  while ((${#FREEZES_IN_FLIGHT[@]} > 0)); do
    stamp now
    remaining=$((deadline_ms - now))
    ((remaining > 0)) || break
    printf -v seconds '%d.%03d' $((remaining / 1000)) $((remaining % 1000))
    IFS= read -r -t "$seconds" line <&"$FREEZE_STATUS_FD" || {
      stamp now
      break
    }
    freeze_ended "$line"
  done
  for i in "${!mounts[@]}"; do
    if [[ -n ${FREEZES_IN_FLIGHT[${mounts[$i]}]:-} ]]; then
      failed+=" ${mounts[$i]}: still in flight after $((now - T_QUIESCED)) ms (the kernel waits for a writer inside the filesystem)"
    elif [[ ${FREEZE_STATUS[$i]} != 0 ]]; then
      if grep -q busy "$STATE_DIR/fsfreeze.$i.err"; then busy+=" ${mounts[$i]}"; else failed+=" ${mounts[$i]}: $(<"$STATE_DIR/fsfreeze.$i.err")"; fi
    fi
  done
  if [[ -n $busy ]]; then
    local -a keep=()
    for i in "${FROZEN[@]}"; do [[ " $busy " == *" $i "* ]] || keep+=("$i"); done
    FROZEN=("${keep[@]}")
    for i in $busy; do helpers_send "foreign $i"; done
    fail "$E_DISCOVER" "${busy# } already frozen by someone else; refusing to snapshot (and not thawing it)"
  fi
  [[ -z $failed ]] || fail "$E_FREEZE" "fsfreeze --freeze failed:$failed"
}

# Starts "fsfreeze --freeze $1" in the background; its end is reported as "<index> <status>" on
# FREEZE_STATUS_FD. It holds none of the agent's pipes or this script's private ones: a freeze blocked in
# the kernel must not keep the step open or hide this script's end from the helpers.
freeze_start() {
  local mount=$1 i=$2
  if [[ -z $FREEZE_STATUS_FD ]]; then
    mkfifo -m 0600 "$STATE_DIR/freeze.status" || fail "$E_TOOL" "cannot create $STATE_DIR/freeze.status"
    exec {FREEZE_STATUS_FD}<>"$STATE_DIR/freeze.status"
  fi
  FREEZE_STATUS[i]=""
  (
    close_private_fds
    rc=0
    fsfreeze --freeze "$mount" 2>"$STATE_DIR/fsfreeze.$i.err" || rc=$?
    printf '%d %d\n' "$i" "$rc" >&"$FREEZE_STATUS_FD"
  ) </dev/null >/dev/null 2>&1 &
  FREEZES_IN_FLIGHT[$mount]=$!
  FREEZE_INDEX[i]=$mount
}

freeze_ended() {
  local i=${1% *} rc=${1#* }
  FREEZE_STATUS[i]=$rc
  unset "FREEZES_IN_FLIGHT[${FREEZE_INDEX[$i]}]"
}

# Thaws in reverse order of freezing, parents first, each depth in parallel.
thaw_mounts() {
  local i THAW_OK=0
  local -a reversed=()
  for ((i = ${#FROZEN[@]} - 1; i >= 0; i--)); do reversed+=("${FROZEN[$i]}"); done
  for_each_depth thaw_wave "${reversed[@]}"
  stamp T_THAWED
  return "$THAW_OK"
}

thaw_wave() {
  local -a mounts=("$@") pids=() keep=()
  local i err="${STATE_DIR:-/tmp}/fsunfreeze"
  for i in "${!mounts[@]}"; do
    fsfreeze --unfreeze "${mounts[$i]}" 2>"$err.$i" &
    pids+=($!)
  done
  for i in "${!mounts[@]}"; do
    if wait "${pids[$i]}" || grep -q "Invalid argument" "$err.$i"; then
      # Thawed, or not frozen: verified unless a freeze of it is still in flight (it would complete later).
      [[ -n ${FREEZES_IN_FLIGHT[${mounts[$i]}]:-} ]] || continue
      thaw_after_freeze_ends "${mounts[$i]}" && continue
      log "ERROR: the freeze of ${mounts[$i]} is still in flight in the kernel; the watchdog thaws it when it ends"
    else
      log "ERROR: fsfreeze --unfreeze ${mounts[$i]}: $(<"$err.$i")"
    fi
    keep+=("${mounts[$i]}")
    THAW_OK=1
  done
  # What is left frozen stays in FROZEN (for the trap and the report).
  local m
  local -a still=()
  for m in "${FROZEN[@]}"; do
    if [[ " ${mounts[*]} " != *" $m "* || " ${keep[*]} " == *" $m "* ]]; then still+=("$m"); fi
  done
  FROZEN=("${still[@]}")
}

# Waits, until the run's deadline, for a freeze of $1 still in flight to end, then thaws what it froze.
thaw_after_freeze_ends() {
  local mount=$1 line now remaining seconds deadline_ms=$((T_QUIESCED + MAX_FREEZE_SECONDS * 1000))
  while [[ -n ${FREEZES_IN_FLIGHT[$mount]:-} ]]; do
    stamp now
    remaining=$((deadline_ms - now))
    ((remaining > 0)) || return 1
    printf -v seconds '%d.%03d' $((remaining / 1000)) $((remaining % 1000))
    IFS= read -r -t "$seconds" line <&"$FREEZE_STATUS_FD" || return 1
    freeze_ended "$line"
  done
  fsfreeze --unfreeze "$mount" 2>/dev/null || true
}

recover_host() {
  local ok=0
  [[ $HANDED_OVER == true ]] && return 0
  if ((${#FROZEN[@]} > 0)); then thaw_mounts || ok=1; fi
  db_unlock || ok=1
  [[ $ok == 0 ]] && HOST_RECOVERED=true
  return "$ok"
}

# ---------------------------------------------------------------- watchdog
WATCHDOG_PID="" WATCHDOG_FD="" SENTINEL_PID="" SENTINEL_FD=""

# Helpers give the host back when this script cannot. Each runs in its own session (it survives the
# script being killed) and reads this script's messages on a FIFO only the script writes:
#   freeze M   M is about to be frozen (what the helper thaws, never any other filesystem)
#   foreign M  M was frozen by someone else: leave it alone
#   go         the lock is held: the deadline (SSM_maxFreezeSeconds) runs from now
#   done       the script gave the host back itself: exit
#   handover   (pre-script) the script exits; the hold is the helpers' now
# End of file without done or handover means the script died (a Run Command cancel is SIGKILL): release now.
# SIGTERM, SIGINT or SIGHUP to a helper (shutdown, an operator) also means release now. Releasing stops the
# snapshot call's client, ends the database session (the lock), and thaws each filesystem until that is
# verified (helper_thaw_verified).
# Roles: watchdog (a snapshot run's: release at the deadline), holder (a pre-script's: keeps the session's
# pipes open after the script exited and releases on the post-script's "release" on the FIFO HOLD_RELEASE
# or at the deadline, writing who released to HOLD_OUTCOME), sentinel (the holder's own watchdog: releases
# as soon as the holder is gone, and at the deadline + 3 s).
helper_main() {
  local role=$1 seconds=$2 db_pid=$3 api_pid=$4 conn_id=$5 holder_pid=$6
  shift 6
  local -a mysql_cmd=("$@") mounts=()
  local state=waiting deadline=0 line now wait rc keep_in keep_out release nap m signalled="" reason="" partial="" released=""
  # Only a flag: bash runs the handler inside a "read -t", whose own timeout would cut a longer handler
  # short (seen with bash 5.2), and the read goes on to its timeout. So every wait below is at most 0.1 s.
  # A "read -t" that times out in the middle of a line (bash reads a pipe a byte at a time) returns what it
  # read so far: kept in $partial/$released and completed by the next read, or a message would be lost ("go"
  # lost: a hold released at once as past its deadline; "handover": a release never read; "freeze M": M
  # never thawed by this helper).
  trap 'signalled=yes' TERM INT HUP
  # shellcheck disable=SC2034 # held open for the session's life, never read or written
  if [[ -n ${HOLD_DB_IN:-} ]]; then exec {keep_in}>"$HOLD_DB_IN" {keep_out}<>"$HOLD_DB_OUT"; fi
  # Open from the start: a "release" written to a FIFO nobody holds open is discarded when its writer closes it,
  # so one sent before this holder had handled "handover" was lost (the post-script then waited 15 s in vain).
  [[ $role == holder ]] && exec {release}<>"$HOLD_RELEASE"
  exec {nap}<> <(:)
  while :; do
    [[ -z $signalled ]] || {
      helper_release signal
      break
    }
    wait=0.1
    if [[ $state != waiting ]]; then
      stamp now
      ((now < deadline)) || {
        helper_release deadline
        [[ $role == watchdog && $state == armed ]] && break
        exit 0
      }
      ((deadline - now >= 100)) || printf -v wait '0.%03d' $((deadline - now))
    fi
    if [[ $state == handed-over ]]; then
      if [[ $role == holder ]]; then
        if IFS= read -r -t "$wait" line <&"$release"; then
          [[ $released$line == release ]] && {
            helper_release post-script
            exit 0
          }
          released=""
        else
          released+=$line
        fi
        # The sentinel released (a signal to it): release too (it only thaws again, verified), then go.
        [[ -f $HOLD_OUTCOME ]] && {
          helper_release sentinel
          exit 0
        }
      else
        read -r -t "$wait" -u "$nap" _ || true
        [[ -f $HOLD_OUTCOME ]] && exit 0
        process_alive "$holder_pid" || {
          helper_release holder-lost
          exit 0
        }
      fi
      continue
    fi
    rc=0
    IFS= read -r -t "$wait" line || rc=$?
    if ((rc > 128)); then # a timeout; a sentinel also checks its holder
      partial+=$line
      [[ $role == sentinel && $state == armed ]] && ! process_alive "$holder_pid" && {
        helper_release holder-lost
        exit 0
      }
      continue
    elif ((rc != 0)); then
      helper_release script-died
      exit 0
    fi
    line=$partial$line partial=""
    case $line in
      "freeze "*) mounts+=("${line#freeze }") ;;
      "foreign "*)
        for m in "${!mounts[@]}"; do [[ ${mounts[$m]} == "${line#foreign }" ]] && unset "mounts[$m]"; done
        mounts=("${mounts[@]}")
        ;;
      go)
        stamp now
        deadline=$((now + seconds * 1000)) state=armed
        ;;
      "done") exit 0 ;;
      handover)
        state=handed-over
        ;;
    esac
  done
  [[ $role == watchdog ]] || exit 0
  # A watchdog that released while the script lives stays until the script ends: a freeze announced later is
  # thawed too.
  while IFS= read -r line; do
    [[ $line == "freeze "* ]] && {
      mounts+=("${line#freeze }")
      helper_release "$reason"
    }
    [[ $line == "done" ]] && exit 0
  done
  helper_release script-died
}

# Gives the host back; $1 says why. Called again, it only thaws again (nothing else is left to end).
helper_release() {
  reason=$1
  local i verified=verified IFS=$' \t\n'
  trap '' TERM INT HUP
  echo "$(date -u +%FT%TZ) consistent-snapshot $role: releasing ($reason)" >&2
  [[ -n $api_pid ]] && kill "$api_pid" 2>/dev/null
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do fsfreeze --unfreeze "${mounts[$i]}" 2>/dev/null; done
  [[ -n $db_pid ]] && kill "$db_pid" 2>/dev/null
  if [[ -n $conn_id && ${#mysql_cmd[@]} -gt 0 ]]; then
    "${mysql_cmd[@]}" -e "KILL CONNECTION $conn_id" >/dev/null 2>&1 || true
  fi
  api_pid="" db_pid="" conn_id=""
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do helper_thaw_verified "${mounts[$i]}" 2 || verified=unverified; done
  if [[ -n ${HOLD_OUTCOME:-} ]]; then
    stamp now
    # The first helper to release writes the outcome; ln does not replace an existing one.
    printf '%s %s %s\n' "$reason" "$now" "$verified" >"$HOLD_OUTCOME.$role" &&
      {
        ln "$HOLD_OUTCOME.$role" "$HOLD_OUTCOME" 2>/dev/null
        rm -f "$HOLD_OUTCOME.$role"
      }
  fi
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    [[ $verified == verified ]] || helper_thaw_verified "${mounts[$i]}" || true
  done
  echo "$(date -u +%FT%TZ) consistent-snapshot $role: released by $reason; thawed ${mounts[*]:-nothing} ($verified); database session closed" >&2
}

# Thaws $1 until that is verified: FITHAW succeeded or found it not frozen (EINVAL) while no
# "fsfreeze --freeze $1" was in flight before or after. A freeze in flight cannot be stopped (the kernel
# waits for writers) and completes later, so it is waited for, for $2 s (empty: as long as it takes).
# Returns 1 if $1 cannot be thawed (not mounted) or the time ran out.
helper_thaw_verified() {
  local mount=$1 bound=${2:-} started now err nap
  stamp started
  exec {nap}<> <(:)
  while :; do
    if ! helper_freeze_in_flight "$mount"; then
      if err=$(fsfreeze --unfreeze "$mount" 2>&1) || [[ $err == *"Invalid argument"* ]]; then
        helper_freeze_in_flight "$mount" || {
          exec {nap}<&-
          return 0
        }
      else
        echo "consistent-snapshot $role: fsfreeze --unfreeze $mount: $err" >&2
        exec {nap}<&-
        return 1
      fi
    fi
    stamp now
    if [[ -n $bound ]] && ((now - started >= bound * 1000)); then
      exec {nap}<&-
      return 1
    fi
    read -r -t 0.02 -u "$nap" _ || true
  done
}

# Whether process $1 exists and is not a zombie (kill -0 succeeds on one, and a helper whose parent has
# exited waits to be reaped by whatever init the host has).
process_alive() {
  local stat
  [[ -n $1 ]] && read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# Whether any process on the host runs "fsfreeze --freeze $1" (or -f) now: /proc, without forking.
helper_freeze_in_flight() {
  local cmdline
  local -a argv
  for cmdline in /proc/[0-9]*/cmdline; do
    mapfile -d '' -t argv 2>/dev/null <"$cmdline" || continue
    [[ ${#argv[@]} == 3 && ${argv[0]##*/} == fsfreeze && (${argv[1]} == --freeze || ${argv[1]} == -f) && ${argv[2]} == "$1" ]] && return 0
  done
  return 1
}

# Started before the lock (so that its start-up is not paid while holding it) and armed after. It must not
# hold the agent's stdout/stderr pipes: the agent waits for their end-of-file, so a helper outliving a
# killed script would hold the step open until its timeout. It writes to $RUN_BASE/watchdog.log instead.
watchdog_start() {
  local seconds=$1 role=${2:-watchdog}
  local trigger="$STATE_DIR/$role.in" pid fd
  local -a env=()
  [[ $role == holder || $role == sentinel ]] && env=(HOLD_RELEASE="$HOLD_RUN_DIR/release" HOLD_OUTCOME="$HOLD_RUN_DIR/outcome")
  [[ $role == holder && -n $DB_PID ]] && env+=(HOLD_DB_IN="$STATE_DIR/db.in" HOLD_DB_OUT="$STATE_DIR/db.out")
  mkfifo -m 0600 "$trigger"
  (
    close_private_fds
    [[ $role == sentinel && -n ${RUN_LOCK_FD:-} ]] && eval "exec $RUN_LOCK_FD>&-"
    # shellcheck disable=SC2016 # expanded by the helper's own shell
    exec env "${env[@]}" setsid bash -c "$(declare -f helper_main helper_release helper_thaw_verified helper_freeze_in_flight process_alive stamp); helper_main \"\$@\"" \
      "consistent-snapshot-$role" "$role" "$seconds" "$DB_PID" "$API_PID" "$DB_CONNECTION_ID" "$WATCHDOG_PID" "${MYSQL_CMD[@]}" \
      <"$trigger" >>"$RUN_BASE/watchdog.log" 2>&1
  ) &
  pid=$!
  exec {fd}>"$trigger"
  if [[ $role == sentinel ]]; then SENTINEL_PID=$pid SENTINEL_FD=$fd; else WATCHDOG_PID=$pid WATCHDOG_FD=$fd; fi
}

# One line to every helper. A helper that is gone cannot be told (SIGPIPE is ignored): carry on.
helpers_send() {
  local fd
  for fd in "$WATCHDOG_FD" "$SENTINEL_FD"; do
    [[ -z $fd ]] || { printf '%s\n' "$1" >&"$fd"; } 2>/dev/null || true
  done
}

watchdog_arm() {
  stamp T_QUIESCED
  helpers_send go
}

# After the script gave the host back itself: "done", then wait (briefly) for the helpers to exit. A run
# that could not verify its thaw closes without "done": the helpers release (and keep thawing) on their own.
watchdog_stop() {
  local pid i
  [[ $HOST_RECOVERED == true ]] && helpers_send "done"
  if [[ -n $WATCHDOG_FD ]]; then
    exec {WATCHDOG_FD}>&-
    WATCHDOG_FD=""
  fi
  if [[ -n $SENTINEL_FD ]]; then
    exec {SENTINEL_FD}>&-
    SENTINEL_FD=""
  fi
  for pid in "$WATCHDOG_PID" "$SENTINEL_PID"; do
    # Helpers releasing on their own may have to wait as long as a freeze in flight: they are left to it.
    [[ -n $pid && $HOST_RECOVERED == true ]] || continue
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.02
    done
    kill -0 "$pid" 2>/dev/null || wait "$pid" 2>/dev/null || true
  done
  WATCHDOG_PID="" SENTINEL_PID=""
}

# ---------------------------------------------------------------- the snapshot call
API_PID="" API_FIFO="" API_FD="" API_OUT_FD="" API_ERR="" API_READING=false TAGS_STATIC="" BODY_STATIC=""
API_CLIENT="" CURL_VERSION="" CURL_PROBLEM="" EC2_URL="" EC2_DOMAIN=amazonaws.com EC2_HTTP_STATUS="" EC2_ERROR_CODE="" EC2_ERROR_MESSAGE=""
declare -a STATIC_TAGS=() CURL_EC2_ARGS=() API_LINES=() SNAPSHOTS=()

# The call is made ready before the lock: its client is started and left blocked reading its input from a
# FIFO; writing the input (the tags, which carry the binlog position read under the lock) sends the request,
# and its output is read line by line, so the host is thawed as soon as the answer is complete. Clients:
# - curl signing the request itself (SigV4, curl >= 7.75): inside the freeze only the request's round trip.
#   Its keys reach it through a pipe (-K), never a command line or a file; a DryRun call before the lock
#   proves the endpoint, the signature and the permission.
# - the AWS CLI, where curl cannot: ~40 ms (v1) to ~150 ms (v2) of request building inside the freeze.
readonly EC2_API_VERSION=2016-11-15 CURL_MIN_VERSION=7.75.0

choose_api_client() {
  API_CLIENT=aws-cli
  [[ $API_CLIENT_PARAM == aws-cli ]] && return 0
  curl_prepare
  curl_signing_problem
  [[ -n $CURL_PROBLEM ]] || curl_preflight
  if [[ -z $CURL_PROBLEM ]]; then
    API_CLIENT=curl
    log "snapshot call: curl $CURL_VERSION signs it (SigV4, checked by a DryRun call to $EC2_URL)"
  elif [[ $API_CLIENT_PARAM == curl ]]; then
    fail "$E_TOOL" "SSM_apiClient=curl: $CURL_PROBLEM"
  else
    log "NOTE: snapshot call through the AWS CLI: $CURL_PROBLEM"
  fi
}

curl_prepare() {
  CURL_VERSION=$(curl --version 2>/dev/null | sed -n '1s/^curl \([0-9][0-9.]*\).*/\1/p') || CURL_VERSION=""
  EC2_URL=${AWS_ENDPOINT_URL_EC2:-${AWS_ENDPOINT_URL:-https://ec2.$REGION.$EC2_DOMAIN}}
  [[ ${AWS_IGNORE_CONFIGURED_ENDPOINT_URLS:-} == true ]] && EC2_URL=https://ec2.$REGION.$EC2_DOMAIN
  # No header may be removed with -H "Name:": curl 7.88 signs it anyway, and EC2 refuses a signed header it was not sent.
  CURL_EC2_ARGS=(-sS --aws-sigv4 "aws:amz:$REGION:ec2" -H "Content-Type: application/x-www-form-urlencoded; charset=utf-8"
    -w '\ncurl-http-status:%{http_code}\n')
  [[ -n ${AWS_CA_BUNDLE:-} ]] && CURL_EC2_ARGS+=(--cacert "$AWS_CA_BUNDLE")
  return 0
}

# Sets CURL_PROBLEM to why curl cannot send the call as the AWS CLI would, or to nothing.
curl_signing_problem() {
  local config=${AWS_CONFIG_FILE:-$HOME/.aws/config}
  CURL_PROBLEM=""
  if [[ -z $CURL_VERSION ]] || ! version_at_least "$CURL_VERSION" "$CURL_MIN_VERSION"; then
    CURL_PROBLEM="curl ${CURL_VERSION:-(version unknown)} cannot sign requests (--aws-sigv4 needs curl $CURL_MIN_VERSION or later)"
  elif [[ -z ${AWS_ACCESS_KEY_ID:-} || -z ${AWS_SECRET_ACCESS_KEY:-} ]]; then
    CURL_PROBLEM="no access key from IMDS or the environment (the AWS CLI finds profiles and other credential sources itself)"
  elif [[ ${AWS_USE_FIPS_ENDPOINT:-} == true || ${AWS_USE_DUALSTACK_ENDPOINT:-} == true ]]; then
    CURL_PROBLEM="FIPS or dual-stack endpoints are chosen by the AWS CLI"
  elif [[ -r $config ]] && grep -qE '^[[:space:]]*(endpoint_url|ca_bundle|use_fips_endpoint|use_dualstack_endpoint)[[:space:]]*=' "$config"; then
    CURL_PROBLEM="$config sets an endpoint or CA bundle that only the AWS CLI reads"
  fi
  return 0
}

version_at_least() {
  local -a have want
  local i
  IFS=. read -ra have <<<"$1"
  IFS=. read -ra want <<<"$2"
  for i in 0 1 2; do
    ((10#${have[i]:-0} == 10#${want[i]:-0})) || return $((10#${have[i]:-0} < 10#${want[i]:-0}))
  done
}

# The keys as a curl config (read from a pipe).
curl_credentials() {
  local key=${AWS_ACCESS_KEY_ID//[\\\"]/} secret=${AWS_SECRET_ACCESS_KEY//[\\\"]/} token=${AWS_SESSION_TOKEN:-}
  printf 'user = "%s:%s"\n' "$key" "$secret"
  [[ -z $token ]] || printf 'header = "X-Amz-Security-Token: %s"\n' "${token//[\\\"]/}"
}

# The call itself (its tags but the binlog position) with DryRun: EC2 answers DryRunOperation when the signed
# caller may make it. Sets CURL_PROBLEM to what went wrong; fails the run at once if the role may not snapshot
# this instance.
curl_preflight() {
  local out rc=0
  out=$(curl "${CURL_EC2_ARGS[@]}" -K <(curl_credentials) --connect-timeout 5 --max-time 15 \
    --data-binary "$BODY_STATIC&DryRun=true" \
    "$EC2_URL" 2>&1) || rc=$?
  if ((rc != 0)); then
    CURL_PROBLEM="the DryRun call failed (curl exit $rc: ${out//$'\n'/ })"
    return 0
  fi
  local -a lines
  mapfile -t lines <<<"$out"
  ec2_answer "${lines[@]}"
  case $EC2_ERROR_CODE in
    DryRunOperation) ;;
    UnauthorizedOperation) fail "$E_API" "CreateSnapshots is not allowed ($EC2_ERROR_CODE: $EC2_ERROR_MESSAGE); nothing was locked or frozen" ;;
    *) CURL_PROBLEM="the DryRun call was answered HTTP $EC2_HTTP_STATUS ${EC2_ERROR_CODE:-without an error code}${EC2_ERROR_MESSAGE:+: $EC2_ERROR_MESSAGE}" ;;
  esac
}

# Reads an EC2 Query API answer (curl's output lines, the last one curl-http-status:NNN) into EC2_HTTP_STATUS,
# EC2_ERROR_CODE, EC2_ERROR_MESSAGE and, for CreateSnapshots, SNAPSHOTS (snapshotId:volumeId; each item of
# the snapshot set has one of each, and tag keys and values cannot hold a '<').
ec2_answer() {
  local xml="" line i
  local -a ids=() volumes=()
  EC2_HTTP_STATUS="" EC2_ERROR_CODE="" EC2_ERROR_MESSAGE=""
  for line in "$@"; do
    if [[ $line =~ ^curl-http-status:([0-9]+)$ ]]; then EC2_HTTP_STATUS=${BASH_REMATCH[1]}; else xml+=$line; fi
  done
  [[ $xml =~ \<Code\>([^<]*)\</Code\> ]] && EC2_ERROR_CODE=${BASH_REMATCH[1]}
  [[ $xml =~ \<Message\>([^<]*)\</Message\> ]] && xml_unescape EC2_ERROR_MESSAGE "${BASH_REMATCH[1]}"
  [[ $EC2_HTTP_STATUS == 200 ]] || return 0
  while [[ $xml =~ \<(snapshotId|volumeId)\>([^<]*)\</ ]]; do
    if [[ ${BASH_REMATCH[1]} == snapshotId ]]; then ids+=("${BASH_REMATCH[2]}"); else volumes+=("${BASH_REMATCH[2]}"); fi
    xml=${xml#*"${BASH_REMATCH[0]}"}
  done
  ((${#ids[@]} == ${#volumes[@]})) || return 0
  for i in "${!ids[@]}"; do SNAPSHOTS+=("${ids[i]}:${volumes[i]}"); done
}

xml_unescape() {
  local s=$2 amp='&' # quoted below: in a replacement, bash 5.2 reads a bare & as the matched text (patsub_replacement)
  s=${s//&lt;/<}
  s=${s//&gt;/>}
  s=${s//&quot;/\"}
  s=${s//&apos;/\'}
  s=${s//&amp;/"$amp"}
  printf -v "$1" '%s' "$s"
}

api_prepare() {
  API_FIFO="$STATE_DIR/api.in"
  API_ERR="$STATE_DIR/api.err"
  local out_fifo="$STATE_DIR/api.out" api_timeout=$((MAX_FREEZE_SECONDS - 1)) now rc=0
  choose_api_client
  mkfifo -m 0600 "$API_FIFO" "$out_fifo"
  (
    close_private_fds
    if [[ $API_CLIENT == curl ]]; then api_exec_curl "$api_timeout"; else api_exec_cli "$api_timeout"; fi
  ) >"$out_fifo" 2>"$API_ERR" &
  API_PID=$!
  exec {API_OUT_FD}<"$out_fifo"
  # Opened only after the fork: the client having its input open is how its readiness is seen, so no copy of
  # this end may reach the client's process before its exec. Read-write, so opening does not wait for the
  # client; the client's read ends when this end is closed.
  exec {API_FD}<>"$API_FIFO"
  stamp now
  api_wait_reading $((now + 20000)) || rc=$?
  ((rc != 2)) || fail "$E_TOOL" "the $API_CLIENT client exited before the snapshot call: $(tr '\n' ' ' <"$API_ERR")"
  ((rc == 0)) || log "NOTE: the $API_CLIENT client was not ready after 20 s; continuing (its start-up will count inside the freeze)"
  return 0
}

# curl reads the whole body (-d @file) before it connects, signs and sends. $1: its timeout (s).
api_exec_curl() {
  local api_timeout=$1
  exec curl "${CURL_EC2_ARGS[@]}" -K <(curl_credentials) --connect-timeout "$api_timeout" --max-time "$api_timeout" \
    --data-binary "@$API_FIFO" "$EC2_URL"
}

api_exec_cli() {
  local api_timeout=$1
  export PYTHONUNBUFFERED=1 AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=1 AWS_PAGER=""
  exec aws ec2 create-snapshots \
    --instance-specification "InstanceId=$INSTANCE_ID,ExcludeBootVolume=$EXCLUDE_BOOT_VOLUME" \
    --description "$SNAPSHOT_DESCRIPTION" \
    --tag-specifications "file://$API_FIFO" \
    --query 'Snapshots[].[SnapshotId,VolumeId]' --output text \
    "${EC2_ENDPOINT_ARGS[@]}" --region "$REGION" \
    --cli-connect-timeout "$api_timeout" --cli-read-timeout "$api_timeout"
}

# Waits, at most until $1 (ms), for the client to open its input FIFO, i.e. for its start-up to end: sets
# API_READING=true; returns 1 at the deadline, 2 when the client exited.
api_wait_reading() {
  local deadline=$1 now
  while [[ -z $(find "/proc/$API_PID/fd" -lname "$API_FIFO" -print -quit 2>/dev/null) ]]; do
    kill -0 "$API_PID" 2>/dev/null || return 2
    stamp now
    ((now < deadline)) || return 1
    sleep 0.02
  done
  API_READING=true
}

build_static_tags() {
  local method="fsfreeze" name
  [[ $DATABASE == mysql ]] && method="$LOCK_TAG+fsfreeze"
  [[ $DATABASE == mysql ]] && ((${#FREEZE_MOUNTS[@]} == 0)) && method="$LOCK_TAG+sync"
  is_crash_recovery && method=crash-recovery
  name="consistent-snapshot $INSTANCE_ID $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  STATIC_TAGS=(
    "Name=$name" "$CREATED_BY_TAG_KEY=$CREATED_BY_TAG_VALUE" "InstanceId=$INSTANCE_ID"
    "ConsistencyMethod=$method" "Database=$DATABASE" "RunId=$RUN_ID"
    "AvailabilityZone=$AVAILABILITY_ZONE" "FrozenMounts=${FREEZE_MOUNTS[*]:-none}"
    "UnfrozenMounts=${UNFROZEN_MOUNTS[*]:-none}" "VolumeCount=${#SNAPSHOT_VOLUME_IDS[@]}"
  )
  [[ $DATABASE == mysql ]] && STATIC_TAGS+=("DatabaseVersion=$DB_FLAVOR $DB_VERSION")
  [[ -n $DURABILITY ]] && STATIC_TAGS+=("Durability=$DURABILITY")
  tags_json TAGS_STATIC "${STATIC_TAGS[@]}"
  local description=""
  [[ -z $SNAPSHOT_DESCRIPTION ]] || {
    url_encode description "$SNAPSHOT_DESCRIPTION"
    description="&Description=$description"
  }
  tags_query BODY_STATIC 1 "${STATIC_TAGS[@]}"
  BODY_STATIC="Action=CreateSnapshots&Version=$EC2_API_VERSION&InstanceSpecification.InstanceId=$INSTANCE_ID&InstanceSpecification.ExcludeBootVolume=$EXCLUDE_BOOT_VOLUME$description&TagSpecification.1.ResourceType=snapshot$BODY_STATIC"
}

# Sets variable $1 to the tag objects for KEY=VALUE arguments (values cut to EC2's 256 characters).
tags_json() {
  local var=$1 out="" tag key value
  shift
  for tag in "$@"; do
    json_escape key "${tag%%=*}"
    value=${tag#*=}
    json_escape value "${value:0:256}"
    out+="${out:+,}{\"Key\":\"$key\",\"Value\":\"$value\"}"
  done
  printf -v "$var" '%s' "$out"
}
json_escape() {
  local s=$2
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  printf -v "$1" '%s' "$s"
}

# Sets variable $1 to "&TagSpecification.1.Tag.N.Key=...&...Value=..." for KEY=VALUE arguments, N from $2.
tags_query() {
  local var=$1 n=$2 out="" tag key value
  shift 2
  for tag in "$@"; do
    url_encode key "${tag%%=*}"
    value=${tag#*=}
    url_encode value "${value:0:256}"
    out+="&TagSpecification.1.Tag.$n.Key=$key&TagSpecification.1.Tag.$n.Value=$value"
    n=$((n + 1))
  done
  printf -v "$var" '%s' "$out"
}

# Percent-encodes every byte but A-Z a-z 0-9 - _ . ~ (SigV4's canonical form), without forking.
url_encode() {
  local LC_ALL=C
  local s=$2 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    if [[ $c == [A-Za-z0-9._~-] ]]; then out+=$c; else
      printf -v c '%%%02X' "'$c"
      out+=$c
    fi
  done
  printf -v "$1" '%s' "$out"
}

# Sends the request and reads the answer, at most until the freeze deadline. Returns 0 when the answer is
# complete (curl: its status line; the CLI: every expected snapshot id), 2 on timeout, 3 when the output
# ended first (the client's status tells why).
api_call() {
  local deadline_ms=$((T_QUIESCED + MAX_FREEZE_SECONDS * 1000 - 1000)) expected=${#SNAPSHOT_VOLUME_IDS[@]}
  local -a dynamic=()
  local line now remaining seconds count=0 suffix="" input late
  commits_go_on && suffix=BeforeCall
  [[ $DATABASE == mysql ]] &&
    dynamic=("BinlogFile$suffix=$BINLOG_FILE" "BinlogPosition$suffix=$BINLOG_POSITION")
  [[ $DATABASE == mysql ]] && gtid_tags "GtidBinlogPos$suffix" "$GTID_BINLOG_POS" dynamic
  replica_tags dynamic
  if [[ $API_CLIENT == curl ]]; then
    tags_query input $((${#STATIC_TAGS[@]} + 1)) "${dynamic[@]}"
    input=$BODY_STATIC$input
  else
    tags_json input "${dynamic[@]}"
    printf -v input '[{"ResourceType":"snapshot","Tags":[%s%s]}]\n' "$TAGS_STATIC" "${input:+,$input}"
  fi
  stamp T_API_START
  printf '%s' "$input" >&"$API_FD"
  # Closed with nobody else holding the FIFO, unread input is gone: a client not ready yet must open it first.
  if [[ $API_READING != true ]]; then
    api_wait_reading "$deadline_ms" || {
      late=$?
      stamp T_API_END
      return $((late == 1 ? 2 : 3))
    }
  fi
  exec {API_FD}>&-
  API_FD=""
  while true; do
    stamp now
    remaining=$((deadline_ms - now))
    if ((remaining <= 0)); then
      stamp T_API_END
      return 2
    fi
    printf -v seconds '%d.%03d' $((remaining / 1000)) $((remaining % 1000))
    if IFS= read -r -t "$seconds" line <&"$API_OUT_FD"; then
      API_LINES+=("$line")
      if [[ $API_CLIENT == curl ]]; then
        [[ $line == curl-http-status:* ]] && break
      elif [[ $line == snap-* ]]; then
        count=$((count + 1))
        ((count < expected)) || break
      fi
    elif (($? > 128)); then
      stamp T_API_END
      return 2
    else
      stamp T_API_END
      return 3 # end of output: the client exited
    fi
  done
  stamp T_API_END
}

# After the host is recovered: let the client finish (or stop it after a timeout) and take its status.
api_finish() {
  local rc=0 line
  [[ -n $API_PID ]] || return 0
  if [[ ${1:-} == timeout ]]; then kill "$API_PID" 2>/dev/null || true; fi
  while IFS= read -r line <&"$API_OUT_FD"; do API_LINES+=("$line"); done
  wait "$API_PID" || rc=$?
  API_PID=""
  return "$rc"
}

# The call's outcome from the client's status and output: SNAPSHOTS, or the run fails with what EC2 or the
# client said.
api_outcome() {
  local rc=$1
  snapshots_from_output
  if [[ $API_CLIENT == curl ]]; then
    ((rc != 28)) || fail "$E_API_TIMEOUT" "CreateSnapshots did not answer within SSM_maxFreezeSeconds=$MAX_FREEZE_SECONDS (curl exit 28); the freeze was released"
    ((rc == 0)) || fail "$E_API" "CreateSnapshots failed (curl exit $rc: $(tr '\n' ' ' <"$API_ERR"))"
    ((${#SNAPSHOTS[@]} > 0)) ||
      fail "$E_API" "CreateSnapshots failed (HTTP ${EC2_HTTP_STATUS:-none} ${EC2_ERROR_CODE:-without snapshot ids}${EC2_ERROR_MESSAGE:+: $EC2_ERROR_MESSAGE})"
    return 0
  fi
  ((rc == 0 && ${#SNAPSHOTS[@]} > 0)) ||
    fail "$E_API" "CreateSnapshots failed (aws exit $rc): $(tr '\n' ' ' <"$API_ERR") ${API_LINES[*]}"
}

# SNAPSHOTS from what the client printed (also a partial answer, after a timeout or a signal).
snapshots_from_output() {
  local line snap vol
  if [[ $API_CLIENT == curl ]]; then
    ec2_answer "${API_LINES[@]}"
    return 0
  fi
  for line in "${API_LINES[@]}"; do
    read -r snap vol <<<"$line"
    [[ $snap == snap-* ]] && SNAPSHOTS+=("$snap:$vol")
  done
  return 0
}

# The run was stopped after CreateSnapshots was sent: the snapshots may exist although no answer was read.
# Lists the ids that arrived, else asks EC2 (bounded) for this run's tag, else says what to search for.
account_for_sent_call() {
  ((${#SNAPSHOTS[@]} > 0)) || snapshots_from_output
  if ((${#SNAPSHOTS[@]} == 0)); then
    local out id vol
    if out=$(AWS_MAX_ATTEMPTS=1 AWS_PAGER="" timeout 15 aws ec2 describe-snapshots --owner-ids self --output text \
      --filters "Name=tag:RunId,Values=$RUN_ID" --query 'Snapshots[].[SnapshotId,VolumeId]' \
      "${EC2_ENDPOINT_ARGS[@]}" --region "$REGION" --cli-connect-timeout 5 --cli-read-timeout 10 2>&1); then
      while read -r id vol; do [[ $id == snap-* ]] && SNAPSHOTS+=("$id:$vol"); done <<<"$out"
    else
      log "NOTE: could not look for this run's snapshots: ${out//$'\n'/ }"
    fi
  fi
  if ((${#SNAPSHOTS[@]} > 0)); then
    SENT_CALL_NOTE="the call had been sent: created ${SNAPSHOTS[*]%%:*} (tag RunId=$RUN_ID)"
  else
    SENT_CALL_NOTE="the call had been sent: snapshots may still appear with tag RunId=$RUN_ID"
  fi
}

stop_helpers() {
  [[ $HANDED_OVER == true ]] || watchdog_stop
  if [[ -n $API_PID ]]; then
    kill "$API_PID" 2>/dev/null || true
    wait "$API_PID" 2>/dev/null || true
    API_PID=""
  fi
  if [[ -n $API_FD ]]; then
    exec {API_FD}>&-
    API_FD=""
  fi
  if [[ -n $API_OUT_FD ]]; then
    exec {API_OUT_FD}<&-
    API_OUT_FD=""
  fi
  [[ $HANDED_OVER == true ]] || db_close_session
  # A pre-script that did not hand over leaves no hold behind.
  [[ $HOLD_CREATED == true && $HANDED_OVER == false ]] && hold_remove
  [[ -n $STATE_DIR && -d $STATE_DIR ]] && rm -rf -- "$STATE_DIR"
  return 0
}

on_signal() {
  [[ $EXITING == true ]] && return 0
  fail "$E_SIGNAL" "interrupted by SIG$1; host recovered"
}
on_error() {
  [[ $BASHPID == "$$" ]] || exit "$2" # a failing command substitution: the caller handles it
  [[ $EXITING == true ]] && return 0
  fail "$E_RECOVER" "unexpected error at line $1 (command exited $2)"
}

# Last resort for an exit that did not go through finish (set -e in an unexpected place).
on_exit() {
  [[ $EXITING == true ]] && return 0
  EXITING=true
  recover_host || true
  stop_helpers
  report_and_exit "${1:-$E_RECOVER}" "exited unexpectedly (status $1); host recovered"
}

# ---------------------------------------------------------------- retention (after the host is recovered)
declare -a PRUNED=() PRUNE_ERRORS=()

# A run is the unit: its snapshots share a RunId tag. Runs of this instance made by this tool are kept
# newest first up to SSM_retainCount, and none older than SSM_retainDays; the rest are deleted. A delete
# that fails (e.g. the snapshot backs an AMI) is reported and does not fail the backup.
prune_snapshots() {
  local out id
  # shellcheck disable=SC2016 # JMESPath literals, not shell
  if ! out=$(aws_ec2 describe-snapshots --owner-ids self --output text \
    --filters "Name=tag:$CREATED_BY_TAG_KEY,Values=$CREATED_BY_TAG_VALUE" "Name=tag:InstanceId,Values=$INSTANCE_ID" \
    --query 'Snapshots[].[StartTime, SnapshotId, Tags[?Key==`RunId`]|[0].Value]' 2>&1); then
    PRUNE_ERRORS+=("describe-snapshots: ${out//$'\n'/ }")
    log "NOTE: retention skipped: describe-snapshots failed: $out"
    return 0
  fi
  for id in $(snapshots_to_prune "$(date +%s)" <<<"$out"); do delete_snapshot "$id"; done
  log "retention (count ${RETAIN_COUNT}, days ${RETAIN_DAYS}): deleted ${PRUNED[*]:-nothing}${PRUNE_ERRORS[*]:+; errors: ${PRUNE_ERRORS[*]}}"
}

# Which snapshots retention deletes: reads "StartTime SnapshotId RunId" lines (describe-snapshots' text output),
# prints the ids to delete, one per line. Snapshots are grouped into runs by RunId (one without a RunId is a run
# of its own), runs ordered newest first by their newest snapshot; this run (RUN_ID, and every snapshot in
# SNAPSHOTS) is always kept and counts as the first. A run is deleted whole when RETAIN_COUNT runs are kept
# already, or when its newest snapshot started more than RETAIN_DAYS before $1 (the time now, epoch seconds).
snapshots_to_prune() {
  local now=$1 cutoff_epoch=0 start id run own=" ${SNAPSHOTS[*]%%:*} "
  ((RETAIN_DAYS > 0)) && cutoff_epoch=$((now - RETAIN_DAYS * 86400))
  local -A run_start=() run_ids=()
  while read -r start id run; do
    [[ $id == snap-* ]] || continue
    [[ -n $run && $run != None ]] || run="single:$id"
    [[ $own == *" $id "* ]] && run=$RUN_ID
    [[ -z ${run_start[$run]:-} || $start > ${run_start[$run]} ]] && run_start[$run]=$start
    run_ids[$run]+=" $id"
  done
  local kept=1 r epoch
  while read -r start run; do
    [[ -n $run && $run != "$RUN_ID" ]] || continue
    epoch=$(date -d "$start" +%s 2>/dev/null || echo 0)
    if { ((RETAIN_COUNT > 0)) && ((kept >= RETAIN_COUNT)); } || { ((RETAIN_DAYS > 0)) && ((epoch < cutoff_epoch)); }; then
      for id in ${run_ids[$run]}; do printf '%s\n' "$id"; done
    else
      kept=$((kept + 1))
    fi
  done < <(for r in "${!run_start[@]}"; do printf '%s %s\n' "${run_start[$r]}" "$r"; done | sort -r)
}

delete_snapshot() {
  local out
  [[ " ${SNAPSHOTS[*]%%:*} " != *" $1 "* ]] || return 0 # never this run's
  if out=$(aws_ec2 delete-snapshot --snapshot-id "$1" 2>&1); then
    PRUNED+=("$1")
  else
    PRUNE_ERRORS+=("$1: ${out//$'\n'/ }")
  fi
}

# ---------------------------------------------------------------- DLM hold (pre-script -> post-script)
HOLD_DIR="" HOLD_RUN_DIR="" HOLD_CREATED=false HANDED_OVER=false HOLD_RELEASED_BY=""

# Who holds what, and who releases it:
#
#   pre-script: lock, freeze ──handover──> holder (keeps the lock's session, thaws at the end)
#                                          sentinel (watches the holder)
#   holder:   "release" on HOLD_RELEASE (post-script) ──> release; outcome=post-script ──> exit
#             deadline (maxFreezeSeconds from the lock)  ──> release; outcome=deadline
#             TERM/INT/HUP                              ──> release; outcome=signal
#             the pre-script died before "handover" ──> release; outcome=script-died
#   sentinel: holder gone (killed) ──> release; outcome=holder-lost; deadline + 3 s or TERM/INT/HUP ──> release
#   post-script: reads state; holder alive ──> "release", waits for outcome (exit 0 when it says post-script,
#                213 when the hold had ended before); no outcome and holder and sentinel gone ──> releases
#                itself (session killed, thaw verified), outcome holder-lost, 213.
# Releasing is idempotent (thaw what is still frozen, end the session): whichever comes first gives the host back.
# $HOLD_DIR is a symbolic link to the hold's own directory, hold.<RunId>: the helpers of a hold write only there, so
# one of an ended (or cancelled) hold can never write into the next one's.
# The pre-script leaves $HOLD_DIR: "state" (what the post-script needs, KEY=VALUE lines), the FIFO "release"
# read by the holder, and "outcome" written by the holder once it has given the host back.
refuse_active_hold() {
  [[ -f $HOLD_DIR/state ]] || return 0
  local pid
  hold_read_state
  pid=${HOLD[HolderPid]:-}
  if process_alive "$pid" && [[ ! -f $HOLD_DIR/outcome ]]; then
    fail "$E_HELD" "a pre-script hold is active (execution ${HOLD[ExecutionId]:-}, holder $pid); run the post-script first"
  fi
  hold_remove
}

# The state file, read once into HOLD (KEY=VALUE lines; the first value of a key wins).
declare -A HOLD=()
hold_read_state() {
  local key value
  HOLD=()
  while IFS='=' read -r key value; do
    [[ -n $key && -z ${HOLD[$key]+set} ]] && HOLD[$key]=$value
  done <"$HOLD_DIR/state"
  return 0
}

# Removes the hold: the link and the directory it points to (or a directory left by an older version).
hold_remove() {
  local target
  target=$(readlink -- "$HOLD_DIR" 2>/dev/null) || target=""
  rm -rf -- "$HOLD_DIR"
  if [[ $target == hold.* ]]; then rm -rf -- "${RUN_BASE:?}/$target"; fi
  return 0
}

hold_prepare() {
  hold_remove
  rm -rf -- "$RUN_BASE"/hold.* # older holds' directories; their helpers, if any are left, can no longer write there
  HOLD_RUN_DIR=$RUN_BASE/hold.$RUN_ID
  { mkdir -m 0700 "$HOLD_RUN_DIR" && mkfifo -m 0600 "$HOLD_RUN_DIR/release" && ln -s "hold.$RUN_ID" "$HOLD_DIR"; } ||
    fail "$E_TOOL" "cannot create $HOLD_RUN_DIR"
  HOLD_CREATED=true
}

hold_write_state() {
  {
    printf '%s\n' "ExecutionId=$EXECUTION_ID" "RunId=$RUN_ID" "HolderPid=$WATCHDOG_PID" "SentinelPid=$SENTINEL_PID" \
      "ConnectionId=$DB_CONNECTION_ID" "Database=$DATABASE" "LockMethod=$LOCK_METHOD" "LockTag=$LOCK_TAG" "MaxFreezeSeconds=$MAX_FREEZE_SECONDS" \
      "FirstFlushAtMs=$T_FIRST_FLUSH" "LockRequestedAtMs=$T_LOCK_REQUESTED" "LockedAtMs=$T_LOCKED" "QuiescedAtMs=$T_QUIESCED" \
      "FrozenAtMs=$T_FROZEN" "AllFrozenAtMs=$T_ALL_FROZEN" "BinlogFile=$BINLOG_FILE" "BinlogPosition=$BINLOG_POSITION" \
      "GtidBinlogPos=$GTID_BINLOG_POS" "ReplicaChannels=$REPLICA_CHANNELS" "ReplicaFile=$REPLICA_FILE" "ReplicaPos=$REPLICA_POS" \
      "ReplicaGtid=$REPLICA_GTID" "Volumes=${SNAPSHOT_VOLUME_IDS[*]}" "FrozenMounts=${FREEZE_MOUNTS[*]}" \
      "UnfrozenMounts=${UNFROZEN_MOUNTS[*]}" >"$HOLD_DIR/state.new" && mv -f "$HOLD_DIR/state.new" "$HOLD_DIR/state"
  } || fail "$E_TOOL" "cannot write $HOLD_DIR/state"
}

# Says "held" only if both helpers are there, neither has released, and the deadline is not reached.
hold_check_helpers() {
  local now pid
  stamp now
  for pid in "$WATCHDOG_PID" "$SENTINEL_PID"; do
    process_alive "$pid" || fail "$E_HOLD_EXPIRED" "a helper of the hold (pid $pid) is gone before the hold was handed over"
  done
  [[ ! -f $HOLD_DIR/outcome ]] || fail "$E_HOLD_EXPIRED" "the hold ended ($(<"$HOLD_DIR/outcome")) before the pre-script finished"
  ((now < T_QUIESCED + MAX_FREEZE_SECONDS * 1000)) ||
    fail "$E_HOLD_EXPIRED" "SSM_maxFreezeSeconds=$MAX_FREEZE_SECONDS elapsed before the pre-script finished"
}

# The lock session and the freeze now belong to the holder: this script closes its ends and exits without
# giving anything back.
hand_over() {
  helpers_send handover
  HANDED_OVER=true
  exec {WATCHDOG_FD}>&- {SENTINEL_FD}>&- {DB_IN}>&- {DB_OUT}>&-
  WATCHDOG_FD="" SENTINEL_FD="" DB_IN="" DB_OUT=""
}

# Restores the pre-script's facts for the summary and the tags.
hold_load_state() {
  [[ -f $HOLD_DIR/state ]] || fail "$E_NO_HOLD" "no pre-script hold on this instance (post-script without pre-script)"
  hold_read_state
  local held_for=${HOLD[ExecutionId]:-}
  if [[ $EXECUTION_ID != None && $held_for != "$EXECUTION_ID" ]]; then
    fail "$E_NO_HOLD" "the hold on this instance belongs to execution $held_for, not $EXECUTION_ID"
  fi
  RUN_ID=${HOLD[RunId]:-} DATABASE=${HOLD[Database]:-}
  LOCK_METHOD=${HOLD[LockMethod]:-$FTWRL} LOCK_TAG=${HOLD[LockTag]:-ftwrl}
  T_FIRST_FLUSH=${HOLD[FirstFlushAtMs]:-0} T_LOCK_REQUESTED=${HOLD[LockRequestedAtMs]:-0}
  T_LOCKED=${HOLD[LockedAtMs]:-0} T_QUIESCED=${HOLD[QuiescedAtMs]:-0}
  T_FROZEN=${HOLD[FrozenAtMs]:-0} T_ALL_FROZEN=${HOLD[AllFrozenAtMs]:-0}
  BINLOG_FILE=${HOLD[BinlogFile]:-} BINLOG_POSITION=${HOLD[BinlogPosition]:-} GTID_BINLOG_POS=${HOLD[GtidBinlogPos]:-}
  REPLICA_CHANNELS=${HOLD[ReplicaChannels]:-0} REPLICA_FILE=${HOLD[ReplicaFile]:-} REPLICA_POS=${HOLD[ReplicaPos]:-}
  REPLICA_GTID=${HOLD[ReplicaGtid]:-}
  [[ $REPLICA_CHANNELS =~ ^[0-9]+$ ]] || REPLICA_CHANNELS=0
  read -r -a SNAPSHOT_VOLUME_IDS <<<"${HOLD[Volumes]:-}"
  read -r -a FREEZE_MOUNTS <<<"${HOLD[FrozenMounts]:-}"
  read -r -a UNFROZEN_MOUNTS <<<"${HOLD[UnfrozenMounts]:-}"
}

# Asks the holder to give the host back and waits for it (bounded). Sets HOLD_RELEASED_BY and the release
# time. Whatever the helpers said, a filesystem of the hold that they could not verify thawed is thawed here.
hold_release() {
  local fd outcome="" i m holder=${HOLD[HolderPid]:-} verified
  if [[ ! -f $HOLD_DIR/outcome ]] && process_alive "$holder"; then
    exec {fd}<>"$HOLD_DIR/release"
    printf 'release\n' >&"$fd"
    exec {fd}>&-
  fi
  for ((i = 0; i < 300; i++)); do
    [[ -f $HOLD_DIR/outcome ]] && {
      outcome=$(<"$HOLD_DIR/outcome")
      break
    }
    process_alive "$holder" || process_alive "${HOLD[SentinelPid]:-}" || break
    sleep 0.05
  done
  read -r HOLD_RELEASED_BY T_THAWED verified <<<"$outcome"
  if [[ -z $outcome ]]; then
    # Holder and sentinel are gone without a word (killed): give the host back here.
    if [[ $DATABASE == mysql ]]; then db_oneshot "KILL CONNECTION ${HOLD[ConnectionId]:-}" >/dev/null 2>&1 || true; fi
    stamp T_THAWED
    HOLD_RELEASED_BY="holder-lost"
  fi
  if [[ $verified != verified ]]; then
    local role=post-script
    for m in "${FREEZE_MOUNTS[@]}"; do
      helper_thaw_verified "$m" 10 || fail "$E_RECOVER" "$m is still frozen, or its freeze still in flight, 10 s after the hold ended ($HOLD_RELEASED_BY)"
    done
  fi
  T_UNLOCKED=$T_THAWED
  [[ $DATABASE == mysql ]] && T_WRITES_RELEASED=$T_UNLOCKED
  return 0
}

# The snapshots DLM created of the held volumes: started between the lock and now. DescribeSnapshots is
# eventually consistent: $1 attempts, 2 s apart, until one lists any.
find_held_snapshots() {
  local out id vol start since attempt attempts=$1
  since=$(date -u -d "@$((T_QUIESCED / 1000))" +%Y-%m-%dT%H:%M:%S)
  for ((attempt = 1; attempt <= attempts; attempt++)); do
    # shellcheck disable=SC2016 # JMESPath, not shell
    out=$(aws_ec2 describe-snapshots --owner-ids self --output text \
      --filters "Name=volume-id,Values=$(
        IFS=,
        echo "${SNAPSHOT_VOLUME_IDS[*]}"
      )" \
      --query 'Snapshots[].[SnapshotId,VolumeId,StartTime]' 2>&1) || fail "$E_API" "describe-snapshots failed: ${out//$'\n'/ }"
    while read -r id vol start; do
      if [[ $id == snap-* && ! ${start:0:19} < "$since" ]]; then SNAPSHOTS+=("$id:$vol"); fi
    done <<<"$out"
    ((${#SNAPSHOTS[@]} > 0)) && return 0
    if ((attempt < attempts)); then sleep 2; fi
  done
  return 0
}

tag_held_snapshots() {
  # Not InstanceId: DLM's variable tag sets it, and the instance policy lets a host tag only snapshots whose
  # InstanceId is its own, never that key.
  local -a tags=("RunId=$RUN_ID" "ConsistencyMethod=$1" "DlmExecutionId=$EXECUTION_ID"
    "FrozenMounts=${FREEZE_MOUNTS[*]:-none}" "UnfrozenMounts=${UNFROZEN_MOUNTS[*]:-none}" "VolumeCount=${#SNAPSHOT_VOLUME_IDS[@]}")
  if [[ $1 == *+* ]]; then
    tags+=("BinlogFile=$BINLOG_FILE" "BinlogPosition=$BINLOG_POSITION")
    gtid_tags GtidBinlogPos "$GTID_BINLOG_POS" tags
    ((REPLICA_CHANNELS == 0)) ||
      tags+=("ReplicationSourceLogFile=$REPLICA_FILE" "ReplicationSourceLogPos=$REPLICA_POS" "ReplicationChannels=$REPLICA_CHANNELS")
    [[ -z $REPLICA_GTID ]] || gtid_tags ReplicationGtidPos "$REPLICA_GTID" tags
  fi
  # JSON, not the CLI's shorthand: a GTID set of several domains or UUIDs has commas, which shorthand splits on.
  local json out
  tags_json json "${tags[@]}"
  out=$(aws_ec2 create-tags --resources "${SNAPSHOTS[@]%%:*}" --tags "[$json]" 2>&1) ||
    fail "$E_API" "the host was released, but tagging ${SNAPSHOTS[*]%%:*} failed: ${out//$'\n'/ }"
}

# ---------------------------------------------------------------- modes
# Everything that is read before anything is locked or frozen.
prepare_run() {
  make_state_dir
  discover_instance
  discover_volumes
  [[ $DATABASE == mysql ]] && discover_database
  discover_mounts
}

# Lock (or sync), arm the watchdogs, read the binlog position under the lock, freeze.
quiesce() {
  wait_for_volume_snapshot_interval
  if is_crash_recovery; then
    stamp T_QUIESCED
    read_binlog_position
    return 0
  fi
  if [[ $DATABASE == mysql ]]; then db_lock; else presync_mounts; fi
  watchdog_arm
  [[ $DATABASE == mysql ]] && read_binlog_position
  [[ $DATABASE == mysql ]] && read_replica_position
  sync_unfrozen_mounts
  freeze_mounts
  db_check_lock_session
}

run_dry_run() {
  prepare_run
  log "dry run: would lock ${DATABASE}, freeze ${FREEZE_MOUNTS[*]:-nothing} and snapshot ${SNAPSHOT_VOLUME_IDS[*]}"
  finish 0 "dry run: nothing was locked, frozen or snapshotted"
}

run_snapshot() {
  prepare_run
  build_static_tags
  api_prepare
  [[ $DATABASE == mysql ]] && db_start_session
  watchdog_start "$MAX_FREEZE_SECONDS"
  quiesce

  local rc=0
  api_call || rc=$?

  recover_host || finish "$E_RECOVER" "thaw or unlock failed after the snapshot call"
  watchdog_stop
  # After the thaw: a commit held by the freeze holds the binlog, and reading the position would wait for it.
  commits_go_on && read_binlog_after
  log "host recovered: frozen $((T_THAWED - T_FROZEN)) ms, locked $((T_UNLOCKED - T_LOCKED)) ms, API $((T_API_END - T_API_START)) ms"

  if ((rc == 2)); then
    api_finish timeout || true
    fail "$E_API_TIMEOUT" "CreateSnapshots did not answer within SSM_maxFreezeSeconds=$MAX_FREEZE_SECONDS; the freeze was released"
  fi
  local client_rc=0
  api_finish || client_rc=$?
  api_outcome "$client_rc"
  log "created ${SNAPSHOTS[*]}"
  local message="created ${#SNAPSHOTS[@]} snapshot(s)"
  if ((RETAIN_COUNT > 0 || RETAIN_DAYS > 0)); then
    prune_snapshots
    message+="; pruned ${#PRUNED[@]}"
    ((${#PRUNE_ERRORS[@]} == 0)) || message+="; ${#PRUNE_ERRORS[@]} could not be deleted (see pruneErrors)"
  fi
  finish 0 "$message"
}

# DLM's pre-script: quiesce exactly as a snapshot run, then leave the host held for DLM's CreateSnapshots.
run_pre_script() {
  prepare_run
  hold_prepare
  [[ $DATABASE == mysql ]] && db_start_session
  watchdog_start "$MAX_FREEZE_SECONDS" holder
  watchdog_start $((MAX_FREEZE_SECONDS + 3)) sentinel
  quiesce
  hold_write_state
  hold_check_helpers
  hand_over
  finish 0 "holding the lock and the freeze until the post-script, at most SSM_maxFreezeSeconds=$MAX_FREEZE_SECONDS s"
}

# DLM's post-script: release the hold, then tag what DLM created while it was held.
run_post_script() {
  make_state_dir unlocked
  hold_load_state
  # Release first: every step before it is write stall.
  hold_release
  discover_instance
  log "host given back (released by $HOLD_RELEASED_BY) after $((T_THAWED - T_QUIESCED)) ms"
  if [[ $HOLD_RELEASED_BY == post-script ]]; then find_held_snapshots 3; else find_held_snapshots 1; fi
  local method=fsfreeze
  [[ $DATABASE == mysql ]] && method="$LOCK_TAG+fsfreeze"
  if [[ $HOLD_RELEASED_BY != post-script ]]; then
    method="none: hold ended ($HOLD_RELEASED_BY) before the post-script"
    ((${#SNAPSHOTS[@]} == 0)) || tag_held_snapshots "$method"
    hold_remove
    fail "$E_HOLD_EXPIRED" "the hold ended ($HOLD_RELEASED_BY) before the post-script; snapshots taken after that may be crash-consistent only"
  fi
  hold_remove
  ((${#SNAPSHOTS[@]} > 0)) || fail "$E_NOTHING_TAGGED" "host released, but no snapshot of ${SNAPSHOT_VOLUME_IDS[*]} started while it was held: nothing tagged"
  tag_held_snapshots "$method"
  finish 0 "host released; tagged ${#SNAPSHOTS[@]} snapshot(s) with the position read under the lock"
}

# ---------------------------------------------------------------- main
main() {
  trap 'on_signal INT' INT
  trap 'on_signal TERM' TERM
  trap 'on_signal HUP' HUP
  trap 'on_error "$LINENO" "$?"' ERR
  trap 'on_exit $?' EXIT
  trap '' PIPE # a dead database client must fail a write, not kill this script

  stamp T_START
  read_parameters
  check_tools
  [[ $DRY_RUN == true ]] && run_dry_run # command=dry-run, or dryRun=true with any command
  case $COMMAND in
    snapshot) run_snapshot ;;
    pre-script) run_pre_script ;;
    post-script) run_post_script ;;
  esac
}

# Executed (SSM runs `bash <file>`; or read from stdin / bash -c, where BASH_SOURCE is unset): run. Sourced (the
# unit tests of its functions): define only.
if [[ -z ${BASH_SOURCE[0]-} || ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
