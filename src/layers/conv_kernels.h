/*
 * conv_kernels.h - AVX-512 convolution kernels for the shapes the direct
 * kernel in conv.c (which puts consecutive outputs of one row in a vector)
 * serves badly.  Internal to the convolution family: conv.c describes the
 * convolution in a ck_conv, asks ck_choose() whether one of these kernels
 * takes it, and runs it with ck_forward().
 *
 *   CK_OC   (conv_oc16.c) vectorised over 16 output channels: every output
 *           pixel's 16 (or 32, 64) channels in registers, the input value
 *           broadcast, for outputs narrower than a vector (8x8, 4x4, 2x2,
 *           1x1) and 1x1 convolutions; weights packed once per layer.
 *   CK_PW   (conv_pw.c) 1x1 convolutions on 64 or more pixels, or on
 *           whole vectors of them (4x4): a GEMM over the samples' pixels,
 *           reading the input where it lies.
 *   CK_WG   (conv_wino.c) 3x3 convolutions at stride 1 on 4x4 outputs and
 *           up: Winograd's F(2x2, 3x3), 16 GEMMs of CK_OC's tiles.
 *   CK_DW   (conv_dw.c, conv_dwr.c, conv_dwd.c, conv_dwq.c) depthwise and
 *           other convolutions with fewer than 4 output channels per
 *           group: vectorised over output width,
 *           several rows and channels in flight, no padded copy.
 *
 * Numerics: every output is its bias, then each of its taps in the
 * weight's (c, i, j) order added by one fused multiply-add (padding taps
 * included, as x = 0), the order conv.c's direct kernels use (except where
 * ck_dw_exact says otherwise: a fixed order of its own).  CK_OC leaves
 * out the zero-padding taps that all the pixels of a segment lack (set by
 * the geometry alone): adding w * 0 changes no sum, so the bits are the
 * same, but for an inf or NaN weight on such a tap (no NaN) and a sum of
 * -0 (no +0).  A tile, a
 * block of samples, a blocking of the taps (partial sums go to memory as
 * floats and come back unchanged) or a thread never changes it, so a
 * sample gets the same bits whatever the batch size and thread count, and
 * the same bits as conv.c's direct kernels give it.
 *
 * Input layout (CK_OC): conv.c's padded, column-phase-split one (see
 * ck_lay), which a convolution before may write directly (ctx->in_laid_out);
 * for CK_PW's convolutions (1x1, no padding, stride 1) that layout is dense
 * NCHW itself.  Output: dense NCHW, or ctx->out_layout when the executor
 * asks for it (CK_OC, CK_PW).
 */
#ifndef SR_CONV_KERNELS_H
#define SR_CONV_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../layer.h"

/* Helpers only the AVX-512 paths call (unused elsewhere). */
#define CK_UNUSED __attribute__((unused))

/* A convolution in 2-D terms (Conv1d: height 1): index 0 is height, 1 width. */
typedef struct {
    int64_t n;                     /* samples in this call */
    int64_t cin, cout, groups;
    int64_t h, w, oh, ow;          /* input and output extent */
    int64_t k[2], s[2], dil[2];
    int64_t pb[2], pa[2];          /* padding before / after */
    int mode;                      /* CK_PAD_* */
} ck_conv;

enum { CK_PAD_ZEROS, CK_PAD_REFLECT, CK_PAD_REPLICATE, CK_PAD_CIRCULAR };

enum { CK_NONE = 0, CK_OC = 1, CK_DW = 2, CK_PW = 3, CK_WG = 4 };

/*
 * The padded layout of one sample (conv.c's dc_geo and sr_conv_in_layout
 * compute the same): Hp x Wp padded, each padded row split into s[1]
 * column phases of Wj floats (padded column p is phase p % s, column
 * p / s), so a row takes RS = s[1] * Wj floats, a channel PS = Hp * RS and
 * a sample SS = cin * PS.
 */
typedef struct {
    int64_t Hp, Wp, Wj, RS, PS, SS;
} ck_lay;

void ck_lay_get(const ck_conv *c, ck_lay *l);

/* Source index for padded position i of an axis of size n (PyTorch's F.pad
 * modes; the shape check guarantees one reflection or wrap suffices), or -1
 * for a zero. */
int64_t ck_src_index(int mode, int64_t i, int64_t n);

/* Memory for prepared weights (free() frees it); big blocks in huge pages. */
void *ck_alloc(size_t n);

/* Floats after the last padded sample that loads may touch (conv.c's
 * DC_SLACK: the slack a producer leaves in the layout). */
#define CK_SLACK 16

/*
 * One input row into s column phases of wj floats each (padded column
 * j * s + b is phase b's column j, zero outside the input): with AVX-512
 * masked loads whose masks, the same for every row, ck_rowpad_init works
 * out once.  `fast` is 0 when these cannot do it (padding other than
 * zeros, s > 2, rows over 16 * CK_ROWPAD_MAX floats): the caller pads by
 * hand.
 */
#define CK_ROWPAD_MAX 64
typedef struct {
    int64_t s, wj, nch;          /* phases, floats per phase row, chunks of 16 */
    int64_t pb;                  /* padding before */
    int fast;
    uint16_t m[3 * CK_ROWPAD_MAX]; /* per chunk: load masks (first, second vector), store mask */
    /* a whole sample's planes (ck_pad_init): planes of 16 floats or fewer,
     * padded to 64 or fewer, one permute per 16 padded floats */
    int plane;
    uint64_t pin;                /* padded float i comes from the input */
    int32_t pidx[64];            /* ... and from its float pidx[i] */
} ck_rowpad;

void ck_rowpad_init(ck_rowpad *rp, int64_t w, int64_t pb, int64_t s, int64_t wj, int zeros);
/* src: the input row (w floats); phase b's row at dst + b * pstride */
void ck_pad_row(const ck_rowpad *rp, const float *src, float *dst, int64_t pstride);
void ck_zero_row(const ck_rowpad *rp, float *dst, int64_t pstride);

/* ck_rowpad_init for c's rows, and whole planes where they are small:
 * what ck_pad_sample takes. */
void ck_pad_init(ck_rowpad *rp, const ck_conv *c, const ck_lay *l);
/* One sample x [cin, h, w] into the padded layout at dst (every one of its
 * SS floats written; rp from ck_pad_init for c). */
void ck_pad_sample(const ck_conv *c, const ck_lay *l, const ck_rowpad *rp, const float *x, float *dst);
/* A sample the layer before wrote into the padded layout (zero padding):
 * zeros everywhere ck_pad_sample would put them. */
void ck_pad_borders(const ck_conv *c, const ck_lay *l, float *xp);

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* 16 vectors: rows become columns. */
static inline __attribute__((always_inline, target("avx512f"))) void ck_tr16(__m512 *r)
{
    __m512 t[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* r[4i + k], 128-bit lane L: element 4L + k of rows 4i .. 4i + 3 */
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        t[k] = _mm512_shuffle_f32x4(r[k], r[4 + k], 0x88);
        t[4 + k] = _mm512_shuffle_f32x4(r[k], r[4 + k], 0xDD);
        t[8 + k] = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x88);
        t[12 + k] = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xDD);
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        r[k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0x88);
        r[8 + k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0xDD);
        r[4 + k] = _mm512_shuffle_f32x4(t[4 + k], t[12 + k], 0x88);
        r[12 + k] = _mm512_shuffle_f32x4(t[4 + k], t[12 + k], 0xDD);
    }
}

/* A depthwise 3x3 at stride 2 (conv_dwd.c, conv_dwq.c): input row rho's
 * vectors for taps j = 0, 1, 2 (xj) into each of the R output rows m it
 * feeds, tap i = rho - 2 m, weights wv[3 i + j]; called for rho in
 * ascending order, it gives every output its taps in (i, j) order. */
static inline __attribute__((always_inline, target("avx512f,fma"))) void
ck_dw_row_s2(__m512 *acc, const __m512 *wv, const __m512 *xj, int rho, const int R)
{
#pragma GCC unroll 3
    for (int j = 0; j < 3; j++)
#pragma GCC unroll 12
        for (int m = 0; m < R; m++) {
            int i = rho - 2 * m;
            if (i >= 0 && i < 3)
                acc[m] = _mm512_fmadd_ps(wv[i * 3 + j], xj[j], acc[m]);
        }
}
#endif

/* Which kernel runs this convolution with AVX-512, from its geometry alone
 * (never from n, so a layer takes the same kernel at every batch size), or
 * CK_NONE; 0 too when the CPU or SEQRUN_ISA does not allow AVX-512. */
int ck_choose(const ck_conv *c);

/* Floats of scratch per thread ck_forward needs for c (n as in the call). */
size_t ck_workspace(const ck_conv *c, int kind);

/*
 * Builds in *ctx->cache what kernel `kind` keeps there for c (packed
 * weights, tables; one block that free() frees), as forward would on its
 * first call: a layer's prepare() calls it before the threads start, so
 * that their forward calls only read the cache.  Nothing for a kernel that
 * keeps nothing.  Returns 0, or -1 when out of memory.
 */
int ck_prepare(const ck_conv *c, int kind, const float *W, const float *bias, sr_ctx *ctx);

/* fn(job, task, thread) for every task in [0, tasks), on up to
 * ctx->threads threads (no more than there are tasks). */
void ck_par(const sr_ctx *ctx, int64_t tasks, void (*fn)(void *, int64_t, int), void *job);

/* With too few sample blocks to go round ctx->threads: into how many
 * ranges of its nob output-channel blocks each sample block is split
 * (1 when there are enough blocks). */
int64_t ck_ranges(const sr_ctx *ctx, int64_t blocks, int64_t nob);

/* Samples per block, nb or up to a quarter more, so that n samples make
 * blocks that share out evenly over `threads` threads where that is all
 * it takes; nb itself with one thread, or fewer blocks than threads
 * (ck_ranges splits those).  threads 0: the most it gives for any (what
 * workspace is sized for). */
int64_t ck_balance(int64_t n, int64_t nb, int threads);

/* A block a kernel just built: into the layer's cache slot (freeing what
 * was there), or, without a slot, to *own for the caller to free. */
void ck_keep(sr_ctx *ctx, void *block, void **own);

/*
 * Runs kernel `kind` (ck_choose's answer) on x [n, cin, h, w] (or, with
 * ctx->in_laid_out, x in the padded layout, sample after sample, whose
 * padding and slack it fills itself) into y: [n, cout, oh, ow], or
 * ctx->out_layout.  W [cout, cin/groups, kh, kw] and bias [cout] (may be
 * NULL) are the weights to use (folded or not); the prepared copy is kept
 * in *ctx->cache when there is one.  Applies ctx->post to every finished
 * tile.  Uses ctx->work (ctx->threads areas of ck_workspace floats) and up
 * to ctx->threads threads.  Returns 0, or -1 when out of memory.
 */
int ck_forward(const ck_conv *c, int kind, const float *W, const float *bias, const float *x, float *y,
               sr_ctx *ctx);

/*
 * CK_OC's register tile (conv_oc16.c), which CK_WG's GEMMs use too: NO
 * vectors of 16 output channels by ROWS x COLS pixels, over taps
 * idx[k0 .. k1): tap t reads the weights' row wp + t * 16 * NO and, for
 * segment r, input xb[sin[r] + taps[t] + j] (j < COLS); sums ([pixel][16
 * NO]) start from bp when `first`.  NULL for a shape it lacks (NO 1, 2,
 * 4; NO * ROWS * COLS <= 24, and down to half the rows).
 */
typedef void (*ck_tile_fn)(const float *xb, const int64_t *sin, const int64_t *taps, const int32_t *idx, int64_t k0,
                           int64_t k1, const float *wp, const float *bp, float *sum, int first);
ck_tile_fn ck_tile_pick(int no, int rows, int cols);

/* Where output (n, channel 0, oh, ow) of c goes: dense NCHW, or lay. */
static inline int64_t ck_out_at(const ck_conv *c, const sr_layout *lay, int64_t n, int64_t oh, int64_t ow)
{
    if (!lay)
        return n * c->cout * c->oh * c->ow + oh * c->ow + ow;
    int64_t w = ow + lay->left;
    return n * lay->sample + (oh + lay->top) * lay->row + (w % lay->phases) * lay->phase + w / lay->phases;
}

/* Pixels of a tile consecutive in the output: lanes `mask` of its 16-pixel
 * block blk go to dst (channel 0) on, cnt of them. */
typedef struct {
    int64_t dst;
    uint16_t mask;
    uint8_t blk, cnt;
} ck_run;

/* Pixel r (called for r ascending from 0) whose channel 0 goes to d (d <
 * 0: none) into the runs ru[0 .. nr); returns their new count.  *prev:
 * the last d, -2 at first. */
static inline int64_t ck_run_add(ck_run *ru, int64_t nr, int64_t r, int64_t d, int64_t *prev)
{
    if (d < 0) {
        *prev = -2;
        return nr;
    }
    if (nr > 0 && d == *prev + 1 && r % 16 != 0) {
        ru[nr - 1].mask |= (uint16_t)(1u << (r % 16));
        ru[nr - 1].cnt++;
    } else {
        ru[nr++] = (ck_run){.dst = d, .mask = (uint16_t)(1u << (r % 16)), .blk = (uint8_t)(r / 16), .cnt = 1};
    }
    *prev = d;
    return nr;
}

/* R pixels' finished sums ([pixel][OB], 64-byte aligned) out, channels
 * 0 .. ov, through the runs (channel o of a run's pixels at y + dst + o *
 * cstride on). */
void ck_store(const float *sum, int64_t R, int64_t OB, int64_t ov, const ck_run *run, int64_t nrun, float *y,
              int64_t cstride);

/* The kernels, for conv_kernels' own dispatch and the tests. */
int ck_oc_ok(const ck_conv *c);
size_t ck_oc_workspace(const ck_conv *c);
int ck_oc_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx);
int ck_oc_prepare(const ck_conv *c, const float *W, const float *bias, sr_ctx *ctx);
int ck_dw_ok(const ck_conv *c);
int ck_dw_prepare(const ck_conv *c, const float *W, const float *bias, sr_ctx *ctx);
size_t ck_dw_workspace(const ck_conv *c);
int ck_dw_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx);
/* 0 when CK_DW sums this convolution's taps out of order (few outputs with
 * long sums: vectorised over the taps); the order is still fixed, the same
 * for every output whatever the batch or threads. */
int ck_dw_exact(const ck_conv *c);
int ck_wg_ok(const ck_conv *c);
size_t ck_wg_workspace(const ck_conv *c);
int ck_wg_prepare(const ck_conv *c, const float *W, const float *bias, sr_ctx *ctx);
int ck_wg_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx);
int ck_pw_ok(const ck_conv *c);
size_t ck_pw_workspace(const ck_conv *c);
int ck_pw_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx);
int ck_pw_prepare(const ck_conv *c, const float *W, const float *bias, sr_ctx *ctx);
/* CK_DW's depthwise 3x3 kernel by rows (conv_dwr.c), for the planes it
 * serves better than conv_dw.c's channels-in-lanes one (padding 1 all
 * round goes to conv_dwd.c first). */
int ck_dwr_ok(const ck_conv *c);
size_t ck_dwr_workspace(const ck_conv *c);
int ck_dwr_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx);
/* CK_DW's depthwise 3x3 kernel with padding 1 read straight from the
 * input (conv_dwd.c), ahead of both: MobileNet's layers. */
int ck_dwd_ok(const ck_conv *c);
size_t ck_dwd_workspace(const ck_conv *c);
int ck_dwd_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx);
/* ... and its 8-wide stride-2 kernel, four channels in the lanes
 * (conv_dwq.c), ahead of that; it reads the weights packed 16 channels to
 * a vector ([C / 16][9][16], biases [C / 16][16]) that ck_dw_lanes gives
 * (the cache's, or built: then *own is the block to free). */
int ck_dwq_ok(const ck_conv *c);
int ck_dwq_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx);
const float *ck_dw_lanes(const ck_conv *c, const float *W, const float *bias, sr_ctx *ctx, void **own,
                         const float **b);

#endif
