/*
 * A test helper, never deployed: a process started with
 * LD_PRELOAD=build/lib/nano-clockskew.so and NANO_CLOCK_SKEW=<seconds>
 * sees its wall clock (time, clock_gettime's CLOCK_REALTIME) that far
 * off, as a host whose clock is not synchronised would; its monotonic
 * clock is left alone.  The lease tests use it
 * (tests/integration/jobs_leases.test.mjs).
 */

#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

typedef int (*nano_clock_fn)(clockid_t, struct timespec *);

static long
nano_clockskew_secs(void)
{
    const char  *s = getenv("NANO_CLOCK_SKEW");

    return s != NULL ? strtol(s, NULL, 10) : 0;
}

int
clock_gettime(clockid_t clk, struct timespec *ts)
{
    static nano_clock_fn  real;
    int                   rc;

    if (real == NULL) {
        real = (nano_clock_fn) dlsym(RTLD_NEXT, "clock_gettime");
        if (real == NULL) {
            return -1;
        }
    }
    rc = real(clk, ts);
    if (rc == 0 && (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE)) {
        ts->tv_sec += nano_clockskew_secs();
    }
    return rc;
}

time_t
time(time_t *t)
{
    struct timespec  ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return (time_t) -1;
    }
    if (t != NULL) {
        *t = ts.tv_sec;
    }
    return ts.tv_sec;
}
