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
[ -n "$title" ] || title=$(printf '%s' "$name" | sed 's/^./\U&/')
# One line in modules.conf, where '#' starts a comment
case $title in
    *[[:cntrl:]]*) die "TITLE holds a control character" ;;
    *'#'*) die "TITLE cannot hold '#' (a comment in modules.conf)" ;;
esac
title=$(printf '%s' "$title" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
line=$(printf '%-15s %-6s %-10s %s' "$name" "$kind" offline "$title")

# The registry with the line, read by the code every backend reads it
# with (nano-admin modules): its rules (names, reserved words, kinds,
# titles, one nginx upstream per module) live there alone.
make -s build/bin/nano-admin >/dev/null
# a last line without its newline (an editor that drops it) would have
# the new line joined to it, as the last module's title
sep=
[ -z "$(tail -c 1 modules.conf)" ] || sep=$'\n'
candidate=$(mktemp)
trap 'rm -f "$candidate"' EXIT
{ cat modules.conf; printf '%s%s\n' "$sep" "$line"; } >"$candidate"
if ! read_back=$(NANO_MODULES_FILE=$candidate build/bin/nano-admin modules 2>&1); then
    # "nano-admin: <file>:<line>: <why>" -> "<why>"
    die "$(printf '%s' "$read_back" | sed -E 's/^nano-admin: [^: ]+(:[0-9]+)?: //')"
fi
# and it reads the line back as meant (a blank in NAME would not be)
[ "$(printf '%s\n' "$read_back" | tail -n 1)" = "$(printf '%s\t%s\toffline\t/%s\t%s' "$name" "$kind" "$name" "$title")" ] \
    || die "NAME=\"$name\" KIND=\"$kind\" is not read back as one module"
[ ! -e "backends/$name" ] || die "backends/$name exists already"

# the registry line
printf '%s%s\n' "$sep" "$line" >>modules.conf

# the app: its registry name and the offline provider of its kind
mkdir -p "backends/$name/public"
case $kind in
    text)  inc=nano_textgen.h provs="    .text_offline = &nano_textgen_offline," ;;
    image) inc=nano_jobgen.h  provs="    .jobs_offline = &nano_jobgen_offline_image," ;;
    video) inc=nano_jobgen.h  provs="    .jobs_offline = &nano_jobgen_offline_video," ;;
esac
# (the title stays out of the C: a "*/" in it ended the comment, and the
# registry's line is where it lives and changes)
cat >"backends/$name/main.c" <<C
/*
 * nano-$name: a $kind module; its title is its line in modules.conf.
 * Its registry name and its providers (the offline one until a real one
 * is added, with its key in .key_env); the page, the API and the job
 * runner come from libnano.
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

# the page: the shared tool page of its kind, whose {{title}} is filled in
# at each request from the registry, escaped (the lead once had the title
# written in: a title changed in modules.conf left the old one there)
template=backends/ui/templates/$kind.html
[ -r "$template" ] || die "$template is missing"
cp "$template" "backends/$name/public/index.html"

# the gateway
scripts/module-snippet.sh "$name" "$title" >"nginx.conf.d/modules/$name.conf"

# the price: one migration of its own (additive, as every migration)
last=$(printf '%s\n' sql/*.sql | sed -n 's|^sql/\([0-9][0-9]*\)_.*\.sql$|\1|p' | sort -n | tail -n 1)
next=$(printf '%03d' $((10#$last + 1)))
mig=sql/${next}_${name//[-.]/_}_price.sql
cat >"$mig" <<SQL
-- The price of the $name module ($kind), scaffolded by make new-module.
-- One fixed price per generation; change it with a new migration.  A
-- module of this name taken out and made again finds its row there.
INSERT INTO "ModelPrice" ("module", "model", "label", "credits", "sort")
    VALUES ('$name', 'offline-$kind', 'Offline $kind', 1, 0)
    ON CONFLICT ("module", "model") DO NOTHING;
SQL

cat <<DONE
new-module: $name ($kind) scaffolded:
  modules.conf                          (the registry line; provider offline)
  backends/$name/main.c
  backends/$name/public/index.html
  nginx.conf.d/modules/$name.conf
  $mig
Run \`make run\`: it is built, migrated, started, routed behind nano_auth and
listed in the header at /$name/.  (With DATABASE_URL set, make run only
prints the migration plan: \`NANO_MIGRATE=apply make run\` applies its price,
without which every generate answers 500.)
DONE
