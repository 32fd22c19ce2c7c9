#!/bin/sh
# Builds ngx_http_nano_auth_module.so against an nginx build tree: Debian's
# nginx-dev (/usr/share/nginx/src, with conf_flags) or any nginx source
# tree given as NGINX_SRC.  The tree is copied, so it is never modified.
#   build-module.sh <nginx-src> <builddir> <output.so>
set -eu

src=$1 builddir=$2 out=$3
top=$(pwd)
case $builddir in /*) ;; *) builddir=$top/$builddir ;; esac
case $out in /*) ;; *) out=$top/$out ;; esac

if [ ! -x "$src/configure" ] && [ ! -x "$src/auto/configure" ]; then
    echo "build-module: $src is not an nginx source tree (install nginx-dev or set NGINX_SRC)" >&2
    exit 1
fi

rm -rf "$builddir"
mkdir -p "$builddir" "$(dirname "$out")"
cp -R "$src" "$builddir/src"
cd "$builddir/src"
[ -x ./configure ] || cp auto/configure ./configure

NGX_CONF_FLAGS=""
if [ -f conf_flags ]; then
    # Debian's file is a bash array assignment: NGX_CONF_FLAGS=( ... )
    NGX_CONF_FLAGS=$(sed -n 's/^NGX_CONF_FLAGS=( *\(.*\) *)$/\1/p' conf_flags)
else
    NGX_CONF_FLAGS="--with-compat"
fi

# shellcheck disable=SC2086
./configure $NGX_CONF_FLAGS --add-dynamic-module="$top/ngx_nano_auth_module" \
    --builddir="$builddir/objs" >"$builddir/configure.log" 2>&1 || {
    tail -20 "$builddir/configure.log" >&2; exit 1; }
make -f "$builddir/objs/Makefile" modules >"$builddir/make.log" 2>&1 || {
    grep -E 'error|warning' "$builddir/make.log" >&2 || tail -30 "$builddir/make.log" >&2
    exit 1; }
if grep -q 'warning:' "$builddir/make.log"; then
    grep -A3 'warning:' "$builddir/make.log" >&2
fi
# A running nginx (make run) maps $out: writing into it would crash its
# workers, so the new build is renamed over it.
cp "$builddir/objs/ngx_http_nano_auth_module.so" "$out.tmp"
mv -f "$out.tmp" "$out"
echo "built $out"
