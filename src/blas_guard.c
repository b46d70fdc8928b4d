/*
 * blas_guard.c - keeping OpenBLAS out of work whose buffers would not fit.
 *
 * What Debian 12's OpenBLAS (0.3.21, pthread, DYNAMIC_ARCH) does, measured
 * (gdb on a hung run; a probe calling cblas_sgemm under `ulimit -v`):
 *
 *  - Every thread that runs BLAS work has a work buffer of BUFFER_SIZE =
 *    32 << 22 bytes (128 MiB) plus a 4 KiB page, mapped the first time the
 *    thread needs it and kept until exit: a caller's at its first level-3
 *    call (and level-2 calls over about 512 elements), each server
 *    thread's as soon as it starts, which openblas_set_num_threads(n) does
 *    for n - 1 of them.  The size is a build option (BUFFERSIZE); this
 *    version reads no environment variable for it.
 *  - memory.c's blas_memory_alloc tries mmap, then malloc, and when both
 *    fail starts over, forever.  So under `ulimit -v 80000` any model that
 *    engaged a second OpenBLAS thread hung at exit (blas_thread_shutdown_
 *    joining a server thread stuck in that loop), and `Linear: [8192,
 *    8192]` (a layer too big for seqrun's packed GEMM) hung in cblas_sgemm
 *    under `ulimit -v 320000`.
 *  - Mapping the same sizes first, and unmapping them, predicts the outcome
 *    (the same call against the same limit: address space or commit
 *    charge), provided a starting thread's stack is counted too.  Probe, two
 *    threads, trial = 2 buffers + 24 MiB per extra thread: at ulimit -v
 *    280000-300000 KB the trial fails and OpenBLAS hangs; 303000-312000 the
 *    trial fails though OpenBLAS would have managed (13 MB of caution);
 *    from 316000 both succeed.  Without the 24 MiB, 300000 passed the trial
 *    and hung.
 *
 * So: before OpenBLAS starts server threads, as many as fit (fewer threads,
 * not a hang); before a thread's first BLAS call, its own buffer must fit,
 * else the layer fails with "out of memory" (exit 1).  A thread that once
 * got its buffer keeps it, so later calls cost nothing; server threads
 * once granted keep theirs.  (Without AVX-512 seqrun's own Linear GEMM
 * does not run either, and a layer over 256 MiB runs on OpenBLAS even with
 * it: their packed copies would cost more than the 128 MiB buffer.)
 */
#include "blas_guard.h"
#include "common.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define BUFFER ((size_t)(32 << 22) + 4096) /* OpenBLAS's BUFFER_SIZE + FIXED_PAGESIZE */
#define SLACK ((size_t)16 << 20)           /* per starting thread, beyond its stack */
/* A thread's first malloc of OpenBLAS's buffer makes it a glibc arena,
 * which maps twice the arena size (64 MiB) to align it before trimming:
 * seen in gdb as the loop of a worker that passed a BUFFER-only trial. */
#define ARENA ((size_t)128 << 20)

static __thread int have_own;   /* this thread has had its buffer */
static int servers;             /* server threads whose buffers were granted */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* A new thread's stack, as glibc sizes it by default. */
static size_t stack_size(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_STACK, &r) == 0 && r.rlim_cur != RLIM_INFINITY && r.rlim_cur >= 16384)
        return (size_t)r.rlim_cur;
    return (size_t)8 << 20;
}

/* 1 if nbuf buffers and extra bytes can all be mapped at once now. */
static int trial(int nbuf, size_t extra)
{
    void *p[65];
    size_t len[65];
    int k = 0, ok = 1;
    for (int i = 0; i <= nbuf && ok && k < 65; i++) {
        len[k] = i < nbuf ? BUFFER : extra;
        if (!len[k])
            continue;
        p[k] = mmap(NULL, len[k], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p[k] == MAP_FAILED)
            ok = 0;
        else
            k++;
    }
    while (k-- > 0)
        munmap(p[k], len[k]);
    return ok;
}

int sr_blas_threads(int want, char *err)
{
    if (want < 1)
        want = 1;
    if (want > 64)
        want = 64;
    pthread_mutex_lock(&mu);
    int own = !have_own, best = 0;
    for (int n = want; n >= 1 && !best; n--) {
        int more = n - 1 > servers ? n - 1 - servers : 0;
        if (!own && !more) {
            best = n;
            break;
        }
        if (trial(own + more, (size_t)more * (stack_size() + SLACK)))
            best = n;
    }
    if (best) {
        if (err)
            have_own = 1; /* about to call BLAS: OpenBLAS maps it now */
        if (best - 1 > servers)
            servers = best - 1;
    }
    pthread_mutex_unlock(&mu);
    if (!best && err)
        sr_err(err, SR_ERUN,
               "out of memory: OpenBLAS needs a %zu MiB work buffer for this layer and it cannot be "
               "mapped (an address-space limit, ulimit -v?)",
               BUFFER >> 20);
    return best ? best : err ? 0 : 1;
}

static pthread_mutex_t first_mu = PTHREAD_MUTEX_INITIALIZER;

int sr_blas_call(void (*fn)(void *), void *arg, char *err)
{
    if (have_own) {
        fn(arg);
        return 1;
    }
    pthread_mutex_lock(&first_mu);
    pthread_mutex_lock(&mu);
    int ok = trial(1, ARENA);
    pthread_mutex_unlock(&mu);
    if (ok) {
        fn(arg); /* maps this thread's buffer, before another's check */
        have_own = 1;
    }
    pthread_mutex_unlock(&first_mu);
    if (!ok)
        sr_err(err, SR_ERUN,
               "out of memory: OpenBLAS needs a %zu MiB work buffer on each thread of this layer and it cannot be "
               "mapped (an address-space limit, ulimit -v?); hint: --threads 1",
               BUFFER >> 20);
    return ok;
}
