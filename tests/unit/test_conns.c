/*
 * Unit tests for the FastCGI connections' wait (nano_conns): new and kept
 * connections are handed out, and a listener that the kernel refuses to
 * watch again (ENOMEM, injected below) is watched again on a later turn
 * instead of never accepting another connection.
 */

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "nano_conns.h"

/* EPOLL_CTL_MOD of this descriptor fails with ENOMEM this many times */
static int  fail_fd = -1;
static int  fail_left;

/* Takes the place of libc's for everything linked into this test. */
int
epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    if (op == EPOLL_CTL_MOD && fd == fail_fd && fail_left > 0) {
        fail_left--;
        errno = ENOMEM;
        return -1;
    }
    return (int) syscall(SYS_epoll_ctl, epfd, op, fd, ev);
}

typedef struct {
    nano_conns_t  *c;
    int            fd;
    int            done;
} next_t;

static void *
next_thread(void *arg)
{
    next_t  *n = arg;

    n->fd = nano_conns_next(n->c, NULL);
    __atomic_store_n(&n->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* nano_conns_next on a thread: its descriptor, or -2 when it did not
 * return within ms (the thread is left waiting). */
static int
next_within(nano_conns_t *c, int ms)
{
    static next_t  n[8];
    static int     used;
    next_t        *mine = &n[used++ % 8];
    pthread_t      t;
    int            i;

    mine->c = c;
    mine->fd = -1;
    mine->done = 0;
    assert_int_equal(pthread_create(&t, NULL, next_thread, mine), 0);
    for (i = 0; i < ms / 10 && !__atomic_load_n(&mine->done, __ATOMIC_SEQ_CST);
         i++)
    {
        usleep(10000);
    }
    if (!__atomic_load_n(&mine->done, __ATOMIC_SEQ_CST)) {
        pthread_detach(t);
        return -2;
    }
    pthread_join(t, NULL);
    return mine->fd;
}

static int
listener(struct sockaddr_un *sa)
{
    int  fd;

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    snprintf(sa->sun_path, sizeof(sa->sun_path), "/tmp/nano-conns-%d-%ld",
             (int) getpid(), (long) random());
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *) sa, sizeof(*sa)), 0);
    assert_int_equal(listen(fd, 16), 0);
    return fd;
}

static int
dial(const struct sockaddr_un *sa)
{
    int  fd = socket(AF_UNIX, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (const struct sockaddr *) sa, sizeof(*sa)),
                     0);
    return fd;
}

static void
test_new_and_kept_connections(void **state)
{
    struct sockaddr_un  sa;
    nano_conns_t        c;
    int                 lfd, a, served, again;

    (void) state;
    lfd = listener(&sa);
    assert_int_equal(nano_conns_init(&c, lfd), 0);
    a = dial(&sa);
    served = next_within(&c, 2000);
    assert_true(served >= 0);
    /* kept: its next request wakes a worker */
    nano_conns_park(&c, served);
    assert_int_equal(write(a, "x", 1), 1);
    again = next_within(&c, 2000);
    assert_int_equal(again, served);
    close(again);
    close(a);
    nano_conns_cleanup(&c);
    close(lfd);
    unlink(sa.sun_path);
}

static void
test_listener_watched_again_after_enomem(void **state)
{
    struct sockaddr_un  sa;
    nano_conns_t        c;
    int                 lfd, a, b, first, second;

    (void) state;
    lfd = listener(&sa);
    assert_int_equal(nano_conns_init(&c, lfd), 0);
    fail_fd = lfd;
    fail_left = 2;              /* the re-arm after the accept, and once more */
    a = dial(&sa);
    first = next_within(&c, 2000);
    assert_true(first >= 0);
    assert_int_equal(fail_left, 1);
    /* a second connection while the listener is not watched: the next
     * turn watches it again and takes the connection */
    b = dial(&sa);
    second = next_within(&c, 2000);
    assert_true(second >= 0);
    assert_int_equal(fail_left, 0);
    assert_int_not_equal(second, first);
    assert_int_equal(atomic_load(&c.unwatched), 0);
    fail_fd = -1;
    close(first);
    close(second);
    close(a);
    close(b);
    nano_conns_cleanup(&c);
    close(lfd);
    unlink(sa.sun_path);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_new_and_kept_connections),
        cmocka_unit_test(test_listener_watched_again_after_enomem),
    };

    srandom((unsigned) time(NULL));
    return cmocka_run_group_tests_name("conns", tests, NULL, NULL);
}
