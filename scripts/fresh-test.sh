#!/usr/bin/env bash
# `make fresh-test`: README's promise that `make test` passes on a fresh
# Debian 12 machine, checked in a clean chroot.  A minbase bookworm
# (scripts/lib/chroot.sh: debootstrapped once, unpacked fresh each run)
# gets only make, git and ca-certificates, as a machine must have to fetch
# the project; then a clone of this checkout's HEAD (committed work only)
# runs `make test` as root, which installs everything else itself (apt,
# npm).  Prints make test's own output and exits with its status.
#
# Runs in private mount and pid namespaces, so no mount or process
# outlives it.  Takes 20 to 30 minutes (apt installs about 1 GB; its
# archives are cached in build/fresh-test/, the base in build/chroot/,
# which make deb-test shares).  The chroot stays in
# build/fresh-test/root for a look until the next run.
# Environment: FRESH_TEST_PORT (18780: make test's TEST_PORT, on
# 127.0.0.1), DEB_MIRROR (http://deb.debian.org/debian), FRESH_CMD (the
# command to run in the clone instead of `make test`).
set -uo pipefail

root_dir=$(cd "$(dirname "$0")/.." && pwd)
mirror=${DEB_MIRROR:-http://deb.debian.org/debian}
port=${FRESH_TEST_PORT:-18780}
cmd=${FRESH_CMD:-make test}

# shellcheck source=scripts/lib/chroot.sh
. "$root_dir/scripts/lib/chroot.sh"
chroot_cache=$root_dir/build/fresh-test
chroot_root=$chroot_cache/root

log() { printf 'fresh-test: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot, mounts)"

if [ -z "${NANO_FRESH_TEST_NS:-}" ]; then
    command -v debootstrap >/dev/null 2>&1 ||
        { apt-get install -y -qq debootstrap >/dev/null; } ||
        die "cannot install debootstrap"
    chroot_base "$mirror" || exit 1
    exec unshare --mount --pid --fork --kill-child --propagation private \
        --mount-proc env NANO_FRESH_TEST_NS=1 "$0" "$@"
fi

# --- inside: pid 1 of a private pid namespace, private mounts ------------
# One function, read whole before it runs: the run takes long enough for
# someone to edit this file meanwhile, which bash would otherwise read on
# from the old offset.
fresh_test_inside() {
    trap 'chroot_umount' EXIT
    trap 'exit 130' INT TERM
    chroot_port_open "$port" && die "127.0.0.1:$port is taken; set FRESH_TEST_PORT"
    chroot_unpack "$mirror" || exit 1

    # A host behind a TLS-inspecting proxy trusts the proxy's CA
    # locally; the chroot then trusts it too, or npm cannot reach its
    # registry.
    local extra=()
    if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
        mkdir -p "$chroot_root/usr/local/share/ca-certificates"
        cp /usr/local/share/ca-certificates/*.crt \
            "$chroot_root/usr/local/share/ca-certificates/"
        extra=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
    fi

    log "apt: make, git, ca-certificates (log: build/fresh-test/apt.log)"
    {
        inroot apt-get update &&
        inroot apt-get install -y --no-install-recommends \
            make git ca-certificates
    } >"$chroot_cache/apt.log" 2>&1 ||
        { tail -n 20 "$chroot_cache/apt.log" >&2; die "apt-get failed"; }

    git clone -q "$root_dir" "$chroot_root/root/src" ||
        die "cannot clone $root_dir"
    log "in the chroot: $(git -C "$chroot_root/root/src" log --oneline -1 |
        cut -c1-60)"
    log "in the chroot: TEST_PORT=$port $cmd"
    inroot env "${extra[@]}" TEST_PORT="$port" sh -c "cd /root/src && $cmd"
}
fresh_test_inside; exit
