/* par.c - a small persistent thread pool behind sr_par_for. */
#include "par.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

int sr_par_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

#define MAXWORKERS 63

/* One job at a time: the pool's workers (created on first use, kept for
 * later jobs) and the caller take indices from `next` until n. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int nworkers;        /* started */
    int want;            /* workers taking part in the current job */
    uint64_t gen;        /* job number; a worker joins each new one once */
    int active;          /* workers still in the current job */
    int64_t next, n;
    void (*fn)(void *, int64_t, int);
    void *arg;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static int64_t take(void)
{
    return __atomic_fetch_add(&P.next, 1, __ATOMIC_RELAXED);
}

static void *worker(void *p)
{
    int tid = (int)(intptr_t)p; /* 1.. */
    uint64_t seen = 0;
    pthread_mutex_lock(&P.mu);
    for (;;) {
        while (P.gen == seen || tid > P.want) {
            if (P.gen != seen)
                seen = P.gen; /* not needed for this job */
            pthread_cond_wait(&P.go, &P.mu);
        }
        seen = P.gen;
        int64_t n = P.n;
        void (*fn)(void *, int64_t, int) = P.fn;
        void *arg = P.arg;
        pthread_mutex_unlock(&P.mu);
        for (int64_t i; (i = take()) < n;)
            fn(arg, i, tid);
        pthread_mutex_lock(&P.mu);
        if (--P.active == 0)
            pthread_cond_signal(&P.done);
    }
    return NULL;
}

void sr_par_for(int threads, int64_t n, void (*fn)(void *arg, int64_t i, int tid), void *arg)
{
    if (threads > MAXWORKERS + 1)
        threads = MAXWORKERS + 1;
    if (threads > n)
        threads = (int)n;
    pthread_mutex_lock(&P.mu);
    while (threads > 1 && P.nworkers < threads - 1) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        int ok = pthread_create(&t, &a, worker, (void *)(intptr_t)(P.nworkers + 1)) == 0;
        pthread_attr_destroy(&a);
        if (!ok)
            threads = P.nworkers + 1; /* run with what there is */
        else
            P.nworkers++;
    }
    if (threads <= 1) {
        pthread_mutex_unlock(&P.mu);
        for (int64_t i = 0; i < n; i++)
            fn(arg, i, 0);
        return;
    }
    P.fn = fn;
    P.arg = arg;
    P.n = n;
    P.next = 0;
    P.want = threads - 1;
    P.active = threads - 1;
    P.gen++;
    pthread_cond_broadcast(&P.go);
    pthread_mutex_unlock(&P.mu);
    for (int64_t i; (i = take()) < n;)
        fn(arg, i, 0);
    pthread_mutex_lock(&P.mu);
    while (P.active > 0)
        pthread_cond_wait(&P.done, &P.mu);
    pthread_mutex_unlock(&P.mu);
}
