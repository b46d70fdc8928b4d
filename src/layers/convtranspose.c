/*
 * convtranspose.c - ConvTranspose1d, ConvTranspose2d, ConvTranspose3d, and
 * the lazy convolutions (LazyConv1d/2d/3d, LazyConvTranspose1d/2d/3d).
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
 * conv.c's im2col path.
 *
 * The lazy convolutions are the convolutions they materialise into: their
 * hooks run the full type's hooks (conv.c's, conv3d.c's, the ones here) on
 * a view of the layer whose argument list starts with the in_channels its
 * first input fixed (L->lazy_in).
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

/* ConvTranspose*d's arguments, in PyTorch's constructor order */
enum { CT_IN, CT_OUT, CT_KERNEL, CT_STRIDE, CT_PADDING, CT_OUTPAD, CT_GROUPS, CT_BIAS, CT_DILATION, CT_PADMODE,
       CT_NARGS };

#define CT_ARG_MAX (1 << 30)

/* The layer in 3-D terms: index 0 is depth, 1 height, 2 width; a layer's
 * missing leading dimensions have kernel 1, stride 1, no padding. */
typedef struct {
    int nd;                    /* spatial dims of the layer: 1, 2 or 3 */
    int64_t cin, cout, groups, cg, og;
    int64_t k[3], s[3], p[3], op[3], d[3];
    int bias;
} ct_geo;

typedef struct {
    int batched;
    int64_t n, c, sp[3];
} ct_dims;

static int ct_nd(const sr_layer *L) { return L->type->args[CT_KERNEL].tlen; }

static void ct_geo_get(const sr_layer *L, ct_geo *g)
{
    memset(g, 0, sizeof *g);
    int nd = g->nd = ct_nd(L);
    g->cin = sr_argi(L, CT_IN);
    g->cout = sr_argi(L, CT_OUT);
    g->groups = sr_argi(L, CT_GROUPS);
    g->cg = g->groups > 0 ? g->cin / g->groups : g->cin;
    g->og = g->groups > 0 ? g->cout / g->groups : g->cout;
    g->bias = (int)sr_argi(L, CT_BIAS);
    int64_t k[3], s[3], p[3], op[3], d[3];
    sr_arg_tuple(L, CT_KERNEL, nd, k);
    sr_arg_tuple(L, CT_STRIDE, nd, s);
    sr_arg_tuple(L, CT_PADDING, nd, p);
    sr_arg_tuple(L, CT_OUTPAD, nd, op);
    sr_arg_tuple(L, CT_DILATION, nd, d);
    for (int i = 0; i < 3; i++) {
        int j = i - (3 - nd);
        if (j < 0) {
            g->k[i] = g->s[i] = g->d[i] = 1;
            continue;
        }
        g->k[i] = k[j];
        g->s[i] = s[j];
        g->p[i] = p[j];
        g->op[i] = op[j];
        g->d[i] = d[j];
    }
}

static void ct_dims_get(const ct_geo *g, const sr_shape *s, ct_dims *d)
{
    d->batched = s->ndim == g->nd + 2;
    int b = d->batched;
    d->n = b ? s->d[0] : 1;
    d->c = s->d[b];
    for (int i = 0; i < 3; i++) {
        int j = i - (3 - g->nd);
        d->sp[i] = j < 0 ? 1 : s->d[b + 1 + j];
    }
}

/* "4x4" (the layer's own dims of a 3-D-terms vector) */
static const char *ext(const ct_geo *g, const int64_t *v, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 3 - g->nd; i < 3 && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", i > 3 - g->nd ? "x" : "", (long long)v[i]);
    return buf;
}

/* "(2, 2)", or "2" for a 1-D layer: as the user writes it */
static const char *tup(const ct_geo *g, const int64_t *v, char *buf, size_t len)
{
    if (g->nd == 1) {
        snprintf(buf, len, "%lld", (long long)v[2]);
        return buf;
    }
    size_t k = (size_t)snprintf(buf, len, "(");
    for (int i = 3 - g->nd; i < 3 && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", i > 3 - g->nd ? ", " : "", (long long)v[i]);
    if (k < len)
        snprintf(buf + k, len - k, ")");
    return buf;
}

static const char *layout_of(int nd)
{
    return nd == 1 ? "(N, C, L)" : nd == 2 ? "(N, C, H, W)" : "(N, C, D, H, W)";
}

SR_VALIDATE_FN(sr_convt_validate)
{
    ct_geo g;
    ct_geo_get(L, &g);
    const char *nm = L->type->name;
    char b1[64], b2[64], b3[64], b4[64];
    if (g.cin <= 0)
        return sr_err(err, SR_EUSAGE, "in_channels must be positive, got %lld; hint: in_channels is the channel "
                      "count (dim 1) of the input", (long long)g.cin);
    if (g.cout <= 0)
        return sr_err(err, SR_EUSAGE, "out_channels must be positive, got %lld; hint: a %s needs at least one "
                      "output channel", (long long)g.cout, nm);
    if (g.groups <= 0)
        return sr_err(err, SR_EUSAGE, "groups must be a positive integer, got %lld", (long long)g.groups);
    if (g.cin % g.groups || g.cout % g.groups)
        return sr_err(err, SR_EUSAGE, "%s must be divisible by groups, but in_channels=%lld, out_channels=%lld "
                      "and groups=%lld; hint: use a groups value that divides both %lld and %lld",
                      g.cin % g.groups ? "in_channels" : "out_channels", (long long)g.cin, (long long)g.cout,
                      (long long)g.groups, (long long)g.cin, (long long)g.cout);
    if (strcmp(L->arg[CT_PADMODE].s, "zeros") != 0)
        return sr_err(err, SR_EUSAGE, "Only \"zeros\" padding mode is supported for %s, got padding_mode='%s'; "
                      "hint: leave padding_mode out (a transposed convolution's padding crops its output, it "
                      "adds nothing to pad)", nm, L->arg[CT_PADMODE].s);
    for (int i = 3 - g.nd; i < 3; i++) {
        if (g.k[i] <= 0)
            return sr_err(err, SR_EUSAGE, "kernel_size must be positive, got %s", tup(&g, g.k, b1, sizeof b1));
        if (g.s[i] <= 0)
            return sr_err(err, SR_EUSAGE, "stride must be positive, got %s", tup(&g, g.s, b1, sizeof b1));
        if (g.d[i] <= 0)
            return sr_err(err, SR_EUSAGE, "dilation must be at least 1, got %s", tup(&g, g.d, b1, sizeof b1));
        if (g.p[i] < 0)
            return sr_err(err, SR_EUSAGE, "negative padding is not supported, got %s; hint: padding must be >= 0",
                          tup(&g, g.p, b1, sizeof b1));
        if (g.op[i] < 0)
            return sr_err(err, SR_EUSAGE, "negative output_padding is not supported, got %s; hint: "
                          "output_padding must be >= 0", tup(&g, g.op, b1, sizeof b1));
        if (g.k[i] > CT_ARG_MAX || g.s[i] > CT_ARG_MAX || g.d[i] > CT_ARG_MAX || g.p[i] > CT_ARG_MAX ||
            g.op[i] > CT_ARG_MAX)
            return sr_err(err, SR_EUSAGE, "kernel_size, stride, padding, output_padding and dilation must be at "
                          "most %d", CT_ARG_MAX);
    }
    if (g.cin > CT_ARG_MAX || g.cout > CT_ARG_MAX)
        return sr_err(err, SR_EUSAGE, "in_channels and out_channels must be at most %d", CT_ARG_MAX);
    for (int i = 3 - g.nd; i < 3; i++)
        if (g.op[i] >= g.s[i] && g.op[i] >= g.d[i]) {
            /* the largest output_padding each dimension allows */
            int64_t fix[3];
            for (int j = 0; j < 3; j++) {
                int64_t lim = (g.s[j] > g.d[j] ? g.s[j] : g.d[j]) - 1;
                fix[j] = g.op[j] < lim ? g.op[j] : lim;
            }
            return sr_err(err, SR_EUSAGE, "output padding must be smaller than either stride or dilation, but "
                          "output_padding=%s with stride=%s and dilation=%s; hint: output_padding only picks one "
                          "of the %s output sizes a stride allows: use output_padding=%s at most",
                          tup(&g, g.op, b1, sizeof b1), tup(&g, g.s, b2, sizeof b2), tup(&g, g.d, b3, sizeof b3),
                          nm, tup(&g, fix, b4, sizeof b4));
        }
    return SR_OK;
}

static sr_status rank_error(const sr_layer *L, const ct_geo *g, const sr_shape *in, const sr_shapeinfo *info,
                            char *err)
{
    const char *nm = L->type->name;
    char src[256], hint[256];
    long long cin = (long long)g->cin;
    sr_from(info, 1, src, sizeof src);
    int nd = g->nd;
    if (nd >= 2 && in->ndim == 2 && in->d[1] > 0 && in->d[1] % g->cin == 0) {
        /* flat features: a latent vector (a DCGAN generator's z) or a square image */
        int64_t sp = in->d[1] / g->cin, side = (int64_t)llround(nd == 2 ? sqrt((double)sp) : cbrt((double)sp));
        if (sp == 1)
            snprintf(hint, sizeof hint, "insert Unflatten: [1, [%lld, 1, 1%s]] before this layer to make each "
                     "vector a 1x1%s image with %lld channels", cin, nd == 3 ? ", 1" : "", nd == 3 ? "x1" : "", cin);
        else if (nd == 2 && side * side == sp)
            snprintf(hint, sizeof hint, "insert Unflatten: [1, [%lld, %lld, %lld]] before this layer to restore "
                     "the image", cin, (long long)side, (long long)side);
        else if (nd == 3 && side * side * side == sp)
            snprintf(hint, sizeof hint, "insert Unflatten: [1, [%lld, %lld, %lld, %lld]] before this layer to "
                     "restore the volume", cin, (long long)side, (long long)side, (long long)side);
        else
            snprintf(hint, sizeof hint, "insert Unflatten before this layer to restore the channel and spatial "
                     "dimensions (%lld channels of %lld values)", cin, (long long)sp);
    } else if (nd == 1 && in->ndim == 1 && !info->in_batch) {
        snprintf(hint, sizeof hint, "add a channel dimension: Unflatten: [0, [1, %lld]] before this layer",
                 (long long)in->d[0]);
    } else if (in->ndim == nd + 3 && nd < 3) {
        snprintf(hint, sizeof hint, "this input has one more spatial dimension: use ConvTranspose%dd",
                 in->ndim - 2 < 3 ? in->ndim - 2 : 3);
    } else {
        snprintf(hint, sizeof hint, "give the layer a %s input", layout_of(nd));
    }
    static const char *const unb[] = {"", "(C, L)", "(C, H, W)", "(C, D, H, W)"};
    return sr_err(err, SR_ESHAPE, "%s expects a %d-D %s or %d-D %s input, but input %s%s is %d-D; hint: %s", nm,
                  nd + 1, unb[nd], nd + 2, layout_of(nd), sr_shp(in), src, in->ndim, hint);
}

/* Dim 0 is the model input's named batch and the input is one dim short:
 * a batch without its channel dimension (see conv.c). */
static sr_status channel_error(const sr_layer *L, const ct_geo *g, const sr_shape *in, const sr_shapeinfo *info,
                               char *err)
{
    char src[256], hint[300];
    sr_from(info, 1, src, sizeof src);
    long long cin = (long long)g->cin, d1 = (long long)in->d[1];
    if (g->cin == 1)
        snprintf(hint, sizeof hint, "insert Unflatten: [1, [1, %lld]] before this layer", d1);
    else if (g->nd == 1 && d1 > 0 && d1 % cin == 0)
        snprintf(hint, sizeof hint, "insert Unflatten: [1, [%lld, %lld]] before this layer if dim 1 holds %lld "
                 "channels one after another", cin, d1 / cin, cin);
    else
        snprintf(hint, sizeof hint, "in_channels=%lld needs the %lld channels as dim 1 of %s", cin, cin,
                 layout_of(g->nd));
    return sr_err(err, SR_ESHAPE, "%s expects a batch as %d-D %s, but input %s%s, whose dim 0 is the batch, has "
                  "no channel dimension; hint: %s", L->type->name, g->nd + 2, layout_of(g->nd), sr_shp(in), src,
                  hint);
}

/* Output size along dim i for input size n: (n - 1) * s - 2p + d(k - 1) + op + 1,
 * or INT64_MIN when that overflows. */
static int64_t ct_out(const ct_geo *g, int i, int64_t n)
{
    int64_t a;
    if (__builtin_mul_overflow(n - 1, g->s[i], &a) ||
        __builtin_add_overflow(a, g->d[i] * (g->k[i] - 1) + g->op[i] + 1 - 2 * g->p[i], &a))
        return INT64_MIN;
    return a;
}

SR_SHAPE_FN(sr_convt_shape)
{
    ct_geo g;
    ct_geo_get(L, &g);
    const char *nm = L->type->name;
    char src[256];
    sr_from(info, 1, src, sizeof src);
    if (in->ndim != g.nd + 1 && in->ndim != g.nd + 2)
        return rank_error(L, &g, in, info, err);
    const sr_shape *given = in;
    sr_shape with_c;
    int no_channel = info->in_batch && in->ndim == g.nd + 1;
    if (no_channel) {
        with_c.ndim = in->ndim + 1;
        with_c.d[0] = in->d[0];
        with_c.d[1] = g.cin;
        for (int i = 1; i < in->ndim; i++)
            with_c.d[i + 1] = in->d[i];
        in = &with_c;
    }
    ct_dims d;
    ct_dims_get(&g, in, &d);
    info->batch_dim0 = d.batched;
    int64_t osz[3] = {1, 1, 1}, need[3] = {1, 1, 1}, pfit[3] = {0, 0, 0};
    int fits = 1, empty = 0, huge = 0;
    for (int i = 3 - g.nd; i < 3; i++) {
        if (d.sp[i] <= 0) {
            empty = 1;
            osz[i] = 0;
            continue;
        }
        osz[i] = ct_out(&g, i, d.sp[i]);
        if (osz[i] == INT64_MIN)
            huge = 1, osz[i] = 0;
        fits &= osz[i] > 0;
        /* the smallest input that gives an output, and the most padding this one takes */
        int64_t short_by = 2 * g.p[i] - g.d[i] * (g.k[i] - 1) - g.op[i];
        need[i] = short_by > 0 ? 1 + (short_by + g.s[i] - 1) / g.s[i] : 1;
        int64_t base = osz[i] + 2 * g.p[i];
        pfit[i] = base > 1 ? (base - 1) / 2 : 0;
    }
    *out = *in;
    out->d[d.batched] = g.cout;
    for (int i = 3 - g.nd; i < 3; i++)
        out->d[out->ndim - 3 + i] = osz[i] > 0 ? osz[i] : 0;
    info->out_known = fits && !empty && !huge;
    if (no_channel)
        return channel_error(L, &g, given, info, err);
    if (d.c != g.cin) {
        /* an unbatched reading of what is likely a batch of lower-rank data */
        char extra[160] = "";
        if (!d.batched && g.nd >= 2 && in->d[1] == g.cin)
            snprintf(extra, sizeof extra, "; or, if dim 0 of %s is the batch, use ConvTranspose%dd", sr_shp(in),
                     g.nd - 1);
        return sr_err(err, SR_ESHAPE, "%s(in_channels=%lld) expects %lld channels, but input %s%s has %lld; hint: "
                      "in_channels should be %lld (a transposed convolution's weight is [in_channels, "
                      "out_channels/groups, *kernel_size])%s", nm, (long long)g.cin, (long long)g.cin, sr_shp(in),
                      src, (long long)d.c, (long long)d.c, extra);
    }
    char a[64], b[64], c[64], e[64], f[64], h[64];
    if (empty)
        return sr_err(err, SR_ESHAPE, "%s needs a non-empty input, but input %s%s has a spatial size of 0; hint: "
                      "its input must be at least %s", nm, sr_shp(in), src, ext(&g, need, a, sizeof a));
    if (huge)
        return sr_err(err, SR_ESHAPE, "%s's output for input %s%s would be larger than seqrun can index; hint: "
                      "split the input into tiles", nm, sr_shp(in), src);
    if (!fits)
        return sr_err(err, SR_ESHAPE, "%s's output for input %s%s would be %s: (size - 1)*stride - 2*padding + "
                      "dilation*(kernel_size - 1) + output_padding + 1 with kernel_size=%s, stride=%s, padding=%s; "
                      "hint: use padding=%s or less, or give it an input of at least %s", nm, sr_shp(in), src,
                      ext(&g, osz, a, sizeof a), tup(&g, g.k, b, sizeof b), tup(&g, g.s, c, sizeof c),
                      tup(&g, g.p, e, sizeof e), tup(&g, pfit, f, sizeof f), ext(&g, need, h, sizeof h));
    /* cblas_sgemm and the packed GEMM take int sizes */
    int64_t T = g.k[0] * g.k[1] * g.k[2], pin, pout, cols;
    if (__builtin_mul_overflow(d.sp[0], d.sp[1], &pin) || __builtin_mul_overflow(pin, d.sp[2], &pin) ||
        __builtin_mul_overflow(osz[0], osz[1], &pout) || __builtin_mul_overflow(pout, osz[2], &pout) ||
        __builtin_mul_overflow(T, g.og, &cols) || pin > INT_MAX || pout > INT_MAX / 32 || cols > INT_MAX ||
        T > INT_MAX / 32) {
        info->out_known = 0;
        return sr_err(err, SR_ESHAPE, "this transposed convolution is too large for seqrun's kernel: input and "
                      "output positions and out_channels/groups * kernel positions must each be at most %d; hint: "
                      "split the input into tiles", INT_MAX / 32);
    }
    return SR_OK;
}

SR_PARAMS_FN(sr_convt_params)
{
    ct_geo g;
    ct_geo_get(L, &g);
    memset(p, 0, 2 * sizeof *p);
    int64_t wd[5] = {g.cin, g.og};
    int nd = 2;
    /* PyTorch's fan_in is weight.size(1) * prod(kernel_size) */
    double fan_in = (double)g.og;
    for (int i = 3 - g.nd; i < 3; i++) {
        wd[nd++] = g.k[i];
        fan_in *= (double)g.k[i];
    }
    p[0].name = "weight";
    p[0].shape = sr_shape_make(nd, wd);
    p[0].init = sr_init_kaiming_uniform_a(sqrt(5.0));
    p[0].zero_row = -1;
    if (!g.bias)
        return 1;
    double bound = fan_in > 0 ? 1.0 / sqrt(fan_in) : 0.0;
    p[1].name = "bias";
    p[1].shape = sr_shape_make(1, (int64_t[]){g.cout});
    p[1].init = sr_init_uniform(-bound, bound);
    p[1].zero_row = -1;
    return 2;
}

/* Output channels: dim 1 of a batched output, dim 0 of an unbatched one. */
static int ct_channel_dim(const sr_layer *L, const sr_shape *out)
{
    return out->ndim - ct_nd(L) - 1;
}

/* A BatchNorm after it: output channel o = g * og + j is weight[g * cg + i, j, ...]
 * for every i < cg, so the scale goes along dim 1 within each group. */
static int64_t ct_fold(const sr_layer *P, const double *scale, const double *shift, float *w, float *b)
{
    if (P->nparam < 1 || P->param[0].dtype != SR_F32 || P->param[0].shape.ndim < 2)
        return 0;
    const sr_shape *ws = &P->param[0].shape;
    int64_t groups = sr_argi(P, CT_GROUPS), cin = ws->d[0], og = ws->d[1];
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

static size_t up16(size_t n) { return (n + 15) & ~(size_t)15; }

static void ct_plan_get(const ct_geo *g, const ct_dims *di, const ct_dims *dout, ct_plan *P)
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
    P->xt_f = up16((size_t)(P->rows * g->cg));
    P->col_f = up16((size_t)(P->rows * P->T * P->wb));
    P->acc_f = up16((size_t)(P->nb * P->Pout * P->wb));
    P->area = P->xt_f + P->col_f + P->acc_f;
    /* by border class: when whole 32-channel blocks (a panel per tap) and
     * some pixels have taps outside the output */
    int waste = 0, ok = P->wb == CT_WB && P->Pin * g->cg <= CT_XN_MAX;
    for (int i = 0; i < 2 && ok; i++) {
        ok = dim_classes(di->sp[i], dout->sp[i], g->k[i], g->s[i], g->p[i], g->d[i], &P->dc[i]) == 0;
        for (int c = 0; ok && c < P->dc[i].n; c++)
            waste |= P->dc[i].t1[c] - P->dc[i].t0[c] < g->k[i];
    }
    P->cls = ok && waste;
    if (P->cls) {
        int64_t nx = CT_XN_MAX / (P->Pin * g->cg);
        P->nb = P->nb < nx ? P->nb : nx > 0 ? nx : 1;
        P->nsb = (di->n + P->nb - 1) / P->nb;
        P->acc_f = up16((size_t)(P->nb * P->Pout * P->wb));
        P->xn_f = up16((size_t)(P->nb * P->Pin * g->cg));
        if (P->col_f < (size_t)CT_COL_MAX)
            P->col_f = (size_t)CT_COL_MAX;
        P->area = P->xt_f + P->col_f + P->acc_f + 2 * P->xn_f;
    }
    int64_t last = g->og - (P->nob - 1) * P->wb;
    P->blk_f = sr_gemm_packed_floats(P->T * P->wb, g->cg);
    P->grp_f = (size_t)(P->nob - 1) * P->blk_f + sr_gemm_packed_floats(P->T * last, g->cg);
}

#define CT_HDR 64 /* the cache block's header: keeps the packed weights 64-byte aligned */

typedef struct {
    size_t floats;    /* prepared floats after the header */
    int kind;         /* CT_PIXEL_ROWS or CT_PLANAR: what they are */
} ct_cache;

enum { CT_PIXEL_ROWS = 1, CT_PLANAR = 2 };

/* Packs W [cin, og, T] per group and block of wb output channels as the
 * GEMM's [T * wb, cg] matrix, column (t, o) of row block... tap-major. */
static int ct_pack(const ct_geo *g, const ct_plan *P, const float *W, float *dst)
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
    const ct_geo *g;
    const ct_dims *di, *dout;
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
    const ct_geo *g = J->g;
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
        G.p[i] = g->p[i];
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
    const ct_geo *g = J->g;
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
        G.p[i] = g->p[i];
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

/* The executor's cache slot holding `floats` prepared floats of this kind,
 * built by fill() on the first call (or a private block without a slot,
 * which *own then holds for the caller to free); NULL when out of memory. */
static const float *ct_prepared(sr_ctx *ctx, int kind, size_t floats, ct_cache **own,
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

typedef struct {
    const ct_geo *g;
    const ct_plan *P;
    const float *W;
} pack_arg;

static int fill_packed(const void *arg, float *dst)
{
    const pack_arg *A = arg;
    return ct_pack(A->g, A->P, A->W, dst);
}

static sr_status ct_forward_gemm(const ct_geo *g, const ct_dims *di, const ct_dims *dout, const float *W,
                                 const float *bias, const float *x, float *y, sr_ctx *ctx, char *err)
{
    ct_plan P;
    ct_plan_get(g, di, dout, &P);
    ct_cache *own;
    pack_arg A = {.g = g, .P = &P, .W = W};
    const float *wp = ct_prepared(ctx, CT_PIXEL_ROWS, (size_t)g->groups * P.grp_f, &own, fill_packed, &A);
    if (!wp)
        return sr_err(err, SR_ERUN, "out of memory packing the transposed convolution's weights");
    ct_job J = {.g = g, .di = di, .dout = dout, .P = &P, .x = x, .bias = bias, .wp = wp, .y = y,
                .work = ctx->work, .ctx = ctx};
    int64_t tasks = g->groups * P.nob * P.nsb;
    sr_par_for(ctx->threads > 1 ? ctx->threads : 1, tasks, ct_task, &J);
    free(own);
    return SR_OK;
}

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

static int ct_planar(const ct_geo *g, const ct_dims *di)
{
    return g->og < CT_PLANAR_OG && di->sp[2] >= 8 && g->k[0] <= 64 && g->k[1] <= 64 && g->k[2] <= 64;
}

static void ctp_plan_get(const ct_geo *g, const ct_dims *di, const ct_dims *dout, ctp_plan *P)
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
    P->xp_f = up16(sr_gemm_packed_floats(npix, g->cg) + 16);
    P->col_f = up16((size_t)(P->M * npix));
    P->acc_f = up16((size_t)(g->og * P->phases * P->plane));
    P->area = P->xp_f + P->col_f + P->acc_f;
}

/* W [cin, og, T] as the GEMM's rows, per group: Wt[g][(o, t)][c] */
typedef struct {
    const ct_geo *g;
    const float *W;
} wt_arg;

static int fill_wt(const void *arg, float *dst)
{
    const wt_arg *A = arg;
    const ct_geo *g = A->g;
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
    const ct_geo *g;
    const ct_dims *di, *dout;
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
    const ct_geo *g = J->g;
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

static sr_status ct_forward_planar(const ct_geo *g, const ct_dims *di, const ct_dims *dout, const float *W,
                                   const float *bias, const float *x, float *y, sr_ctx *ctx, char *err)
{
    ctp_plan P;
    ctp_plan_get(g, di, dout, &P);
    ct_cache *own;
    wt_arg A = {.g = g, .W = W};
    const float *wt = ct_prepared(ctx, CT_PLANAR, (size_t)(g->groups * P.M * g->cg), &own, fill_wt, &A);
    if (!wt)
        return sr_err(err, SR_ERUN, "out of memory preparing the transposed convolution's weights");
    tap_map tm;
    for (int i = 0; i < 3; i++)
        for (int64_t j = 0; j < g->k[i]; j++) {
            int64_t off = j * g->d[i] - g->p[i], q = ((off % g->s[i]) + g->s[i]) % g->s[i];
            tm.q[i][j] = q;
            tm.sh[i][j] = (off - q) / g->s[i];
        }
    ctp_job J = {.g = g, .di = di, .dout = dout, .P = &P, .tm = &tm, .x = x, .bias = bias, .wt = wt, .y = y,
                 .work = ctx->work, .ctx = ctx};
    sr_par_for(ctx->threads > 1 ? ctx->threads : 1, di->n * g->groups, ctp_task, &J);
    free(own);
    return SR_OK;
}

/* ---- without: cblas_sgemm per sample and group, then col2im ----------------- */

/* y[o][opix] += col[(o, t)][pin] over every tap of every pixel, y holding
 * og channels of Pout; taps in order, pixels in order within a tap. */
static void col2im_planar(const ct_geo *g, const ct_dims *di, const ct_dims *dout, const float *col, float *y)
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
                    int64_t off2 = c * g->d[2] - g->p[2];
                    for (int64_t i0 = 0; i0 < is[0]; i0++) {
                        int64_t o0 = i0 * g->s[0] - g->p[0] + a * g->d[0];
                        if (o0 < 0 || o0 >= os[0])
                            continue;
                        for (int64_t i1 = 0; i1 < is[1]; i1++) {
                            int64_t o1 = i1 * g->s[1] - g->p[1] + b * g->d[1];
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

static sr_status ct_forward_blas(const ct_geo *g, const ct_dims *di, const ct_dims *dout, const float *W,
                                 const float *bias, const float *x, float *y, sr_ctx *ctx)
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

SR_WORKSPACE_FN(sr_convt_workspace)
{
    ct_geo g;
    ct_geo_get(L, &g);
    ct_dims di, dout;
    ct_dims_get(&g, in, &di);
    ct_dims_get(&g, out, &dout);
    if (sr_gemm_available() && ct_planar(&g, &di)) {
        ctp_plan P;
        ctp_plan_get(&g, &di, &dout, &P);
        return P.area;
    }
    if (sr_gemm_available()) {
        ct_plan P;
        ct_plan_get(&g, &di, &dout, &P);
        return P.area;
    }
    return (size_t)(g.og * g.k[0] * g.k[1] * g.k[2]) * (size_t)(di.sp[0] * di.sp[1] * di.sp[2]);
}

SR_FORWARD_FN(sr_convt_forward)
{
    ct_geo g;
    ct_geo_get(L, &g);
    ct_dims di, dout;
    ct_dims_get(&g, &in->shape, &di);
    ct_dims_get(&g, &out->shape, &dout);
    if (di.n == 0)
        return SR_OK;
    const float *W = ctx->weight ? ctx->weight : sr_f32(&L->param[0]);
    const float *bias = ctx->weight ? ctx->bias : g.bias ? sr_f32(&L->param[1]) : NULL;
    if (sr_gemm_available() && ct_planar(&g, &di))
        return ct_forward_planar(&g, &di, &dout, W, bias, sr_f32(in), sr_f32(out), ctx, err);
    if (sr_gemm_available())
        return ct_forward_gemm(&g, &di, &dout, W, bias, sr_f32(in), sr_f32(out), ctx, err);
    if (!sr_blas_threads(1, err)) /* else OpenBLAS could retry its buffer forever */
        return SR_ERUN;
    return ct_forward_blas(&g, &di, &dout, W, bias, sr_f32(in), sr_f32(out), ctx);
}

/* ---- the lazy convolutions -------------------------------------------------- */

/* Every lazy row's .variant indexes this: the full type it materialises
 * into, and the view's type (the full argument list under the lazy
 * name, so messages name the layer the spec wrote). */
typedef struct {
    const sr_layertype *full;
    const sr_layertype *view;
    int nd;
    int groups_arg;    /* index of groups in the full argument list */
} lazy_kind;

enum { LZ_CONV1D, LZ_CONV2D, LZ_CONV3D, LZ_CONVT1D, LZ_CONVT2D, LZ_CONVT3D };
static const lazy_kind lazy_kinds[6];

static const lazy_kind *lazy_of(const sr_layer *L) { return &lazy_kinds[L->type->variant]; }

/* V: L as its full type, with in_channels = cin in front of its arguments. */
static void lazy_view(const sr_layer *L, int64_t cin, sr_layer *V)
{
    const lazy_kind *Z = lazy_of(L);
    *V = *L;
    V->type = Z->view;
    memset(&V->arg[0], 0, sizeof V->arg[0]);
    V->arg[0].kind = SR_AV_INT;
    V->arg[0].i = cin;
    V->arg[0].f = (double)cin;
    memcpy(&V->arg[1], &L->arg[0], (size_t)(Z->view->nargs - 1) * sizeof L->arg[0]);
}

static int64_t lazy_groups(const sr_layer *L) { return sr_argi(L, lazy_of(L)->groups_arg - 1); }

static SR_VALIDATE_FN(lazy_validate)
{
    /* the view shares L->cfg (none): a full type that fills a typed config
     * would need it filled for the materialised in_channels */
    if (lazy_of(L)->full->cfg_size)
        return sr_err(err, SR_EUSAGE, "%s: its full type's typed config is not filled for a lazy view "
                      "(convtranspose.c's lazy rows need updating)", L->type->name);
    /* the full type's checks, with an in_channels that divides into the groups */
    int64_t groups = lazy_groups(L);
    sr_layer V;
    lazy_view(L, groups > 0 ? groups : 1, &V);
    return lazy_of(L)->full->validate(&V, err);
}

static SR_SHAPE_FN(lazy_shape)
{
    const lazy_kind *Z = lazy_of(L);
    const char *nm = L->type->name;
    int64_t groups = lazy_groups(L), seen = -1;
    if (in->ndim == Z->nd + 2)
        seen = in->d[1];
    else if (in->ndim == Z->nd + 1 && !info->in_batch)
        seen = in->d[0];
    /* the first input fixes in_channels; a bad rank or a batch without
     * channels fixes nothing, and is reported by the full type's rule */
    int64_t cin = seen > 0 ? sr_lazy_size(L, info, seen) : L->lazy_in > 0 ? L->lazy_in : groups > 0 ? groups : 1;
    sr_layer V;
    lazy_view(L, cin, &V);
    sr_status st = Z->full->shape(&V, in, out, info, err);
    char src[256];
    sr_from(info, 1, src, sizeof src);
    if (seen == 0) {
        info->out_known = 0;
        return sr_err(err, SR_ESHAPE, "%s takes in_channels from its input, but input %s%s has 0 channels; hint: "
                      "a convolution needs at least one input channel", nm, sr_shp(in), src);
    }
    if (seen > 0 && seen != cin)
        return sr_err(err, SR_ESHAPE, "%s took in_channels=%lld from its first input, but input %s%s has %lld "
                      "channels; hint: a lazy module keeps the in_channels it first saw: use a separate %s for "
                      "this input", nm, (long long)cin, sr_shp(in), src, (long long)seen, nm);
    if (seen > 0 && groups > 0 && seen % groups)
        return sr_err(err, SR_ESHAPE, "%s(groups=%lld) needs in_channels divisible by groups, but input %s%s has "
                      "%lld channels; hint: use a groups value that divides both %lld and out_channels", nm,
                      (long long)groups, sr_shp(in), src, (long long)seen, (long long)seen);
    return st;
}

static SR_PARAMS_FN(lazy_params)
{
    sr_layer V;
    lazy_view(L, L->lazy_in < 0 ? 0 : L->lazy_in, &V);
    return lazy_of(L)->full->params(&V, p);
}

static SR_FORWARD_FN(lazy_forward)
{
    sr_layer V;
    lazy_view(L, L->lazy_in, &V);
    return lazy_of(L)->full->forward(&V, in, out, ctx, err);
}

static SR_WORKSPACE_FN(lazy_workspace)
{
    sr_layer V;
    lazy_view(L, L->lazy_in, &V);
    return lazy_of(L)->full->workspace(&V, in, out);
}

static int lazy_channel_dim(const sr_layer *L, const sr_shape *out)
{
    sr_layer V;
    lazy_view(L, L->lazy_in, &V);
    return lazy_of(L)->full->channel_dim(&V, out);
}

static int64_t lazy_fold(const sr_layer *P, const double *scale, const double *shift, float *w, float *b)
{
    sr_layer V;
    lazy_view(P, P->lazy_in, &V);
    return lazy_of(P)->full->fold(&V, scale, shift, w, b);
}

static SR_IN_LAYOUT_FN(lazy_in_layout)
{
    const sr_layertype *F = lazy_of(L)->full;
    sr_layer V;
    lazy_view(L, L->lazy_in, &V);
    return F->in_layout ? F->in_layout(&V, in, lay) : 0;
}

static SR_OUT_LAYOUT_OK_FN(lazy_out_layout_ok)
{
    const sr_layertype *F = lazy_of(L)->full;
    sr_layer V;
    lazy_view(L, L->lazy_in, &V);
    return F->out_layout_ok ? F->out_layout_ok(&V, in, post) : 0;
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

#define CT_ROW(nm, sum, args, n)                                                                         \
    SR_ROW(nm, .summary = sum, SR_ARGS(args), .repr = "#in_channels, #out_channels, " CT_REPR(n),        \
           .flags = SR_FUSE_POST | SR_FUSE_AFFINE, .validate = sr_convt_validate, .shape = sr_convt_shape, \
           .params = sr_convt_params, .forward = sr_convt_forward, .workspace = sr_convt_workspace,      \
           .channel_dim = ct_channel_dim, .fold = ct_fold)
CT_ROW(ConvTranspose1d, "1-D transposed convolution over (N, C, L), weight [in, out/groups, k]", a_convt1d, 1);
CT_ROW(ConvTranspose2d, "2-D transposed convolution over (N, C, H, W), weight [in, out/groups, kh, kw]",
       a_convt2d, 2);
CT_ROW(ConvTranspose3d, "3-D transposed convolution over (N, C, D, H, W), weight [in, out/groups, kd, kh, kw]",
       a_convt3d, 3);

/* The convolutions' argument lists (conv.c's and conv3d.c's rows, in
 * layers.h's CONV_* order), for the lazy views. */
#define CONV_VIEW_ARGS(a, n)                                                        \
    static const sr_argdef a[CONV_PADMODE + 1] = {                                  \
        [CONV_IN] = {"in_channels", T_I, NULL, NULL, 0},                            \
        [CONV_OUT] = {"out_channels", T_I, NULL, NULL, 0},                          \
        [CONV_KERNEL] = {"kernel_size", T_T, NULL, NULL, n},                        \
        [CONV_STRIDE] = {"stride", T_T, "1", NULL, n},                              \
        [CONV_PADDING] = {"padding", T_T | T_S, "0", "same|valid", n},              \
        [CONV_DILATION] = {"dilation", T_T, "1", NULL, n},                          \
        [CONV_GROUPS] = {"groups", T_I, "1", NULL, 0},                              \
        [CONV_BIAS] = {"bias", T_B, "True", NULL, 0},                               \
        [CONV_PADMODE] = {"padding_mode", T_S, "'zeros'", "zeros|reflect|replicate|circular", 0}, \
    }
CONV_VIEW_ARGS(a_vconv1d, 1);
CONV_VIEW_ARGS(a_vconv2d, 2);
CONV_VIEW_ARGS(a_vconv3d, 3);

#define VIEW(nm, av) {.id = SR_L_##nm, .name = #nm, .args = av, .nargs = (int)(sizeof av / sizeof *av)}
static const sr_layertype v_conv1d = VIEW(LazyConv1d, a_vconv1d), v_conv2d = VIEW(LazyConv2d, a_vconv2d),
                          v_conv3d = VIEW(LazyConv3d, a_vconv3d), v_convt1d = VIEW(LazyConvTranspose1d, a_convt1d),
                          v_convt2d = VIEW(LazyConvTranspose2d, a_convt2d),
                          v_convt3d = VIEW(LazyConvTranspose3d, a_convt3d);

static const lazy_kind lazy_kinds[6] = {
    [LZ_CONV1D] = {&sr_row_Conv1d, &v_conv1d, 1, CONV_GROUPS},
    [LZ_CONV2D] = {&sr_row_Conv2d, &v_conv2d, 2, CONV_GROUPS},
    [LZ_CONV3D] = {&sr_row_Conv3d, &v_conv3d, 3, CONV_GROUPS},
    [LZ_CONVT1D] = {&sr_row_ConvTranspose1d, &v_convt1d, 1, CT_GROUPS},
    [LZ_CONVT2D] = {&sr_row_ConvTranspose2d, &v_convt2d, 2, CT_GROUPS},
    [LZ_CONVT3D] = {&sr_row_ConvTranspose3d, &v_convt3d, 3, CT_GROUPS},
};

#define CONV_LAZY_REPR(n) \
    "#@lazy, #out_channels, kernel_size=:" #n ", stride=:" #n ", padding?:" #n "!, dilation?:" #n ", groups?, bias?, padding_mode?!"

/* A lazy row: the view's arguments without in_channels, the full type's
 * flags, every hook through the view. */
#define LAZY_ROW(nm, sum, kind, vargs, rep)                                                                 \
    SR_ROW(nm, .summary = sum, .args = vargs + 1, .nargs = (int)(sizeof vargs / sizeof *vargs) - 1,         \
           .repr = rep, .flags = SR_FUSE_POST | SR_FUSE_AFFINE | SR_LF_LAZY, .variant = kind,              \
           .validate = lazy_validate, .shape = lazy_shape, .params = lazy_params, .forward = lazy_forward, \
           .workspace = lazy_workspace, .channel_dim = lazy_channel_dim, .fold = lazy_fold,                \
           .in_layout = lazy_in_layout, .out_layout_ok = lazy_out_layout_ok)
LAZY_ROW(LazyConv1d, "Conv1d whose in_channels is taken from its input", LZ_CONV1D, a_vconv1d, CONV_LAZY_REPR(1));
LAZY_ROW(LazyConv2d, "Conv2d whose in_channels is taken from its input", LZ_CONV2D, a_vconv2d, CONV_LAZY_REPR(2));
LAZY_ROW(LazyConv3d, "Conv3d whose in_channels is taken from its input", LZ_CONV3D, a_vconv3d, CONV_LAZY_REPR(3));
LAZY_ROW(LazyConvTranspose1d, "ConvTranspose1d whose in_channels is taken from its input", LZ_CONVT1D, a_convt1d,
         "#@lazy, #out_channels, " CT_REPR(1));
LAZY_ROW(LazyConvTranspose2d, "ConvTranspose2d whose in_channels is taken from its input", LZ_CONVT2D, a_convt2d,
         "#@lazy, #out_channels, " CT_REPR(2));
LAZY_ROW(LazyConvTranspose3d, "ConvTranspose3d whose in_channels is taken from its input", LZ_CONVT3D, a_convt3d,
         "#@lazy, #out_channels, " CT_REPR(3));
