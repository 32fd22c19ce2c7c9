#!/usr/bin/env bash
# `make deb`: builds libnginx-mod-http-nano-auth and nano-platform with
# dpkg-buildpackage -b into build/deb/.  It builds in a copy of the tree
# (build/deb/src/): dpkg-buildpackage writes its results next to the
# source folder and cleans inside it, which must never be the checkout.
# Skipped when the tree has not changed since the last build.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build/deb
log=$out/build.log
cd "$root"

version=$(dpkg-parsechangelog -l debian/changelog -S Version)
# every file dated as the changelog's last entry: reproducible, and not
# 1970 (which lintian calls ancient)
stamp=$(dpkg-parsechangelog -l debian/changelog -S Timestamp)
src=$out/src/nano-banana-$version

# the tree as packaged: no build output, state, node modules, git, nor
# the tests (which the packages do not hold)
tree() {
    tar -C "$root" --exclude=./build --exclude=./.state --exclude=./.git \
        --exclude=node_modules --exclude=./debian/.build --exclude=./tests \
        --exclude=./scripts/deb-test.sh --sort=name \
        --mtime=@"$stamp" --owner=0 --group=0 -cf - .
}

mkdir -p "$out"
sum=$(tree | sha256sum | cut -d' ' -f1)
if [ -f "$out/.tree" ] && [ "$(cat "$out/.tree")" = "$sum" ] &&
    ls "$out"/nano-platform_"$version"_*.deb >/dev/null 2>&1; then
    echo "deb: build/deb/ is up to date with the tree ($version)"
    exit 0
fi

rm -rf "$out/src" "$out"/*.deb "$out"/*.buildinfo "$out"/*.changes
mkdir -p "$src"
tree | tar -C "$src" -xf -
echo "deb: dpkg-buildpackage -b in build/deb/src/ (log: build/deb/build.log)"
start=$SECONDS
if ! (cd "$src" && dpkg-buildpackage -b -us -uc -jauto) >"$log" 2>&1; then
    grep -E 'error|Error|warning: ' "$log" | tail -n 20 >&2 || true
    tail -n 20 "$log" >&2
    echo "deb: dpkg-buildpackage failed; see build/deb/build.log" >&2
    exit 1
fi
mv "$out"/src/*.deb "$out"/src/*.buildinfo "$out"/src/*.changes "$out"/
rm -rf "$out/src"
printf '%s\n' "$sum" >"$out/.tree"

echo "deb: built in $((SECONDS - start)) s:"
for deb in "$out"/*.deb; do
    printf '  build/deb/%s (%s KiB)\n' "${deb##*/}" "$(( $(stat -c %s "$deb") / 1024 ))"
    dpkg-deb -f "$deb" Depends | fold -s -w 70 | sed 's/^/      /'
done
# errors fail the build; warnings are shown (the intended ones are
# overridden, with reasons, in debian/nano-platform.lintian-overrides)
if ! lintian --fail-on error --tag-display-limit 0 "$out"/*.changes; then
    echo "deb: lintian found errors (above)" >&2
    rm -f "$out/.tree"
    exit 1
fi
