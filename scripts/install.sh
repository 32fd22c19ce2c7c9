#!/usr/bin/env bash
# `make install`: lays out an installed system under $DESTDIR, the same
# files the Debian packages ship (debian/rules calls this too), for any
# distribution.  Users, the media folder and the key file are made on the
# target by $LIBDIR/nano-setup (the Debian postinst runs it).
#   install.sh platform | module | all
# Paths (make passes them): PREFIX (/usr/local), SYSCONFDIR (/etc),
# UNITDIR ($PREFIX/lib/systemd/system), NGINX_CONFDIR (/etc/nginx),
# NGINX_MODDIR ($PREFIX/lib/nginx/modules), WEB_USER and WEB_GROUP
# (www-data: nginx's workers), B (build).  Layout: docs/OPERATIONS.md.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
SYSCONFDIR=${SYSCONFDIR:-/etc}
UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}
NGINX_CONFDIR=${NGINX_CONFDIR:-/etc/nginx}
NGINX_MODDIR=${NGINX_MODDIR:-$PREFIX/lib/nginx/modules}
WEB_USER=${WEB_USER:-www-data}
WEB_GROUP=${WEB_GROUP:-$WEB_USER}
B=${B:-build}

LIBDIR=$PREFIX/lib/nano           # private: backends, real tools, setup
DATADIR=$PREFIX/share/nano        # NANO_ROOT: pages, ui, sql, examples
CONFDIR=$SYSCONFDIR/nano
MEDIADIR=/var/lib/nano/media
RUNDIR=/run/nano                  # the FastCGI sockets

die() { echo "install: $*" >&2; exit 1; }

# subst IN OUT MODE: a template with the paths of this install filled in.
subst() {
    mkdir -p "$(dirname "$2")"
    sed -e "s|@LIBDIR@|$LIBDIR|g" -e "s|@DATADIR@|$DATADIR|g" \
        -e "s|@CONFDIR@|$CONFDIR|g" -e "s|@MEDIADIR@|$MEDIADIR|g" \
        -e "s|@RUNDIR@|$RUNDIR|g" -e "s|@WEB_USER@|$WEB_USER|g" \
        -e "s|@WEB_GROUP@|$WEB_GROUP|g" \
        -e "s|@NGINX_CONFDIR@|$NGINX_CONFDIR|g" "$1" >"$2.tmp"
    if grep -n '@[A-Z_]*@' "$2.tmp" >&2; then
        rm -f "$2.tmp"
        die "$1 has placeholders this script does not know"
    fi
    chmod "$3" "$2.tmp"
    mv -f "$2.tmp" "$2"
}

# kept FILE: 0 when FILE is there already and is the operator's to keep
# (the environment files, the packs: DATABASE_URL, provider keys, Stripe's
# secrets), said so; an install run again over a system (a module added
# later, an upgrade by hand) wrote the templates over them, every key
# gone.  The packages lay out into an empty DESTDIR; dpkg keeps conffiles.
kept() {
    [ -e "$1" ] || return 1
    echo "install: kept $1 as it is"
}

# provider_key PROVIDER: the variable holding its API key
# (backends/lib/nano_provider.c), empty for offline modules.
provider_key() {
    case $1 in
        gemini) echo GEMINI_API_KEY ;;
        ark) echo ARK_API_KEY ;;
        dashscope | wan) echo DASHSCOPE_API_KEY ;;
        xai) echo XAI_API_KEY ;;
        openai) echo OPENAI_API_KEY ;;
    esac
}

install_platform() {
    local d=$DESTDIR app f name kind provider title key
    # shellcheck source=scripts/lib/registry.sh
    . scripts/lib/registry.sh
    mapfile -t apps < <(echo platform; registry_modules)

    # backends and the real tools, off PATH
    install -d "$d$LIBDIR/bin"
    for app in "${apps[@]}" migrate admin; do
        [ -x "$B/bin/nano-$app" ] || die "$B/bin/nano-$app is missing (make apps tools)"
        install -m 0755 "$B/bin/nano-$app" "$d$LIBDIR/bin/nano-$app"
    done
    subst ops/nano-setup.in "$d$LIBDIR/nano-setup" 0755
    subst ops/nano-tool.in "$d$LIBDIR/nano-tool" 0755
    install -d "$d$PREFIX/sbin"
    ln -sfn "../lib/nano/nano-tool" "$d$PREFIX/sbin/nano-migrate"
    ln -sfn "../lib/nano/nano-tool" "$d$PREFIX/sbin/nano-admin"
    install -d "$d$PREFIX/share/man/man8"
    install -m 0644 ops/man/nano-migrate.8 ops/man/nano-admin.8 \
        "$d$PREFIX/share/man/man8/"

    # NANO_ROOT: each app's pages, the shared look, the migrations
    for app in "${apps[@]}"; do
        install -d "$d$DATADIR/backends/$app/public"
        install -m 0644 backends/"$app"/public/* "$d$DATADIR/backends/$app/public/"
    done
    install -d "$d$DATADIR/backends/ui"
    for f in backends/ui/*.css backends/ui/*.js backends/ui/*.svg; do
        install -m 0644 "$f" "$d$DATADIR/backends/ui/"
    done
    install -d "$d$DATADIR/sql"
    install -m 0644 sql/[0-9]*.sql "$d$DATADIR/sql/"
    subst ops/nginx-site.conf.in "$d$DATADIR/nginx-site.conf" 0644
    # phase 2's server block to copy per module (its @NAMES@ are the
    # operator's to fill in, so it stays a template)
    install -m 0644 nginx.conf.d/subdomain.conf.in "$d$DATADIR/subdomain.conf.in"
    install -m 0644 docs/OPERATIONS.md "$d$DATADIR/OPERATIONS.md"

    # nginx snippets: /etc/nginx/nano/, included as nano/<file>
    install -d "$d$NGINX_CONFDIR/nano/modules"
    for f in nginx.conf.d/*.conf; do
        install -m 0644 "$f" "$d$NGINX_CONFDIR/nano/"
    done
    install -m 0644 nginx.conf.d/modules/*.conf "$d$NGINX_CONFDIR/nano/modules/"
    {
        printf '# Where each backend listens: the socket of nano@<app>.socket.\n'
        printf '# One line per app of %s/modules.conf; keep the names.\n' "$CONFDIR"
        registry_upstreams unix "$RUNDIR" | grep -v '^#'
    } >"$d$NGINX_CONFDIR/nano/upstreams.conf"

    # /etc/nano: the registry, environment files (root only: they may hold
    # DATABASE_URL's password and provider keys)
    install -d -m 0755 "$d$CONFDIR"
    install -m 0644 modules.conf "$d$CONFDIR/modules.conf"
    [ ! -f packs.conf ] || kept "$d$CONFDIR/packs.conf" \
        || install -m 0644 packs.conf "$d$CONFDIR/packs.conf"
    kept "$d$CONFDIR/common.env" \
        || subst ops/common.env.in "$d$CONFDIR/common.env" 0640
    while read -r name kind provider title; do
        kept "$d$CONFDIR/$name.env" && continue
        key=$(provider_key "$provider")
        {
            printf '# Environment of nano@%s.service (%s, %s), read after\n' "$name" "$title" "$kind"
            printf '# common.env.  NANO_* tuning: README.md.\n'
            if [ -n "$key" ]; then
                printf '# Without its key the module runs its offline provider.\n'
                printf '#%s=\n' "$key"
                printf "# The provider's API root (unset: its own; a proxy's, a region's).\n"
                printf '#%s=\n' "${key%_API_KEY}_BASE_URL"
            fi
        } >"$d$CONFDIR/$name.env"
        chmod 0640 "$d$CONFDIR/$name.env"
    done < <(registry_lines)
    kept "$d$CONFDIR/platform.env" \
        || subst ops/platform.env.in "$d$CONFDIR/platform.env" 0640

    # systemd: one socket/service pair for every app, and the platform's
    # own additions
    subst ops/systemd/nano@.socket.in "$d$UNITDIR/nano@.socket" 0644
    subst ops/systemd/nano@.service.in "$d$UNITDIR/nano@.service" 0644
    subst ops/systemd/platform.conf.in \
        "$d$UNITDIR/nano@platform.service.d/platform.conf" 0644
}

# The gateway module and its load_module line, where Debian's module
# packages put them (the package gets them from dh_nginx instead).
install_module() {
    local d=$DESTDIR so=$B/modules/ngx_http_nano_auth_module.so
    [ -f "$so" ] || die "$so is missing (make module)"
    install -d "$d$NGINX_MODDIR" "$d$PREFIX/share/nginx/modules-available"
    install -m 0644 "$so" "$d$NGINX_MODDIR/"
    printf 'load_module %s/ngx_http_nano_auth_module.so;\n' "$NGINX_MODDIR" \
        >"$d$PREFIX/share/nginx/modules-available/mod-http-nano-auth.conf"
}

case ${1:-all} in
    platform) install_platform ;;
    module) install_module ;;
    all) install_module; install_platform ;;
    *) die "usage: install.sh platform | module | all" ;;
esac
