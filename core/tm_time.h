/* tm_time: the monotonic clock the node measures itself with.
 *
 * For rates, timeouts and the realtime schedule only: models never read a
 * clock (determinism), they get the tick and h.
 */
#ifndef TM_TIME_H_INCLUDED
#define TM_TIME_H_INCLUDED

#include <time.h>

/* Seconds of CLOCK_MONOTONIC. */
static inline double tm_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
