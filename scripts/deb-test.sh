#!/usr/bin/env bash
# `make deb-test`: installs build/deb/'s two packages with apt into a
# clean Debian 12 chroot and proves, in it:
#   - installing starts nothing, makes the users, group, media folder and
#     key file, and enables the module the way Debian's module packages do;
#   - the stock /usr/sbin/nginx loads the module (nginx -t);
#   - systemd-analyze verify accepts the units;
#   - with PostgreSQL started and nano-migrate --apply run, the platform and
#     a module started as their units say (user, groups, environment,
#     credentials, the listening socket as fd 0; parsed from the installed
#     unit files) serve through nginx and the packaged site: 302/401
#     without a session, 200 after a real sign-up and sign-in, a generated
#     image the module wrote that nginx sends;
#   - every file of ours the example site, README.Debian and the
#     environment files name is installed;
#   - an upgrade (the same files as the next version) with the apps
#     running keeps the operator's configuration, the session key and a
#     signed-in session, restarts the apps and has nginx run the new
#     module from a new master;
#   - removing stops the apps and sockets first and keeps the key, the
#     environment files, the users and the media;
#   - purging removes the module's link and the key file.
# A chroot cannot run systemd, hence the hand start, and from the
# upgrade on a stand-in systemctl that records what the maintainer
# scripts ask of it.  Everything runs in
# private mount and pid namespaces, so no mount or process outlives it
# (the trap unmounts and stops as well).  Prints PASS/FAIL per check and
# ends with "deb-test: N passed, N failed".
#
# Cached: the debootstrapped base (a tarball in build/chroot/, made once,
# about 4 minutes, shared with make fresh-test) and, under
# build/deb-test/, apt's lists and archives; each run unpacks a fresh
# chroot.  Environment: DEB_TEST_PORT (8089, on 127.0.0.1),
# DEB_MIRROR (http://deb.debian.org/debian).
set -uo pipefail

root_dir=$(cd "$(dirname "$0")/.." && pwd)
cache=$root_dir/build/deb-test
port=${DEB_TEST_PORT:-8089}
mirror=${DEB_MIRROR:-http://deb.debian.org/debian}

# shellcheck source=scripts/lib/chroot.sh
. "$root_dir/scripts/lib/chroot.sh"
chroot_cache=$cache
chroot_root=$cache/root

log() { printf 'deb-test: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot, mounts)"

# Once, outside the namespaces: the base system.
if [ -z "${NANO_DEB_TEST_NS:-}" ]; then
    ls "$root_dir"/build/deb/nano-platform_*.deb >/dev/null 2>&1 ||
        die "no packages in build/deb/ (make deb)"
    chroot_base "$mirror" || exit 1
    exec unshare --mount --pid --fork --kill-child --propagation private \
        --mount-proc env NANO_DEB_TEST_NS=1 "$0" "$@"
fi

# --- inside: pid 1 of a private pid namespace, private mounts ------------
start=$SECONDS
root=$chroot_root
work=$cache/work                      # curl's cookies and bodies
passed=0 failed=0 pgver='' pids=()

pass() { passed=$((passed + 1)); printf '  PASS  %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf '  FAIL  %s\n' "$*"; }
# check NAME CMD...: PASS when CMD succeeds.
check() {
    local name=$1
    shift
    if "$@" >"$work/check.out" 2>&1; then
        pass "$name"
    else
        fail "$name"
        sed 's/^/          /' "$work/check.out" | tail -n 15
    fi
}

# stop: the apps (by their pids); then also nginx and PostgreSQL.
# Whatever is left dies with this pid namespace.
stop_apps() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    pids=()
}
stop_all() {
    [ -s "$root/run/nginx.pid" ] && inroot nginx -s stop >/dev/null 2>&1
    stop_apps
    [ -n "$pgver" ] && inroot pg_ctlcluster "$pgver" main stop >/dev/null 2>&1
    return 0
}
cleanup() {
    trap '' INT TERM
    stop_all
    chroot_umount
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- a fresh chroot from the cached base ----------------------------------
chroot_port_open "$port" && die "127.0.0.1:$port is taken; set DEB_TEST_PORT"
rm -rf "$work"
mkdir -p "$work"
chroot_unpack "$mirror" || exit 1
# Packages must not start services in a chroot (nginx would take port 80).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"

log "installing the packages with apt (log: build/deb-test/apt.log)"
mkdir -p "$root/tmp/debs"
debs=()                                 # their paths in the chroot
for p in libnginx-mod-http-nano-auth nano-platform; do
    for f in "$root_dir"/build/deb/"$p"_*_"$(dpkg --print-architecture)".deb; do
        cp "$f" "$root/tmp/debs/"
        debs+=("/tmp/debs/${f##*/}")
    done
done
{
    inroot apt-get update &&
    # as an operator would: the packages and what they recommend (nginx,
    # postgresql, systemd), dependencies from the mirror
    inroot apt-get install -y "${debs[@]}"
} >"$cache/apt.log" 2>&1
rc=$?
echo "deb-test: Debian 12 chroot in build/deb-test/root"
if [ "$rc" -ne 0 ]; then
    fail "apt installs both packages"
    tail -n 20 "$cache/apt.log"
    exit 1
fi
pass "apt installs both packages and their dependencies from the mirror"

# --- what installing did ---------------------------------------------------
# owner PATH: "user:group mode" as the chroot names them
owner() { inroot stat -c '%U:%G %a' "$1"; }
# is WANT CMD...: CMD prints exactly WANT
is() {
    local got
    got=$("${@:2}")
    [ "$got" = "$1" ] || { echo "${*:2}: '$got', not '$1'"; return 1; }
}

modlink=/etc/nginx/modules-enabled/50-mod-http-nano-auth.conf
check "the module's load_module snippet is enabled (modules-enabled link)" \
    is /usr/share/nginx/modules-available/mod-http-nano-auth.conf readlink "$root$modlink"
abi_dep() {
    local abi
    abi=$(dpkg-deb -f "$root"/tmp/debs/libnginx-mod-http-nano-auth_*.deb Depends |
        grep -o 'nginx-abi-[^, ]*') || return 1
    echo "depends on $abi"
    # shellcheck disable=SC2016 # dpkg-query's field, not the shell's
    inroot dpkg-query -W -f '${Provides}\n' nginx | grep -q "$abi"
}
check "the module depends on the exact nginx ABI, which Debian's nginx provides" abi_dep
check "stock nginx loads the module (nginx -t, stock nginx.conf)" inroot nginx -t
nothing_started() {
    ! pgrep -l 'nano-|nginx|postgres' && [ ! -e "$root/run/nano" ]
}
check "installing started nothing (no backend, socket, nginx or postgres)" nothing_started
# app_users: nano-<app> of the platform and every module of the registry.
app_users() {
    echo nano-platform
    sed -e 's/#.*//' "$root/etc/nano/modules.conf" | awk 'NF { print "nano-" $1 }'
}
users_ok() {
    local u
    for u in $(app_users); do
        inroot id "$u" | grep -q '(nano-upload)' || { inroot id "$u"; return 1; }
        ! inroot id "$u" | grep -q '(nano-media)' || { inroot id "$u"; return 1; }
    done
    inroot id www-data | grep -q '(nano-media)'
}
check "one system user per app, each in nano-upload and none in nano-media (www-data's)" users_ok
media_ok() {
    is 'root:nano-media 2751' owner /var/lib/nano/media &&
        is 'root:nano-upload 3770' owner /var/lib/nano/media/tmp &&
        is 'nano-qwen:nano-media 2750' owner /var/lib/nano/media/qwen &&
        is 'nano-platform:nano-media 2750' owner /var/lib/nano/media/avatars
}
check "media folder root:nano-media 2751, tmp/ root:nano-upload 3770, one per module (its user), avatars/ the platform's" media_ok
key_ok() {
    is 'root:root 600' owner /etc/nano/keys &&
        [ "$(head -n 1 "$root/etc/nano/keys" | tr -d '\n' | wc -c)" -ge 32 ]
}
check "a session key was generated, root's alone (0600)" key_ok
check "environment files are root's (0640)" is 'root:root 640' owner /etc/nano/common.env
check "manual pages for nano-migrate and nano-admin (section 8)" \
    inroot test -s /usr/share/man/man8/nano-migrate.8.gz -a \
    -s /usr/share/man/man8/nano-admin.8.gz

# --- the units ---------------------------------------------------------
units="nano@platform.socket nano@platform.service nano@qwen.socket nano@qwen.service nano@wan-2.5.service"
verify() {
    local out rc
    # shellcheck disable=SC2086
    out=$(inroot systemd-analyze verify $units 2>&1)
    rc=$?
    printf '%s\n' "$out"
    [ "$rc" -eq 0 ] && ! printf '%s\n' "$out" | grep -q 'nano@'
}
check "systemd-analyze verify $units" verify

# --- PostgreSQL, as an operator sets it up ---------------------------------
pg_setup() {
    local etc
    # shellcheck disable=SC2012 # version folders: digits and dots
    pgver=$(ls "$root/etc/postgresql" | sort -V | tail -n 1)
    [ -n "$pgver" ] || { echo "no cluster in /etc/postgresql"; return 1; }
    etc=$root/etc/postgresql/$pgver/main
    # unix socket only (the chroot shares the host's network); the apps'
    # users and root (nano-migrate) map to the role nano
    echo "listen_addresses = ''" >>"$etc/postgresql.conf"
    printf 'nano /^nano-.*$ nano\nnano root nano\n' >>"$etc/pg_ident.conf"
    sed -i '0,/^local/s//local nano nano peer map=nano\nlocal/' "$etc/pg_hba.conf"
    install -d -o "$(stat -c %u "$root/var/lib/postgresql")" -m 2775 "$root/run/postgresql"
    inroot pg_ctlcluster "$pgver" main start &&
        inroot runuser -u postgres -- psql -qc 'CREATE ROLE nano LOGIN' &&
        inroot runuser -u postgres -- createdb -E UTF8 --lc-ctype=C.UTF-8 -T template0 -O nano nano
}
check "PostgreSQL starts in the chroot, database nano created" pg_setup

printf 'NEXTAUTH_URL=http://127.0.0.1:%s\n' "$port" >>"$root/etc/nano/common.env"
printf 'DATABASE_URL=postgresql://nano@localhost/nano?host=/run/postgresql\n' \
    >>"$root/etc/nano/common.env"
plan_ok() {
    local out
    out=$(inroot nano-migrate) || { printf '%s\n' "$out"; return 1; }
    printf '%s\n' "$out"
    printf '%s\n' "$out" | grep -q 'pending  001_'
}
check "nano-migrate shows the plan (packaged sql/, DATABASE_URL from common.env)" plan_ok
check "nano-migrate --apply" inroot nano-migrate --apply

# --- the apps, started as their units say ----------------------------------
# unit_get APP KEY: the values of KEY= in nano@.service and the instance's
# drop-ins (nano@APP.service.d/*.conf), or in nano@.socket for a socket's
# key, with %i and %d expanded: the subset of unit syntax ours use.
unit_get() {
    local app=$1 key=$2 dir=$root/lib/systemd/system f files=()
    case $key in
        ListenStream | Socket* | DirectoryMode) files=("$dir/nano@.socket") ;;
        *) files=("$dir/nano@.service")
           for f in "$dir/nano@$app.service.d"/*.conf; do
               [ -e "$f" ] && files+=("$f")
           done ;;
    esac
    sed -n "s/^$key=//p" "${files[@]}" |
        sed -e "s/%i/$app/g" -e "s|%d|/run/credentials/nano@$app.service|g"
}
last() { unit_get "$@" | tail -n 1; }

# The listening socket as fd 0, as StandardInput=socket hands it over.
# shellcheck disable=SC2016 # Perl's variables
launcher='use IO::Socket::UNIX; use POSIX ();
my ($path, $group, $mode, $umask, @cmd) = @ARGV;
unlink $path;
my $gid = getgrnam($group) // die "no group $group\n";
my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $path,
    Listen => 1024) or die "cannot listen on $path: $!\n";
chown(0, $gid, $path) && chmod(oct($mode), $path) or die "$path: $!\n";
defined POSIX::dup2(fileno($s), 0) or die "dup2: $!\n";
umask oct($umask);
exec { $cmd[0] } @cmd or die "exec $cmd[0]: $!\n";'

# start_app APP: as systemd would start nano@APP.service (user, groups,
# umask, environment and its files, credentials, runtime directory, the
# socket on fd 0), output to $work/APP.log.  No capabilities and no new
# privileges; the rest of the sandbox needs systemd itself.
start_app() {
    local app=$1 user uid f cred env=()
    user=$(last "$app" User)
    uid=$(inroot id -u "$user") || return 1
    env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
    mapfile -t -O 1 env < <(unit_get "$app" Environment)
    for f in $(unit_get "$app" EnvironmentFile); do
        f=$root${f#-}
        [ -r "$f" ] && mapfile -t -O "${#env[@]}" env < <(grep -E '^[A-Za-z_][A-Za-z0-9_]*=' "$f")
    done
    cred=/run/credentials/nano@$app.service
    for f in $(unit_get "$app" LoadCredential); do
        install -d -o "$uid" -m 0500 "$root$cred"
        install -o "$uid" -m 0400 "$root${f#*:}" "$root$cred/${f%%:*}"
    done
    for f in $(unit_get "$app" RuntimeDirectory); do
        install -d -o "$uid" -m "$(last "$app" RuntimeDirectoryMode)" "$root/run/$f"
    done
    f=$(last "$app" ListenStream)
    install -d -m "$(last "$app" DirectoryMode)" "$root$(dirname "$f")"
    # ExecStart unquoted: its words are the command, as systemd splits it
    # shellcheck disable=SC2046
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        perl -e "$launcher" "$f" "$(last "$app" SocketGroup)" \
        "$(last "$app" SocketMode)" "$(last "$app" UMask)" \
        setpriv --reuid="$user" --regid="$(last "$app" Group)" \
        --groups="$(unit_get "$app" SupplementaryGroups | tr ' \n' ',,' | sed 's/,*$//')" \
        --no-new-privs --inh-caps=-all --bounding-set=-all -- \
        env -i "${env[@]}" $(last "$app" ExecStart) >"$work/$app.log" 2>&1 &
    pids+=("$!")
}
apps_ok() {
    local i pid
    # the launcher binds the socket, then execs the backend as its user
    # (same pid): after a restart the old socket files are there already,
    # so wait for the exec too (a loaded machine took over a second)
    for ((i = 0; i < 100; i++)); do
        [ -S "$root/run/nano/platform.sock" ] && [ -S "$root/run/nano/nano-banana.sock" ] &&
            [ "$(inroot stat -c %U "/proc/${pids[0]}" 2>/dev/null)" = nano-platform ] &&
            [ "$(inroot stat -c %U "/proc/${pids[1]}" 2>/dev/null)" = nano-nano-banana ] &&
            break
        sleep 0.1
    done
    sleep 1                 # long enough to fail on the database or a file
    for pid in "${pids[@]}"; do
        kill -0 "$pid" 2>/dev/null || { tail -n 5 "$work"/*.log; return 1; }
    done
    # (the launcher execs the backend: same pid; the chroot has no ps)
    is 'nano-platform' inroot stat -c %U "/proc/${pids[0]}" &&
        is 'nano-nano-banana' inroot stat -c %U "/proc/${pids[1]}"
}
start_app platform
start_app nano-banana
check "platform and nano-banana run as nano-platform / nano-nano-banana, socket on fd 0" apps_ok
check "their sockets: root:www-data 0660 in /run/nano" \
    is 'root:www-data 660' owner /run/nano/nano-banana.sock

# --- nginx with the packaged site ------------------------------------------
sed -e "s|^nano_auth_origin .*|nano_auth_origin           http://127.0.0.1:$port;|" \
    -e '/^ *nano_auth_hsts /d' \
    -e '/listen .*\[::\]/d' \
    -e "s|^\( *\)listen .*443 ssl;|\1listen       127.0.0.1:$port;|" \
    -e 's|server_name .*|server_name  _;|' \
    "$root/usr/share/nano/nginx-site.conf" >"$root/etc/nginx/sites-available/nano"
ln -sfn ../sites-available/nano "$root/etc/nginx/sites-enabled/nano"
rm -f "$root/etc/nginx/sites-enabled/default"
check "nginx -t with the packaged snippets and site" inroot nginx -t
# What the operator's copies point at: every file of ours the example
# site, README.Debian and the environment files name is installed.
named_paths() {
    local f p missing=0
    for f in /usr/share/nano/nginx-site.conf \
             /usr/share/doc/nano-platform/README.Debian /etc/nano/common.env \
             /etc/nano/platform.env; do
        while read -r p; do
            [ -e "$root$p" ] || { echo "$f names $p: not installed"; missing=1; }
        done < <(grep -o '/\(usr\|etc/nano\|etc/nginx/nano\)/[A-Za-z0-9._/-]*[A-Za-z0-9_]' "$root$f")
    done
    return "$missing"
}
check "every file the example site, README.Debian and the env files name is installed" \
    named_paths
nginx_up() {
    local i
    # by its path, as nginx.service starts it: a binary upgrade (USR2)
    # re-executes the master's argv[0]
    inroot /usr/sbin/nginx || return 1
    for ((i = 0; i < 50; i++)); do
        chroot_port_open "$port" && return 0
        sleep 0.1
    done
    return 1
}
check "nginx starts (the stock binary and nginx.conf, the site enabled)" nginx_up

# --- a protected module, without and with a session ---------------------------
base_url=http://127.0.0.1:$port
jar=$work/cookies
: >"$jar"
# http METHOD PATH [curl args...]: prints the status; body and headers in $work
http() {
    local m=$1 p=$2
    shift 2
    curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' -b "$jar" -c "$jar" \
        -X "$m" -H "Origin: $base_url" "$@" "$base_url$p"
}
# expect STATUS METHOD PATH [curl args...]
expect() {
    local want=$1 got
    shift
    got=$(http "$@")
    [ "$got" = "$want" ] || {
        echo "$1 $2 answered $got, not $want"
        head -c 300 "$work/body"
        echo
        return 1
    }
}
anon_page() {
    expect 302 GET /nano-banana/ && grep -qi '^location: /api/auth/signin' "$work/headers"
}
check "GET /nano-banana/ without a session: 302 to the sign-in" anon_page
check "GET /nano-banana/api/me without a session: 401" expect 401 GET /nano-banana/api/me
check "GET /ui/ui.css: 200 from /usr/share/nano/backends" expect 200 GET /ui/ui.css

email=deb-test-$RANDOM$RANDOM@example.com password=deb-test-password-1
signin() {
    local token
    expect 201 POST /api/register -H 'Content-Type: application/json' \
        --data "{\"email\":\"$email\",\"name\":\"Deb Test\",\"password\":\"$password\"}" ||
        return 1
    expect 200 GET /api/auth/csrf || return 1
    token=$(sed -n 's/.*"csrfToken":"\([^"]*\)".*/\1/p' "$work/body")
    expect 302 POST /api/auth/callback/credentials \
        -H 'Content-Type: application/x-www-form-urlencoded' \
        --data-urlencode "csrfToken=$token" --data-urlencode "email=$email" \
        --data-urlencode "password=$password" --data-urlencode "callbackUrl=/" ||
        return 1
    grep -q 'next-auth.session-token' "$jar"
}
check "sign-up and sign-in through the platform: a session cookie" signin
page() { expect 200 GET /nano-banana/ && grep -qi '<html' "$work/body"; }
check "GET /nano-banana/ with the session: 200, the module's page" page
me() { expect 200 GET /nano-banana/api/me && grep -q "$email" "$work/body"; }
check "GET /nano-banana/api/me with the session: 200, this user" me

# generated CURL-ARGS...: POST /nano-banana/api/generate with them (202),
# then its generation until it succeeded (its JSON left in $work/body).
generated() {
    local id i
    expect 202 POST /nano-banana/api/generate "$@" || return 1
    id=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$work/body")
    for ((i = 0; i < 60; i++)); do
        expect 200 GET "/nano-banana/api/generations/$id" || return 1
        grep -q '"status":"succeeded"' "$work/body" && return 0
        grep -q '"status":"failed"' "$work/body" && break
        sleep 0.5
    done
    cat "$work/body"
    return 1
}
generate() {
    local url
    generated -H 'Content-Type: application/json' \
        --data '{"prompt":"a banana in a package"}' || return 1
    url=$(grep -o '"url":"[^"]*"' "$work/body" | head -n 1 | sed 's/"url":"\(.*\)"/\1/')
    [ -n "$url" ] || { cat "$work/body"; return 1; }
    expect 200 GET "$url" || return 1
    is '211PNG' sh -c "head -c 4 '$work/body' | od -An -c | tr -d ' \n'" || return 1
    cp "$work/body" "$work/generated.png"
    # written by the module's user; nginx reads it through nano-media
    inroot find /var/lib/nano/media/nano-banana -type f -name '*.png' \
        -user nano-nano-banana -group nano-media | grep .
}
check "an image nano-banana generated (its user's file) sent by nginx" generate
# as_app APP CMD...: CMD as the app's user with its unit's groups
as_app() {
    local app=$1
    shift
    inroot setpriv --reuid="nano-$app" --regid="nano-$app" \
        --groups="$(unit_get "$app" SupplementaryGroups | tr ' \n' ',,' | sed 's/,*$//')" -- "$@"
}
# Until 2026-12-07 every app was in nano-media, so any module could read
# every other's files (and list the media root).
isolated() {
    local f
    f=$(inroot find /var/lib/nano/media/nano-banana -type f -name '*.png' | head -n 1)
    [ -n "$f" ] || return 1
    as_app nano-banana test -r "$f" || { echo "nano-banana cannot read $f"; return 1; }
    inroot runuser -u www-data -- test -r "$f" || { echo "www-data cannot read $f"; return 1; }
    ! as_app qwen cat "$f" >/dev/null 2>&1 || { echo "nano-qwen read $f"; return 1; }
    ! as_app platform ls /var/lib/nano/media/nano-banana >/dev/null 2>&1 ||
        { echo "nano-platform listed nano-banana's folder"; return 1; }
    ! as_app qwen ls /var/lib/nano/media >/dev/null 2>&1 ||
        { echo "nano-qwen listed the media folder"; return 1; }
}
check "another app (qwen, the platform) can neither read nor list nano-banana's files; nginx reads them" isolated
# An edit's image streams to tmp/ as nano-banana's file and is kept in its
# own folder.
edit_upload() {
    generated -F 'prompt=the banana, greener' \
        -F "image=@$work/generated.png;type=image/png" || return 1
    inroot find /var/lib/nano/media/nano-banana -path '*/inputs/*' -type f \
        -user nano-nano-banana -perm 0640 | grep . &&
        is '' inroot find /var/lib/nano/media/tmp -type f
}
check "an edit's uploaded image goes through tmp/ into nano-banana's folder (0640, its user's)" edit_upload
avatar() {
    local id
    expect 200 GET /nano-banana/api/me || return 1
    id=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$work/body")
    expect 200 POST /api/account/avatar \
        -F "image=@$work/generated.png;type=image/png" || return 1
    expect 200 GET "/api/account/avatar/$id" || return 1
    is '211PNG' sh -c "head -c 4 '$work/body' | od -An -c | tr -d ' \n'" || return 1
    inroot find /var/lib/nano/media/avatars -type f -name "$id.png" \
        -user nano-platform -group nano-media | grep .
}
check "an avatar uploaded (the platform's file in avatars/) sent by nginx" avatar
check "the platform's revocation file is readable by www-data" \
    inroot runuser -u www-data -- test -r /run/nano-platform/revocations
# The platform cannot list the media folder (root's 2751): a second
# account's export is whole, and its deletion takes its image folder (its
# module's removal, at the deletion's NOTIFY) and its avatar all the same;
# the platform's log says why it removed none itself, where it said
# "removed the 0 files".
deleted_account() {
    local jar=$work/cookies-gone email=deb-gone-$RANDOM$RANDOM@example.com id i
    local media=$root/var/lib/nano/media
    : >"$jar"
    signin && generate || return 1
    expect 200 GET /nano-banana/api/me || return 1
    id=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$work/body")
    [ -d "$media/nano-banana/$id" ] || { echo "no folder of $id"; return 1; }
    expect 200 POST /api/account/avatar -F "image=@$work/generated.png;type=image/png" &&
        expect 200 GET /api/account/export || return 1
    if ! grep -q "\"id\":\"$id\"" "$work/body" || ! grep -q '"generations":\[{' "$work/body" ||
        [ "$(tail -c 2 "$work/body")" != ']}' ]; then
        head -c 300 "$work/body"
        return 1
    fi
    expect 200 DELETE /api/account -H 'Content-Type: application/json' \
        --data "{\"password\":\"$password\"}" || return 1
    for ((i = 0; i < 50; i++)); do
        [ ! -e "$media/nano-banana/$id" ] && [ ! -e "$media/avatars/$id.png" ] &&
            grep -q "deleted user $id: the media folder .* cannot be listed here" "$work/platform.log" &&
            break
        sleep 0.1
    done
    [ ! -e "$media/nano-banana/$id" ] || { echo "its folder stayed"; return 1; }
    [ ! -e "$media/avatars/$id.png" ] || { echo "its avatar stayed"; return 1; }
    ! grep "files of deleted user $id" "$work/platform.log" || return 1
    grep "deleted user $id:" "$work/platform.log"
}
check "a second account's export, and its deletion: its image folder and avatar go though the platform cannot list the media folder" \
    deleted_account

# --- an upgrade -------------------------------------------------------------
# The same files as the next version (the control files' versions raised,
# nothing else): what is checked is what apt and the maintainer scripts
# do on an upgrade, with the apps running, as an operator's would be.
version=$(dpkg-deb -f "$root${debs[0]}" Version)
next=$version+upgrade1
upgrade_debs=()
for f in "${debs[@]}"; do
    d=$work/repack
    rm -rf "$d"
    if ! { dpkg-deb -R "$root$f" "$d" &&
           sed -i -e "s/^Version: .*/Version: $next/" \
               -e "s/(= $version)/(= $next)/g" "$d/DEBIAN/control" &&
           dpkg-deb -b "$d" "$root/tmp/debs/next-${f##*/}" >/dev/null; }; then
        die "cannot repack $f as $next"
    fi
    upgrade_debs+=("/tmp/debs/next-${f##*/}")
done
conf_sum=$(sha256sum "$root/etc/nano/common.env" "$root/etc/nano/keys")
# From here the maintainer scripts see a running systemd, which a chroot
# cannot have: a stand-in systemctl records what they ask of it, and
# whether the programs were still installed when they asked.
calls=/tmp/systemctl.calls
mv "$root/usr/bin/systemctl" "$root/usr/bin/systemctl.real"
cat >"$root/usr/bin/systemctl" <<EOF
#!/bin/sh
state=gone
[ -x /usr/lib/nano/bin/nano-platform ] && state=present
echo "\$* (programs \$state)" >>$calls
EOF
chmod 0755 "$root/usr/bin/systemctl"
mkdir -p "$root/run/systemd/system"
# and invoke-rc.d may do what Debian's nginx does to take a new binary
# (its init script's graceful upgrade), nothing else
cat >"$root/usr/sbin/policy-rc.d" <<'EOF'
#!/bin/sh
[ "$1" = --quiet ] && shift
[ "$1" = nginx ] && [ "$2" = upgrade ] && exit 0
exit 101
EOF
so=/usr/lib/nginx/modules/ngx_http_nano_auth_module.so
old_master=$(cat "$root/run/nginx.pid")
versions() {
    # shellcheck disable=SC2016 # dpkg-query's field, not the shell's
    inroot dpkg-query -W -f '${Version}\n' nano-platform \
        libnginx-mod-http-nano-auth | paste -sd ' '
}
upgrade() {
    inroot apt-get install -y "${upgrade_debs[@]}" >"$work/upgrade.log" 2>&1 ||
        { tail "$work/upgrade.log"; return 1; }
    is "$next $next" versions
}
# as an install from before 2026-12-07 left it: every app in nano-media
inroot usermod -a -G nano-media nano-qwen
check "apt upgrades both packages to $next, the apps running" upgrade
check "the upgrade takes the apps out of nano-media (nano-qwen was in it)" users_ok
check "the upgrade's postinst restarts the running apps (try-restart nano@*.service)" \
    grep -Fx 'try-restart nano@*.service (programs present)' "$root$calls"
# A reload keeps the module nginx's master loaded (dlopen of the same
# path): the replaced file must be loaded by a new master.
new_module() {
    local pid i
    pid=$(cat "$root/run/nginx.pid")
    [ "$pid" != "$old_master" ] || { echo "the same master, $pid"; return 1; }
    if grep -qF "$so (deleted)" "/proc/$pid/maps" ||
        ! grep -qF "$so" "/proc/$pid/maps"; then
        grep -F "$so" "/proc/$pid/maps"
        return 1
    fi
    # the old master ends once its workers have (a zombie counts as gone)
    for ((i = 0; i < 50; i++)); do
        grep -qs '^State:[[:space:]]*[^Z]' "/proc/$old_master/status" || return 0
        sleep 0.1
    done
    echo "the old master $old_master still runs"
    return 1
}
check "nginx runs the upgraded module: a new master, the replaced file unmapped" new_module
kept() {
    local f
    is "$conf_sum" sha256sum "$root/etc/nano/common.env" "$root/etc/nano/keys" ||
        return 1
    for f in "$root"/etc/nano/*.dpkg-*; do
        [ -e "$f" ] && { echo "left by dpkg: ${f#"$root"}"; return 1; }
    done
    return 0
}
check "the operator's common.env and the session key are kept as they were" kept
check "the module stays enabled, nginx -t still loads it" \
    inroot sh -c "test -L $modlink && nginx -t"
restart_apps() {
    stop_apps
    start_app platform
    start_app nano-banana
    apps_ok && inroot nginx -s reload
}
check "the apps start again on the new programs (as try-restart would)" restart_apps
still_signed_in() {
    me && expect 200 GET '/nano-banana/api/history' &&
        grep -q '"status":"succeeded"' "$work/body"
}
check "the session from before the upgrade still signs in; the history is there" \
    still_signed_in

# --- removal ------------------------------------------------------------
stop_all
media_sum=$(cd "$root/var/lib/nano/media" && find . -type f | sort | xargs sha256sum)
conf_sum=$(sha256sum "$root"/etc/nano/*.env "$root/etc/nano/keys")
: >"$root$calls"
remove_ok() {
    inroot apt-get remove -y nano-platform libnginx-mod-http-nano-auth \
        >"$work/remove.log" 2>&1 || { tail "$work/remove.log"; return 1; }
    [ ! -e "$root/usr/lib/nano/bin/nano-platform" ] || return 1
    # the apps and their sockets stopped while their programs were there
    grep -Fx 'stop nano@*.service nano@*.socket (programs present)' "$root$calls" &&
        grep -Fx 'daemon-reload (programs gone)' "$root$calls"
}
check "apt-get remove stops the apps and their sockets before their programs go" \
    remove_ok
remove_kept() {
    is "$conf_sum" sha256sum "$root"/etc/nano/*.env "$root/etc/nano/keys" &&
        is "$media_sum" sh -c "cd '$root/var/lib/nano/media' && find . -type f | sort | xargs sha256sum" &&
        grep -q . <<<"$media_sum" &&
        is 'root:root 600' owner /etc/nano/keys &&
        inroot id nano-platform >/dev/null
}
check "apt-get remove keeps the key, the env files, the users and the media" remove_kept
rm -f "$root/usr/bin/systemctl"
mv "$root/usr/bin/systemctl.real" "$root/usr/bin/systemctl"
rmdir "$root/run/systemd/system"
purge_ok() {
    inroot apt-get purge -y nano-platform libnginx-mod-http-nano-auth \
        >"$work/purge.log" 2>&1 || { tail "$work/purge.log"; return 1; }
    [ ! -e "$root$modlink" ] && [ ! -e "$root/etc/nano/keys" ] &&
        [ ! -e "$root/usr/lib/nano/bin/nano-platform" ]
}
check "apt-get purge removes the module's link, the programs and the key" purge_ok

echo "deb-test: $passed passed, $failed failed ($((SECONDS - start)) s)"
[ "$failed" -eq 0 ]
