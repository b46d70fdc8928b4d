/*
 * conv_dw.c - depthwise convolution (groups = in_channels, any channel
 * multiplier below 4) and every other convolution with fewer than 4 output
 * channels per group, with AVX-512.
 *
 * conv.c's direct kernel needs at least 4 output channels per group; with
 * fewer, a convolution used to go to per-channel im2col and an M = 1 sgemm
 * (1-5 GF/s).  Here:
 *
 *   padding  a group's input planes are copied, padded, into a small buffer
 *            and split into s0 x s1 phases (padded row p, column q go to
 *            phase (p % s0, q % s1), at (p / s0, q / s1)), each Hj x Wj, so
 *            that for any stride a tap of output (oh, ow) is the float at
 *            oh * Wj + ow plus a fixed offset;
 *   vectors  16 consecutive positions q = oh * Wj + ow of that frame: one
 *            unmasked load per tap, whatever the output width, and the
 *            lanes with ow < OW are the outputs (at 4x4 two thirds of them,
 *            not the quarter a vector per output row gives); they are
 *            compressed together and stored;
 *   tiles    CH output channels x NV vectors, 8 accumulators, so that small
 *            planes (a few vectors each) still keep the FMAs busy; the tap
 *            weights broadcast once per channel;
 *   post     the fused activation over each finished run of channels.
 *
 * Every output is its bias plus its taps in (c, i, j) order, padding taps
 * included as zeros, one FMA each (conv_kernels.h).
 */
#include "conv_kernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CK_X86 1
#define CK_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#endif

#define DW_CHUNK 16 /* output channels per task */

int ck_dw_ok(const ck_conv *c)
{
    return c->cout / c->groups < 4;
}

/* The frame, from the geometry alone. */
typedef struct {
    int64_t Hp, Wp, Hj, Wj;
    int64_t PSc;      /* floats per padded input plane: s0 * s1 phases of Hj * Wj */
    int64_t QN, nvec; /* positions oh * Wj + ow (ow < Wj) of the outputs; vectors of 16 */
    int64_t K;        /* taps per output: cin/groups * kh * kw */
    int64_t gpt;      /* groups a task's channels span, at most */
    int CH, NV;       /* tile */
} dw_geo;

static void dw_geo_get(const ck_conv *c, dw_geo *d)
{
    d->Hp = c->h + c->pb[0] + c->pa[0];
    d->Wp = c->w + c->pb[1] + c->pa[1];
    d->Hj = (d->Hp + c->s[0] - 1) / c->s[0];
    d->Wj = (d->Wp + c->s[1] - 1) / c->s[1];
    d->PSc = c->s[0] * c->s[1] * d->Hj * d->Wj;
    d->QN = c->oh * d->Wj;
    d->nvec = (d->QN + 15) / 16;
    d->K = c->cin / c->groups * c->k[0] * c->k[1];
    int64_t og = c->cout / c->groups;
    d->gpt = (DW_CHUNK + og - 1) / og + 1;
    d->NV = d->nvec >= 8 ? 8 : d->nvec >= 4 ? 4 : d->nvec >= 2 ? 2 : 1;
    d->CH = 8 / d->NV;
}

/* Floats after the last plane that a vector's lanes past the last output
 * may load (less than a phase row and a vector), and the vectors of a
 * tile past the last. */
static int64_t dw_slack(const dw_geo *d) { return d->Wj + 32 + 16 * d->NV; }

/* Per thread: the padded planes of the groups a task touches; shared: the
 * tap offsets (K), then per vector its lane mask and output offset. */
static size_t dw_area(const ck_conv *c, const dw_geo *d)
{
    int64_t g = d->gpt < c->groups ? d->gpt : c->groups;
    return (size_t)((g * (c->cin / c->groups) * d->PSc + dw_slack(d) + 15) / 16 * 16);
}

/* Floats of the shared tables: tap offsets (int64), per vector its output
 * offset (int64) and lane mask. */
static size_t dw_shared(const dw_geo *d)
{
    return (size_t)(d->K * 2 + d->nvec * 3 + 48) / 16 * 16;
}

static int dwc_ok(const ck_conv *c);
static size_t dwc_workspace(const ck_conv *c);

static int red_ok(const ck_conv *c);
static size_t red_workspace(const ck_conv *c);

size_t ck_dw_workspace(const ck_conv *c)
{
    if (ck_dwq_ok(c))
        return 0;
    if (ck_dwd_ok(c))
        return ck_dwd_workspace(c);
    if (ck_dwr_ok(c))
        return ck_dwr_workspace(c);
    if (dwc_ok(c))
        return dwc_workspace(c);
    if (red_ok(c))
        return red_workspace(c);
    dw_geo d;
    dw_geo_get(c, &d);
    return dw_shared(&d) + dw_area(c, &d);
}

typedef struct {
    const ck_conv *c;
    const dw_geo *d;
    const float *x, *W, *bias;
    float *y;
    const int64_t *toff;  /* tap offsets from an output's position, in tap order */
    const int64_t *oo;    /* per vector: output offset of its first output */
    const uint16_t *kv;   /* per vector: its lanes that are outputs */
    ck_rowpad rp;
    float *work;
    size_t area;
    sr_ctx *ctx;
    int64_t chunks;       /* tasks per sample */
} dw_job;

#ifdef CK_X86
/* One input plane x [h, w] into the phase-split frame at dst (all PSc floats
 * written): each input row into its s1 phase rows (ck_pad_row). */
static CK_TARGET void dw_pad_plane(const dw_job *J, const float *x, float *dst)
{
    const ck_conv *c = J->c;
    const dw_geo *d = J->d;
    const ck_rowpad *rp = &J->rp;
    int64_t H = c->h, W = c->w, s0 = c->s[0], s1 = c->s[1], Wj = d->Wj, plane = d->Hj * Wj;
    /* phase rows past the padded extent */
    for (int64_t a = 0; a < s0; a++) {
        int64_t p = (d->Hj - 1) * s0 + a;
        if (p >= d->Hp)
            for (int64_t b = 0; b < s1; b++)
                memset(dst + (a * s1 + b) * plane + (d->Hj - 1) * Wj, 0, (size_t)Wj * sizeof *dst);
    }
    for (int64_t p = 0; p < d->Hp; p++) {
        float *row = dst + (p % s0) * s1 * plane + (p / s0) * Wj; /* phase (a, 0); phase b is b planes on */
        int64_t ih = ck_src_index(c->mode, p - c->pb[0], H);
        if (rp->fast) {
            if (ih < 0)
                ck_zero_row(rp, row, plane);
            else
                ck_pad_row(rp, x + ih * W, row, plane);
            continue;
        }
        for (int64_t b = 0; b < s1; b++)
            for (int64_t j = 0; j < Wj; j++) {
                int64_t q = j * s1 + b, iw = q < d->Wp && ih >= 0 ? ck_src_index(c->mode, q - c->pb[1], W) : -1;
                row[b * plane + j] = iw >= 0 ? x[ih * W + iw] : 0.0f;
            }
    }
}

/* A tile: CH output channels (their planes xp[k], weights wp[k], biases)
 * by NV vectors v0 .. v0 + NV - 1 (past nvec: recomputed, not stored). */
static inline __attribute__((always_inline)) CK_TARGET void
dw_tile(const dw_job *J, const float *const *xp, const float *const *wp, const float *bs, float *const *yp,
        int64_t v0, const int CH, const int NV)
{
    const dw_geo *d = J->d;
    int64_t nv = d->nvec, K = d->K;
    const int64_t *toff = J->toff;
    __m512 acc[8];
    const float *xb[8];
#pragma GCC unroll 8
    for (int k = 0; k < CH; k++) {
        xb[k] = xp[k] + v0 * 16;
#pragma GCC unroll 8
        for (int q = 0; q < NV; q++)
            acc[k * NV + q] = _mm512_set1_ps(bs[k]);
    }
    /* vectors past nvec read on into the next plane or the slack */
    for (int64_t t = 0; t < K; t++) {
        int64_t o = toff[t];
#pragma GCC unroll 8
        for (int k = 0; k < CH; k++) {
            __m512 w = _mm512_set1_ps(wp[k][t]);
#pragma GCC unroll 8
            for (int q = 0; q < NV; q++)
                acc[k * NV + q] = _mm512_fmadd_ps(w, _mm512_loadu_ps(xb[k] + o + 16 * q), acc[k * NV + q]);
        }
    }
#pragma GCC unroll 8
    for (int k = 0; k < CH; k++)
#pragma GCC unroll 8
        for (int q = 0; q < NV; q++) {
            if (v0 + q >= nv)
                break;
            __mmask16 m = J->kv[v0 + q];
            __m512 r = _mm512_maskz_compress_ps(m, acc[k * NV + q]);
            _mm512_mask_storeu_ps(yp[k] + J->oo[v0 + q], (__mmask16)((1u << __builtin_popcount(m)) - 1), r);
        }
}

#define DW_SHAPES(X) X(1, 8) X(2, 4) X(4, 2) X(8, 1)
#define DW_FN(CH, NV)                                                                                         \
    static CK_TARGET void dw_tile_##CH##_##NV(const dw_job *J, const float *const *xp, const float *const *wp, \
                                              const float *bs, float *const *yp, int64_t v0)                  \
    {                                                                                                         \
        dw_tile(J, xp, wp, bs, yp, v0, CH, NV);                                                               \
    }
DW_SHAPES(DW_FN)
#undef DW_FN

/* Output channels [o0, o1) of one sample: pad their groups' planes, run
 * the tiles, then the activation. */
static void dw_task(void *arg, int64_t task, int tid)
{
    const dw_job *J = arg;
    const ck_conv *c = J->c;
    const dw_geo *d = J->d;
    int64_t n = task / J->chunks, ck = task % J->chunks, og = c->cout / c->groups, cg = c->cin / c->groups;
    int64_t o0 = ck * DW_CHUNK, o1 = o0 + DW_CHUNK < c->cout ? o0 + DW_CHUNK : c->cout;
    int64_t g0 = o0 / og, g1 = (o1 - 1) / og + 1, P = c->oh * c->ow;
    float *buf = J->work + (size_t)tid * J->area;
    const float *x = J->x + n * c->cin * c->h * c->w;
    for (int64_t ch = g0 * cg; ch < g1 * cg; ch++)
        dw_pad_plane(J, x + ch * c->h * c->w, buf + (ch - g0 * cg) * d->PSc);
    memset(buf + (g1 - g0) * cg * d->PSc, 0, (size_t)dw_slack(d) * sizeof *buf);
    float *y = J->y + n * c->cout * P;
    int CH = d->CH, NV = d->NV;
    for (int64_t o = o0; o < o1; o += CH) {
        const float *xp[8], *wp[8];
        float *yp[8];
        float bs[8];
        for (int k = 0; k < CH; k++) {
            int64_t oc = o + k < o1 ? o + k : o; /* past the chunk: recomputed, stored again */
            xp[k] = buf + (oc / og - g0) * cg * d->PSc;
            wp[k] = J->W + oc * d->K;
            yp[k] = y + oc * P;
            bs[k] = J->bias ? J->bias[oc] : 0.0f;
        }
        for (int64_t v0 = 0; v0 < d->nvec; v0 += NV) {
            if (CH == 1)
                dw_tile_1_8(J, xp, wp, bs, yp, v0);
            else if (CH == 2)
                dw_tile_2_4(J, xp, wp, bs, yp, v0);
            else if (CH == 4)
                dw_tile_4_2(J, xp, wp, bs, yp, v0);
            else
                dw_tile_8_1(J, xp, wp, bs, yp, v0);
        }
    }
    sr_post(J->ctx, y + o0 * P, (size_t)((o1 - o0) * P));
}
#endif

/* ---- depthwise with the channels in the lanes ------------------------------
 * A true depthwise convolution (one input and one output channel per
 * group, zero padding) takes 16 channels per vector instead: their planes
 * are transposed (16 positions at a time) into a zero-bordered frame of
 * [Hp][Wp][16], every output position is then 16 channels at once with the
 * tap weights as vectors, 8 positions in flight, and the result goes back
 * through the same transposes.  No lane is idle however small the plane
 * (4x4, 2x2), where the flattened frame above uses half to two thirds. */

typedef struct {
    int level, mr;        /* -1, -1: never conv.c's dc_pack */
    int kind;             /* CK_DW */
    int64_t C, kk;
    float *w, *b;         /* per chunk of 16 channels: [kk][16], and [16] */
} dwc_pack;

static int dwc_ok(const ck_conv *c)
{
    return c->groups == c->cin && c->cout == c->cin && c->mode == CK_PAD_ZEROS;
}

typedef struct {
    int64_t Hp, Wp, P, Q; /* frame; input and output positions */
    int64_t fr;           /* floats of the frame and its slack */
    int rows, cols;       /* tile: rows x cols output positions */
} dwc_geo;

static void dwc_geo_get(const ck_conv *c, dwc_geo *d)
{
    d->Hp = c->h + c->pb[0] + c->pa[0];
    d->Wp = c->w + c->pb[1] + c->pa[1];
    d->P = c->h * c->w;
    d->Q = c->oh * c->ow;
    d->cols = c->ow >= 8 ? 8 : c->ow >= 4 ? 4 : c->ow >= 2 ? 2 : 1;
    d->rows = 8 / d->cols;
    /* positions a tile's columns past a row's end may read */
    d->fr = (d->Hp * d->Wp + 8 * c->s[1] + 8) * 16;
}

static size_t dwc_workspace(const ck_conv *c)
{
    dwc_geo d;
    dwc_geo_get(c, &d);
    return (size_t)(c->k[0] * c->k[1] * 2 + 16) + (size_t)(d.fr + d.Q * 16 + 64);
}

typedef struct {
    const ck_conv *c;
    const dwc_geo *d;
    const dwc_pack *pk;
    const float *x;
    float *y;
    const int64_t *toff;  /* tap offsets in the frame, in floats */
    float *work;
    size_t area;
    sr_ctx *ctx;
    int64_t chunks;
} dwc_job;

#ifdef CK_X86
/* rows x cols output positions (frame offsets fb[r] of their first, output
 * positions qb[r]; a column past the row's end or a row past the last is
 * computed from the frame's zeros or a repeated row, and not stored). */
static inline __attribute__((always_inline)) CK_TARGET void
dwc_tile(const float *X, const int64_t *fb, float *Y, const int64_t *qb, const int *ok, int ncol,
         const float *wv, const float *bv, const int64_t *toff, int64_t kk, int64_t cstep, const int ROWS,
         const int COLS)
{
    __m512 acc[8];
    __m512 b = _mm512_load_ps(bv);
#pragma GCC unroll 8
    for (int q = 0; q < ROWS * COLS; q++)
        acc[q] = b;
    for (int64_t t = 0; t < kk; t++) {
        __m512 w = _mm512_load_ps(wv + 16 * t);
        int64_t o = toff[t];
#pragma GCC unroll 8
        for (int r = 0; r < ROWS; r++)
#pragma GCC unroll 8
            for (int k = 0; k < COLS; k++)
                acc[r * COLS + k] = _mm512_fmadd_ps(w, _mm512_load_ps(X + fb[r] + o + k * cstep), acc[r * COLS + k]);
    }
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; r++)
#pragma GCC unroll 8
        for (int k = 0; k < COLS; k++)
            if (ok[r] && k < ncol)
                _mm512_store_ps(Y + (qb[r] + k) * 16, acc[r * COLS + k]);
}

/* the column step a compile-time constant for strides 1 and 2 */
#define DWC_SHAPES(X) X(1, 8) X(2, 4) X(4, 2) X(8, 1)
#define DWC_FN(ROWS, COLS)                                                                                    \
    static CK_TARGET void dwc_tile_##ROWS##_##COLS(const float *X, const int64_t *fb, float *Y,              \
                                                   const int64_t *qb, const int *ok, int ncol, const float *wv, \
                                                   const float *bv, const int64_t *toff, int64_t kk,          \
                                                   int64_t cstep)                                             \
    {                                                                                                         \
        if (cstep == 16)                                                                                      \
            dwc_tile(X, fb, Y, qb, ok, ncol, wv, bv, toff, kk, 16, ROWS, COLS);                              \
        else if (cstep == 32)                                                                                 \
            dwc_tile(X, fb, Y, qb, ok, ncol, wv, bv, toff, kk, 32, ROWS, COLS);                              \
        else                                                                                                  \
            dwc_tile(X, fb, Y, qb, ok, ncol, wv, bv, toff, kk, cstep, ROWS, COLS);                           \
    }
DWC_SHAPES(DWC_FN)
#undef DWC_FN

static CK_TARGET void dwc_task(void *arg, int64_t task, int tid)
{
    const dwc_job *J = arg;
    const ck_conv *c = J->c;
    const dwc_geo *d = J->d;
    int64_t n = task / J->chunks, ch = task % J->chunks, c0 = ch * 16;
    int nc = c->cin - c0 < 16 ? (int)(c->cin - c0) : 16;
    float *X = J->work + (size_t)tid * J->area, *Y = X + d->fr;
    const float *x = J->x + (n * c->cin + c0) * d->P;
    float *y = J->y + (n * c->cout + c0) * d->Q;
    int64_t W = c->w, Wp = d->Wp, pt = c->pb[0], pl = c->pb[1];
    __m512 zero = _mm512_setzero_ps();
    /* the frame's border and slack: zeros */
    int64_t end = (pt + c->h) * Wp;
    for (int64_t p = 0; p < pt * Wp; p++)
        _mm512_store_ps(X + p * 16, zero);
    for (int64_t p = end; p < d->fr / 16; p++)
        _mm512_store_ps(X + p * 16, zero);
    for (int64_t r = pt; r < pt + c->h; r++) {
        for (int64_t q = 0; q < pl; q++)
            _mm512_store_ps(X + (r * Wp + q) * 16, zero);
        for (int64_t q = pl + W; q < Wp; q++)
            _mm512_store_ps(X + (r * Wp + q) * 16, zero);
    }
    /* the planes in, 16 positions at a time */
    int64_t ih = 0, iw = 0;
    for (int64_t p0 = 0; p0 < d->P; p0 += 16) {
        int64_t m = d->P - p0 < 16 ? d->P - p0 : 16;
        __mmask16 km = (__mmask16)((1u << m) - 1);
        __m512 v[16];
        /* channels past the last: mask 0, nothing read; 16 planes at once
         * are more streams than the hardware prefetcher follows (2 samples
         * not in cache: 60 -> 37 us at 16x16 stride 2) */
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            _mm_prefetch((const char *)(x + i * d->P + p0 + 32), _MM_HINT_T0);
            v[i] = _mm512_maskz_loadu_ps(i < nc ? km : 0, (const void *)((uintptr_t)x + (uintptr_t)(i * d->P + p0) * 4));
        }
        ck_tr16(v);
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++) {
            if (k >= m)
                break;
            _mm512_store_ps(X + ((ih + pt) * Wp + iw + pl) * 16, v[k]);
            if (++iw == W) {
                iw = 0;
                ih++;
            }
        }
    }
    /* the output positions, tile by tile */
    const float *wv = J->pk->w + ch * 16 * (c->k[0] * c->k[1]), *bv = J->pk->b + ch * 16;
    int rows = d->rows, cols = d->cols;
    int64_t kk = c->k[0] * c->k[1], cstep = c->s[1] * 16;
    for (int64_t oh0 = 0; oh0 < c->oh; oh0 += rows)
        for (int64_t ow0 = 0; ow0 < c->ow; ow0 += cols) {
            int64_t fb[8], qb[8];
            int ok[8];
            for (int r = 0; r < rows; r++) {
                int64_t oh = oh0 + r < c->oh ? oh0 + r : oh0;
                ok[r] = oh0 + r < c->oh;
                fb[r] = (oh * c->s[0] * Wp + ow0 * c->s[1]) * 16;
                qb[r] = oh * c->ow + ow0;
            }
            int ncol = c->ow - ow0 < cols ? (int)(c->ow - ow0) : cols;
            if (cols == 8)
                dwc_tile_1_8(X, fb, Y, qb, ok, ncol, wv, bv, J->toff, kk, cstep);
            else if (cols == 4)
                dwc_tile_2_4(X, fb, Y, qb, ok, ncol, wv, bv, J->toff, kk, cstep);
            else if (cols == 2)
                dwc_tile_4_2(X, fb, Y, qb, ok, ncol, wv, bv, J->toff, kk, cstep);
            else
                dwc_tile_8_1(X, fb, Y, qb, ok, ncol, wv, bv, J->toff, kk, cstep);
        }
    sr_post(J->ctx, Y, (size_t)(d->Q * 16));
    /* and out */
    for (int64_t q0 = 0; q0 < d->Q; q0 += 16) {
        int64_t m = d->Q - q0 < 16 ? d->Q - q0 : 16;
        __mmask16 km = (__mmask16)((1u << m) - 1);
        __m512 v[16];
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++)
            v[k] = _mm512_maskz_load_ps(k < m ? 0xffff : 0, (const void *)((uintptr_t)Y + (uintptr_t)(q0 + k) * 64));
        ck_tr16(v);
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            if (i < nc)
                _mm512_mask_storeu_ps(y + i * d->Q + q0, km, v[i]);
    }
}
#endif

/* The weights with 16 channels in the lanes: the cache's when they match,
 * else built (and kept: ck_keep); NULL when out of memory. */
static dwc_pack *dwc_packed(const ck_conv *c, const float *W, const float *bias, sr_ctx *ctx, void **own)
{
    int64_t kk = c->k[0] * c->k[1], chunks = (c->cin + 15) / 16;
    dwc_pack *pk = ctx->cache ? *ctx->cache : NULL;
    if (pk && pk->level == -1 && pk->kind == CK_DW && pk->C == c->cin && pk->kk == kk)
        return pk;
    pk = malloc(sizeof(dwc_pack) + 64 + (size_t)(chunks * 16 * (kk + 1)) * sizeof(float));
    if (!pk)
        return NULL;
    pk->level = pk->mr = -1;
    pk->kind = CK_DW;
    pk->C = c->cin;
    pk->kk = kk;
    pk->w = (float *)(((uintptr_t)(pk + 1) + 63) & ~(uintptr_t)63);
    pk->b = pk->w + chunks * 16 * kk;
    for (int64_t ch = 0; ch < chunks * 16; ch++) {
        int ok = ch < c->cin;
        for (int64_t t = 0; t < kk; t++)
            pk->w[(ch / 16 * kk + t) * 16 + ch % 16] = ok ? W[ch * kk + t] : 0.0f;
        pk->b[ch] = ok && bias ? bias[ch] : 0.0f;
    }
    ck_keep(ctx, pk, own);
    return pk;
}

const float *ck_dw_lanes(const ck_conv *c, const float *W, const float *bias, sr_ctx *ctx, void **own,
                         const float **b)
{
    const dwc_pack *pk = dwc_packed(c, W, bias, ctx, own);
    if (!pk)
        return NULL;
    *b = pk->b;
    return pk->w;
}

static int dwc_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx)
{
#ifdef CK_X86
    dwc_geo d;
    dwc_geo_get(c, &d);
    int64_t kk = c->k[0] * c->k[1], chunks = (c->cin + 15) / 16;
    void *own = NULL;
    const dwc_pack *pk = dwc_packed(c, W, bias, ctx, &own);
    if (!pk)
        return -1;
    int64_t *toff = (int64_t *)ctx->work, t = 0;
    for (int64_t i = 0; i < c->k[0]; i++)
        for (int64_t j = 0; j < c->k[1]; j++)
            toff[t++] = (i * c->dil[0] * d.Wp + j * c->dil[1]) * 16;
    size_t shared = (size_t)(kk * 2 + 16);
    dwc_job J = {.c = c, .d = &d, .pk = pk, .x = x, .y = y, .toff = toff,
                 .work = (float *)(((uintptr_t)(ctx->work + shared) + 63) & ~(uintptr_t)63),
                 .area = (size_t)(d.fr + d.Q * 16 + 48) / 16 * 16, .ctx = ctx, .chunks = chunks};
    int64_t tasks = c->n * chunks;
    ck_par(ctx, tasks, dwc_task, &J);
    free(own);
    return 0;
#else
    (void)c, (void)W, (void)bias, (void)x, (void)y, (void)ctx;
    return -1;
#endif
}

/* ---- few outputs, long sums: vectorised over the taps -----------------------
 * A group with few output channels and few output positions (a DCGAN
 * discriminator's last 512 -> 1 at 1x1) leaves every vector over output
 * positions nearly empty; here each output is a dot product over its K taps,
 * 16 taps per vector (one load where they are consecutive in the padded
 * frame, else a gather), four vectors of partial sums in flight.  Lane l of
 * partial sum a holds the taps t = 64 m + 16 a + l in order; the four are
 * added (0 + 1) + (2 + 3), the lanes in _mm512_reduce_add_ps's fixed order,
 * then the bias: not the taps' order, but the same order for every output
 * whatever the batch or the threads. */

static int red_ok(const ck_conv *c)
{
    int64_t K = c->cin / c->groups * c->k[0] * c->k[1];
    return c->cout / c->groups < 4 && c->oh * c->ow <= 4 && K >= 64 && !dwc_ok(c);
}

int ck_dw_exact(const ck_conv *c) { return !red_ok(c); }

typedef struct {
    const ck_conv *c;
    const dw_geo *d;
    const float *x, *W, *bias;
    float *y;
    const int32_t *toff;   /* tap offsets in the frame */
    const uint8_t *contig; /* per 16 taps: consecutive floats */
    int direct;            /* the input is the frame (no padding, stride 1) */
    float *work;
    size_t area;
    sr_ctx *ctx;
    ck_rowpad rp;
} red_job;

static size_t red_workspace(const ck_conv *c)
{
    dw_geo d;
    dw_geo_get(c, &d);
    return (size_t)((c->cin / c->groups) * d.PSc + 64);
}

#ifdef CK_X86
static CK_TARGET void red_task(void *arg, int64_t task, int tid)
{
    const red_job *J = arg;
    const ck_conv *c = J->c;
    const dw_geo *d = J->d;
    int64_t n = task / c->groups, g = task % c->groups, og = c->cout / c->groups, cg = c->cin / c->groups;
    int64_t K = d->K, P = c->oh * c->ow;
    const float *x = J->x + (n * c->cin + g * cg) * c->h * c->w, *fr = x;
    if (!J->direct) {
        float *buf = J->work + (size_t)tid * J->area;
        for (int64_t ch = 0; ch < cg; ch++) {
            const dw_job dj = {.c = c, .d = d, .rp = J->rp};
            dw_pad_plane(&dj, x + ch * c->h * c->w, buf + ch * d->PSc);
        }
        fr = buf;
    }
    float *y = J->y + (n * c->cout + g * og) * P;
    for (int64_t o = 0; o < og; o++) {
        const float *w = J->W + (g * og + o) * K;
        for (int64_t oh = 0; oh < c->oh; oh++)
            for (int64_t ow = 0; ow < c->ow; ow++) {
                const float *b = fr + oh * d->Wj + ow;
                __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
                int64_t t = 0;
                for (; t < K; t += 16) {
                    __mmask16 m = (__mmask16)(K - t >= 16 ? 0xffff : (1u << (K - t)) - 1);
                    __m512 xv;
                    if (J->contig[t / 16])
                        xv = _mm512_maskz_loadu_ps(m, b + J->toff[t]);
                    else
                        xv = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m,
                                                      _mm512_maskz_loadu_epi32(m, J->toff + t), b, 4);
                    acc[(t / 16) % 4] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + t), xv, acc[(t / 16) % 4]);
                }
                float r = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]),
                                                             _mm512_add_ps(acc[2], acc[3])));
                y[o * P + oh * c->ow + ow] = r + (J->bias ? J->bias[g * og + o] : 0.0f);
            }
    }
    sr_post(J->ctx, y, (size_t)(og * P));
}
#endif

/* The tap tables, kept in the layer's cache slot (computed once). */
typedef struct {
    int level, mr;  /* -1, -1: never conv.c's dc_pack */
    int kind;       /* CK_DW + 16 */
    int64_t K, PSc, Wj, Hj;
    int32_t *toff;
    uint8_t *contig;
} red_tabs;

/* The tap tables: the cache's when they match, else built (and kept:
 * ck_keep); NULL when out of memory. */
static red_tabs *red_tables(const ck_conv *c, const dw_geo *d, sr_ctx *ctx, void **own)
{
    int64_t kk = c->k[0] * c->k[1];
    red_tabs *tb = ctx->cache ? *ctx->cache : NULL;
    if (tb && tb->level == -1 && tb->kind == CK_DW + 16 && tb->K == d->K && tb->PSc == d->PSc && tb->Wj == d->Wj &&
        tb->Hj == d->Hj)
        return tb;
    tb = malloc(sizeof *tb + (size_t)d->K * 4 + (size_t)d->K / 16 + 64);
    if (!tb)
        return NULL;
    *tb = (red_tabs){.level = -1, .mr = -1, .kind = CK_DW + 16, .K = d->K, .PSc = d->PSc, .Wj = d->Wj, .Hj = d->Hj};
    tb->toff = (int32_t *)(tb + 1);
    tb->contig = (uint8_t *)(tb->toff + d->K);
    int64_t plane = d->Hj * d->Wj;
    for (int64_t i = 0; i < c->k[0]; i++)
        for (int64_t j = 0; j < c->k[1]; j++) {
            int64_t p = i * c->dil[0], q = j * c->dil[1];
            tb->toff[i * c->k[1] + j] = (int32_t)(((p % c->s[0]) * c->s[1] + q % c->s[1]) * plane +
                                                  (p / c->s[0]) * d->Wj + q / c->s[1]);
        }
    for (int64_t t = kk; t < d->K; t++)
        tb->toff[t] = tb->toff[t - kk] + (int32_t)d->PSc;
    for (int64_t v = 0; v * 16 < d->K; v++) {
        int ok = 1;
        for (int64_t l = 1; l < 16 && v * 16 + l < d->K; l++)
            ok &= tb->toff[v * 16 + l] == tb->toff[v * 16] + l;
        tb->contig[v] = (uint8_t)ok;
    }
    ck_keep(ctx, tb, own);
    return tb;
}

static int red_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx)
{
#ifdef CK_X86
    dw_geo d;
    dw_geo_get(c, &d);
    int64_t cg = c->cin / c->groups;
    void *own = NULL;
    const red_tabs *tb = red_tables(c, &d, ctx, &own);
    if (!tb)
        return -1;
    const int32_t *toff = tb->toff;
    const uint8_t *contig = tb->contig;
    red_job J = {.c = c, .d = &d, .x = x, .W = W, .bias = bias, .y = y, .toff = toff, .contig = contig, .ctx = ctx,
                 .direct = !c->pb[0] && !c->pa[0] && !c->pb[1] && !c->pa[1] && c->s[0] == 1 && c->s[1] == 1,
                 .work = (float *)(((uintptr_t)ctx->work + 63) & ~(uintptr_t)63),
                 .area = (size_t)(cg * d.PSc + 16) / 16 * 16};
    ck_rowpad_init(&J.rp, c->w, c->pb[1], c->s[1], d.Wj, c->mode == CK_PAD_ZEROS);
    int64_t tasks = c->n * c->groups;
    ck_par(ctx, tasks, red_task, &J);
    free(own);
    return 0;
#else
    (void)c, (void)W, (void)bias, (void)x, (void)y, (void)ctx;
    return -1;
#endif
}

int ck_dw_prepare(const ck_conv *c, const float *W, const float *bias, sr_ctx *ctx)
{
    if (ctx->cache && ck_dwq_ok(c)) /* the weights 16 channels to a vector, as dwc's */
        return dwc_packed(c, W, bias, ctx, NULL) ? 0 : -1;
    if (!ctx->cache || ck_dwd_ok(c) || ck_dwr_ok(c)) /* by rows: nothing kept */
        return 0;
    if (dwc_ok(c))
        return dwc_packed(c, W, bias, ctx, NULL) ? 0 : -1;
    if (red_ok(c)) {
        dw_geo d;
        dw_geo_get(c, &d);
        return red_tables(c, &d, ctx, NULL) ? 0 : -1;
    }
    return 0; /* few channels per group: nothing kept */
}

int ck_dw_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx)
{
    if (ck_dwq_ok(c))
        return ck_dwq_forward(c, W, bias, x, y, ctx);
    if (ck_dwd_ok(c))
        return ck_dwd_forward(c, W, bias, x, y, ctx);
    if (ck_dwr_ok(c))
        return ck_dwr_forward(c, W, bias, x, y, ctx);
    if (dwc_ok(c))
        return dwc_forward(c, W, bias, x, y, ctx);
    if (red_ok(c))
        return red_forward(c, W, bias, x, y, ctx);
#ifdef CK_X86
    dw_geo d;
    dw_geo_get(c, &d);
    /* shared tables: tap offsets, then per vector its output offset and mask */
    int64_t *toff = (int64_t *)ctx->work, *oo = toff + d.K;
    uint16_t *kv = (uint16_t *)(oo + d.nvec);
    int64_t kk = c->k[0] * c->k[1], plane = d.Hj * d.Wj;
    for (int64_t i = 0; i < c->k[0]; i++)
        for (int64_t j = 0; j < c->k[1]; j++) {
            int64_t p = i * c->dil[0], q = j * c->dil[1];
            toff[i * c->k[1] + j] = ((p % c->s[0]) * c->s[1] + q % c->s[1]) * plane + (p / c->s[0]) * d.Wj + q / c->s[1];
        }
    for (int64_t t = kk; t < d.K; t++) /* the next channel: a plane on */
        toff[t] = toff[t - kk] + d.PSc;
    for (int64_t v = 0; v < d.nvec; v++) {
        int64_t q0 = v * 16, r = q0 / d.Wj, col = q0 % d.Wj;
        oo[v] = r * c->ow + (col < c->ow ? col : c->ow);
        unsigned m = 0;
        for (int l = 0; l < 16; l++) {
            int64_t q = q0 + l;
            if (q < d.QN && q % d.Wj < c->ow)
                m |= 1u << l;
        }
        kv[v] = (uint16_t)m;
    }
    size_t shared = dw_shared(&d);
    dw_job J = {.c = c, .d = &d, .x = x, .W = W, .bias = bias, .y = y, .toff = toff, .oo = oo, .kv = kv,
                .work = ctx->work + shared, .area = dw_area(c, &d), .ctx = ctx,
                .chunks = (c->cout + DW_CHUNK - 1) / DW_CHUNK};
    ck_rowpad_init(&J.rp, c->w, c->pb[1], c->s[1], d.Wj, c->mode == CK_PAD_ZEROS);
    int64_t tasks = c->n * J.chunks;
    ck_par(ctx, tasks, dw_task, &J);
    return 0;
#else
    (void)c, (void)W, (void)bias, (void)x, (void)y, (void)ctx;
    return -1;
#endif
}
