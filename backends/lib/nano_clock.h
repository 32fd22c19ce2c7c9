/*
 * The monotonic clock in milliseconds: deadlines and elapsed times that
 * a change of the wall clock cannot move.
 */

#ifndef NANO_CLOCK_H
#define NANO_CLOCK_H

long long nano_clock_ms(void);

#endif /* NANO_CLOCK_H */
