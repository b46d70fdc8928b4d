/*
 * par.c - a small persistent thread pool behind sr_par_for and sr_par_run.
 *
 * Workers are created on first use and kept.  A job is published as one
 * 64-bit word: its number in the high half and, in the low half, the next
 * task (sr_par_for) or the mask of claimed tasks (sr_par_run); a task is
 * claimed by compare-and-swap on that word, so a worker that wakes late
 * can never claim a task of a later job.  The caller takes part, claims
 * whatever no worker has claimed, and returns when every task is done: it
 * never waits for a worker that is not running (on a busy machine a
 * worker may be descheduled for milliseconds).  Between jobs a worker
 * spins briefly and then yields for a while, so the short jobs of a forward
 * pass start without a futex wake-up while a GEMM on OpenBLAS's threads in
 * between still gets the cores, then sleeps on a condition variable.
 * At exit the workers are told to stop and joined (par_shutdown), so no
 * thread of ours outlives main(): leak checkers see every stack freed.
 * Workers block the signals the output cleanup handles, so those land on
 * the main thread, which is the one that commits outputs.
 */
#include "par.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#define MAXTHREADS 32      /* sr_par_run's claim mask has one bit per thread */
#define SPIN 2000          /* polls (~5 us) before a waiting thread yields its core */
#define YIELDS 50          /* sched_yield()s (~50 us) before a worker sleeps */

/* The CPUs this process may run on (sched_getaffinity: taskset, a cgroup's
 * cpuset), read once, before any thread of ours is pinned: a pinned
 * caller's own mask would say one CPU. */
static struct {
    pthread_once_t once;
    int ok;                 /* the mask was read */
    cpu_set_t mask;
    int n;                  /* CPUs in it, the first MAXTHREADS of them in cpu[] */
    int cpu[MAXTHREADS];
} A = {.once = PTHREAD_ONCE_INIT};

static void read_cpus(void)
{
    A.ok = sched_getaffinity(0, sizeof A.mask, &A.mask) == 0 && CPU_COUNT(&A.mask) > 0;
    for (int c = 0; A.ok && c < CPU_SETSIZE && A.n < MAXTHREADS; c++)
        if (CPU_ISSET(c, &A.mask))
            A.cpu[A.n++] = c;
}

int sr_par_cores(void)
{
    pthread_once(&A.once, read_cpus);
    if (A.ok)
        return CPU_COUNT(&A.mask);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static struct {
    pthread_mutex_t mu;
    pthread_cond_t go;
    int nworkers;                     /* started */
    int sleeping;                     /* workers waiting on go (under mu) */
    uint64_t word;                    /* job << 32 | next task or claim mask */
    uint64_t done;                    /* tasks finished in the current job */
    /* the current job (atomic accesses: a late worker may read them) */
    void (*fn)(void *, int64_t, int);
    void *arg;
    int64_t n;
    int fixed, want;
    int quit;                         /* par_shutdown: workers return */
    pthread_t tid[MAXTHREADS];        /* workers 1..nworkers at [0..nworkers) */
} P = {.mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER};

#define LD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

/* Claims a task of job `job` for thread tid: its index, or -1 if none is
 * left (or the job is over). */
static int64_t claim(uint32_t job, int tid, int fixed, int64_t n)
{
    uint64_t w = LD(P.word);
    for (;;) {
        if ((uint32_t)(w >> 32) != job)
            return -1;
        uint64_t low = w & 0xffffffffu, nw;
        int64_t task;
        if (fixed) {
            /* its own task first, then any other unclaimed one */
            task = tid < n && !(low >> tid & 1) ? tid : -1;
            for (int64_t t = 0; task < 0 && t < n; t++)
                if (!(low >> t & 1))
                    task = t;
            if (task < 0)
                return -1;
            nw = w | (uint64_t)1 << task;
        } else {
            if ((int64_t)low >= n)
                return -1;
            task = (int64_t)low;
            nw = w + 1;
        }
        if (__atomic_compare_exchange_n(&P.word, &w, nw, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return task;
    }
}

static void work(uint32_t job, int tid)
{
    void (*fn)(void *, int64_t, int) = LD(P.fn);
    void *arg = LD(P.arg);
    int64_t n = LD(P.n);
    int fixed = LD(P.fixed);
    /* read before the claim: if the job changed meanwhile, the claim fails */
    for (int64_t i; (i = claim(job, tid, fixed, n)) >= 0;) {
        fn(arg, i, tid);
        __atomic_add_fetch(&P.done, 1, __ATOMIC_ACQ_REL);
    }
}

static void *worker(void *p)
{
    int tid = (int)(intptr_t)p; /* 1.. */
    uint32_t seen = 0;
    for (;;) {
        /* spin, then yield (OpenBLAS's threads may want the core: a GEMM
         * between two of our jobs), then sleep */
        for (int k = 0; k < SPIN + YIELDS && (uint32_t)(LD(P.word) >> 32) == seen && !LD(P.quit); k++) {
            if (k < SPIN)
                relax();
            else
                sched_yield();
        }
        if ((uint32_t)(LD(P.word) >> 32) == seen) {
            pthread_mutex_lock(&P.mu);
            P.sleeping++;
            while ((uint32_t)(LD(P.word) >> 32) == seen && !P.quit)
                pthread_cond_wait(&P.go, &P.mu);
            P.sleeping--;
            pthread_mutex_unlock(&P.mu);
        }
        if (LD(P.quit))
            return NULL;
        seen = (uint32_t)(LD(P.word) >> 32);
        if (tid < LD(P.want))
            work(seen, tid);
    }
    return NULL;
}

/* atexit: stop the workers and join them.  A job cannot be running: jobs
 * run inside sr_par_for / sr_par_run, which return only when done, and
 * exit() is not called from a task. */
static void par_shutdown(void)
{
    pthread_mutex_lock(&P.mu);
    int n = P.nworkers;
    ST(P.quit, 1);
    pthread_cond_broadcast(&P.go);
    pthread_mutex_unlock(&P.mu);
    for (int i = 0; i < n; i++)
        pthread_join(P.tid[i], NULL);
    pthread_mutex_lock(&P.mu);
    P.nworkers = 0;
    ST(P.quit, 0); /* a later job (another atexit handler's) starts anew */
    pthread_mutex_unlock(&P.mu);
}

/*
 * A pool as large as the CPUs the process may use is pinned, thread t to
 * the t-th of them: a thread then keeps its core's L2 (its share of a
 * Linear's weights, its micro-batches' buffers), and on a busy machine the
 * scheduler does not stack two of ours on one core (W8 at 2 threads, 12
 * alternated runs: median 460 -> 428 ms, the slowest 520 -> 473).  A
 * smaller pool (other processes share the cores) stays unpinned.  Workers
 * a smaller job created first are pinned when a job of the whole pool
 * comes.  Best effort: a failure changes nothing but speed.  Under P.mu.
 */
static uint32_t pinned; /* bit t: thread t (0: the caller) is pinned (under P.mu) */

static void pin_pool(int asked)
{
    if (!A.ok || A.n < 2 || asked != A.n)
        return;
    for (int t = 0; t <= P.nworkers && t < A.n; t++) {
        if (pinned >> t & 1)
            continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(A.cpu[t], &one);
        if (pthread_setaffinity_np(t ? P.tid[t - 1] : pthread_self(), sizeof one, &one) == 0)
            pinned |= (uint32_t)1 << t;
    }
}

static void job(int threads, int64_t n, int fixed, void (*fn)(void *, int64_t, int), void *arg)
{
    if (threads > MAXTHREADS)
        threads = MAXTHREADS;
    pthread_once(&A.once, read_cpus);
    int asked = threads; /* the pool the caller runs with, before this job's share of it */
    if (threads > n)
        threads = (int)n;
    if (n > 0xffffffffLL)
        threads = 1; /* the claim word counts to 2^32 */
    pthread_mutex_lock(&P.mu);
    if (threads > 1 && P.nworkers < threads - 1) {
        static int registered;
        if (!registered)
            registered = atexit(par_shutdown) == 0;
        if (!registered)
            threads = 1; /* workers that could not be joined at exit: none */
        /* workers start with these signals blocked (the mask is inherited) */
        sigset_t set, old;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &set, &old);
        /* a new worker may run on any of the process's CPUs, not only on
         * the one its creator may be pinned to */
        pthread_attr_t at, *pa = NULL;
        if (A.ok && pthread_attr_init(&at) == 0) {
            pa = &at;
            pthread_attr_setaffinity_np(pa, sizeof A.mask, &A.mask);
        }
        while (threads > 1 && P.nworkers < threads - 1) {
            if (pthread_create(&P.tid[P.nworkers], pa, worker, (void *)(intptr_t)(P.nworkers + 1)) != 0)
                threads = P.nworkers + 1; /* run with what there is */
            else
                P.nworkers++;
        }
        if (pa)
            pthread_attr_destroy(pa);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (threads > 1 && pinned != ((uint32_t)2 << P.nworkers) - 1)
        pin_pool(asked);
    if (threads <= 1) {
        pthread_mutex_unlock(&P.mu);
        for (int64_t i = 0; i < n; i++)
            fn(arg, i, 0);
        return;
    }
    ST(P.fn, fn);
    ST(P.arg, arg);
    ST(P.n, n);
    ST(P.fixed, fixed);
    ST(P.want, threads);
    ST(P.done, 0);
    uint32_t id = (uint32_t)(P.word >> 32) + 1;
    ST(P.word, (uint64_t)id << 32);
    if (P.sleeping)
        pthread_cond_broadcast(&P.go);
    pthread_mutex_unlock(&P.mu);
    work(id, 0);
    /* every task is claimed: wait for those still running elsewhere */
    for (int k = 0; LD(P.done) < (uint64_t)n; k++) {
        if (k < SPIN)
            relax();
        else
            sched_yield();
    }
}

void sr_par_for(int threads, int64_t n, void (*fn)(void *arg, int64_t i, int tid), void *arg)
{
    job(threads, n, 0, fn, arg);
}

void sr_par_run(int threads, void (*fn)(void *arg, int64_t i, int tid), void *arg)
{
    job(threads, threads, 1, fn, arg);
}
