#!/usr/bin/env bash
# A second gateway host beside a running local stack (several hosts, one
# database): its own nginx on PORT and its own backends (sockets, logs,
# revocation file, job runners), sharing the first stack's PostgreSQL,
# key file, media folder and per-app settings (env.d).  Both hosts serve
# one origin, the first stack's NEXTAUTH_URL, as two hosts behind one
# load balancer do.  docs/HOSTS.md says what holds and why.
#
#   peer.sh [--state DIR] start PORT | stop | status
#
# DIR is the first stack's state dir ($NANO_TEST_STATE, else .state/test);
# the peer lives in DIR-peer.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
first=${NANO_TEST_STATE:-$root/.state/test}
if [ "${1:-}" = --state ]; then
    first=$2
    shift 2
fi
case $first in /*) ;; *) first=$(pwd)/$first ;; esac
[ -r "$first/stack.env" ] || { echo "peer: no stack in $first (no stack.env)" >&2; exit 1; }

# shellcheck disable=SC1091
. "$first/stack.env"
[ -n "$STACK_DB_URL" ] || { echo "peer: the stack in $first has no DATABASE_URL" >&2; exit 1; }
STACK_MODE=peer
STACK_STATE=$first-peer
# shellcheck source=scripts/lib/stack.sh
. "$(dirname "$0")/lib/stack.sh"
stack_init

cmd=${1:-}
case $cmd in
    start)
        [[ ${2:-} =~ ^[0-9]+$ ]] || stack_die "usage: peer.sh start PORT"
        stack_stop_leftovers
        STACK_PORT=$2
        stack_check_ports "choose another port for the peer" "$STACK_PORT" || exit 1
        # the database is the first stack's: never started or stopped here
        STACK_OWN_DB=
        STACK_MEDIA_DIR=${STACK_MEDIA_DIR:-$first/media}
        STACK_LISTEN=unix
        STACK_UPSTREAMS=$STACK_STATE/upstreams.conf
        rm -rf "$STACK_STATE/env.d"
        [ -d "$first/env.d" ] && cp -r "$first/env.d" "$STACK_STATE/env.d"
        stack_upstreams "$STACK_UPSTREAMS"
        stack_save_env
        if ! stack_start; then
            stack_stop
            exit 1
        fi
        stack_log "second host on 127.0.0.1:$STACK_PORT (state $STACK_STATE)" ;;
    stop)
        if [ -r "$STACK_STATE/stack.env" ]; then
            # shellcheck disable=SC1091
            . "$STACK_STATE/stack.env"
        fi
        stack_stop ;;
    status)
        for name in nginx "${STACK_APPS[@]}"; do
            if pid=$(stack_pid "$name"); then
                printf '%-12s running (pid %s)\n' "$name" "$pid"
            else
                printf '%-12s stopped\n' "$name"
            fi
        done ;;
    *)
        sed -n '9,12s/^# \{0,1\}//p' "$0" >&2
        exit 2 ;;
esac
