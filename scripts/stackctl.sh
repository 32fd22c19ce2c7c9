#!/usr/bin/env bash
# Acts on a running local stack (the one `make test` or `make run` started),
# for tests and operators:
#   stackctl.sh [--state DIR] stop-backend APP | start-backend APP |
#                             restart-backend APP | stop-db | start-db |
#                             restart-db | status
# DIR defaults to $NANO_TEST_STATE, else .state/test.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state=${NANO_TEST_STATE:-$root/.state/test}
if [ "${1:-}" = --state ]; then
    [ -n "${2:-}" ] || { echo "stackctl: --state needs a folder" >&2; exit 2; }
    state=$2
    shift 2
fi
case $state in /*) ;; *) state=$(pwd)/$state ;; esac
[ -r "$state/stack.env" ] || { echo "stackctl: no stack in $state (no stack.env)" >&2; exit 1; }

# shellcheck disable=SC1091
. "$state/stack.env"
# the stack's own mode decides how its postgres runs: a test stack's
# restarted by start-db came back with fsync and synchronous_commit on,
# and every later test file ran on that (a commit then waited for
# jobs_admit_lost's standby that never comes)
STACK_PG_MODE=$STACK_MODE
STACK_MODE=stackctl
# shellcheck source=scripts/lib/stack.sh
. "$(dirname "$0")/lib/stack.sh"
stack_init

need_app() {
    local a
    for a in "${STACK_APPS[@]}"; do [ "$a" = "${1:-}" ] && return 0; done
    stack_die "unknown app '${1:-}' (one of: ${STACK_APPS[*]})"
}
need_db() {
    [ -n "$STACK_OWN_DB" ] || stack_die "this stack uses an external DATABASE_URL; it does not manage postgres"
}

# says what became of a backend: stackctl.sh said nothing on success
said_started() {
    local pid
    pid=$(stack_pid "$1") || pid='?'
    stack_log "$1 $2 (pid $pid)"
}

cmd=${1:-}
case $cmd in
    # <app>.stopped tells make run's supervisor not to start it again,
    # for a backend stopped while it waited out its restart's backoff
    stop-backend)
        need_app "${2:-}"
        : >"$STACK_STATE/pids/$2.stopped"
        if stack_pid "$2" >/dev/null; then
            stack_backend_stop "$2"
            stack_log "$2 stopped"
        else
            stack_log "$2 was not running"
        fi ;;
    # the gateway's nano_auth_max_age follows the platform's lifetime
    start-backend)
        need_app "${2:-}"
        rm -f "$STACK_STATE/pids/$2.stopped"
        # stack_backend_start says itself when it is already running
        was=$(stack_pid "$2") || was=''
        stack_backend_start "$2"
        [ -n "$was" ] || said_started "$2" started
        [ "$2" != platform ] || stack_nginx_follow_platform ;;
    restart-backend)
        need_app "${2:-}"
        rm -f "$STACK_STATE/pids/$2.stopped"
        stack_backend_stop "$2"
        stack_backend_start "$2"
        said_started "$2" restarted
        [ "$2" != platform ] || stack_nginx_follow_platform ;;
    stop-db) need_db; stack_pg_stop ;;
    start-db)
        need_db
        if stack_pid postgres >/dev/null; then
            stack_log "postgres is already running"
        else
            stack_pg_start
        fi ;;
    restart-db) need_db; stack_pg_stop; stack_pg_start ;;
    status) stack_status nginx "${STACK_APPS[@]}" postgres ;;
    *)
        sed -n '2,8s/^# \{0,1\}//p' "$0" >&2
        exit 2 ;;
esac
