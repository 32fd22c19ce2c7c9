#!/usr/bin/env bash
# Writes the nginx snippet of one module (nginx.conf.d/modules/<name>.conf)
# to stdout: its path prefix behind `nano_auth on`, its upstream, and the
# one location that takes uploads.  Used by `make new-module`; the
# shipped snippets were written by it.
#   scripts/module-snippet.sh NAME "TITLE"
set -euo pipefail
name=$1 title=${2:-$1}
case $name in
    '' | *[!a-z0-9.-]*) echo "module-snippet: bad module name '$name'" >&2; exit 2 ;;
esac
ups=nano_${name//[-.]/_}
re=${name//./\\.}
cat <<CONF
# $name: $title.  Backend: upstream $ups.

# Only the platform serves /api/auth/*.
location ~ "^/$re/api/auth(/|\$)" {
    default_type  application/json;
    return 404 '{"error":"not_found","message":"sign-in lives at /api/auth/"}\\n';
}

# Generation may carry an image upload (10 MiB); every other request
# keeps the server's 1 MiB.
location = /$name/api/generate {
    nano_auth             on;
    client_max_body_size  11m;

    include        nano/fastcgi.conf;
    fastcgi_param  SCRIPT_NAME  /$name;
    fastcgi_param  PATH_INFO    /api/generate;
    fastcgi_pass   $ups;
}

# (?s) lets "." match a newline, so an encoded %0a cannot cut PATH_INFO
# short (the CVE-2019-11043 pattern).
location ~ "(?s)^/$re(?<nano_path_info>/.*)?\$" {
    nano_auth  on;

    include        nano/fastcgi.conf;
    fastcgi_param  SCRIPT_NAME  /$name;
    fastcgi_param  PATH_INFO    \$nano_path_info;
    fastcgi_pass   $ups;
}
CONF
