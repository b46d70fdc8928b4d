/*
 * conv_dwd.c - depthwise 3x3 convolution with padding 1 on every side
 * (MobileNet's), stride 1 or 2, read straight from the input planes with
 * AVX-512: CK_DW's kernel for those layers.
 *
 * A depthwise output costs only 9 multiply-adds, so every copy, transpose
 * or shuffle of the input shows.  conv_dwr.c copies each plane into a
 * padded frame first (at stride 2 deinterleaving its columns), conv_dw.c's
 * channels in the lanes transpose in and out; at W8's shapes both spend
 * more time moving floats than multiplying them.  Here nothing is copied
 * (2-sample calls, in cache, 1 thread: 32x32 14.9 -> 11.4 us, stride 2
 * 21.3 -> 9.9; 16x16 17.2 -> 10.5, stride 2 10.4 -> 6.9; 8x8 13.1 -> 8.0):
 *
 *   loads    each input row under a tile loaded once, a vector at a time
 *            (aligned where the rows are), with a mask that zeroes what
 *            lies outside the plane (masked lanes are not read: the
 *            address may lie outside); taps j = 0 and 2 are the vector
 *            shifted by a lane (valignd), the lane shifted in from the
 *            neighbouring vector or zero, so there is no padded frame;
 *   columns  at stride 1 a vector holds 16 consecutive output columns (a
 *            row of 8 packs 2 rows in a vector, the plane being
 *            contiguous); at stride 2, rows wider than 16: the 32 input
 *            columns under a vector of outputs split by two permutes into
 *            even ones (j = 1) and odd ones (j = 2, and shifted by a lane
 *            j = 0); rows of 9-16: the same for two channels at once,
 *            one in each half of the vectors; rows of 8: the stride-1
 *            result's columns, the even ones permuted out before the store;
 *   tiles    R units (an output row, or 2 packed rows of 8) x V
 *            vectors: each load feeds every unit of the tile that uses it;
 *            the tiles, their load and store masks are worked out once per
 *            call into descriptors that every plane runs through;
 *   order    the input rows in ascending order give each output its taps
 *            in (i, j) order: bias, then one FMA per tap, padding taps
 *            included as zeros (conv_kernels.h), whatever the tiling;
 *   post     ReLU in registers, any other activation on each finished
 *            plane while it is in L1.
 */
#include "conv_kernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CK_X86 1
#define CK_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#endif

#define DWD_ACC 12   /* accumulators per tile */
#define DWD_RHO 32   /* rows of loads per tile, at most */

/* Widths 5-7 (and 1-3) would leave a packed vector's rows misaligned with
 * its lanes: conv_dw.c takes them.  conv_dw.c's channels in the lanes also
 * do better at 4x4 (2 samples of 512 channels: 7.8 against 8.1 us) and at
 * 8x8 stride 2 (6.3 against 7.8 us, a quarter of the FMAs kept here). */
int ck_dwd_ok(const ck_conv *c)
{
    return c->groups == c->cin && c->cout == c->cin && c->mode == CK_PAD_ZEROS && c->k[0] == 3 && c->k[1] == 3 &&
           c->dil[0] == 1 && c->dil[1] == 1 && c->s[0] == c->s[1] && c->s[0] <= 2 && c->pb[0] == 1 &&
           c->pa[0] == 1 && c->pb[1] == 1 && c->pa[1] == 1 &&
           (c->w >= 9 || (c->w == 8 && c->s[0] == 1));
}

typedef struct {
    int64_t rpv;      /* input rows per vector (2 for w = 8; else 1) */
    int64_t nv;       /* vectors across a row */
    int64_t D;        /* input rows from one unit to the next */
    int64_t nu;       /* units: accumulator rows of a plane */
    int64_t ndesc;    /* tiles of a plane */
    int64_t chunk;    /* channels per task */
    int dei;          /* stride 2, wider than 16: the input's columns deinterleaved (dwd_tile2) */
    int pair;         /* rows of 16 or fewer: two channels per tile, half the rows each */
} dwd_geo;

static int64_t dwd_rmax(int V, int pair) { return (V == 2 ? DWD_ACC / 2 : DWD_ACC) / (pair ? 2 : 1); }

static void dwd_geo_get(const ck_conv *c, dwd_geo *d)
{
    int64_t S = c->s[0];
    d->rpv = c->w >= 9 ? 1 : 16 / c->w;
    d->dei = S == 2 && c->w > 16;
    d->nv = d->dei ? (c->ow + 15) / 16 : (c->w + 15) / 16;
    /* two channels' tiles in flight (2 samples, in cache: 8x8 8.5 -> 6.7 us,
     * 16x16 stride 2 7.4 -> 6.7, 32x32 stride 2 10.8 -> 9.5, 16x16 the same;
     * not at 32x32 stride 1, where 2 vectors across already keep 6 chains) */
    d->pair = c->w <= 16 || d->dei;
    d->D = S == 1 ? d->rpv : 2;
    d->nu = S == 1 ? (c->oh + d->rpv - 1) / d->rpv : c->oh;
    int64_t r2 = dwd_rmax(2, d->pair), r1 = dwd_rmax(1, d->pair), t2 = (d->nu + r2 - 1) / r2, t1 = (d->nu + r1 - 1) / r1;
    d->ndesc = t2 * (d->nv / 2) + t1 * (d->nv % 2);
    /* small planes: more of them per task (the bits do not depend on it) */
    int64_t P = c->oh * c->ow;
    d->chunk = P >= 256 ? 16 : 4096 / P < 256 ? 4096 / P : 256;
}

typedef struct dwd_desc dwd_desc;
typedef void (*dwd_fn)(const dwd_desc *, const float *, float *, const float *, const float *, int64_t, int, int64_t,
                       int64_t);

/* One tile of a plane. */
struct dwd_desc {
    dwd_fn fn, fn2;      /* one channel; two (planes xs, ys floats apart), or NULL */
    int64_t xo;          /* plane offset of its first load (row D u0 - 1, column 16 v0 - 1), may be negative */
    int64_t yo, ystep;   /* plane offset of its first output; from one unit to the next */
    const uint16_t *lm;  /* load masks [rho][V + 2]: the vector left of the tile, its V, the one right */
    int nb;              /* vectors left or right of the tile in the row */
    uint16_t jm[2];      /* lanes of taps j = 0, 2 that are not padding (packed rows) */
    uint16_t sm[DWD_ACC]; /* store masks [unit][v] (stride 2: [unit]) */
};

size_t ck_dwd_workspace(const ck_conv *c)
{
    dwd_geo d;
    dwd_geo_get(c, &d);
    size_t bytes = (size_t)d.ndesc * (sizeof(dwd_desc) + DWD_RHO * 5 * sizeof(uint16_t)) + 64;
    return (bytes + sizeof(float) - 1) / sizeof(float);
}

#ifdef CK_X86
/* K channels' tap weights (wt, 9 each) broadcast, and their n
 * accumulators each set to the channel's bias. */
static inline __attribute__((always_inline)) CK_TARGET void
dwd_start(const float *wt, const float *bias, __m512 (*wv)[9], __m512 *acc, const int n, const int K)
{
#pragma GCC unroll 2
    for (int k = 0; k < K; k++) {
#pragma GCC unroll 9
        for (int q = 0; q < 9; q++)
            wv[k][q] = _mm512_set1_ps(wt[9 * k + q]);
#pragma GCC unroll 12
        for (int q = 0; q < n; q++)
            acc[k * n + q] = _mm512_set1_ps(bias[k]);
    }
}

/*
 * R units x V vectors.  x, y: the plane; w: the input width; relu: ReLU
 * in registers.  S: stride, D: input rows from one unit to the next.
 */
static inline __attribute__((always_inline)) CK_TARGET void
dwd_tile(const dwd_desc *t, const float *x, float *y, const float *wt, const float *bias, int64_t w, int relu,
         int64_t xs, int64_t ys, const int S, const int D, const int R, const int V, const int K)
{
    __m512 acc[DWD_ACC], wv[2][9];
    dwd_start(wt, bias, wv, acc, R * V, K);
    /* masked-off lanes are not read: the address may lie outside the plane */
    uintptr_t base = (uintptr_t)x + (uintptr_t)t->xo * sizeof(float);
    const uint16_t *lm = t->lm;
    __m512 zero = _mm512_setzero_ps();
    __mmask16 jm0 = t->jm[0], jm2 = t->jm[1];
    /* input rows rho = D m + i in ascending order: tap i of unit m; each
     * row loaded once (aligned where the row is), the taps j = 0, 2 its
     * vectors shifted by a lane (the padding lanes zero) */
#pragma GCC unroll 32
    for (int rho = 0; rho < D * (R - 1) + 3; rho++) {
        __m512 a[2][4];
        const uint16_t *rm = lm + rho * (V + 2);
#pragma GCC unroll 2
        for (int k = 0; k < K; k++) {
            uintptr_t row = base + (uintptr_t)(rho * w + k * xs) * sizeof(float);
#pragma GCC unroll 2
            for (int v = 0; v < V; v++)
                a[k][v + 1] = _mm512_maskz_loadu_ps(rm[v + 1], (const void *)(row + 64 * (uintptr_t)v));
            a[k][0] = a[k][V + 1] = zero;
            if (t->nb) {
                a[k][0] = _mm512_maskz_loadu_ps(rm[0], (const void *)(row - 64));
                a[k][V + 1] = _mm512_maskz_loadu_ps(rm[V + 1], (const void *)(row + 64 * (uintptr_t)V));
            }
        }
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++)
#pragma GCC unroll 2
            for (int v = 0; v < V; v++)
#pragma GCC unroll 2
                for (int k = 0; k < K; k++) {
                    __m512 xv = a[k][v + 1];
                    if (j == 0)
                        xv = _mm512_castsi512_ps(_mm512_maskz_alignr_epi32(jm0, _mm512_castps_si512(a[k][v + 1]),
                                                                           _mm512_castps_si512(a[k][v]), 15));
                    else if (j == 2)
                        xv = _mm512_castsi512_ps(_mm512_maskz_alignr_epi32(jm2, _mm512_castps_si512(a[k][v + 2]),
                                                                           _mm512_castps_si512(a[k][v + 1]), 1));
#pragma GCC unroll 12
                    for (int m = 0; m < R; m++) {
                        int i = rho - m * D;
                        if (i >= 0 && i < 3)
                            acc[(k * R + m) * V + v] =
                                _mm512_fmadd_ps(wv[k][i * 3 + j], xv, acc[(k * R + m) * V + v]);
                    }
                }
    }
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
#pragma GCC unroll 24
    for (int km = 0; km < K * R; km++) {
        int m = km % R;
        float *ym = y + km / R * ys + t->yo + m * t->ystep;
        if (S == 2) {
            /* the even columns of the stride-1 result */
            __m512 r = V == 2 ? _mm512_permutex2var_ps(acc[km * V], even, acc[km * V + 1])
                              : _mm512_permutexvar_ps(even, acc[km * V]);
            if (relu)
                r = _mm512_max_ps(zero, r);
            _mm512_mask_storeu_ps(ym, t->sm[m], r);
            continue;
        }
#pragma GCC unroll 2
        for (int v = 0; v < V; v++) {
            __m512 r = relu ? _mm512_max_ps(zero, acc[km * V + v]) : acc[km * V + v];
            _mm512_mask_storeu_ps(ym + 16 * v, t->sm[m * V + v], r);
        }
    }
}

/* (stride, rows per unit step, units, vectors) */
#define DWD_R12(X, S, D, V) X(S, D, 1, V) X(S, D, 2, V) X(S, D, 3, V) X(S, D, 4, V) X(S, D, 5, V) X(S, D, 6, V) \
    X(S, D, 7, V) X(S, D, 8, V) X(S, D, 9, V) X(S, D, 10, V) X(S, D, 11, V) X(S, D, 12, V)
#define DWD_R6(X, S, D, V) X(S, D, 1, V) X(S, D, 2, V) X(S, D, 3, V) X(S, D, 4, V) X(S, D, 5, V) X(S, D, 6, V)
#define DWD_SHAPES(X) DWD_R12(X, 1, 1, 1) DWD_R6(X, 1, 1, 2) DWD_R12(X, 1, 2, 1) \
    DWD_R12(X, 2, 2, 1) DWD_R6(X, 2, 2, 2)
/* two channels at once: rows of 16 or fewer */
#define DWD_SHAPES2(X) DWD_R6(X, 1, 1, 1) DWD_R6(X, 1, 2, 1) DWD_R6(X, 2, 2, 1)
#define DWD_FN(S, D, R, V, K)                                                                                 \
    static CK_TARGET void dwd_tile_##S##_##D##_##R##_##V##_##K(const dwd_desc *t, const float *x, float *y,   \
                                                               const float *wt, const float *bias, int64_t w, \
                                                               int relu, int64_t xs, int64_t ys)              \
    {                                                                                                         \
        dwd_tile(t, x, y, wt, bias, w, relu, xs, ys, S, D, R, V, K);                                          \
    }
#define DWD_FN1(S, D, R, V) DWD_FN(S, D, R, V, 1)
#define DWD_FN2(S, D, R, V) DWD_FN(S, D, R, V, 2)
DWD_SHAPES(DWD_FN1)
DWD_SHAPES2(DWD_FN2)
#undef DWD_FN

/* [channels - 1][stride - 1][D - 1][vectors - 1][units - 1] */
static const dwd_fn dwd_tiles[2][2][2][2][DWD_ACC] = {
#define DWD_ENTRY1(S, D, R, V) [0][S - 1][D - 1][V - 1][R - 1] = dwd_tile_##S##_##D##_##R##_##V##_1,
#define DWD_ENTRY2(S, D, R, V) [1][S - 1][D - 1][V - 1][R - 1] = dwd_tile_##S##_##D##_##R##_##V##_2,
    DWD_SHAPES(DWD_ENTRY1) DWD_SHAPES2(DWD_ENTRY2)
#undef DWD_ENTRY1
#undef DWD_ENTRY2
};

/*
 * Stride 2, rows of 9-16: two channels in the lanes, lanes 0-7 the first's
 * output row, 8-15 the second's: each input row of both split by permutes
 * into their even columns (j = 1), odd ones (j = 2) and odd ones a lane on
 * (j = 0), so that 9 FMAs on full vectors make 16 outputs (dwd_tile's
 * stride-1 columns: 9 for 8, and two shifts per row).  The descriptor is
 * dwd_tile's for one vector across; the second channel's plane is xs
 * floats on, its output ys.
 */
static inline __attribute__((always_inline)) CK_TARGET void
dwd_tile3(const dwd_desc *t, const float *x, float *y, const float *wt, const float *bias, int64_t w, int relu,
          int64_t xs, int64_t ys, const int R)
{
    __m512 acc[DWD_ACC], wv[9];
    const __mmask16 hi = 0xff00;
#pragma GCC unroll 9
    for (int q = 0; q < 9; q++)
        wv[q] = _mm512_mask_blend_ps(hi, _mm512_set1_ps(wt[q]), _mm512_set1_ps(wt[9 + q]));
    __m512 b = _mm512_mask_blend_ps(hi, _mm512_set1_ps(bias[0]), _mm512_set1_ps(bias[1]));
#pragma GCC unroll 12
    for (int q = 0; q < R; q++)
        acc[q] = b;
    uintptr_t base = (uintptr_t)x + (uintptr_t)t->xo * sizeof(float);
    uintptr_t base2 = base + (uintptr_t)xs * sizeof(float);
    const uint16_t *lm = t->lm;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i odd1 = _mm512_setr_epi32(0, 1, 3, 5, 7, 9, 11, 13, 0, 17, 19, 21, 23, 25, 27, 29);
    /* input rows rho = 2 m + i in ascending order: tap i of output row m */
#pragma GCC unroll 32
    for (int rho = 0; rho < 2 * (R - 1) + 3; rho++) {
        __mmask16 m = lm[rho * 3 + 1];
        __m512 a = _mm512_maskz_loadu_ps(m, (const void *)(base + (uintptr_t)(rho * w) * sizeof(float)));
        __m512 c = _mm512_maskz_loadu_ps(m, (const void *)(base2 + (uintptr_t)(rho * w) * sizeof(float)));
        __m512 xj[3] = {_mm512_maskz_permutex2var_ps(0xfefe, a, odd1, c), _mm512_permutex2var_ps(a, even, c),
                        _mm512_permutex2var_ps(a, odd, c)};
        ck_dw_row_s2(acc, wv, xj, rho, R);
    }
    __m512 zero = _mm512_setzero_ps();
    __mmask16 sm = t->sm[0];
#pragma GCC unroll 12
    for (int u = 0; u < R; u++) {
        __m512 r = relu ? _mm512_max_ps(zero, acc[u]) : acc[u];
        float *yu = y + t->yo + u * t->ystep;
        _mm512_mask_storeu_ps(yu, sm, r);
        /* lanes 8-15 to the second channel's row (the address 8 floats before it) */
        _mm512_mask_storeu_ps((void *)((uintptr_t)(yu + ys) - 32), (__mmask16)(sm << 8), r);
    }
}

#define DWD3_FN(R)                                                                                            \
    static CK_TARGET void dwd_tile3_##R(const dwd_desc *t, const float *x, float *y, const float *wt,        \
                                        const float *bias, int64_t w, int relu, int64_t xs, int64_t ys)      \
    {                                                                                                         \
        dwd_tile3(t, x, y, wt, bias, w, relu, xs, ys, R);                                                     \
    }
DWD3_FN(1) DWD3_FN(2) DWD3_FN(3) DWD3_FN(4) DWD3_FN(5) DWD3_FN(6)
#undef DWD3_FN
static const dwd_fn dwd_tiles3[6] = {dwd_tile3_1, dwd_tile3_2, dwd_tile3_3, dwd_tile3_4, dwd_tile3_5, dwd_tile3_6};

/* Lanes of a vector whose floats are in [0, n): the first n. */
static uint16_t dwd_first(int64_t n) { return (uint16_t)(n >= 16 ? 0xffff : n <= 0 ? 0 : (1u << n) - 1); }

/*
 * Stride 2, wider than 16: R output rows x V vectors of 16 outputs, each
 * input row's 32 columns under a vector loaded as two and split into its
 * even columns (tap j = 1) and odd ones (j = 2; shifted by a lane, j = 0):
 * 9 FMAs per output vector where dwd_tile's stride-1 columns take 18.
 */
static inline __attribute__((always_inline)) CK_TARGET void
dwd_tile2(const dwd_desc *t, const float *x, float *y, const float *wt, const float *bias, int64_t w, int relu,
          int64_t xs, int64_t ys, const int R, const int V, const int K)
{
    __m512 acc[DWD_ACC], wv[2][9];
    dwd_start(wt, bias, wv, acc, R * V, K);
    uintptr_t base = (uintptr_t)x + (uintptr_t)t->xo * sizeof(float);
    const uint16_t *lm = t->lm;
    __m512 zero = _mm512_setzero_ps();
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    /* input rows rho = 2 m + i in ascending order: tap i of output row m */
#pragma GCC unroll 32
    for (int rho = 0; rho < 2 * (R - 1) + 3; rho++) {
        __m512 ev[2][2], od[2][3];
        const uint16_t *rm = lm + rho * (2 * V + 1);
#pragma GCC unroll 2
        for (int k = 0; k < K; k++) {
            uintptr_t row = base + (uintptr_t)(rho * w + k * xs) * sizeof(float);
            /* lane 15: the column before the tile's first (zero at the row's start) */
            od[k][0] = t->nb ? _mm512_maskz_loadu_ps(rm[0], (const void *)(row - 64)) : zero;
#pragma GCC unroll 2
            for (int v = 0; v < V; v++) {
                __m512 lo = _mm512_maskz_loadu_ps(rm[1 + 2 * v], (const void *)(row + 128 * (uintptr_t)v));
                __m512 hi = _mm512_maskz_loadu_ps(rm[2 + 2 * v], (const void *)(row + 128 * (uintptr_t)v + 64));
                ev[k][v] = _mm512_permutex2var_ps(lo, even, hi);
                od[k][v + 1] = _mm512_permutex2var_ps(lo, odd, hi);
            }
        }
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++)
#pragma GCC unroll 2
            for (int v = 0; v < V; v++)
#pragma GCC unroll 2
                for (int k = 0; k < K; k++) {
                    __m512 xv = j == 1 ? ev[k][v] : od[k][v + 1];
                    if (j == 0)
                        xv = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(od[k][v + 1]),
                                                                     _mm512_castps_si512(od[k][v]), 15));
#pragma GCC unroll 12
                    for (int m = 0; m < R; m++) {
                        int i = rho - m * 2;
                        if (i >= 0 && i < 3)
                            acc[(k * R + m) * V + v] =
                                _mm512_fmadd_ps(wv[k][i * 3 + j], xv, acc[(k * R + m) * V + v]);
                    }
                }
    }
#pragma GCC unroll 24
    for (int km = 0; km < K * R; km++)
#pragma GCC unroll 2
        for (int v = 0; v < V; v++) {
            __m512 r = relu ? _mm512_max_ps(zero, acc[km * V + v]) : acc[km * V + v];
            _mm512_mask_storeu_ps(y + km / R * ys + t->yo + km % R * t->ystep + 16 * v, t->sm[km % R * V + v], r);
        }
}

#define DWD2_SHAPES(X) X(1, 1) X(2, 1) X(3, 1) X(4, 1) X(5, 1) X(6, 1) X(7, 1) X(8, 1) X(9, 1) X(10, 1) X(11, 1) \
    X(12, 1) X(1, 2) X(2, 2) X(3, 2) X(4, 2) X(5, 2) X(6, 2)
#define DWD2_SHAPES2(X) X(1, 1) X(2, 1) X(3, 1) X(4, 1) X(5, 1) X(6, 1) X(1, 2) X(2, 2) X(3, 2)
#define DWD2_FN(R, V, K)                                                                                      \
    static CK_TARGET void dwd_tile2_##R##_##V##_##K(const dwd_desc *t, const float *x, float *y, const float *wt, \
                                                    const float *bias, int64_t w, int relu, int64_t xs, int64_t ys) \
    {                                                                                                         \
        dwd_tile2(t, x, y, wt, bias, w, relu, xs, ys, R, V, K);                                               \
    }
#define DWD2_FN1(R, V) DWD2_FN(R, V, 1)
#define DWD2_FN2(R, V) DWD2_FN(R, V, 2)
DWD2_SHAPES(DWD2_FN1)
DWD2_SHAPES2(DWD2_FN2)
#undef DWD2_FN

/* [channels - 1][vectors - 1][rows - 1] */
static const dwd_fn dwd_tiles2[2][2][DWD_ACC] = {
#define DWD2_ENTRY1(R, V) [0][V - 1][R - 1] = dwd_tile2_##R##_##V##_1,
#define DWD2_ENTRY2(R, V) [1][V - 1][R - 1] = dwd_tile2_##R##_##V##_2,
    DWD2_SHAPES(DWD2_ENTRY1) DWD2_SHAPES2(DWD2_ENTRY2)
#undef DWD2_ENTRY1
#undef DWD2_ENTRY2
};

/* The tile's load masks and output in dwd_tile2's terms. */
static void dwd_describe2(const ck_conv *c, const dwd_geo *d, int64_t u0, int R, int64_t v0, int V, uint16_t *lm,
                          dwd_desc *t)
{
    int64_t w = c->w, h = c->h;
    (void)d;
    t->fn = dwd_tiles2[0][V - 1][R - 1];
    t->fn2 = d->pair ? dwd_tiles2[1][V - 1][R - 1] : NULL;
    t->xo = (2 * u0 - 1) * w + 32 * v0;
    t->lm = lm;
    t->nb = v0 > 0;
    for (int64_t rho = 0; rho < 2 * (R - 1) + 3; rho++) {
        int64_t ih = 2 * u0 - 1 + rho;
        int in = ih >= 0 && ih < h;
        lm[rho * (2 * V + 1)] = (uint16_t)(in && v0 > 0 ? 0x8000 : 0);
        for (int q = 0; q < 2 * V; q++)
            lm[rho * (2 * V + 1) + 1 + q] = in ? dwd_first(w - 32 * v0 - 16 * q) : 0;
    }
    t->yo = u0 * c->ow + 16 * v0;
    t->ystep = c->ow;
    for (int m = 0; m < R; m++)
        for (int v = 0; v < V; v++)
            t->sm[m * V + v] = dwd_first(c->ow - 16 * (v0 + v));
}

/* One tile's descriptor: units u0 .. u0 + R - 1, vectors v0 .. v0 + V - 1;
 * its load masks to lm. */
static void dwd_describe(const ck_conv *c, const dwd_geo *d, int64_t u0, int R, int64_t v0, int V, uint16_t *lm,
                         dwd_desc *t)
{
    int64_t S = c->s[0], D = d->D, w = c->w, h = c->h;
    t->fn = dwd_tiles[0][S - 1][D - 1][V - 1][R - 1];
    t->fn2 = !d->pair ? NULL
             : S == 2 && d->rpv == 1 ? dwd_tiles3[R - 1] : dwd_tiles[1][S - 1][D - 1][V - 1][R - 1];
    t->xo = (D * u0 - 1) * w + 16 * v0;
    t->lm = lm;
    t->nb = v0 > 0 || v0 + V < d->nv;
    unsigned j0 = 0, j2 = 0;
    for (int l = 0; l < 16; l++) {
        j0 |= (d->rpv == 1 || l % w != 0) ? 1u << l : 0;
        j2 |= (d->rpv == 1 || l % w != w - 1) ? 1u << l : 0;
    }
    t->jm[0] = (uint16_t)j0;
    t->jm[1] = (uint16_t)j2;
    for (int64_t rho = 0; rho < D * (R - 1) + 3; rho++)
        for (int q = 0; q < V + 2; q++) {
            int64_t vv = v0 + q - 1; /* the vector across the row */
            unsigned m = 0;
            for (int l = 0; l < 16 && vv >= 0 && vv < d->nv; l++) {
                int64_t ih = D * u0 - 1 + rho + (d->rpv > 1 ? l / w : 0);
                int64_t col = d->rpv > 1 ? l % w : 16 * vv + l;
                if (col < w && ih >= 0 && ih < h)
                    m |= 1u << l;
            }
            lm[rho * (V + 2) + q] = (uint16_t)m;
        }
    if (S == 2) {
        t->yo = u0 * c->ow + 8 * v0;
        t->ystep = c->ow;
        for (int m = 0; m < R; m++)
            t->sm[m] = dwd_first(c->ow - 8 * v0);
        return;
    }
    t->yo = u0 * d->rpv * c->ow + 16 * v0;
    t->ystep = d->rpv * c->ow;
    for (int m = 0; m < R; m++)
        for (int v = 0; v < V; v++)
            t->sm[m * V + v] = d->rpv > 1 ? dwd_first((c->oh - (u0 + m) * d->rpv) * c->ow)
                                          : dwd_first(c->ow - 16 * (v0 + v));
}

typedef struct {
    const ck_conv *c;
    const dwd_geo *d;
    const dwd_desc *desc;
    const float *x, *W, *bias;
    float *y;
    sr_ctx *ctx;
    int relu;
    int64_t chunks;
} dwd_job;

/* Channels of one sample, a chunk of them. */
static void dwd_task(void *arg, int64_t task, int tid)
{
    (void)tid;
    const dwd_job *J = arg;
    const ck_conv *c = J->c;
    int64_t n = task / J->chunks, c0 = task % J->chunks * J->d->chunk;
    int64_t c1 = c0 + J->d->chunk < c->cin ? c0 + J->d->chunk : c->cin, HW = c->h * c->w, P = c->oh * c->ow;
    for (int64_t ch = c0; ch < c1;) {
        const float *x = J->x + (n * c->cin + ch) * HW;
        float *y = J->y + (n * c->cout + ch) * P;
        int two = J->d->pair && ch + 1 < c1;
        float bias[2] = {J->bias ? J->bias[ch] : 0.0f, J->bias && two ? J->bias[ch + 1] : 0.0f};
        for (int64_t k = 0; k < J->d->ndesc; k++)
            (two ? J->desc[k].fn2 : J->desc[k].fn)(&J->desc[k], x, y, J->W + ch * 9, bias, c->w, J->relu, HW, P);
        if (J->ctx->post && !J->relu)
            sr_post(J->ctx, y, (size_t)(P << two));
        ch += 1 + two;
    }
}
#endif

int ck_dwd_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx)
{
#ifdef CK_X86
    dwd_geo d;
    dwd_geo_get(c, &d);
    /* the descriptors, then their load masks, in the workspace */
    dwd_desc *desc = (dwd_desc *)(((uintptr_t)ctx->work + 63) & ~(uintptr_t)63);
    uint16_t *lm = (uint16_t *)(desc + d.ndesc);
    int64_t k = 0;
    for (int64_t v0 = 0; v0 < d.nv; v0 += 2) {
        int V = d.nv - v0 >= 2 ? 2 : 1;
        int64_t rmax = dwd_rmax(V, d.pair), tiles = (d.nu + rmax - 1) / rmax;
        for (int64_t t = 0, u0 = 0; t < tiles; t++) {
            int R = (int)(d.nu / tiles + (t < d.nu % tiles));
            if (d.dei)
                dwd_describe2(c, &d, u0, R, v0, V, lm, &desc[k++]);
            else
                dwd_describe(c, &d, u0, R, v0, V, lm, &desc[k++]);
            lm += (d.D * (R - 1) + 3) * (d.dei ? 2 * V + 1 : V + 2);
            u0 += R;
        }
    }
    dwd_job J = {.c = c, .d = &d, .desc = desc, .x = x, .W = W, .bias = bias, .y = y, .ctx = ctx,
                 .relu = ctx->post && ctx->post->type->id == SR_L_ReLU,
                 .chunks = (c->cin + d.chunk - 1) / d.chunk};
    ck_par(ctx, c->n * J.chunks, dwd_task, &J);
    return 0;
#else
    (void)c, (void)W, (void)bias, (void)x, (void)y, (void)ctx;
    return -1;
#endif
}
