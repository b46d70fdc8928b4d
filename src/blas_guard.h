/*
 * blas_guard.h - keeping OpenBLAS out of work whose buffers would not fit.
 *
 * OpenBLAS gives every thread that runs BLAS work a 128 MiB work buffer,
 * mapped on first use, and retries a mapping that fails forever: under an
 * address-space limit (ulimit -v) or strict overcommit a run would hang
 * mid-GEMM, or at exit joining a server thread stuck in that loop.
 * blas_guard.c has the measurements.
 */
#ifndef SR_BLAS_GUARD_H
#define SR_BLAS_GUARD_H

/*
 * How many threads OpenBLAS may use for work this thread is about to hand
 * it: the most n <= want for which the buffers that work needs (this
 * thread's own, unless it has had one, and those of n - 1 server threads,
 * with room for their stacks) can be mapped now.
 *
 * With err: 0 and a message in err (SR_ERRLEN bytes) when not even this
 * thread's own buffer fits; the caller must not call BLAS then, and fails
 * with SR_ERUN.  Before a cblas_* call: if (!sr_blas_threads(1, err)) ...
 * With err NULL: at least 1, for openblas_set_num_threads(), which needs
 * no buffer of the caller's.
 */
int sr_blas_threads(int want, char *err);

/*
 * For BLAS calls made on seqrun's own worker threads (a GEMV split over
 * them, each part a cblas_sgemv): runs fn(arg) on this thread.  A thread's
 * first call checks that its buffer and its malloc arena fit, and runs
 * holding a lock, so that two workers' first calls never both pass the
 * check before either has mapped its buffer.  Returns 1, or 0 with a
 * message in err (SR_ERRLEN bytes) and fn not run.
 */
int sr_blas_call(void (*fn)(void *), void *arg, char *err);

#endif
