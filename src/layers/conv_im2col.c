/*
 * conv_im2col.c - padded copies and im2col for Conv1d/2d/3d, and the
 * im2col + cblas_sgemm path they run on without the vector kernels (see
 * conv_common.h).  Padding modes other than 'zeros' first build a padded
 * copy of the sample, as PyTorch does with F.pad before a convolution with
 * padding 0; im2col applies zero padding itself.
 */
#include "conv_common.h"
#include "../blas_guard.h"

#include <cblas.h>
#include <stdint.h>
#include <string.h>

/* dst[w] for the padding columns [w0, w1) of a row (source row `row`) */
static void pad_cols(const float *row, int64_t W, int64_t left, int mode, int64_t w0, int64_t w1, float *dst)
{
    for (int64_t w = w0; w < w1; w++) {
        int64_t sw = cf_pad_src(mode, w - left, W);
        dst[w] = sw < 0 ? 0.0f : row[sw];
    }
}

void cf_pad_copy(const float *x, int64_t C, const int64_t *sp, const cf_geo *g, float *xp)
{
    int64_t Dp = sp[0] + g->pb[0] + g->pa[0], Hp = sp[1] + g->pb[1] + g->pa[1], Wp = sp[2] + g->pb[2] + g->pa[2];
    int64_t W = sp[2], left = g->pb[2];
    for (int64_t c = 0; c < C; c++)
        for (int64_t a = 0; a < Dp; a++) {
            int64_t sa = cf_pad_src(g->mode, a - g->pb[0], sp[0]);
            for (int64_t b = 0; b < Hp; b++) {
                int64_t sb = cf_pad_src(g->mode, b - g->pb[1], sp[1]);
                float *dst = xp + ((c * Dp + a) * Hp + b) * Wp;
                if (sa < 0 || sb < 0) {
                    memset(dst, 0, (size_t)Wp * sizeof *dst);
                    continue;
                }
                const float *row = x + ((c * sp[0] + sa) * sp[1] + sb) * W;
                pad_cols(row, W, left, g->mode, 0, left, dst);
                memcpy(dst + left, row, (size_t)W * sizeof *dst);
                pad_cols(row, W, left, g->mode, left + W, Wp, dst);
            }
        }
}

/* One output row of one tap: dst[q] = row[q * s2 + off] for q in [lo, hi),
 * zero elsewhere in [0, OW); row NULL: all zero. */
static inline void tap_row(float *dst, const float *row, int64_t OW, int64_t lo, int64_t hi, int64_t s2,
                           int64_t off)
{
    if (!row) {
        memset(dst, 0, (size_t)OW * sizeof *dst);
        return;
    }
    if (lo)
        memset(dst, 0, (size_t)lo * sizeof *dst);
    if (s2 == 1)
        memcpy(dst + lo, row + lo + off, (size_t)(hi - lo) * sizeof *dst);
    else
        for (int64_t q = lo; q < hi; q++)
            dst[q] = row[q * s2 + off];
    if (hi < OW)
        memset(dst + hi, 0, (size_t)(OW - hi) * sizeof *dst);
}

void cf_im2col_rows(const cf_geo *g, const int64_t *isp, const int64_t *ipb, const int64_t *osp, const float *x,
                    int64_t r0, int64_t r1, float *cols)
{
    int64_t OW = osp[2], npix = (r1 - r0) * OW, s2 = g->s[2];
    for (int64_t c = 0; c < g->cg; c++)
        for (int64_t a = 0; a < g->k[0]; a++)
            for (int64_t b = 0; b < g->k[1]; b++)
                for (int64_t e = 0; e < g->k[2]; e++) {
                    float *dst = cols + (((c * g->k[0] + a) * g->k[1] + b) * g->k[2] + e) * npix;
                    int64_t off = e * g->d[2] - ipb[2];
                    /* output columns whose input column lies inside [0, W) */
                    int64_t lo = off >= 0 ? 0 : (-off + s2 - 1) / s2;
                    int64_t hi = isp[2] - off > 0 ? (isp[2] - off + s2 - 1) / s2 : 0;
                    hi = hi < OW ? hi : OW;
                    if (hi <= lo) {
                        memset(dst, 0, (size_t)npix * sizeof *dst);
                        continue;
                    }
                    /* the rows of one output depth at a time: its input plane, then
                     * each row's input row (NULL: padding) */
                    for (int64_t r = r0; r < r1;) {
                        int64_t od = r / osp[1], oh = r % osp[1], n = osp[1] - oh < r1 - r ? osp[1] - oh : r1 - r;
                        int64_t i0 = od * g->s[0] - ipb[0] + a * g->d[0];
                        const float *plane = i0 >= 0 && i0 < isp[0] ? x + (c * isp[0] + i0) * isp[1] * isp[2] : NULL;
                        for (int64_t h = oh; h < oh + n; h++, dst += OW) {
                            int64_t i1 = h * g->s[1] - ipb[1] + b * g->d[1];
                            tap_row(dst, plane && i1 >= 0 && i1 < isp[1] ? plane + i1 * isp[2] : NULL, OW, lo, hi,
                                    s2, off);
                        }
                        r += n;
                    }
                }
}

/* ---- the im2col + cblas_sgemm path ----------------------------------------- */

typedef struct {
    int64_t Pin, Pout, K;   /* input and output positions, taps per output channel */
    int64_t isp[3], ipb[3]; /* the extent im2col reads and the padding it applies */
    int direct;             /* 1x1, stride 1, nothing left to pad: the input is the column matrix */
    size_t pad_f, cols_f;   /* floats of the padded copy and of the columns (each 0 when unused) */
} blas_plan;

/* 0, or -1 when a size overflows (the workspace is then impossible). */
static int blas_plan_get(const cf_geo *g, const cf_dims *di, const cf_dims *dout, blas_plan *P)
{
    memset(P, 0, sizeof *P);
    int explicit_pad = g->mode != CF_PAD_ZEROS, unit = 1;
    int64_t padded = g->cg;
    P->Pin = di->sp[0] * di->sp[1] * di->sp[2];
    P->Pout = dout->sp[0] * dout->sp[1] * dout->sp[2];
    P->K = g->cg * g->k[0] * g->k[1] * g->k[2];
    for (int i = 0; i < 3; i++) {
        P->isp[i] = di->sp[i] + (explicit_pad ? g->pb[i] + g->pa[i] : 0);
        P->ipb[i] = explicit_pad ? 0 : g->pb[i];
        unit &= g->k[i] == 1 && g->s[i] == 1 && P->ipb[i] == 0 && (explicit_pad || g->pa[i] == 0);
        if (__builtin_mul_overflow(padded, P->isp[i], &padded))
            return -1;
    }
    P->direct = unit;
    int64_t cols;
    if (__builtin_mul_overflow(P->K, P->Pout, &cols))
        return -1;
    P->pad_f = explicit_pad ? cf_up16((size_t)padded) : 0;
    P->cols_f = P->direct ? 0 : cf_up16((size_t)cols);
    return 0;
}

size_t cf_blas_workspace(const cf_geo *g, const cf_dims *di, const cf_dims *dout)
{
    blas_plan P;
    /* an impossible size on overflow: the runner's allocation fails
     * cleanly rather than wrapping around */
    const size_t huge = SIZE_MAX / 16;
    if (blas_plan_get(g, di, dout, &P) < 0 || P.pad_f >= huge - P.cols_f)
        return huge;
    return P.pad_f + P.cols_f;
}

sr_status cf_forward_blas(const cf_geo *g, const cf_dims *di, const cf_dims *dout, const float *W, const float *bias,
                          const float *x, float *y, sr_ctx *ctx, char *err)
{
    blas_plan P;
    blas_plan_get(g, di, dout, &P); /* the workspace asked for the sizes: they fit */
    int64_t Pout = P.Pout, K = P.K, og = g->og, out_rows = dout->sp[0] * dout->sp[1];
    float *xp = ctx->work, *cols = xp + P.pad_f;
    if (K > 0 && Pout > 0 && !sr_blas_threads(1, err)) /* else OpenBLAS could retry its buffer forever */
        return SR_ERUN;
    for (int64_t n = 0; n < di->n; n++) {
        float *yn = y + n * g->cout * Pout;
        for (int64_t o = 0; o < g->cout; o++) {
            float b = bias ? bias[o] : 0.0f;
            for (int64_t q = 0; q < Pout; q++)
                yn[o * Pout + q] = b;
        }
        if (K == 0 || Pout == 0)
            continue;
        for (int64_t gi = 0; gi < g->groups; gi++) {
            const float *xg = x + (n * g->cin + gi * g->cg) * P.Pin;
            if (g->mode != CF_PAD_ZEROS) {
                cf_pad_copy(xg, g->cg, di->sp, g, xp);
                xg = xp;
            }
            const float *B = xg; /* the GEMM's [K, Pout] operand */
            if (!P.direct) {
                cf_im2col_rows(g, P.isp, P.ipb, dout->sp, xg, 0, out_rows, cols);
                B = cols;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)og, (int)Pout, (int)K, 1.0f,
                        W + gi * og * K, (int)K, B, (int)Pout, 1.0f, yn + gi * og * Pout, (int)Pout);
        }
        sr_post(ctx, yn, (size_t)(g->cout * Pout));
    }
    return SR_OK;
}
