/*
 * The monotonic clock in milliseconds: deadlines and elapsed times that
 * a change of the wall clock cannot move; and timed waits' deadlines.
 */

#ifndef NANO_CLOCK_H
#define NANO_CLOCK_H

#include <time.h>

long long nano_clock_ms(void);

/* *ts = clock's now + ms: the deadline of a timed wait on that clock. */
void nano_clock_after(clockid_t clock, long ms, struct timespec *ts);

#endif /* NANO_CLOCK_H */
