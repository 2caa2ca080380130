#!/usr/bin/env bash
# Fetches AWS's own API models (botocore's data/<service>/<version>/service-2.json, with every member's
# min/max/pattern/enum) from Debian's python3-botocore package, without installing it: `apt-get download` from
# a suite listed in a private sources file, then `dpkg-deb -x`. Prints the directory holding the models.
#   AWS_MODELS_SUITE  Debian suite to take the package from (default: sid; trixie has 1.37, sid 1.43+)
#   AWS_MODELS_CACHE  cache directory (default: /var/cache/consistent-snapshots/aws-models)
set -euo pipefail

readonly SUITE=${AWS_MODELS_SUITE:-sid}
readonly CACHE=${AWS_MODELS_CACHE:-/var/cache/consistent-snapshots/aws-models}
readonly MIRROR=${COMPAT_MIRROR:-http://deb.debian.org/debian}
readonly SERVICES="ssm ec2 dlm iam logs events sns kms cloudwatch scheduler"
readonly dir=$CACHE/$SUITE

die() {
  echo "aws-models/fetch.sh: $*" >&2
  exit 1
}

cached() {
  local service
  [[ -f $dir/.complete ]] || return 1
  for service in $SERVICES; do [[ -d $dir/data/$service ]] || return 1; done
}
if cached; then
  echo "$dir/data"
  exit 0
fi
mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/.fetch.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/archives/partial"
echo "deb $MIRROR $SUITE main" >"$work/sources.list"
apt_options=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work" -o "Dir::Cache::archives=$work/archives"
  -o "Acquire::Check-Valid-Until=false" -o "APT::Sandbox::User=root" -q)
apt-get "${apt_options[@]}" update >"$work/update.log" 2>&1 || die "apt-get update for $SUITE failed: $(tail -n3 "$work/update.log")"
(cd "$work" && apt-get "${apt_options[@]}" download python3-botocore >"$work/download.log" 2>&1) ||
  die "apt-get download python3-botocore ($SUITE) failed: $(tail -n3 "$work/download.log")"
deb=$(find "$work" -maxdepth 1 -name 'python3-botocore_*.deb' | head -n1)
[[ -n $deb ]] || die "no python3-botocore package downloaded"
dpkg-deb -x "$deb" "$work/x" || die "dpkg-deb -x $deb failed"
data=$work/x/usr/lib/python3/dist-packages/botocore/data
rm -rf --one-file-system "$dir"
mkdir -p "$dir/data"
for service in $SERVICES; do
  [[ -d $data/$service ]] || die "no model for $service in $(basename "$deb")"
  cp -r "$data/$service" "$dir/data/"
done
basename "$deb" >"$dir/package"
touch "$dir/.complete"
echo "$dir/data"
