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
#include "../par.h"

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
 * offset (int64) and lane mask, per chunk of a phase row 3 padding masks. */
static size_t dw_shared(const dw_geo *d)
{
    return (size_t)(d->K * 2 + d->nvec * 3 + (d->Wj + 15) / 16 * 2 + 48) / 16 * 16;
}

size_t ck_dw_workspace(const ck_conv *c)
{
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
    const uint16_t *pm;   /* padding, per chunk of a phase row: load masks (lo, hi), store mask */
    float *work;
    size_t area;
    sr_ctx *ctx;
    int64_t chunks;       /* tasks per sample */
} dw_job;

/* Source index for padded position i of an axis of size n, or -1: zero. */
static int64_t src_index(int mode, int64_t i, int64_t n)
{
    if (i >= 0 && i < n)
        return i;
    switch (mode) {
    case CK_PAD_REFLECT: return i < 0 ? -i : 2 * (n - 1) - i;
    case CK_PAD_REPLICATE: return i < 0 ? 0 : n - 1;
    case CK_PAD_CIRCULAR: return i < 0 ? i + n : i - n;
    default: return -1;
    }
}

#ifdef CK_X86
/* Lanes l whose input column col + l * s (s = 1) lies in [0, W). */
static inline __mmask16 cols_in(int64_t col, int64_t W)
{
    int64_t lo = -col, hi = W - col;
    lo = lo < 0 ? 0 : lo;
    hi = hi > 16 ? 16 : hi;
    if (hi <= lo)
        return 0;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* One input plane x [h, w] into the phase-split frame at dst (all PSc floats
 * written).  Zero padding with stride 1 or 2 across: per input row, each
 * chunk of 16 (stride 2: 32) columns is one or two masked loads whose
 * masks (the same for every row, in J->pm) zero what falls outside the
 * input, split into the phases by two lane permutations. */
static CK_TARGET void dw_pad_plane(const dw_job *J, const float *x, float *dst)
{
    const ck_conv *c = J->c;
    const dw_geo *d = J->d;
    int64_t H = c->h, W = c->w, s0 = c->s[0], s1 = c->s[1], Wj = d->Wj, plane = d->Hj * Wj;
    /* phase rows past the padded extent, and padding rows */
    for (int64_t a = 0; a < s0; a++) {
        int64_t p = (d->Hj - 1) * s0 + a;
        if (p >= d->Hp)
            for (int64_t b = 0; b < s1; b++)
                memset(dst + (a * s1 + b) * plane + (d->Hj - 1) * Wj, 0, (size_t)Wj * sizeof *dst);
    }
    int fast = c->mode == CK_PAD_ZEROS && s1 <= 2;
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    int64_t nch = (Wj + 15) / 16;
    for (int64_t p = 0; p < d->Hp; p++) {
        int64_t a = p % s0, r = p / s0;
        float *row = dst + a * s1 * plane + r * Wj; /* phase (a, 0); phase b is b * plane further */
        int64_t ih = src_index(c->mode, p - c->pb[0], H);
        if (ih < 0) {
            for (int64_t b = 0; b < s1; b++)
                memset(row + b * plane, 0, (size_t)Wj * sizeof *row);
            continue;
        }
        const float *src = x + ih * W;
        if (fast) {
            /* chunk v: input columns col0 + l (s1 = 1), col0 .. col0 + 31 (2) */
            uintptr_t base = (uintptr_t)src - (uintptr_t)c->pb[1] * sizeof(float);
            for (int64_t v = 0; v < nch; v++) {
                const uint16_t *m = J->pm + 3 * v;
                if (s1 == 1) {
                    _mm512_mask_storeu_ps(row + 16 * v, m[2],
                                          _mm512_maskz_loadu_ps(m[0], (const void *)(base + (uintptr_t)(64 * v))));
                } else {
                    __m512 lo = _mm512_maskz_loadu_ps(m[0], (const void *)(base + (uintptr_t)(128 * v)));
                    __m512 hi = _mm512_maskz_loadu_ps(m[1], (const void *)(base + (uintptr_t)(128 * v + 64)));
                    _mm512_mask_storeu_ps(row + 16 * v, m[2], _mm512_permutex2var_ps(lo, ev, hi));
                    _mm512_mask_storeu_ps(row + plane + 16 * v, m[2], _mm512_permutex2var_ps(lo, od, hi));
                }
            }
            continue;
        }
        for (int64_t b = 0; b < s1; b++)
            for (int64_t j = 0; j < Wj; j++) {
                int64_t q = j * s1 + b, iw = q < d->Wp ? src_index(c->mode, q - c->pb[1], W) : -1;
                row[b * plane + j] = iw >= 0 ? src[iw] : 0.0f;
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

int ck_dw_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx)
{
#ifdef CK_X86
    dw_geo d;
    dw_geo_get(c, &d);
    /* shared tables: tap offsets, then per vector its output offset and mask */
    int64_t *toff = (int64_t *)ctx->work, *oo = toff + d.K;
    uint16_t *kv = (uint16_t *)(oo + d.nvec);
    int64_t cg = c->cin / c->groups, t = 0, plane = d.Hj * d.Wj;
    for (int64_t ch = 0; ch < cg; ch++)
        for (int64_t i = 0; i < c->k[0]; i++)
            for (int64_t j = 0; j < c->k[1]; j++) {
                int64_t p = i * c->dil[0], q = j * c->dil[1];
                toff[t++] = ch * d.PSc + ((p % c->s[0]) * c->s[1] + q % c->s[1]) * plane + (p / c->s[0]) * d.Wj +
                            q / c->s[1];
            }
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
    /* padding masks: chunk v of a phase row holds padded columns
     * (16 v + l) * s1 + b, input columns (16 v + l) * s1 + b - pb */
    uint16_t *pm = kv + d.nvec;
    for (int64_t v = 0; v < (d.Wj + 15) / 16; v++) {
        int64_t col0 = 16 * v * c->s[1] - c->pb[1];
        pm[3 * v] = cols_in(col0, c->w);
        pm[3 * v + 1] = cols_in(col0 + 16, c->w);
        pm[3 * v + 2] = (uint16_t)(d.Wj - 16 * v >= 16 ? 0xffff : (1u << (d.Wj - 16 * v)) - 1);
    }
    size_t shared = dw_shared(&d);
    dw_job J = {.c = c, .d = &d, .x = x, .W = W, .bias = bias, .y = y, .toff = toff, .oo = oo, .kv = kv, .pm = pm,
                .work = ctx->work + shared, .area = dw_area(c, &d), .ctx = ctx,
                .chunks = (c->cout + DW_CHUNK - 1) / DW_CHUNK};
    int64_t tasks = c->n * J.chunks;
    int threads = ctx->threads > 1 ? ctx->threads : 1;
    sr_par_for(threads < tasks ? threads : (int)tasks, tasks, dw_task, &J);
    return 0;
#else
    (void)c, (void)W, (void)bias, (void)x, (void)y, (void)ctx;
    return -1;
#endif
}
