#!/usr/bin/env bash
# Another gateway host beside a running local stack: its own nginx on
# PORT and its own backends (sockets, logs, revocation file, job
# runners), sharing the first stack's PostgreSQL, key file, media folder
# and per-app settings (env.d).
#
#   peer.sh [--state DIR] [--name NAME] [--db URL] start PORT [--site DOMAIN]
#   peer.sh [--state DIR] [--name NAME] stop | status
#
# DIR is the first stack's state dir ($NANO_TEST_STATE, else .state/test);
# the peer lives in DIR-NAME (NAME: peer).  --db gives the peer another
# DATABASE_URL to the same database, such as a pooler in front of it
# (tests/integration/pooler.test.mjs).
#
# Without --site both hosts serve one origin, the first stack's
# NEXTAUTH_URL, as two hosts behind one load balancer do (several hosts,
# docs/HOSTS.md).  With --site DOMAIN the peer is a phase 2 deployment of
# its own: the platform on http://DOMAIN:PORT, seedream also on its own
# subdomain http://seedream.DOMAIN:PORT (nginx.conf.d/subdomain.conf.in),
# one session cookie for *.DOMAIN (NANO_COOKIE_DOMAIN, NANO_ORIGINS); a
# client reaches both names on 127.0.0.1:PORT with a Host header.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
first=${NANO_TEST_STATE:-$root/.state/test}
name=peer
db=
while :; do
    case ${1:-} in
        --state) first=$2; shift 2 ;;
        --name) name=$2; shift 2 ;;
        --db) db=$2; shift 2 ;;
        *) break ;;
    esac
done
[[ $name =~ ^[a-z0-9-]+$ ]] || { echo "peer: bad name '$name'" >&2; exit 2; }
case $first in /*) ;; *) first=$(pwd)/$first ;; esac
[ -r "$first/stack.env" ] || { echo "peer: no stack in $first (no stack.env)" >&2; exit 1; }

# shellcheck disable=SC1091
. "$first/stack.env"
[ -n "$STACK_DB_URL" ] || { echo "peer: the stack in $first has no DATABASE_URL" >&2; exit 1; }
[ -z "$db" ] || STACK_DB_URL=$db
STACK_MODE=$name
STACK_STATE=$first-$name
# shellcheck source=scripts/lib/stack.sh
. "$(dirname "$0")/lib/stack.sh"
stack_init

# peer_site DOMAIN: the phase 2 settings of a peer on DOMAIN.
peer_site() {
    local domain=$1 sub app
    [[ $domain =~ ^[a-z0-9-]+(\.[a-z0-9-]+)+$ ]] || stack_die "--site needs a domain name, not '$domain'"
    sub=http://seedream.$domain:$STACK_PORT
    STACK_URL=http://$domain:$STACK_PORT
    STACK_ORIGINS=$sub
    STACK_SUBDOMAINS="seedream $sub"
    mkdir -p "$STACK_STATE/env.d"
    for app in "${STACK_APPS[@]}"; do
        printf 'NANO_ORIGINS=%s\nNANO_COOKIE_DOMAIN=%s\n' "$sub" "$domain" \
            >>"$STACK_STATE/env.d/$app"
    done
}

cmd=${1:-}
case $cmd in
    start)
        [[ ${2:-} =~ ^[0-9]+$ ]] || stack_die "usage: peer.sh start PORT [--site DOMAIN]"
        stack_stop_leftovers
        STACK_PORT=$2
        stack_check_ports "choose another port for the peer" "$STACK_PORT" || exit 1
        # the database is the first stack's: never started or stopped here
        STACK_OWN_DB=
        STACK_MEDIA_DIR=${STACK_MEDIA_DIR:-$first/media}
        STACK_LISTEN=unix
        STACK_UPSTREAMS=$STACK_STATE/upstreams.conf
        STACK_ORIGINS='' STACK_SUBDOMAINS=''
        rm -rf "$STACK_STATE/env.d"
        [ -d "$first/env.d" ] && cp -r "$first/env.d" "$STACK_STATE/env.d"
        if [ "${3:-}" = --site ]; then
            peer_site "${4:-}"
        fi
        stack_upstreams "$STACK_UPSTREAMS"
        stack_save_env
        if ! stack_start; then
            stack_stop
            exit 1
        fi
        stack_log "another host on 127.0.0.1:$STACK_PORT as $STACK_URL (state $STACK_STATE)" ;;
    stop)
        if [ -r "$STACK_STATE/stack.env" ]; then
            # shellcheck disable=SC1091
            . "$STACK_STATE/stack.env"
        fi
        stack_stop ;;
    status) stack_status nginx "${STACK_APPS[@]}" ;;
    *)
        sed -n '5,6s/^# \{0,1\}//p' "$0" >&2
        exit 2 ;;
esac
