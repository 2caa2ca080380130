#!/usr/bin/env bash
# User data of the reference database host (Amazon Linux 2023): MariaDB with its datadir and binlog on the
# separate encrypted data volume, and a backup account for the snapshot script.
# MysqlHost runs this file verbatim after a header that sets DATA_VOLUME_ID (the EBS volume to use) and
# BINLOG_EXPIRE_DAYS. The data volume is its own resource: it survives the instance, so everything here must
# also work on a replacement host that finds a formatted volume with a database on it.
# The account's password is generated here and stays on the host, in root's ~/.my.cnf under the group
# [client_consistent_snapshot], which only the snapshot script reads (mysql --defaults-group-suffix);
# no password ever appears on a command line.
set -euo pipefail

# Paths are plain variables so that tests can source this file and point them at a fixture.
DATA_MOUNT=/data
DATA_DEVICE_NAME=/dev/sdf
MY_CNF_DIR=/etc/my.cnf.d
SYSTEMD_DIR=/etc/systemd/system
FSTAB=/etc/fstab
ROOT_MY_CNF=/root/.my.cnf
BACKUP_USER=consistent_snapshot
# The volume is attached after the instance is running; on a replacement host only after the old one stopped.
DATA_VOLUME_WAIT_SECONDS=${DATA_VOLUME_WAIT_SECONDS:-900}
# interpolationType ENV_VAR, which the snapshot document uses, needs this agent version or later.
MIN_SSM_AGENT_VERSION=3.3.2746.0

log() { echo "user-data: $*"; }
die() {
  log "ERROR: $*"
  exit 1
}

# --- data volume -------------------------------------------------------------------------------------------

# The device of the EBS volume DATA_VOLUME_ID: the disk whose NVMe serial is the volume id without its dash
# (Nitro), else the /dev/sdf link AL2023's udev rules make (or Xen's /dev/xvdf) when that disk has no serial.
# Never "the first other disk": on instance types with instance store that is an ephemeral NVMe disk.
find_data_device() {
  local serial=${DATA_VOLUME_ID//-/} waited=0 device candidate
  while :; do
    device=$(lsblk -ndpo NAME,SERIAL,TYPE | awk -v serial="$serial" '$2 == serial && $3 == "disk" { print $1; exit }')
    if [[ -z $device ]]; then
      for candidate in "$DATA_DEVICE_NAME" /dev/xvdf; do
        [[ -b $candidate ]] || continue
        candidate=$(readlink -f "$candidate")
        if [[ -z $(lsblk -ndo SERIAL "$candidate" | tr -d '[:space:]') ]]; then
          device=$candidate
          break
        fi
      done
    fi
    if [[ -n $device ]]; then
      echo "$device"
      return 0
    fi
    # Counts the seconds slept, not $SECONDS: that clock ticks on whole seconds since the shell started, so
    # a deadline on it can come up to a second early.
    ((waited < DATA_VOLUME_WAIT_SECONDS)) || return 1
    sleep 2
    waited=$((waited + 2))
  done
}

# Formats the volume only when it carries no filesystem (a replacement host finds the old one), mounts it at
# DATA_MOUNT through fstab.
prepare_data_volume() {
  local device uuid
  [[ $DATA_VOLUME_ID =~ ^vol-[0-9a-f]{8,17}$ ]] || die "DATA_VOLUME_ID '$DATA_VOLUME_ID' is not an EBS volume id"
  device=$(find_data_device) || die "volume $DATA_VOLUME_ID did not appear within ${DATA_VOLUME_WAIT_SECONDS} s"
  log "data volume $DATA_VOLUME_ID is $device"
  # -p probes the device itself (libblkid's cache may still describe what a device name held before). Only
  # "nothing found" (2) formats: an ambivalent probe (8) or an error must never end in mkfs over data.
  local probe=0
  blkid -p "$device" >/dev/null 2>&1 || probe=$?
  case $probe in
    0) ;;
    2)
      log "formatting $device (no filesystem on it)"
      mkfs.xfs -q "$device"
      ;;
    *) die "blkid -p $device failed (exit $probe): not formatting a device whose content is unknown" ;;
  esac
  uuid=$(blkid -p -s UUID -o value "$device") || die "no filesystem UUID on $device"
  write_fstab_entry "$uuid"
  mkdir -p "$DATA_MOUNT"
  mountpoint -q "$DATA_MOUNT" || mount "$DATA_MOUNT"
  mkdir -p "$DATA_MOUNT/mysql" "$DATA_MOUNT/binlog"
}

# nofail: a missing volume must not stop the host from booting (Session Manager still reaches it); the
# database's RequiresMountsFor (write_mount_ordering) keeps MariaDB down instead.
write_fstab_entry() {
  local uuid=$1 kept
  kept=$(awk -v mount="$DATA_MOUNT" '$1 ~ /^#/ || $2 != mount' "$FSTAB" 2>/dev/null) || kept=""
  printf '%s\n%s\n' "$kept" "UUID=$uuid $DATA_MOUNT xfs defaults,nofail 0 2" | sed '/./,$!d' >"$FSTAB"
}

# --- packages ----------------------------------------------------------------------------------------------

# dnf reaches the repositories through the network path the stack built; a transient failure gets retries.
dnf_with_retries() {
  local attempt
  for attempt in 1 2 3 4 5; do
    dnf -y -q "$@" && return 0
    log "dnf $* failed (attempt $attempt); retrying in $((attempt * 10)) s"
    sleep $((attempt * 10))
  done
  return 1
}

installed_ssm_agent_version() { rpm -q --qf '%{VERSION}' amazon-ssm-agent 2>/dev/null || echo 0; }

version_at_least() { [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1) == "$2" ]]; }

# The AMI's agent may predate ENV_VAR interpolation: update from the release's repository, else install
# AWS's current build from the Region's agent bucket (reachable through the S3 gateway endpoint too).
ensure_ssm_agent() {
  local version region arch token
  version=$(installed_ssm_agent_version)
  if ! version_at_least "$version" "$MIN_SSM_AGENT_VERSION"; then
    log "SSM Agent $version is older than $MIN_SSM_AGENT_VERSION; updating"
    dnf_with_retries upgrade amazon-ssm-agent || log "dnf upgrade amazon-ssm-agent failed"
    version=$(installed_ssm_agent_version)
  fi
  if ! version_at_least "$version" "$MIN_SSM_AGENT_VERSION"; then
    token=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token) ||
      die "IMDSv2 token request failed"
    region=$(curl -sf -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/placement/region) ||
      die "region not readable from IMDS"
    case $(uname -m) in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) die "unsupported architecture $(uname -m)" ;; esac
    dnf_with_retries install "https://s3.$region.amazonaws.com/amazon-ssm-$region/latest/linux_$arch/amazon-ssm-agent.rpm" ||
      die "SSM Agent $version is older than $MIN_SSM_AGENT_VERSION and could not be updated"
    version=$(installed_ssm_agent_version)
    version_at_least "$version" "$MIN_SSM_AGENT_VERSION" || die "SSM Agent is still $version after the update"
  fi
  log "SSM Agent $version"
  systemctl enable amazon-ssm-agent
  systemctl restart amazon-ssm-agent
}

# --- MariaDB -----------------------------------------------------------------------------------------------

# The server reads my.cnf.d in sorted order and the last value wins; AL2023's mariadb-server.cnf sets
# datadir=/var/lib/mysql, so this file must sort after it.
write_server_options() {
  [[ $BINLOG_EXPIRE_DAYS =~ ^([1-9]|[1-9][0-9])$ ]] || die "BINLOG_EXPIRE_DAYS '$BINLOG_EXPIRE_DAYS' is not 1-99"
  mkdir -p "$MY_CNF_DIR"
  # expire_logs_days: the one binlog-expiry setting every MariaDB from 10.5 (AL2023's mariadb105) on reads.
  cat >"$MY_CNF_DIR/zz-consistent-snapshots.cnf" <<CNF
# Written by consistent-snapshots' user data: the database lives on the data volume ($DATA_VOLUME_ID).
[mysqld]
datadir=$DATA_MOUNT/mysql
log-bin=$DATA_MOUNT/binlog/mysql-bin
expire_logs_days=$BINLOG_EXPIRE_DAYS
server-id=1
bind-address=127.0.0.1
CNF
}

# After a reboot the server must not start on the root disk before the data volume is mounted.
write_mount_ordering() {
  mkdir -p "$SYSTEMD_DIR/mariadb.service.d"
  cat >"$SYSTEMD_DIR/mariadb.service.d/consistent-snapshots.conf" <<UNIT
# Written by consistent-snapshots' user data: MariaDB's files are on $DATA_MOUNT.
[Unit]
RequiresMountsFor=$DATA_MOUNT/mysql $DATA_MOUNT/binlog
UNIT
}

install_mariadb() {
  dnf_with_retries install mariadb105-server || die "dnf install mariadb105-server failed"
  chown mysql:mysql "$DATA_MOUNT/mysql" "$DATA_MOUNT/binlog"
  write_server_options
  write_mount_ordering
  # SELinux is permissive on Amazon Linux 2023; restorecon keeps the labels right if it is enforcing.
  if command -v restorecon >/dev/null; then restorecon -R "$DATA_MOUNT"; fi
  systemctl daemon-reload
  systemctl enable --now mariadb
}

# On a replacement host the account exists in the surviving datadir with the old host's password: the
# password is set anew either way.
create_backup_account() {
  local password
  umask 077
  password=$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)
  # RELOAD: FLUSH TABLES WITH READ LOCK, BACKUP STAGE; PROCESS: see long-running queries; BINLOG MONITOR: SHOW
  # MASTER STATUS; SHOW VIEW: see every table's engine (quiesce auto/crash-recovery) without reading its rows.
  mariadb <<SQL || die "creating the backup account failed"
CREATE USER IF NOT EXISTS '$BACKUP_USER'@'localhost';
ALTER USER '$BACKUP_USER'@'localhost' IDENTIFIED BY '$password';
GRANT RELOAD, PROCESS, BINLOG MONITOR, SLAVE MONITOR, SHOW VIEW ON *.* TO '$BACKUP_USER'@'localhost';
SQL
  if [[ -f $ROOT_MY_CNF ]]; then
    sed -i '/^\[client_consistent_snapshot\]$/,/^\[/{/^\[client_consistent_snapshot\]$/d;/^\[/!d}' "$ROOT_MY_CNF"
  fi
  printf '[client_consistent_snapshot]\nuser=%s\npassword=%s\n' "$BACKUP_USER" "$password" >>"$ROOT_MY_CNF"
  chmod 0600 "$ROOT_MY_CNF"
}

main() {
  exec > >(tee -a /var/log/consistent-snapshots-user-data.log) 2>&1
  : "${DATA_VOLUME_ID:?set by the user data header}" "${BINLOG_EXPIRE_DAYS:?set by the user data header}"
  prepare_data_volume
  install_mariadb
  create_backup_account
  ensure_ssm_agent
  log "done"
}

# Sourced by the tests (functions only); run by cloud-init.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
