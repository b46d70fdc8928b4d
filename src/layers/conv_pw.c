/*
 * conv_pw.c - 1x1 convolution (stride 1, no padding, one group) as a GEMM
 * over the samples' pixels, with AVX-512: CK_PW.
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
 *            per input channel NV vector loads and MR broadcasts; the
 *            vectors are a sample's, or, when its pixels fill whole
 *            vectors (4x4: one), consecutive ones of several samples (at
 *            W8's 256 -> 512 on 4x4, two samples to a call: 12 channels x
 *            2 vectors; the per-sample tiles CK_OC ran there reached 191
 *            GF/s, these 211); the last block of a 4-vector task, when
 *            cout is not a multiple of MR, in a tile of its own rows only
 *            (W8's 32 -> 64 at 32x32 did 66 channels' work for 64);
 *   blocking the input channels in blocks whose NV x 16 pixel panel stays
 *            in L1 while every output block runs over it (all of them
 *            when the panel is at most 32 KiB: the weights then stream
 *            through once, in order); between blocks the running sums
 *            wait in the output, unchanged;
 *   output   dense NCHW, the fused ReLU in registers (another activation on
 *            each finished block of the output); for a consumer's padded
 *            layout (ctx->out_layout) a task's outputs go through a
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
#ifndef PW_GROUP
#define PW_GROUP 4  /* units of PW_NV vectors to a task, at most */
#endif
#ifndef PW_GROUP_MIN
#define PW_GROUP_MIN 512
#endif
#define PW_KB 64    /* input channels per block: a 64 x 64 pixel panel, 16 KiB */

int ck_pw_ok(const ck_conv *c)
{
    /* with fewer than 4 vectors of pixels per sample CK_OC keeps its lanes
     * fuller, unless the pixels fill whole vectors (4x4: 16), which then
     * come from several samples */
    int64_t P = c->oh * c->ow;
    return c->k[0] == 1 && c->k[1] == 1 && c->s[0] == 1 && c->s[1] == 1 && !c->pb[0] && !c->pa[0] && !c->pb[1] &&
           !c->pa[1] && c->groups == 1 && (P >= 64 || P % 16 == 0) && c->cout >= 16;
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
    int64_t P;            /* pixels per sample */
    int64_t spv;          /* P % 16 == 0: vectors per sample (a task's vectors may span samples); else 0 */
    int64_t nblk;         /* spv == 0: pixel blocks per sample */
    int64_t units;        /* of at most PW_NV vectors (pw_task_vecs) */
    int64_t group;        /* units to a task */
} pw_job;

/* A task's vectors of 16 pixels: vector v is sample n[v]'s pixels
 * [p[v], p[v] + 16) (the last one's first `lanes` only, when P % 16 != 0). */
typedef struct {
    int nv;
    int64_t n[PW_NV], p[PW_NV];
    int64_t lanes;  /* of the last vector */
} pw_vecs;

#ifdef CK_X86
/*
 * One tile: R blocks of MR output channels (packed weights wp, the next
 * block blk floats on, each [K][MR] then its MR biases) by NV vectors of
 * pixels, vector v from xs[v] (channel stride P) into ys[v] + yo (channel
 * stride yc), input channels [k0, k1).  first: start from the biases, else
 * from the running sums in y; done: apply ReLU if asked.  rows: output
 * channels to store; the last vector's lanes `last`.
 */
static inline __attribute__((always_inline)) CK_TARGET void
pw_tile(const float *const *xs, float *const *ys, int64_t yo, int64_t P, int64_t yc, const float *wp, int64_t blk,
        int64_t K, int64_t k0, int64_t k1, int first, int done, int relu, int rows, __mmask16 last, const int R,
        const int NV, const int M)
{
    (void)R;
    __m512 acc[2 * PW_MR][PW_NV];
    const float *x[PW_NV];
    float *y[PW_NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
        x[v] = xs[v] + k0 * P;
        y[v] = ys[v] + yo;
    }
#pragma GCC unroll 12
    for (int m = 0; m < M; m++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            __mmask16 k = v == NV - 1 ? last : 0xffff;
            acc[m][v] = first ? _mm512_set1_ps(wp[m / PW_MR * blk + K * PW_MR + m % PW_MR])
                              : _mm512_maskz_loadu_ps(m < rows ? k : 0, y[v] + m * yc);
        }
    const float *w = wp + k0 * PW_MR;
    for (int64_t k = k0; k < k1; k++, w += PW_MR) {
        __m512 xv[PW_NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            xv[v] = _mm512_maskz_loadu_ps(v == NV - 1 ? last : 0xffff, x[v]);
            x[v] += P;
        }
#pragma GCC unroll 12
        for (int m = 0; m < M; m++) {
            __m512 wv = _mm512_set1_ps(w[m / PW_MR * blk + m % PW_MR]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                acc[m][v] = _mm512_fmadd_ps(wv, xv[v], acc[m][v]);
        }
    }
    __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int m = 0; m < M; m++) {
        if (m >= rows)
            break;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            __m512 r = done && relu ? _mm512_max_ps(zero, acc[m][v]) : acc[m][v];
            _mm512_mask_storeu_ps(y[v] + m * yc, v == NV - 1 ? last : 0xffff, r);
        }
    }
}

typedef void (*pw_tile_fn)(const float *const *, float *const *, int64_t, int64_t, int64_t, const float *, int64_t,
                           int64_t, int64_t, int64_t, int, int, int, int, __mmask16);
#define PW_FN(R, NV, M)                                                                                         \
    static CK_TARGET void pw_tile_##R##_##NV##_##M(const float *const *xs, float *const *ys, int64_t yo, int64_t P,   \
                                             int64_t yc, const float *wp, int64_t blk, int64_t K, int64_t k0,   \
                                             int64_t k1, int first, int done, int relu, int rows, __mmask16 last) \
    {                                                                                                           \
        pw_tile(xs, ys, yo, P, yc, wp, blk, K, k0, k1, first, done, relu, rows, last, R, NV, M);                \
    }
PW_FN(1, 1, 6)
PW_FN(1, 2, 6)
PW_FN(1, 3, 6)
PW_FN(1, 4, 6)
PW_FN(2, 1, 12)
PW_FN(2, 2, 12)
PW_FN(1, 4, 1)
PW_FN(1, 4, 2)
PW_FN(1, 4, 3)
PW_FN(1, 4, 4)
PW_FN(1, 4, 5)
#undef PW_FN

/* [R - 1][NV - 1]: 6 x 64 pixels when there are 4 vectors, else 12
 * output channels (two blocks) by 1 or 2 vectors, so that the 24 sums
 * still fill the registers (a 4x4 image's 16 pixels, two samples to a
 * micro-batch: 32 pixels) */
static const pw_tile_fn pw_tiles[2][PW_NV] = {{pw_tile_1_1_6, pw_tile_1_2_6, pw_tile_1_3_6, pw_tile_1_4_6},
                                              {pw_tile_2_1_12, pw_tile_2_2_12, NULL, NULL}};

/* [rows - 1]: the last block of 4 vectors when cout is not a multiple of 6
 * (64 = 10 x 6 + 4, 128 = 21 x 6 + 2, ...): only its rows, not 6 with the
 * padding ones (at 32 -> 64 on 32x32, 66 channels' work for 64) */
static const pw_tile_fn pw_tails[PW_MR - 1] = {pw_tile_1_4_1, pw_tile_1_4_2, pw_tile_1_4_3, pw_tile_1_4_4,
                                               pw_tile_1_4_5};

/* Task t's vectors. */
static void pw_task_vecs(const pw_job *J, int64_t t, int64_t N, pw_vecs *V)
{
    if (J->spv) {
        int64_t g0 = t * PW_NV, g1 = g0 + PW_NV < N * J->spv ? g0 + PW_NV : N * J->spv;
        V->nv = (int)(g1 - g0);
        for (int v = 0; v < V->nv; v++) {
            V->n[v] = (g0 + v) / J->spv;
            V->p[v] = (g0 + v) % J->spv * 16;
        }
        V->lanes = 16;
        return;
    }
    int64_t n = t / J->nblk, p0 = t % J->nblk * (16 * PW_NV);
    int64_t np = J->P - p0 < 16 * PW_NV ? J->P - p0 : 16 * PW_NV;
    V->nv = (int)((np + 15) / 16);
    for (int v = 0; v < V->nv; v++) {
        V->n[v] = n;
        V->p[v] = p0 + 16 * v;
    }
    V->lanes = np - 16 * (V->nv - 1);
}

/* A task's outputs (s: [cout][16 PW_NV], vector v at 16 v) into the
 * consumer's layout: output pixel (oh, ow) of channel o at o * chan + (oh +
 * top) * row + its column's phase and place. */
static void pw_to_layout(const pw_job *J, const pw_vecs *V, const float *s)
{
    const sr_layout *lay = J->lay;
    int64_t OW = J->c->ow;
    for (int v = 0; v < V->nv; v++) {
        int64_t np = v == V->nv - 1 ? V->lanes : 16, off[16];
        for (int64_t q = 0; q < np; q++) {
            int64_t p = V->p[v] + q, w = p % OW + lay->left;
            off[q] = (p / OW + lay->top) * lay->row + (w % lay->phases) * lay->phase + w / lay->phases;
        }
        float *y = J->y + V->n[v] * lay->sample;
        for (int64_t o = 0; o < J->c->cout; o++)
            for (int64_t q = 0; q < np; q++)
                y[o * lay->chan + off[q]] = s[o * 16 * PW_NV + 16 * v + q];
    }
}

/* One task: G units (G = J->group) of at most PW_NV vectors of pixels,
 * every output channel of each; a block of output channels runs over all
 * the task's units before the next. */
static void pw_task(void *arg, int64_t task, int tid)
{
    const pw_job *J = arg;
    const ck_conv *c = J->c;
    const pw_pack *pk = J->pk;
    int64_t P = J->P, K = pk->K, u0 = task * J->group;
    int G = (int)(J->units - u0 < J->group ? J->units - u0 : J->group);
    pw_vecs V[PW_GROUP];
    __mmask16 last[PW_GROUP] = {0};
    /* dense: the output itself; a layout: the thread's scratch block (G = 1) */
    int64_t yc = J->lay ? 16 * PW_NV : P;
    float *scratch = J->lay ? J->ctx->work + (size_t)tid * ck_pw_workspace(c) : NULL;
    const float *xs[PW_GROUP][PW_NV];
    float *ys[PW_GROUP][PW_NV];
    for (int g = 0; g < G; g++) {
        pw_task_vecs(J, u0 + g, c->n, &V[g]);
        last[g] = (__mmask16)(V[g].lanes < 16 ? (1u << V[g].lanes) - 1 : 0xffff);
        for (int v = 0; v < V[g].nv; v++) {
            xs[g][v] = J->x + V[g].n[v] * K * P + V[g].p[v];
            ys[g][v] = scratch ? scratch + 16 * v : J->y + V[g].n[v] * c->cout * P + V[g].p[v];
        }
    }
    int nv = V[0].nv, R = nv <= 2 ? 2 : 1;
    size_t blk = (size_t)(K * PW_MR + PW_MR);
    /* the input channels in blocks whose panel stays in L1 (32 KiB) */
    int64_t kb = K * nv <= 512 ? K : PW_KB;
    for (int64_t k0 = 0; k0 < K; k0 += kb) {
        int64_t k1 = k0 + kb < K ? k0 + kb : K;
        for (int64_t b = 0; b < pk->nob; b += R) {
            int r = b + R <= pk->nob ? R : 1;
            const float *wp = pk->w + (size_t)b * blk;
            int64_t o0 = b * PW_MR, rows = c->cout - o0 < r * PW_MR ? c->cout - o0 : r * PW_MR;
            pw_tile_fn f = r == 1 && nv == PW_NV && rows < PW_MR ? pw_tails[rows - 1] : pw_tiles[r - 1][nv - 1];
            for (int g = 0; g < G; g++)
                f(xs[g], ys[g], o0 * yc, P, yc, wp, (int64_t)blk, K, k0, k1, k0 == 0, k1 == K, J->relu, (int)rows,
                  last[g]);
        }
    }
    for (int g = 0; g < G; g++) {
        if (J->ctx->post && !J->relu)
            for (int v = 0; v < V[g].nv; v++)
                for (int64_t o = 0; o < c->cout; o++)
                    sr_post(J->ctx, ys[g][v] + o * yc, (size_t)(v == V[g].nv - 1 ? V[g].lanes : 16));
        if (J->lay)
            pw_to_layout(J, &V[g], scratch);
    }
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
                .spv = P % 16 ? 0 : P / 16, .nblk = (P + 16 * PW_NV - 1) / (16 * PW_NV),
                .relu = ctx->post && ctx->post->type->id == SR_L_ReLU};
    J.units = J.spv ? (c->n * J.spv + PW_NV - 1) / PW_NV : c->n * J.nblk;
    /* wide images (a channel's row of 1024 pixels a 4 KiB page, each of a
     * unit's vectors then in the same L1 set for every channel): a block of
     * output channels over several units, whose stores spread over more
     * sets, before the next block; only whole units, one block of input
     * channels, and the output dense */
    J.group = P % (16 * PW_NV) == 0 && P >= PW_GROUP_MIN && c->cin * PW_NV <= 512 && !J.lay ? PW_GROUP : 1;
    ck_par(ctx, (J.units + J.group - 1) / J.group, pw_task, &J);
    free(own);
    return 0;
#else
    (void)c, (void)W, (void)bias, (void)x, (void)y, (void)ctx;
    return -1;
#endif
}
