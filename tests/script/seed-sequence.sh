#!/usr/bin/env bash
# The seed blog post's sequence, kept only to prove its bug in the tests:
#   mysql -e 'FLUSH TABLES WITH READ LOCK;'  (the lock ends when this client exits)
#   fsfreeze each mount; describe-instance-attribute; create-snapshot per volume; thaw; UNLOCK TABLES.
# Two adaptations keep it runnable on the fixture: IMDSv2 (the double, like AL2023, refuses v1) and the
# mounts to freeze come from SEED_MOUNTS (the seed froze every ext4 mount, '/' included).
# With SEED_HOLD_LOCK=true the lock is held correctly, in one open session, so that only the sequence
# differs from ours (the benchmark's baseline).
# Usage: SEED_MYSQL_CNF=... SEED_MOUNTS="m1 m2" [SEED_HOLD_LOCK=true] seed-sequence.sh
set -uo pipefail
imds=${AWS_EC2_METADATA_SERVICE_ENDPOINT%/}
mysql_client=("$(command -v mariadb || command -v mysql)" "--defaults-extra-file=$SEED_MYSQL_CNF")
endpoint=(--endpoint-url "$AWS_ENDPOINT_URL_EC2")

if [[ ${SEED_HOLD_LOCK:-false} == true ]]; then
  coproc DB { exec "${mysql_client[@]}" --batch --skip-column-names --unbuffered 2>&1; }
  printf "FLUSH TABLES WITH READ LOCK; SELECT 'locked';\n" >&"${DB[1]}"
  IFS= read -r answer <&"${DB[0]}"
  [[ $answer == locked ]] || {
    echo "seed: lock failed: $answer" >&2
    exit 1
  }
else
  "${mysql_client[@]}" -e 'FLUSH TABLES WITH READ LOCK;'
fi
for target in $SEED_MOUNTS; do fsfreeze -f "$target"; done

token=$(curl -s -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" "$imds/latest/api/token")
instance=$(curl -s -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/instance-id")
region=$(curl -s -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/placement/region")
volumes=$(aws ec2 describe-instance-attribute --instance-id "$instance" --attribute blockDeviceMapping --output text \
  --query 'BlockDeviceMappings[*].Ebs.VolumeId' --region "$region" "${endpoint[@]}")
for volume in $volumes; do
  aws ec2 create-snapshot --volume-id "$volume" --description 'Consistent snapshot of MySQL on Amazon Linux' \
    --region "$region" "${endpoint[@]}" >/dev/null 2>&1
done

for target in $SEED_MOUNTS; do fsfreeze -u "$target"; done
if [[ ${SEED_HOLD_LOCK:-false} == true ]]; then
  printf "UNLOCK TABLES; SELECT 'unlocked';\n" >&"${DB[1]}"
  IFS= read -r answer <&"${DB[0]}"
  # End of input ends the client: MySQL's takes a 'quit' after the first line for the start of a statement.
  db_in=${DB[1]}
  exec {db_in}>&-
  wait "$DB_PID"
else
  "${mysql_client[@]}" -e 'UNLOCK TABLES;'
fi
