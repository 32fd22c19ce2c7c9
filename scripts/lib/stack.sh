# shellcheck shell=bash
# The local stack machinery shared by scripts/run.sh, scripts/test.sh and
# scripts/stackctl.sh: key file, private PostgreSQL cluster, migrations,
# nginx config and process, the seven backends, and pid bookkeeping.
#
# Every process the stack starts is recorded in $STACK_STATE/pids/<name>.pid
# as "<pid> <start time>", so a later run (or stackctl.sh) can tell its own
# leftovers from an unrelated process that reused the pid.
#
# Callers set, before stack_init:
#   STACK_MODE   run | test          (log prefix, postgres tuning)
#   STACK_PG_MODE  the mode whose postgres tuning applies (stackctl.sh:
#                the stack's, while its own STACK_MODE names the log)
#   STACK_STATE  absolute state dir  (.state/run or .state/test)
# and, before stack_start / stack_save_env:
#   STACK_PORT, STACK_URL (NEXTAUTH_URL), STACK_LISTEN (tcp | unix),
#   STACK_READ_TIMEOUT, STACK_DB_URL (empty: private cluster),
#   STACK_SECRET_FILE, STACK_UPSTREAMS (where stack_upstreams writes them),
#   STACK_RATELIMIT (the rate-limit include: nano/ratelimit.conf).

# shellcheck source=scripts/lib/registry.sh
. "$(dirname "${BASH_SOURCE[0]}")/registry.sh"
# The platform and every module of the registry (modules.conf).
mapfile -t STACK_APPS < <(echo platform; registry_modules)

# Never fails: with the terminal gone (closed, or a `| tee` ended by the
# same ^C) a failed write under set -e ended run.sh's shutdown at its
# first line, and left the whole stack running.
stack_log() { printf '%s: %s\n' "${STACK_MODE:-stack}" "$*" >&2 || true; }
stack_die() { stack_log "$*"; exit 1; }

# stack_need PACKAGE CMD [ARG...]: a tool only a diagnostic uses (so not
# in scripts/deps.sh): when CMD ARG... fails, PACKAGE is installed (root)
# or the caller stops, saying which package is missing.
stack_need() {
    local pkg=$1
    shift
    "$@" >/dev/null 2>&1 && return 0
    [ "$(id -u)" = 0 ] || stack_die "$1 missing (apt-get install $pkg)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null ||
        stack_die "could not install $pkg"
}

# stack_init: paths derived from the repo root and the state dir.
stack_init() {
    STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    : "${STACK_STATE:?STACK_STATE not set}"
    STACK_BIN=$STACK_ROOT/build/bin
    STACK_MODULE_SO=$STACK_ROOT/build/modules/ngx_http_nano_auth_module.so
    STACK_CONF_DIR=$STACK_ROOT/nginx.conf.d
    STACK_NGINX=${NGINX:-/usr/sbin/nginx}
    mkdir -p "$STACK_STATE/pids" "$STACK_STATE/logs" "$STACK_STATE/sock"
}

# stack_lock WAIT: takes $STACK_STATE.lock on fd 9 for this process's
# lifetime, so two stacks never share one state dir.  WAIT=wait waits for
# the holder (a second make test), WAIT=nowait fails (a second make run).
stack_lock() {
    local lock=$STACK_STATE.lock holder
    mkdir -p "$(dirname "$lock")"
    exec 9>>"$lock"
    flock -n 9 && { echo $$ >"$lock.pid"; return 0; }
    holder=$(cat "$lock.pid" 2>/dev/null) || holder='?'
    if [ "$1" = nowait ]; then
        stack_log "another stack is running on $STACK_STATE (pid $holder); stop it first"
        return 1
    fi
    stack_log "another stack is running on $STACK_STATE (pid $holder); waiting for it"
    flock -w 1800 9 || { stack_log "gave up waiting for $lock"; return 1; }
    echo $$ >"$lock.pid"
}

# --- processes ----------------------------------------------------------

# stack_read_starttime PID: sets STACK_STARTTIME to the kernel's start
# time of PID (field 22 of stat), with builtins only.  run.sh's
# supervisor asks it of every process each second, and a non-interactive
# bash drops a ^C that comes while it waits for a child which then exits
# normally (it takes the child for one that handled the ^C): one ^C in a
# few was lost while the loop read the stat files with cat.
stack_read_starttime() {
    local stat
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    stat=${stat##*) }             # drop "pid (comm) ", comm may hold spaces
    # shellcheck disable=SC2086
    set -- $stat                  # now $1 is field 3 (state)
    [ "$1" != Z ] || return 1     # a zombie is as good as dead
    STACK_STARTTIME=${20}
}

# stack_starttime PID: prints the kernel's start time of PID.
stack_starttime() {
    stack_read_starttime "$1" || return 1
    printf '%s\n' "$STACK_STARTTIME"
}

# stack_pid NAME: prints the pid recorded for NAME when that very process
# is still alive; fails otherwise.  Forks nothing (stack_read_starttime).
stack_pid() {
    local f=$STACK_STATE/pids/$1.pid pid start
    [ -r "$f" ] || return 1
    read -r pid start <"$f" || true
    [ -n "$pid" ] || return 1
    stack_read_starttime "$pid" || return 1
    [ "$STACK_STARTTIME" = "$start" ] || return 1
    printf '%s\n' "$pid"
}

# stack_status NAME...: one line for each NAME, running (with its pid)
# or stopped, as stack_pid finds it.
stack_status() {
    local name pid
    for name in "$@"; do
        if pid=$(stack_pid "$name"); then
            printf '%-12s running (pid %s)\n' "$name" "$pid"
        else
            printf '%-12s stopped\n' "$name"
        fi
    done
}

stack_record() {
    local start
    start=$(stack_starttime "$2") || start=0
    printf '%s %s\n' "$2" "$start" >"$STACK_STATE/pids/$1.pid"
}

# stack_spawn NAME LOGFILE CMD...: starts CMD in its own session (so a ^C
# in the terminal reaches only the supervisor, which stops children in
# order), stdin from /dev/null, output appended to LOGFILE.
stack_spawn() {
    local name=$1 logfile=$2
    shift 2
    printf -- '--- %s: %s starting\n' "$(date '+%F %T')" "$name" >>"$logfile"
    # fd 9 is the caller's stack lock (stack_lock): children must not keep it.
    setsid "$@" </dev/null >>"$logfile" 2>&1 9>&- &
    stack_record "$name" "$!"
}

# stack_session_left SID START: the processes left in the session SID
# (a leader stack_spawn started with setsid) that started no earlier than
# it did, START being its start time.  A leader killed outright leaves
# them: nginx's workers outlive a master ended by SIGKILL, keep serving
# its port and hold it against the next make run.
stack_session_left() {
    local sid=$1 start=$2 f stat
    for f in /proc/[0-9]*/stat; do
        read -r stat 2>/dev/null <"$f" || continue
        stat=${stat##*) }
        # shellcheck disable=SC2086
        set -- $stat              # $1 is field 3 (state), $4 field 6 (session)
        if [ "$4" = "$sid" ] && [ "$1" != Z ] && [ "${20}" -ge "$start" ]; then
            f=${f#/proc/}
            printf '%s\n' "${f%/stat}"
        fi
    done
}

# stack_kill_session NAME SIGNAL PID START: signals what is left of the
# session of NAME's process PID started at START (stack_session_left),
# waits up to 2 s, then SIGKILLs it.
stack_kill_session() {
    local name=$1 sig=$2 pid=$3 start=$4 left i
    [ -n "$pid" ] && [ -n "$start" ] || return 0
    left=$(stack_session_left "$pid" "$start")
    [ -n "$left" ] || return 0
    stack_log "ending what $name left running (pids ${left//$'\n'/ })"
    # shellcheck disable=SC2086
    kill -s "$sig" $left 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do
        [ -n "$(stack_session_left "$pid" "$start")" ] || return 0
        sleep 0.1
    done
    # shellcheck disable=SC2046
    kill -KILL $(stack_session_left "$pid" "$start") 2>/dev/null || true
}

# stack_kill NAME SIGNAL TIMEOUT: signals NAME's recorded process, waits up
# to TIMEOUT seconds, then SIGKILLs it, then what is left of its session.
# Forgets the pid file first: run.sh's supervisor takes a process that is
# gone while its file is there for one that died, and it started a
# backend stackctl.sh was stopping again a second later.
stack_kill() {
    local name=$1 sig=$2 timeout=$3 f=$STACK_STATE/pids/$1.pid pid='' start='' i
    if [ -r "$f" ]; then
        read -r pid start <"$f" || true
    fi
    rm -f "$f"
    if [ -n "$pid" ] && [ "$(stack_starttime "$pid")" = "$start" ]; then
        kill -s "$sig" "$pid" 2>/dev/null || true
        for ((i = 0; i < timeout * 10; i++)); do
            stack_starttime "$pid" >/dev/null || break
            sleep 0.1
        done
        if stack_starttime "$pid" >/dev/null; then
            stack_log "$name (pid $pid) ignored SIG$sig for ${timeout}s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
        fi
    fi
    stack_kill_session "$name" "$sig" "$pid" "$start"
}

# stack_port_in_use PORT: something listens on PORT (any address, v4/v6).
stack_port_in_use() {
    local hex
    hex=$(printf ':%04X' "$1")
    awk -v p="$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
                     END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# stack_log_tail FILE: the last lines of a log, indented, for error messages.
stack_log_tail() {
    [ -s "$1" ] || return 0
    tail -n "${2:-15}" "$1" | sed 's/^/    /' >&2 || true      # as stack_log
}

# --- secret and key file ------------------------------------------------

# stack_check_secret VALUE WHAT: at least 32 bytes, one line.
stack_check_secret() {
    local LC_ALL=C
    case $1 in
        *$'\n'* | *$'\r'*) stack_die "$2 must be a single line" ;;
    esac
    [ "${#1}" -ge 32 ] ||
        stack_die "$2 is ${#1} bytes; it must be at least 32 bytes (e.g. openssl rand -base64 48)"
}

# stack_write_keys FILE KEY...: the key file nginx and the platform share,
# mode 0600, one key per line, the first one signs.
stack_write_keys() {
    local file=$1 tmp
    shift
    tmp=$file.tmp.$$
    (umask 077 && printf '%s\n' "$@" >"$tmp")
    mv -f "$tmp" "$file"
}

# --- PostgreSQL: a private cluster reachable on a unix socket only -------

stack_pg_bindir() {
    local d best=""
    for d in /usr/lib/postgresql/*/bin; do
        { [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; } || continue
        if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$best" "$d" | sort -V | tail -n 1)" = "$d" ]; then
            best=$d
        fi
    done
    [ -n "$best" ] || stack_die "no PostgreSQL server found under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
    printf '%s\n' "$best"
}

# stack_as_pg CMD...: runs CMD as the cluster owner: postgres when we are
# root (initdb and postgres refuse to run as root).  setpriv and env
# exec, so a backgrounded "${STACK_AS_PG[@]}" command's $! is the
# command's own pid.  From /: in a checkout postgres cannot enter
# (/root/src) both logs began with "could not change directory ...
# Permission denied".
stack_as_pg() { "${STACK_AS_PG[@]}" "$@"; }
if [ "$(id -u)" = 0 ]; then
    if command -v setpriv >/dev/null 2>&1; then
        STACK_AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups -- env -C /)
    else
        STACK_AS_PG=(runuser -u postgres -- env -C /)
    fi
else
    STACK_AS_PG=(env)
fi

# stack_pg_locate: sets PG_BASE (the cluster's parent), PG_DATA, PG_SOCK.
# The cluster lives in $STACK_STATE/pg unless the postgres user cannot
# reach it there (a parent such as /root is not traversable) or the socket
# path would be too long; then in nano-pg-<hash of the state dir> under
# stack_pg_fallback_dir, remembered in $STACK_STATE/pg.location.  A
# remembered /tmp cluster that a boot emptied is looked for again, so
# make run's next one is kept.
stack_pg_locate() {
    local base=$STACK_STATE/pg hash
    if [ -r "$STACK_STATE/pg.location" ]; then
        base=$(cat "$STACK_STATE/pg.location")
        case $base in
            /tmp/nano-pg-*)
                if [ ! -f "$base/data/PG_VERSION" ] &&
                    [ "$(stack_pg_fallback_dir)" != /tmp ]; then
                    rm -f "$STACK_STATE/pg.location"
                    base=$STACK_STATE/pg
                fi ;;
        esac
    fi
    if [ -r "$STACK_STATE/pg.location" ]; then
        :
    elif ! stack_pg_usable "$base"; then
        hash=$(printf '%s' "$STACK_STATE" | sha256sum | cut -c1-12)
        base=$(stack_pg_fallback_dir)/nano-pg-$hash
        stack_log "the postgres user cannot use $STACK_STATE/pg (a parent directory is not traversable, or the socket path is too long)"
        case $base in
            /tmp/*) stack_log "the private cluster lives in $base instead (lost when /tmp is cleared)" ;;
            *) stack_log "the private cluster lives in $base instead" ;;
        esac
        printf '%s\n' "$base" >"$STACK_STATE/pg.location"
        stack_pg_usable "$base" || stack_die "cannot prepare $base for the postgres user"
    fi
    # shellcheck disable=SC2034 # tests/bench/admission-cost reads it
    PG_BASE=$base
    PG_DATA=$base/data
    PG_SOCK=$base/sock
}

# stack_pg_fallback_dir: where a cluster the state dir cannot hold goes.
# As root, the postgres user's own /var/lib/postgresql, which outlives a
# boot (Debian 12 empties /tmp then: make run's accounts were gone);
# /tmp for throwaway stacks (STACK_PG_FALLBACK, stack_throwaway), which
# start afresh anyway, and when that folder is missing.
stack_pg_fallback_dir() {
    if [ -n "${STACK_PG_FALLBACK:-}" ]; then
        printf '%s\n' "$STACK_PG_FALLBACK"
    elif [ "$(id -u)" = 0 ] && [ -d /var/lib/postgresql ] &&
        [ ! -L /var/lib/postgresql ]; then
        printf '%s\n' /var/lib/postgresql
    else
        printf '%s\n' /tmp
    fi
}

# stack_pg_forget: removes a cluster that lives outside the state dir
# (the fallback), for stacks that start afresh every time.
stack_pg_forget() {
    local loc=$STACK_STATE/pg.location base
    [ -r "$loc" ] || return 0
    base=$(cat "$loc")
    case $base in
        /tmp/nano-pg-* | /var/lib/postgresql/nano-pg-*)
            [ -O "$base" ] && [ ! -L "$base" ] && rm -rf "$base" ;;
    esac
    rm -f "$loc"
}

# stack_pg_usable DIR: prepares DIR/{data,sock} for the cluster owner and
# checks the owner can write both.
stack_pg_usable() {
    local base=$1 LC_ALL=C
    [ $((${#base} + 24)) -lt 100 ] || return 1     # sun_path is 108 bytes
    # In /tmp, never use a directory (or link) somebody else made.
    if [ -L "$base" ] || { [ -e "$base" ] && [ ! -O "$base" ]; }; then
        return 1
    fi
    mkdir -p "$base" || return 1
    chmod 0711 "$base"
    mkdir -p "$base/data" "$base/sock" || return 1
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 ||
            stack_die "user postgres does not exist (apt-get install postgresql)"
        chown postgres:postgres "$base/data" "$base/sock"
    fi
    chmod 0700 "$base/data" "$base/sock"
    stack_as_pg test -w "$base/data" -a -x "$base/data" -a -w "$base/sock" 2>/dev/null
}

# stack_pg_init: creates the cluster once.
stack_pg_init() {
    [ -f "$PG_DATA/PG_VERSION" ] && return 0
    stack_log "creating a private PostgreSQL cluster in $PG_DATA"
    local log=$STACK_STATE/logs/initdb.log
    if ! stack_as_pg "$PG_BINDIR/initdb" -D "$PG_DATA" -U postgres -E UTF8 \
            --locale=C --auth-local=trust --auth-host=reject >"$log" 2>&1; then
        stack_log "initdb failed:"
        stack_log_tail "$log" 30
        return 1
    fi
}

# stack_pg_clear_stale: stops a postgres still running on this cluster from
# an earlier, killed run, and removes stale lock files and sockets.
stack_pg_clear_stale() {
    local pid start
    if stack_pid postgres >/dev/null; then
        stack_log "stopping postgres left running by an earlier run"
        stack_kill postgres INT 30
    fi
    if [ -r "$PG_DATA/postmaster.pid" ]; then
        pid=$(head -n 1 "$PG_DATA/postmaster.pid")
        # A postmaster works in its data directory: a pid the file names
        # that now belongs to another process (the system's PostgreSQL
        # after a reboot, say) was stopped whenever it was named postgres.
        if [ -n "$pid" ] && start=$(stack_starttime "$pid") &&
                tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q postgres &&
                [ "$(readlink -f "/proc/$pid/cwd" 2>/dev/null)" = "$(readlink -f "$PG_DATA")" ]; then
            stack_log "stopping postgres (pid $pid) left running on $PG_DATA"
            printf '%s %s\n' "$pid" "$start" >"$STACK_STATE/pids/postgres.pid"
            stack_kill postgres INT 30
        fi
        rm -f "$PG_DATA/postmaster.pid"
    fi
    rm -f "$PG_SOCK"/.s.PGSQL.*
}

# stack_pg_start: starts the cluster (unix socket in PG_SOCK only) and
# waits until it accepts connections.
stack_pg_start() {
    local log=$STACK_STATE/logs/postgres.log i
    stack_pg_clear_stale
    local extra=()
    if [ "${STACK_PG_MODE:-$STACK_MODE}" = test ]; then
        extra=(-c fsync=off -c synchronous_commit=off -c full_page_writes=off)
    fi
    stack_spawn postgres "$log" "${STACK_AS_PG[@]}" "$PG_BINDIR/postgres" \
        -D "$PG_DATA" -c listen_addresses= -c unix_socket_directories="$PG_SOCK" \
        -c unix_socket_permissions=0700 -c logging_collector=off "${extra[@]}"
    for ((i = 0; i < 300; i++)); do
        if "$PG_BINDIR/pg_isready" -q -h "$PG_SOCK" -d postgres -U postgres; then
            return 0
        fi
        if ! stack_pid postgres >/dev/null; then
            stack_log "postgres did not start:"
            stack_log_tail "$log"
            return 1
        fi
        sleep 0.1
    done
    stack_log "postgres did not accept connections within 30s:"
    stack_log_tail "$log"
    return 1
}

stack_pg_stop() {
    stack_pid postgres >/dev/null || return 0
    stack_kill postgres INT 30          # SIGINT: fast shutdown
}

# stack_pg_bootstrap: role and database "nano" (idempotent); sets
# STACK_DB_URL to the Prisma-style URL of the private database.
stack_pg_bootstrap() {
    local psql=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -U postgres -d postgres)
    if [ -z "$("${psql[@]}" -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'nano'")" ]; then
        "${psql[@]}" -c 'CREATE ROLE nano LOGIN'
    fi
    if [ -z "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'nano'")" ]; then
        "${psql[@]}" -c 'CREATE DATABASE nano OWNER nano'
    fi
    STACK_DB_URL="postgresql://nano@localhost/nano?host=$PG_SOCK"
}

# stack_migrate apply|plan: runs the sql/ migrations against STACK_DB_URL.
stack_migrate() {
    local args=(--dir "$STACK_ROOT/sql")
    [ "$1" = apply ] && args=(--apply "${args[@]}")
    [ -x "$STACK_BIN/nano-migrate" ] || stack_die "$STACK_BIN/nano-migrate is missing (make tools)"
    # The URL goes through the environment, not argv: it may hold a password.
    DATABASE_URL=$STACK_DB_URL "$STACK_BIN/nano-migrate" "${args[@]}"
}

# --- backends -----------------------------------------------------------

# stack_listen APP: the backend's --listen address: a unix socket in the
# state dir, or the port the registry derives from the name.
stack_listen() {
    if [ "$STACK_LISTEN" = unix ]; then
        printf 'unix:%s\n' "$STACK_STATE/sock/$1.sock"
    else
        printf '127.0.0.1:%s\n' "$(registry_port "$1")"
    fi
}

# stack_read_timeout_secs VALUE: nginx's read timeout as make run takes
# it (N or Ns seconds, Nm minutes), in seconds; fails on anything else
# and outside 2 s to 72 min, whose five sixths are the modules' range of
# NANO_TEXT_WHOLE_TIMEOUT_MS (1000 to 3,600,000 ms).
stack_read_timeout_secs() {
    local n unit=1
    case $1 in
        *m) n=${1%m} unit=60 ;;
        *s) n=${1%s} ;;
        *) n=$1 ;;
    esac
    case $n in '' | *[!0-9]*) return 1 ;; esac
    [ "${#n}" -le 5 ] || return 1       # no overflow in $(( ))
    n=$((10#$n * unit))                 # 10#: "060" is not octal
    [ "$n" -ge 2 ] && [ "$n" -le 4320 ] || return 1
    printf '%s\n' "$n"
}

# stack_text_whole_ms: how long a whole text answer may take in a module,
# five sixths of nginx's read timeout (STACK_READ_TIMEOUT: 60s as `make
# run` has it gives the modules' own 50 s), so that the module answers
# its 504, refunded, before nginx gives up on it.  run.sh refuses a bad
# NANO_READ_TIMEOUT and test.sh sets 10s, so the 60 s here is a caller's
# that set none.
stack_text_whole_ms() {
    local n
    n=$(stack_read_timeout_secs "${STACK_READ_TIMEOUT:-60s}") || n=60
    echo $((n * 1000 * 5 / 6))
}

# stack_backend_start APP: starts build/bin/nano-APP and waits until it
# listens; one that does not within 10 s is stopped (stack_backend_stop).
stack_backend_start() {
    local app=$1 listen bin=$STACK_BIN/nano-$1 log=$STACK_STATE/logs/$1.log i
    listen=$(stack_listen "$app")
    # a failure, not the end: run.sh's supervisor restarting a backend
    # whose binary is being rebuilt tries again later (stack_die here
    # ended the whole make run)
    if [ ! -x "$bin" ]; then
        stack_log "$bin is missing (make $app)"
        return 1
    fi
    if stack_pid "$app" >/dev/null; then
        stack_log "$app is already running"
        return 0
    fi
    [ "${listen#unix:}" != "$listen" ] && rm -f "${listen#unix:}"
    # The app's environment, exported in a subshell: as arguments of env
    # a provider key would show in /proc/<pid>/cmdline while env starts.
    # It is the one the stack started with (backend.env, stack_save_env),
    # not the caller's: started by stackctl.sh from another shell, a
    # backend lost the provider keys and settings make run had been given
    # and took that shell's.  Per-app lines (provider keys and base URLs,
    # a test's settings) come from env.d/<app> and win.
    (
        if [ -r "$STACK_STATE/backend.env" ]; then
            # export -n: the stack's own variables keep their values
            while IFS= read -r kv; do
                export -n "${kv?}" 2>/dev/null || true
            done < <(compgen -e)
            while IFS= read -r -d '' kv; do
                case ${kv%%=*} in
                    '' | [!A-Za-z_]* | *[!A-Za-z0-9_]*) ;;  # not a name
                    *) export "${kv?}" ;;
                esac
            done <"$STACK_STATE/backend.env"
        fi
        NANO_MEDIA_DIR=$(stack_media_path)
        NANO_TEXT_WHOLE_TIMEOUT_MS=${NANO_TEXT_WHOLE_TIMEOUT_MS:-$(stack_text_whole_ms)}
        export NEXTAUTH_URL="$STACK_URL" NANO_SECRET_FILE="$STACK_SECRET_FILE" \
            DATABASE_URL="$STACK_DB_URL" NANO_ROOT="$STACK_ROOT" \
            NANO_REVOCATION_FILE="$STACK_STATE/revocations" NANO_MEDIA_DIR \
            NANO_PACKS_FILE="${NANO_PACKS_FILE:-$STACK_ROOT/packs.conf}" \
            NANO_TEXT_WHOLE_TIMEOUT_MS
        if [ -r "$STACK_STATE/env.d/$app" ]; then
            while IFS= read -r kv; do
                export "${kv?}"
            done < <(grep -E '^[A-Z_][A-Z0-9_]*=' "$STACK_STATE/env.d/$app")
        fi
        stack_spawn "$app" "$log" env -u NEXTAUTH_SECRET "$bin" --listen "$listen"
    )
    for ((i = 0; i < 100; i++)); do
        if [ "${listen#unix:}" != "$listen" ]; then
            if [ -S "${listen#unix:}" ]; then
                stack_grant_socket "${listen#unix:}"
                return 0
            fi
        else
            stack_port_in_use "${listen##*:}" && return 0
        fi
        if ! stack_pid "$app" >/dev/null; then
            stack_log "backend $app did not start:"
            stack_log_tail "$log"
            return 1
        fi
        sleep 0.1
    done
    stack_log "backend $app is not listening on $listen after 10s:"
    stack_log_tail "$log"
    # stopped, or it outlived the give-up: run.sh's supervisor forgot its
    # pid file and started another after the backoff, one more each round
    stack_log "stopping $app"
    stack_backend_stop "$app"
    return 1
}

# stack_worker_identity: sets STACK_WORKER_USER and STACK_WORKER_GROUP, the
# user nginx's workers run as when the master is root: the template's
# "user" directive, else nobody:nogroup (nginx's default), or root when
# nobody cannot reach the checkout or the state dir (a parent such as /root
# is not traversable; STACK_WORKER_AS_ROOT=1 then, and stack_nginx_start
# says so).  Both empty when we are not root: the workers keep our identity.
stack_worker_identity() {
    local u g
    [ -n "${STACK_WORKER_USER+set}" ] && return 0
    STACK_WORKER_USER='' STACK_WORKER_GROUP='' STACK_WORKER_AS_ROOT=''
    [ "$(id -u)" = 0 ] || return 0
    read -r u g < <(sed -n 's/^[[:space:]]*user[[:space:]]\{1,\}\([^[:space:];]*\)[[:space:]]*\([^[:space:];]*\).*/\1 \2/p' \
        "$STACK_CONF_DIR/nginx.conf.in" | head -n 1) || true
    if [ -n "$u" ]; then
        STACK_WORKER_USER=$u STACK_WORKER_GROUP=${g:-$u}
        return 0
    fi
    STACK_WORKER_USER=nobody
    STACK_WORKER_GROUP=nogroup
    getent group nogroup >/dev/null || STACK_WORKER_GROUP=nobody
    if ! setpriv --reuid="$STACK_WORKER_USER" --regid="$STACK_WORKER_GROUP" --clear-groups -- \
            test -x "$STACK_ROOT/backends" -a -x "$STACK_STATE/sock" 2>/dev/null; then
        STACK_WORKER_USER=root STACK_WORKER_GROUP=root STACK_WORKER_AS_ROOT=1
    fi
}

# stack_media_path: the media folder: STACK_MEDIA_DIR when another stack's
# is shared (scripts/peer.sh), else the state dir's.
stack_media_path() { printf '%s\n' "${STACK_MEDIA_DIR:-$STACK_STATE/media}"; }

# stack_media_dir: the media folder the backends write and nginx serves
# (X-Accel-Redirect): group nginx's workers, setgid so every folder the
# backends make below inherits it, no access for others.
stack_media_dir() {
    local dir
    dir=$(stack_media_path)
    mkdir -p "$dir/tmp" || return 1
    stack_worker_identity
    if [ -n "$STACK_WORKER_GROUP" ]; then
        chgrp -R "$STACK_WORKER_GROUP" "$dir" || return 1
    fi
    chmod 2750 "$dir" "$dir/tmp"
}

# stack_grant_socket PATH: lets nginx's workers connect to a backend's unix
# socket.  Backends make it 0660 (only root and its group may claim an
# identity); the socket dir is the stack's, so the stack sets the group.
stack_grant_socket() {
    stack_worker_identity
    [ -n "$STACK_WORKER_GROUP" ] && chgrp "$STACK_WORKER_GROUP" "$1"
    return 0
}

# A backend's stop: the job runner's drain (NANO_JOBS_DRAIN_SECS, 25 s by
# default) while the module still serves, then the HTTP workers' grace
# (10 s).  The least a stop waits before SIGKILL.
STACK_BACKEND_STOP_SECS=40

# stack_backend_number APP NAME: the number APP's NAME is as the backend
# reads it (nano_config_env_int: plain digits, zeros first taken), from
# what it is given: its env.d line, which wins even empty, else the
# stack's backend.env.  Its digits without the leading zeros ("0" for
# zeros only); nothing when it is unset, empty or no plain number.
stack_backend_number() {
    local v='' d=$STACK_STATE/env.d/$1
    if [ -r "$d" ] && grep -q "^$2=" "$d"; then
        v=$(sed -n "s/^$2=//p" "$d" | tail -n 1)
    elif [ -r "$STACK_STATE/backend.env" ]; then
        v=$(tr '\0' '\n' <"$STACK_STATE/backend.env" |
            sed -n "s/^$2=//p" | tail -n 1)
    fi
    case $v in '' | *[!0-9]*) return 0 ;; esac
    v=${v#"${v%%[!0]*}"}
    printf '%s\n' "${v:-0}"
}

# stack_backend_stop_secs APP: how long APP's stop may take: its drain as
# the backend was given it (env.d/<app>, else backend.env; 25 s unset)
# plus 15 s, at least STACK_BACKEND_STOP_SECS.  A drain set longer than
# 25 s was cut by SIGKILL at 40 s, its calls in flight with it.
stack_backend_stop_secs() {
    local v secs
    v=$(stack_backend_number "$1" NANO_JOBS_DRAIN_SECS)
    # the backend refuses anything but 0 to 600 (it then stops at once)
    [ -n "$v" ] && [ "${#v}" -le 3 ] || v=0
    secs=$((10#$v + 15))
    [ "$secs" -ge "$STACK_BACKEND_STOP_SECS" ] || secs=$STACK_BACKEND_STOP_SECS
    echo "$secs"
}

stack_backend_stop() {
    stack_kill "$1" TERM "$(stack_backend_stop_secs "$1")"
    [ "$STACK_LISTEN" = unix ] && rm -f "$STACK_STATE/sock/$1.sock"
    return 0
}

# --- nginx ----------------------------------------------------------------

# stack_sed_escape STR: STR made safe as a sed replacement with '|' delimiter.
stack_sed_escape() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }

# stack_origin: NEXTAUTH_URL's origin (scheme://host[:port]).
stack_origin() { printf '%s' "$STACK_URL" | sed -E 's|^([^:/?#]+://[^/?#]*).*|\1|'; }

# stack_subdomain_servers: for each "module origin" line of
# STACK_SUBDOMAINS, nginx.conf.d/subdomain.conf.in filled in for this
# stack (phase 2); nothing when it is empty.
stack_subdomain_servers() {
    local module origin name
    while read -r module origin; do
        [ -n "$module" ] || continue
        name=${origin#*://}
        name=${name%%:*}
        sed -e "s|@LISTEN@|$(stack_sed_escape "$STACK_PORT")|g" \
            -e "s|@SERVER_NAME@|$(stack_sed_escape "$name")|g" \
            -e "s|@MODULE@|$(stack_sed_escape "$module")|g" \
            -e "s|@SUBDOMAIN_ORIGIN@|$(stack_sed_escape "$origin")|g" \
            -e "s|@PLATFORM_ORIGIN@|$(stack_sed_escape "$(stack_origin)")|g" \
            -e "s|@ROOT@|$(stack_sed_escape "$STACK_ROOT/backends")|g" \
            "$STACK_CONF_DIR/subdomain.conf.in" || return 1
    done <<<"${STACK_SUBDOMAINS:-}"
}

# stack_session_max_age: the platform's NANO_SESSION_MAX_AGE as it is
# given it (env.d/platform, else backend.env), for the gateway's
# nano_auth_max_age, so that one setting ends the sessions already issued
# too; 2592000 (its default) unset or not a value the platform takes
# (which then refuses to start, naming it); read as the platform reads
# it (stack_backend_number).
stack_session_max_age() {
    local v
    v=$(stack_backend_number platform NANO_SESSION_MAX_AGE)
    [ -n "$v" ] && [ "${#v}" -le 7 ] && [ "$v" -ge 300 ] &&
        [ "$v" -le 2592000 ] || v=2592000
    printf '%s\n' "$v"
}

# stack_nginx_path WHAT PATH: PATH, which the generated config quotes,
# holds nothing a quoted nginx string would read otherwise ($ starts a
# variable, \ and " escape); spaces are fine.
stack_nginx_path() {
    case $2 in
        *[\$\\\"]* | *$'\n'*)
            stack_die "$1 $2: nginx cannot use a path with \$, \\, \" or a newline in it" ;;
    esac
}

# stack_nginx_conf: generates $STACK_STATE/nginx/conf/nginx.conf from the
# template, next to a link conf/nano -> nginx.conf.d so the snippets'
# "include nano/..." resolve as on an installed system (/etc/nginx/nano/);
# sets STACK_NGINX_ARGS (the -p/-c/-e/-g arguments).
stack_nginx_conf() {
    local tmpl=$STACK_CONF_DIR/nginx.conf.in out=$STACK_STATE/nginx/conf/nginx.conf
    local upstreams=$STACK_UPSTREAMS left e servers=$STACK_STATE/nginx/conf/servers.conf
    [ -r "$tmpl" ] || stack_die "$tmpl is missing"
    [ -r "$upstreams" ] || stack_die "$upstreams is missing"
    [ -r "$STACK_MODULE_SO" ] || stack_die "$STACK_MODULE_SO is missing (make module)"
    [ -x "$STACK_NGINX" ] || stack_die "$STACK_NGINX is missing (apt-get install nginx)"
    stack_nginx_path "the checkout" "$STACK_ROOT"
    stack_nginx_path "the state folder" "$STACK_STATE"
    stack_nginx_path "the media folder (STACK_MEDIA_DIR)" "$(stack_media_path)"
    stack_nginx_path "the key file" "$STACK_SECRET_FILE"
    mkdir -p "$STACK_STATE/nginx/conf" "$STACK_STATE/nginx/tmp"
    ln -sfn "$STACK_CONF_DIR" "$STACK_STATE/nginx/conf/nano"
    # a module's subdomain (scripts/peer.sh --site), else nothing
    stack_subdomain_servers >"$servers" || return 1
    sed -e "s|@MODULE_SO@|$(stack_sed_escape "$STACK_MODULE_SO")|g" \
        -e "s|@STATE@|$(stack_sed_escape "$STACK_STATE")|g" \
        -e "s|@PORT@|$(stack_sed_escape "$STACK_PORT")|g" \
        -e "s|@CONF@|$(stack_sed_escape "$STACK_CONF_DIR")|g" \
        -e "s|@SECRET_FILE@|$(stack_sed_escape "$STACK_SECRET_FILE")|g" \
        -e "s|@ORIGIN@|$(stack_sed_escape "$(stack_origin) ${STACK_ORIGINS:-}")|g" \
        -e "s|@SERVERS@|$(stack_sed_escape "$servers")|g" \
        -e "s|@REVOCATION_FILE@|$(stack_sed_escape "$STACK_STATE/revocations")|g" \
        -e "s|@UPSTREAMS@|$(stack_sed_escape "$upstreams")|g" \
        -e "s|@ROOT@|$(stack_sed_escape "$STACK_ROOT")|g" \
        -e "s|@READ_TIMEOUT@|$(stack_sed_escape "$STACK_READ_TIMEOUT")|g" \
        -e "s|@RATELIMIT@|$(stack_sed_escape "${STACK_RATELIMIT:-nano/ratelimit.conf}")|g" \
        -e "s|@MEDIA_DIR@|$(stack_sed_escape "$(stack_media_path)")|g" \
        -e "s|@SESSION_MAX_AGE@|$(stack_session_max_age)|g" \
        "$tmpl" >"$out.tmp"
    left=$(grep -o '@[A-Z_][A-Z_]*@' "$out.tmp" | sort -u | tr '\n' ' ') || true
    [ -z "$left" ] || stack_die "$tmpl has placeholders this stack does not know: $left"
    mv -f "$out.tmp" "$out"
    e=$STACK_STATE/logs/nginx-error.log
    STACK_NGINX_ARGS=(-p "$STACK_STATE/nginx/" -c "$out" -e "$e")
    grep -Eq '^[[:space:]]*daemon[[:space:]]' "$out" || STACK_NGINX_ARGS+=(-g 'daemon off;')
    stack_worker_identity
    if [ -n "$STACK_WORKER_USER" ] && ! grep -Eq '^[[:space:]]*user[[:space:]]' "$out"; then
        STACK_NGINX_ARGS+=(-g "user $STACK_WORKER_USER $STACK_WORKER_GROUP;")
    fi
}

# stack_upstreams FILE: nginx's upstreams for this stack, generated from
# the registry: every app on its unix socket, or on its port.
stack_upstreams() {
    if [ "$STACK_LISTEN" = unix ]; then
        registry_upstreams unix "$STACK_STATE/sock" >"$1"
    else
        registry_check_ports || return 1
        registry_upstreams tcp >"$1"
    fi
}

stack_nginx_start() {
    local out log=$STACK_STATE/logs/nginx-error.log i
    stack_nginx_conf
    # said where nginx starts, once: every stackctl.sh call (a socket's
    # group, a restarted backend) repeated it
    [ -z "${STACK_WORKER_AS_ROOT:-}" ] ||
        stack_log "user nobody cannot reach $STACK_ROOT or $STACK_STATE (a parent directory is not traversable): nginx workers run as root for this local stack"
    if ! out=$("$STACK_NGINX" -t -q "${STACK_NGINX_ARGS[@]}" 2>&1); then
        stack_log "nginx rejects the generated config $STACK_STATE/nginx/conf/nginx.conf:"
        printf '%s\n' "$out" | sed 's/^/    /' >&2
        return 1
    fi
    stack_spawn nginx "$STACK_STATE/logs/nginx-stderr.log" "$STACK_NGINX" "${STACK_NGINX_ARGS[@]}"
    for ((i = 0; i < 100; i++)); do
        stack_port_in_use "$STACK_PORT" && return 0
        if ! stack_pid nginx >/dev/null; then
            stack_log "nginx did not start:"
            stack_log_tail "$log"
            stack_log_tail "$STACK_STATE/logs/nginx-stderr.log"
            return 1
        fi
        sleep 0.1
    done
    stack_log "nginx is not listening on port $STACK_PORT after 10s:"
    stack_log_tail "$log"
    return 1
}

# stack_nginx_follow_platform: after the platform (re)started with
# another NANO_SESSION_MAX_AGE (stackctl.sh, a test's env.d/platform),
# the running nginx's config made again and reloaded, and waited for
# (up to 10 s) until none of its old workers serves; nothing when the
# value is the one nginx has, or nginx is not running.  Fails only when
# nginx refuses the config (it keeps the old one then).
stack_nginx_follow_platform() {
    local pid out=$STACK_STATE/nginx/conf/nginx.conf old i
    pid=$(stack_pid nginx) || return 0
    grep -Fqx "    nano_auth_max_age          $(stack_session_max_age)s;" "$out" 2>/dev/null && return 0
    stack_nginx_conf
    if ! out=$("$STACK_NGINX" -t -q "${STACK_NGINX_ARGS[@]}" 2>&1); then
        stack_log "nginx rejects the generated config:"
        printf '%s\n' "$out" | sed 's/^/    /' >&2
        return 1
    fi
    old=$(ps -o pid= --ppid "$pid" | tr -d ' ' | sort)
    kill -HUP "$pid"
    for ((i = 0; i < 100; i++)); do
        [ -z "$(comm -12 <(printf '%s\n' "$old") <(ps -o pid= --ppid "$pid" | tr -d ' ' | sort))" ] && return 0
        sleep 0.1
    done
    # Not a failure: the reload took, and new requests already get the new
    # bound; an old worker ends with its last stream (nginx.conf.in's
    # worker_shutdown_timeout).
    stack_log "nginx reloaded; its old workers still serve streams begun before"
    return 0
}

# stack_nginx_stop: nginx's graceful stop (SIGQUIT): its port closes at
# once and the requests it serves (a text stream, a download) may end,
# for up to worker_shutdown_timeout (nginx.conf.in: the backends' own
# 10 s grace), before stack_stop stops the backends.  Its fast stop
# (SIGTERM) cut every stream in flight at once.
stack_nginx_stop() { stack_kill nginx QUIT 15; }

# --- whole stack ----------------------------------------------------------

# stack_save_env: what stackctl.sh needs to act on a running stack.
stack_save_env() {
    local v
    (
        umask 077              # DATABASE_URL may hold a password
        for v in STACK_MODE STACK_STATE STACK_PORT STACK_URL STACK_LISTEN \
                 STACK_READ_TIMEOUT STACK_DB_URL STACK_SECRET_FILE \
                 STACK_UPSTREAMS STACK_RATELIMIT STACK_OWN_DB PG_BINDIR \
                 PG_BASE PG_DATA PG_SOCK STACK_FAKE_URL STACK_MEDIA_DIR \
                 STACK_ORIGINS STACK_SUBDOMAINS; do
            printf '%s=%q\n' "$v" "${!v-}"
        done >"$STACK_STATE/stack.env.tmp"
        # The environment the backends start in (provider keys, Stripe's,
        # NANO_* settings), for stackctl.sh's start-backend, whose caller
        # may have none of it; NEXTAUTH_SECRET is never theirs (the key
        # file is).
        while IFS= read -r -d '' v; do
            case $v in NEXTAUTH_SECRET=*) ;; *) printf '%s\0' "$v" ;; esac
        done < <(env -0) >"$STACK_STATE/backend.env.tmp"
    )
    mv -f "$STACK_STATE/stack.env.tmp" "$STACK_STATE/stack.env"
    mv -f "$STACK_STATE/backend.env.tmp" "$STACK_STATE/backend.env"
}

# stack_stop_leftovers: stops whatever an earlier, killed run of this state
# dir left running (pid files whose process is still the same one), in
# stack_stop's order: nginx, the backends at once (each may drain its
# provider calls), then postgres and the fakes, which those calls need.
# Taken by the files' names, postgres went before qwen, seedream and
# wan-2.5, and a backend had 10 s for a drain of up to 25.
stack_stop_leftovers() {
    local f name left=() pids=()
    for f in "$STACK_STATE"/pids/*.pid; do
        [ -e "$f" ] || continue
        name=$(basename "$f" .pid)
        if stack_pid "$name" >/dev/null; then
            left+=("$name")
        else
            rm -f "$f"
        fi
    done
    [ "${#left[@]}" -gt 0 ] || return 0
    for name in "${left[@]}"; do
        [ "$name" = nginx ] && stack_stop_leftover nginx TERM 10
    done
    for name in "${left[@]}"; do
        case $name in
            nginx | postgres | fake-*) ;;
            *)
                stack_stop_leftover "$name" TERM "$(stack_backend_stop_secs "$name")" &
                pids+=("$!") ;;
        esac
    done
    [ "${#pids[@]}" -eq 0 ] || wait "${pids[@]}"
    for name in "${left[@]}"; do
        case $name in
            postgres) stack_stop_leftover postgres INT 30 ;;
            fake-*) stack_stop_leftover "$name" TERM 5 ;;
        esac
    done
}

# stack_stop_leftover NAME SIGNAL TIMEOUT: stack_kill, said.
stack_stop_leftover() {
    stack_log "stopping $1 left running by an earlier run"
    stack_kill "$@"
}

# stack_check_ports HINT PORT...: fails with a clear message when one is
# taken.
stack_check_ports() {
    local hint=$1 p busy=()
    shift
    for p in "$@"; do
        stack_port_in_use "$p" && busy+=("$p")
    done
    [ "${#busy[@]}" -eq 0 ] && return 0
    stack_log "port ${busy[*]} already in use (see: ss -ltnp); $hint"
    return 1
}

# stack_db_start: the private cluster created if need be, started, its
# role and database made, and the sql/ migrations applied.
stack_db_start() {
    PG_BINDIR=$(stack_pg_bindir)
    stack_pg_locate
    stack_pg_init || return 1
    stack_pg_start || return 1
    stack_pg_bootstrap || return 1
    stack_log "applying sql/ migrations to the private cluster"
    stack_migrate apply || { stack_log "migrations failed"; return 1; }
}

# stack_start: database, migrations, backends, nginx.  Returns non-zero
# (with a message) on the first failure; the caller stops what started.
stack_start() {
    local app
    if [ -n "$STACK_OWN_DB" ]; then
        stack_db_start || return 1
    fi
    stack_save_env
    stack_media_dir || return 1
    for app in "${STACK_APPS[@]}"; do
        stack_backend_start "$app" || return 1
    done
    stack_nginx_start || return 1
}

# stack_throwaway PORT: a fresh stack for tests and benchmarks: the state
# dir wiped, nginx on 127.0.0.1:PORT, backends on unix sockets, its own
# PostgreSQL cluster, the test rate limits (keyed on X-Nano-Test-Client,
# so unlimited unless a request asks), and two fixed keys: the first
# signs, both verify (rotation).  Call after stack_lock; sets what
# stack_start needs and TEST_SECRET, TEST_SECRET2.
stack_throwaway() {
    stack_stop_leftovers
    stack_pg_forget
    rm -rf "$STACK_STATE"
    STACK_PG_FALLBACK=/tmp
    stack_init
    STACK_PORT=$1
    STACK_URL=http://127.0.0.1:$STACK_PORT
    STACK_LISTEN=unix
    STACK_READ_TIMEOUT=10s
    STACK_SECRET_FILE=$STACK_STATE/keys
    STACK_UPSTREAMS=$STACK_STATE/upstreams.conf
    STACK_RATELIMIT=$STACK_ROOT/tests/ratelimit-test.conf
    STACK_DB_URL=
    STACK_OWN_DB=1
    TEST_SECRET=nano-test-secret-one-0123456789abcdefghijklmnop
    TEST_SECRET2=nano-test-secret-two-9876543210zyxwvutsrqponmlk
    stack_write_keys "$STACK_SECRET_FILE" "$TEST_SECRET" "$TEST_SECRET2"
}

# stack_fake_providers: starts tests/fakes/providers.mjs (every provider's
# wire format, on an ephemeral port) and points some modules at it, so
# the real provider clients run in tests while the others stay offline:
# nano-banana (Gemini), qwen (DashScope chat), grok (xAI) and wan-2.5
# (DashScope video) use the fake; seedream and openai are offline.  Sets
# STACK_FAKE_URL.  Call before stack_start.
stack_fake_providers() {
    local log=$STACK_STATE/logs/fake-providers.log key=fake-provider-key port
    stack_spawn fake-providers "$log" node "$STACK_ROOT/tests/fakes/providers.mjs" \
        --port 0 --key "$key" --task-ms "${STACK_FAKE_TASK_MS:-1500}"
    port=$(stack_fake_wait fake-providers) || return 1
    STACK_FAKE_URL=http://127.0.0.1:$port
    mkdir -p "$STACK_STATE/env.d"
    printf 'GEMINI_API_KEY=%s\nGEMINI_BASE_URL=%s\n' "$key" "$STACK_FAKE_URL" \
        >"$STACK_STATE/env.d/nano-banana"
    printf 'DASHSCOPE_API_KEY=%s\nDASHSCOPE_BASE_URL=%s\n' "$key" "$STACK_FAKE_URL" \
        | tee "$STACK_STATE/env.d/qwen" >"$STACK_STATE/env.d/wan-2.5"
    printf 'XAI_API_KEY=%s\nXAI_BASE_URL=%s/xai/v1\n' "$key" "$STACK_FAKE_URL" \
        >"$STACK_STATE/env.d/grok"
}

# stack_fake_wait NAME: prints the port a fake started as NAME reports
# ({"port":N} first in its log) once it listens; fails (with the log's
# tail) when it does not within 10 s.
stack_fake_wait() {
    local log=$STACK_STATE/logs/$1.log i port=
    for ((i = 0; i < 100; i++)); do
        port=$(sed -n 's/.*{"port":\([0-9]*\)}.*/\1/p' "$log" | head -n 1)
        [ -n "$port" ] && break
        stack_pid "$1" >/dev/null || break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        stack_log "the fake $1 did not start:"
        stack_log_tail "$log"
        return 1
    fi
    printf '%s\n' "$port"
}

# stack_fake_oauth: starts tests/fakes/oidc.mjs (Google's OpenID Connect)
# and tests/fakes/github.mjs (GitHub's OAuth and API) on ephemeral ports
# and points the platform's sign-in at them: GOOGLE_* and GITHUB_* lines
# appended to env.d/platform (other fakes write there too).  Sets
# STACK_OIDC_URL and STACK_GITHUB_URL.  Call before stack_start.
stack_fake_oauth() {
    local port env=$STACK_STATE/env.d/platform
    local gid=fake-google-client.apps.googleusercontent.com gsecret=fake-google-secret
    local hid=Iv1.fakegithubclient hsecret=fake-github-secret
    stack_spawn fake-oidc "$STACK_STATE/logs/fake-oidc.log" node \
        "$STACK_ROOT/tests/fakes/oidc.mjs" --port 0 --client-id "$gid" --client-secret "$gsecret"
    port=$(stack_fake_wait fake-oidc) || return 1
    STACK_OIDC_URL=http://127.0.0.1:$port
    stack_spawn fake-github "$STACK_STATE/logs/fake-github.log" node \
        "$STACK_ROOT/tests/fakes/github.mjs" --port 0 --client-id "$hid" --client-secret "$hsecret"
    port=$(stack_fake_wait fake-github) || return 1
    STACK_GITHUB_URL=http://127.0.0.1:$port
    mkdir -p "$STACK_STATE/env.d"
    printf 'GOOGLE_CLIENT_ID=%s\nGOOGLE_CLIENT_SECRET=%s\nGOOGLE_ISSUER=%s\n' \
        "$gid" "$gsecret" "$STACK_OIDC_URL" >>"$env"
    # GitHub's secret through a file, as docs/OPERATIONS.md advises, so
    # the tests sign in through both ways of giving one
    (umask 077 && printf '%s\n' "$hsecret" >"$STACK_STATE/github-client-secret") ||
        return 1
    printf 'GITHUB_CLIENT_ID=%s\nGITHUB_CLIENT_SECRET_FILE=%s\nGITHUB_BASE_URL=%s\nGITHUB_API_URL=%s/api/v3\n' \
        "$hid" "$STACK_STATE/github-client-secret" "$STACK_GITHUB_URL" "$STACK_GITHUB_URL" >>"$env"
}

# The fake Stripe's keys (tests/integration/billing.mjs knows them too).
STACK_STRIPE_KEY=sk_test_nano_fake_0123456789abcdefghijkl
STACK_STRIPE_WEBHOOK_SECRET=whsec_nano_fake_0123456789abcdefghijklmnopq

# stack_fake_stripe: starts tests/fakes/stripe.mjs (Checkout Sessions,
# the hosted page, signed webhook deliveries to this stack's
# /api/billing/webhook) on an ephemeral port and appends the platform's
# STRIPE_* lines to env.d/platform (other fakes write there too).  Sets
# STACK_STRIPE_URL.  Call after STACK_URL is set, before stack_start.
stack_fake_stripe() {
    local port
    FAKE_STRIPE_KEY=$STACK_STRIPE_KEY FAKE_STRIPE_WEBHOOK_SECRET=$STACK_STRIPE_WEBHOOK_SECRET \
        stack_spawn fake-stripe "$STACK_STATE/logs/fake-stripe.log" node \
        "$STACK_ROOT/tests/fakes/stripe.mjs" \
        --port 0 --webhook-url "$STACK_URL/api/billing/webhook"
    port=$(stack_fake_wait fake-stripe) || return 1
    STACK_STRIPE_URL=http://127.0.0.1:$port
    mkdir -p "$STACK_STATE/env.d"
    printf 'STRIPE_SECRET_KEY=%s\nSTRIPE_WEBHOOK_SECRET=%s\nSTRIPE_API_BASE=%s\n' \
        "$STACK_STRIPE_KEY" "$STACK_STRIPE_WEBHOOK_SECRET" "$STACK_STRIPE_URL" \
        >>"$STACK_STATE/env.d/platform"
}

# stack_stop: nginx first (no new requests), then backends, all at once
# (each may wait for its provider calls), then postgres and the fakes
# (which those calls need until then).
stack_stop() {
    local app pids=()
    stack_nginx_stop
    for app in "${STACK_APPS[@]}"; do
        stack_backend_stop "$app" &
        pids+=("$!")
    done
    [ "${#pids[@]}" -eq 0 ] || wait "${pids[@]}"
    stack_pg_stop
    stack_kill fake-providers TERM 5
    stack_kill fake-oidc TERM 5
    stack_kill fake-github TERM 5
    stack_kill fake-stripe TERM 5
    rm -f "$STACK_STATE"/sock/*.sock
}
