/*
 * gemm_micro - sr_gemm alone on a Linear stack's shapes, in-process, for
 * comparing GEMM kernel variants with less noise than whole runs give on a
 * shared machine.
 *
 *   make BUILD=build build/bench/gemm_micro
 *   build/bench/gemm_micro [-t THREADS] [-n REPS] [-c INPUTS] M K0xN0,K1xN1,...
 *
 * Runs the stack as seqrun does (each layer's output the next one's input,
 * bias and a fused ReLU on every layer), REPS times after 3 warm-up passes.
 * -c INPUTS cycles the first layer's input through that many buffers of
 * M x K0 floats, so that with enough of them each pass reads its input from
 * memory, as a batch job does (default 1: the input stays cached).  Prints
 * the minimum and median wall time per pass, the minimum thread CPU time
 * of the calling thread (the best figure on a busy machine at one thread),
 * and GFLOP/s at the minimum wall time (2 FLOPs per multiply-add).
 */
#include "gemm.h"
#include "timing.h"

#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *buf(size_t n, int fill)
{
    float *p = aligned_alloc(64, (n * sizeof *p + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "gemm_micro: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = fill ? (float)rand() / (float)RAND_MAX - 0.5f : 0.0f;
    return p;
}

/* seqrun's fused ReLU is vectorised; a scalar one here would mispredict
 * its branch on every other element and swamp the GEMM */
__attribute__((target("avx512f"))) static void relu(const void *arg, float *y, size_t n)
{
    (void)arg;
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = (__mmask16)(n - i >= 16 ? 0xffff : (1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_max_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_setzero_ps()));
    }
}

#define MAXL 16

int main(int argc, char **argv)
{
    int threads = 1, reps = 100, inputs = 1, a = 1;
    for (; a + 1 < argc && argv[a][0] == '-'; a += 2) {
        if (!strcmp(argv[a], "-t"))
            threads = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "-n"))
            reps = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "-c"))
            inputs = atoi(argv[a + 1]);
    }
    if (argc - a != 2 || threads < 1 || reps < 1 || inputs < 1) {
        fprintf(stderr, "usage: gemm_micro [-t THREADS] [-n REPS] [-c INPUTS] M K0xN0,K1xN1,...\n");
        return 2;
    }
    if (!sr_gemm_available()) {
        fprintf(stderr, "gemm_micro: no AVX-512 here\n");
        return 1;
    }
    int64_t M = atoll(argv[a]), K[MAXL], N[MAXL];
    int nl = 0;
    for (const char *s = argv[a + 1]; *s && nl < MAXL;) {
        char *e;
        K[nl] = strtoll(s, &e, 10);
        N[nl] = *e == 'x' ? strtoll(e + 1, &e, 10) : 0;
        if (K[nl] < 1 || N[nl] < 1)
            return fprintf(stderr, "gemm_micro: bad shape list %s\n", argv[a + 1]), 2;
        nl++;
        s = *e == ',' ? e + 1 : e;
    }
    float *Wp[MAXL], *b[MAXL], *y[MAXL], **x = malloc((size_t)inputs * sizeof *x);
    double flops = 0;
    for (int l = 0; l < nl; l++) {
        float *W = buf((size_t)(N[l] * K[l]), 1);
        Wp[l] = buf(sr_gemm_packed_floats(N[l], K[l]), 0);
        sr_gemm_pack(W, N[l], K[l], Wp[l]);
        free(W);
        b[l] = buf((size_t)N[l], 1);
        y[l] = buf((size_t)(M * N[l]), 0);
        flops += 2.0 * (double)M * (double)N[l] * (double)K[l];
    }
    for (int i = 0; i < inputs; i++)
        x[i] = buf((size_t)(M * K[0]), 1);
    double *wall = malloc((size_t)reps * sizeof *wall), cpu_min = 1e30;
    for (int r = -3; r < reps; r++) {
        double t0 = bench_clock(CLOCK_MONOTONIC), c0 = bench_clock(CLOCK_THREAD_CPUTIME_ID);
        const float *in = x[(r + 3) % inputs];
        for (int l = 0; l < nl; l++) {
            sr_gemm(Wp[l], in, b[l], y[l], M, N[l], K[l], threads, l + 1 < nl ? relu : NULL, NULL);
            in = y[l];
        }
        double c = bench_clock(CLOCK_THREAD_CPUTIME_ID) - c0;
        if (r >= 0) {
            wall[r] = bench_clock(CLOCK_MONOTONIC) - t0;
            cpu_min = c < cpu_min ? c : cpu_min;
        }
    }
    qsort(wall, (size_t)reps, sizeof *wall, bench_cmpd);
    printf("M %lld %s T %d: wall min %.1f us median %.1f us, cpu min %.1f us, %.1f GFLOP/s (min wall), %.1f (cpu)\n",
           (long long)M, argv[a + 1], threads, wall[0] * 1e6, wall[reps / 2] * 1e6, cpu_min * 1e6,
           flops / wall[0] * 1e-9, flops / cpu_min * 1e-9);
    return 0;
}
