#!/usr/bin/env bash
# `make run`: brings the whole platform up in the foreground and supervises
# it.  One process (this script) starts a private PostgreSQL cluster (or
# uses DATABASE_URL), the seven backends on unix sockets in
# .state/run/sock/ (mode 0660, nginx's group: whoever reaches a FastCGI
# socket can claim any identity, and a loopback port is open to every
# local user) and the system's nginx with our module on PORT; INT, TERM
# or HUP stops them all.
#
# Environment: PORT (8080), NANO_LISTEN (unix, or tcp for the ports the
# registry derives from the names), NEXTAUTH_URL (http://localhost:$PORT),
# NEXTAUTH_SECRET (generated once into .state/secret when unset),
# DATABASE_URL (unset: private cluster in .state/run/pg, migrations applied;
# set: the migration plan is printed, applied only with NANO_MIGRATE=apply).
#
# A backend that dies is reported and started again after a backoff (1 s,
# doubling up to 30 s while it keeps dying); the rest stays up (the
# gateway answers 502 for that module meanwhile).  postgres that dies is
# reported (503 where the database is needed); when nginx dies nothing is
# reachable, so everything is stopped.
set -euo pipefail

STACK_MODE=run
STACK_STATE=$(cd "$(dirname "$0")/.." && pwd)/.state/run
# shellcheck source=scripts/lib/stack.sh
. "$(dirname "$0")/lib/stack.sh"
# A write to a terminal pipe that is gone (`make run 2>&1 | tee log`,
# whose tee the same ^C ends) must not kill the supervisor before it has
# stopped what it started: it left PostgreSQL, nginx and every backend
# running.  Caught, not ignored, so that the children get the default.
trap : PIPE

# The settings first: a bad one stops the run before it touches anything.
STACK_PORT=${PORT:-8080}
# plain digits: a leading 0 is octal to the port check's printf
case $STACK_PORT in
    '' | 0* | *[!0-9]*) stack_die "PORT must be a port number from 1 to 65535, not '$STACK_PORT'" ;;
esac
if [ "${#STACK_PORT}" -gt 5 ] || [ "$STACK_PORT" -gt 65535 ]; then
    stack_die "PORT must be a port number from 1 to 65535, not '$STACK_PORT'"
fi
# shellcheck disable=SC2031 # the caller's; stack.sh sets it for children only
STACK_URL=${NEXTAUTH_URL:-http://localhost:$STACK_PORT}
STACK_URL=${STACK_URL%/}
# the platform refused it too, but only once the database was up and
# migrated
case $STACK_URL in
    http://[!/]* | https://[!/]*) ;;
    *) stack_die "NEXTAUTH_URL must be an http(s) URL such as http://localhost:$STACK_PORT, not '$STACK_URL'" ;;
esac
STACK_LISTEN=${NANO_LISTEN:-unix}
case $STACK_LISTEN in
    unix | tcp) ;;
    *) stack_die "NANO_LISTEN must be unix or tcp, not '$STACK_LISTEN'" ;;
esac
STACK_READ_TIMEOUT=${NANO_READ_TIMEOUT:-60s}
# nginx's read timeout and, five sixths of it, the modules' limit on a
# whole text answer: a value nginx reads another way (1h, 500ms) left
# the modules at 50 s in silence
stack_read_timeout_secs "$STACK_READ_TIMEOUT" >/dev/null ||
    stack_die "NANO_READ_TIMEOUT must be seconds (N or Ns) or minutes (Nm) from 2s to 72m, not '$STACK_READ_TIMEOUT'"
# any other word only printed the plan, and the stack came up on the
# database the operator meant to migrate
case ${NANO_MIGRATE:-} in
    '' | apply) ;;
    *) stack_die "NANO_MIGRATE must be apply (or unset: the plan is printed, not applied), not '$NANO_MIGRATE'" ;;
esac

# the backends' own name for the media folder: make run's backends and
# its nginx both take it (it was replaced by .state/run/media in silence)
# shellcheck disable=SC2031 # the caller's, not the one stack.sh sets in a backend's subshell
STACK_MEDIA_DIR=${STACK_MEDIA_DIR:-${NANO_MEDIA_DIR:-}}
case $STACK_MEDIA_DIR in
    '' | /*) ;;
    *) stack_die "NANO_MEDIA_DIR must be an absolute path, not '$STACK_MEDIA_DIR'" ;;
esac

stack_init
cd "$STACK_ROOT"
stack_lock nowait || exit 1     # one make run per checkout
STACK_SECRET_FILE=$STACK_STATE/keys
STACK_UPSTREAMS=$STACK_STATE/upstreams.conf
# shellcheck disable=SC2031 # the caller's; stack.sh sets it for children only
STACK_DB_URL=${DATABASE_URL:-}
STACK_OWN_DB=
[ -n "$STACK_DB_URL" ] || STACK_OWN_DB=1

# --- secret -----------------------------------------------------------------
if [ -n "${NEXTAUTH_SECRET:-}" ]; then
    stack_check_secret "$NEXTAUTH_SECRET" NEXTAUTH_SECRET
    secret=$NEXTAUTH_SECRET
else
    secret_file=$STACK_ROOT/.state/secret
    if [ ! -s "$secret_file" ]; then
        (umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$secret_file.tmp")
        mv -f "$secret_file.tmp" "$secret_file"
        stack_log "generated a session secret into .state/secret (kept for later runs)"
    fi
    chmod 0600 "$secret_file"
    secret=$(cat "$secret_file")
    stack_check_secret "$secret" "$secret_file"
fi
stack_write_keys "$STACK_SECRET_FILE" "$secret"
unset secret

# --- lock, leftovers and ports --------------------------------------------------------
stack_stop_leftovers
stack_check_ports "set PORT to a free port for nginx" "$STACK_PORT" || exit 1
if [ "$STACK_LISTEN" = tcp ]; then
    ports=()
    for app in "${STACK_APPS[@]}"; do ports+=("$(registry_port "$app")"); done
    stack_check_ports "the backends need 127.0.0.1:${ports[*]}; stop what listens there (is another make run up?)" \
        "${ports[@]}" || exit 1
fi
stack_upstreams "$STACK_UPSTREAMS" || exit 1

# --- start, supervise, stop ----------------------------------------------------
stopping=
shutdown() {
    [ -n "$stopping" ] && return
    stopping=1
    trap '' INT TERM HUP          # a second ^C must not cut the shutdown short
    stack_log "stopping nginx, backends${STACK_OWN_DB:+ and postgres}"
    stack_stop
    stack_log "stopped"
}
trap shutdown EXIT
trap 'stack_log "got SIGINT"; exit 0' INT
trap 'stack_log "got SIGTERM"; exit 0' TERM
trap 'stack_log "got SIGHUP"; exit 0' HUP

if [ -z "$STACK_OWN_DB" ]; then
    stack_log "using DATABASE_URL (no private cluster); migration plan:"
    if [ "${NANO_MIGRATE:-}" = apply ]; then
        stack_migrate apply || stack_die "migrations failed"
    else
        stack_migrate plan || stack_die "cannot read the migration state"
        stack_log "not applied: run with NANO_MIGRATE=apply to apply this plan"
    fi
fi
stack_start || exit 1

cat >&2 <<EOF

  Nano Banana is up: $STACK_URL/
  (nginx on port $STACK_PORT over plain http$(case $STACK_URL in https:*) echo ": put your TLS front before it";; esac), backends on $(if [ "$STACK_LISTEN" = unix ]; then echo "unix sockets in .state/run/sock/"; else echo "127.0.0.1 ports (.state/run/upstreams.conf)"; fi), logs in .state/run/logs/)
  Press Ctrl-C to stop.

EOF

# what stackctl.sh stopped in an earlier run is this run's to start
rm -f "$STACK_STATE"/pids/*.stopped
supervised=(nginx "${STACK_APPS[@]}")
[ -n "$STACK_OWN_DB" ] && supervised+=(postgres)
# A backend that dies is started again after a backoff: 1 s, doubling
# while it keeps dying within a minute of its start, at most 30 s.
declare -A restart_at=() backoff=() up_since=()
for name in "${STACK_APPS[@]}"; do up_since[$name]=$SECONDS; done
while :; do
    sleep 1 &
    wait $! || true
    for name in "${!restart_at[@]}"; do
        [ "$SECONDS" -ge "${restart_at[$name]}" ] || continue
        unset "restart_at[$name]"
        # stopped with stackctl.sh while it waited: it stays stopped
        if [ -e "$STACK_STATE/pids/$name.stopped" ]; then
            stack_log "backend $name was stopped with stackctl.sh; not restarted"
            continue
        fi
        if stack_backend_start "$name"; then
            stack_log "backend $name restarted (after ${backoff[$name]} s)"
            up_since[$name]=$SECONDS
        else
            rm -f "$STACK_STATE/pids/$name.pid"
            backoff[$name]=$(( backoff[$name] * 2 > 30 ? 30 : backoff[$name] * 2 ))
            restart_at[$name]=$(( SECONDS + backoff[$name] ))
            stack_log "backend $name did not start; trying again in ${backoff[$name]} s"
        fi
    done
    for name in "${supervised[@]}"; do
        # A missing pid file means stackctl.sh stopped it on purpose.
        [ -e "$STACK_STATE/pids/$name.pid" ] || continue
        stack_pid "$name" >/dev/null && continue
        case $name in
            nginx)
                stack_log "nginx exited unexpectedly; see .state/run/logs/nginx-error.log"
                stack_log_tail "$STACK_STATE/logs/nginx-error.log" 5
                # its workers outlive a master killed outright, and kept
                # serving the port after everything else had stopped
                stack_kill nginx TERM 10
                exit 1 ;;
            postgres)
                stack_log "postgres exited unexpectedly; see .state/run/logs/postgres.log"
                stack_log "requests that need the database answer 503 until it is back (scripts/stackctl.sh --state .state/run start-db)" ;;
            *)
                stack_log "backend $name exited unexpectedly; see .state/run/logs/$name.log"
                stack_log_tail "$STACK_STATE/logs/$name.log" 5
                if [ $(( SECONDS - ${up_since[$name]:-0} )) -lt 60 ] && [ -n "${backoff[$name]:-}" ]; then
                    backoff[$name]=$(( backoff[$name] * 2 > 30 ? 30 : backoff[$name] * 2 ))
                else
                    backoff[$name]=1
                fi
                restart_at[$name]=$(( SECONDS + backoff[$name] ))
                [ "$name" = platform ] && path=/ || path=/$name/
                stack_log "$path answers 502 meanwhile; restarting it in ${backoff[$name]} s" ;;
        esac
        rm -f "$STACK_STATE/pids/$name.pid"
    done
done
