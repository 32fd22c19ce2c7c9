/*
 * The monotonic clock in milliseconds.
 */

#include <time.h>

#include "nano_clock.h"

long long
nano_clock_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
