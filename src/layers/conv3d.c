/*
 * conv3d.c - Conv3d (and LazyConv3d) over (N, C, D, H, W) or unbatched
 * (C, D, H, W); its arguments and shape rule are the family's (conv.c,
 * conv_common.c).
 *
 * conv.c's kernels are two-dimensional, so Conv3d has its own: with
 * AVX-512, per sample and group, rows of output pixels are unfolded
 * (im2col) into a [rows, K] block, K = in/groups * kd * kh * kw taps in the
 * weight's (c, a, b, c') order, and one packed GEMM (gemm.h) gives
 * out[pixel, o] = bias[o] + sum of the taps in order, the weights packed
 * once per layer ([out/groups, K] per group, as they lie).  The block goes
 * into the dense output transposed, and the fused activation is applied
 * to each finished sample.  Tasks (sample, group) are spread over the
 * threads; every output is its bias plus its taps in order, one FMA each,
 * so a sample gets the same bits at any batch size and thread count.
 *
 * Without AVX-512: conv_im2col.c's im2col and cblas_sgemm, as Conv1d/2d
 * without their vector kernels.  Padding modes other than 'zeros' first
 * build a padded copy of the sample, as PyTorch does with F.pad before a
 * convolution with padding 0.
 */
#include "conv_common.h"
#include "../gemm.h"
#include "../par.h"

#include <stdint.h>
#include <string.h>

/* ---- with AVX-512: im2col, packed GEMM ----------------------------------------
 * Per sample, group and run of whole output rows: the taps unfolded as
 * [K, pixels] (rows of the input copied as they lie), packed as the GEMM's
 * column operand (a copy), and out[o, pixel] = sum over k of W[o, k] *
 * cols[k, pixel] with the weights as they lie as its row operand; the
 * bias is added as the block goes into the output. */

#define C3_COLS_MAX ((int64_t)1 << 18) /* floats of unfolded input per GEMM call */

typedef struct {
    int64_t T, K, Pout, rows, npix;  /* npix: pixels per call (rows whole output rows) */
    int64_t isp[3];       /* extent im2col reads (padded for modes other than zeros) */
    int64_t ipb[3];       /* padding im2col applies itself (zeros), 0 after a padded copy */
    size_t pad_f, cols_f, pk_f, o_f, area;
} c3_plan;

static void c3_plan_get(const cf_geo *g, const cf_dims *di, const cf_dims *dout, c3_plan *P)
{
    memset(P, 0, sizeof *P);
    P->T = g->k[0] * g->k[1] * g->k[2];
    P->K = g->cg * P->T;
    P->Pout = dout->sp[0] * dout->sp[1] * dout->sp[2];
    int64_t out_rows = dout->sp[0] * dout->sp[1], OW = dout->sp[2] > 0 ? dout->sp[2] : 1;
    int64_t rows = C3_COLS_MAX / (P->K * OW > 0 ? P->K * OW : 1);
    rows = rows < out_rows ? rows : out_rows;
    P->rows = rows > 0 ? rows : 1;
    P->npix = P->rows * OW;
    for (int i = 0; i < 3; i++) {
        int explicit_pad = g->mode != CF_PAD_ZEROS;
        P->isp[i] = di->sp[i] + (explicit_pad ? g->pb[i] + g->pa[i] : 0);
        P->ipb[i] = explicit_pad ? 0 : g->pb[i];
    }
    P->pad_f = g->mode != CF_PAD_ZEROS ? cf_up16((size_t)(g->cg * P->isp[0] * P->isp[1] * P->isp[2])) : 0;
    P->cols_f = cf_up16((size_t)(P->K * P->npix));
    P->pk_f = cf_up16(sr_gemm_packed_floats(P->npix, P->K) + 16); /* + 16: aligned to 64 bytes inside */
    P->o_f = cf_up16((size_t)(g->og * P->npix));
    P->area = P->pad_f + P->cols_f + P->pk_f + P->o_f;
}

/* y[o][q] = o_t[o][q] + bias[o] for q < n, og channels (y a plane of Pout apart) */
static SR_VEC_VOID(rows_out, (const float *restrict ot, int64_t og, int64_t n, const float *restrict bias,
                              int64_t Pout, float *restrict y), (ot, og, n, bias, Pout, y))
{
    for (int64_t o = 0; o < og; o++) {
        float b = bias ? bias[o] : 0.0f;
        for (int64_t q = 0; q < n; q++)
            y[o * Pout + q] = ot[o * n + q] + b;
    }
}

typedef struct {
    const cf_geo *g;
    const cf_dims *di, *dout;
    const c3_plan *P;
    const float *x, *bias, *W;
    float *y, *work;
    const sr_ctx *ctx;
} c3_job;

static void c3_task(void *arg, int64_t task, int tid)
{
    const c3_job *J = arg;
    const cf_geo *g = J->g;
    const c3_plan *P = J->P;
    int64_t n = task / g->groups, gi = task % g->groups;
    int64_t Pin = J->di->sp[0] * J->di->sp[1] * J->di->sp[2], OW = J->dout->sp[2];
    int64_t out_rows = J->dout->sp[0] * J->dout->sp[1];
    float *xp = J->work + (size_t)tid * P->area, *cols = xp + P->pad_f;
    float *pk = (float *)(((uintptr_t)(cols + P->cols_f) + 63) & ~(uintptr_t)63), *ot = cols + P->cols_f + P->pk_f;
    const float *x = J->x + (n * g->cin + gi * g->cg) * Pin;
    if (g->mode != CF_PAD_ZEROS) {
        cf_pad_copy(x, g->cg, J->di->sp, g, xp);
        x = xp;
    }
    float *y = J->y + (n * g->cout + gi * g->og) * P->Pout;
    const float *w = J->W + gi * g->og * P->K;
    const float *b = J->bias ? J->bias + gi * g->og : NULL;
    for (int64_t r0 = 0; r0 < out_rows; r0 += P->rows) {
        int64_t r1 = r0 + P->rows < out_rows ? r0 + P->rows : out_rows, npix = (r1 - r0) * OW;
        cf_im2col_rows(g, P->isp, P->ipb, J->dout->sp, x, r0, r1, cols);
        sr_gemm_pack_kn(cols, npix, npix, P->K, pk);
        sr_gemm(pk, w, NULL, ot, g->og, npix, P->K, 1, NULL, NULL);
        rows_out(ot, g->og, npix, b, P->Pout, y + r0 * OW);
    }
    sr_post(J->ctx, y, (size_t)(g->og * P->Pout));
}

static sr_status c3_forward_gemm(const cf_geo *g, const cf_dims *di, const cf_dims *dout, const float *W,
                                 const float *bias, const float *x, float *y, sr_ctx *ctx)
{
    c3_plan P;
    c3_plan_get(g, di, dout, &P);
    c3_job J = {.g = g, .di = di, .dout = dout, .P = &P, .x = x, .bias = bias, .W = W, .y = y, .work = ctx->work,
                .ctx = ctx};
    sr_par_for(ctx->threads > 1 ? ctx->threads : 1, di->n * g->groups, c3_task, &J);
    return SR_OK;
}

static SR_WORKSPACE_FN(c3_workspace)
{
    cf_call c;
    cf_call_get(L, in, out, &c);
    if (!sr_gemm_available())
        return cf_blas_workspace(&c.g, &c.di, &c.dout);
    c3_plan P;
    c3_plan_get(&c.g, &c.di, &c.dout, &P);
    return P.area;
}

static SR_FORWARD_FN(c3_forward)
{
    cf_call c;
    const float *W, *bias;
    if (!cf_forward_call(L, in, out, ctx, &c, &W, &bias))
        return SR_OK;
    if (sr_gemm_available())
        return c3_forward_gemm(&c.g, &c.di, &c.dout, W, bias, sr_f32(in), sr_f32(out), ctx);
    return cf_forward_blas(&c.g, &c.di, &c.dout, W, bias, sr_f32(in), sr_f32(out), ctx, err);
}

/* Conv3d keeps nothing between calls (its GEMM reads the weights as they
 * lie): nothing to build before the threads, which the hook tells the
 * executor. */
static sr_status c3_prepare(const sr_layer *L, const sr_shape *in, sr_ctx *ctx, char *err)
{
    (void)L, (void)in, (void)ctx, (void)err;
    return SR_OK;
}

/* ---- rows ------------------------------------------------------------------ */

CF_CONV_ARGS(a_conv3d, 3);

/* Conv3d's hooks, which serve its lazy row as they are */
#define C3_HOOKS                                                                                                  \
    .variant = CF_CONV, .validate = sr_conv_validate, .shape = sr_conv_shape, .params = sr_conv_params,             \
    .forward = c3_forward, .workspace = c3_workspace, .channel_dim = sr_conv_channel_dim, .fold = sr_fold_out_rows, \
    .prepare = c3_prepare

SR_ROW(Conv3d, .summary = "3-D convolution over (N, C, D, H, W)", SR_ARGS(a_conv3d),
       .repr = "#in_channels, #out_channels, " CF_CONV_REPR(3), .flags = SR_FUSE_POST | SR_FUSE_AFFINE, C3_HOOKS);
SR_ROW(LazyConv3d, .summary = "Conv3d whose in_channels is taken from its input", CF_LAZY_ARGS(a_conv3d),
       .repr = "#@lazy, #out_channels, " CF_CONV_REPR(3), .flags = SR_FUSE_POST | SR_FUSE_AFFINE | SR_LF_LAZY,
       C3_HOOKS);
