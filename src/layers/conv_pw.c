/*
 * conv_pw.c - 1x1 convolution (stride 1, no padding, one group) as a GEMM
 * over each sample's pixels, with AVX-512: CK_PW.
 *
 * Y[o][p] = b[o] + sum over c of W[o][c] X[c][p]: the pixels of a channel
 * are consecutive in NCHW, so a vector holds 16 pixels and the input is
 * read where it lies (conv.c's direct kernel copies every sample into its
 * padded layout first, and at 32x32 a 1x1 with 32 input channels spends as
 * long on that copy as on a third of its multiply-adds).
 *
 *   weights  packed once per layer, per block of MR output channels as
 *            [K][MR] (then the block's MR biases), rows past cout zero;
 *   tile     MR output channels x NV vectors of pixels, 24 accumulators;
 *            per input channel NV vector loads and MR broadcasts;
 *   blocking the input channels in blocks whose NV x 16 pixel panel stays
 *            in L1 while every output block runs over it; between blocks
 *            the running sums wait in the output, unchanged;
 *   output   dense NCHW, the fused ReLU in registers (another activation on
 *            each finished block of the output); for a consumer's padded
 *            layout (ctx->out_layout) a pixel block's outputs go through a
 *            scratch block, then to their places.
 *
 * Every output is its bias plus its input channels in order, one FMA each
 * (conv_kernels.h).
 */
#include "conv_kernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CK_X86 1
#define CK_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#endif

#define PW_MR 6     /* output channels per tile */
#define PW_NV 4     /* vectors of pixels per tile */
#define PW_KB 64    /* input channels per block: a 64 x 64 pixel panel, 16 KiB */

int ck_pw_ok(const ck_conv *c)
{
    /* with fewer than 4 vectors of pixels per sample CK_OC keeps its lanes
     * fuller */
    return c->k[0] == 1 && c->k[1] == 1 && c->s[0] == 1 && c->s[1] == 1 && !c->pb[0] && !c->pa[0] && !c->pb[1] &&
           !c->pa[1] && c->groups == 1 && c->oh * c->ow >= 64 && c->cout >= 16;
}

/* per thread: a pixel block's outputs, for a consumer's layout */
size_t ck_pw_workspace(const ck_conv *c) { return (size_t)(c->cout * 16 * PW_NV + 16); }

typedef struct {
    int level, mr;   /* -1, -1: never conv.c's dc_pack */
    int kind;        /* CK_PW */
    int64_t cout, K; /* what it was packed for */
    int64_t nob;     /* blocks of PW_MR output channels */
    float *w;        /* per block: [K][MR], then MR biases */
} pw_pack;

typedef struct {
    const ck_conv *c;
    const pw_pack *pk;
    const float *x;
    float *y;
    sr_ctx *ctx;
    const sr_layout *lay; /* the consumer's layout, or NULL: dense */
    int relu;
    int64_t P, nblk;  /* pixels per sample; pixel blocks per sample */
} pw_job;

#ifdef CK_X86
/*
 * One tile: MR output channels (packed weights wp, [K][MR]) by NV vectors of
 * pixels from x (channel stride P) into y (channel stride ys), input
 * channels [k0, k1).  first:
 * start from the biases bp, else from the running sums in y; done: apply
 * ReLU if asked.  rows: output channels to store; the last vector's lanes
 * `last`.
 */
static inline __attribute__((always_inline)) CK_TARGET void
pw_tile(const float *x, float *y, int64_t P, int64_t ys, const float *wp, const float *bp, int64_t k0, int64_t k1,
        int first, int done, int relu, int rows, __mmask16 last, const int NV)
{
    __m512 acc[PW_MR][PW_NV];
#pragma GCC unroll 6
    for (int m = 0; m < PW_MR; m++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            __mmask16 k = v == NV - 1 ? last : 0xffff;
            acc[m][v] = first ? _mm512_set1_ps(bp[m])
                              : _mm512_maskz_loadu_ps(m < rows ? k : 0, y + m * ys + 16 * v);
        }
    const float *xk = x + k0 * P;
    const float *w = wp + k0 * PW_MR;
    for (int64_t k = k0; k < k1; k++, xk += P, w += PW_MR) {
        __m512 xv[PW_NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            xv[v] = _mm512_maskz_loadu_ps(v == NV - 1 ? last : 0xffff, xk + 16 * v);
#pragma GCC unroll 6
        for (int m = 0; m < PW_MR; m++) {
            __m512 wv = _mm512_set1_ps(w[m]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                acc[m][v] = _mm512_fmadd_ps(wv, xv[v], acc[m][v]);
        }
    }
    __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 6
    for (int m = 0; m < PW_MR; m++) {
        if (m >= rows)
            break;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            __m512 r = done && relu ? _mm512_max_ps(zero, acc[m][v]) : acc[m][v];
            _mm512_mask_storeu_ps(y + m * ys + 16 * v, v == NV - 1 ? last : 0xffff, r);
        }
    }
}

#define PW_FN(NV)                                                                                             \
    static CK_TARGET void pw_tile_##NV(const float *x, float *y, int64_t P, int64_t ys, const float *wp,      \
                                       const float *bp, int64_t k0, int64_t k1, int first, int done, int relu, \
                                       int rows, __mmask16 last)                                             \
    {                                                                                                         \
        pw_tile(x, y, P, ys, wp, bp, k0, k1, first, done, relu, rows, last, NV);                              \
    }
PW_FN(1)
PW_FN(2)
PW_FN(3)
PW_FN(4)
#undef PW_FN

typedef void (*pw_tile_fn)(const float *, float *, int64_t, int64_t, const float *, const float *, int64_t,
                           int64_t, int, int, int, int, __mmask16);
static const pw_tile_fn pw_tiles[PW_NV] = {pw_tile_1, pw_tile_2, pw_tile_3, pw_tile_4};

/* A pixel block's outputs (s: [cout][16 PW_NV]) into the consumer's
 * layout: output pixel (oh, ow) of channel o at o * chan + (oh + top) * row
 * + its column's phase and place. */
static void pw_to_layout(const pw_job *J, int64_t n, int64_t p0, int64_t np, const float *s)
{
    const sr_layout *lay = J->lay;
    int64_t OW = J->c->ow, oh = p0 / OW, ow = p0 % OW, off[16 * PW_NV];
    for (int64_t q = 0; q < np; q++) {
        int64_t w = ow + lay->left;
        off[q] = (oh + lay->top) * lay->row + (w % lay->phases) * lay->phase + w / lay->phases;
        if (++ow == OW) {
            ow = 0;
            oh++;
        }
    }
    float *y = J->y + n * lay->sample;
    for (int64_t o = 0; o < J->c->cout; o++)
        for (int64_t q = 0; q < np; q++)
            y[o * lay->chan + off[q]] = s[o * 16 * PW_NV + q];
}

/* One block of PW_NV x 16 pixels of one sample: every output channel. */
static void pw_task(void *arg, int64_t task, int tid)
{
    const pw_job *J = arg;
    const ck_conv *c = J->c;
    const pw_pack *pk = J->pk;
    int64_t n = task / J->nblk, p0 = task % J->nblk * (16 * PW_NV), P = J->P, K = pk->K;
    int64_t np = P - p0 < 16 * PW_NV ? P - p0 : 16 * PW_NV, nv = (np + 15) / 16;
    __mmask16 last = (__mmask16)(np % 16 ? (1u << (np % 16)) - 1 : 0xffff);
    const float *x = J->x + n * K * P + p0;
    /* dense: the output itself; a layout: the thread's scratch block */
    int64_t ys = J->lay ? 16 * PW_NV : P;
    float *y = J->lay ? J->ctx->work + (size_t)tid * ck_pw_workspace(c) : J->y + n * c->cout * P + p0;
    pw_tile_fn fn = pw_tiles[nv - 1];
    size_t blk = (size_t)(K * PW_MR + PW_MR);
    for (int64_t k0 = 0; k0 < K; k0 += PW_KB) {
        int64_t k1 = k0 + PW_KB < K ? k0 + PW_KB : K;
        for (int64_t b = 0; b < pk->nob; b++) {
            const float *wp = pk->w + (size_t)b * blk;
            int64_t o0 = b * PW_MR, rows = c->cout - o0 < PW_MR ? c->cout - o0 : PW_MR;
            fn(x, y + o0 * ys, P, ys, wp, wp + K * PW_MR, k0, k1, k0 == 0, k1 == K, J->relu, (int)rows, last);
        }
    }
    if (J->ctx->post && !J->relu)
        for (int64_t o = 0; o < c->cout; o++)
            sr_post(J->ctx, y + o * ys, (size_t)np);
    if (J->lay)
        pw_to_layout(J, n, p0, np, y);
}
#endif

/* The packed weights: the cache's when they match, else built (and kept:
 * ck_keep); NULL when out of memory. */
static pw_pack *pw_packed(const ck_conv *c, const float *W, const float *bias, sr_ctx *ctx, void **own)
{
    int64_t K = c->cin, nob = (c->cout + PW_MR - 1) / PW_MR;
    pw_pack *pk = ctx->cache ? *ctx->cache : NULL;
    if (pk && pk->level == -1 && pk->kind == CK_PW && pk->cout == c->cout && pk->K == K)
        return pk;
    size_t blk = (size_t)(K * PW_MR + PW_MR);
    pk = ck_alloc(sizeof *pk + 64 + (size_t)nob * blk * sizeof(float));
    if (!pk)
        return NULL;
    *pk = (pw_pack){.level = -1, .mr = -1, .kind = CK_PW, .cout = c->cout, .K = K, .nob = nob};
    pk->w = (float *)(((uintptr_t)(pk + 1) + 63) & ~(uintptr_t)63);
    for (int64_t b = 0; b < nob; b++) {
        float *wb = pk->w + (size_t)b * blk;
        for (int64_t m = 0; m < PW_MR; m++) {
            int64_t o = b * PW_MR + m;
            for (int64_t k = 0; k < K; k++)
                wb[k * PW_MR + m] = o < c->cout ? W[o * K + k] : 0.0f;
            wb[K * PW_MR + m] = o < c->cout && bias ? bias[o] : 0.0f;
        }
    }
    ck_keep(ctx, pk, own);
    return pk;
}

int ck_pw_prepare(const ck_conv *c, const float *W, const float *bias, sr_ctx *ctx)
{
    return ctx->cache && !pw_packed(c, W, bias, ctx, NULL) ? -1 : 0;
}

int ck_pw_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx)
{
#ifdef CK_X86
    void *own = NULL;
    const pw_pack *pk = pw_packed(c, W, bias, ctx, &own);
    if (!pk)
        return -1;
    int64_t P = c->oh * c->ow;
    pw_job J = {.c = c, .pk = pk, .x = x, .y = y, .ctx = ctx, .lay = ctx->out_layout, .P = P,
                .nblk = (P + 16 * PW_NV - 1) / (16 * PW_NV), .relu = ctx->post && ctx->post->type->id == SR_L_ReLU};
    int64_t tasks = c->n * J.nblk;
    ck_par(ctx, tasks, pw_task, &J);
    free(own);
    return 0;
#else
    (void)c, (void)W, (void)bias, (void)x, (void)y, (void)ctx;
    return -1;
#endif
}
