/*
 * conv_kernels.c - which of the convolution kernels of conv_kernels.h runs
 * a convolution (chosen by its shape alone, so a sample gets the same
 * kernel, and the same bits, at any batch size), and the calls that
 * dispatch to the chosen one (conv_oc16.c, conv_dw.c, conv_pw.c,
 * conv_wino.c).
 */
#include "conv_kernels.h"
#include "../cpu.h"
#include "../par.h"

#include <stdlib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define CK_X86 1
#endif

int ck_choose(const ck_conv *c)
{
#ifdef CK_X86
    if (sr_cpu_level() < SR_CPU_AVX512)
        return CK_NONE;
    if (ck_dw_ok(c))
        return CK_DW;
    /* 1x1 on 64 pixels or more, or on whole vectors of them: a GEMM on
     * the input where it lies (measured, 2-sample calls: W8's 32 -> 64 at
     * 32x32 154 -> 175 GF/s, 64 -> 128 at 16x16 186 -> 204, 256 -> 256 at
     * 8x8 191 -> 223, 256 -> 512 at 4x4 191 -> 211; one sample at 4x4 gives
     * CK_OC's 195 183, but the choice stays the geometry's) */
    if (ck_pw_ok(c))
        return CK_PW;
    /* 3x3 at stride 1 with 64 input channels or more, on 4x4 outputs and
     * up: Winograd's 16 multiplies per 2x2 outputs instead of 36
     * (measured, 16 samples, ReLU fused, against the kernel that ran
     * before: 64 -> 128 at 16x16 3.07 -> 2.31 ms, 64 -> 64 at 32x32 6.40
     * -> 5.38, 128 -> 256 at 8x8 3.00 -> 2.12, 256 -> 256 at 8x8 5.96 ->
     * 4.23, 512 -> 512 at 4x4 5.40 -> 4.82; with 32 input channels the
     * transforms eat the gain: 32 -> 32 at 32x32 1.63 -> 2.04) */
    if (ck_wg_ok(c))
        return CK_WG;
    /* conv.c's kernel, a vector across 16 outputs of a row, leaves lanes
     * empty unless the width is a multiple of 16 (at 8x8 half of them,
     * at 28 an eighth); with enough taps per output to carry the tile's
     * transposed stores (48 taps below 16 wide, 128 above, where fewer lanes
     * are lost), the output-channel kernel wins there (measured:
     * 3x3 256 -> 256 at 8x8 95 -> 165 GF/s, at 14x14 ~150 -> ~175, 3x3
     * 128 -> 128 at 20x20 130 -> 185; at 16x16 conv.c's 185 beats its 155,
     * and with 27 taps at 30x30 conv.c's 147 its 73) */
    int64_t K = c->cin / c->groups * c->k[0] * c->k[1];
    if (ck_oc_ok(c) && c->ow % 16 != 0 && K >= (c->ow < 16 ? 48 : 128))
        return CK_OC;
#else
    (void)c;
#endif
    return CK_NONE;
}

void ck_par(const sr_ctx *ctx, int64_t tasks, void (*fn)(void *, int64_t, int), void *job)
{
    int64_t threads = ctx->threads > 1 ? ctx->threads : 1;
    sr_par_for((int)(threads < tasks ? threads : tasks), tasks, fn, job);
}

int64_t ck_ranges(const sr_ctx *ctx, int64_t blocks, int64_t nob)
{
    int64_t threads = ctx->threads > 1 ? ctx->threads : 1;
    if (blocks >= threads || blocks < 1)
        return 1;
    int64_t r = (threads + blocks - 1) / blocks;
    return r < nob ? r : nob;
}

/*
 * A chunk's blocks are its threads' rounds of work: 64 samples of W7's
 * 512 -> 512 at 4x4 made 5 blocks of 14, and at 2 threads one thread ran
 * 3 (36 samples) while the other ran 2 (28) and then waited.  4 blocks of
 * 16 instead.  Only fewer, larger blocks: each block streams all the
 * weights, so more, smaller ones cost more than they even out.
 */
int64_t ck_balance(int64_t n, int64_t nb, int threads)
{
    if (threads == 0)
        return nb + nb / 4 < n ? nb + nb / 4 : n;
    if (threads == 1 || nb < 1 || n <= nb)
        return nb;
    int64_t blocks = (n + nb - 1) / nb, fewer = blocks / threads * threads;
    if (fewer < threads || fewer == blocks)
        return nb;
    int64_t big = (n + fewer - 1) / fewer;
    return 4 * big <= 5 * nb && (n + big - 1) / big % threads == 0 ? big : nb;
}

void ck_keep(sr_ctx *ctx, void *block, void **own)
{
    if (ctx->cache) {
        free(*ctx->cache);
        *ctx->cache = block;
    } else {
        *own = block;
    }
}

int ck_prepare(const ck_conv *c, int kind, const float *W, const float *bias, sr_ctx *ctx)
{
    switch (kind) {
    case CK_OC: return ck_oc_prepare(c, W, bias, ctx);
    case CK_DW: return ck_dw_prepare(c, W, bias, ctx);
    case CK_PW: return ck_pw_prepare(c, W, bias, ctx);
    case CK_WG: return ck_wg_prepare(c, W, bias, ctx);
    default: return 0;
    }
}

size_t ck_workspace(const ck_conv *c, int kind)
{
    switch (kind) {
    case CK_OC: return ck_oc_workspace(c);
    case CK_DW: return ck_dw_workspace(c);
    case CK_PW: return ck_pw_workspace(c);
    case CK_WG: return ck_wg_workspace(c);
    default: return 0;
    }
}

int ck_forward(const ck_conv *c, int kind, const float *W, const float *bias, const float *x, float *y,
               sr_ctx *ctx)
{
    switch (kind) {
    case CK_OC: return ck_oc_forward(c, W, bias, x, y, ctx);
    case CK_DW: return ck_dw_forward(c, W, bias, x, y, ctx);
    case CK_PW: return ck_pw_forward(c, W, bias, x, y, ctx);
    case CK_WG: return ck_wg_forward(c, W, bias, x, y, ctx);
    default: return -1;
    }
}
