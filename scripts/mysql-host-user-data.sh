#!/usr/bin/env bash
# User data of the reference database host (Amazon Linux 2023): MariaDB with its datadir and binlog on the
# separate encrypted data volume, and a backup account for the snapshot script.
# The account's password is generated here and stays on the host, in root's ~/.my.cnf under the group
# [client_consistent_snapshot], which only the snapshot script reads (mysql --defaults-group-suffix);
# no password ever appears on a command line.
set -euo pipefail
exec > >(tee -a /var/log/consistent-snapshots-user-data.log) 2>&1

readonly DATA_DEVICE_NAME=/dev/sdf DATA_MOUNT=/data BACKUP_USER=consistent_snapshot

log() { echo "user-data: $*"; }

# On Nitro instances /dev/sdf appears as an NVMe device; find the non-root disk.
find_data_device() {
  local root_disk device
  root_disk=$(lsblk -ndo PKNAME "$(findmnt -no SOURCE /)")
  for _ in $(seq 1 60); do
    [[ -b $DATA_DEVICE_NAME ]] && { readlink -f "$DATA_DEVICE_NAME"; return 0; }
    device=$(lsblk -ndpo NAME,TYPE | awk -v root="/dev/$root_disk" '$2 == "disk" && $1 != root { print $1; exit }')
    [[ -n $device ]] && { echo "$device"; return 0; }
    sleep 2
  done
  return 1
}

prepare_data_volume() {
  local device
  device=$(find_data_device) || { log "data volume not found"; exit 1; }
  if ! blkid "$device" >/dev/null 2>&1; then
    mkfs.xfs -q "$device"
  fi
  mkdir -p "$DATA_MOUNT"
  grep -q " $DATA_MOUNT " /etc/fstab || echo "UUID=$(blkid -s UUID -o value "$device") $DATA_MOUNT xfs defaults,nofail 0 2" >>/etc/fstab
  mountpoint -q "$DATA_MOUNT" || mount "$DATA_MOUNT"
  mkdir -p "$DATA_MOUNT/mysql" "$DATA_MOUNT/binlog"
}

install_mariadb() {
  dnf install -y -q mariadb105-server
  chown -R mysql:mysql "$DATA_MOUNT/mysql" "$DATA_MOUNT/binlog"
  # The server reads my.cnf.d in sorted order and the last value wins; the package's own mariadb-server.cnf
  # sets datadir=/var/lib/mysql, so this file must sort after it.
  cat >/etc/my.cnf.d/zz-consistent-snapshots.cnf <<CNF
[mysqld]
datadir=$DATA_MOUNT/mysql
log-bin=$DATA_MOUNT/binlog/mysql-bin
server-id=1
bind-address=127.0.0.1
CNF
  # SELinux is permissive on Amazon Linux 2023; restorecon keeps the labels right if it is enforcing.
  if command -v restorecon >/dev/null; then restorecon -R "$DATA_MOUNT"; fi
  systemctl enable --now mariadb
}

create_backup_account() {
  local password
  if grep -q '^\[client_consistent_snapshot\]' /root/.my.cnf 2>/dev/null; then return 0; fi
  password=$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)
  # RELOAD: FLUSH TABLES (WITH READ LOCK); PROCESS: see long-running queries; BINLOG MONITOR: SHOW MASTER STATUS.
  mariadb <<SQL
CREATE USER IF NOT EXISTS '$BACKUP_USER'@'localhost' IDENTIFIED BY '$password';
GRANT RELOAD, PROCESS, BINLOG MONITOR ON *.* TO '$BACKUP_USER'@'localhost';
SQL
  umask 077
  printf '[client_consistent_snapshot]\nuser=%s\npassword=%s\n' "$BACKUP_USER" "$password" >>/root/.my.cnf
}

prepare_data_volume
install_mariadb
create_backup_account
# The SSM agent ships enabled on Amazon Linux 2023; make sure it is running for Run Command.
systemctl enable --now amazon-ssm-agent
log "done"
