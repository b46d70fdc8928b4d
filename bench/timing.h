/* timing.h - the clock and the sort order the in-process benches share. */
#ifndef SR_BENCH_TIMING_H
#define SR_BENCH_TIMING_H

#include <time.h>

/* seconds on clock `id` (CLOCK_MONOTONIC: wall; CLOCK_THREAD_CPUTIME_ID:
 * the calling thread's CPU time) */
static inline double bench_clock(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* qsort order for doubles, smallest first */
static inline int bench_cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#endif
