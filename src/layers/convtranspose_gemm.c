/*
 * convtranspose_gemm.c - ConvTranspose1d/2d/3d with AVX-512 (unless
 * ct_planar takes the layer): a packed GEMM per group and block of output
 * channels, then col2im (see convtranspose.c).
 */
#include "convtranspose.h"
#include "../gemm.h"
#include "../par.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- with AVX-512: packed GEMM, then col2im -------------------------------- */

#define CT_WB 32                          /* output channels per block: a panel per tap */
#define CT_ROWS_MAX 256                   /* GEMM rows per call */
#define CT_ROWS_WANT 192                  /* rows a task wants: samples per task */
#define CT_COL_MAX ((int64_t)1 << 17)     /* floats of col per GEMM call (512 KiB) */
#define CT_ACC_MAX ((int64_t)1 << 17)     /* floats of accumulator a task wants, at most */

/*
 * Border classes.  Near the edges some of an input pixel's taps fall
 * outside the output (padding crops them): with padding 1 a 4x4 input's
 * corner pixels have 9 of their 16 taps inside.  Along depth and height,
 * the positions whose taps inside form the same range [t0, t1) are a
 * class (a run of positions, few of them: the edges and the middle), and
 * the GEMM for a tap (a, b) of those dimensions runs over the rows of the
 * classes that have it alone: with the rows sorted by class, one
 * contiguous block of rows per depth class.  Along the width every tap is
 * computed (so that those blocks stay long, even for a micro-batch of
 * one or two samples) and col2im drops the ones cropped.
 */
#define CT_MAXCLS 16

typedef struct {
    int n;
    int64_t v0[CT_MAXCLS], v1[CT_MAXCLS];  /* positions [v0, v1) */
    int64_t t0[CT_MAXCLS], t1[CT_MAXCLS];  /* their taps inside the output: [t0, t1) */
} dim_cls;

/* The classes of one dimension; -1 if there are more than CT_MAXCLS. */
static int dim_classes(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, int64_t d, dim_cls *C)
{
    C->n = 0;
    for (int64_t v = 0; v < in; v++) {
        int64_t base = v * s - p; /* tap t lands on base + t * d */
        int64_t lo = base >= 0 ? 0 : (-base + d - 1) / d;
        int64_t hi = out - 1 - base >= 0 ? (out - 1 - base) / d + 1 : 0;
        lo = lo < k ? lo : k;
        hi = hi < k ? hi : k;
        hi = hi > lo ? hi : lo;
        if (C->n && C->t0[C->n - 1] == lo && C->t1[C->n - 1] == hi) {
            C->v1[C->n - 1] = v + 1;
            continue;
        }
        if (C->n == CT_MAXCLS)
            return -1;
        C->v0[C->n] = v;
        C->v1[C->n] = v + 1;
        C->t0[C->n] = lo;
        C->t1[C->n] = hi;
        C->n++;
    }
    return 0;
}

#define CT_XN_MAX ((int64_t)1 << 17)  /* floats of a task's input rows on the class path */

typedef struct {
    int64_t T, Pin, Pout;
    int64_t wb, nob;      /* channels per block (the group's last may have fewer), blocks per group */
    int64_t nb, nsb;      /* samples per task, blocks of samples */
    int64_t rows;         /* GEMM rows per call */
    size_t xt_f, col_f, acc_f, area;  /* floats of scratch per thread */
    size_t blk_f, grp_f;  /* packed floats of a full block, of a group's blocks */
    int cls;              /* full blocks run by border class (ct_task_cls) */
    dim_cls dc[2];        /* along depth and height */
    size_t xn_f;          /* that path's input rows, twice */
} ct_plan;

static void ct_plan_get(const cf_geo *g, const cf_dims *di, const cf_dims *dout, ct_plan *P)
{
    memset(P, 0, sizeof *P);
    P->T = g->k[0] * g->k[1] * g->k[2];
    P->Pin = di->sp[0] * di->sp[1] * di->sp[2];
    P->Pout = dout->sp[0] * dout->sp[1] * dout->sp[2];
    P->wb = g->og < CT_WB ? g->og : CT_WB;
    if (P->wb < 1)
        P->wb = 1;
    P->nob = (g->og + P->wb - 1) / P->wb;
    int64_t nb = (CT_ROWS_WANT + P->Pin - 1) / (P->Pin > 0 ? P->Pin : 1);
    int64_t amax = CT_ACC_MAX / (P->Pout * P->wb > 0 ? P->Pout * P->wb : 1);
    nb = nb < amax ? nb : amax;
    nb = nb < di->n ? nb : di->n;
    P->nb = nb > 0 ? nb : 1;
    P->nsb = (di->n + P->nb - 1) / P->nb;
    int64_t rows = CT_COL_MAX / (P->T * P->wb);
    rows = rows < CT_ROWS_MAX ? rows : CT_ROWS_MAX;
    rows = rows < P->nb * P->Pin ? rows : P->nb * P->Pin;
    P->rows = rows > 0 ? rows : 1;
    P->xt_f = cf_up16((size_t)(P->rows * g->cg));
    P->col_f = cf_up16((size_t)(P->rows * P->T * P->wb));
    P->acc_f = cf_up16((size_t)(P->nb * P->Pout * P->wb));
    P->area = P->xt_f + P->col_f + P->acc_f;
    /* by border class: when whole 32-channel blocks (a panel per tap) and
     * some pixels have taps outside the output */
    int waste = 0, ok = P->wb == CT_WB && P->Pin * g->cg <= CT_XN_MAX;
    for (int i = 0; i < 2 && ok; i++) {
        ok = dim_classes(di->sp[i], dout->sp[i], g->k[i], g->s[i], g->pb[i], g->d[i], &P->dc[i]) == 0;
        for (int c = 0; ok && c < P->dc[i].n; c++)
            waste |= P->dc[i].t1[c] - P->dc[i].t0[c] < g->k[i];
    }
    P->cls = ok && waste;
    if (P->cls) {
        int64_t nx = CT_XN_MAX / (P->Pin * g->cg);
        P->nb = P->nb < nx ? P->nb : nx > 0 ? nx : 1;
        P->nsb = (di->n + P->nb - 1) / P->nb;
        P->acc_f = cf_up16((size_t)(P->nb * P->Pout * P->wb));
        P->xn_f = cf_up16((size_t)(P->nb * P->Pin * g->cg));
        if (P->col_f < (size_t)CT_COL_MAX)
            P->col_f = (size_t)CT_COL_MAX;
        P->area = P->xt_f + P->col_f + P->acc_f + 2 * P->xn_f;
    }
    int64_t last = g->og - (P->nob - 1) * P->wb;
    P->blk_f = sr_gemm_packed_floats(P->T * P->wb, g->cg);
    P->grp_f = (size_t)(P->nob - 1) * P->blk_f + sr_gemm_packed_floats(P->T * last, g->cg);
}

/* Packs W [cin, og, T] per group and block of wb output channels as the
 * GEMM's [T * wb, cg] matrix, column (t, o) of row block... tap-major. */
static int ct_pack(const cf_geo *g, const ct_plan *P, const float *W, float *dst)
{
    int64_t T = P->T, cg = g->cg, og = g->og;
    float *tmp = malloc((size_t)(T * P->wb * cg) * sizeof *tmp);
    if (!tmp)
        return -1;
    for (int64_t gi = 0; gi < g->groups; gi++)
        for (int64_t b = 0; b < P->nob; b++) {
            int64_t o0 = b * P->wb, wbb = og - o0 < P->wb ? og - o0 : P->wb;
            for (int64_t t = 0; t < T; t++)
                for (int64_t o = 0; o < wbb; o++) {
                    float *row = tmp + (t * wbb + o) * cg;
                    const float *src = W + ((gi * cg) * og + o0 + o) * T + t;
                    for (int64_t c = 0; c < cg; c++)
                        row[c] = src[c * og * T];
                }
            sr_gemm_pack(tmp, T * wbb, cg, dst + gi * P->grp_f + b * P->blk_f);
        }
    free(tmp);
    return 0;
}

typedef struct {
    const cf_geo *g;
    const cf_dims *di, *dout;
    const ct_plan *P;
    const float *x, *bias, *wp;
    float *y, *work;
    const sr_ctx *ctx;
} ct_job;

/* dst[j * dld + i] = src[i * sld + j] for i < rows, j < cols: 16x16 blocks
 * transposed in registers (three rounds of shuffles), the edges one float
 * at a time. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx512f"))) static inline __attribute__((always_inline)) void
tr16(const float *src, int64_t sld, float *dst, int64_t dld)
{
    __m512 r[16], t[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        r[i] = _mm512_loadu_ps(src + i * sld);
#pragma GCC unroll 8
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xee);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
#pragma GCC unroll 2
    for (int h = 0; h < 16; h += 8)
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
            t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
        }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++)
        _mm512_storeu_ps(dst + j * dld, r[j]);
}

__attribute__((target("avx512f"))) static void transpose(const float *src, int64_t sld, float *dst, int64_t dld,
                                                          int64_t rows, int64_t cols)
{
    int64_t r16 = rows & ~(int64_t)15, c16 = cols & ~(int64_t)15;
    for (int64_t i = 0; i < r16; i += 16)
        for (int64_t j = 0; j < c16; j += 16)
            tr16(src + i * sld + j, sld, dst + j * dld + i, dld);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = i < r16 ? c16 : 0; j < cols; j++)
            dst[j * dld + i] = src[i * sld + j];
}
#else
static void transpose(const float *src, int64_t sld, float *dst, int64_t dld, int64_t rows, int64_t cols)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            dst[j * dld + i] = src[i * sld + j];
}
#endif

/* xt[r - r0][c] = x[n][c][pin] for rows r = n * Pin + pin in [r0, r1): the
 * group's channels (cg of them, from xs; a sample is xstride floats). */
static void gather_rows(const float *xs, int64_t xstride, int64_t Pin, int64_t cg, int64_t r0, int64_t r1,
                        float *xt)
{
    for (int64_t r = r0; r < r1;) {
        int64_t n = r / Pin, pin = r % Pin, run = Pin - pin < r1 - r ? Pin - pin : r1 - r;
        transpose(xs + n * xstride + pin, Pin, xt + (r - r0) * cg, cg, cg, run);
        r += run;
    }
}

/* acc[pixel][o] = bias[o] (or 0) for `pixels` pixels of wbb channels */
static SR_VEC_VOID(acc_init, (float *restrict acc, int64_t pixels, int64_t wbb, const float *restrict bias),
                   (acc, pixels, wbb, bias))
{
    for (int64_t q = 0; q < pixels; q++)
        for (int64_t o = 0; o < wbb; o++)
            acc[q * wbb + o] = bias ? bias[o] : 0.0f;
}

/* The rows r0..r1 of col (Nb = T * wbb floats each, taps in order) added
 * into acc [sample][output pixel][wbb], tap by tap. */
typedef struct {
    int64_t Pin, Pout, wbb, Nb;
    int64_t isp[3], osp[3], k[3], s[3], p[3], d[3];
} c2i_geo;

static SR_VEC_VOID(col2im_rows, (const c2i_geo *G, const float *restrict col, int64_t r0, int64_t r1,
                                 float *restrict acc), (G, col, r0, r1, acc))
{
    const int64_t wbb = G->wbb;
    for (int64_t r = r0; r < r1; r++) {
        int64_t n = r / G->Pin, pin = r % G->Pin;
        int64_t i2 = pin % G->isp[2], i1 = pin / G->isp[2] % G->isp[1], i0 = pin / (G->isp[1] * G->isp[2]);
        const float *cr = col + (r - r0) * G->Nb;
        float *an = acc + n * G->Pout * wbb;
        for (int64_t a = 0; a < G->k[0]; a++) {
            int64_t o0 = i0 * G->s[0] - G->p[0] + a * G->d[0];
            if (o0 < 0 || o0 >= G->osp[0])
                continue;
            for (int64_t b = 0; b < G->k[1]; b++) {
                int64_t o1 = i1 * G->s[1] - G->p[1] + b * G->d[1];
                if (o1 < 0 || o1 >= G->osp[1])
                    continue;
                for (int64_t c = 0; c < G->k[2]; c++) {
                    int64_t o2 = i2 * G->s[2] - G->p[2] + c * G->d[2];
                    if (o2 < 0 || o2 >= G->osp[2])
                        continue;
                    const float *src = cr + ((a * G->k[1] + b) * G->k[2] + c) * wbb;
                    float *dst = an + ((o0 * G->osp[1] + o1) * G->osp[2] + o2) * wbb;
                    for (int64_t o = 0; o < wbb; o++)
                        dst[o] += src[o];
                }
            }
        }
    }
}

/* acc[sample][output pixel][32] += col for rows r0..r1 of one box of
 * classes (bs = b0 * b1 * W rows a sample from position v0, v1) and taps
 * (a, b, c) for every c whose output column is inside. */
typedef struct {
    int64_t bs, b1, v[2], a, b, Pout, W, k2;
    int64_t osp[3], s[3], p[3], d[3];
} cls_geo;

static SR_VEC_VOID(col2im_cls, (const cls_geo *G, const float *restrict col, int64_t r0, int64_t r1,
                                float *restrict acc), (G, col, r0, r1, acc))
{
    int64_t nc = G->k2 * CT_WB;
    for (int64_t r = r0; r < r1; r++) {
        int64_t n = r / G->bs, q = r % G->bs;
        int64_t i0 = G->v[0] + q / (G->b1 * G->W), i1 = G->v[1] + q / G->W % G->b1, i2 = q % G->W;
        int64_t o0 = i0 * G->s[0] - G->p[0] + G->a * G->d[0], o1 = i1 * G->s[1] - G->p[1] + G->b * G->d[1];
        float *base = acc + (n * G->Pout + (o0 * G->osp[1] + o1) * G->osp[2]) * CT_WB;
        const float *src = col + (r - r0) * nc;
        for (int64_t c = 0; c < G->k2; c++, src += CT_WB) {
            int64_t o2 = i2 * G->s[2] - G->p[2] + c * G->d[2];
            if (o2 < 0 || o2 >= G->osp[2])
                continue;
            float *dst = base + o2 * CT_WB;
            for (int o = 0; o < CT_WB; o++)
                dst[o] += src[o];
        }
    }
}

/* A full block of 32 channels by border class (see dim_cls): the rows
 * sorted by (depth class, height class, sample, pixel), then per tap
 * (a, b) and depth class that has a, one GEMM over the rows of the height
 * classes that have b (contiguous) and every width tap, col2im at once.
 * An output gets its taps in order of (a, b, depth class, height class,
 * input pixel, c), whatever the samples per task or the GEMM's row
 * blocks. */
static void ct_task_cls(const ct_job *J, const float *xs, const float *wp, float *area, int64_t nn, float *acc)
{
    const ct_plan *P = J->P;
    const cf_geo *g = J->g;
    const int64_t *is = J->di->sp, cg = g->cg, W = is[2];
    float *col = area + P->xt_f, *xn = acc + P->acc_f, *xc = xn + P->xn_f;
    for (int64_t n = 0; n < nn; n++)
        transpose(xs + n * g->cin * P->Pin, P->Pin, xn + n * P->Pin * cg, cg, cg, P->Pin);
    const dim_cls *D = P->dc;
    int64_t off[CT_MAXCLS][CT_MAXCLS + 1], row = 0;
    for (int c0 = 0; c0 < D[0].n; c0++) {
        for (int c1 = 0; c1 < D[1].n; c1++) {
            off[c0][c1] = row;
            for (int64_t n = 0; n < nn; n++)
                for (int64_t i0 = D[0].v0[c0]; i0 < D[0].v1[c0]; i0++)
                    for (int64_t i1 = D[1].v0[c1]; i1 < D[1].v1[c1]; i1++, row += W)
                        memcpy(xc + row * cg, xn + (n * P->Pin + (i0 * is[1] + i1) * W) * cg,
                               (size_t)(W * cg) * sizeof *xc);
        }
        off[c0][D[1].n] = row;
    }
    cls_geo G = {.Pout = P->Pout, .W = W, .k2 = g->k[2]};
    for (int i = 0; i < 3; i++) {
        G.osp[i] = J->dout->sp[i];
        G.s[i] = g->s[i];
        G.p[i] = g->pb[i];
        G.d[i] = g->d[i];
    }
    int64_t ncol = g->k[2] * CT_WB, R = CT_COL_MAX / ncol;
    R = R > 0 ? R : 1;
    for (G.a = 0; G.a < g->k[0]; G.a++)
        for (G.b = 0; G.b < g->k[1]; G.b++) {
            const float *wpp = sr_gemm_packed_cols(wp, cg, (G.a * g->k[1] + G.b) * g->k[2] * CT_WB);
            /* the height classes that have tap b: a run of them */
            int h0 = 0, h1;
            while (h0 < D[1].n && !(D[1].t0[h0] <= G.b && G.b < D[1].t1[h0]))
                h0++;
            for (h1 = h0; h1 < D[1].n && D[1].t0[h1] <= G.b && G.b < D[1].t1[h1]; h1++)
                ;
            for (int c0 = 0; c0 < D[0].n && h0 < h1; c0++) {
                if (G.a < D[0].t0[c0] || G.a >= D[0].t1[c0])
                    continue;
                int64_t b0 = D[0].v1[c0] - D[0].v0[c0], first = off[c0][h0], end = off[c0][h1];
                G.v[0] = D[0].v0[c0];
                for (int64_t r0 = first; r0 < end; r0 += R) {
                    int64_t r1 = r0 + R < end ? r0 + R : end;
                    sr_gemm(wpp, xc + r0 * cg, NULL, col, r1 - r0, ncol, cg, 1, NULL, NULL);
                    /* col2im box by box (height class) */
                    for (int c1 = h0; c1 < h1; c1++) {
                        int64_t lo = off[c0][c1] > r0 ? off[c0][c1] : r0;
                        int64_t hi = off[c0][c1 + 1] < r1 ? off[c0][c1 + 1] : r1;
                        if (lo >= hi)
                            continue;
                        G.b1 = D[1].v1[c1] - D[1].v0[c1];
                        G.v[1] = D[1].v0[c1];
                        G.bs = b0 * G.b1 * W;
                        col2im_cls(&G, col + (lo - r0) * ncol, lo - off[c0][c1], hi - off[c0][c1], acc);
                    }
                }
            }
        }
}

static void ct_task(void *arg, int64_t task, int tid)
{
    const ct_job *J = arg;
    const ct_plan *P = J->P;
    const cf_geo *g = J->g;
    int64_t sb = task % P->nsb, gb = task / P->nsb, gi = gb / P->nob, b = gb % P->nob;
    int64_t n0 = sb * P->nb, n1 = n0 + P->nb < J->di->n ? n0 + P->nb : J->di->n, nn = n1 - n0;
    int64_t o0 = b * P->wb, wbb = g->og - o0 < P->wb ? g->og - o0 : P->wb, oc = gi * g->og + o0;
    float *xt = J->work + (size_t)tid * P->area, *col = xt + P->xt_f, *acc = col + P->col_f;
    const float *wp = J->wp + gi * P->grp_f + b * P->blk_f;
    c2i_geo G = {.Pin = P->Pin, .Pout = P->Pout, .wbb = wbb, .Nb = P->T * wbb};
    for (int i = 0; i < 3; i++) {
        G.isp[i] = J->di->sp[i];
        G.osp[i] = J->dout->sp[i];
        G.k[i] = g->k[i];
        G.s[i] = g->s[i];
        G.p[i] = g->pb[i];
        G.d[i] = g->d[i];
    }
    acc_init(acc, nn * P->Pout, wbb, J->bias ? J->bias + oc : NULL);
    const float *xs = J->x + (n0 * g->cin + gi * g->cg) * P->Pin;
    int64_t M = P->cls && wbb == CT_WB ? 0 : nn * P->Pin;
    if (!M)
        ct_task_cls(J, xs, wp, xt, nn, acc);
    for (int64_t r0 = 0; r0 < M; r0 += P->rows) {
        int64_t r1 = r0 + P->rows < M ? r0 + P->rows : M;
        gather_rows(xs, g->cin * P->Pin, P->Pin, g->cg, r0, r1, xt);
        sr_gemm(wp, xt, NULL, col, r1 - r0, G.Nb, g->cg, 1, NULL, NULL);
        col2im_rows(&G, col, r0, r1, acc);
    }
    for (int64_t n = n0; n < n1; n++) {
        float *yo = J->y + (n * g->cout + oc) * P->Pout;
        /* y[o][q] = acc[q][o] */
        transpose(acc + (n - n0) * P->Pout * wbb, wbb, yo, P->Pout, P->Pout, wbb);
        sr_post(J->ctx, yo, (size_t)(wbb * P->Pout));
    }
}

typedef struct {
    const cf_geo *g;
    const ct_plan *P;
    const float *W;
} pack_arg;

static int fill_packed(const void *arg, float *dst)
{
    const pack_arg *A = arg;
    return ct_pack(A->g, A->P, A->W, dst);
}

const float *ct_gemm_weights(const cf_geo *g, const cf_dims *di, const cf_dims *dout, const float *W, sr_ctx *ctx,
                             ct_cache **own)
{
    ct_plan P;
    ct_plan_get(g, di, dout, &P);
    pack_arg A = {.g = g, .P = &P, .W = W};
    return ct_prepared(ctx, CT_PIXEL_ROWS, (size_t)g->groups * P.grp_f, own, fill_packed, &A);
}

void ct_forward_gemm(const cf_geo *g, const cf_dims *di, const cf_dims *dout, const float *wp, const float *bias,
                     const float *x, float *y, sr_ctx *ctx)
{
    ct_plan P;
    ct_plan_get(g, di, dout, &P);
    ct_job J = {.g = g, .di = di, .dout = dout, .P = &P, .x = x, .bias = bias, .wp = wp, .y = y,
                .work = ctx->work, .ctx = ctx};
    int64_t tasks = g->groups * P.nob * P.nsb;
    sr_par_for(ctx->threads > 1 ? ctx->threads : 1, tasks, ct_task, &J);
}

size_t ct_gemm_workspace(const cf_geo *g, const cf_dims *di, const cf_dims *dout)
{
    ct_plan P;
    ct_plan_get(g, di, dout, &P);
    return P.area;
}
