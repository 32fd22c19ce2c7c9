#!/usr/bin/env bash
# Writes nginx's upstreams for the platform and every module of the
# registry (modules.conf) to stdout, for an nginx you run:
#   scripts/upstreams.sh unix /run/nano > /etc/nginx/nano/upstreams.conf
#   scripts/upstreams.sh tcp            > /etc/nginx/nano/upstreams.conf
# Unix sockets are <dir>/<app>.sock; TCP ports follow from the names
# (scripts/lib/registry.sh).
set -euo pipefail
# shellcheck source=scripts/lib/registry.sh
. "$(dirname "$0")/lib/registry.sh"
case ${1:-} in
    unix) [ -n "${2:-}" ] || { echo "usage: $0 unix DIR | tcp" >&2; exit 2; }
          # nginx would take a relative DIR from its own working
          # directory, and no backend listens on one (they refuse it)
          case $2 in
              /*) ;;
              *) echo "upstreams: DIR must be absolute, not '$2'" >&2; exit 2 ;;
          esac
          registry_upstreams unix "${2%/}" ;;
    tcp)  registry_check_ports && registry_upstreams tcp ;;
    *)    echo "usage: $0 unix DIR | tcp" >&2; exit 2 ;;
esac
