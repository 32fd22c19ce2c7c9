/*
 * The FastCGI connections waiting for a worker (nano_conns.h).
 *
 * Every descriptor is watched with EPOLLONESHOT, so one event wakes one
 * worker and the connection is that worker's until it parks it again.
 * The idle table says which descriptors are parked: a worker takes a
 * connection only while it is marked, so nano_conns_close_idle can close
 * the idle ones at a stop without closing one a worker just took.
 */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nano_conns.h"
#include "nano_log.h"

#define NANO_CONNS_IDLE_MAX  (1 << 22)      /* descriptors tracked */
#define NANO_CONNS_REWATCH_MS  100          /* while the listener is not */

static int
nano_conns_watch(nano_conns_t *c, int fd)
{
    struct epoll_event  ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    ev.data.fd = fd;
    if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, fd, &ev) == 0) {
        return 0;
    }
    /* a new connection, or a number that a closed one left */
    if (errno != ENOENT) {
        return -1;
    }
    return epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int
nano_conns_init(nano_conns_t *c, int listen_fd)
{
    struct sockaddr_storage  ss;
    struct rlimit            rl;
    socklen_t                len = sizeof(ss);
    int                      flags;

    memset(c, 0, sizeof(*c));
    c->epfd = -1;
    c->listen_fd = listen_fd;
    if (getsockname(listen_fd, (struct sockaddr *) &ss, &len) == 0) {
        c->tcp = ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
    }
    c->nidle = NANO_CONNS_IDLE_MAX;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
        && rl.rlim_cur < NANO_CONNS_IDLE_MAX)
    {
        c->nidle = (int) rl.rlim_cur;
    }
    c->idle = calloc((size_t) c->nidle, 1);
    if (c->idle == NULL) {
        return -1;
    }
    flags = fcntl(listen_fd, F_GETFL);
    if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        goto fail;
    }
    c->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (c->epfd < 0 || nano_conns_watch(c, listen_fd) != 0) {
        goto fail;
    }
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        goto fail;
    }
    return 0;

fail:
    flags = errno;
    if (c->epfd >= 0) {
        close(c->epfd);
        c->epfd = -1;
    }
    free(c->idle);
    c->idle = NULL;
    errno = flags;
    return -1;
}

/*
 * Under the lock: closes one idle connection (nginx then drops it from
 * its cache), looking from the cursor on, so that repeated calls cover
 * the table once.  1, or 0 when none is idle.
 */
static int
nano_conns_close_one(nano_conns_t *c)
{
    int  i, fd;

    for (i = 0; c->parked > 0 && i < c->nidle; i++) {
        fd = (c->close_from + i) % c->nidle;
        if (c->idle[fd]) {
            c->idle[fd] = 0;
            c->parked--;
            c->close_from = fd + 1;
            close(fd);
            return 1;
        }
    }
    return 0;
}

/* Closes one idle connection for a new one: 1, or 0 when none is idle. */
static int
nano_conns_shed(nano_conns_t *c)
{
    int  shed;

    pthread_mutex_lock(&c->lock);
    shed = nano_conns_close_one(c);
    pthread_mutex_unlock(&c->lock);
    return shed;
}

/*
 * Watches the listener again after its one-shot event.  That fails only
 * for want of kernel memory (ENOMEM): then no new connection would ever
 * wake a worker, so each worker's wait is cut short and tries again
 * until it succeeds (nano_conns_next).
 */
static void
nano_conns_rewatch(nano_conns_t *c)
{
    if (nano_conns_watch(c, c->listen_fd) == 0) {
        if (atomic_exchange(&c->unwatched, 0)) {
            nano_log_info("the listener is watched again: new connections"
                          " are accepted");
        }
        return;
    }
    if (!atomic_exchange(&c->unwatched, 1)) {
        nano_log_error("cannot watch the listener again (%s): tried again"
                       " every %d ms; kept connections are still served",
                       strerror(errno), NANO_CONNS_REWATCH_MS);
    }
}

/* A new connection, or -1 with errno (EAGAIN: another took it). */
static int
nano_conns_accept(nano_conns_t *c)
{
    int  fd, err, on = 1;

    fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE)
        && nano_conns_shed(c))
    {
        /* otherwise the new connection would wait for nginx's
         * keepalive_timeout while idle ones held every descriptor */
        fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    }
    err = errno;
    /* the next connection may be taken while this one is served */
    nano_conns_rewatch(c);
    if (fd >= 0 && c->tcp) {
        /* small records (SSE deltas) must not wait for Nagle */
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    }
    errno = err;
    return fd;
}

int
nano_conns_next(nano_conns_t *c, const sigset_t *wait_mask)
{
    struct epoll_event  ev;
    int                 fd, n, taken;

    for (;;) {
        if (atomic_load(&c->unwatched)) {
            nano_conns_rewatch(c);
        }
        n = epoll_pwait(c->epfd, &ev, 1, atomic_load(&c->unwatched)
                                         ? NANO_CONNS_REWATCH_MS : -1,
                        wait_mask);
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            continue;
        }
        fd = ev.data.fd;
        if (fd == c->listen_fd) {
            if (ev.events & (EPOLLHUP | EPOLLERR)) {
                /* shut down at a stop: watched again, so that it ends
                 * every worker's wait in turn */
                (void) nano_conns_watch(c, c->listen_fd);
                errno = ESHUTDOWN;
                return -1;
            }
            fd = nano_conns_accept(c);
            if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK
                           || errno == ECONNABORTED || errno == EINTR))
            {
                continue;
            }
            return fd;
        }
        pthread_mutex_lock(&c->lock);
        taken = fd < c->nidle && c->idle[fd];
        if (taken) {
            c->idle[fd] = 0;
            c->parked--;
        }
        pthread_mutex_unlock(&c->lock);
        if (taken) {
            return fd;
        }
        /* closed by nano_conns_close_idle after its event was queued */
    }
}

void
nano_conns_park(nano_conns_t *c, int fd)
{
    int  kept = 0;

    pthread_mutex_lock(&c->lock);
    /* half the descriptors at most: the rest stays for database
     * connections, provider calls, files and the connections that carry
     * requests */
    if (!c->closing && fd < c->nidle && c->parked < c->nidle / 2) {
        /* marked first: its event may wake another worker at once */
        c->idle[fd] = 1;
        c->parked++;
        kept = nano_conns_watch(c, fd) == 0;
        if (!kept) {
            c->idle[fd] = 0;
            c->parked--;
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (!kept) {
        close(fd);
    }
}

void
nano_conns_close_idle(nano_conns_t *c)
{
    if (c->idle == NULL) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    c->closing = 1;
    while (nano_conns_close_one(c)) {
        /* each looks on from where the last one closed */
    }
    pthread_mutex_unlock(&c->lock);
}

void
nano_conns_cleanup(nano_conns_t *c)
{
    if (c->idle == NULL) {
        return;
    }
    nano_conns_close_idle(c);
    close(c->epfd);
    pthread_mutex_destroy(&c->lock);
    free(c->idle);
    c->idle = NULL;
}
