# shellcheck shell=bash
# The module registry (modules.conf) for shell scripts: which modules
# exist, where each backend listens, and the nginx upstreams that point
# there.  Sourced by scripts/lib/stack.sh and scripts/upstreams.sh.
#
# REGISTRY_FILE: NANO_MODULES_FILE, else modules.conf at the repo root.

REGISTRY_FILE=${NANO_MODULES_FILE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/modules.conf}

# registry_lines: the registry without comments, blank lines and CRLF's
# "\r" (awk took a blank line's "\r" for a module's name).
registry_lines() {
    [ -r "$REGISTRY_FILE" ] || { echo "registry: cannot read $REGISTRY_FILE" >&2; return 1; }
    sed -e 's/\r$//' -e 's/#.*//' "$REGISTRY_FILE" | awk 'NF'
}

# registry_modules: the module names, in file order.
registry_modules() {
    local lines
    lines=$(registry_lines) || return 1
    [ -z "$lines" ] || printf '%s\n' "$lines" | awk '{ print $1 }'
}

# registry_port APP: the TCP port of APP, derived from its name alone
# (platform 3000; a module 3001 + cksum(name) mod 998), never from its
# place in the list.
registry_port() {
    local sum
    if [ "$1" = platform ]; then
        echo 3000
        return
    fi
    read -r sum _ < <(printf '%s' "$1" | cksum)
    echo $((3001 + sum % 998))
}

# registry_check_ports: fails naming the two modules whose ports collide.
registry_check_ports() {
    local app port mods
    declare -A owner=()
    mods=$(registry_modules) || return 1
    for app in platform $mods; do
        port=$(registry_port "$app")
        if [ -n "${owner[$port]:-}" ]; then
            echo "registry: $app and ${owner[$port]} both map to port $port; rename one, or use unix sockets (the default)" >&2
            return 1
        fi
        owner[$port]=$app
    done
}

# registry_upstream_name APP: nano_<app> with - and . as _.
registry_upstream_name() {
    local n=${1//-/_}
    printf 'nano_%s\n' "${n//./_}"
}

# registry_upstreams unix DIR | tcp: nginx upstream blocks for the
# platform and every module, on DIR/<app>.sock or on their ports.  Each
# nginx worker keeps up to 16 idle connections to each backend
# (fastcgi_keep_conn in nginx.conf.d/fastcgi.conf); a backend holds an
# idle one as a descriptor, not a thread.
registry_upstreams() {
    local mode=$1 dir=${2:-} app mods
    # an unreadable registry fails here: the platform's upstream alone
    # left nginx every module's snippet without its upstream
    mods=$(registry_modules) || return 1
    printf '# Generated from %s by scripts/lib/registry.sh: where each\n' "$REGISTRY_FILE"
    printf '# backend listens.  Regenerate it when the registry changes.\n'
    for app in platform $mods; do
        if [ "$mode" = unix ]; then
            printf 'upstream %s { server "unix:%s/%s.sock"; keepalive 16; }\n' \
                "$(registry_upstream_name "$app")" "$dir" "$app"
        else
            printf 'upstream %s { server 127.0.0.1:%s; keepalive 16; }\n' \
                "$(registry_upstream_name "$app")" "$(registry_port "$app")"
        fi
    done
}
