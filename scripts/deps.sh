#!/bin/sh
# Installs the Debian packages the build, `make run` and `make test` need.
# Only missing packages are installed; apt-get needs root.
set -eu

PKGS="gcc make pkg-config nginx nginx-dev libjwt-dev libjansson-dev libpq-dev
libssl-dev libcurl4-openssl-dev libfcgi-dev libcrypt-dev libcmocka-dev
libunistring-dev libidn2-dev libpng-dev libvpx-dev libjpeg62-turbo-dev libwebp-dev
postgresql postgresql-client pgbouncer wrk curl strace chromium ca-certificates
clang libclang-rt-14-dev llvm publicsuffix"
# (llvm: llvm-symbolizer, so that a fuzzer's crash report names functions;
# publicsuffix: the list the platform refuses a NANO_COOKIE_DOMAIN by;
# libidn2-dev: that list's Unicode rules against a punycode domain)

# Node.js (black-box and browser tests) usually comes with the machine,
# not always from Debian's package; only when there is none at all is
# Debian's installed.
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"

# `deps.sh deb` (make deb, make deb-test): Debian's packaging tools too.
if [ "${1:-}" = deb ]; then
    PKGS="$PKGS debhelper dpkg-dev debootstrap lintian"
fi

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages:$missing (run as root, or apt-get install them)" >&2
    exit 1
fi
# apt's and dpkg's own lines (some 3,000 on a fresh machine) go to a log
# that is shown only when they fail.
log=$(cd "$(dirname "$0")/.." && pwd)/build/deps.log
mkdir -p "$(dirname "$log")"
: >"$log"
echo "deps: installing$missing (apt's output: $log; a few minutes on a fresh machine)"
export DEBIAN_FRONTEND=noninteractive
failed() {
    echo "deps: $1 failed; the end of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
}
apt-get update -qq >>"$log" 2>&1 || failed "apt-get update"
# The nginx package starts a system nginx on port 80 where it can; we never
# use that one, and policy-rc.d keeps it from starting during the install.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.nano
chmod +x /usr/sbin/policy-rc.d.nano
if [ ! -e /usr/sbin/policy-rc.d ]; then
    cp /usr/sbin/policy-rc.d.nano /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
rm -f /usr/sbin/policy-rc.d.nano
# shellcheck disable=SC2086 # a list of package names, one word each
apt-get install -y -qq --no-install-recommends $missing >>"$log" 2>&1 ||
    failed "apt-get install"
echo "deps: installed"
