#!/usr/bin/env bash
# The seed blog post's sequence, kept only to prove its bug in the tests:
#   mysql -e 'FLUSH TABLES WITH READ LOCK;'  (the lock ends when this client exits)
#   fsfreeze each mount; describe-instance-attribute; create-snapshot per volume; thaw; UNLOCK TABLES.
# Two adaptations keep it runnable on the fixture: IMDSv2 (the double, like AL2023, refuses v1) and the
# mounts to freeze come from SEED_MOUNTS (the seed froze every ext4 mount, '/' included).
# Usage: SEED_MYSQL_CNF=... SEED_MOUNTS="m1 m2" seed-sequence.sh
set -uo pipefail
imds=${AWS_EC2_METADATA_SERVICE_ENDPOINT%/}
mysql_client=(mariadb "--defaults-extra-file=$SEED_MYSQL_CNF")
endpoint=(--endpoint-url "$AWS_ENDPOINT_URL_EC2")

"${mysql_client[@]}" -e 'FLUSH TABLES WITH READ LOCK;'
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
"${mysql_client[@]}" -e 'UNLOCK TABLES;'
