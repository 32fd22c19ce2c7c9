/*
 * The FastCGI connections waiting for a worker: new ones on the listener
 * and kept ones between two requests (nginx's fastcgi_keep_conn with an
 * upstream keepalive).  libfcgi's own accept loop would tie a kept
 * connection to one worker thread while it idles, so that nginx workers
 * × keepalive idle connections could starve a backend of threads; here
 * an idle connection costs a descriptor in one epoll set, and whichever
 * worker is free takes the next request from any connection.
 */

#ifndef NANO_CONNS_H
#define NANO_CONNS_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

typedef struct {
    pthread_mutex_t   lock;
    int               epfd;
    int               listen_fd;
    int               tcp;          /* the listener is TCP: TCP_NODELAY */
    int               closing;      /* nano_conns_close_idle ran */
    unsigned char    *idle;         /* by descriptor: 1 while parked */
    int               nidle;        /* its size (RLIMIT_NOFILE) */
    int               parked;       /* how many are marked */
    int               close_from;   /* where the next close looks first */
    atomic_int        unwatched;    /* the listener could not be watched
                                       again: tried anew each turn */
} nano_conns_t;

/*
 * Watches listen_fd (made non-blocking: an event may be taken by another
 * process sharing the socket).  0, or -1 with errno.
 */
int nano_conns_init(nano_conns_t *c, int listen_fd);

/*
 * Blocks until a connection has something to read: a new one, accepted
 * here, or an idle one whose next request (or end) arrived.  Each is
 * handed to exactly one caller.  Returns its descriptor (blocking, close
 * on exec), or -1 with errno: EINTR when a signal came, ESHUTDOWN when
 * the listener was shut down, else accept's.  With wait_mask, the
 * thread's signal mask is that one while it waits, and only then
 * (epoll_pwait): a wake-up signal the caller keeps blocked while it
 * serves is taken here, or at once on its next wait when it came
 * meanwhile.
 */
int nano_conns_next(nano_conns_t *c, const sigset_t *wait_mask);

/*
 * Keeps fd, whose request ended and which the web server keeps, until
 * its next request; closes it when that cannot be watched, when half the
 * process's descriptors (RLIMIT_NOFILE) are idle connections already, or
 * when the process is stopping.  Out of descriptors, an accept closes an
 * idle connection to take the new one.
 */
void nano_conns_park(nano_conns_t *c, int fd);

/*
 * When the process stops: closes the idle connections, so that the web
 * server drops them before it sends a request nobody would read, and
 * every later nano_conns_park closes its connection.
 */
void nano_conns_close_idle(nano_conns_t *c);

void nano_conns_cleanup(nano_conns_t *c);

#endif
