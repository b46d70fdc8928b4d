/*
 * test_gemm - the packed GEMM and GEMV (src/gemm.c) against gemm.h's
 * contract, bit for bit: every output is the bias (or 0) plus the products
 * in order of k, one fused multiply-add at a time (fmaf below), then the
 * fused post applied exactly once, whatever the batch size, row blocking,
 * K blocking or thread count.  Shapes reach each path: partial row tiles
 * and panels, several row blocks, K split into blocks, the thread splits
 * (row blocks for a large batch, panels for a small one, rows when the
 * panels are too few) and a single row.
 */
#include "gemm.h"
#include "unit.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252ull;

static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* not idempotent (a ReLU would hide a second application) nor linear (it
 * would commute with a post applied to a partial sum) */
static void post_fn(const void *arg, float *y, size_t n)
{
    const float *scale = arg;
    for (size_t i = 0; i < n; i++)
        y[i] = y[i] * y[i] * *scale + 1.0f;
}

static float *falloc(size_t n)
{
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "test_gemm: out of memory\n");
        exit(1);
    }
    return p;
}

/* the contract itself, one output at a time */
static void reference(const float *W, const float *x, const float *b, float *y, int64_t M, int64_t N, int64_t K,
                      int post, const float *scale)
{
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            float acc = b ? b[n] : 0.0f;
            for (int64_t k = 0; k < K; k++)
                acc = fmaf(x[m * K + k], W[n * K + k], acc);
            y[m * N + n] = acc;
            if (post)
                post_fn(scale, &y[m * N + n], 1);
        }
}

static int64_t first_diff(const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof *a))
            return i;
    return -1;
}

static void one_shape(int64_t M, int64_t N, int64_t K, int bias, int post)
{
    float *W = falloc((size_t)(N * K)), *x = falloc((size_t)(M * K)), *b = falloc((size_t)N);
    float *Wp = falloc(sr_gemm_packed_floats(N, K)), *ref = falloc((size_t)(M * N)), *y = falloc((size_t)(M * N));
    float scale = 0.25f;
    for (int64_t i = 0; i < N * K; i++)
        W[i] = frand();
    for (int64_t i = 0; i < M * K; i++)
        x[i] = frand();
    for (int64_t i = 0; i < N; i++)
        b[i] = frand();
    reference(W, x, bias ? b : NULL, ref, M, N, K, post, &scale);
    sr_gemm_pack(W, N, K, Wp);
    void (*pf)(const void *, float *, size_t) = post ? post_fn : NULL;
    for (int threads = 1; threads <= 3; threads++) {
        memset(y, 0xff, (size_t)(M * N) * sizeof *y); /* NaNs where nothing is written */
        sr_gemm(Wp, x, bias ? b : NULL, y, M, N, K, threads, pf, &scale);
        int64_t d = first_diff(y, ref, M * N);
        CHECK(d < 0, "sr_gemm M %lld N %lld K %lld bias %d post %d, %d threads: y[%lld][%lld] = %.9g, want %.9g",
              (long long)M, (long long)N, (long long)K, bias, post, threads, (long long)(d / N), (long long)(d % N),
              d < 0 ? 0.0 : (double)y[d], d < 0 ? 0.0 : (double)ref[d]);
    }
    /* the last row alone, packed and unpacked, both directions */
    const float *xl = x + (M - 1) * K, *rl = ref + (M - 1) * N;
    for (int threads = 1; threads <= 2; threads++) {
        for (int reverse = 0; reverse <= 1; reverse++) {
            memset(y, 0xff, (size_t)N * sizeof *y);
            sr_gemv(Wp, xl, bias ? b : NULL, y, N, K, threads, reverse, pf, &scale);
            CHECK(first_diff(y, rl, N) < 0, "sr_gemv N %lld K %lld, %d threads, reverse %d: differs from the contract",
                  (long long)N, (long long)K, threads, reverse);
        }
        memset(y, 0xff, (size_t)N * sizeof *y);
        sr_gemv_rows(W, xl, bias ? b : NULL, y, N, K, threads, pf, &scale);
        CHECK(first_diff(y, rl, N) < 0, "sr_gemv_rows N %lld K %lld, %d threads: differs from the contract",
              (long long)N, (long long)K, threads);
    }
    free(W), free(x), free(b), free(Wp), free(ref), free(y);
}

int main(void)
{
    if (!sr_gemm_available()) {
        printf("test_gemm: no AVX-512 on this CPU, the packed kernel does not run here\n");
        return unit_summary();
    }
    /* rows: tile remainders, one block, several blocks, uneven blocks;
     * columns: a partial panel, one, several; K: short, one block, split */
    static const int64_t shapes[][3] = {
        {1, 1, 1},      {2, 5, 3},       {11, 33, 17},    {12, 32, 64},    {13, 31, 7},
        {64, 512, 784}, {64, 10, 512},   {97, 100, 300},  {200, 64, 129},  {300, 70, 1100},
        {25, 96, 2100}, {193, 1, 40},    {400, 40, 96},   {1000, 33, 50},  {7, 300, 1030},
    };
    int n = (int)(sizeof shapes / sizeof shapes[0]);
    for (int i = 0; i < n; i++)
        one_shape(shapes[i][0], shapes[i][1], shapes[i][2], i % 2 == 0, i % 3 != 1);
    return unit_summary();
}
