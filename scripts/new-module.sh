#!/usr/bin/env bash
# `make new-module NAME=<name> KIND=image|text|video [TITLE="…"]`: scaffolds
# a module that works at once with the offline provider of its kind:
#   - its line in the registry (modules.conf; provider "offline"),
#   - backends/<name>/main.c (its registry name and providers),
#   - backends/<name>/public/index.html (the shared tool page of its kind),
#   - nginx.conf.d/modules/<name>.conf (routed, behind nano_auth),
#   - sql/NNN_<name>_price.sql (its model and price in "ModelPrice").
# `make run` then builds it, starts it, routes it and lists it in the
# header; nothing else is edited by hand.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

name=${NAME:-${1:-}} kind=${KIND:-${2:-}} title=${TITLE:-}
die() { echo "new-module: $*" >&2; exit 2; }

if [ -z "$name" ] || [ -z "$kind" ]; then
    die "usage: make new-module NAME=<name> KIND=image|text|video [TITLE=\"…\"]"
fi
# The platform's own paths: a module's location is a regex, which nginx
# prefers to the platform's "location /", so /settings would become it.
case $name in
    platform | api | ui | signup | settings | billing) die "\"$name\" is reserved" ;;
    [a-z0-9]*) ;;
    *) die "a name starts with a-z or 0-9" ;;
esac
case $name in *[!a-z0-9.-]*) die "a name holds only a-z, 0-9, '-' and '.'" ;; esac
[ "${#name}" -le 40 ] || die "a name has at most 40 characters"
case $kind in image | text | video) ;; *) die "KIND is image, text or video" ;; esac
# shellcheck source=scripts/lib/registry.sh
. scripts/lib/registry.sh
ups=$(registry_upstream_name "$name")
for m in $(registry_modules); do
    [ "$m" != "$name" ] || die "$name is in modules.conf already"
    # nginx refuses two upstreams of one name: wan-2-5 beside wan-2.5
    [ "$(registry_upstream_name "$m")" != "$ups" ] \
        || die "$name and $m would share the upstream $ups; choose another name"
done
[ ! -e "backends/$name" ] || die "backends/$name exists already"
[ -n "$title" ] || title=$(printf '%s' "$name" | sed 's/^./\U&/')
# The title as the registry reads it back (nano_registry.c): one line,
# no '#' (a comment there), trimmed, 1 to 80 bytes; otherwise every
# backend would refuse the registry, or show another title than the page.
case $title in
    *[[:cntrl:]]*) die "TITLE holds a control character" ;;
    *'#'*) die "TITLE cannot hold '#' (a comment in modules.conf)" ;;
esac
title=$(printf '%s' "$title" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
[ -n "$title" ] || die "TITLE is blank"
[ "$(printf '%s' "$title" | wc -c)" -le 80 ] || die "TITLE has at most 80 bytes"

# the registry line
printf '%-15s %-6s %-10s %s\n' "$name" "$kind" offline "$title" >>modules.conf

# the app: its registry name and the offline provider of its kind
mkdir -p "backends/$name/public"
case $kind in
    text)  inc=nano_textgen.h provs="    .text_offline = &nano_textgen_offline," ;;
    image) inc=nano_jobgen.h  provs="    .jobs_offline = &nano_jobgen_offline_image," ;;
    video) inc=nano_jobgen.h  provs="    .jobs_offline = &nano_jobgen_offline_video," ;;
esac
cat >"backends/$name/main.c" <<C
/*
 * nano-$name: $title ($kind).  Its registry name and its
 * providers (the offline one until a real one is added, with its key in
 * .key_env); the page, the API and the job runner come from libnano.
 */

#include "$inc"
#include "nano_module.h"

static const nano_module_def_t  module = {
    .name = "$name",
$provs
};

int
main(int argc, char **argv)
{
    return nano_module_main(argc, argv, &module);
}
C

# the page: the shared tool page of its kind
template=backends/ui/templates/$kind.html
[ -r "$template" ] || die "$template is missing"
# the title as HTML, then escaped for sed's replacement
html=$(printf '%s' "$title" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g')
sed -e "s/@NAME@/$name/g" -e "s/@TITLE@/$(printf '%s' "$html" | sed 's/[\/&]/\\&/g')/g" \
    "$template" >"backends/$name/public/index.html"

# the gateway
scripts/module-snippet.sh "$name" "$title" >"nginx.conf.d/modules/$name.conf"

# the price: one migration of its own (additive, as every migration)
last=$(printf '%s\n' sql/*.sql | sed -n 's|^sql/\([0-9][0-9]*\)_.*\.sql$|\1|p' | sort -n | tail -n 1)
next=$(printf '%03d' $((10#$last + 1)))
mig=sql/${next}_${name//[-.]/_}_price.sql
cat >"$mig" <<SQL
-- The price of the $name module ($kind), scaffolded by make new-module.
-- One fixed price per generation; change it with a new migration.
INSERT INTO "ModelPrice" ("module", "model", "label", "credits", "sort")
    VALUES ('$name', 'offline-$kind', 'Offline $kind', 1, 0);
SQL

cat <<DONE
new-module: $name ($kind) scaffolded:
  modules.conf                          (the registry line; provider offline)
  backends/$name/main.c
  backends/$name/public/index.html
  nginx.conf.d/modules/$name.conf
  $mig
Run \`make run\`: it is built, migrated, started, routed behind nano_auth and
listed in the header at /$name/.
DONE
