/*
 * FastCGI listening sockets: a unix socket, a loopback TCP address, or
 * the socket handed over as fd 0 (spawn-fcgi, systemd).  Anything else
 * is refused, because whoever reaches a FastCGI socket can claim any
 * identity.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nano_listen.h"
#include "nano_log.h"
#include "nano_server.h"

/* a burst of new connections beyond the workers waits here (the kernel
 * caps it at net.core.somaxconn, 4096 on Debian 12) instead of being
 * refused as a 502 */
#define NANO_LISTEN_BACKLOG    4096

static void
nano_listen_refuse(const char *what)
{
    nano_log_error("refusing to listen on %s: only loopback addresses "
                   "(127.0.0.0/8, ::1) or unix:/path are allowed, because "
                   "whoever reaches a FastCGI socket can claim any identity",
                   what);
}

int
nano_listen_is_loopback(const struct sockaddr *sa)
{
    const struct sockaddr_in   *in4;
    const struct sockaddr_in6  *in6;

    switch (sa->sa_family) {
    case AF_INET:
        in4 = (const struct sockaddr_in *) sa;
        return (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
    case AF_INET6:
        in6 = (const struct sockaddr_in6 *) sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    default:
        return 0;
    }
}

/* Removes a socket file no process listens on any more; refuses to
 * touch anything else. */
static int
nano_listen_clear_stale(const struct sockaddr_un *sun)
{
    struct stat  st;
    int          fd, rc = -1;

    if (lstat(sun->sun_path, &st) != 0) {
        return errno == ENOENT ? 0 : -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        nano_log_error("%s exists and is not a socket", sun->sun_path);
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (const struct sockaddr *) sun, sizeof(*sun)) == 0) {
        nano_log_error("%s is in use by another process", sun->sun_path);
        goto out;
    }
    if (unlink(sun->sun_path) != 0 && errno != ENOENT) {
        nano_log_error("cannot remove stale socket %s: %s", sun->sun_path,
                       strerror(errno));
        goto out;
    }
    rc = 0;
out:
    close(fd);
    return rc;
}

/*
 * The path appears only once the socket listens: it is bound under
 * "<path>.new" and linked to its name after listen().  Whoever waits for
 * the file (scripts/lib/stack.sh, make run, the tests) took it for ready
 * and was refused between bind() and listen(), a moment a loaded host
 * stretched (found by the flakes probe).  link() fails when the path
 * exists, as bind() did.
 */
static int
nano_listen_unix(const char *path, mode_t mode, nano_listener_t *l)
{
    struct sockaddr_un  sun, tmp;
    mode_t              old;
    int                 fd = -1, bound = 0;

    if (path[0] != '/' || strlen(path) + 4 >= sizeof(sun.sun_path)) {
        nano_log_error("unix socket path must be absolute and shorter than"
                       " %zu bytes", sizeof(sun.sun_path) - 4);
        return NANO_EXIT_USAGE;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, path);
    tmp = sun;
    strcat(tmp.sun_path, ".new");

    if (nano_listen_clear_stale(&sun) != 0
        || nano_listen_clear_stale(&tmp) != 0)
    {
        return NANO_EXIT_FAILURE;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        goto fail;
    }
    /* Still single-threaded here, so the umask cannot race; it keeps the
     * socket from ever being wider than mode. */
    old = umask((mode_t) (~mode & 0777));
    if (bind(fd, (struct sockaddr *) &tmp, sizeof(tmp)) != 0) {
        umask(old);
        goto fail;
    }
    umask(old);
    bound = 1;
    if (chmod(tmp.sun_path, mode) != 0
        || listen(fd, NANO_LISTEN_BACKLOG) != 0
        || link(tmp.sun_path, path) != 0)
    {
        goto fail;
    }
    unlink(tmp.sun_path);
    l->fd = fd;
    strcpy(l->unix_path, path);
    snprintf(l->name, sizeof(l->name), "unix:%s", path);
    return NANO_EXIT_OK;

fail:
    nano_log_error("cannot listen on unix:%s: %s", path, strerror(errno));
    if (bound) {
        unlink(tmp.sun_path);
    }
    if (fd >= 0) {
        close(fd);
    }
    return NANO_EXIT_FAILURE;
}

int
nano_listen_parse_tcp(const char *spec, struct sockaddr_storage *ss,
    socklen_t *len)
{
    struct sockaddr_in   *in4 = (struct sockaddr_in *) ss;
    struct sockaddr_in6  *in6 = (struct sockaddr_in6 *) ss;
    const char           *colon, *p;
    char                  host[64];
    size_t                hlen;
    long                  port = 0;

    colon = strrchr(spec, ':');
    if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) > 5) {
        return -1;
    }
    for (p = colon + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        port = port * 10 + (*p - '0');
    }
    if (port < 1 || port > 65535) {
        return -1;
    }
    hlen = (size_t) (colon - spec);
    if (hlen >= sizeof(host)) {
        return -1;
    }
    memcpy(host, spec, hlen);
    host[hlen] = '\0';

    memset(ss, 0, sizeof(*ss));
    if (strcmp(host, "localhost") == 0) {
        strcpy(host, "127.0.0.1");
        hlen = strlen(host);
    }
    if (hlen > 2 && host[0] == '[' && host[hlen - 1] == ']') {
        host[hlen - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1) {
            return -1;
        }
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t) port);
        *len = sizeof(*in6);
        return 0;
    }
    /* An empty host (":3000") is how libfcgi spells "every interface". */
    if (inet_pton(AF_INET, host, &in4->sin_addr) != 1) {
        return -1;
    }
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t) port);
    *len = sizeof(*in4);
    return 0;
}

static int
nano_listen_tcp(const char *spec, nano_listener_t *l)
{
    struct sockaddr_storage  ss;
    socklen_t                len;
    int                      fd, on = 1;

    if (nano_listen_parse_tcp(spec, &ss, &len) != 0) {
        nano_log_error("--listen %s: expected 127.0.0.1:PORT, [::1]:PORT or"
                       " unix:/absolute/path", spec);
        return NANO_EXIT_USAGE;
    }
    if (!nano_listen_is_loopback((struct sockaddr *) &ss)) {
        nano_listen_refuse(spec);
        return NANO_EXIT_USAGE;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0
        || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0
        || bind(fd, (struct sockaddr *) &ss, len) != 0
        || listen(fd, NANO_LISTEN_BACKLOG) != 0)
    {
        nano_log_error("cannot listen on %s: %s", spec, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return NANO_EXIT_FAILURE;
    }
    l->fd = fd;
    snprintf(l->name, sizeof(l->name), "%s", spec);
    return NANO_EXIT_OK;
}

/* fd 0 handed over by spawn-fcgi or systemd: must be a listening unix or
 * loopback socket. */
static int
nano_listen_inherited(nano_listener_t *l)
{
    struct sockaddr_storage  ss;
    socklen_t                len = sizeof(ss);
    int                      listening = 0;
    socklen_t                optlen = sizeof(listening);

    if (getsockname(STDIN_FILENO, (struct sockaddr *) &ss, &len) != 0) {
        nano_log_error("no --listen given and stdin is not a socket");
        return NANO_EXIT_USAGE;
    }
    if (getsockopt(STDIN_FILENO, SOL_SOCKET, SO_ACCEPTCONN, &listening,
                   &optlen) != 0 || !listening)
    {
        nano_log_error("no --listen given and stdin is not a listening"
                       " socket");
        return NANO_EXIT_USAGE;
    }
    if (ss.ss_family != AF_UNIX
        && !nano_listen_is_loopback((struct sockaddr *) &ss))
    {
        nano_listen_refuse("the inherited socket (fd 0)");
        return NANO_EXIT_USAGE;
    }
    l->fd = STDIN_FILENO;
    l->inherited = 1;
    snprintf(l->name, sizeof(l->name), "inherited fd 0");
    return NANO_EXIT_OK;
}

int
nano_listen_open(const char *spec, mode_t mode, nano_listener_t *l)
{
    l->fd = -1;
    l->inherited = 0;
    l->unix_path[0] = '\0';
    if (spec == NULL) {
        return nano_listen_inherited(l);
    }
    if (strncmp(spec, "unix:", 5) == 0) {
        return nano_listen_unix(spec + 5, mode, l);
    }
    return nano_listen_tcp(spec, l);
}
