/*
 * pool3d.c - MaxPool3d, AvgPool3d, AdaptiveAvgPool3d, AdaptiveMaxPool3d.
 *
 * Input (N, C, D, H, W) or, unbatched, (C, D, H, W); every (n, c) volume
 * is pooled on its own.  Output sizes, window placement and divisors
 * follow PyTorch 1.13's CPU kernels (Pool.h's pooling_output_shape and
 * pool3d_shape_check, AveragePool3d.cpp, DilatedMaxPool3d.cpp,
 * AdaptiveAveragePooling3d.cpp, AdaptiveMaxPooling3d.cpp), including their
 * quirks: AvgPool3d rejects an input smaller than the kernel even where
 * padding would make it fit, and max pooling lets NaN win.
 *
 * The kernels run output row by output row: for each (kd, kh) tap row
 * inside the input and each kw, a loop over the output columns whose tap
 * falls inside the row (a closed-form range), which vectorises; every
 * output gets its taps in PyTorch's (kd, kh, kw) order whatever the
 * threads, which split the work by volumes and depth slices.
 */
#include "pool_common.h"
#include "../par.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define P3_ARG_MAX (1 << 30)

enum { P3_AVG, P3_MAX }; /* the sliding rows' variant */

/* MaxPool3d's and AvgPool3d's argument indices */
enum { P3_KERNEL, P3_STRIDE, P3_PAD };
enum { P3_MAX_DIL = P3_PAD + 1, P3_MAX_RETIDX, P3_MAX_CEIL };
enum { P3_AVG_CEIL = P3_PAD + 1, P3_AVG_CIP, P3_AVG_DIVISOR };
/* the adaptive rows' */
enum { P3_ADAPT_SIZE, P3_ADAPT_RETIDX };

typedef struct {
    int is_max;
    int64_t k[3], s[3], p[3], d[3];
    int ceil, cip, has_div;
    int64_t div;
} p3_cfg;

static void tuple3(const sr_layer *L, int k, int64_t *v)
{
    sr_arg_tuple(L, k, 3, v);
}

/* "(3, 3, 3)" */
static const char *tup3(const int64_t *v, char *buf, size_t len)
{
    return sr_pool_tup(v, 3, buf, len);
}

/* "5x7x9" */
static const char *ext3(const int64_t *v, char *buf, size_t len)
{
    return sr_pool_ext(v, 3, buf, len);
}

SR_VALIDATE_FN(p3_validate)
{
    p3_cfg *c = L->cfg;
    memset(c, 0, sizeof *c);
    c->is_max = L->type->variant == P3_MAX;
    tuple3(L, P3_KERNEL, c->k);
    if (sr_arg_is_none(L, P3_STRIDE))
        memcpy(c->s, c->k, sizeof c->s); /* stride=None means stride=kernel_size */
    else
        tuple3(L, P3_STRIDE, c->s);
    tuple3(L, P3_PAD, c->p);
    c->d[0] = c->d[1] = c->d[2] = 1;
    if (c->is_max) {
        tuple3(L, P3_MAX_DIL, c->d);
        c->ceil = (int)sr_argi(L, P3_MAX_CEIL);
    } else {
        c->ceil = (int)sr_argi(L, P3_AVG_CEIL);
        c->cip = (int)sr_argi(L, P3_AVG_CIP);
        c->has_div = !sr_arg_is_none(L, P3_AVG_DIVISOR);
        c->div = c->has_div ? sr_argi(L, P3_AVG_DIVISOR) : 0;
    }
    char a[80];
    for (int i = 0; i < 3; i++) {
        if (c->k[i] <= 0)
            return sr_err(err, SR_EUSAGE, "kernel_size should be greater than zero, but got %s", tup3(c->k, a, sizeof a));
        if (c->s[i] <= 0)
            return sr_err(err, SR_EUSAGE, "stride should be greater than zero, but got %s", tup3(c->s, a, sizeof a));
        if (c->d[i] <= 0)
            return sr_err(err, SR_EUSAGE, "dilation should be greater than zero, but got %s", tup3(c->d, a, sizeof a));
        if (c->p[i] < 0)
            return sr_err(err, SR_EUSAGE, "padding must be non-negative, but got %s", tup3(c->p, a, sizeof a));
        /* keeps every size computed from them far from int64 overflow */
        if (c->k[i] > P3_ARG_MAX || c->s[i] > P3_ARG_MAX || c->d[i] > P3_ARG_MAX || c->p[i] > P3_ARG_MAX)
            return sr_err(err, SR_EUSAGE, "kernel_size, stride, padding and dilation must be at most %d", P3_ARG_MAX);
    }
    for (int i = 0; i < 3; i++)
        if (c->p[i] > c->k[i] / 2)
            return sr_pool_pad_error(c->k, c->p, 3, err);
    if (c->is_max && sr_argi(L, P3_MAX_RETIDX))
        return sr_pool_indices_error(L, err);
    if (c->has_div && c->div == 0)
        return sr_err(err, SR_EUSAGE, "divisor must be not zero; hint: leave divisor_override out (None) to divide "
                      "by the window size");
    return SR_OK;
}

/* Rank and emptiness, as pool3d_shape_check: (C, D, H, W) or (N, C, D, H, W)
 * with every non-batch dimension non-empty. */
static sr_status p3_input_check(const sr_layer *L, const sr_shape *in, const sr_shapeinfo *info, char *err)
{
    char src[256];
    if (in->ndim != 4 && in->ndim != 5) {
        const char *hint = in->ndim == 3 ? "a (C, H, W) image wants the 2d variant of this layer; a volume needs "
                                           "its depth dimension (Unflatten can restore it)"
                         : in->ndim < 3 ? "restore the channel and spatial dimensions with Unflatten before this "
                                          "layer"
                                        : "give it (C, D, H, W) or (N, C, D, H, W) data";
        return sr_err(err, SR_ESHAPE, "%s expects a 4-D (C, D, H, W) or 5-D (N, C, D, H, W) input, but input %s%s "
                      "is %d-D; hint: %s", L->type->name, sr_shp(in), sr_from(info, 1, src, sizeof src), in->ndim,
                      hint);
    }
    return sr_pool_check_nonempty(L, 3, in, info, err);
}

SR_SHAPE_FN(p3_shape)
{
    const p3_cfg *c = SR_CFG(L, p3_cfg);
    sr_status st = p3_input_check(L, in, info, err);
    if (st != SR_OK)
        return st;
    /* every (batch, channel) volume is pooled on its own, so dim 0 -- batch
     * or channel -- can always be split */
    info->batch_dim0 = 1;
    const int64_t *isz = in->d + in->ndim - 3;
    int64_t osz[3], need[3];
    int fits = 1, small = 0;
    for (int i = 0; i < 3; i++) {
        osz[i] = sr_pool_out(isz[i], c->k[i], c->p[i], c->s[i], c->d[i], c->ceil);
        need[i] = sr_pool_least_input(c->k[i], c->p[i], c->s[i], c->d[i], c->ceil);
        /* avg_pool3d checks the unpadded input against the kernel first */
        if (!c->is_max && need[i] < c->k[i])
            need[i] = c->k[i];
        if (!c->is_max && isz[i] < c->k[i])
            small = 1;
        fits &= osz[i] >= 1 && isz[i] >= need[i];
    }
    *out = *in;
    for (int i = 0; i < 3; i++)
        out->d[in->ndim - 3 + i] = osz[i] > 0 ? osz[i] : 0;
    info->out_known = fits;
    if (fits)
        return SR_OK;
    char a[80], b[80], e[80], f[80], g[256], h[80], m[80];
    if (small)
        return sr_err(err, SR_ESHAPE,
                      "input %s%s is %s, smaller than kernel_size=%s (AvgPool3d compares the input before "
                      "padding with the kernel); hint: AvgPool3d fits inputs of at least %s here: remove a "
                      "downsampling step before it, or use a smaller kernel_size",
                      sr_shp(in), sr_from(info, 1, g, sizeof g), ext3(isz, a, sizeof a), tup3(c->k, b, sizeof b),
                      ext3(need, f, sizeof f));
    int dil = c->d[0] != 1 || c->d[1] != 1 || c->d[2] != 1;
    return sr_err(err, SR_ESHAPE,
                  "input %s%s is %s, too small for kernel_size=%s with padding=%s%s%s: the output would be %s "
                  "(Output size is too small); hint: %s fits inputs of at least %s here: remove a downsampling "
                  "step before it, or use a smaller kernel_size",
                  sr_shp(in), sr_from(info, 1, g, sizeof g), ext3(isz, a, sizeof a), tup3(c->k, b, sizeof b),
                  tup3(c->p, e, sizeof e), dil ? " and dilation=" : "", dil ? tup3(c->d, f, sizeof f) : "",
                  ext3(osz, h, sizeof h), L->type->name, ext3(need, m, sizeof m));
}

/* Output columns [lo, hi) whose tap at offset `off` (= kw * dilation -
 * padding) lands inside a row of W: 0 <= ow*s + off < W. */
static void tap_range(int64_t off, int64_t s, int64_t W, int64_t OW, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = W - off <= 0 ? 0 : (W - off - 1) / s + 1;
    *lo = a < OW ? a : OW;
    *hi = b < OW ? b : OW;
    if (*hi < *lo)
        *hi = *lo;
}

/* y[o] = max(y[o], row[o*s + off]) for o in [lo, hi) */
static SR_VEC_VOID(max_taps, (float *y, const float *row, int64_t off, int64_t lo, int64_t hi, int64_t s),
                   (y, row, off, lo, hi, s))
{
    for (int64_t o = lo; o < hi; o++)
        y[o] = sr_pool_nanmax(y[o], row[o * s + off]);
}

static SR_VEC_VOID(max_taps1, (float *y, const float *row, int64_t off, int64_t lo, int64_t hi),
                   (y, row, off, lo, hi))
{
    for (int64_t o = lo; o < hi; o++)
        y[o] = sr_pool_nanmax(y[o], row[o + off]);
}

/* acc[o] += row[o*s + off] for o in [lo, hi) */
static SR_VEC_VOID(add_taps, (double *acc, const float *row, int64_t off, int64_t lo, int64_t hi, int64_t s),
                   (acc, row, off, lo, hi, s))
{
    for (int64_t o = lo; o < hi; o++)
        acc[o] += (double)row[o * s + off];
}

static SR_VEC_VOID(add_taps1, (double *acc, const float *row, int64_t off, int64_t lo, int64_t hi),
                   (acc, row, off, lo, hi))
{
    for (int64_t o = lo; o < hi; o++)
        acc[o] += (double)row[o + off];
}

typedef struct {
    const p3_cfg *c;
    const float *x;
    float *y;
    int64_t D, H, W, OD, OH, OW;
} p3_job;

#define P3_CHUNK 256 /* output columns per double accumulator block */

/* One depth slice (volume q, output depth od) of a sliding pool. */
static void p3_slice(void *arg, int64_t t, int tid)
{
    (void)tid;
    const p3_job *J = arg;
    const p3_cfg *c = J->c;
    int64_t q = t / J->OD, od = t % J->OD;
    const float *x = J->x + q * J->D * J->H * J->W;
    float *yd = J->y + (q * J->OD + od) * J->OH * J->OW;
    int64_t H = J->H, W = J->W, OW = J->OW;
    int64_t ds = od * c->s[0] - c->p[0];
    double acc[P3_CHUNK];
    for (int64_t oh = 0; oh < J->OH; oh++) {
        int64_t hs = oh * c->s[1] - c->p[1];
        float *y = yd + oh * OW;
        if (c->is_max) {
            for (int64_t o = 0; o < OW; o++)
                y[o] = -INFINITY;
            for (int64_t kd = 0; kd < c->k[0]; kd++) {
                int64_t d = ds + kd * c->d[0];
                if (d < 0 || d >= J->D)
                    continue;
                for (int64_t kh = 0; kh < c->k[1]; kh++) {
                    int64_t h = hs + kh * c->d[1];
                    if (h < 0 || h >= H)
                        continue;
                    const float *row = x + (d * H + h) * W;
                    for (int64_t kw = 0; kw < c->k[2]; kw++) {
                        int64_t off = kw * c->d[2] - c->p[2], lo, hi;
                        tap_range(off, c->s[2], W, OW, &lo, &hi);
                        if (c->s[2] == 1)
                            max_taps1(y, row, off, lo, hi);
                        else
                            max_taps(y, row, off, lo, hi, c->s[2]);
                    }
                }
            }
            continue;
        }
        /* average: the window clipped to the padded input is what
         * count_include_pad counts (AveragePool3d.cpp) */
        int64_t de = ds + c->k[0] < J->D + c->p[0] ? ds + c->k[0] : J->D + c->p[0];
        int64_t he = hs + c->k[1] < H + c->p[1] ? hs + c->k[1] : H + c->p[1];
        int64_t pd = de - ds, ph = he - hs;
        int64_t d0 = ds < 0 ? 0 : ds, d1 = de < J->D ? de : J->D;
        int64_t h0 = hs < 0 ? 0 : hs, h1 = he < H ? he : H;
        for (int64_t o0 = 0; o0 < OW; o0 += P3_CHUNK) {
            int64_t n = OW - o0 < P3_CHUNK ? OW - o0 : P3_CHUNK;
            for (int64_t o = 0; o < n; o++)
                acc[o] = 0.0;
            for (int64_t d = d0; d < d1; d++) {
                for (int64_t h = h0; h < h1; h++) {
                    const float *row = x + (d * H + h) * W;
                    for (int64_t kw = 0; kw < c->k[2]; kw++) {
                        int64_t off = (o0 * c->s[2]) + kw - c->p[2], lo, hi;
                        tap_range(off, c->s[2], W, n, &lo, &hi);
                        if (c->s[2] == 1)
                            add_taps1(acc, row, off, lo, hi);
                        else
                            add_taps(acc, row, off, lo, hi, c->s[2]);
                    }
                }
            }
            for (int64_t o = 0; o < n; o++) {
                int64_t ws = (o0 + o) * c->s[2] - c->p[2];
                int64_t we = ws + c->k[2] < W + c->p[2] ? ws + c->k[2] : W + c->p[2];
                int64_t pool = pd * ph * (we - ws);
                int64_t w0 = ws < 0 ? 0 : ws, w1 = we < W ? we : W;
                int64_t inside = (d1 - d0) * (h1 - h0) * (w1 - w0);
                int64_t div = c->has_div ? c->div : c->cip ? pool : inside;
                /* a window wholly in the padding cannot occur (padding <= k/2
                 * and the last window starts inside), but ATen writes 0 */
                y[o0 + o] = d0 >= d1 || h0 >= h1 || w0 >= w1 ? 0.0f : (float)(acc[o] / (double)div);
            }
        }
    }
}

/* Threads only for work worth it: outputs times window taps. */
#define P3_PAR_WORK ((int64_t)1 << 16)

static void p3_run(int64_t tasks, double work, const sr_ctx *ctx, void (*fn)(void *, int64_t, int), void *J)
{
    int threads = work >= (double)P3_PAR_WORK && ctx->threads > 1 ? ctx->threads : 1;
    if (threads > tasks)
        threads = (int)(tasks > 0 ? tasks : 1);
    sr_par_for(threads, tasks, fn, J);
}

SR_FORWARD_FN(p3_forward)
{
    (void)err;
    const p3_cfg *c = SR_CFG(L, p3_cfg);
    const sr_shape *is = &in->shape, *os = &out->shape;
    int r = is->ndim;
    p3_job J = {.c = c, .x = sr_f32(in), .y = sr_f32(out), .D = is->d[r - 3], .H = is->d[r - 2],
                .W = is->d[r - 1], .OD = os->d[r - 3], .OH = os->d[r - 2], .OW = os->d[r - 1]};
    int64_t planes = sr_prod(is, 0, r - 3);
    int64_t numel = sr_shape_numel(os);
    if (numel <= 0)
        return SR_OK;
    p3_run(planes * J.OD, (double)numel * (double)c->k[0] * (double)c->k[1] * (double)c->k[2], ctx, p3_slice, &J);
    return SR_OK;
}

/* ---- adaptive pools -------------------------------------------------------- */

SR_VALIDATE_FN(p3_adaptive_validate)
{
    const sr_argval *v = &L->arg[P3_ADAPT_SIZE];
    int n = v->kind == SR_AV_TUPLE ? v->n : 1;
    for (int j = 0; j < n; j++) {
        if (v->kind == SR_AV_TUPLE && v->tnone[j])
            continue;
        int64_t x = v->kind == SR_AV_TUPLE ? v->t[j] : v->i;
        char buf[96];
        sr_argval_repr(v, buf, sizeof buf);
        if (x < 0)
            return sr_err(err, SR_EUSAGE, "elements of output_size must be greater than or equal to 0, got %s", buf);
        if (x > P3_ARG_MAX)
            return sr_err(err, SR_EUSAGE, "output_size items must be at most %d, got %s", P3_ARG_MAX, buf);
    }
    if (L->type->nargs > P3_ADAPT_RETIDX && sr_argi(L, P3_ADAPT_RETIDX))
        return sr_pool_indices_error(L, err);
    return SR_OK;
}

SR_SHAPE_FN(p3_adaptive_shape)
{
    sr_status st = p3_input_check(L, in, info, err);
    if (st != SR_OK)
        return st;
    info->batch_dim0 = 1;
    int64_t o[3];
    sr_pool_adaptive_size(L, in, 3, o);
    *out = *in;
    for (int i = 0; i < 3; i++)
        out->d[in->ndim - 3 + i] = o[i];
    info->out_known = 1;
    return sr_pool_check_output(L, 3, in, out, info, err);
}

/* t[w] = max(t[w], x[w]) */
static SR_VEC_VOID(max_rows, (float *t, const float *x, int64_t n), (t, x, n))
{
    for (int64_t i = 0; i < n; i++)
        t[i] = sr_pool_nanmax(t[i], x[i]);
}

/* t[w] += x[w] */
static SR_VEC_VOID(add_rows, (double *t, const float *x, int64_t n), (t, x, n))
{
    for (int64_t i = 0; i < n; i++)
        t[i] += (double)x[i];
}

typedef struct {
    const float *x;
    float *y;
    float *work;          /* per thread: `per` floats */
    size_t per;
    int64_t D, H, W, OD, OH, OW;
    int mx;
} pa_job;

/* Scratch per thread: one row of W doubles, and slack to align it. */
static SR_WORKSPACE_FN(p3_adaptive_workspace)
{
    (void)L;
    (void)out;
    return 2 * (size_t)in->d[in->ndim - 1] + 4;
}

/*
 * One depth slice (volume q, output depth od).  Each output row oh first
 * reduces its window's (d, h) input rows into one row (a loop over W that
 * vectorises), then each output column reduces its stretch of that row:
 * a fixed order per output whatever the threads.  (The maximum of a set
 * does not depend on the order, but for which of +0 and -0 it keeps, and
 * NaN wins either way.)  A whole-volume window (global pooling) sums its
 * contiguous run directly.
 */
static void pa_slice(void *arg, int64_t t, int tid)
{
    const pa_job *J = arg;
    int64_t q = t / J->OD, od = t % J->OD, D = J->D, H = J->H, W = J->W;
    const float *x = J->x + q * D * H * W;
    float *y = J->y + (q * J->OD + od) * J->OH * J->OW;
    int64_t ds = sr_pool_astart(od, J->OD, D), de = sr_pool_aend(od, J->OD, D);
    if (!J->mx && J->OH == 1 && J->OW == 1) {
        y[0] = (float)(sr_pool_sum(x + ds * H * W, (de - ds) * H * W) / (double)((de - ds) * H * W));
        return;
    }
    uintptr_t a = (uintptr_t)(J->work + (size_t)tid * J->per);
    double *acc = (double *)((a + 15) & ~(uintptr_t)15);
    float *row = (float *)acc;
    for (int64_t oh = 0; oh < J->OH; oh++) {
        int64_t hs = sr_pool_astart(oh, J->OH, H), he = sr_pool_aend(oh, J->OH, H);
        if (J->mx) {
            for (int64_t w = 0; w < W; w++)
                row[w] = -INFINITY;
            for (int64_t d = ds; d < de; d++)
                for (int64_t h = hs; h < he; h++)
                    max_rows(row, x + (d * H + h) * W, W);
        } else {
            for (int64_t w = 0; w < W; w++)
                acc[w] = 0.0;
            for (int64_t d = ds; d < de; d++)
                for (int64_t h = hs; h < he; h++)
                    add_rows(acc, x + (d * H + h) * W, W);
        }
        int64_t cnt = (de - ds) * (he - hs);
        for (int64_t ow = 0; ow < J->OW; ow++) {
            int64_t ws = sr_pool_astart(ow, J->OW, W), we = sr_pool_aend(ow, J->OW, W);
            if (J->mx) {
                float m = -INFINITY;
                for (int64_t w = ws; w < we; w++)
                    m = sr_pool_nanmax(m, row[w]);
                y[oh * J->OW + ow] = m;
            } else {
                double sum = 0;
                for (int64_t w = ws; w < we; w++)
                    sum += acc[w];
                y[oh * J->OW + ow] = (float)(sum / (double)(cnt * (we - ws)));
            }
        }
    }
}

SR_FORWARD_FN(p3_adaptive_forward)
{
    (void)err;
    const sr_shape *is = &in->shape, *os = &out->shape;
    int r = is->ndim;
    pa_job J = {.x = sr_f32(in), .y = sr_f32(out), .D = is->d[r - 3], .H = is->d[r - 2], .W = is->d[r - 1],
                .OD = os->d[r - 3], .OH = os->d[r - 2], .OW = os->d[r - 1], .mx = L->type->variant == P3_MAX,
                .work = ctx->work, .per = p3_adaptive_workspace(L, is, os)};
    int64_t planes = sr_prod(is, 0, r - 3);
    if (sr_shape_numel(os) <= 0)
        return SR_OK;
    float *own = NULL;
    if (!ctx->work || ctx->work_len < J.per * (size_t)(ctx->threads > 1 ? ctx->threads : 1)) {
        /* a plain call without the executor's scratch: one thread, its own */
        own = sr_xmalloc(J.per * sizeof *own);
        if (!own)
            return sr_err(err, SR_ERUN, "out of memory");
        J.work = own;
        sr_ctx one = *ctx;
        one.threads = 1;
        p3_run(planes * J.OD, 0, &one, pa_slice, &J);
        free(own);
        return SR_OK;
    }
    /* each output reads about (input / output) elements, at least one */
    p3_run(planes * J.OD, (double)sr_shape_numel(is) + (double)sr_shape_numel(os), ctx, pa_slice, &J);
    return SR_OK;
}

/* ---- rows ----------------------------------------------------------------- */

SR_MAXPOOL_ARGS(a_maxpool3d, 3);
SR_AVGPOOL_ARGS(a_avgpool3d, 3);
static const sr_argdef a_adaptiveavg3d[] = {{"output_size", T_T | SR_T_TNONE, NULL, NULL, 3}};
static const sr_argdef a_adaptivemax3d[] = {
    {"output_size", T_T | SR_T_TNONE, NULL, NULL, 3},
    {"return_indices", T_B, "False", NULL, 0},
};

SR_ROW(MaxPool3d, .summary = "maximum over sliding windows of (N, C, D, H, W)", SR_ARGS(a_maxpool3d),
       .repr = SR_MAXPOOL_REPR, .variant = P3_MAX,
       .cfg_size = sizeof(p3_cfg), .validate = p3_validate, .shape = p3_shape, .forward = p3_forward);
SR_ROW(AvgPool3d, .summary = "average over sliding windows of (N, C, D, H, W)", SR_ARGS(a_avgpool3d),
       .repr = "kernel_size=, stride=|kernel_size, padding=", .variant = P3_AVG, .cfg_size = sizeof(p3_cfg),
       .validate = p3_validate, .shape = p3_shape, .forward = p3_forward);
SR_ROW(AdaptiveAvgPool3d, .summary = "average pooling to a fixed output size D x H x W (None keeps a dimension)",
       SR_ARGS(a_adaptiveavg3d), .repr = "output_size=", .variant = P3_AVG, .validate = p3_adaptive_validate,
       .shape = p3_adaptive_shape, .forward = p3_adaptive_forward, .workspace = p3_adaptive_workspace);
SR_ROW(AdaptiveMaxPool3d, .summary = "max pooling to a fixed output size D x H x W (None keeps a dimension)",
       SR_ARGS(a_adaptivemax3d), .repr = "output_size=", .variant = P3_MAX, .validate = p3_adaptive_validate,
       .shape = p3_adaptive_shape, .forward = p3_adaptive_forward, .workspace = p3_adaptive_workspace);
