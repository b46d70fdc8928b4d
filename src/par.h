/*
 * par.h - seqrun's own worker threads, for kernels that split their work
 * (a chunk's samples) themselves; OpenBLAS keeps its own pool.
 */
#ifndef SR_PAR_H
#define SR_PAR_H

#include <stdint.h>

/* The most threads the pool runs (its claim mask has one bit per thread);
 * --threads above it is a usage error. */
#define SR_PAR_MAXTHREADS 32

/* The CPUs this process may run on (its affinity mask; else the online
 * ones), at least 1. */
int sr_par_cores(void);

/* Runs fn(arg, i, tid) for every i in [0, n) on up to `threads` threads,
 * the caller's included (tid 0); tid < threads tells a task which scratch
 * is its own.  Returns when all are done.  Tasks are handed out in order,
 * one at a time.  With threads <= 1, or n <= 1, runs them in the caller.
 * One job at a time: not to be called from inside a task. */
void sr_par_for(int threads, int64_t n, void (*fn)(void *arg, int64_t i, int tid), void *arg);

/* Runs fn(arg, t, tid) for t in [0, threads): task t on thread t when that
 * thread is there to take it (else on whichever is), so that a job split
 * the same way every time keeps each part in one core's cache (a GEMV's
 * rows); tid still names the thread that runs it. */
void sr_par_run(int threads, void (*fn)(void *arg, int64_t i, int tid), void *arg);

#endif
