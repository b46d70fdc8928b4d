/*
 * conv3d.c - Conv3d over (N, C, D, H, W) or unbatched (C, D, H, W).
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
 * Without AVX-512: im2col into [K, pixels] and one cblas_sgemm per sample
 * and group, as conv.c does (OpenBLAS may round differently at another
 * thread count).  Padding modes other than 'zeros' first build a padded
 * copy of the sample, as PyTorch does with F.pad before a convolution with
 * padding 0.
 */
#include "layers.h"
#include "../blas_guard.h"
#include "../cpu.h"
#include "../gemm.h"
#include "../init.h"
#include "../par.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PAD_ZEROS, PAD_REFLECT, PAD_REPLICATE, PAD_CIRCULAR };

#define C3_ARG_MAX (1 << 30)

typedef struct {
    int64_t cin, cout, groups, cg, og;
    int64_t k[3], s[3], d[3], pb[3], pa[3];
    int mode, bias;
} c3_geo;

typedef struct {
    int batched;
    int64_t n, c, sp[3];
} c3_dims;

static void c3_geo_get(const sr_layer *L, c3_geo *g)
{
    memset(g, 0, sizeof *g);
    g->cin = sr_argi(L, CONV_IN);
    g->cout = sr_argi(L, CONV_OUT);
    g->groups = sr_argi(L, CONV_GROUPS);
    g->cg = g->groups > 0 ? g->cin / g->groups : g->cin;
    g->og = g->groups > 0 ? g->cout / g->groups : g->cout;
    g->bias = (int)sr_argi(L, CONV_BIAS);
    const char *m = L->arg[CONV_PADMODE].s;
    g->mode = !strcmp(m, "reflect") ? PAD_REFLECT : !strcmp(m, "replicate") ? PAD_REPLICATE
            : !strcmp(m, "circular") ? PAD_CIRCULAR : PAD_ZEROS;
    int64_t p[3] = {0, 0, 0};
    sr_arg_tuple(L, CONV_KERNEL, 3, g->k);
    sr_arg_tuple(L, CONV_STRIDE, 3, g->s);
    sr_arg_tuple(L, CONV_DILATION, 3, g->d);
    const sr_argval *pv = &L->arg[CONV_PADDING];
    int same = pv->kind == SR_AV_STR && !strcmp(pv->s, "same");
    if (pv->kind != SR_AV_STR)
        sr_arg_tuple(L, CONV_PADDING, 3, p);
    for (int i = 0; i < 3; i++) {
        if (same) {
            /* PyTorch's split: the odd extra pixel goes after */
            int64_t total = g->d[i] * (g->k[i] - 1);
            g->pb[i] = total / 2;
            g->pa[i] = total - total / 2;
        } else {
            g->pb[i] = g->pa[i] = p[i];
        }
    }
}

static void c3_dims_get(const sr_shape *s, c3_dims *d)
{
    d->batched = s->ndim == 5;
    int b = d->batched;
    d->n = b ? s->d[0] : 1;
    d->c = s->d[b];
    for (int i = 0; i < 3; i++)
        d->sp[i] = s->d[b + 1 + i];
}

static const char *x3(const int64_t *v, char *buf, size_t len)
{
    snprintf(buf, len, "%lldx%lldx%lld", (long long)v[0], (long long)v[1], (long long)v[2]);
    return buf;
}

static const char *t3(const int64_t *v, char *buf, size_t len)
{
    snprintf(buf, len, "(%lld, %lld, %lld)", (long long)v[0], (long long)v[1], (long long)v[2]);
    return buf;
}

static SR_VALIDATE_FN(c3_validate)
{
    c3_geo g;
    c3_geo_get(L, &g);
    char b1[80];
    if (g.cin <= 0)
        return sr_err(err, SR_EUSAGE, "in_channels must be positive, got %lld; hint: in_channels is the channel "
                      "count (dim 1) of the input", (long long)g.cin);
    if (g.cout <= 0)
        return sr_err(err, SR_EUSAGE, "out_channels must be positive, got %lld; hint: a Conv3d needs at least one "
                      "output channel", (long long)g.cout);
    if (g.groups <= 0)
        return sr_err(err, SR_EUSAGE, "groups must be a positive integer, got %lld", (long long)g.groups);
    if (g.cin % g.groups || g.cout % g.groups)
        return sr_err(err, SR_EUSAGE, "%s must be divisible by groups, but in_channels=%lld, out_channels=%lld "
                      "and groups=%lld; hint: use a groups value that divides both %lld and %lld",
                      g.cin % g.groups ? "in_channels" : "out_channels", (long long)g.cin, (long long)g.cout,
                      (long long)g.groups, (long long)g.cin, (long long)g.cout);
    for (int i = 0; i < 3; i++) {
        if (g.k[i] <= 0)
            return sr_err(err, SR_EUSAGE, "kernel_size must be positive, got %s", t3(g.k, b1, sizeof b1));
        if (g.s[i] <= 0)
            return sr_err(err, SR_EUSAGE, "stride must be positive, got %s", t3(g.s, b1, sizeof b1));
        if (g.d[i] <= 0)
            return sr_err(err, SR_EUSAGE, "dilation must be at least 1, got %s", t3(g.d, b1, sizeof b1));
        if (g.pb[i] < 0)
            return sr_err(err, SR_EUSAGE, "negative padding is not supported, got %s; hint: padding must be >= 0",
                          t3(g.pb, b1, sizeof b1));
        if (g.k[i] > C3_ARG_MAX || g.s[i] > C3_ARG_MAX || g.d[i] > C3_ARG_MAX || g.pb[i] > C3_ARG_MAX)
            return sr_err(err, SR_EUSAGE, "kernel_size, stride, dilation and padding must be at most %d", C3_ARG_MAX);
    }
    if (g.cin > C3_ARG_MAX || g.cout > C3_ARG_MAX)
        return sr_err(err, SR_EUSAGE, "in_channels and out_channels must be at most %d", C3_ARG_MAX);
    const sr_argval *pv = &L->arg[CONV_PADDING];
    if (pv->kind == SR_AV_STR && !strcmp(pv->s, "same") && (g.s[0] != 1 || g.s[1] != 1 || g.s[2] != 1))
        return sr_err(err, SR_EUSAGE, "padding='same' is not supported for strided convolutions (stride=%s); "
                      "hint: use stride=1, or give the padding as numbers (kernel_size // 2 keeps the size for odd "
                      "kernels)", t3(g.s, b1, sizeof b1));
    return SR_OK;
}

static SR_SHAPE_FN(c3_shape)
{
    c3_geo g;
    c3_geo_get(L, &g);
    char src[256];
    sr_from(info, 1, src, sizeof src);
    if (in->ndim != 4 && in->ndim != 5) {
        char hint[200];
        if (in->ndim == 2 && in->d[1] > 0 && in->d[1] % g.cin == 0) {
            int64_t v = in->d[1] / g.cin, side = (int64_t)llround(cbrt((double)v));
            if (side * side * side == v)
                snprintf(hint, sizeof hint, "insert Unflatten: [1, [%lld, %lld, %lld, %lld]] before this layer to "
                         "restore the volume", (long long)g.cin, (long long)side, (long long)side, (long long)side);
            else
                snprintf(hint, sizeof hint, "insert Unflatten: [1, [%lld, D, H, W]] before this layer with D*H*W = "
                         "%lld", (long long)g.cin, (long long)v);
        } else if (in->ndim == 3) {
            snprintf(hint, sizeof hint, "this is a sequence batch; use Conv1d, or give each sample depth, height "
                     "and width");
        } else {
            snprintf(hint, sizeof hint, "give the layer a (N, C, D, H, W) input");
        }
        return sr_err(err, SR_ESHAPE, "%s expects a 4-D (C, D, H, W) or 5-D (N, C, D, H, W) input, but input "
                      "%s%s is %d-D; hint: %s", L->type->name, sr_shp(in), src, in->ndim, hint);
    }
    const sr_shape *given = in;
    sr_shape with_c;
    int no_channel = info->in_batch && in->ndim == 4;
    if (no_channel) {
        with_c.ndim = 5;
        with_c.d[0] = in->d[0];
        with_c.d[1] = g.cin;
        for (int i = 1; i < 4; i++)
            with_c.d[i + 1] = in->d[i];
        in = &with_c;
    }
    c3_dims d;
    c3_dims_get(in, &d);
    info->batch_dim0 = d.batched;
    int64_t osz[3], padded[3], span[3], need[3], pads[3];
    int fits = 1, pad_bad = -1;
    for (int i = 0; i < 3; i++) {
        int64_t isz = d.sp[i];
        padded[i] = isz + g.pb[i] + g.pa[i];
        pads[i] = g.pb[i] + g.pa[i];
        span[i] = g.d[i] * (g.k[i] - 1) + 1;
        need[i] = span[i] - pads[i] > 1 ? span[i] - pads[i] : 1;
        osz[i] = padded[i] >= span[i] && isz > 0 ? (padded[i] - span[i]) / g.s[i] + 1 : 0;
        fits &= osz[i] > 0;
        if (g.mode == PAD_REFLECT && (g.pb[i] || g.pa[i]) && (g.pb[i] >= isz || g.pa[i] >= isz))
            pad_bad = i;
        if (g.mode == PAD_CIRCULAR && (g.pb[i] > isz || g.pa[i] > isz))
            pad_bad = i;
    }
    *out = *in;
    out->d[d.batched] = g.cout;
    for (int i = 0; i < 3; i++)
        out->d[d.batched + 1 + i] = osz[i];
    info->out_known = fits;
    if (no_channel) {
        char hint[200];
        if (given->d[1] == g.cin)
            snprintf(hint, sizeof hint, "these look like images with %lld channels: use Conv2d, or insert "
                     "Unflatten: [1, [%lld, 1]] before this layer to give them a depth of 1", (long long)g.cin,
                     (long long)g.cin);
        else if (g.cin == 1)
            snprintf(hint, sizeof hint, "insert Unflatten: [1, [1, %lld]] before this layer",
                     (long long)given->d[1]);
        else
            snprintf(hint, sizeof hint, "the %lld channels must be dim 1 of (N, C, D, H, W)", (long long)g.cin);
        return sr_err(err, SR_ESHAPE, "Conv3d expects a batch as 5-D (N, C, D, H, W), but input %s%s, whose dim 0 "
                      "is the batch, has no channel dimension; hint: %s", sr_shp(given), src, hint);
    }
    if (d.c != g.cin)
        return sr_err(err, SR_ESHAPE, "%s(in_channels=%lld) expects %lld channels, but input %s%s has %lld; hint: "
                      "in_channels should be %lld%s%s%s", L->type->name, (long long)g.cin, (long long)g.cin,
                      sr_shp(in), src, (long long)d.c, (long long)d.c,
                      !d.batched && in->d[1] == g.cin ? "; or, if dim 0 of " : "",
                      !d.batched && in->d[1] == g.cin ? sr_shp(in) : "",
                      !d.batched && in->d[1] == g.cin ? " is the batch, these are images: use Conv2d" : "");
    if (!fits) {
        char a[64], b[64], c[64], e[64], f[64], h[64];
        return sr_err(err, SR_ESHAPE, "input %s is %s after padding (%s plus %s), smaller than the kernel's extent "
                      "%s (kernel_size=%s); hint: %s fits inputs of at least %s here: remove a downsampling step "
                      "before it, or add padding", sr_shp(in), x3(padded, a, sizeof a), x3(d.sp, b, sizeof b),
                      x3(pads, c, sizeof c), x3(span, e, sizeof e), t3(g.k, f, sizeof f), L->type->name,
                      x3(need, h, sizeof h));
    }
    int64_t T = g.k[0] * g.k[1] * g.k[2], K, P, pin;
    if (__builtin_mul_overflow(g.cg, T, &K) || __builtin_mul_overflow(osz[0] * osz[1], osz[2], &P) ||
        __builtin_mul_overflow(padded[0] * padded[1], padded[2], &pin) || K > INT_MAX / 64 || P > INT_MAX ||
        pin > INT_MAX) {
        info->out_known = 0;
        return sr_err(err, SR_ESHAPE, "this convolution is too large for seqrun's kernel: in_channels/groups * "
                      "kernel positions must be at most %d, input and output positions at most %d; hint: split the "
                      "input into tiles", INT_MAX / 64, INT_MAX);
    }
    if (pad_bad >= 0) {
        int i = pad_bad;
        static const char *const what[] = {"depth", "height", "width"};
        if (g.mode == PAD_REFLECT)
            return sr_err(err, SR_ESHAPE, "padding_mode='reflect' needs padding smaller than the input, but "
                          "padding (%lld, %lld) is not smaller than the %s %lld of input %s; hint: use padding < "
                          "%lld, or padding_mode='replicate'", (long long)g.pb[i], (long long)g.pa[i], what[i],
                          (long long)d.sp[i], sr_shp(in), (long long)d.sp[i]);
        return sr_err(err, SR_ESHAPE, "padding_mode='circular' wraps around more than once: padding (%lld, %lld) "
                      "exceeds the %s %lld of input %s; hint: use padding <= %lld", (long long)g.pb[i],
                      (long long)g.pa[i], what[i], (long long)d.sp[i], sr_shp(in), (long long)d.sp[i]);
    }
    return SR_OK;
}

static SR_PARAMS_FN(c3_params)
{
    c3_geo g;
    c3_geo_get(L, &g);
    memset(p, 0, 2 * sizeof *p);
    p[0].name = "weight";
    p[0].shape = sr_shape_make(5, (int64_t[]){g.cout, g.cg, g.k[0], g.k[1], g.k[2]});
    p[0].init = sr_init_kaiming_uniform_a(sqrt(5.0));
    p[0].zero_row = -1;
    if (!g.bias)
        return 1;
    double fan_in = (double)g.cg * (double)(g.k[0] * g.k[1] * g.k[2]);
    double bound = fan_in > 0 ? 1.0 / sqrt(fan_in) : 0.0;
    p[1].name = "bias";
    p[1].shape = sr_shape_make(1, (int64_t[]){g.cout});
    p[1].init = sr_init_uniform(-bound, bound);
    p[1].zero_row = -1;
    return 2;
}

static int c3_channel_dim(const sr_layer *L, const sr_shape *out)
{
    (void)L;
    return out->ndim - 4;
}

/* ---- padding ---------------------------------------------------------------- */

/* Source index for padded position i of an axis of size n (F.pad's modes;
 * the shape rule guarantees one reflection or wrap suffices), or -1 for a
 * zero. */
static int64_t pad_src(int mode, int64_t i, int64_t n)
{
    if (i >= 0 && i < n)
        return i;
    switch (mode) {
    case PAD_REFLECT: return i < 0 ? -i : 2 * (n - 1) - i;
    case PAD_REPLICATE: return i < 0 ? 0 : n - 1;
    case PAD_CIRCULAR: return i < 0 ? i + n : i - n;
    default: return -1;
    }
}

/* C channels of x [C, D, H, W] padded by the layer's mode into xp. */
static void pad_copy(const float *x, int64_t C, const int64_t *sp, const c3_geo *g, float *xp)
{
    int64_t Dp = sp[0] + g->pb[0] + g->pa[0], Hp = sp[1] + g->pb[1] + g->pa[1], Wp = sp[2] + g->pb[2] + g->pa[2];
    for (int64_t c = 0; c < C; c++)
        for (int64_t a = 0; a < Dp; a++) {
            int64_t sa = pad_src(g->mode, a - g->pb[0], sp[0]);
            for (int64_t b = 0; b < Hp; b++) {
                int64_t sb = pad_src(g->mode, b - g->pb[1], sp[1]);
                float *dst = xp + ((c * Dp + a) * Hp + b) * Wp;
                const float *row = x + ((c * sp[0] + sa) * sp[1] + sb) * sp[2];
                for (int64_t w = 0; w < Wp; w++) {
                    int64_t sw = pad_src(g->mode, w - g->pb[2], sp[2]);
                    dst[w] = sa < 0 || sb < 0 || sw < 0 ? 0.0f : row[sw];
                }
            }
        }
}

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

static size_t up16(size_t n) { return (n + 15) & ~(size_t)15; }

static void c3_plan_get(const c3_geo *g, const c3_dims *di, const c3_dims *dout, c3_plan *P)
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
        int explicit_pad = g->mode != PAD_ZEROS;
        P->isp[i] = di->sp[i] + (explicit_pad ? g->pb[i] + g->pa[i] : 0);
        P->ipb[i] = explicit_pad ? 0 : g->pb[i];
    }
    P->pad_f = g->mode != PAD_ZEROS ? up16((size_t)(g->cg * P->isp[0] * P->isp[1] * P->isp[2])) : 0;
    P->cols_f = up16((size_t)(P->K * P->npix));
    P->pk_f = up16(sr_gemm_packed_floats(P->npix, P->K) + 16); /* + 16: aligned to 64 bytes inside */
    P->o_f = up16((size_t)(g->og * P->npix));
    P->area = P->pad_f + P->cols_f + P->pk_f + P->o_f;
}

/* cols[k][q] for the output rows [r0, r1) (q: their pixels in order) and
 * every tap k = (c, a, b, e): the input row it reads, shifted; zero
 * outside the input. */
static void im2col_rows(const c3_geo *g, const c3_plan *P, const int64_t *osp, const float *x, int64_t r0,
                        int64_t r1, float *cols)
{
    const int64_t *is = P->isp;
    int64_t OW = osp[2], npix = (r1 - r0) * OW, s2 = g->s[2];
    for (int64_t c = 0; c < g->cg; c++)
        for (int64_t a = 0; a < g->k[0]; a++)
            for (int64_t b = 0; b < g->k[1]; b++)
                for (int64_t e = 0; e < g->k[2]; e++) {
                    float *dst = cols + (((c * g->k[0] + a) * g->k[1] + b) * g->k[2] + e) * npix;
                    int64_t off = e * g->d[2] - P->ipb[2];
                    /* output columns whose input column lies inside [0, W) */
                    int64_t lo = off >= 0 ? 0 : (-off + s2 - 1) / s2;
                    int64_t hi = is[2] - off > 0 ? (is[2] - off + s2 - 1) / s2 : 0;
                    hi = hi < OW ? hi : OW;
                    hi = hi > lo ? hi : lo;
                    for (int64_t r = r0; r < r1; r++, dst += OW) {
                        int64_t i0 = r / osp[1] * g->s[0] - P->ipb[0] + a * g->d[0];
                        int64_t i1 = r % osp[1] * g->s[1] - P->ipb[1] + b * g->d[1];
                        if (i0 < 0 || i0 >= is[0] || i1 < 0 || i1 >= is[1] || hi == lo) {
                            memset(dst, 0, (size_t)OW * sizeof *dst);
                            continue;
                        }
                        const float *src = x + ((c * is[0] + i0) * is[1] + i1) * is[2] + off;
                        if (lo)
                            memset(dst, 0, (size_t)lo * sizeof *dst);
                        if (s2 == 1)
                            memcpy(dst + lo, src + lo, (size_t)(hi - lo) * sizeof *dst);
                        else
                            for (int64_t q = lo; q < hi; q++)
                                dst[q] = src[q * s2];
                        if (hi < OW)
                            memset(dst + hi, 0, (size_t)(OW - hi) * sizeof *dst);
                    }
                }
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
    const c3_geo *g;
    const c3_dims *di, *dout;
    const c3_plan *P;
    const float *x, *bias, *W;
    float *y, *work;
    const sr_ctx *ctx;
} c3_job;

static void c3_task(void *arg, int64_t task, int tid)
{
    const c3_job *J = arg;
    const c3_geo *g = J->g;
    const c3_plan *P = J->P;
    int64_t n = task / g->groups, gi = task % g->groups;
    int64_t Pin = J->di->sp[0] * J->di->sp[1] * J->di->sp[2], OW = J->dout->sp[2];
    int64_t out_rows = J->dout->sp[0] * J->dout->sp[1];
    float *xp = J->work + (size_t)tid * P->area, *cols = xp + P->pad_f;
    float *pk = (float *)(((uintptr_t)(cols + P->cols_f) + 63) & ~(uintptr_t)63), *ot = cols + P->cols_f + P->pk_f;
    const float *x = J->x + (n * g->cin + gi * g->cg) * Pin;
    if (g->mode != PAD_ZEROS) {
        pad_copy(x, g->cg, J->di->sp, g, xp);
        x = xp;
    }
    float *y = J->y + (n * g->cout + gi * g->og) * P->Pout;
    const float *w = J->W + gi * g->og * P->K;
    const float *b = J->bias ? J->bias + gi * g->og : NULL;
    for (int64_t r0 = 0; r0 < out_rows; r0 += P->rows) {
        int64_t r1 = r0 + P->rows < out_rows ? r0 + P->rows : out_rows, npix = (r1 - r0) * OW;
        im2col_rows(g, P, J->dout->sp, x, r0, r1, cols);
        sr_gemm_pack_kn(cols, npix, npix, P->K, pk);
        sr_gemm(pk, w, NULL, ot, g->og, npix, P->K, 1, NULL, NULL);
        rows_out(ot, g->og, npix, b, P->Pout, y + r0 * OW);
    }
    sr_post(J->ctx, y, (size_t)(g->og * P->Pout));
}

static sr_status c3_forward_gemm(const c3_geo *g, const c3_dims *di, const c3_dims *dout, const float *W,
                                 const float *bias, const float *x, float *y, sr_ctx *ctx)
{
    c3_plan P;
    c3_plan_get(g, di, dout, &P);
    c3_job J = {.g = g, .di = di, .dout = dout, .P = &P, .x = x, .bias = bias, .W = W, .y = y, .work = ctx->work,
                .ctx = ctx};
    sr_par_for(ctx->threads > 1 ? ctx->threads : 1, di->n * g->groups, c3_task, &J);
    return SR_OK;
}

/* ---- without: im2col [K, pixels] and cblas_sgemm ------------------------------ */

static size_t blas_workspace(const c3_geo *g, const c3_plan *P)
{
    (void)g;
    return P->pad_f + up16((size_t)(P->K * P->Pout));
}

static sr_status c3_forward_blas(const c3_geo *g, const c3_dims *di, const c3_dims *dout, const float *W,
                                 const float *bias, const float *x, float *y, sr_ctx *ctx)
{
    c3_plan P;
    c3_plan_get(g, di, dout, &P);
    int64_t Pin = di->sp[0] * di->sp[1] * di->sp[2], Pout = P.Pout;
    float *xp = ctx->work, *cols = xp + P.pad_f;
    for (int64_t n = 0; n < di->n; n++) {
        float *yn = y + n * g->cout * Pout;
        for (int64_t o = 0; o < g->cout; o++)
            for (int64_t q = 0; q < Pout; q++)
                yn[o * Pout + q] = bias ? bias[o] : 0.0f;
        for (int64_t gi = 0; gi < g->groups; gi++) {
            const float *xg = x + (n * g->cin + gi * g->cg) * Pin;
            if (g->mode != PAD_ZEROS) {
                pad_copy(xg, g->cg, di->sp, g, xp);
                xg = xp;
            }
            im2col_rows(g, &P, dout->sp, xg, 0, dout->sp[0] * dout->sp[1], cols);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->og, (int)Pout, (int)P.K, 1.0f,
                        W + gi * g->og * P.K, (int)P.K, cols, (int)Pout, 1.0f, yn + gi * g->og * Pout, (int)Pout);
        }
        sr_post(ctx, yn, (size_t)(g->cout * Pout));
    }
    return SR_OK;
}

static SR_WORKSPACE_FN(c3_workspace)
{
    c3_geo g;
    c3_geo_get(L, &g);
    c3_dims di, dout;
    c3_dims_get(in, &di);
    c3_dims_get(out, &dout);
    c3_plan P;
    c3_plan_get(&g, &di, &dout, &P);
    return sr_gemm_available() ? P.area : blas_workspace(&g, &P);
}

static SR_FORWARD_FN(c3_forward)
{
    c3_geo g;
    c3_geo_get(L, &g);
    c3_dims di, dout;
    c3_dims_get(&in->shape, &di);
    c3_dims_get(&out->shape, &dout);
    if (di.n == 0)
        return SR_OK;
    const float *W = ctx->weight ? ctx->weight : sr_f32(&L->param[0]);
    const float *bias = ctx->weight ? ctx->bias : g.bias ? sr_f32(&L->param[1]) : NULL;
    (void)err;
    if (sr_gemm_available())
        return c3_forward_gemm(&g, &di, &dout, W, bias, sr_f32(in), sr_f32(out), ctx);
    if (!sr_blas_threads(1, err)) /* else OpenBLAS could retry its buffer forever */
        return SR_ERUN;
    return c3_forward_blas(&g, &di, &dout, W, bias, sr_f32(in), sr_f32(out), ctx);
}

/* ---- row ------------------------------------------------------------------- */

static const sr_argdef a_conv3d[CONV_PADMODE + 1] = {
    [CONV_IN] = {"in_channels", T_I, NULL, NULL, 0},
    [CONV_OUT] = {"out_channels", T_I, NULL, NULL, 0},
    [CONV_KERNEL] = {"kernel_size", T_T, NULL, NULL, 3},
    [CONV_STRIDE] = {"stride", T_T, "1", NULL, 3},
    [CONV_PADDING] = {"padding", T_T | T_S, "0", "same|valid", 3},
    [CONV_DILATION] = {"dilation", T_T, "1", NULL, 3},
    [CONV_GROUPS] = {"groups", T_I, "1", NULL, 0},
    [CONV_BIAS] = {"bias", T_B, "True", NULL, 0},
    [CONV_PADMODE] = {"padding_mode", T_S, "'zeros'", "zeros|reflect|replicate|circular", 0},
};

SR_ROW(Conv3d, .summary = "3-D convolution over (N, C, D, H, W)", SR_ARGS(a_conv3d),
       .repr = "#in_channels, #out_channels, kernel_size=:3, stride=:3, padding?:3!, dilation?:3, groups?, bias?, "
               "padding_mode?!",
       .flags = SR_FUSE_POST | SR_FUSE_AFFINE, .validate = c3_validate, .shape = c3_shape, .params = c3_params,
       .forward = c3_forward, .workspace = c3_workspace, .channel_dim = c3_channel_dim, .fold = sr_fold_out_rows);
