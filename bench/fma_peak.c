/* fma_peak - the AVX-512 FMA peak of this machine: what no float32 kernel
 * can exceed, the yardstick bench.py divides every GFLOP/s by (besides
 * OpenBLAS's sgemm, which sgemm_peak measures).
 *
 *   fma_peak THREADS [SECONDS]
 *
 * Each of THREADS threads runs a loop of independent _mm512_fmadd_ps on
 * registers only: 16 accumulators (more than latency x FMA ports on any
 * AVX-512 core, so the FMA units never wait), no memory traffic.  The
 * threads start each timed block together (a barrier) and the block's wall
 * time counts until the last one is done, so with 2 threads the figure is
 * the two cores' joint rate.  FLOPs = 2 * 16 per FMA.  Blocks of about
 * 20 ms until SECONDS (default 0.5) have passed; prints one line, as
 * sgemm_peak does:
 *
 *   gflops MEDIAN max MAX blocks N
 *
 * Exit 3 (and a message) when the CPU has no AVX-512F.  The kernel is
 * compiled for avx512f by a target attribute, so the file builds with the
 * project's ordinary flags (and the check runs before any AVX-512
 * instruction does).
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NACC 16

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile float sink;

/* iters x NACC dependent-free FMAs.  The multiplier and addend come from
 * memory once (volatile) so that nothing is folded at compile time; values
 * stay finite: a*b + c with a slightly below 1. */
__attribute__((target("avx512f"), noinline)) static void fma_loop(long iters, float seed)
{
    __m512 a = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
#define ACC(i) __m512 x##i = _mm512_set1_ps(seed + (float)i)
    ACC(0); ACC(1); ACC(2); ACC(3); ACC(4); ACC(5); ACC(6); ACC(7);
    ACC(8); ACC(9); ACC(10); ACC(11); ACC(12); ACC(13); ACC(14); ACC(15);
#undef ACC
    for (long r = 0; r < iters; r++) {
#define F(i) x##i = _mm512_fmadd_ps(x##i, a, c)
        F(0); F(1); F(2); F(3); F(4); F(5); F(6); F(7);
        F(8); F(9); F(10); F(11); F(12); F(13); F(14); F(15);
#undef F
        /* keep the 16 chains in registers and the loop un-collapsed */
        __asm__ volatile("" : "+v"(x0), "+v"(x1), "+v"(x2), "+v"(x3), "+v"(x4), "+v"(x5), "+v"(x6), "+v"(x7));
        __asm__ volatile("" : "+v"(x8), "+v"(x9), "+v"(x10), "+v"(x11), "+v"(x12), "+v"(x13), "+v"(x14),
                         "+v"(x15));
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(x0, x1), _mm512_add_ps(x2, x3)),
                             _mm512_add_ps(_mm512_add_ps(x4, x5), _mm512_add_ps(x6, x7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(x8, x9), _mm512_add_ps(x10, x11)),
                                       _mm512_add_ps(_mm512_add_ps(x12, x13), _mm512_add_ps(x14, x15))));
    sink = _mm512_reduce_add_ps(s);
}

static pthread_barrier_t start_b, end_b;
static long block_iters;
static volatile int quit;

static void *worker(void *arg)
{
    float seed = (float)(long)arg;
    for (;;) {
        pthread_barrier_wait(&start_b);
        if (quit)
            return NULL;
        fma_loop(block_iters, seed);
        pthread_barrier_wait(&end_b);
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    double secs = argc > 2 ? atof(argv[2]) : 0.5;
    if (argc < 2 || argc > 3 || threads < 1 || threads > 256 || secs <= 0) {
        fprintf(stderr, "usage: fma_peak THREADS [SECONDS]\n");
        return 2;
    }
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) {
        fprintf(stderr, "fma_peak: this CPU has no AVX-512F\n");
        return 3;
    }
    /* calibrate on this thread: iterations for about 20 ms */
    fma_loop(100000, 1.0f);
    double t0 = now();
    fma_loop(1000000, 1.0f);
    double one = (now() - t0) / 1e6;
    block_iters = (long)(0.02 / (one > 0 ? one : 1e-9)) + 1;

    pthread_barrier_init(&start_b, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&end_b, NULL, (unsigned)threads + 1);
    pthread_t *tid = malloc(sizeof *tid * (size_t)threads);
    for (long i = 0; i < threads; i++)
        if (pthread_create(&tid[i], NULL, worker, (void *)(i + 1))) {
            fprintf(stderr, "fma_peak: cannot start a thread\n");
            return 1;
        }
    enum { MAXB = 4096 };
    static double rate[MAXB];
    int nb = 0, warm = 1;
    double flops = 2.0 * 16 * NACC * (double)block_iters * threads, start = now();
    while (nb < MAXB && (nb < 3 || now() - start < secs)) {
        double b0 = now();
        pthread_barrier_wait(&start_b);
        pthread_barrier_wait(&end_b);
        double dt = now() - b0;
        if (warm) { /* the first block wakes the threads and the FMA units */
            warm = 0;
            start = now();
            continue;
        }
        rate[nb++] = flops / dt / 1e9;
    }
    quit = 1;
    pthread_barrier_wait(&start_b);
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    qsort(rate, (size_t)nb, sizeof *rate, cmp);
    double med = nb % 2 ? rate[nb / 2] : (rate[nb / 2 - 1] + rate[nb / 2]) / 2;
    printf("gflops %.3f max %.3f blocks %d\n", med, rate[nb - 1], nb);
    return 0;
}
