/*
 * conv.c - Conv1d and Conv2d (and LazyConv1d/2d), and the shape rule of
 * every convolution that is not transposed (Conv3d's too).
 *
 * A call runs on one of three kernels, chosen by the layer's geometry
 * alone: conv_kernels.h's (AVX-512; conv_oc16.c, conv_wino.c, conv_pw.c,
 * the depthwise conv_dw*.c), else the direct kernel (conv_direct.c;
 * AVX-512 or AVX2), else im2col and cblas_sgemm (conv_im2col.c).  All
 * run Conv1d as a 2-D convolution whose height is 1.
 */
#include "conv_direct.h"
#include "conv_kernels.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void conv_geo_from(const cf_geo *f, conv_geo *g)
{
    memset(g, 0, sizeof *g);
    g->nd = f->nd;
    g->cin = f->cin;
    g->cout = f->cout;
    g->groups = f->groups;
    g->mode = f->mode;
    g->bias = f->bias;
    for (int i = 0; i < 2; i++) {
        g->k[i] = f->k[i + 1];
        g->s[i] = f->s[i + 1];
        g->dil[i] = f->d[i + 1];
        g->pb[i] = f->pb[i + 1];
        g->pa[i] = f->pa[i + 1];
    }
}

void conv_geo_get(const sr_layer *L, conv_geo *g)
{
    cf_geo f;
    cf_geo_get(L, &f);
    conv_geo_from(&f, g);
}

void conv_dims_get(const conv_geo *g, const sr_shape *s, conv_dims *d)
{
    cf_geo f = {.nd = g->nd};
    cf_dims e;
    cf_dims_get(&f, s, &e);
    *d = (conv_dims){.batched = e.batched, .n = e.n, .c = e.c, .h = e.sp[1], .w = e.sp[2]};
}

/* ---- the shape rule: Conv1d, Conv2d, Conv3d -------------------------------- */

/* Why an input of the wrong rank is one: the data it most likely is. */
static void rank_hint(const cf_geo *g, const sr_shape *in, const sr_shapeinfo *info, char *hint, size_t len)
{
    int nd = g->nd;
    long long cin = (long long)g->cin;
    if (nd >= 2 && in->ndim == 2 && in->d[1] > 0 && g->cin > 0 && in->d[1] % g->cin == 0) {
        /* flat features: suggest the square image (cubic volume) they most likely were */
        int64_t sp = in->d[1] / g->cin, side = (int64_t)llround(nd == 2 ? sqrt((double)sp) : cbrt((double)sp));
        long long e = (long long)side;
        if (nd == 2 && side * side == sp)
            snprintf(hint, len, "insert Unflatten: [1, [%lld, %lld, %lld]] before this layer to restore the image",
                     cin, e, e);
        else if (nd == 3 && side * side * side == sp)
            snprintf(hint, len, "insert Unflatten: [1, [%lld, %lld, %lld, %lld]] before this layer to restore the "
                     "volume", cin, e, e, e);
        else
            snprintf(hint, len, "insert Unflatten: [1, [%lld, %s]] before this layer with %s = %lld", cin,
                     nd == 2 ? "H, W" : "D, H, W", nd == 2 ? "H*W" : "D*H*W", (long long)sp);
    } else if (nd == 2 && in->ndim == 2) {
        snprintf(hint, len, "restore the channel and spatial dimensions with Unflatten before this layer");
    } else if (nd == 2 && in->ndim == 5) {
        snprintf(hint, len, "this is a 3-D volume batch; Conv2d takes images, so merge or drop a dimension first");
    } else if (nd == 1 && in->ndim == 4) {
        snprintf(hint, len, "this is an image batch; use Conv2d, or Flatten: [2] first to make one sequence per "
                 "channel");
    } else if (nd == 1 && in->ndim == 1 && !info->in_batch) {
        snprintf(hint, len, "add a channel dimension: Unflatten: [0, [1, %lld]] before this layer",
                 (long long)in->d[0]);
    } else if (nd == 3 && in->ndim == 3) {
        snprintf(hint, len, "this is a sequence batch; use Conv1d, or give each sample depth, height and width");
    } else {
        snprintf(hint, len, "give the layer a %s input", cf_layout(nd));
    }
}

/*
 * A batch without its channel dimension (see cf_input): Conv2d on
 * [N, 28, 28], not one unbatched sample whose channels happen to be the
 * batch, which is how PyTorch would read it ("expected 1 channels, got N").
 */
static void channel_hint(const cf_geo *g, const sr_shape *in, const sr_shapeinfo *info, char *hint, size_t len)
{
    long long cin = (long long)g->cin, d1 = (long long)in->d[1];
    if (g->nd == 3) {
        if (in->d[1] == g->cin)
            snprintf(hint, len, "these look like images with %lld channels: use Conv2d, or insert Unflatten: [1, "
                     "[%lld, 1]] before this layer to give them a depth of 1", cin, cin);
        else if (g->cin == 1)
            snprintf(hint, len, "insert Unflatten: [1, [1, %lld]] before this layer", d1);
        else
            snprintf(hint, len, "the %lld channels must be dim 1 of (N, C, D, H, W)", cin);
        return;
    }
    /* the input as the layer wants it, batch by name: [N, 1, 28, 28] */
    char full[160];
    size_t f = (size_t)snprintf(full, sizeof full, "[%s, %lld", info->in_batch, cin);
    for (int i = 1; i < in->ndim && f < sizeof full; i++)
        f += (size_t)snprintf(full + f, sizeof full - f, ", %lld", (long long)in->d[i]);
    if (f < sizeof full)
        snprintf(full + f, sizeof full - f, "]");
    size_t h;
    if (g->cin == 1)
        h = (size_t)snprintf(hint, len, "insert Unflatten: [1, [1, %lld]] before this layer", d1);
    else if (g->nd == 1 && d1 > 0 && d1 % cin == 0)
        /* (N, C*L), as Flatten leaves (N, C, L) */
        h = (size_t)snprintf(hint, len, "insert Unflatten: [1, [%lld, %lld]] before this layer if dim 1 holds %lld "
                             "channels one after another", cin, d1 / cin, cin);
    else if (info->prev)
        h = (size_t)snprintf(hint, len, "in_channels=%lld needs the %lld channels as dim 1 of %s", cin, cin,
                             cf_layout(g->nd));
    else
        h = 0;
    if (!info->prev && h < len)
        h += (size_t)snprintf(hint + h, len - h, "%smake the model's input %s", h ? ", or " : "", full);
    if (g->cin != 1 && h < len)
        snprintf(hint + h, len - h, "; or, for one-channel data, insert Unflatten: [1, [1, %lld]] before this layer "
                 "and make in_channels 1", d1);
}

/* For a wrong channel count: an unbatched reading of what is likely a
 * batch of flat rows, or (Conv3d) of images. */
static void cin_extra(const cf_geo *g, const cf_dims *d, const sr_shape *in, char *extra, size_t len)
{
    long long cin = (long long)g->cin, d1 = (long long)in->d[1];
    extra[0] = '\0';
    if (d->batched)
        return;
    if (g->nd == 3) {
        if (in->d[1] == g->cin)
            snprintf(extra, len, "; or, if dim 0 of %s is the batch, these are images: use Conv2d", sr_shp(in));
    } else if (g->cin > 0 && in->d[in->ndim - 1] > 0) {
        if (g->nd == 1 && in->d[1] % g->cin == 0)
            snprintf(extra, len, "; or, if dim 0 of %s is the batch, insert Unflatten: [1, [%lld, %lld]] before "
                     "this layer", sr_shp(in), cin, d1 / cin);
        else if (g->cin == 1)
            snprintf(extra, len, "; or, if dim 0 of %s is the batch, insert Unflatten: [1, [1, %lld]] before this "
                     "layer", sr_shp(in), d1);
    }
}

/* The spatial output for an input, or why there is none. */
typedef struct {
    int64_t osz[3];       /* output sizes (0: none) */
    int64_t padded[3];    /* input plus padding */
    int64_t pads[3];      /* padding before plus after */
    int64_t span[3];      /* the kernel's extent, dilated */
    int64_t need[3];      /* the smallest input that fits: padded >= span, in closed form */
    int fits;             /* every output size is positive */
    int pad_bad;          /* a dim whose padding the mode cannot take, or -1 */
} conv_extent;

static void conv_extent_get(const cf_geo *g, const cf_dims *d, conv_extent *e)
{
    e->fits = 1;
    e->pad_bad = -1;
    for (int i = 0; i < 3; i++) {
        int64_t isz = d->sp[i], pb = g->pb[i], pa = g->pa[i];
        e->pads[i] = pb + pa;
        e->padded[i] = isz + pb + pa;
        e->span[i] = g->d[i] * (g->k[i] - 1) + 1;
        e->need[i] = e->span[i] - e->pads[i] > 1 ? e->span[i] - e->pads[i] : 1;
        e->osz[i] = e->padded[i] >= e->span[i] && isz > 0 ? (e->padded[i] - e->span[i]) / g->s[i] + 1 : 0;
        e->fits &= e->osz[i] > 0;
        if (g->mode == CF_PAD_REFLECT && (pb || pa) && (pb >= isz || pa >= isz))
            e->pad_bad = i;
        if (g->mode == CF_PAD_CIRCULAR && (pb > isz || pa > isz))
            e->pad_bad = i;
    }
}

/* A zero-size output is a mistake, in PyTorch's words. */
static sr_status fit_error(const sr_layer *L, const cf_geo *g, const cf_dims *d, const conv_extent *e,
                           const sr_shape *in, char *err)
{
    const char *nm = L->type->name;
    char a[64], b[64], c[64], f[64], h[64], k[64], m[64];
    if (g->nd == 3)
        return sr_err(err, SR_ESHAPE, "input %s is %s after padding (%s plus %s), smaller than the kernel's extent "
                      "%s (kernel_size=%s); hint: %s fits inputs of at least %s here: remove a downsampling step "
                      "before it, or add padding", sr_shp(in), cf_ext(g, e->padded, a, sizeof a),
                      cf_ext(g, d->sp, b, sizeof b), cf_ext(g, e->pads, c, sizeof c), cf_ext(g, e->span, f, sizeof f),
                      cf_tup(g, g->k, h, sizeof h), nm, cf_ext(g, e->need, m, sizeof m));
    if ((g->nd == 2 && d->sp[1] == 0) || d->sp[2] == 0)
        return sr_err(err, SR_ESHAPE,
                      "input %s has a spatial size of %s, so the output would be empty (Only zero batch or zero "
                      "channel inputs are supported, as PyTorch says); hint: %s fits inputs of at least %s here",
                      sr_shp(in), cf_ext(g, d->sp, b, sizeof b), nm, cf_ext(g, e->need, m, sizeof m));
    return sr_err(err, SR_ESHAPE,
                  "Kernel size can't be greater than actual input size: input %s is %s after padding (%s plus "
                  "%s), smaller than the kernel's extent %s (kernel_size=%s, dilation=%s), so the output would "
                  "be empty; hint: %s fits inputs of at least %s here: remove a downsampling step before it, or "
                  "add padding",
                  sr_shp(in), cf_ext(g, e->padded, a, sizeof a), cf_ext(g, d->sp, b, sizeof b),
                  cf_ext(g, e->pads, c, sizeof c), cf_ext(g, e->span, f, sizeof f), cf_tup(g, g->k, h, sizeof h),
                  cf_tup(g, g->d, k, sizeof k), nm, cf_ext(g, e->need, m, sizeof m));
}

/* Sizes the kernels index with int (cblas_sgemm's, the packed GEMM's):
 * SR_OK, or the error. */
static sr_status size_limits(const cf_geo *g, const conv_extent *e, char *err)
{
    int64_t K, P, pin;
    int over = __builtin_mul_overflow(g->cg, g->k[0] * g->k[1] * g->k[2], &K) ||
               __builtin_mul_overflow(e->osz[0] * e->osz[1], e->osz[2], &P);
    if (g->nd < 3 && (over || K > INT_MAX || P > INT_MAX))
        return sr_err(err, SR_ESHAPE,
                      "this convolution is too large for seqrun's kernel: each output channel sums over "
                      "in_channels/groups * kernel positions and covers the output positions, and both must be at "
                      "most %d; hint: split the input into tiles", INT_MAX);
    /* conv3d.c's kernel also unfolds 64-float blocks of taps and indexes
     * the padded input */
    if (g->nd == 3 && (over || __builtin_mul_overflow(e->padded[0] * e->padded[1], e->padded[2], &pin) ||
                       K > INT_MAX / 64 || P > INT_MAX || pin > INT_MAX))
        return sr_err(err, SR_ESHAPE, "this convolution is too large for seqrun's kernel: in_channels/groups * "
                      "kernel positions must be at most %d, input and output positions at most %d; hint: split the "
                      "input into tiles", INT_MAX / 64, INT_MAX);
    return SR_OK;
}

static sr_status pad_error(const cf_geo *g, const cf_dims *d, int i, const sr_shape *in, char *err)
{
    static const char *const dims[] = {"depth", "height", "width"};
    const char *what = g->nd == 1 ? "length" : dims[i];
    long long pb = (long long)g->pb[i], pa = (long long)g->pa[i], isz = (long long)d->sp[i];
    if (g->mode == CF_PAD_REFLECT)
        return sr_err(err, SR_ESHAPE,
                      "padding_mode='reflect' needs padding smaller than the input, but padding (%lld, %lld) "
                      "is not smaller than the %s %lld of input %s; hint: use padding < %lld, or "
                      "padding_mode='replicate'", pb, pa, what, isz, sr_shp(in), isz);
    return sr_err(err, SR_ESHAPE,
                  "padding_mode='circular' wraps around more than once: padding (%lld, %lld) exceeds the "
                  "%s %lld of input %s; hint: use padding <= %lld", pb, pa, what, isz, sr_shp(in), isz);
}

static sr_status conv_shape_rest(const sr_layer *L, const cf_geo *g, const cf_input *x, sr_shape *out,
                                 sr_shapeinfo *info, char *err)
{
    const sr_shape *in = x->in, *given = x->given;
    const cf_dims d = x->d;
    conv_extent e;
    conv_extent_get(g, &d, &e);
    cf_out_shape(g, &d, in, e.osz, out);
    info->out_known = e.fits;
    if (x->no_channel) {
        char hint[512];
        channel_hint(g, given, info, hint, sizeof hint);
        return cf_channel_error(L, g, given, info, hint, err);
    }
    if (d.c != g->cin) {
        char extra[200];
        cin_extra(g, &d, in, extra, sizeof extra);
        return cf_cin_error(L, g, in, info, d.c, "", extra, err);
    }
    if (!e.fits)
        return fit_error(L, g, &d, &e, in, err);
    sr_status st = size_limits(g, &e, err);
    if (st != SR_OK) {
        info->out_known = 0;
        return st;
    }
    if (e.pad_bad >= 0)
        return pad_error(g, &d, e.pad_bad, in, err);
    return SR_OK;
}

static const cf_shape_rule conv_rule = {.rank_hint = rank_hint, .rest = conv_shape_rest};

SR_SHAPE_FN(sr_conv_shape) { return cf_shape(L, in, out, info, err, &conv_rule); }

/* ---- forward ------------------------------------------------------------------ */

static int conv_ck(const conv_geo *g, const conv_dims *di, const conv_dims *dout, ck_conv *c);

SR_WORKSPACE_FN(sr_conv_workspace)
{
    conv_geo g;
    conv_geo_get(L, &g);
    conv_dims di, dout;
    conv_dims_get(&g, in, &di);
    conv_dims_get(&g, out, &dout);
    /* An impossible size on overflow: the runner's allocation fails
     * cleanly rather than wrapping around. */
    const size_t huge = SIZE_MAX / 16;
    cf_call c;
    cf_call_get(L, in, out, &c);
    size_t n = cf_blas_workspace(&c.g, &c.di, &c.dout);
    if (n >= huge)
        return huge;
    /* the direct kernels' padded blocks (the shape rule bounds the sizes) */
    size_t dw = dc_workspace(&g, &di, &dout);
    if (dw > n)
        n = dw;
    /* or conv_kernels.h's */
    ck_conv kc;
    int kind = conv_ck(&g, &di, &dout, &kc);
    size_t kw = kind ? ck_workspace(&kc, kind) : 0;
    if (kw > n)
        n = kw;
    return n < huge ? n : huge;
}

/* The convolution as conv_kernels.h takes it, and the kernel of theirs that
 * runs it (CK_NONE: conv.c's own). */
static int conv_ck(const conv_geo *g, const conv_dims *di, const conv_dims *dout, ck_conv *c)
{
    *c = (ck_conv){.n = di->n, .cin = g->cin, .cout = g->cout, .groups = g->groups, .h = di->h, .w = di->w,
                   .oh = dout->h, .ow = dout->w, .mode = g->mode};
    for (int i = 0; i < 2; i++) {
        c->k[i] = g->k[i];
        c->s[i] = g->s[i];
        c->dil[i] = g->dil[i];
        c->pb[i] = g->pb[i];
        c->pa[i] = g->pa[i];
    }
    return ck_choose(c);
}
/* Before the threads (layer.h's prepare): what the kernel forward() will
 * choose for this input keeps in the cache slot (packed weights, tables),
 * built now, so that the threads only read it. */
static sr_status conv_prepare(const sr_layer *L, const sr_shape *in, sr_ctx *ctx, char *err)
{
    conv_geo g;
    conv_geo_get(L, &g);
    conv_dims di, dout;
    conv_dims_get(&g, in, &di);
    dout = di;
    dout.c = g.cout;
    dout.h = (di.h + g.pb[0] + g.pa[0] - g.dil[0] * (g.k[0] - 1) - 1) / g.s[0] + 1;
    dout.w = (di.w + g.pb[1] + g.pa[1] - g.dil[1] * (g.k[1] - 1) - 1) / g.s[1] + 1;
    const float *W = ctx->weight ? ctx->weight : sr_f32(&L->param[0]);
    const float *bias = ctx->weight ? ctx->bias : g.bias ? sr_f32(&L->param[1]) : NULL;
    int64_t P = dout.h * dout.w, K = g.cin / g.groups * g.k[0] * g.k[1];
    if (!ctx->cache || di.n <= 0 || P <= 0)
        return SR_OK;
    ck_conv kc;
    int kind = conv_ck(&g, &di, &dout, &kc), level = dc_level(&g), bad = 0;
    if (kind && K > 0)
        bad = ck_prepare(&kc, kind, W, bias, ctx) < 0;
    else if (!kind && level)
        bad = dc_prepare(&g, level, W, bias, ctx) < 0;
    return bad ? sr_err(err, SR_ERUN, "out of memory packing the convolution's weights") : SR_OK;
}

SR_FORWARD_FN(sr_conv_forward)
{
    conv_geo g;
    conv_geo_get(L, &g);
    conv_dims di, dout;
    conv_dims_get(&g, &in->shape, &di);
    conv_dims_get(&g, &out->shape, &dout);
    int64_t Cg = g.cin / g.groups;
    int64_t P = dout.h * dout.w, K = Cg * g.k[0] * g.k[1];
    const float *Wt = ctx->weight ? ctx->weight : sr_f32(&L->param[0]);
    const float *bias = ctx->weight ? ctx->bias : g.bias ? sr_f32(&L->param[1]) : NULL;
    ck_conv kc;
    int kind = conv_ck(&g, &di, &dout, &kc);
    if (kind && di.n > 0 && P > 0 && K > 0) {
        if (ck_forward(&kc, kind, Wt, bias, sr_f32(in), sr_f32(out), ctx) < 0)
            return sr_err(err, SR_ERUN, "out of memory packing the convolution's weights");
        return SR_OK;
    }
    int level = dc_level(&g);
    if (level && di.n > 0 && P > 0)
        return dc_forward(L, &g, &di, &dout, level, in, out, ctx, err);
    cf_call c;
    cf_call_get(L, &in->shape, &out->shape, &c);
    return cf_forward_blas(&c.g, &c.di, &c.dout, Wt, bias, sr_f32(in), sr_f32(out), ctx, err);
}

/* ---- rows ----------------------------------------------------------------- */

CF_CONV_ARGS(a_conv1d, 1);
CF_CONV_ARGS(a_conv2d, 2);

/* Conv1d's and Conv2d's hooks, which serve their lazy rows as they are */
#define CONV_HOOKS                                                                                        \
    .variant = CF_CONV, .validate = sr_conv_validate, .shape = sr_conv_shape, .params = sr_conv_params,     \
    .forward = sr_conv_forward, .workspace = sr_conv_workspace, .channel_dim = sr_conv_channel_dim,       \
    .fold = sr_fold_out_rows, .in_layout = sr_conv_in_layout, .out_layout_ok = sr_conv_out_layout_ok,     \
    .prepare = conv_prepare

SR_ROW(Conv1d, .summary = "1-D convolution over (N, C, L)", SR_ARGS(a_conv1d),
       .repr = "#in_channels, #out_channels, " CF_CONV_REPR(1),
       .flags = SR_FUSE_POST | SR_FUSE_AFFINE, CONV_HOOKS);
SR_ROW(Conv2d, .summary = "2-D convolution over (N, C, H, W)", SR_ARGS(a_conv2d),
       .repr = "#in_channels, #out_channels, " CF_CONV_REPR(2),
       .flags = SR_FUSE_POST | SR_FUSE_AFFINE, CONV_HOOKS);
SR_ROW(LazyConv1d, .summary = "Conv1d whose in_channels is taken from its input", CF_LAZY_ARGS(a_conv1d),
       .repr = "#@lazy, #out_channels, " CF_CONV_REPR(1),
       .flags = SR_FUSE_POST | SR_FUSE_AFFINE | SR_LF_LAZY, CONV_HOOKS);
SR_ROW(LazyConv2d, .summary = "Conv2d whose in_channels is taken from its input", CF_LAZY_ARGS(a_conv2d),
       .repr = "#@lazy, #out_channels, " CF_CONV_REPR(2),
       .flags = SR_FUSE_POST | SR_FUSE_AFFINE | SR_LF_LAZY, CONV_HOOKS);
