/*
 * gemm.c - the packed-weight GEMM behind Linear (see gemm.h).
 *
 * Layout: W [N, K] becomes panels of NR = 32 output columns; panel p holds,
 * for each k in turn, the 32 weights W[32p .. 32p+31][k] (zeros past N), so
 * the kernel reads one panel front to back with aligned loads.
 *
 * Kernel: a tile of up to MR = 12 rows by 32 columns lives in 24 of the 32
 * zmm registers; each step of k loads two vectors of the panel and, for
 * every row, broadcasts x[r][k] and does two fused multiply-adds.
 *
 * Blocking, for the caches of one core: K in blocks of at most KC so that a
 * panel's block (KC x 32 floats, <= 24 KiB) stays in L1 while every row
 * group of the row block runs over it; rows in blocks of MC so that their
 * slice of X stays in L2 while all panels go by.  A tile's running sums go
 * to y between K blocks and come back unchanged, so blocking never changes
 * a result.
 *
 * Threads split the panels (each core then keeps its share of the weights
 * in its own L2, call after call, which is what makes a batch of 64 fast),
 * or the rows when there are too few panels to go round.
 */
#include "gemm.h"
#include "cpu.h"
#include "par.h"

#include <string.h>

#define NR 32
#define MR 12
#define KC_MAX 192
#define MC 192
/* below this many multiply-adds a second thread costs more than it gives */
#define PAR_FMAS ((int64_t)1 << 18)

int sr_gemm_available(void) { return sr_cpu_level() >= SR_CPU_AVX512; }

static int64_t panels(int64_t N) { return (N + NR - 1) / NR; }

size_t sr_gemm_packed_floats(int64_t N, int64_t K) { return (size_t)(panels(N) * K * NR); }

void sr_gemm_pack(const float *W, int64_t N, int64_t K, float *Wp)
{
    for (int64_t p = 0; p < panels(N); p++) {
        float *dst = Wp + p * K * NR;
        int64_t cols = N - p * NR < NR ? N - p * NR : NR;
        if (cols < NR)
            memset(dst, 0, (size_t)(K * NR) * sizeof *dst);
        for (int64_t j = 0; j < cols; j++) {
            const float *src = W + (p * NR + j) * K;
            for (int64_t k = 0; k < K; k++)
                dst[k * NR + j] = src[k];
        }
    }
}

typedef struct {
    const float *Wp, *x, *b;
    float *y;
    int64_t M, N, K, kc;
    int parts, split_rows;
    void (*post)(const void *, float *, size_t);
    const void *post_arg;
} gemm_job;

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

/* R rows (a constant after inlining) by one panel, over kn steps of k. */
AVX512 static inline __attribute__((always_inline)) void
tile(const int R, const float *x, int64_t ldx, const float *wp, int64_t kn, float *y, int64_t ldy,
     __mmask16 m0, __mmask16 m1, const float *b, int first)
{
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
        if (!first) {
            c0[r] = _mm512_maskz_loadu_ps(m0, y + r * ldy);
            c1[r] = _mm512_maskz_loadu_ps(m1, y + r * ldy + 16);
        } else if (b) {
            c0[r] = _mm512_maskz_loadu_ps(m0, b);
            c1[r] = _mm512_maskz_loadu_ps(m1, b + 16);
        } else {
            c0[r] = _mm512_setzero_ps();
            c1[r] = _mm512_setzero_ps();
        }
    }
    for (int64_t k = 0; k < kn; k++) {
        __m512 w0 = _mm512_load_ps(wp + NR * k), w1 = _mm512_load_ps(wp + NR * k + 16);
#pragma GCC unroll 12
        for (int r = 0; r < R; r++) {
            __m512 xv = _mm512_set1_ps(x[r * ldx + k]);
            c0[r] = _mm512_fmadd_ps(xv, w0, c0[r]);
            c1[r] = _mm512_fmadd_ps(xv, w1, c1[r]);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
        _mm512_mask_storeu_ps(y + r * ldy, m0, c0[r]);
        _mm512_mask_storeu_ps(y + r * ldy + 16, m1, c1[r]);
    }
}

AVX512 static void tiles(int R, const float *x, int64_t ldx, const float *wp, int64_t kn, float *y, int64_t ldy,
                         __mmask16 m0, __mmask16 m1, const float *b, int first)
{
    switch (R) {
#define T(n) case n: tile(n, x, ldx, wp, kn, y, ldy, m0, m1, b, first); break;
    T(1) T(2) T(3) T(4) T(5) T(6) T(7) T(8) T(9) T(10) T(11) T(12)
#undef T
    }
}

/* rows [r0, r1) by panels [p0, p1) */
AVX512 static void block(const gemm_job *J, int64_t r0, int64_t r1, int64_t p0, int64_t p1)
{
    const int64_t K = J->K, N = J->N;
    for (int64_t mc = r0; mc < r1; mc += MC) {
        int64_t mn = r1 - mc < MC ? r1 - mc : MC;
        int64_t groups = (mn + MR - 1) / MR;
        for (int64_t kc = 0; kc < K; kc += J->kc) {
            int64_t kn = K - kc < J->kc ? K - kc : J->kc;
            int first = kc == 0, last = kc + kn == K;
            for (int64_t p = p0; p < p1; p++) {
                int64_t cols = N - p * NR < NR ? N - p * NR : NR;
                __mmask16 m0 = (__mmask16)(cols >= 16 ? 0xffff : (1u << cols) - 1);
                __mmask16 m1 = (__mmask16)(cols >= 32 ? 0xffff : cols > 16 ? (1u << (cols - 16)) - 1 : 0);
                const float *wp = J->Wp + (p * K + kc) * NR;
                /* groups of near-equal size: 64 rows are 6 groups of 11 or 10 */
                for (int64_t g = 0; g < groups; g++) {
                    int64_t g0 = mc + mn * g / groups, g1 = mc + mn * (g + 1) / groups;
                    float *y = J->y + g0 * N + p * NR;
                    tiles((int)(g1 - g0), J->x + g0 * K + kc, K, wp, kn, y, N, m0, m1,
                          J->b ? J->b + p * NR : NULL, first);
                    if (last && J->post)
                        for (int64_t r = 0; r < g1 - g0; r++)
                            J->post(J->post_arg, y + r * N, (size_t)cols);
                }
            }
        }
    }
}

static void part(void *arg, int64_t t, int tid)
{
    (void)tid;
    const gemm_job *J = arg;
    if (J->split_rows)
        block(J, J->M * t / J->parts, J->M * (t + 1) / J->parts, 0, panels(J->N));
    else
        block(J, 0, J->M, panels(J->N) * t / J->parts, panels(J->N) * (t + 1) / J->parts);
}

void sr_gemm(const float *Wp, const float *x, const float *b, float *y, int64_t M, int64_t N, int64_t K,
             int threads, void (*post)(const void *, float *, size_t), const void *post_arg)
{
    int64_t nkb = (K + KC_MAX - 1) / KC_MAX;
    gemm_job J = {.Wp = Wp, .x = x, .b = b, .y = y, .M = M, .N = N, .K = K, .kc = (K + nkb - 1) / nkb,
                  .parts = 1, .post = post, .post_arg = post_arg};
    if (threads > 1 && M * N * K >= PAR_FMAS) {
        J.parts = threads;
        J.split_rows = panels(N) < 2 * (int64_t)threads;
        if (J.split_rows && M < (int64_t)threads * MR)
            J.parts = 1;
    }
    sr_par_run(J.parts, part, &J);
}

#else /* no x86 vector kernel: sr_gemm_available() is 0 and this is never reached */

void sr_gemm(const float *Wp, const float *x, const float *b, float *y, int64_t M, int64_t N, int64_t K,
             int threads, void (*post)(const void *, float *, size_t), const void *post_arg)
{
    (void)Wp, (void)x, (void)b, (void)y, (void)M, (void)N, (void)K, (void)threads, (void)post, (void)post_arg;
}

#endif
