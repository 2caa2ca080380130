#!/usr/bin/env bash
# Builds (once) and enters the compatibility chroots: minimal Debian systems from Debian's archive, each
# with its own database server and AWS CLI, in which the script tests run unchanged.
#   chroot.sh build SUITE        build the chroot of SUITE if it is not cached; print its directory
#   chroot.sh run SUITE CMD...   run CMD inside SUITE's chroot, in a private mount namespace, with the
#                                repository bound at /src and the host's node at /usr/local/bin/node
# COMPAT_AWS_CLI_V1_PACKAGES: for the bench, a host directory holding the AWS CLI v1's Python packages (pip's
# site-packages): awscli, botocore, s3transfer, yaml and rsa are copied into the run's /tmp with an `aws` that
# runs them on the suite's python3 (whose awscli v2 package brings the rest), its path in $COMPAT_AWS_CLI_V1.
# No Debian suite ships MySQL together with the CLI v1.
# Cache: $COMPAT_CACHE (default /var/cache/consistent-snapshots/compat), keyed by suite and package list.
set -euo pipefail

readonly MIRROR=${COMPAT_MIRROR:-http://deb.debian.org/debian}
readonly CACHE=${COMPAT_CACHE:-/var/cache/consistent-snapshots/compat}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
readonly REPO
# Bump when the way a chroot is built changes (a new cache entry is built then).
readonly LAYOUT_VERSION=1
readonly COMMON_PACKAGES="curl ca-certificates util-linux mount xfsprogs e2fsprogs procps findutils gawk coreutils libstdc++6"

die() {
  echo "chroot.sh: $*" >&2
  exit 1
}

# The cell: database and AWS CLI of each suite (see README "Verified with").
packages_of() {
  case $1 in
    bullseye | bookworm | trixie) echo "$COMMON_PACKAGES mariadb-server mariadb-client awscli" ;;
    sid) echo "$COMMON_PACKAGES mysql-server mysql-client awscli" ;;
    *) die "unknown suite '$1' (bullseye, bookworm, trixie, sid)" ;;
  esac
}

dir_of() {
  local key
  key=$(printf '%s\n' "$1" "$(packages_of "$1")" "$LAYOUT_VERSION" | sha256sum | cut -c1-12)
  echo "$CACHE/$1-$key"
}

build() {
  local suite=$1 dir tmp
  dir=$(dir_of "$suite")
  if [[ -f $dir/.complete ]]; then
    echo "$dir"
    return 0
  fi
  command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
  mkdir -p "$CACHE"
  tmp="$dir.partial"
  rm -rf --one-file-system "$tmp"
  echo "chroot.sh: building $suite in $tmp" >&2
  debootstrap --variant=minbase "$suite" "$tmp" "$MIRROR" >"$CACHE/$suite.debootstrap.log" 2>&1 ||
    die "debootstrap $suite failed; see $CACHE/$suite.debootstrap.log"
  # sid's InRelease can be past Valid-Until on a mirror; nothing here depends on its freshness.
  echo 'Acquire::Check-Valid-Until "false";' >"$tmp/etc/apt/apt.conf.d/99no-check-valid-until"
  printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d" && chmod 0755 "$tmp/usr/sbin/policy-rc.d"
  printf '127.0.0.1 localhost\n::1 localhost\n' >"$tmp/etc/hosts" # MariaDB 10.5's install-db resolves localhost
  # shellcheck disable=SC2046 # the package list is word-split on purpose
  in_chroot_plain "$tmp" bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" && apt-get clean' \
    install $(packages_of "$suite") >"$CACHE/$suite.install.log" 2>&1 ||
    die "package install in $suite failed; see $CACHE/$suite.install.log"
  rm -rf --one-file-system "$dir"
  mv "$tmp" "$dir"
  touch "$dir/.complete"
  echo "$dir"
}

# For building: /proc and /dev inside a private mount namespace, gone when it ends.
in_chroot_plain() {
  local root=$1
  shift
  # shellcheck disable=SC2016 # expanded by the inner shell
  unshare --mount --propagation private bash -c '
    root=$1; shift
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    exec chroot "$root" "$@"' chroot-build "$root" "$@"
}

# For tests: the chroot bound onto itself (so that unshare inside it works), /proc, /sys, /dev, the
# repository at /src and the host's node, all in a private mount namespace and a PID namespace of its own: the
# cell's pgrep sees only the cell's processes (the script refuses to run beside a second database server), and
# the cell ends with whoever started it (--kill-child: its PID 1 is killed with it, and with PID 1 every process
# of the namespace), so no cell outlives a killed run. bash stays PID 1 (no exec) to reap orphans.
run_in() {
  local suite=$1 dir
  shift
  dir=$(build "$suite")
  # shellcheck disable=SC2016 # expanded by the inner shell
  unshare --mount --propagation private --pid --fork --kill-child bash -c '
    set -e
    root=$1 repo=$2 suite=$3; shift 3
    trap "kill -KILL -1 2>/dev/null; exit 143" TERM INT HUP
    mount --bind "$root" "$root"
    mount --make-private "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    mkdir -p "$root/src" "$root/usr/local/bin"
    mount --bind "$repo" "$root/src"
    install -m 0755 "$(command -v node)" "$root/usr/local/bin/node"
    mount -t tmpfs tmpfs "$root/tmp"
    cli_v1=""
    if [[ -n ${COMPAT_AWS_CLI_V1_PACKAGES:-} ]]; then
      mkdir -p "$root/tmp/aws-cli-v1/bin"
      for package in awscli botocore s3transfer yaml rsa; do
        cp -r "$COMPAT_AWS_CLI_V1_PACKAGES/$package" "$root/tmp/aws-cli-v1/"
      done
      printf "#!/bin/sh\nPYTHONPATH=/tmp/aws-cli-v1 exec python3 -m awscli \"\$@\"\n" >"$root/tmp/aws-cli-v1/bin/aws"
      chmod 0755 "$root/tmp/aws-cli-v1/bin/aws"
      cli_v1=/tmp/aws-cli-v1/bin/aws
    fi
    chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      HOME=/root LANG=C.UTF-8 CI="${CI:-}" COMPAT_SUITE="$suite" COMPAT_AWS_CLI_V1="$cli_v1" \
      bash -c "cd /src && exec \"\$@\"" compat "$@" &
    rc=0
    wait "$!" || rc=$?
    exit "$rc"' \
    compat-run "$dir" "$REPO" "$suite" "$@"
}

case ${1:-} in
  build)
    [[ $# -eq 2 ]] || die "usage: chroot.sh build SUITE"
    build "$2"
    ;;
  run)
    [[ $# -ge 3 ]] || die "usage: chroot.sh run SUITE CMD..."
    suite=$2
    shift 2
    run_in "$suite" "$@"
    ;;
  *) die "usage: chroot.sh build SUITE | run SUITE CMD..." ;;
esac
