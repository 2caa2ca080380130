#!/usr/bin/env bash
# restore-verify.sh — the on-host half of a restore: mount volumes created from one run's snapshots, compare the
# restored binlog with the snapshot's BinlogFile/BinlogPosition tags, start a private, temporary MySQL/MariaDB
# server on them (no network, own socket), run CHECK TABLE on every table, stop the server and unmount. Nothing
# of the host's own database is touched. Run as root, after attaching the restored volumes.
# The server starts with the restored binlog: a commit that was prepared in InnoDB but held by the lock is then
# rolled back by the binlog's crash recovery, as on the original server (without it the server refuses to start).
# The restored volumes are data from a backup, not trusted: every directory given must lie on them (no symlink
# out), the binlog index and files it uses must be regular files there (never followed out of the copy, never
# written: the server reads a fresh index in this script's own directory), and the server never runs as root.
#
# Parameters (environment; default; accepted form):
#   SSM_mounts                 (or devices) "<device>=<mount point> ..." e.g. "/dev/nvme2n1=/restore/data"
#   SSM_devices                (or mounts)  "<device> ...": each mounted at <restoreRoot>/<device name>; /dev/sdX
#                                           is also found as /dev/xvdX (Xen) or its NVMe link (Amazon Linux's udev)
#   SSM_restoreRoot            /restore     where SSM_devices are mounted
#   SSM_datadir                (required)   datadir on the restored volumes, e.g. /restore/data/mysql, or auto:
#                                           the one directory holding mysql/ beside ibdata1, mysql.ibd or aria_log_control
#   SSM_innodbLogDir           (datadir)    InnoDB redo log directory on the restored volumes, or auto (the
#                                           datadir, else the one directory holding ib_logfile0 or #innodb_redo)
#   SSM_binlogDir              (empty)      binlog directory on the restored volumes (needed when the server
#                                           wrote a binlog: crash recovery reads it; also checks the tags), or
#                                           auto (where the expected binlog file is, else the one *.index, else none)
#   SSM_serverPackage          (empty)      package to install (dnf or apt-get) when no server is installed
#   SSM_expectBinlogFile       (empty)      the snapshot's BinlogFile tag, e.g. mysql-bin.000042
#   SSM_expectBinlogPosition   (empty)      the snapshot's BinlogPosition tag
#   SSM_keepMounted            false        true: leave the volumes mounted afterwards (the server is always stopped)
# Output: log lines on stderr, one JSON summary line on stdout.
# Exit codes: 0 verified; 1 a parameter is invalid; 2 a tool is missing or not root; 3 a mount failed, or a
#             path leaves the restored volumes, or no unprivileged user can run the server; 4 the server did not start;
#             5 CHECK TABLE reported a problem; 6 the binlog does not match the tags (or is not a regular file).
set -euo pipefail

readonly E_PARAM=1 E_TOOL=2 E_MOUNT=3 E_SERVER=4 E_CHECK=5 E_BINLOG=6
WORK_DIR="" SERVER_PID="" SERVER_USER="" TABLES_CHECKED=0 BINLOG_SIZE="" FOUND=""
declare -a MOUNTED=() FAILED_TABLES=()

log() { printf '%s restore-verify: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

report() {
  local code=$1 message=$2 failed="" t
  for t in "${FAILED_TABLES[@]}"; do failed+="${failed:+,}$(json_str "$t")"; done
  printf '{"status":%s,"exitCode":%d,"message":%s,"datadir":%s,"serverUser":%s,"tablesChecked":%d,"failedTables":[%s],"binlogFile":%s,"binlogFileSize":%s,"expectedBinlogPosition":%s}\n' \
    "$(json_str "$([[ $code -eq 0 ]] && echo ok || echo failed)")" "$code" "$(json_str "$message")" "$(json_str "${DATADIR:-}")" "$(json_str "$SERVER_USER")" \
    "$TABLES_CHECKED" "$failed" "$(json_str "${EXPECT_FILE:-}")" "$(json_str "$BINLOG_SIZE")" "$(json_str "${EXPECT_POSITION:-}")"
}

cleanup() {
  local code=$?
  stop_server
  if [[ ${KEEP_MOUNTED:-false} != true ]]; then
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do umount "${MOUNTED[$i]}" || log "WARNING: could not unmount ${MOUNTED[$i]}"; done
  fi
  [[ -n $WORK_DIR ]] && rm -rf -- "$WORK_DIR"
  exit "$code"
}

fail() {
  local code=$1
  shift
  log "ERROR: $*"
  report "$code" "$*"
  exit "$code"
}

read_parameters() {
  MOUNTS=${SSM_mounts:-}
  DEVICES=${SSM_devices:-}
  RESTORE_ROOT=${SSM_restoreRoot:-/restore}
  SERVER_PACKAGE=${SSM_serverPackage:-}
  DATADIR=${SSM_datadir:-}
  LOG_DIR=${SSM_innodbLogDir:-$DATADIR}
  BINLOG_DIR=${SSM_binlogDir:-}
  EXPECT_FILE=${SSM_expectBinlogFile:-}
  EXPECT_POSITION=${SSM_expectBinlogPosition:-}
  KEEP_MOUNTED=${SSM_keepMounted:-false}
  local path_re='^/[A-Za-z0-9._/-]+$'
  if [[ -n $DEVICES ]]; then
    [[ -z $MOUNTS ]] || fail "$E_PARAM" "parameters SSM_mounts and SSM_devices: give one, not both"
    [[ $DEVICES =~ ^/dev/[A-Za-z0-9._/-]+(\ +/dev/[A-Za-z0-9._/-]+)*$ ]] ||
      fail "$E_PARAM" "parameter SSM_devices: invalid value '$DEVICES'; expected device paths (/dev/...) separated by spaces"
    [[ $RESTORE_ROOT =~ $path_re ]] || fail "$E_PARAM" "parameter SSM_restoreRoot: invalid value '$RESTORE_ROOT'; expected an absolute path"
    devices_to_mounts
  fi
  [[ $MOUNTS =~ ^/[A-Za-z0-9._/-]+=/[A-Za-z0-9._/-]+(\ +/[A-Za-z0-9._/-]+=/[A-Za-z0-9._/-]+)*$ ]] ||
    fail "$E_PARAM" "parameter SSM_mounts: invalid value '$MOUNTS'; expected '<device>=<mount point>' pairs separated by spaces"
  [[ $DATADIR == auto || $DATADIR =~ $path_re ]] || fail "$E_PARAM" "parameter SSM_datadir: invalid value '$DATADIR'; expected an absolute path or auto"
  [[ $LOG_DIR == auto || $LOG_DIR =~ $path_re ]] || fail "$E_PARAM" "parameter SSM_innodbLogDir: invalid value '$LOG_DIR'; expected an absolute path or auto"
  [[ -z $BINLOG_DIR || $BINLOG_DIR == auto || $BINLOG_DIR =~ $path_re ]] ||
    fail "$E_PARAM" "parameter SSM_binlogDir: invalid value '$BINLOG_DIR'; expected an absolute path or auto"
  [[ -z $SERVER_PACKAGE || $SERVER_PACKAGE =~ ^[A-Za-z0-9][A-Za-z0-9.+_-]{0,99}$ ]] ||
    fail "$E_PARAM" "parameter SSM_serverPackage: invalid value '$SERVER_PACKAGE'; expected a package name"
  [[ -z $EXPECT_FILE || $EXPECT_FILE =~ ^[A-Za-z0-9._-]+$ ]] || fail "$E_PARAM" "parameter SSM_expectBinlogFile: invalid value '$EXPECT_FILE'; expected a binlog file name"
  [[ -z $EXPECT_POSITION || $EXPECT_POSITION =~ ^[0-9]+$ ]] || fail "$E_PARAM" "parameter SSM_expectBinlogPosition: invalid value '$EXPECT_POSITION'; expected a number"
  [[ $KEEP_MOUNTED =~ ^(true|false)$ ]] || fail "$E_PARAM" "parameter SSM_keepMounted: invalid value '$KEEP_MOUNTED'; expected 'true' or 'false'"
}

# SSM_devices as SSM_mounts: each device (or the name the instance's kernel gave it) at <restoreRoot>/<name>.
devices_to_mounts() {
  local device found
  for device in $DEVICES; do
    found=$device
    # EC2 names a volume /dev/sdf; a Xen instance shows it as /dev/xvdf, a Nitro one as an NVMe device that
    # Amazon Linux's udev rules (amazon-ec2-utils) link to /dev/sdf.
    [[ ! -b $found && $device =~ ^/dev/sd([a-z]+)$ && -b /dev/xvd${BASH_REMATCH[1]} ]] && found=/dev/xvd${BASH_REMATCH[1]}
    [[ -b $found ]] || fail "$E_MOUNT" "$device is not a block device here (nor its Xen name): is the restored volume attached?"
    MOUNTS+="${MOUNTS:+ }$found=$RESTORE_ROOT/${device##*/}"
  done
}

check_tools() {
  [[ $EUID -eq 0 ]] || fail "$E_TOOL" "must run as root (mount, starting a server as the datadir's owner)"
  command -v realpath >/dev/null || fail "$E_TOOL" "realpath not found"
  find_server
  if [[ -z $SERVER && -n $SERVER_PACKAGE ]]; then
    install_server
    find_server
  fi
  [[ -n $SERVER ]] || fail "$E_TOOL" "no mariadbd or mysqld found${SERVER_PACKAGE:+ after installing $SERVER_PACKAGE}"
  CLIENT=$(command -v mariadb || command -v mysql || true)
  [[ -n $CLIENT ]] || fail "$E_TOOL" "no mariadb or mysql client found"
  command -v blkid >/dev/null || fail "$E_TOOL" "blkid not found"
}

find_server() {
  SERVER=$(command -v mariadbd || command -v mysqld || true)
  local candidate
  for candidate in /usr/sbin/mariadbd /usr/sbin/mysqld /usr/libexec/mariadbd /usr/libexec/mysqld; do
    [[ -z $SERVER && -x $candidate ]] && SERVER=$candidate
  done
  return 0
}

install_server() {
  log "no database server installed: installing $SERVER_PACKAGE"
  if command -v dnf >/dev/null; then
    dnf install -y "$SERVER_PACKAGE" >&2 || fail "$E_TOOL" "dnf install $SERVER_PACKAGE failed"
  elif command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$SERVER_PACKAGE" >&2 || fail "$E_TOOL" "apt-get install $SERVER_PACKAGE failed"
  else
    fail "$E_TOOL" "no dnf or apt-get to install $SERVER_PACKAGE with"
  fi
}

mount_volumes() {
  local pair device target fstype
  for pair in $MOUNTS; do
    device=${pair%%=*}
    target=${pair#*=}
    [[ -b $device ]] || fail "$E_MOUNT" "$device is not a block device (attach the restored volume first)"
    mountpoint -q "$target" && fail "$E_MOUNT" "$target is already a mount point"
    # -p: probe the device itself. libblkid answers from its cache for a device probed in the last 2 s (and for
    # 200 s once verified): a device name that held another filesystem moments ago would be typed as that one.
    fstype=$(blkid -p -s TYPE -o value "$device") || fail "$E_MOUNT" "no filesystem found on $device"
    mkdir -p "$target"
    local -a options=()
    # A restored XFS volume carries the UUID of the original, which may be mounted on this very host.
    [[ $fstype == xfs ]] && options=(-o nouuid)
    mount "${options[@]}" "$device" "$target" || fail "$E_MOUNT" "mount $device $target failed"
    MOUNTED+=("$target")
    log "mounted $device ($fstype) at $target"
  done
  find_layout
  [[ -d $DATADIR ]] || fail "$E_MOUNT" "datadir $DATADIR does not exist on the restored volumes"
  check_on_restored_volumes SSM_datadir "$DATADIR"
  check_on_restored_volumes SSM_innodbLogDir "$LOG_DIR"
  [[ -z $BINLOG_DIR ]] || check_on_restored_volumes SSM_binlogDir "$BINLOG_DIR"
}

# Sets FOUND to the one path on the restored volumes that find(1) arguments "$@" match (searched without
# following symlinks, without leaving the volumes); empty when none; fails naming parameter $1 when several do.
only_one() {
  local name=$1 found=() path target
  shift
  for target in "${MOUNTED[@]}"; do
    while IFS= read -r path; do found+=("$path"); done < <(find "$target" -xdev -maxdepth 6 "$@" -print 2>/dev/null)
  done
  ((${#found[@]} <= 1)) || fail "$E_MOUNT" "$name auto: ${#found[@]} candidates on the restored volumes (${found[*]}); give the path"
  FOUND=${found[0]:-}
}

# datadir, redo log and binlog directories given as auto, found on the restored volumes.
find_layout() {
  if [[ $DATADIR == auto ]]; then
    only_one SSM_datadir -type d -name mysql \( -execdir test -f ibdata1 \; -o -execdir test -f mysql.ibd \; -o -execdir test -f aria_log_control \; \)
    [[ -n $FOUND ]] || fail "$E_MOUNT" "SSM_datadir auto: no directory holding mysql/ beside ibdata1, mysql.ibd or aria_log_control on the restored volumes"
    DATADIR=${FOUND%/mysql}
    log "datadir found: $DATADIR"
  fi
  if [[ $LOG_DIR == auto ]]; then
    LOG_DIR=$DATADIR
    # MariaDB and MySQL before 8.0.30 keep ib_logfile0 there, MySQL 8.0.30+ a #innodb_redo directory.
    if [[ ! -e $DATADIR/ib_logfile0 && ! -d "$DATADIR/#innodb_redo" ]]; then
      only_one SSM_innodbLogDir \( -type f -name ib_logfile0 -o -type d -name '#innodb_redo' \)
      [[ -z $FOUND ]] || LOG_DIR=${FOUND%/*}
    fi
    log "InnoDB redo log directory: $LOG_DIR"
  fi
  if [[ $BINLOG_DIR == auto ]]; then
    if [[ -n $EXPECT_FILE ]]; then
      only_one SSM_binlogDir -type f -name "$EXPECT_FILE"
      [[ -n $FOUND ]] || fail "$E_BINLOG" "binlog $EXPECT_FILE (tag BinlogFile) is not on the restored volumes"
    else
      only_one SSM_binlogDir -type f -name '*.index'
    fi
    BINLOG_DIR=${FOUND%/*}
    log "binlog directory: ${BINLOG_DIR:-none}"
  fi
}

# $2 (parameter $1), all symlinks resolved, must be a directory on one of the volumes mounted here.
check_on_restored_volumes() {
  local name=$1 path=$2 real target
  real=$(realpath -e -- "$path" 2>/dev/null) || fail "$E_MOUNT" "$name $path does not exist on the restored volumes"
  [[ -d $real ]] || fail "$E_MOUNT" "$name $path is not a directory"
  for target in "${MOUNTED[@]}"; do
    target=$(realpath -e -- "$target")
    [[ $real == "$target" || $real == "$target"/* ]] && return 0
  done
  fail "$E_MOUNT" "$name $path resolves to $real, which is not on the restored volumes (${MOUNTED[*]}); refusing to follow it"
}

# A file the server or this script reads from the copy: a regular file, not a symlink (which could point anywhere).
check_regular_file() {
  [[ -f $1 && ! -L $1 ]] || fail "$E_BINLOG" "$1 is not a regular file on the restored volumes (a symlink, or missing); refusing to use it"
}

# The user the server runs as: the datadir's owner, never root (the copy's contents could make a root server do
# anything the server can: plugins, LOAD DATA, writing files). A root-owned copy is given to the mysql user
# (without following symlinks), as the database's own files normally are.
server_user() {
  local uid dir
  uid=$(stat -c %u "$DATADIR")
  if ((uid != 0)); then
    SERVER_USER=$(stat -c %U "$DATADIR")
    [[ $SERVER_USER != UNKNOWN ]] || SERVER_USER=$uid
    return 0
  fi
  id -u mysql >/dev/null 2>&1 ||
    fail "$E_MOUNT" "datadir $DATADIR is owned by root and there is no mysql user to run the server as: refusing to run it as root"
  for dir in "$DATADIR" "$LOG_DIR" ${BINLOG_DIR:+"$BINLOG_DIR"}; do
    chown -R -h mysql: "$dir" || fail "$E_MOUNT" "cannot give $dir to the mysql user"
  done
  SERVER_USER=mysql
  log "datadir was owned by root: gave the restored copy's database directories to mysql (the server never runs as root)"
}

# The server's user must reach its directories: a parent directory it cannot search is named here, not in the
# server's error log.
check_server_user_access() {
  local dir
  command -v runuser >/dev/null || return 0
  for dir in "$DATADIR" "$LOG_DIR" ${BINLOG_DIR:+"$BINLOG_DIR"}; do
    runuser -u "$SERVER_USER" -- test -w "$dir" -a -x "$dir" ||
      fail "$E_MOUNT" "the server's user $SERVER_USER cannot write $dir (a parent directory it cannot search, or the directory's owner): refusing to start it"
  done
}

start_server() {
  server_user
  check_server_user_access
  WORK_DIR=$(mktemp -d /tmp/restore-verify.XXXXXX)
  chmod 0755 "$WORK_DIR"
  chown "$SERVER_USER" "$WORK_DIR"
  SOCKET="$WORK_DIR/mysqld.sock"
  local -a binlog=(--skip-log-bin)
  if [[ -n $BINLOG_DIR ]]; then
    local index name
    index=$(find "$BINLOG_DIR" -maxdepth 1 -name '*.index' -print -quit)
    [[ -n $index ]] || fail "$E_BINLOG" "no binlog index (*.index) in $BINLOG_DIR"
    check_regular_file "$index"
    # The index names the original server's paths; on this host those may be the live server's own files. A
    # fresh index in the work directory names the restored copies (each a regular file in BINLOG_DIR); the copy's
    # own index is left as it is.
    : >"$WORK_DIR/restored-bin.index"
    while IFS= read -r name; do
      [[ -n $name ]] || continue
      name=${name##*/}
      [[ $name =~ ^[A-Za-z0-9._-]+$ ]] || fail "$E_BINLOG" "the binlog index $index names '$name', not a binlog file name"
      check_regular_file "$BINLOG_DIR/$name"
      printf '%s\n' "$BINLOG_DIR/$name" >>"$WORK_DIR/restored-bin.index"
    done <"$index"
    chown "$SERVER_USER" "$WORK_DIR/restored-bin.index"
    binlog=(--log-bin="$BINLOG_DIR/$(basename "${index%.index}")" --log-bin-index="$WORK_DIR/restored-bin.index" --server-id=1)
  fi
  # No network, own socket and pid file: invisible to the host's own server and clients.
  "$SERVER" --no-defaults --user="$SERVER_USER" --datadir="$DATADIR" --innodb-log-group-home-dir="$LOG_DIR" \
    --socket="$SOCKET" --pid-file="$WORK_DIR/mysqld.pid" --log-error="$WORK_DIR/error.log" \
    --skip-networking --skip-slave-start "${binlog[@]}" >/dev/null 2>&1 &
  SERVER_PID=$!
  local _
  for _ in $(seq 1 600); do
    if "$CLIENT" --no-defaults --socket="$SOCKET" --user=root -e "SELECT 1" >/dev/null 2>&1; then
      log "temporary server started on $SOCKET"
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.2
  done
  fail "$E_SERVER" "the server did not start on the restored datadir: $(tail -n 20 "$WORK_DIR/error.log" 2>/dev/null | tr '\n' ' ')"
}

stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

sql() { "$CLIENT" --no-defaults --socket="$SOCKET" --user=root --batch --skip-column-names -e "$1"; }

check_tables() {
  local tables table op type text
  tables=$(sql "SELECT CONCAT('\`', TABLE_SCHEMA, '\`.\`', TABLE_NAME, '\`') FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ('information_schema', 'performance_schema', 'sys')") ||
    fail "$E_SERVER" "cannot list tables"
  while IFS= read -r table; do
    [[ -n $table ]] || continue
    TABLES_CHECKED=$((TABLES_CHECKED + 1))
    while IFS=$'\t' read -r _ op type text; do
      [[ $op == check ]] || continue
      if [[ $type == error || ($type == status && $text != OK && $text != "Table is already up to date") ]]; then
        FAILED_TABLES+=("$table: $type $text")
      fi
    done < <(sql "CHECK TABLE $table EXTENDED" 2>&1 || echo $'\tcheck\terror\tCHECK TABLE failed')
  done <<<"$tables"
  ((${#FAILED_TABLES[@]} == 0)) || fail "$E_CHECK" "CHECK TABLE found problems in ${#FAILED_TABLES[@]} of $TABLES_CHECKED tables"
  log "CHECK TABLE passed on $TABLES_CHECKED tables"
}

# The binlog was flushed under the lock, so the restored file must end exactly at the tagged position.
check_binlog() {
  [[ -n $BINLOG_DIR && -n $EXPECT_FILE && -n $EXPECT_POSITION ]] || return 0
  [[ -f $BINLOG_DIR/$EXPECT_FILE ]] || fail "$E_BINLOG" "binlog $BINLOG_DIR/$EXPECT_FILE (tag BinlogFile) is not on the restored volumes"
  check_regular_file "$BINLOG_DIR/$EXPECT_FILE"
  BINLOG_SIZE=$(stat -c %s "$BINLOG_DIR/$EXPECT_FILE")
  ((BINLOG_SIZE == EXPECT_POSITION)) ||
    fail "$E_BINLOG" "binlog $EXPECT_FILE is $BINLOG_SIZE bytes; the snapshot's tag BinlogPosition says $EXPECT_POSITION"
  log "binlog $EXPECT_FILE ends at the tagged position $EXPECT_POSITION"
}

main() {
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  read_parameters
  check_tools
  mount_volumes
  check_binlog # before the server appends to it
  start_server
  check_tables
  report 0 "restored datadir verified: $TABLES_CHECKED tables checked"
}

main "$@"
