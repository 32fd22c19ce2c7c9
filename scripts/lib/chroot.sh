# shellcheck shell=bash
# A clean Debian 12 chroot, as scripts/deb-test.sh and scripts/fresh-test.sh
# use it: a minbase system debootstrapped once and cached as one tarball
# for both (chroot_base_tar, in build/chroot/), unpacked fresh for every
# run, with each caller's apt lists and archives cached in its
# chroot_cache.  Source it, set chroot_cache and chroot_root, then:
#
#   chroot_base MIRROR    the cached base (debootstrap once, a few minutes)
#   chroot_unpack MIRROR  a fresh chroot_root from it, mounted (proc, dev,
#                         dev/shm, dev/pts, sys, apt's caches), with the
#                         host's resolver and bookworm's three suites
#   chroot_umount         undoes chroot_unpack's mounts
#   inroot CMD...         CMD in the chroot with a clean environment
#   chroot_port_open PORT true when something answers on 127.0.0.1:PORT
#
# Callers run in private mount namespaces (unshare), so no mount outlives
# them even when chroot_umount is never reached.

chroot_cache=
chroot_root=
chroot_base_tar=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." &&
    pwd)/build/chroot/bookworm-minbase.tar.gz

chroot_base() {
    local mirror=$1 dir=${chroot_base_tar%/*}
    [ -s "$chroot_base_tar" ] && return 0
    mkdir -p "$dir"
    echo "chroot: debootstrap bookworm (minbase) from $mirror, once (a few minutes)" >&2
    rm -rf "$dir/base.tmp"
    if ! debootstrap --variant=minbase bookworm "$dir/base.tmp" \
            "$mirror" >"$dir/debootstrap.log" 2>&1; then
        tail -n 20 "$dir/debootstrap.log" >&2
        echo "chroot: debootstrap failed" >&2
        return 1
    fi
    tar -C "$dir/base.tmp" -czf "$chroot_base_tar.tmp" . &&
        mv "$chroot_base_tar.tmp" "$chroot_base_tar"
    rm -rf "$dir/base.tmp"
}

chroot_unpack() {
    local mirror=$1 r=$chroot_root
    rm -rf "$r"
    mkdir -p "$r" "$chroot_cache/apt-archives/partial" \
        "$chroot_cache/apt-lists/partial"
    tar -C "$r" -xzf "$chroot_base_tar" || {
        echo "chroot: cannot unpack the base" >&2
        return 1
    }
    mount -t proc proc "$r/proc"
    mount --bind /dev "$r/dev"
    mount -t tmpfs -o mode=1777 shm "$r/dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts" \
        2>/dev/null || true
    mount --bind /sys "$r/sys"
    mount --bind "$chroot_cache/apt-archives" "$r/var/cache/apt/archives"
    mount --bind "$chroot_cache/apt-lists" "$r/var/lib/apt/lists"
    cp /etc/resolv.conf "$r/etc/resolv.conf"
    cat >"$r/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
}

chroot_umount() {
    local m
    [ -n "$chroot_root" ] || return 0
    for m in var/cache/apt/archives var/lib/apt/lists sys dev/pts dev/shm \
             dev proc; do
        mountpoint -q "$chroot_root/$m" && umount -l "$chroot_root/$m"
    done
    return 0
}

inroot() {
    chroot "$chroot_root" /usr/bin/env -i \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

chroot_port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
