/*
 * gemm.c - the packed-weight GEMM and GEMV behind Linear (see gemm.h).
 *
 * Layout: W [N, K] becomes panels of NR = 32 output columns; panel p holds,
 * for each k in turn, the 32 weights W[32p .. 32p+31][k] (zeros past N), so
 * the kernel reads one panel front to back with aligned loads.
 *
 * Kernel: a tile of up to MR = 12 rows by 32 columns lives in 24 of the 32
 * zmm registers; each step of k loads two vectors of the panel and, for
 * every row, broadcasts x[r][k] and does two fused multiply-adds (one and
 * one for a panel of 16 columns or fewer).  14 rows (28 sums) measured no
 * faster.
 *
 * Blocking, for the caches of one core (48 KiB L1, 1 MiB L2 here): rows in
 * blocks of at most MC whose slice of X stays in L2 while every panel goes
 * by; each panel then streams from L2 through a tile of MR rows at a time
 * for the whole of K, so a tile's running sums are stored once.  Blocking
 * K as well (a panel's block in L1, the sums written and reloaded between
 * blocks) measured slower for K up to 1024 (W1's 784x512 at batch 1024:
 * 3 to 15% on one core); only a longer K is split, in blocks of at most
 * KC_MAX, so the X slice still fits L2.  A tile's sums go to y between K
 * blocks and come back unchanged, so blocking never changes a result.
 * The fused activation runs on each finished row block, a whole row (the
 * panels' columns) per call rather than a 32-wide piece per tile.
 *
 * Threads: a large batch is cut into row blocks handed out one at a time,
 * so a thread that the machine delays takes fewer of them rather than
 * holding the others up; a small one splits the panels (each core then
 * keeps its share of the weights in its own L2, call after call, which is
 * what makes a batch of 64 fast), or the rows when there are too few
 * panels to go round.
 *
 * One row (batch 1) is a GEMV over the same panels, bound by reading them;
 * every output is computed as the GEMM computes it, so a sample gets the
 * same bits alone as in any batch.
 */
#include "gemm.h"
#include "cpu.h"
#include "par.h"

#include <string.h>

#define NR 32
#define MR 12
#define KC_MAX 1024
#define MC 96
/* below this many multiply-adds a second thread costs more than it gives */
#define PAR_FMAS ((int64_t)1 << 18)
int sr_gemm_available(void) { return sr_cpu_level() >= SR_CPU_AVX512; }

static int64_t panels(int64_t N) { return (N + NR - 1) / NR; }

size_t sr_gemm_packed_floats(int64_t N, int64_t K) { return (size_t)(panels(N) * K * NR); }

const float *sr_gemm_packed_cols(const float *Wp, int64_t K, int64_t c0) { return Wp + c0 / NR * K * NR; }

#ifdef SR_X86
#include <immintrin.h>

/* One panel's step k is a column of its 32 rows: two gathers, about four
 * times faster than the strided copy below (W1's 2.7 MB pack in ~0.3 ms),
 * which matters to a short run's start-up. */
__attribute__((target("avx512f"))) static void pack_gather(const float *src, int64_t K, int64_t cols, float *dst)
{
    __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                     _mm512_set1_epi32((int)K));
    __mmask16 m0 = (__mmask16)(cols >= 16 ? 0xffff : (1u << cols) - 1);
    __mmask16 m1 = (__mmask16)(cols >= 32 ? 0xffff : cols > 16 ? (1u << (cols - 16)) - 1 : 0);
    const float *hi = src + 16 * K;
    for (int64_t k = 0; k < K; k++) {
        _mm512_store_ps(dst + k * NR, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, idx, src + k, 4));
        _mm512_store_ps(dst + k * NR + 16,
                        m1 ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, idx, hi + k, 4) : _mm512_setzero_ps());
    }
}
#endif

void sr_gemm_pack(const float *W, int64_t N, int64_t K, float *Wp)
{
    for (int64_t p = 0; p < panels(N); p++) {
        float *dst = Wp + p * K * NR;
        int64_t cols = N - p * NR < NR ? N - p * NR : NR;
#ifdef SR_X86
        if (sr_cpu_level() >= SR_CPU_AVX512 && K <= INT32_MAX / 16) { /* the gather's 32-bit offsets reach row 15 */
            pack_gather(W + p * NR * K, K, cols, dst);
            continue;
        }
#endif
        if (cols < NR)
            memset(dst, 0, (size_t)(K * NR) * sizeof *dst);
        /* writes in order; the 32 rows are read side by side, each cache
         * line of them used for 16 steps of k while it is in L1 */
        const float *src = W + p * NR * K;
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < cols; j++)
                dst[k * NR + j] = src[j * K + k];
    }
}

#ifdef SR_X86
/* Panels [p0, p1) from [K, N], row k of the source at a time (its columns
 * for those panels are contiguous): two masked vector copies per panel. */
__attribute__((target("avx512f"))) static void pack_kn_512(const float *Wt, int64_t ldw, int64_t N, int64_t K,
                                                            int64_t p0, int64_t p1, float *Wp)
{
    for (int64_t k = 0; k < K; k++)
        for (int64_t p = p0; p < p1; p++) {
            int64_t cols = N - p * NR < NR ? N - p * NR : NR;
            __mmask16 m0 = (__mmask16)(cols >= 16 ? 0xffff : (1u << cols) - 1);
            __mmask16 m1 = (__mmask16)(cols >= 32 ? 0xffff : cols > 16 ? (1u << (cols - 16)) - 1 : 0);
            const float *src = Wt + k * ldw + p * NR;
            float *dst = Wp + (p * K + k) * NR;
            _mm512_store_ps(dst, _mm512_maskz_loadu_ps(m0, src));
            _mm512_store_ps(dst + 16, _mm512_maskz_loadu_ps(m1, src + 16));
        }
}
#endif

void sr_gemm_pack_kn(const float *Wt, int64_t ldw, int64_t N, int64_t K, float *Wp)
{
#ifdef SR_X86
    if (sr_cpu_level() >= SR_CPU_AVX512) {
        /* 4 panels (512 bytes of each source row) at a time */
        for (int64_t p0 = 0; p0 < panels(N); p0 += 4)
            pack_kn_512(Wt, ldw, N, K, p0, p0 + 4 < panels(N) ? p0 + 4 : panels(N), Wp);
        return;
    }
#endif
    for (int64_t p = 0; p < panels(N); p++) {
        float *dst = Wp + p * K * NR;
        int64_t c0 = p * NR, cols = N - c0 < NR ? N - c0 : NR;
        /* panel p's step k is columns c0.. of row k: a copy */
        for (int64_t k = 0; k < K; k++) {
            const float *src = Wt + k * ldw + c0;
            float *d = dst + k * NR;
            for (int64_t j = 0; j < cols; j++)
                d[j] = src[j];
            for (int64_t j = cols; j < NR; j++)
                d[j] = 0.0f;
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

#ifdef SR_X86

#define AVX512 __attribute__((target("avx512f")))

/* R rows by one panel, over kn steps of k; V (1 or 2) vectors of the
 * panel's 32 columns, 1 when the panel holds at most 16 (a classifier's
 * last layer: half the work).  R and V are constants after inlining. */
AVX512 static inline __attribute__((always_inline)) void
tile(const int R, const int V, const float *x, int64_t ldx, const float *wp, int64_t kn, float *y, int64_t ldy,
     __mmask16 m0, __mmask16 m1, const float *b, int first)
{
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
        if (!first) {
            c0[r] = _mm512_maskz_loadu_ps(m0, y + r * ldy);
            c1[r] = V > 1 ? _mm512_maskz_loadu_ps(m1, y + r * ldy + 16) : _mm512_setzero_ps();
        } else if (b) {
            c0[r] = _mm512_maskz_loadu_ps(m0, b);
            c1[r] = V > 1 ? _mm512_maskz_loadu_ps(m1, b + 16) : _mm512_setzero_ps();
        } else {
            c0[r] = _mm512_setzero_ps();
            c1[r] = _mm512_setzero_ps();
        }
    }
    if (first) {
        /* y's lines, for the stores at the end: a large output (W9's
         * 4096 x 1024, 16 MB) is not in any cache, and a store that
         * misses waits for the line to be read; fetched now, into L2,
         * they come while the sums run (W9's 256->1024 at 4096 rows:
         * 165 -> 200 GFLOP/s on one core) */
#pragma GCC unroll 12
        for (int r = 0; r < R; r++) {
            _mm_prefetch((const char *)(y + r * ldy), _MM_HINT_T1);
            if (V > 1)
                _mm_prefetch((const char *)(y + r * ldy + 16), _MM_HINT_T1);
        }
    }
    for (int64_t k = 0; k < kn; k++) {
        __m512 w0 = _mm512_load_ps(wp + NR * k), w1 = V > 1 ? _mm512_load_ps(wp + NR * k + 16) : w0;
#pragma GCC unroll 12
        for (int r = 0; r < R; r++) {
            __m512 xv = _mm512_set1_ps(x[r * ldx + k]);
            c0[r] = _mm512_fmadd_ps(xv, w0, c0[r]);
            if (V > 1)
                c1[r] = _mm512_fmadd_ps(xv, w1, c1[r]);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
        _mm512_mask_storeu_ps(y + r * ldy, m0, c0[r]);
        if (V > 1)
            _mm512_mask_storeu_ps(y + r * ldy + 16, m1, c1[r]);
    }
}

AVX512 static void tiles(int R, const float *x, int64_t ldx, const float *wp, int64_t kn, float *y, int64_t ldy,
                         __mmask16 m0, __mmask16 m1, const float *b, int first)
{
    if (m1) {
        switch (R) {
#define T(n) case n: tile(n, 2, x, ldx, wp, kn, y, ldy, m0, m1, b, first); break;
        T(1) T(2) T(3) T(4) T(5) T(6) T(7) T(8) T(9) T(10) T(11) T(12)
#undef T
        }
        return;
    }
    switch (R) {
#define T(n) case n: tile(n, 1, x, ldx, wp, kn, y, ldy, m0, m1, b, first); break;
    T(1) T(2) T(3) T(4) T(5) T(6) T(7) T(8) T(9) T(10) T(11) T(12)
#undef T
    }
}

/* rows [r0, r1) by panels [p0, p1), in near-equal blocks of at most MC rows */
AVX512 static void block(const gemm_job *J, int64_t r0, int64_t r1, int64_t p0, int64_t p1)
{
    const int64_t K = J->K, N = J->N;
    const int64_t c0 = p0 * NR, c1 = p1 * NR < N ? p1 * NR : N;
    const int64_t nblocks = (r1 - r0 + MC - 1) / MC;
    for (int64_t bi = 0; bi < nblocks; bi++) {
        int64_t mc = r0 + (r1 - r0) * bi / nblocks, mn = r0 + (r1 - r0) * (bi + 1) / nblocks - mc;
        int64_t groups = (mn + MR - 1) / MR;
        for (int64_t kc = 0; kc < K; kc += J->kc) {
            int64_t kn = K - kc < J->kc ? K - kc : J->kc;
            for (int64_t p = p0; p < p1; p++) {
                int64_t cols = N - p * NR < NR ? N - p * NR : NR;
                __mmask16 m0 = (__mmask16)(cols >= 16 ? 0xffff : (1u << cols) - 1);
                __mmask16 m1 = (__mmask16)(cols >= 32 ? 0xffff : cols > 16 ? (1u << (cols - 16)) - 1 : 0);
                const float *wp = J->Wp + (p * K + kc) * NR;
                /* groups of near-equal size: 64 rows are 6 groups of 11 or 10 */
                for (int64_t g = 0; g < groups; g++) {
                    int64_t g0 = mc + mn * g / groups, g1 = mc + mn * (g + 1) / groups;
                    tiles((int)(g1 - g0), J->x + g0 * K + kc, K, wp, kn, J->y + g0 * N + p * NR, N, m0, m1,
                          J->b ? J->b + p * NR : NULL, kc == 0);
                }
            }
        }
        if (J->post)
            for (int64_t r = mc; r < mc + mn; r++)
                J->post(J->post_arg, J->y + r * N + c0, (size_t)(c1 - c0));
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
    if (threads <= 1 || M * N * K < PAR_FMAS) {
        block(&J, 0, M, 0, panels(N));
        return;
    }
    if (M >= (int64_t)threads * MC) {
        /* row blocks of at most MC, a multiple of `threads` of them, claimed
         * in turn */
        int64_t per = (M + (int64_t)threads * MC - 1) / ((int64_t)threads * MC);
        J.parts = per * threads;
        J.split_rows = 1;
        sr_par_for(threads, J.parts, part, &J);
        return;
    }
    J.parts = threads;
    J.split_rows = panels(N) < 2 * (int64_t)threads;
    if (J.split_rows && M < (int64_t)threads * MR)
        J.parts = 1;
    sr_par_run(J.parts, part, &J);
}

/*
 * One row: y = W x + b over the packed panels, G panels at a time (2G
 * independent sums in registers, so the multiply-adds' latency is hidden),
 * each output still the bias plus the products in order of k: the same
 * bits as sr_gemm gives that row in any batch.  The panels are aligned and
 * read front to back, which is what a pass bound by reading the weights
 * wants; `reverse` takes the groups in the opposite order (see sr_gemv).
 */
AVX512 static inline __attribute__((always_inline)) void
gemv_group(const int G, const float *wp, int64_t K, const float *x, const float *b, float *y, int64_t N, int64_t p)
{
    __m512 acc[8];
    __mmask16 m[8];
#pragma GCC unroll 8
    for (int h = 0; h < 2 * G; h++) {
        int64_t c0 = p * NR + 16 * h, cols = N - c0;
        m[h] = (__mmask16)(cols >= 16 ? 0xffff : cols > 0 ? (1u << cols) - 1 : 0);
        acc[h] = b ? _mm512_maskz_loadu_ps(m[h], b + c0) : _mm512_setzero_ps();
    }
    for (int64_t k = 0; k < K; k++) {
        __m512 xv = _mm512_set1_ps(x[k]);
#pragma GCC unroll 8
        for (int h = 0; h < 2 * G; h++)
            acc[h] = _mm512_fmadd_ps(xv, _mm512_load_ps(wp + (h / 2) * K * NR + NR * k + 16 * (h % 2)), acc[h]);
    }
#pragma GCC unroll 8
    for (int h = 0; h < 2 * G; h++)
        _mm512_mask_storeu_ps(y + p * NR + 16 * h, m[h], acc[h]);
}

#define GV 4 /* panels per group */

typedef struct {
    const float *Wp, *x, *b;
    float *y;
    int64_t N, K;
    int parts, reverse;
    void (*post)(const void *, float *, size_t);
    const void *post_arg;
} gemv_job;

AVX512 static void gemv_part(void *arg, int64_t t, int tid)
{
    (void)tid;
    const gemv_job *J = arg;
    int64_t np = panels(J->N), p0 = np * t / J->parts, p1 = np * (t + 1) / J->parts;
    int64_t ng = (p1 - p0 + GV - 1) / GV;
    for (int64_t q = 0; q < ng; q++) {
        int64_t g = J->reverse ? ng - 1 - q : q, p = p0 + g * GV;
        int n = p1 - p < GV ? (int)(p1 - p) : GV;
        const float *wp = J->Wp + p * J->K * NR;
        switch (n) {
        case 4: gemv_group(4, wp, J->K, J->x, J->b, J->y, J->N, p); break;
        case 3: gemv_group(3, wp, J->K, J->x, J->b, J->y, J->N, p); break;
        case 2: gemv_group(2, wp, J->K, J->x, J->b, J->y, J->N, p); break;
        default: gemv_group(1, wp, J->K, J->x, J->b, J->y, J->N, p); break;
        }
    }
    int64_t c0 = p0 * NR, c1 = p1 * NR < J->N ? p1 * NR : J->N;
    if (J->post && c1 > c0)
        J->post(J->post_arg, J->y + c0, (size_t)(c1 - c0));
}

/*
 * The same row from W as it lies ([N, K], row-major), for a first call
 * that has no packed weights yet: 16 rows at a time, their column k
 * gathered into one vector per step, so each output is again the bias
 * plus the products in order of k, one fused multiply-add at a time (the
 * same bits).  Gathers make it slower than the packed kernel, but a
 * one-sample run is spared the packing.
 */
AVX512 static inline __attribute__((always_inline)) void
rows_group(const int G, const float *W, int64_t K, const float *x, const float *b, float *y, int64_t N, int64_t r0)
{
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32((int)K));
    __m512 acc[2];
    __mmask16 m[2];
    const float *w[2];
#pragma GCC unroll 2
    for (int h = 0; h < G; h++) {
        int64_t c0 = r0 + 16 * h, rows = N - c0;
        m[h] = (__mmask16)(rows >= 16 ? 0xffff : (1u << rows) - 1);
        acc[h] = b ? _mm512_maskz_loadu_ps(m[h], b + c0) : _mm512_setzero_ps();
        w[h] = W + c0 * K;
    }
    for (int64_t k = 0; k < K; k++) {
        __m512 xv = _mm512_set1_ps(x[k]);
#pragma GCC unroll 2
        for (int h = 0; h < G; h++)
            acc[h] = _mm512_fmadd_ps(xv, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m[h], idx, w[h] + k, 4),
                                     acc[h]);
    }
#pragma GCC unroll 2
    for (int h = 0; h < G; h++)
        _mm512_mask_storeu_ps(y + r0 + 16 * h, m[h], acc[h]);
}

AVX512 static void rows_part(void *arg, int64_t t, int tid)
{
    (void)tid;
    const gemv_job *J = arg;
    /* the same column shares as gemv_part's, so each core reads the rows
     * it will later read packed */
    int64_t np = panels(J->N), c0 = np * t / J->parts * NR, c1 = np * (t + 1) / J->parts * NR;
    c1 = c1 < J->N ? c1 : J->N;
    for (int64_t r = c0; r < c1; r += 32) {
        if (c1 - r > 16)
            rows_group(2, J->Wp, J->K, J->x, J->b, J->y, c1, r);
        else
            rows_group(1, J->Wp, J->K, J->x, J->b, J->y, c1, r);
    }
    if (J->post && c1 > c0)
        J->post(J->post_arg, J->y + c0, (size_t)(c1 - c0));
}

/* Threads for a GEMV: another for every 128 KiB of weights, at least a
 * panel each. */
static int gemv_parts(int64_t N, int64_t K, int threads)
{
    int parts = 1;
    while (parts < threads && panels(N) * K * NR / (parts + 1) >= GEMV_PAR_FLOATS && panels(N) >= parts + 1)
        parts++;
    return parts;
}

void sr_gemv_rows(const float *W, const float *x, const float *b, float *y, int64_t N, int64_t K, int threads,
                  void (*post)(const void *, float *, size_t), const void *post_arg)
{
    gemv_job J = {.Wp = W, .x = x, .b = b, .y = y, .N = N, .K = K, .parts = gemv_parts(N, K, threads),
                  .post = post, .post_arg = post_arg};
    sr_par_run(J.parts, rows_part, &J);
}

void sr_gemv(const float *Wp, const float *x, const float *b, float *y, int64_t N, int64_t K, int threads,
             int reverse, void (*post)(const void *, float *, size_t), const void *post_arg)
{
    gemv_job J = {.Wp = Wp, .x = x, .b = b, .y = y, .N = N, .K = K, .parts = gemv_parts(N, K, threads),
                  .reverse = reverse, .post = post, .post_arg = post_arg};
    sr_par_run(J.parts, gemv_part, &J);
}

#else /* no x86 vector kernel: sr_gemm_available() is 0 and this is never reached */

void sr_gemm(const float *Wp, const float *x, const float *b, float *y, int64_t M, int64_t N, int64_t K,
             int threads, void (*post)(const void *, float *, size_t), const void *post_arg)
{
    (void)Wp, (void)x, (void)b, (void)y, (void)M, (void)N, (void)K, (void)threads, (void)post, (void)post_arg;
}

void sr_gemv_rows(const float *W, const float *x, const float *b, float *y, int64_t N, int64_t K, int threads,
                  void (*post)(const void *, float *, size_t), const void *post_arg)
{
    (void)W, (void)x, (void)b, (void)y, (void)N, (void)K, (void)threads, (void)post, (void)post_arg;
}

void sr_gemv(const float *Wp, const float *x, const float *b, float *y, int64_t N, int64_t K, int threads,
             int reverse, void (*post)(const void *, float *, size_t), const void *post_arg)
{
    (void)Wp, (void)x, (void)b, (void)y, (void)N, (void)K, (void)threads, (void)reverse, (void)post, (void)post_arg;
}

#endif
