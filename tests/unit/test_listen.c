/*
 * Unit tests for the FastCGI listeners (nano_listen): which addresses
 * parse and which are loopback, and that only a unix socket or a loopback
 * address is ever listened on.  A unix socket's file appears with its
 * mode, a stale one is replaced, and one in use or a file that is not a
 * socket is left alone.
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "unit_table.h"
#include "unit_tmpdir.h"

#include "nano_listen.h"
#include "nano_server.h"

typedef struct {
    const char  *name;
    const char  *spec;
    int          parses;
    int          loopback;
    int          family;
    int          port;
} tcp_case_t;

static const tcp_case_t  tcp_cases[] = {
    { "ipv4 loopback", "127.0.0.1:3000", 1, 1, AF_INET, 3000 },
    { "the rest of 127/8", "127.200.1.9:80", 1, 1, AF_INET, 80 },
    { "localhost", "localhost:9000", 1, 1, AF_INET, 9000 },
    { "ipv6 loopback", "[::1]:65535", 1, 1, AF_INET6, 65535 },
    { "every interface", "0.0.0.0:3000", 1, 0, AF_INET, 3000 },
    { "empty host (every interface)", ":3000", 0, 0, 0, 0 },
    { "a public address", "10.1.2.3:3000", 1, 0, AF_INET, 3000 },
    { "ipv6 any", "[::]:3000", 1, 0, AF_INET6, 3000 },
    { "ipv4 in ipv6 loopback", "[::ffff:127.0.0.1]:1", 1, 0, AF_INET6, 1 },
    { "no port", "127.0.0.1", 0, 0, 0, 0 },
    { "empty port", "127.0.0.1:", 0, 0, 0, 0 },
    { "port 0", "127.0.0.1:0", 0, 0, 0, 0 },
    { "port too large", "127.0.0.1:65536", 0, 0, 0, 0 },
    { "port too long", "127.0.0.1:000080", 0, 0, 0, 0 },
    { "port with a sign", "127.0.0.1:+80", 0, 0, 0, 0 },
    { "port with a blank", "127.0.0.1: 80", 0, 0, 0, 0 },
    { "a host name", "example.com:80", 0, 0, 0, 0 },
    { "ipv6 without brackets", "::1:80", 0, 0, 0, 0 },
    { "bracket not closed", "[::1:80", 0, 0, 0, 0 },
    { "a long host",
      "1111111111111111111111111111111111111111111111111111111111111111:1",
      0, 0, 0, 0 },
};

static void
tcp_row(void **state)
{
    const tcp_case_t         *c = *state;
    struct sockaddr_storage   ss;
    socklen_t                 len = 0;
    int                       port;

    if (!c->parses) {
        assert_int_equal(nano_listen_parse_tcp(c->spec, &ss, &len), -1);
        return;
    }
    assert_int_equal(nano_listen_parse_tcp(c->spec, &ss, &len), 0);
    assert_int_equal(ss.ss_family, c->family);
    if (c->family == AF_INET) {
        assert_int_equal(len, sizeof(struct sockaddr_in));
        port = ntohs(((struct sockaddr_in *) &ss)->sin_port);
    } else {
        assert_int_equal(len, sizeof(struct sockaddr_in6));
        port = ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
    }
    assert_int_equal(port, c->port);
    assert_int_equal(nano_listen_is_loopback((struct sockaddr *) &ss),
                     c->loopback);
}

/* Whatever parses but is not loopback is refused before any socket. */
static void
test_open_refuses_public(void **state)
{
    static const char *const  specs[] = {
        "0.0.0.0:1", ":1", "10.1.2.3:1", "[::]:1", "bad", "127.0.0.1:0",
        "unix:relative.sock",
    };
    nano_listener_t           l;
    size_t                    i;

    (void) state;
    for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        memset(&l, 0, sizeof(l));
        assert_int_equal(nano_listen_open(specs[i], 0600, &l),
                         NANO_EXIT_USAGE);
        assert_int_equal(l.fd, -1);
    }
}

/* A free loopback port, found by binding port 0 (a race with other
 * processes is possible but unlikely). */
static int
free_port(void)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);
    int                 fd, port = -1;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0
        && getsockname(fd, (struct sockaddr *) &sin, &len) == 0)
    {
        port = ntohs(sin.sin_port);
    }
    close(fd);
    return port;
}

static void
test_open_tcp(void **state)
{
    nano_listener_t  l;
    char             spec[32];
    int              port = free_port(), listening = 0;
    socklen_t        optlen = sizeof(listening);

    (void) state;
    assert_true(port > 0);
    snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
    assert_int_equal(nano_listen_open(spec, 0600, &l), NANO_EXIT_OK);
    assert_true(l.fd >= 0);
    assert_false(l.inherited);
    assert_string_equal(l.unix_path, "");
    assert_string_equal(l.name, spec);
    assert_int_equal(getsockopt(l.fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
                                &optlen), 0);
    assert_true(listening);
    close(l.fd);
}

/* A socket file whose process is gone, as a killed backend leaves it. */
static void
make_stale(const char path[100])
{
    struct sockaddr_un  sun;
    int                 fd = socket(AF_UNIX, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *) &sun, sizeof(sun)), 0);
    close(fd);
}

static void
test_open_unix(void **state)
{
    char             dir[64], path[100], spec[120], notsock[108];
    nano_listener_t  l, again;
    struct stat      st;
    FILE            *f;

    (void) state;
    assert_int_equal(unit_tmpdir(dir, sizeof(dir), "listen"), 0);
    snprintf(path, sizeof(path), "%s/app.sock", dir);
    snprintf(spec, sizeof(spec), "unix:%s", path);

    /* a stale file is replaced */
    make_stale(path);
    assert_int_equal(nano_listen_open(spec, 0660, &l), NANO_EXIT_OK);
    assert_string_equal(l.unix_path, path);
    assert_string_equal(l.name, spec);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0660);
    /* the name it was bound under first is gone */
    snprintf(notsock, sizeof(notsock), "%s.new", path);
    assert_int_equal(lstat(notsock, &st), -1);

    /* one in use is left to its process */
    assert_int_equal(nano_listen_open(spec, 0660, &again),
                     NANO_EXIT_FAILURE);
    assert_int_equal(lstat(path, &st), 0);
    close(l.fd);
    unlink(path);

    /* a file that is not a socket is never removed */
    snprintf(notsock, sizeof(notsock), "%s/data", dir);
    f = fopen(notsock, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(spec, sizeof(spec), "unix:%s", notsock);
    assert_int_equal(nano_listen_open(spec, 0660, &again),
                     NANO_EXIT_FAILURE);
    assert_int_equal(lstat(notsock, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(unit_tmpdir_remove(dir), 0);
}

int
main(void)
{
    const struct CMUnitTest  extra[] = {
        UNIT_TEST("open refuses what is not loopback",
                  test_open_refuses_public),
        UNIT_TEST("open a loopback port", test_open_tcp),
        UNIT_TEST("open a unix socket", test_open_unix),
    };

    return unit_run_table("listen", tcp_cases,
                          sizeof(tcp_cases) / sizeof(tcp_cases[0]),
                          sizeof(tcp_cases[0]), tcp_row, extra,
                          sizeof(extra) / sizeof(extra[0]));
}
