/*
 * convtranspose.c - ConvTranspose1d, ConvTranspose2d, ConvTranspose3d and
 * their lazy rows: arguments, shape rule, BatchNorm folding and the choice
 * of kernel (convtranspose_gemm.c, convtranspose_planar.c).
 *
 * A transposed convolution scatters: input pixel i of channel c adds
 * x[c, i] * W[c, o, t] to output pixel i*stride - padding + t*dilation of
 * every output channel o of c's group, for every kernel tap t (per spatial
 * dimension).  The three run as one 3-D kernel: a 2-D layer has depth 1, a
 * 1-D one height 1 as well.
 *
 * With AVX-512 the products are one packed GEMM (gemm.h) per group and
 * block of up to 32 output channels:
 *
 *     col[pixel, (t, o)] = sum over c of x[c, pixel] * W[c, o, t]
 *
 * whose rows are the input pixels of a block of samples (transposed to
 * [pixel, c] first) and whose K is the group's input channels; the
 * weights are packed once per layer, a panel of 32 columns per tap.
 * col2im then adds every row's taps into an output-pixel-major accumulator
 * [pixel, channel], 32-float vectors at a time, which starts at the bias;
 * last the accumulator is transposed into the dense output, and the fused
 * activation applied to it.  For whole 32-channel blocks the pixels go by
 * border class (ct_task_cls): near the edges the padding crops some taps,
 * and each box of pixels sharing one set of taps inside the output runs
 * the GEMM over those taps alone.  With fewer than 16 output channels per
 * group the GEMM runs the other way round (ctp_task).  Work is split into
 * tasks (group, channel block, block of samples) over the threads.
 *
 * Every output is its bias plus its taps' sums over the input channels
 * (sr_gemm's rows do not depend on the rows around them), added in an
 * order fixed by the layer's geometry alone: the same bits whatever the
 * batch size, the blocking or the thread count.
 *
 * Without AVX-512: per sample and group one cblas_sgemm gives
 * col[(o, t), pixel] and a col2im adds it into the output, which starts at
 * the bias; OpenBLAS may round differently at another thread count, as in
 * conv_im2col.c's path.
 *
 * The arguments, their checks and the parameters are the family's
 * (conv_common.c); a lazy row runs these hooks as they are, with the
 * in_channels its first input fixed (L->lazy_in).
 */
#include "convtranspose.h"
#include "../blas_guard.h"
#include "../gemm.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the shape rule ----------------------------------------------------------- */

/* Why an input of the wrong rank is one: the data it most likely is. */
static void rank_hint(const cf_geo *g, const sr_shape *in, const sr_shapeinfo *info, char *hint, size_t len)
{
    long long cin = (long long)g->cin;
    int nd = g->nd;
    if (nd >= 2 && in->ndim == 2 && in->d[1] > 0 && in->d[1] % g->cin == 0) {
        /* flat features: a latent vector (a DCGAN generator's z) or a square image */
        int64_t sp = in->d[1] / g->cin, side = (int64_t)llround(nd == 2 ? sqrt((double)sp) : cbrt((double)sp));
        if (sp == 1)
            snprintf(hint, len, "insert Unflatten: [1, [%lld, 1, 1%s]] before this layer to make each vector a "
                     "1x1%s image with %lld channels", cin, nd == 3 ? ", 1" : "", nd == 3 ? "x1" : "", cin);
        else if (nd == 2 && side * side == sp)
            snprintf(hint, len, "insert Unflatten: [1, [%lld, %lld, %lld]] before this layer to restore the image",
                     cin, (long long)side, (long long)side);
        else if (nd == 3 && side * side * side == sp)
            snprintf(hint, len, "insert Unflatten: [1, [%lld, %lld, %lld, %lld]] before this layer to restore the "
                     "volume", cin, (long long)side, (long long)side, (long long)side);
        else
            snprintf(hint, len, "insert Unflatten before this layer to restore the channel and spatial dimensions "
                     "(%lld channels of %lld values)", cin, (long long)sp);
    } else if (nd == 1 && in->ndim == 1 && !info->in_batch) {
        snprintf(hint, len, "add a channel dimension: Unflatten: [0, [1, %lld]] before this layer",
                 (long long)in->d[0]);
    } else if (in->ndim == nd + 3 && nd < 3) {
        snprintf(hint, len, "this input has one more spatial dimension: use ConvTranspose%dd",
                 in->ndim - 2 < 3 ? in->ndim - 2 : 3);
    } else {
        snprintf(hint, len, "give the layer a %s input", cf_layout(nd));
    }
}

/* A batch without its channel dimension (see cf_input). */
static void channel_hint(const cf_geo *g, const sr_shape *in, char *hint, size_t len)
{
    long long cin = (long long)g->cin, d1 = (long long)in->d[1];
    if (g->cin == 1)
        snprintf(hint, len, "insert Unflatten: [1, [1, %lld]] before this layer", d1);
    else if (g->nd == 1 && d1 > 0 && d1 % cin == 0)
        snprintf(hint, len, "insert Unflatten: [1, [%lld, %lld]] before this layer if dim 1 holds %lld channels one "
                 "after another", cin, d1 / cin, cin);
    else
        snprintf(hint, len, "in_channels=%lld needs the %lld channels as dim 1 of %s", cin, cin, cf_layout(g->nd));
}

/* Output size along dim i for input size n: (n - 1) * s - 2p + d(k - 1) + op + 1,
 * or INT64_MIN when that overflows. */
static int64_t ct_out(const cf_geo *g, int i, int64_t n)
{
    int64_t a;
    if (__builtin_mul_overflow(n - 1, g->s[i], &a) ||
        __builtin_add_overflow(a, g->d[i] * (g->k[i] - 1) + g->op[i] + 1 - 2 * g->pb[i], &a))
        return INT64_MIN;
    return a;
}

/* The spatial output for an input, or why there is none. */
typedef struct {
    int64_t osz[3];   /* output sizes (0 where there is none) */
    int64_t need[3];  /* the smallest input that gives an output */
    int64_t pfit[3];  /* the most padding this input takes */
    int fits;         /* every output size is positive */
    int empty;        /* the input has a spatial size of 0 */
    int huge;         /* an output size overflows */
} ct_extent;

static void ct_extent_get(const cf_geo *g, const cf_dims *d, ct_extent *e)
{
    *e = (ct_extent){.osz = {1, 1, 1}, .need = {1, 1, 1}, .fits = 1};
    for (int i = 3 - g->nd; i < 3; i++) {
        if (d->sp[i] <= 0) {
            e->empty = 1;
            e->osz[i] = 0;
            continue;
        }
        e->osz[i] = ct_out(g, i, d->sp[i]);
        if (e->osz[i] == INT64_MIN)
            e->huge = 1, e->osz[i] = 0;
        e->fits &= e->osz[i] > 0;
        int64_t short_by = 2 * g->pb[i] - g->d[i] * (g->k[i] - 1) - g->op[i];
        e->need[i] = short_by > 0 ? 1 + (short_by + g->s[i] - 1) / g->s[i] : 1;
        int64_t base = e->osz[i] + 2 * g->pb[i];
        e->pfit[i] = base > 1 ? (base - 1) / 2 : 0;
    }
}

/* No output: an empty input, one too large to index, or padding that
 * crops it all away. */
static sr_status fit_error(const sr_layer *L, const cf_geo *g, const ct_extent *e, const sr_shape *in,
                           const sr_shapeinfo *info, char *err)
{
    const char *nm = L->type->name;
    char src[256], a[64], b[64], c[64], f[64], h[64], k[64];
    sr_from(info, 1, src, sizeof src);
    if (e->empty)
        return sr_err(err, SR_ESHAPE, "%s needs a non-empty input, but input %s%s has a spatial size of 0; hint: "
                      "its input must be at least %s", nm, sr_shp(in), src, cf_ext(g, e->need, a, sizeof a));
    if (e->huge)
        return sr_err(err, SR_ESHAPE, "%s's output for input %s%s would be larger than seqrun can index; hint: "
                      "split the input into tiles", nm, sr_shp(in), src);
    return sr_err(err, SR_ESHAPE, "%s's output for input %s%s would be %s: (size - 1)*stride - 2*padding + "
                  "dilation*(kernel_size - 1) + output_padding + 1 with kernel_size=%s, stride=%s, padding=%s; "
                  "hint: use padding=%s or less, or give it an input of at least %s", nm, sr_shp(in), src,
                  cf_ext(g, e->osz, a, sizeof a), cf_tup(g, g->k, b, sizeof b), cf_tup(g, g->s, c, sizeof c),
                  cf_tup(g, g->pb, f, sizeof f), cf_tup(g, e->pfit, h, sizeof h), cf_ext(g, e->need, k, sizeof k));
}

/* cblas_sgemm and the packed GEMM take int sizes */
static int too_large(const cf_geo *g, const cf_dims *d, const ct_extent *e)
{
    int64_t T = g->k[0] * g->k[1] * g->k[2], pin, pout, cols;
    return __builtin_mul_overflow(d->sp[0], d->sp[1], &pin) || __builtin_mul_overflow(pin, d->sp[2], &pin) ||
           __builtin_mul_overflow(e->osz[0], e->osz[1], &pout) || __builtin_mul_overflow(pout, e->osz[2], &pout) ||
           __builtin_mul_overflow(T, g->og, &cols) || pin > INT_MAX || pout > INT_MAX / 32 || cols > INT_MAX ||
           T > INT_MAX / 32;
}

static sr_status ct_shape_rest(const sr_layer *L, const cf_geo *g, const cf_input *x, sr_shape *out,
                               sr_shapeinfo *info, char *err)
{
    const sr_shape *in = x->in, *given = x->given;
    const cf_dims d = x->d;
    ct_extent e;
    ct_extent_get(g, &d, &e);
    int64_t osz[3];
    for (int i = 0; i < 3; i++)
        osz[i] = e.osz[i] > 0 ? e.osz[i] : 0;
    cf_out_shape(g, &d, in, osz, out);
    info->out_known = e.fits && !e.empty && !e.huge;
    if (x->no_channel) {
        char hint[300];
        channel_hint(g, given, hint, sizeof hint);
        return cf_channel_error(L, g, given, info, hint, err);
    }
    if (d.c != g->cin) {
        /* an unbatched reading of what is likely a batch of lower-rank data */
        char extra[160] = "";
        if (!d.batched && g->nd >= 2 && in->d[1] == g->cin)
            snprintf(extra, sizeof extra, "; or, if dim 0 of %s is the batch, use ConvTranspose%dd", sr_shp(in),
                     g->nd - 1);
        return cf_cin_error(L, g, in, info, d.c, " (a transposed convolution's weight is [in_channels, "
                            "out_channels/groups, *kernel_size])", extra, err);
    }
    if (e.empty || e.huge || !e.fits)
        return fit_error(L, g, &e, in, info, err);
    if (too_large(g, &d, &e)) {
        info->out_known = 0;
        return sr_err(err, SR_ESHAPE, "this transposed convolution is too large for seqrun's kernel: input and "
                      "output positions and out_channels/groups * kernel positions must each be at most %d; hint: "
                      "split the input into tiles", INT_MAX / 32);
    }
    return SR_OK;
}

static const cf_shape_rule ct_rule = {.rank_hint = rank_hint, .rest = ct_shape_rest};

static SR_SHAPE_FN(ct_shape) { return cf_shape(L, in, out, info, err, &ct_rule); }

/* ---- BatchNorm folding ----------------------------------------------------------- */

/* A BatchNorm after it: output channel o = g * og + j is weight[g * cg + i, j, ...]
 * for every i < cg, so the scale goes along dim 1 within each group. */
static int64_t ct_fold(const sr_layer *P, const double *scale, const double *shift, float *w, float *b)
{
    if (P->nparam < 1 || P->param[0].dtype != SR_F32 || P->param[0].shape.ndim < 2)
        return 0;
    const sr_shape *ws = &P->param[0].shape;
    cf_geo g;
    cf_geo_get(P, &g);
    int64_t groups = g.groups, cin = ws->d[0], og = ws->d[1];
    if (groups <= 0 || cin % groups)
        return 0;
    int64_t C = og * groups, cg = cin / groups, T = cin && og ? sr_shape_numel(ws) / (cin * og) : 0;
    if (!scale)
        return C;
    const float *W = sr_f32(&P->param[0]);
    const float *bias = P->nparam > 1 && P->param[1].dtype == SR_F32 && P->param[1].shape.ndim == 1 &&
                        P->param[1].shape.d[0] == C ? sr_f32(&P->param[1]) : NULL;
    for (int64_t c = 0; c < cin; c++)
        for (int64_t j = 0; j < og; j++) {
            double sc = scale[c / cg * og + j];
            size_t base = (size_t)((c * og + j) * T);
            for (int64_t t = 0; t < T; t++)
                w[base + t] = (float)((double)W[base + t] * sc);
        }
    for (int64_t o = 0; o < C; o++)
        b[o] = (float)((bias ? (double)bias[o] : 0.0) * scale[o] + shift[o]);
    return C;
}

/* ---- forward ------------------------------------------------------------------ */

/* The executor's cache slot holding `floats` prepared floats of this kind,
 * built by fill() on the first call (or a private block without a slot,
 * which *own then holds for the caller to free); NULL when out of memory. */
const float *ct_prepared(sr_ctx *ctx, int kind, size_t floats, ct_cache **own,
                         int (*fill)(const void *arg, float *dst), const void *arg)
{
    ct_cache *c = ctx->cache ? *ctx->cache : NULL;
    *own = NULL;
    if (!c || c->floats != floats || c->kind != kind) {
        size_t bytes = (CT_HDR + floats * sizeof(float) + CT_HDR - 1) / CT_HDR * CT_HDR;
        ct_cache *n = aligned_alloc(CT_HDR, bytes);
        if (!n || fill(arg, (float *)((char *)n + CT_HDR)) < 0) {
            free(n);
            return NULL;
        }
        n->floats = floats;
        n->kind = kind;
        if (ctx->cache) {
            free(*ctx->cache);
            *ctx->cache = n;
        } else {
            *own = n;
        }
        c = n;
    }
    return (const float *)((const char *)c + CT_HDR);
}

enum { CT_BLAS = 0 }; /* the kernels: CT_PIXEL_ROWS, CT_PLANAR, or cblas */

/* The kernel a call takes, from the layer and its input's extent (never
 * its batch, so prepare() and every call agree). */
static int ct_kernel(const cf_call *c)
{
    if (!sr_gemm_available())
        return CT_BLAS;
    return ct_planar(&c->g, &c->di) ? CT_PLANAR : CT_PIXEL_ROWS;
}

static SR_WORKSPACE_FN(ct_workspace)
{
    cf_call c;
    cf_call_get(L, in, out, &c);
    const cf_geo *g = &c.g;
    switch (ct_kernel(&c)) {
    case CT_PLANAR: return ct_planar_workspace(g, &c.di, &c.dout);
    case CT_PIXEL_ROWS: return ct_gemm_workspace(g, &c.di, &c.dout);
    default: /* cblas: col [og * taps, input pixels] */
        return (size_t)(g->og * g->k[0] * g->k[1] * g->k[2]) * (size_t)(c.di.sp[0] * c.di.sp[1] * c.di.sp[2]);
    }
}

/* The weights a GEMM kernel reads (packed, or transposed for the planar
 * one): the cache slot's, or built now (*own: without a slot); the error
 * when out of memory. */
static sr_status ct_weights(int kernel, const cf_call *c, const float *W, sr_ctx *ctx, ct_cache **own,
                            const float **wp, char *err)
{
    if (kernel == CT_PLANAR)
        *wp = ct_planar_weights(&c->g, &c->di, &c->dout, W, ctx, own);
    else
        *wp = ct_gemm_weights(&c->g, &c->di, &c->dout, W, ctx, own);
    if (*wp)
        return SR_OK;
    return sr_err(err, SR_ERUN, "out of memory %s the transposed convolution's weights",
                  kernel == CT_PLANAR ? "preparing" : "packing");
}

static SR_FORWARD_FN(ct_forward)
{
    cf_call c;
    const float *W, *bias, *wp;
    if (!cf_forward_call(L, in, out, ctx, &c, &W, &bias))
        return SR_OK;
    int kernel = ct_kernel(&c);
    if (kernel == CT_BLAS) {
        if (!sr_blas_threads(1, err)) /* else OpenBLAS could retry its buffer forever */
            return SR_ERUN;
        return ct_forward_blas(&c.g, &c.di, &c.dout, W, bias, sr_f32(in), sr_f32(out), ctx);
    }
    ct_cache *own;
    sr_status st = ct_weights(kernel, &c, W, ctx, &own, &wp, err);
    if (st != SR_OK)
        return st;
    if (kernel == CT_PLANAR)
        ct_forward_planar(&c.g, &c.di, &c.dout, wp, bias, sr_f32(in), sr_f32(out), ctx);
    else
        ct_forward_gemm(&c.g, &c.di, &c.dout, wp, bias, sr_f32(in), sr_f32(out), ctx);
    free(own);
    return SR_OK;
}

/* Before the threads (layer.h's prepare): the weights the kernel forward()
 * will take reads, built in the cache slot, so that the threads only read
 * them.  cblas keeps nothing. */
static sr_status ct_prepare(const sr_layer *L, const sr_shape *in, sr_ctx *ctx, char *err)
{
    cf_geo g;
    cf_geo_get(L, &g);
    cf_dims d;
    cf_dims_get(&g, in, &d);
    ct_extent e;
    ct_extent_get(&g, &d, &e);
    sr_shape out;
    cf_out_shape(&g, &d, in, e.osz, &out);
    cf_call c;
    cf_call_get(L, in, &out, &c);
    int kernel = ct_kernel(&c);
    if (!ctx->cache || kernel == CT_BLAS)
        return SR_OK;
    const float *W, *bias, *wp;
    cf_weights(L, &c.g, ctx, &W, &bias);
    ct_cache *own;
    sr_status st = ct_weights(kernel, &c, W, ctx, &own, &wp, err);
    free(own);
    return st;
}

/* ---- rows ----------------------------------------------------------------- */

#define CT_ARGS(a, n)                                                               \
    static const sr_argdef a[CT_NARGS] = {                                          \
        [CT_IN] = {"in_channels", T_I, NULL, NULL, 0},                              \
        [CT_OUT] = {"out_channels", T_I, NULL, NULL, 0},                            \
        [CT_KERNEL] = {"kernel_size", T_T, NULL, NULL, n},                          \
        [CT_STRIDE] = {"stride", T_T, "1", NULL, n},                                \
        [CT_PADDING] = {"padding", T_T, "0", NULL, n},                              \
        [CT_OUTPAD] = {"output_padding", T_T, "0", NULL, n},                        \
        [CT_GROUPS] = {"groups", T_I, "1", NULL, 0},                                \
        [CT_BIAS] = {"bias", T_B, "True", NULL, 0},                                 \
        [CT_DILATION] = {"dilation", T_T, "1", NULL, n},                            \
        [CT_PADMODE] = {"padding_mode", T_S, "'zeros'", "zeros|reflect|replicate|circular", 0}, \
    }
CT_ARGS(a_convt1d, 1);
CT_ARGS(a_convt2d, 2);
CT_ARGS(a_convt3d, 3);

#define CT_REPR(n)                                                                                    \
    "kernel_size=:" #n ", stride=:" #n ", padding?:" #n ", dilation?:" #n ", output_padding?:" #n ", " \
    "groups?, bias?, padding_mode?!"

/* ConvTranspose's hooks, which serve its lazy rows as they are */
#define CT_HOOKS                                                                                                  \
    .variant = CF_CONVT, .validate = sr_conv_validate, .shape = ct_shape, .params = sr_conv_params,                 \
    .forward = ct_forward, .workspace = ct_workspace, .channel_dim = sr_conv_channel_dim, .fold = ct_fold,       \
    .prepare = ct_prepare

#define CT_ROW(nm, sum, args, n)                                                                                 \
    SR_ROW(nm, .summary = sum, SR_ARGS(args), .repr = "#in_channels, #out_channels, " CT_REPR(n),                \
           .flags = SR_FUSE_POST | SR_FUSE_AFFINE, CT_HOOKS)
CT_ROW(ConvTranspose1d, "1-D transposed convolution over (N, C, L), weight [in, out/groups, k]", a_convt1d, 1);
CT_ROW(ConvTranspose2d, "2-D transposed convolution over (N, C, H, W), weight [in, out/groups, kh, kw]",
       a_convt2d, 2);
CT_ROW(ConvTranspose3d, "3-D transposed convolution over (N, C, D, H, W), weight [in, out/groups, kd, kh, kw]",
       a_convt3d, 3);

#define CT_LAZY_ROW(nm, sum, args, n)                                                                            \
    SR_ROW(nm, .summary = sum, CF_LAZY_ARGS(args), .repr = "#@lazy, #out_channels, " CT_REPR(n),                 \
           .flags = SR_FUSE_POST | SR_FUSE_AFFINE | SR_LF_LAZY, CT_HOOKS)
CT_LAZY_ROW(LazyConvTranspose1d, "ConvTranspose1d whose in_channels is taken from its input", a_convt1d, 1);
CT_LAZY_ROW(LazyConvTranspose2d, "ConvTranspose2d whose in_channels is taken from its input", a_convt2d, 2);
CT_LAZY_ROW(LazyConvTranspose3d, "ConvTranspose3d whose in_channels is taken from its input", a_convt3d, 3);
