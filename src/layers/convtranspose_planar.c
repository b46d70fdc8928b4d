/*
 * convtranspose_planar.c - ConvTranspose1d/2d/3d with the GEMM the other
 * way round: col[(o, t), pixel], with AVX-512 for fewer than CT_PLANAR_OG
 * output channels per group, and with cblas_sgemm without AVX-512 (see
 * convtranspose.c).
 */
#include "convtranspose.h"
#include "../gemm.h"
#include "../par.h"

#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- few output channels per group: the GEMM the other way round -------------
 * With under 16 output channels per group (an image's 3, say), the rows of
 * the path above would hold a few channels each, and its col2im and
 * transposes would cost more than its GEMM.  Here the GEMM's rows are the
 * (channel, tap) pairs and its columns a sample's input pixels,
 *
 *     col[(o, t), pixel] = sum over c of W[c, o, t] * x[c, pixel],
 *
 * the weights transposed once per layer to [(o, t), c] and the input rows
 * packed straight from [c, pixels] (a copy); col2im then adds every tap's
 * row of input pixels, contiguous, into a plane of the output split by
 * stride phase (output position i*s + q is phase q's position i), where
 * its outputs are contiguous too; last the phases are interleaved into
 * the output.  An output gets its taps in order within a call; calls take
 * fixed runs of input rows (from the geometry alone), so the order does
 * not depend on the batch. */

#define CT_PLANAR_OG 16                  /* below this many output channels per group */
#define CT_PIX_MAX 4096                  /* input pixels per GEMM call, at most */
#define CT_COLT_MAX ((int64_t)1 << 17)   /* floats of col per GEMM call */

typedef struct {
    int64_t T, Pin, Pout, M;  /* M = og * T: the GEMM's rows */
    int64_t in_rows, rows;    /* input rows (depth * height) and rows per GEMM call */
    int64_t ext[3];           /* a phase plane's extent per dim: ceil(out / stride) */
    int64_t plane, phases;    /* floats per plane, planes per channel */
    size_t xp_f, col_f, acc_f, area;
} ctp_plan;

int ct_planar(const cf_geo *g, const cf_dims *di)
{
    return g->og < CT_PLANAR_OG && di->sp[2] >= 8 && g->k[0] <= 64 && g->k[1] <= 64 && g->k[2] <= 64;
}

static void ctp_plan_get(const cf_geo *g, const cf_dims *di, const cf_dims *dout, ctp_plan *P)
{
    memset(P, 0, sizeof *P);
    P->T = g->k[0] * g->k[1] * g->k[2];
    P->Pin = di->sp[0] * di->sp[1] * di->sp[2];
    P->Pout = dout->sp[0] * dout->sp[1] * dout->sp[2];
    P->M = g->og * P->T;
    P->in_rows = di->sp[0] * di->sp[1];
    int64_t pix = CT_COLT_MAX / P->M;
    pix = pix < CT_PIX_MAX ? pix : CT_PIX_MAX;
    int64_t rows = pix / di->sp[2];
    rows = rows < P->in_rows ? rows : P->in_rows;
    P->rows = rows > 0 ? rows : 1;
    P->plane = 1;
    P->phases = 1;
    for (int i = 0; i < 3; i++) {
        P->ext[i] = (dout->sp[i] + g->s[i] - 1) / g->s[i];
        P->plane *= P->ext[i];
        P->phases *= g->s[i];
    }
    int64_t npix = P->rows * di->sp[2];
    /* + 16: the packed input must start 64-byte aligned within the area */
    P->xp_f = cf_up16(sr_gemm_packed_floats(npix, g->cg) + 16);
    P->col_f = cf_up16((size_t)(P->M * npix));
    P->acc_f = cf_up16((size_t)(g->og * P->phases * P->plane));
    P->area = P->xp_f + P->col_f + P->acc_f;
}

/* W [cin, og, T] as the GEMM's rows, per group: Wt[g][(o, t)][c] */
typedef struct {
    const cf_geo *g;
    const float *W;
} wt_arg;

static int fill_wt(const void *arg, float *dst)
{
    const wt_arg *A = arg;
    const cf_geo *g = A->g;
    int64_t T = g->k[0] * g->k[1] * g->k[2], M = g->og * T;
    for (int64_t gi = 0; gi < g->groups; gi++)
        for (int64_t c = 0; c < g->cg; c++)
            for (int64_t m = 0; m < M; m++)
                dst[(gi * M + m) * g->cg + c] = A->W[(gi * g->cg + c) * M + m];
    return 0;
}

/* Where tap j of dim i puts input position v: phase q = (j*d - p) mod s,
 * position v + sh in that phase's plane. */
typedef struct {
    int64_t q[3][64], sh[3][64];
} tap_map;

typedef struct {
    const cf_geo *g;
    const cf_dims *di, *dout;
    const ctp_plan *P;
    const tap_map *tm;
    const float *x, *bias, *wt;
    float *y, *work;
    const sr_ctx *ctx;
} ctp_job;

/* Valid positions of phase q along dim i: those of ceil((out - q) / s). */
static int64_t phase_len(int64_t out, int64_t s, int64_t q) { return out > q ? (out - q + s - 1) / s : 0; }

static SR_VEC_VOID(add_run, (float *restrict dst, const float *restrict src, int64_t n), (dst, src, n))
{
    for (int64_t i = 0; i < n; i++)
        dst[i] += src[i];
}

/* dst[v*s + q] = src[q * stride + v] for the n outputs of a row */
static SR_VEC_VOID(interleave, (const float *restrict src, int64_t stride, int64_t s, int64_t n, float *restrict dst),
                   (src, stride, s, n, dst))
{
    if (s == 2) {
        const float *a = src, *b = src + stride;
        int64_t h = n / 2;
        for (int64_t v = 0; v < h; v++) {
            dst[2 * v] = a[v];
            dst[2 * v + 1] = b[v];
        }
        if (n & 1)
            dst[n - 1] = a[h];
        return;
    }
    for (int64_t q = 0; q < s && q < n; q++) {
        const float *r = src + q * stride;
        for (int64_t v = 0; v * s + q < n; v++)
            dst[v * s + q] = r[v];
    }
}

static void ctp_task(void *arg, int64_t task, int tid)
{
    const ctp_job *J = arg;
    const cf_geo *g = J->g;
    const ctp_plan *P = J->P;
    const tap_map *tm = J->tm;
    int64_t n = task / g->groups, gi = task % g->groups;
    const int64_t *is = J->di->sp, *os = J->dout->sp;
    float *area = J->work + (size_t)tid * P->area;
    float *xp = (float *)(((uintptr_t)area + 63) & ~(uintptr_t)63), *col = area + P->xp_f, *acc = col + P->col_f;
    const float *x = J->x + (n * g->cin + gi * g->cg) * P->Pin;
    const float *wt = J->wt + gi * P->M * g->cg;
    for (int64_t o = 0; o < g->og; o++) {
        float b = J->bias ? J->bias[gi * g->og + o] : 0.0f;
        float *a = acc + o * P->phases * P->plane;
        for (int64_t i = 0; i < P->phases * P->plane; i++)
            a[i] = b;
    }
    int64_t W = is[2];
    for (int64_t r0 = 0; r0 < P->in_rows; r0 += P->rows) {
        int64_t r1 = r0 + P->rows < P->in_rows ? r0 + P->rows : P->in_rows, npix = (r1 - r0) * W;
        sr_gemm_pack_kn(x + r0 * W, P->Pin, npix, g->cg, xp);
        sr_gemm(xp, wt, NULL, col, P->M, npix, g->cg, 1, NULL, NULL);
        for (int64_t o = 0; o < g->og; o++)
            for (int64_t a = 0; a < g->k[0]; a++)
                for (int64_t b = 0; b < g->k[1]; b++)
                    for (int64_t c = 0; c < g->k[2]; c++) {
                        int64_t t = (a * g->k[1] + b) * g->k[2] + c;
                        int64_t q0 = tm->q[0][a], q1 = tm->q[1][b], q2 = tm->q[2][c];
                        int64_t l0 = phase_len(os[0], g->s[0], q0), l1 = phase_len(os[1], g->s[1], q1);
                        int64_t l2 = phase_len(os[2], g->s[2], q2), sh2 = tm->sh[2][c];
                        int64_t lo = sh2 < 0 ? -sh2 : 0, hi = l2 - sh2 < W ? l2 - sh2 : W;
                        if (hi <= lo)
                            continue;
                        float *pl = acc + (o * P->phases + (q0 * g->s[1] + q1) * g->s[2] + q2) * P->plane;
                        const float *cr = col + (o * P->T + t) * npix;
                        for (int64_t r = r0; r < r1; r++) {
                            int64_t v0 = r / is[1] + tm->sh[0][a], v1 = r % is[1] + tm->sh[1][b];
                            if (v0 < 0 || v0 >= l0 || v1 < 0 || v1 >= l1)
                                continue;
                            add_run(pl + (v0 * P->ext[1] + v1) * P->ext[2] + sh2 + lo,
                                    cr + (r - r0) * W + lo, hi - lo);
                        }
                    }
    }
    /* y[o][v*s + q] = plane q's [v], dim by dim */
    float *y = J->y + (n * g->cout + gi * g->og) * P->Pout;
    for (int64_t o = 0; o < g->og; o++) {
        const float *a = acc + o * P->phases * P->plane;
        float *yo = y + o * P->Pout;
        for (int64_t d0 = 0; d0 < os[0]; d0++)
            for (int64_t d1 = 0; d1 < os[1]; d1++) {
                int64_t q0 = d0 % g->s[0], q1 = d1 % g->s[1];
                const float *row = a + (q0 * g->s[1] + q1) * g->s[2] * P->plane +
                                   (d0 / g->s[0] * P->ext[1] + d1 / g->s[1]) * P->ext[2];
                interleave(row, P->plane, g->s[2], os[2], yo + (d0 * os[1] + d1) * os[2]);
            }
    }
    sr_post(J->ctx, y, (size_t)(g->og * P->Pout));
}

const float *ct_planar_weights(const cf_geo *g, const cf_dims *di, const cf_dims *dout, const float *W, sr_ctx *ctx,
                               ct_cache **own)
{
    ctp_plan P;
    ctp_plan_get(g, di, dout, &P);
    wt_arg A = {.g = g, .W = W};
    return ct_prepared(ctx, CT_PLANAR, (size_t)(g->groups * P.M * g->cg), own, fill_wt, &A);
}

void ct_forward_planar(const cf_geo *g, const cf_dims *di, const cf_dims *dout, const float *wt, const float *bias,
                       const float *x, float *y, sr_ctx *ctx)
{
    ctp_plan P;
    ctp_plan_get(g, di, dout, &P);
    tap_map tm;
    for (int i = 0; i < 3; i++)
        for (int64_t j = 0; j < g->k[i]; j++) {
            int64_t off = j * g->d[i] - g->pb[i], q = ((off % g->s[i]) + g->s[i]) % g->s[i];
            tm.q[i][j] = q;
            tm.sh[i][j] = (off - q) / g->s[i];
        }
    ctp_job J = {.g = g, .di = di, .dout = dout, .P = &P, .tm = &tm, .x = x, .bias = bias, .wt = wt, .y = y,
                 .work = ctx->work, .ctx = ctx};
    sr_par_for(ctx->threads > 1 ? ctx->threads : 1, di->n * g->groups, ctp_task, &J);
}

/* ---- without: cblas_sgemm per sample and group, then col2im ----------------- */

/* y[o][opix] += col[(o, t)][pin] over every tap of every pixel, y holding
 * og channels of Pout; taps in order, pixels in order within a tap. */
/* noinline: inlined into ct_forward_blas, its inner loop ran short of registers */
__attribute__((noinline)) static void col2im_planar(const cf_geo *g, const cf_dims *di, const cf_dims *dout,
                                                    const float *col, float *y)
{
    int64_t T = g->k[0] * g->k[1] * g->k[2];
    int64_t Pin = di->sp[0] * di->sp[1] * di->sp[2], Pout = dout->sp[0] * dout->sp[1] * dout->sp[2];
    const int64_t *is = di->sp, *os = dout->sp;
    for (int64_t o = 0; o < g->og; o++) {
        float *yo = y + o * Pout;
        for (int64_t a = 0; a < g->k[0]; a++)
            for (int64_t b = 0; b < g->k[1]; b++)
                for (int64_t c = 0; c < g->k[2]; c++) {
                    const float *cr = col + (o * T + (a * g->k[1] + b) * g->k[2] + c) * Pin;
                    int64_t off2 = c * g->d[2] - g->pb[2];
                    for (int64_t i0 = 0; i0 < is[0]; i0++) {
                        int64_t o0 = i0 * g->s[0] - g->pb[0] + a * g->d[0];
                        if (o0 < 0 || o0 >= os[0])
                            continue;
                        for (int64_t i1 = 0; i1 < is[1]; i1++) {
                            int64_t o1 = i1 * g->s[1] - g->pb[1] + b * g->d[1];
                            if (o1 < 0 || o1 >= os[1])
                                continue;
                            const float *src = cr + (i0 * is[1] + i1) * is[2];
                            float *dst = yo + (o0 * os[1] + o1) * os[2];
                            for (int64_t i2 = 0; i2 < is[2]; i2++) {
                                int64_t o2 = i2 * g->s[2] + off2;
                                if (o2 >= 0 && o2 < os[2])
                                    dst[o2] += src[i2];
                            }
                        }
                    }
                }
    }
}

sr_status ct_forward_blas(const cf_geo *g, const cf_dims *di, const cf_dims *dout, const float *W, const float *bias,
                          const float *x, float *y, sr_ctx *ctx)
{
    int64_t T = g->k[0] * g->k[1] * g->k[2];
    int64_t Pin = di->sp[0] * di->sp[1] * di->sp[2], Pout = dout->sp[0] * dout->sp[1] * dout->sp[2];
    float *col = ctx->work;
    for (int64_t n = 0; n < di->n; n++) {
        float *yn = y + n * g->cout * Pout;
        for (int64_t o = 0; o < g->cout; o++)
            for (int64_t q = 0; q < Pout; q++)
                yn[o * Pout + q] = bias ? bias[o] : 0.0f;
        for (int64_t gi = 0; gi < g->groups; gi++) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(g->og * T), (int)Pin, (int)g->cg, 1.0f,
                        W + gi * g->cg * g->og * T, (int)(g->og * T), x + (n * g->cin + gi * g->cg) * Pin,
                        (int)Pin, 0.0f, col, (int)Pin);
            col2im_planar(g, di, dout, col, yn + gi * g->og * Pout);
        }
        sr_post(ctx, yn, (size_t)(g->cout * Pout));
    }
    return SR_OK;
}

size_t ct_planar_workspace(const cf_geo *g, const cf_dims *di, const cf_dims *dout)
{
    ctp_plan P;
    ctp_plan_get(g, di, dout, &P);
    return P.area;
}
