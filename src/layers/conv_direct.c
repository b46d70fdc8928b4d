/*
 * conv_direct.c - Conv1d and Conv2d's direct kernel (AVX-512 / AVX2), and
 * the padded input layout it lets the layer before write (conv.c chooses
 * between this kernel, conv_kernels.h's and the im2col path).
 */
#include "conv_direct.h"
#include "conv_kernels.h"
#include "../cpu.h"
#include "../par.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define DC_X86 1
#endif

/* ---- direct convolution (AVX-512 / AVX2) ---------------------------------- */

/*
 * The fast path.  Every sample is first copied into the workspace padded
 * (in any padding mode) and, for a horizontal stride s > 1, split into s
 * column phases, so that a segment of VL consecutive outputs of one output
 * row reads VL consecutive floats for every kernel tap (c, i, j).  Samples
 * go in blocks, so that small images still fill whole tiles.  A tile is MR
 * output channels by NV segments, accumulated in registers over all taps:
 * the accumulators start at the bias, each tap is NV loads, MR broadcasts
 * of the packed weights and MR*NV FMAs; then one (masked) store, with ReLU
 * applied in registers when that is the fused activation, and any other
 * fused activation applied per sample while the output is in cache.
 *
 * Every output is its bias plus its taps in (c, i, j) order, one FMA each,
 * whatever the tile, block, batch size or vector width, so results do not
 * depend on --batch-size, on the thread count, or on which of the AVX-512
 * and AVX2 kernels runs.  Without either (or for depthwise-like groups with
 * few output channels each) conv_im2col.c's im2col + sgemm path runs instead.
 */

typedef struct {
    int64_t in;     /* the segment's tap-0 input, from its block's padded input */
    int64_t out;    /* its first output for output channel 0, from the chunk's output
                       (in a two-phase out_layout: the first of phase 0's) */
    int64_t out1;   /* two-phase out_layout: the first of phase 1's */
    int64_t lanes;  /* outputs it covers: 1..VL */
} dc_seg;

typedef struct {
    int64_t Hp, Wp;   /* padded extent */
    int64_t Wj;       /* columns per phase: ceil(Wp / sw) */
    int64_t RS, PS;   /* row stride (sw * Wj) and plane stride (Hp * RS) */
    int64_t SS;       /* one sample's padded input: cin * PS */
    int64_t K;        /* taps per group: cin/groups * kh * kw */
    int64_t nb;       /* samples per block */
    int64_t segs;     /* segments per block at VL = 8 (the most) */
    size_t taps_f;    /* floats for the tap offsets (int64) */
    size_t area;      /* floats per thread: padded block, slack, segments */
} dc_geo;

#define DC_SLACK 16 /* floats after a block: an unmasked load's overrun */
#ifndef DC_SPAN
#define DC_SPAN 4   /* tiles of segments per pass over the output-channel blocks */
#endif

/* 2: AVX-512, 1: AVX2 + FMA, 0: im2col + sgemm */
int dc_level(const conv_geo *g)
{
#ifdef DC_X86
    /* one or two output channels per group leave the tiles mostly empty */
    if (g->cout / g->groups < 4)
        return 0;
    return sr_cpu_level();
#else
    (void)g;
    return 0;
#endif
}

/* Output channels per tile (the rest of the register file holds segments). */
static int dc_mr(int level, int64_t og)
{
    static const int c512[] = {8, 6, 4}, c256[] = {4, 6};
    const int *c = level == 2 ? c512 : c256;
    int nc = level == 2 ? 3 : 2, best = c[0];
    for (int i = 1; i < nc; i++)
        if ((og + c[i] - 1) / c[i] * c[i] < (og + best - 1) / best * best)
            best = c[i];
    return best;
}

static int dc_nv(int level, int mr)
{
    if (level == 2)
        return mr == 8 ? 3 : mr == 6 ? 4 : 6;
    return mr == 4 ? 3 : 2;
}

static void dc_geo_get(const conv_geo *g, const conv_dims *di, const conv_dims *dout, dc_geo *d)
{
    d->Hp = di->h + g->pb[0] + g->pa[0];
    d->Wp = di->w + g->pb[1] + g->pa[1];
    d->Wj = (d->Wp + g->s[1] - 1) / g->s[1];
    d->RS = g->s[1] * d->Wj;
    d->PS = d->Hp * d->RS;
    d->SS = g->cin * d->PS;
    d->K = g->cin / g->groups * g->k[0] * g->k[1];
    int64_t per16 = dout->h * ((dout->w + 15) / 16), per8 = dout->h * ((dout->w + 7) / 8);
    /* enough samples for a few dozen segments, within ~128 KiB of input */
    int64_t nb = per16 > 0 ? (48 + per16 - 1) / per16 : 1;
    if (nb > 1 && nb * d->SS > 32768)
        nb = 32768 / (d->SS ? d->SS : 1);
    if (nb > di->n)
        nb = di->n;
    d->nb = nb > 0 ? nb : 1;
    d->segs = d->nb * per8;
    d->taps_f = (size_t)d->K * 2;
    d->area = (size_t)(d->nb * d->SS + DC_SLACK) + (size_t)d->segs * (sizeof(dc_seg) / sizeof(float)) + 16 +
              (size_t)(g->s[1] > 1 ? d->Wp : 0);
}

/* One padded row of n = W + pb + pa floats from input row src. */
static void pad_row(const float *src, int64_t W, int64_t pb, int64_t pa, int mode, float *row)
{
    for (int64_t pw = 0; pw < pb; pw++)
        row[pw] = mode == CF_PAD_ZEROS ? 0.0f : src[cf_pad_src(mode, pw - pb, W)];
    memcpy(row + pb, src, (size_t)W * sizeof *row);
    for (int64_t pw = pb + W; pw < pb + W + pa; pw++)
        row[pw] = mode == CF_PAD_ZEROS ? 0.0f : src[cf_pad_src(mode, pw - pb, W)];
}

/* Splits a padded row into s column phases of Wj floats each. */
static SR_VEC_VOID(split_phases, (const float *row, int64_t Wp, int64_t s, int64_t Wj, float *dst), (row, Wp, s, Wj, dst))
{
    for (int64_t ph = 0; ph < s; ph++) {
        float *d = dst + ph * Wj;
        int64_t n = (Wp - ph + s - 1) / s; /* columns of this phase inside the row */
        for (int64_t j = 0; j < n; j++)
            d[j] = row[j * s + ph];
        for (int64_t j = n; j < Wj; j++)
            d[j] = 0.0f;
    }
}

#ifdef DC_X86
/* Lanes l of a 16-lane load at padded column i whose source column
 * i + l - pb lies in [0, W). */
static inline __mmask16 lanes_in(int64_t i, int64_t pb, int64_t W)
{
    int64_t lo = pb - i, hi = pb + W - i;
    lo = lo < 0 ? 0 : lo;
    hi = hi > 16 ? 16 : hi;
    if (hi <= lo)
        return 0;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* Zero padding (and for stride 2 the split into 2 phases) of a whole
 * sample in one step, with AVX-512: padded column p of a row is src[p - pb]
 * inside the row, zero outside (and past Wp); for stride 2, phase q's
 * column j is padded column 2j + q.  Padding rows (ih outside [0, H)) are
 * zero.  The lane masks are the same for every row, so they are worked out
 * once.  Rows too wide for the mask table return 0 (the caller pads them). */
__attribute__((target("avx512f"))) static int pad_512(const float *x, const conv_geo *g, const conv_dims *di,
                                                       const dc_geo *d, float *dst)
{
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    int64_t H = di->h, W = di->w, pb = g->pb[1], Wj = d->Wj, sw = g->s[1];
    int64_t wv = W < d->Wp - pb ? W : d->Wp - pb; /* source columns inside the padded row */
    enum { MAXV = 64 };
    __mmask16 ka[MAXV], kb[MAXV], ko[MAXV];
    int64_t nv = (Wj + 15) / 16;
    if (nv > MAXV)
        return 0;
    for (int64_t v = 0; v < nv; v++) {
        int64_t j = 16 * v;
        ka[v] = lanes_in(sw * j, pb, wv);
        kb[v] = lanes_in(sw * j + 16, pb, wv);
        ko[v] = (__mmask16)(Wj - j >= 16 ? 0xffff : (1u << (Wj - j)) - 1);
    }
    for (int64_t c = 0; c < g->cin; c++)
        for (int64_t ph = 0; ph < d->Hp; ph++) {
            float *row = dst + c * d->PS + ph * d->RS;
            int64_t ih = ph - g->pb[0];
            if (ih < 0 || ih >= H) {
                memset(row, 0, (size_t)d->RS * sizeof *row);
                continue;
            }
            /* padded column sw*16v + l is src[sw*16v + l - pb]: masked-off
             * lanes are not read, so the address may lie before src */
            uintptr_t base = (uintptr_t)(x + (c * H + ih) * W) - (uintptr_t)pb * sizeof(float);
            if (sw == 1) {
                for (int64_t v = 0; v < nv; v++)
                    _mm512_mask_storeu_ps(row + 16 * v, ko[v],
                                          _mm512_maskz_loadu_ps(ka[v], (const void *)(base + (uintptr_t)(64 * v))));
                continue;
            }
            for (int64_t v = 0; v < nv; v++) {
                __m512 a = _mm512_maskz_loadu_ps(ka[v], (const void *)(base + (uintptr_t)(128 * v)));
                __m512 b = _mm512_maskz_loadu_ps(kb[v], (const void *)(base + (uintptr_t)(128 * v + 64)));
                _mm512_mask_storeu_ps(row + 16 * v, ko[v], _mm512_permutex2var_ps(a, ev, b));
                _mm512_mask_storeu_ps(row + Wj + 16 * v, ko[v], _mm512_permutex2var_ps(a, od, b));
            }
        }
    return 1;
}
#endif

/* One sample into the padded, phase-split layout; tmp holds one padded row. */
static void dc_pad(const float *x, const conv_geo *g, const conv_dims *di, const dc_geo *d, float *dst, float *tmp)
{
    int64_t H = di->h, W = di->w, sw = g->s[1];
#ifdef DC_X86
    if (sw <= 2 && g->mode == CF_PAD_ZEROS && sr_cpu_level() == SR_CPU_AVX512 && pad_512(x, g, di, d, dst))
        return;
#endif
    for (int64_t c = 0; c < g->cin; c++) {
        const float *xc = x + c * H * W;
        for (int64_t ph = 0; ph < d->Hp; ph++) {
            float *row = dst + c * d->PS + ph * d->RS;
            int64_t ih = ph - g->pb[0];
            if ((ih < 0 || ih >= H) && g->mode == CF_PAD_ZEROS) {
                memset(row, 0, (size_t)d->RS * sizeof *row);
                continue;
            }
            const float *src = xc + cf_pad_src(g->mode, ih, H) * W;
            if (sw == 1) {
                pad_row(src, W, g->pb[1], g->pa[1], g->mode, row);
            } else {
                pad_row(src, W, g->pb[1], g->pa[1], g->mode, tmp);
                split_phases(tmp, d->Wp, sw, d->Wj, row);
            }
        }
    }
}

/* A sample the layer before wrote straight into the padded layout (see
 * sr_conv_in_layout): zeros where dc_pad would put them, that is every
 * float outside the input's rows and columns. */
static void dc_pad_borders(const conv_geo *g, const conv_dims *di, const dc_geo *d, float *xp)
{
    int64_t s = g->s[1], top = g->pb[0], left = g->pb[1];
    /* per phase q (column j is padded column j*s + q): the input's columns
     * are j in [lo[q], hi[q]); a few floats at either end are padding */
    int64_t lo[2], hi[2];
    for (int64_t q = 0; q < s; q++) {
        lo[q] = left > q ? (left - q + s - 1) / s : 0;
        hi[q] = left + di->w > q ? (left + di->w - q + s - 1) / s : 0;
        hi[q] = hi[q] < d->Wj ? hi[q] : d->Wj;
    }
    for (int64_t c = 0; c < g->cin; c++) {
        float *plane = xp + c * d->PS;
        memset(plane, 0, (size_t)(top * d->RS) * sizeof *plane);
        int64_t end = top + di->h;
        memset(plane + end * d->RS, 0, (size_t)((d->Hp - end) * d->RS) * sizeof *plane);
        for (int64_t ph = top; ph < end; ph++)
            for (int64_t q = 0; q < s; q++) {
                float *p = plane + ph * d->RS + q * d->Wj;
                for (int64_t j = 0; j < lo[q]; j++)
                    p[j] = 0.0f;
                for (int64_t j = hi[q]; j < d->Wj; j++)
                    p[j] = 0.0f;
            }
    }
}

/* Tap offsets, in the weights' (c, i, j) order, into the padded layout. */
static void dc_taps(const conv_geo *g, const dc_geo *d, int64_t *taps)
{
    int64_t cg = g->cin / g->groups, t = 0;
    for (int64_t c = 0; c < cg; c++)
        for (int64_t i = 0; i < g->k[0]; i++)
            for (int64_t j = 0; j < g->k[1]; j++) {
                int64_t q = j * g->dil[1];
                taps[t++] = c * d->PS + i * g->dil[0] * d->RS + (q % g->s[1]) * d->Wj + q / g->s[1];
            }
}

/* Packed weights: per group and block of MR output channels, [K][MR], then
 * the biases [MR]; channels past the group's end are zero. */
typedef struct {
    int level, mr;
    int64_t nob;        /* blocks per group */
    size_t wfloats;     /* K * MR per block */
    float *w, *b;
} dc_pack;

static size_t dc_pack_size(const conv_geo *g, int64_t K, int mr)
{
    int64_t og = g->cout / g->groups, nob = (og + mr - 1) / mr;
    return sizeof(dc_pack) + 64 + (size_t)(g->groups * nob) * (size_t)(K * mr + mr) * sizeof(float);
}

/* noinline: inlined into dc_forward, its loop ran short of registers */
__attribute__((noinline)) static void dc_pack_fill(dc_pack *pk, const conv_geo *g, int64_t K, int level, int mr,
                                                   const float *W, const float *bias)
{
    int64_t og = g->cout / g->groups, nob = (og + mr - 1) / mr;
    pk->level = level;
    pk->mr = mr;
    pk->nob = nob;
    pk->wfloats = (size_t)(K * mr);
    uintptr_t p = ((uintptr_t)(pk + 1) + 63) & ~(uintptr_t)63;
    pk->w = (float *)p;
    pk->b = pk->w + (size_t)(g->groups * nob) * pk->wfloats;
    for (int64_t gi = 0; gi < g->groups; gi++)
        for (int64_t ob = 0; ob < nob; ob++) {
            float *wb = pk->w + (size_t)(gi * nob + ob) * pk->wfloats;
            float *bb = pk->b + (gi * nob + ob) * mr;
            for (int m = 0; m < mr; m++) {
                int64_t o = ob * mr + m, oc = gi * og + o;
                int ok = o < og;
                for (int64_t t = 0; t < K; t++)
                    wb[t * mr + m] = ok ? W[oc * K + t] : 0.0f;
                bb[m] = ok && bias ? bias[oc] : 0.0f;
            }
        }
}

typedef struct {
    const float *x;
    float *y;
    const conv_geo *g;
    const conv_dims *di, *dout;
    const dc_geo *d;
    const dc_pack *pk;
    const int64_t *taps;
    float *work;            /* per-thread areas */
    const sr_ctx *ctx;
    int relu;               /* the fused activation is ReLU: applied in registers */
    int vl, nv;
    int64_t cstride;        /* floats from one output channel to the next */
    const sr_layout *lay;   /* the output's layout (ctx->out_layout), or NULL: dense */
    int split;              /* two-phase layout: 1 + the parity of lay->left; else 0 */
    int laid_out;           /* the input is already in this layer's padded layout */
} dc_job;

#ifdef DC_X86
/* One tile, AVX-512: MR channels (mrv of them stored) by NV segments. */
static inline __attribute__((always_inline, target("avx512f"))) void
dc_tile16(const float *xp, const dc_seg *sg, const int64_t *taps, int64_t K, const float *wp,
          const float *bp, float *y, int64_t P, int mrv, int relu, int split, const int MR, const int NV)
{
    __m512 acc[8][6];
    const float *src[6];
#pragma GCC unroll 8
    for (int m = 0; m < MR; m++) {
        __m512 b = _mm512_set1_ps(bp[m]);
#pragma GCC unroll 6
        for (int v = 0; v < NV; v++)
            acc[m][v] = b;
    }
#pragma GCC unroll 6
    for (int v = 0; v < NV; v++)
        src[v] = xp + sg[v].in;
    for (int64_t t = 0; t < K; t++) {
        int64_t o = taps[t];
        const float *w = wp + t * MR;
        __m512 xv[6];
#pragma GCC unroll 6
        for (int v = 0; v < NV; v++)
            xv[v] = _mm512_loadu_ps(src[v] + o);
#pragma GCC unroll 8
        for (int m = 0; m < MR; m++) {
            __m512 wb = _mm512_set1_ps(w[m]);
#pragma GCC unroll 6
            for (int v = 0; v < NV; v++)
                acc[m][v] = _mm512_fmadd_ps(wb, xv[v], acc[m][v]);
        }
    }
    __m512 zero = _mm512_setzero_ps();
    if (split) {
        /* into the next convolution's two column phases: split - 1 is the
         * parity of the segment's first output there; its lanes of that
         * parity go to phase 0, the others to phase 1, 8 each at most */
        int a = split - 1;
        const __m512i perm = a ? _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12, 14)
                               : _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
#pragma GCC unroll 6
        for (int v = 0; v < NV; v++) {
            int64_t lanes = sg[v].lanes;
            __mmask16 k0 = (__mmask16)((1u << ((lanes - a + 1) / 2)) - 1);
            __mmask16 k1 = (__mmask16)(((1u << ((lanes + a) / 2)) - 1) << 8);
            float *d0 = y + sg[v].out, *d1 = y + sg[v].out1;
#pragma GCC unroll 8
            for (int m = 0; m < MR; m++) {
                if (m >= mrv)
                    break;
                __m512 r = relu ? _mm512_max_ps(zero, acc[m][v]) : acc[m][v];
                r = _mm512_permutexvar_ps(perm, r);
                if (lanes == 16) { /* two 256-bit stores: twice the rate of 512-bit ones */
                    _mm256_storeu_ps(d0 + m * P, _mm512_castps512_ps256(r));
                    _mm256_storeu_ps(d1 + m * P,
                                     _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(r), 1)));
                } else { /* lanes 8.. of the second store land at out1 */
                    _mm512_mask_storeu_ps(d0 + m * P, k0, r);
                    _mm512_mask_storeu_ps(d1 - 8 + m * P, k1, r);
                }
            }
        }
        return;
    }
#pragma GCC unroll 6
    for (int v = 0; v < NV; v++) {
        __mmask16 k = (__mmask16)((1u << sg[v].lanes) - 1);
        float *dst = y + sg[v].out;
#pragma GCC unroll 8
        for (int m = 0; m < MR; m++) {
            if (m >= mrv)
                break;
            /* max(0, x) keeps NaN and -0.0, as x < 0 ? 0 : x does */
            __m512 r = relu ? _mm512_max_ps(zero, acc[m][v]) : acc[m][v];
            if (sg[v].lanes == 16)
                _mm512_storeu_ps(dst + m * P, r);
            else
                _mm512_mask_storeu_ps(dst + m * P, k, r);
        }
    }
}

__attribute__((target("avx512f"))) static void dc_tiles16(const dc_job *J, const float *xp, const dc_seg *sg,
                                                           int64_t nseg, const float *wp, const float *bp, float *y,
                                                           int mrv)
{
    int64_t K = J->d->K, P = J->cstride;
    const int64_t *taps = J->taps;
    int relu = J->relu, mr = J->pk->mr, nv = J->nv, split = J->split;
    for (int64_t s = 0; s < nseg; s += nv) {
        int n = nseg - s < nv ? (int)(nseg - s) : nv;
#define T16(MR, NV) dc_tile16(xp, sg + s, taps, K, wp, bp, y, P, mrv, relu, split, MR, NV)
        if (mr == 8) {
            if (n == 3) T16(8, 3); else if (n == 2) T16(8, 2); else T16(8, 1);
        } else if (mr == 6) {
            if (n == 4) T16(6, 4); else if (n == 3) T16(6, 3); else if (n == 2) T16(6, 2); else T16(6, 1);
        } else {
            switch (n) {
            case 6: T16(4, 6); break;
            case 5: T16(4, 5); break;
            case 4: T16(4, 4); break;
            case 3: T16(4, 3); break;
            case 2: T16(4, 2); break;
            default: T16(4, 1); break;
            }
        }
#undef T16
    }
}

/* The same with AVX2: 8 lanes, MR x NV within 16 registers. */
static inline __attribute__((always_inline, target("avx2,fma"))) void
dc_tile8(const float *xp, const dc_seg *sg, const int64_t *taps, int64_t K, const float *wp,
         const float *bp, float *y, int64_t P, int mrv, int relu, const int MR, const int NV)
{
    __m256 acc[6][3];
    const float *src[3];
#pragma GCC unroll 6
    for (int m = 0; m < MR; m++) {
        __m256 b = _mm256_set1_ps(bp[m]);
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++)
            acc[m][v] = b;
    }
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++)
        src[v] = xp + sg[v].in;
    for (int64_t t = 0; t < K; t++) {
        int64_t o = taps[t];
        const float *w = wp + t * MR;
        __m256 xv[3];
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++)
            xv[v] = _mm256_loadu_ps(src[v] + o);
#pragma GCC unroll 6
        for (int m = 0; m < MR; m++) {
            __m256 wb = _mm256_broadcast_ss(w + m);
#pragma GCC unroll 3
            for (int v = 0; v < NV; v++)
                acc[m][v] = _mm256_fmadd_ps(wb, xv[v], acc[m][v]);
        }
    }
    __m256 zero = _mm256_setzero_ps();
    __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++) {
        __m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)sg[v].lanes), iota);
        float *dst = y + sg[v].out;
#pragma GCC unroll 6
        for (int m = 0; m < MR; m++) {
            if (m >= mrv)
                break;
            __m256 r = relu ? _mm256_max_ps(zero, acc[m][v]) : acc[m][v];
            if (sg[v].lanes == 8)
                _mm256_storeu_ps(dst + m * P, r);
            else
                _mm256_maskstore_ps(dst + m * P, k, r);
        }
    }
}

__attribute__((target("avx2,fma"))) static void dc_tiles8(const dc_job *J, const float *xp, const dc_seg *sg,
                                                           int64_t nseg, const float *wp, const float *bp, float *y,
                                                           int mrv)
{
    int64_t K = J->d->K, P = J->cstride;
    const int64_t *taps = J->taps;
    int relu = J->relu, mr = J->pk->mr, nv = J->nv;
    for (int64_t s = 0; s < nseg; s += nv) {
        int n = nseg - s < nv ? (int)(nseg - s) : nv;
        if (mr == 4) {
            if (n == 3)
                dc_tile8(xp, sg + s, taps, K, wp, bp, y, P, mrv, relu, 4, 3);
            else if (n == 2)
                dc_tile8(xp, sg + s, taps, K, wp, bp, y, P, mrv, relu, 4, 2);
            else
                dc_tile8(xp, sg + s, taps, K, wp, bp, y, P, mrv, relu, 4, 1);
        } else {
            if (n == 2)
                dc_tile8(xp, sg + s, taps, K, wp, bp, y, P, mrv, relu, 6, 2);
            else
                dc_tile8(xp, sg + s, taps, K, wp, bp, y, P, mrv, relu, 6, 1);
        }
    }
}
#endif

/* One block of samples: pad them (unless the layer before wrote them so:
 * then only their padding is filled), list their segments, run every
 * tile. */
static void dc_block(void *arg, int64_t blk, int tid)
{
    const dc_job *J = arg;
    const conv_geo *g = J->g;
    const dc_geo *d = J->d;
    int64_t N = J->di->n, OH = J->dout->h, OW = J->dout->w, P = OH * OW;
    int64_t n0 = blk * d->nb, n1 = n0 + d->nb < N ? n0 + d->nb : N;
    float *area = J->work + (size_t)tid * d->area, *xp = area;
    dc_seg *sg = (dc_seg *)(((uintptr_t)(area + d->nb * d->SS + DC_SLACK) + 15) & ~(uintptr_t)15);
    float *tmp = (float *)(sg + d->segs);
    int64_t in_sample = J->di->c * J->di->h * J->di->w, vl = J->vl;
    if (J->laid_out) {
        xp = (float *)J->x + n0 * d->SS;
        for (int64_t n = n0; n < n1; n++)
            dc_pad_borders(g, J->di, d, xp + (n - n0) * d->SS);
    } else {
        for (int64_t n = n0; n < n1; n++)
            dc_pad(J->x + n * in_sample, g, J->di, d, xp + (n - n0) * d->SS, tmp);
        memset(xp + (n1 - n0) * d->SS, 0, DC_SLACK * sizeof *xp);
    }
    const sr_layout *lay = J->lay;
    int64_t ns = 0;
    for (int64_t n = n0; n < n1; n++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow += vl) {
                sg[ns].in = (n - n0) * d->SS + oh * g->s[0] * d->RS + ow;
                if (!lay) {
                    sg[ns].out = n * g->cout * P + oh * OW + ow;
                } else {
                    /* (n, oh, ow) in the next layer's layout; ow is even */
                    int64_t row = n * lay->sample + (oh + lay->top) * lay->row, a = lay->left & 1;
                    if (lay->phases == 1) {
                        sg[ns].out = row + lay->left + ow;
                    } else {
                        sg[ns].out = row + (lay->left + ow + a) / 2;
                        sg[ns].out1 = row + lay->phase + (lay->left + ow - a) / 2;
                    }
                }
                sg[ns].lanes = OW - ow < vl ? OW - ow : vl;
                ns++;
            }
    const dc_pack *pk = J->pk;
    int64_t og = g->cout / g->groups, cg = g->cin / g->groups;
    /* a few tiles' segments at a time through every block of output
     * channels, so their input stays in L1 while the weights cycle */
    int64_t span = (int64_t)J->nv * DC_SPAN;
    for (int64_t gi = 0; gi < g->groups; gi++)
        for (int64_t s0 = 0; s0 < ns; s0 += span)
            for (int64_t ob = 0; ob < pk->nob; ob++) {
                const float *wp = pk->w + (size_t)(gi * pk->nob + ob) * pk->wfloats;
                const float *bp = pk->b + (gi * pk->nob + ob) * pk->mr;
                int64_t o0 = gi * og + ob * pk->mr;
                int mrv = og - ob * pk->mr < pk->mr ? (int)(og - ob * pk->mr) : pk->mr;
                const float *xg = xp + gi * cg * d->PS;
                float *yo = J->y + o0 * J->cstride;
                int64_t cnt = ns - s0 < span ? ns - s0 : span;
#ifdef DC_X86
                if (pk->level == 2)
                    dc_tiles16(J, xg, sg + s0, cnt, wp, bp, yo, mrv);
                else
                    dc_tiles8(J, xg, sg + s0, cnt, wp, bp, yo, mrv);
#else
                (void)xg, (void)yo, (void)wp, (void)bp, (void)mrv, (void)cnt;
#endif
            }
    if (J->ctx->post && !J->relu)
        for (int64_t n = n0; n < n1; n++)
            sr_post(J->ctx, J->y + n * g->cout * P, (size_t)(g->cout * P));
}

size_t dc_workspace(const conv_geo *g, const conv_dims *di, const conv_dims *dout)
{
    dc_geo d;
    dc_geo_get(g, di, dout, &d);
    return d.taps_f + d.area;
}

/* The weights packed for level: the cache's when they match, else built
 * (and kept: ck_keep); NULL when out of memory. */
static dc_pack *dc_packed(const conv_geo *g, int64_t K, int level, const float *W, const float *bias, sr_ctx *ctx,
                          void **own)
{
    int mr = dc_mr(level, g->cout / g->groups);
    dc_pack *pk = ctx->cache ? *ctx->cache : NULL;
    if (pk && pk->level == level && pk->mr == mr)
        return pk;
    pk = malloc(dc_pack_size(g, K, mr));
    if (!pk)
        return NULL;
    dc_pack_fill(pk, g, K, level, mr, W, bias);
    ck_keep(ctx, pk, own);
    return pk;
}

int dc_prepare(const conv_geo *g, int level, const float *W, const float *bias, sr_ctx *ctx)
{
    return dc_packed(g, g->cin / g->groups * g->k[0] * g->k[1], level, W, bias, ctx, NULL) ? 0 : -1;
}

sr_status dc_forward(const sr_layer *L, const conv_geo *g, const conv_dims *di, const conv_dims *dout, int level,
                     const sr_tensor *in, sr_tensor *out, sr_ctx *ctx, char *err)
{
    dc_geo d;
    dc_geo_get(g, di, dout, &d);
    const float *W = ctx->weight ? ctx->weight : sr_f32(&L->param[0]);
    const float *bias = ctx->weight ? ctx->bias : g->bias ? sr_f32(&L->param[1]) : NULL;
    void *own = NULL;
    const dc_pack *pk = dc_packed(g, d.K, level, W, bias, ctx, &own);
    if (!pk)
        return sr_err(err, SR_ERUN, "out of memory packing the convolution's weights");
    int threads = ctx->threads > 1 ? ctx->threads : 1;
    int64_t blocks = (di->n + d.nb - 1) / d.nb;
    if (threads > blocks)
        threads = (int)blocks;
    int64_t *taps = (int64_t *)ctx->work;
    dc_taps(g, &d, taps);
    /* out_layout_ok promised a layout only at this level */
    const sr_layout *lay = level == 2 ? ctx->out_layout : NULL;
    dc_job J = {.x = sr_f32(in), .y = sr_f32(out), .g = g, .di = di, .dout = dout, .d = &d, .pk = pk,
                .taps = taps, .work = ctx->work + d.taps_f, .ctx = ctx,
                .relu = ctx->post && ctx->post->type->id == SR_L_ReLU,
                .vl = level == 2 ? 16 : 8, .nv = dc_nv(level, pk->mr),
                .cstride = lay ? lay->chan : dout->h * dout->w, .lay = lay,
                .split = lay && lay->phases == 2 ? 1 + (int)(lay->left & 1) : 0, .laid_out = ctx->in_laid_out};
    if (J.laid_out) /* what the last sample's overrunning loads may read */
        memset((float *)J.x + di->n * d.SS, 0, DC_SLACK * sizeof(float));
    sr_par_for(threads, blocks, dc_block, &J);
    free(own);
    return SR_OK;
}

/* ---- layouts: a convolution after a convolution ------------------------------
 * The fast path copies each sample into a padded (and for stride 2, column
 * phase-split) layout first.  When the layer before is itself a fast-path
 * convolution, inside a micro-batch, it can write its output straight into
 * that layout and the copy goes: about 8% of W3's second convolution. */

SR_IN_LAYOUT_FN(sr_conv_in_layout)
{
    conv_geo g;
    conv_geo_get(L, &g);
    if (in->ndim != g.nd + 2 || g.mode != CF_PAD_ZEROS || !dc_level(&g))
        return 0;
    conv_dims di;
    conv_dims_get(&g, in, &di);
    dc_geo d;
    dc_geo_get(&g, &di, &di, &d); /* the layout does not depend on the output */
    *lay = (sr_layout){.sample = d.SS, .chan = d.PS, .row = d.RS, .phase = d.Wj, .top = g.pb[0],
                       .left = g.pb[1], .slack = DC_SLACK, .phases = (int)g.s[1]};
    return g.s[1] <= 2;
}

/* It writes a layout with AVX-512 (the two-phase split is a lane
 * permutation), with ReLU or nothing fused (applied in registers; another
 * activation would be applied to the dense output afterwards). */
SR_OUT_LAYOUT_OK_FN(sr_conv_out_layout_ok)
{
    conv_geo g;
    conv_geo_get(L, &g);
    return in->ndim == g.nd + 2 && dc_level(&g) == 2 && (!post || post->type->id == SR_L_ReLU);
}
