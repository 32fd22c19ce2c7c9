/*
 * A test helper, never deployed: a process started with
 * LD_PRELOAD=build/lib/nano-slowlisten.so and NANO_LISTEN_DELAY_MS=<ms>
 * waits that long in each listen(), as a loaded host may between a
 * socket's bind() and its listen().  runtime.test.mjs uses it to find
 * whether a unix socket's path appears before it accepts connections.
 */

#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

typedef int (*nano_listen_fn)(int, int);

int
listen(int fd, int backlog)
{
    static nano_listen_fn  real;
    const char            *s = getenv("NANO_LISTEN_DELAY_MS");
    long                   ms = s != NULL ? strtol(s, NULL, 10) : 0;
    struct timespec        ts;

    if (real == NULL) {
        real = (nano_listen_fn) dlsym(RTLD_NEXT, "listen");
    }
    if (ms > 0) {
        ts.tv_sec = ms / 1000;
        ts.tv_nsec = (ms % 1000) * 1000000L;
        nanosleep(&ts, NULL);
    }
    return real(fd, backlog);
}
