/*
 * conv_dwr.c - depthwise 3x3 convolution (groups = in = out channels, zero
 * padding, stride 1 or 2, no dilation) row by row, with AVX-512: CK_DW's
 * kernel for depthwise 3x3 layers whose padding is not 1 on every side
 * (conv_dwd.c takes those, MobileNet's, without this padded frame).
 *
 * A depthwise output costs only 9 multiply-adds, so loads and copies count
 * as much as the arithmetic.  Channels in the lanes (conv_dw.c's dwc) pay
 * two transposes per float; one vector per output with 9 loads each pays a
 * load (across a cache line, 8 of 9 times) per multiply-add.  Here:
 *
 *   frame    each plane, padded, in a frame of Hp rows of RS floats (64-byte
 *            aligned rows); with stride 2 across, a row holds its even and
 *            its odd padded columns as two phases of PH floats, so a tap's
 *            16 outputs are 16 consecutive floats; written with whole
 *            aligned vectors (the padding as zeros from masked loads), the
 *            rows of padding zeroed once per task;
 *   tile     R output rows x V vectors of 16 outputs of a row: every input
 *            row the tile touches is loaded once per tap column and feeds
 *            each of the tile's rows that uses it (3 of 3 at stride 1), so
 *            R = 12 rows take 14 x 3 loads for 108 multiply-adds;
 *   order    the input rows in ascending order give every output its taps
 *            in (i, j) order: bias, then one FMA per tap, padding taps
 *            included as zeros (conv_kernels.h); the tiling never changes
 *            an output's bits;
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

#define DWR_CHUNK 16 /* channels per task */

/* Output rows narrower than 9 leave most of a vector's lanes empty here:
 * conv_dw.c's channels in the lanes do better there (measured, W8's
 * depthwise layers on 2 samples: 3x3 at 32x32 39 -> 15 us, 32x32 stride 2
 * 27 -> 22, 16x16 25 -> 18; at 8x8 13 -> 15, 16x16 stride 2 11 -> 14,
 * 8x8 stride 2 6 -> 17). */
int ck_dwr_ok(const ck_conv *c)
{
    return c->groups == c->cin && c->cout == c->cin && c->mode == CK_PAD_ZEROS && c->k[0] == 3 && c->k[1] == 3 &&
           c->dil[0] == 1 && c->dil[1] == 1 && c->s[0] == c->s[1] && c->s[0] <= 2 && c->ow > 8;
}

typedef struct {
    int64_t Hp, nv;  /* padded rows; vectors per output row */
    int64_t PH, RS;  /* floats per phase row, per frame row (s * PH) */
    int64_t fr;      /* floats per frame, with the slack its loads reach */
    /* at V = 1 and 2 vectors across: tiles down a plane, rows in each
     * (the first `extra` of them one more) */
    int64_t tiles[2], rows[2], extra[2];
} dwr_geo;

static void dwr_geo_get(const ck_conv *c, dwr_geo *d)
{
    int64_t s = c->s[1], Wp = c->w + c->pb[1] + c->pa[1];
    d->Hp = c->h + c->pb[0] + c->pa[0];
    d->nv = (c->ow + 15) / 16;
    /* a phase row: its padded columns (a vector's lanes past the outputs
     * read on into the next row, or the slack after the last) */
    d->PH = ((Wp + s - 1) / s + 15) / 16 * 16;
    d->RS = s * d->PH;
    d->fr = d->Hp * d->RS + 16 * d->nv + 32;
    /* at most 12 accumulators, the rows as even as they divide (a tile
     * of 12 and one of 4 leaves the short one latency-bound; two of 8 do
     * not) */
    for (int v = 0; v < 2; v++) {
        int64_t rmax = 12 / (v + 1);
        d->tiles[v] = (c->oh + rmax - 1) / rmax;
        d->rows[v] = c->oh / d->tiles[v];
        d->extra[v] = c->oh % d->tiles[v];
    }
}

size_t ck_dwr_workspace(const ck_conv *c)
{
    dwr_geo d;
    dwr_geo_get(c, &d);
    return (size_t)(2 * d.fr) + 16;
}

typedef struct {
    const ck_conv *c;
    const dwr_geo *d;
    const float *x, *W, *bias;
    float *y;
    float *work;
    size_t area;
    sr_ctx *ctx;
    int relu;
    int64_t chunks;
    ck_rowpad rp;
} dwr_job;

#ifdef CK_X86
/* One plane into the frame's rows of input (the rows of padding stay as
 * they are: zero). */
static CK_TARGET void dwr_fill(const dwr_job *J, const float *x, float *f)
{
    const ck_conv *c = J->c;
    const ck_rowpad *rp = &J->rp;
    int64_t W = c->w, RS = J->d->RS, PH = J->d->PH, nch = rp->nch;
    float *row = f + c->pb[0] * RS;
    if (!rp->fast) {
        int64_t s = c->s[1];
        for (int64_t ih = 0; ih < c->h; ih++, row += RS)
            for (int64_t q = 0; q < s * PH; q++) {
                int64_t pc = (q % PH) * s + q / PH, iw = pc - c->pb[1]; /* phase q / PH, column q % PH */
                row[q] = iw >= 0 && iw < W ? x[ih * W + iw] : 0.0f;
            }
        return;
    }
    /* masked-off lanes are not read: the address may lie before x */
    uintptr_t base = (uintptr_t)x - (uintptr_t)c->pb[1] * sizeof(float);
    const uint16_t *m = rp->m;
    if (c->s[1] == 1) {
        for (int64_t ih = 0; ih < c->h; ih++, row += RS, base += (uintptr_t)W * sizeof(float))
            for (int64_t v = 0; v < nch; v++)
                _mm512_store_ps(row + 16 * v, _mm512_maskz_loadu_ps(m[3 * v], (const void *)(base + 64 * (uintptr_t)v)));
        return;
    }
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int64_t ih = 0; ih < c->h; ih++, row += RS, base += (uintptr_t)W * sizeof(float))
        for (int64_t v = 0; v < nch; v++) {
            __m512 lo = _mm512_maskz_loadu_ps(m[3 * v], (const void *)(base + 128 * (uintptr_t)v));
            __m512 hi = _mm512_maskz_loadu_ps(m[3 * v + 1], (const void *)(base + 128 * (uintptr_t)v + 64));
            _mm512_store_ps(row + 16 * v, _mm512_permutex2var_ps(lo, ev, hi));
            _mm512_store_ps(row + PH + 16 * v, _mm512_permutex2var_ps(lo, od, hi));
        }
}

/*
 * R output rows x V vectors: f at the frame row of the tile's first
 * output row's tap row 0, column (or phase column) of its first output;
 * y at that output; `last` the lanes of the last vector that are outputs.
 */
static inline __attribute__((always_inline)) CK_TARGET void
dwr_tile(const float *f, int64_t RS, int64_t PH, const float *w, float bias, float *y, int64_t OW,
         __mmask16 last, int relu, const int S, const int R, const int V)
{
    __m512 acc[12], wv[9];
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++)
        wv[t] = _mm512_set1_ps(w[t]);
#pragma GCC unroll 12
    for (int q = 0; q < R * V; q++)
        acc[q] = _mm512_set1_ps(bias);
    /* input rows rho = m S + i in ascending order: tap i of output row m */
#pragma GCC unroll 32
    for (int rho = 0; rho < (R - 1) * S + 3; rho++)
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++)
#pragma GCC unroll 2
            for (int v = 0; v < V; v++) {
                __m512 xv = _mm512_loadu_ps(f + rho * RS + (j % S) * PH + j / S + 16 * v);
                /* one load for all the rows it feeds (not one per FMA) */
                __asm__("" : "+v"(xv));
#pragma GCC unroll 12
                for (int m = 0; m < R; m++) {
                    int i = rho - m * S;
                    if (i >= 0 && i < 3)
                        acc[m * V + v] = _mm512_fmadd_ps(wv[i * 3 + j], xv, acc[m * V + v]);
                }
            }
    __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int m = 0; m < R; m++)
#pragma GCC unroll 2
        for (int v = 0; v < V; v++) {
            __m512 r = relu ? _mm512_max_ps(zero, acc[m * V + v]) : acc[m * V + v];
            _mm512_mask_storeu_ps(y + m * OW + 16 * v, v == V - 1 ? last : 0xffff, r);
        }
}

#define DWR_SHAPES(X)                                                                                         \
    X(1, 1, 1) X(1, 2, 1) X(1, 3, 1) X(1, 4, 1) X(1, 5, 1) X(1, 6, 1) X(1, 7, 1) X(1, 8, 1) X(1, 9, 1)         \
    X(1, 10, 1) X(1, 11, 1) X(1, 12, 1) X(1, 1, 2) X(1, 2, 2) X(1, 3, 2) X(1, 4, 2) X(1, 5, 2) X(1, 6, 2)      \
    X(2, 1, 1) X(2, 2, 1) X(2, 3, 1) X(2, 4, 1) X(2, 5, 1) X(2, 6, 1) X(2, 7, 1) X(2, 8, 1) X(2, 9, 1)         \
    X(2, 10, 1) X(2, 11, 1) X(2, 12, 1) X(2, 1, 2) X(2, 2, 2) X(2, 3, 2) X(2, 4, 2) X(2, 5, 2) X(2, 6, 2)
#define DWR_FN(S, R, V)                                                                                       \
    static CK_TARGET void dwr_tile_##S##_##R##_##V(const float *f, int64_t RS, int64_t PH, const float *w,     \
                                                   float bias, float *y, int64_t OW, __mmask16 last, int relu) \
    {                                                                                                         \
        dwr_tile(f, RS, PH, w, bias, y, OW, last, relu, S, R, V);                                             \
    }
DWR_SHAPES(DWR_FN)
#undef DWR_FN

typedef void (*dwr_tile_fn)(const float *, int64_t, int64_t, const float *, float, float *, int64_t, __mmask16, int);

/* [stride - 1][vectors - 1][rows - 1] */
static const dwr_tile_fn dwr_tiles[2][2][12] = {
#define DWR_ENTRY(S, R, V) [S - 1][V - 1][R - 1] = dwr_tile_##S##_##R##_##V,
    DWR_SHAPES(DWR_ENTRY)
#undef DWR_ENTRY
};

/* The output rows of a plane, tile by tile. */
static CK_TARGET void dwr_plane(const dwr_job *J, const float *f, const float *w, float bias, float *y)
{
    const ck_conv *c = J->c;
    const dwr_geo *d = J->d;
    int64_t S = c->s[0], OW = c->ow, nv = d->nv;
    __mmask16 lastm = (__mmask16)(OW % 16 ? (1u << (OW % 16)) - 1 : 0xffff);
    for (int64_t v0 = 0; v0 < nv; v0 += 2) {
        int V = nv - v0 >= 2 ? 2 : 1;
        __mmask16 last = v0 + V == nv ? lastm : 0xffff;
        for (int64_t t = 0, oh0 = 0; t < d->tiles[V - 1]; t++) {
            int64_t r = d->rows[V - 1] + (t < d->extra[V - 1]);
            dwr_tiles[S - 1][V - 1][r - 1](f + oh0 * S * d->RS + 16 * v0, d->RS, d->PH, w, bias,
                                          y + oh0 * OW + 16 * v0, OW, last, J->relu);
            oh0 += r;
        }
    }
}

/* Channels of one sample, a chunk of them. */
static CK_TARGET void dwr_task(void *arg, int64_t task, int tid)
{
    const dwr_job *J = arg;
    const ck_conv *c = J->c;
    const dwr_geo *d = J->d;
    int64_t n = task / J->chunks, c0 = task % J->chunks * DWR_CHUNK;
    int64_t c1 = c0 + DWR_CHUNK < c->cin ? c0 + DWR_CHUNK : c->cin, HW = c->h * c->w, P = c->oh * c->ow;
    /* two frames: the next plane goes in while this one is computed, so
     * no load waits on the stores that filled its frame */
    float *f[2] = {J->work + (size_t)tid * J->area, J->work + (size_t)tid * J->area + d->fr};
    memset(f[0], 0, (size_t)(2 * d->fr) * sizeof *f[0]);
    const float *x = J->x + n * c->cin * HW;
    float *y = J->y + n * c->cout * P;
    dwr_fill(J, x + c0 * HW, f[0]);
    for (int64_t ch = c0; ch < c1; ch++) {
        /* the plane after next on its way from L2 or memory (the fill
         * waited on its loads: 29 -> 22 us for 2 samples at 32x32 when
         * the input is not in cache) */
        if (ch + 2 < c1)
            for (int64_t q = 0; q < HW; q += 16)
                _mm_prefetch((const char *)(x + (ch + 2) * HW + q), _MM_HINT_T0);
        if (ch + 1 < c1)
            dwr_fill(J, x + (ch + 1) * HW, f[(ch + 1 - c0) & 1]);
        dwr_plane(J, f[(ch - c0) & 1], J->W + ch * 9, J->bias ? J->bias[ch] : 0.0f, y + ch * P);
        if (J->ctx->post && !J->relu)
            sr_post(J->ctx, y + ch * P, (size_t)P);
    }
}
#endif

int ck_dwr_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx)
{
#ifdef CK_X86
    dwr_geo d;
    dwr_geo_get(c, &d);
    dwr_job J = {.c = c, .d = &d, .x = x, .W = W, .bias = bias, .y = y,
                 .work = (float *)(((uintptr_t)ctx->work + 63) & ~(uintptr_t)63), .area = (size_t)(2 * d.fr), .ctx = ctx,
                 .relu = ctx->post && ctx->post->type->id == SR_L_ReLU,
                 .chunks = (c->cin + DWR_CHUNK - 1) / DWR_CHUNK};
    ck_rowpad_init(&J.rp, c->w, c->pb[1], c->s[1], c->s[1] == 1 ? d.RS : d.PH, 1);
    int64_t tasks = c->n * J.chunks;
    ck_par(ctx, tasks, dwr_task, &J);
    return 0;
#else
    (void)c, (void)W, (void)bias, (void)x, (void)y, (void)ctx;
    return -1;
#endif
}
