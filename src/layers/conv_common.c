/*
 * conv_common.c - the convolution family's arguments, checks, parameters
 * and shape-rule steps (see conv_common.h).
 */
#include "conv_common.h"
#include "conv_kernels.h"
#include "../init.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* One reading serves both argument lists: they differ from dilation on. */
#define SAME(a, b) ((int)(a) == (int)(b))
_Static_assert(SAME(CT_IN, CONV_IN) && SAME(CT_OUT, CONV_OUT) && SAME(CT_KERNEL, CONV_KERNEL) &&
               SAME(CT_STRIDE, CONV_STRIDE) && SAME(CT_PADDING, CONV_PADDING) && SAME(CT_GROUPS, CONV_GROUPS) &&
               SAME(CT_BIAS, CONV_BIAS), "ConvTranspose's arguments up to bias sit where Conv's do");
_Static_assert(SAME(CF_PAD_ZEROS, CK_PAD_ZEROS) && SAME(CF_PAD_REFLECT, CK_PAD_REFLECT) &&
               SAME(CF_PAD_REPLICATE, CK_PAD_REPLICATE) && SAME(CF_PAD_CIRCULAR, CK_PAD_CIRCULAR),
               "conv.c hands its padding mode to conv_kernels.h as it is");
#undef SAME

/* A lazy row's arguments lack in_channels: argument k of the full list is
 * its k - 1. */
static int arg_shift(const sr_layer *L) { return (L->type->flags & SR_LF_LAZY) ? -1 : 0; }

int cf_nd(const sr_layer *L) { return L->type->args[CONV_KERNEL + arg_shift(L)].tlen; }

void cf_geo_set_cin(cf_geo *g, int64_t cin)
{
    g->cin = cin;
    g->cg = g->groups > 0 ? cin / g->groups : cin;
}

static int pad_mode(const char *m)
{
    return !strcmp(m, "reflect") ? CF_PAD_REFLECT : !strcmp(m, "replicate") ? CF_PAD_REPLICATE
         : !strcmp(m, "circular") ? CF_PAD_CIRCULAR : CF_PAD_ZEROS;
}

void cf_geo_get(const sr_layer *L, cf_geo *g)
{
    memset(g, 0, sizeof *g);
    int o = arg_shift(L), tr = g->transposed = L->type->variant == CF_CONVT;
    int nd = g->nd = cf_nd(L);
    g->cout = sr_argi(L, CONV_OUT + o);
    g->groups = sr_argi(L, CONV_GROUPS + o);
    g->og = g->groups > 0 ? g->cout / g->groups : g->cout;
    g->bias = (int)sr_argi(L, CONV_BIAS + o);
    cf_geo_set_cin(g, o ? L->lazy_in : sr_argi(L, CONV_IN));
    g->padding_mode = L->arg[(tr ? CT_PADMODE : CONV_PADMODE) + o].s;
    g->mode = pad_mode(g->padding_mode);
    int64_t k[3], s[3], d[3], p[3] = {0, 0, 0}, op[3] = {0, 0, 0};
    sr_arg_tuple(L, CONV_KERNEL + o, nd, k);
    sr_arg_tuple(L, CONV_STRIDE + o, nd, s);
    sr_arg_tuple(L, (tr ? CT_DILATION : CONV_DILATION) + o, nd, d);
    const sr_argval *pv = &L->arg[CONV_PADDING + o];
    g->same = pv->kind == SR_AV_STR && !strcmp(pv->s, "same");
    if (pv->kind != SR_AV_STR)
        sr_arg_tuple(L, CONV_PADDING + o, nd, p);
    if (tr)
        sr_arg_tuple(L, CT_OUTPAD + o, nd, op);
    for (int i = 0; i < 3; i++) {
        int j = i - (3 - nd); /* index into the layer's own tuples */
        if (j < 0) {
            g->k[i] = g->s[i] = g->d[i] = 1;
            continue;
        }
        g->k[i] = k[j];
        g->s[i] = s[j];
        g->d[i] = d[j];
        g->op[i] = op[j];
        if (g->same) {
            /* PyTorch's split: the odd extra pixel goes after (right/bottom) */
            int64_t total = d[j] * (k[j] - 1);
            g->pb[i] = total / 2;
            g->pa[i] = total - total / 2;
        } else {
            g->pb[i] = g->pa[i] = p[j];
        }
    }
}

void cf_dims_get(const cf_geo *g, const sr_shape *s, cf_dims *d)
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

void cf_call_get(const sr_layer *L, const sr_shape *in, const sr_shape *out, cf_call *c)
{
    cf_geo_get(L, &c->g);
    cf_dims_get(&c->g, in, &c->di);
    cf_dims_get(&c->g, out, &c->dout);
}

void cf_weights(const sr_layer *L, const cf_geo *g, const sr_ctx *ctx, const float **W, const float **bias)
{
    *W = ctx->weight ? ctx->weight : sr_f32(&L->param[0]);
    *bias = ctx->weight ? ctx->bias : g->bias ? sr_f32(&L->param[1]) : NULL;
}

int cf_forward_call(const sr_layer *L, const sr_tensor *in, const sr_tensor *out, const sr_ctx *ctx, cf_call *c,
                    const float **W, const float **bias)
{
    cf_call_get(L, &in->shape, &out->shape, c);
    cf_weights(L, &c->g, ctx, W, bias);
    return c->di.n > 0;
}

const char *cf_ext(const cf_geo *g, const int64_t *v, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 3 - g->nd; i < 3 && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", i > 3 - g->nd ? "x" : "", (long long)v[i]);
    return buf;
}

const char *cf_tup(const cf_geo *g, const int64_t *v, char *buf, size_t len)
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

const char *cf_layout(int nd) { return nd == 1 ? "(N, C, L)" : nd == 2 ? "(N, C, H, W)" : "(N, C, D, H, W)"; }

/* ---- validate ------------------------------------------------------------- */

static sr_status check_channels(const sr_layer *L, const cf_geo *g, char *err)
{
    long long cin = (long long)g->cin, cout = (long long)g->cout, groups = (long long)g->groups;
    /* PyTorch 1.13 builds in_channels=0 but answers with an output of 0
     * channels, not the bias its weights imply; neither is a model */
    if (g->cin <= 0)
        return sr_err(err, SR_EUSAGE, "in_channels must be positive, got %lld; hint: in_channels is the channel "
                      "count (dim 1) of the input", cin);
    if (g->cout <= 0)
        return sr_err(err, SR_EUSAGE, "out_channels must be positive, got %lld; hint: a %s needs at least one "
                      "output channel", cout, L->type->name);
    if (g->groups <= 0)
        return sr_err(err, SR_EUSAGE, "groups must be a positive integer, got %lld", groups);
    if (!(g->cin % g->groups || g->cout % g->groups))
        return SR_OK;
    const char *bad = g->cin % g->groups ? "in_channels" : "out_channels";
    /* Conv1d/Conv2d name the one count that does not divide */
    if (!g->transposed && g->nd < 3)
        return sr_err(err, SR_EUSAGE, "%s must be divisible by groups, but %s=%lld and groups=%lld; hint: use a "
                      "groups value that divides both %lld and %lld", bad, bad, g->cin % g->groups ? cin : cout,
                      groups, cin, cout);
    return sr_err(err, SR_EUSAGE, "%s must be divisible by groups, but in_channels=%lld, out_channels=%lld and "
                  "groups=%lld; hint: use a groups value that divides both %lld and %lld", bad, cin, cout, groups,
                  cin, cout);
}

static sr_status check_extents(const cf_geo *g, char *err)
{
    char b[64];
    for (int i = 3 - g->nd; i < 3; i++) {
        if (g->k[i] <= 0)
            return sr_err(err, SR_EUSAGE, "kernel_size must be positive, got %s", cf_tup(g, g->k, b, sizeof b));
        if (g->s[i] <= 0)
            return sr_err(err, SR_EUSAGE, "stride must be positive, got %s", cf_tup(g, g->s, b, sizeof b));
        if (g->d[i] <= 0)
            return sr_err(err, SR_EUSAGE, "dilation must be at least 1, got %s", cf_tup(g, g->d, b, sizeof b));
        if (g->pb[i] < 0)
            return sr_err(err, SR_EUSAGE, "negative padding is not supported, got %s; hint: padding must be >= 0",
                          cf_tup(g, g->pb, b, sizeof b));
        if (g->op[i] < 0)
            return sr_err(err, SR_EUSAGE, "negative output_padding is not supported, got %s; hint: "
                          "output_padding must be >= 0", cf_tup(g, g->op, b, sizeof b));
        if (g->k[i] > CF_ARG_MAX || g->s[i] > CF_ARG_MAX || g->d[i] > CF_ARG_MAX || g->pb[i] > CF_ARG_MAX ||
            g->op[i] > CF_ARG_MAX)
            return g->transposed ? sr_err(err, SR_EUSAGE, "kernel_size, stride, padding, output_padding and "
                                          "dilation must be at most %d", CF_ARG_MAX)
                                 : sr_err(err, SR_EUSAGE, "kernel_size, stride, dilation and padding must be at "
                                          "most %d", CF_ARG_MAX);
    }
    if (g->cin > CF_ARG_MAX || g->cout > CF_ARG_MAX)
        return sr_err(err, SR_EUSAGE, "in_channels and out_channels must be at most %d", CF_ARG_MAX);
    return SR_OK;
}

/* output_padding only picks one of the output sizes a stride allows */
static sr_status check_output_padding(const sr_layer *L, const cf_geo *g, char *err)
{
    char b1[64], b2[64], b3[64], b4[64];
    for (int i = 3 - g->nd; i < 3; i++)
        if (g->op[i] >= g->s[i] && g->op[i] >= g->d[i]) {
            /* the largest output_padding each dimension allows */
            int64_t fix[3];
            for (int j = 0; j < 3; j++) {
                int64_t lim = (g->s[j] > g->d[j] ? g->s[j] : g->d[j]) - 1;
                fix[j] = g->op[j] < lim ? g->op[j] : lim;
            }
            return sr_err(err, SR_EUSAGE, "output padding must be smaller than either stride or dilation, but "
                          "output_padding=%s with stride=%s and dilation=%s; hint: output_padding only picks one "
                          "of the %s output sizes a stride allows: use output_padding=%s at most",
                          cf_tup(g, g->op, b1, sizeof b1), cf_tup(g, g->s, b2, sizeof b2),
                          cf_tup(g, g->d, b3, sizeof b3), L->type->name, cf_tup(g, fix, b4, sizeof b4));
        }
    return SR_OK;
}

SR_VALIDATE_FN(sr_conv_validate)
{
    cf_geo geo, *g = &geo;
    cf_geo_get(L, g);
    /* a lazy layer: the full type's checks, with an in_channels that
     * divides into the groups */
    if (L->type->flags & SR_LF_LAZY)
        cf_geo_set_cin(g, g->groups > 0 ? g->groups : 1);
    char b[64];
    sr_status st = check_channels(L, g, err);
    if (st != SR_OK)
        return st;
    if (g->transposed && strcmp(g->padding_mode, "zeros") != 0)
        return sr_err(err, SR_EUSAGE, "Only \"zeros\" padding mode is supported for %s, got padding_mode='%s'; "
                      "hint: leave padding_mode out (a transposed convolution's padding crops its output, it "
                      "adds nothing to pad)", L->type->name, g->padding_mode);
    if ((st = check_extents(g, err)) != SR_OK)
        return st;
    if (g->transposed)
        return check_output_padding(L, g, err);
    if (g->same && (g->s[0] != 1 || g->s[1] != 1 || g->s[2] != 1))
        return sr_err(err, SR_EUSAGE, "padding='same' is not supported for strided convolutions (stride=%s); "
                      "hint: use stride=1, or give the padding as numbers (kernel_size // 2 keeps the size for odd "
                      "kernels)", cf_tup(g, g->s, b, sizeof b));
    return SR_OK;
}

/* ---- parameters ------------------------------------------------------------ */

SR_PARAMS_FN(sr_conv_params)
{
    cf_geo geo, *g = &geo;
    cf_geo_get(L, g);
    /* a lazy layer asked before its input fixed in_channels: none */
    if ((L->type->flags & SR_LF_LAZY) && L->lazy_in < 0)
        cf_geo_set_cin(g, 0);
    memset(p, 0, 2 * sizeof *p);
    /* weight [out, in/groups, *kernel], transposed [in, out/groups, *kernel];
     * PyTorch's fan_in is weight.size(1) * prod(kernel_size) */
    int64_t per_group = g->transposed ? g->og : g->cg, wd[5] = {g->transposed ? g->cin : g->cout, per_group};
    int nd = 2;
    double fan_in = (double)per_group;
    for (int i = 3 - g->nd; i < 3; i++) {
        wd[nd++] = g->k[i];
        fan_in *= (double)g->k[i];
    }
    p[0].name = "weight";
    p[0].shape = sr_shape_make(nd, wd);
    p[0].init = sr_init_kaiming_uniform_a(sqrt(5.0));
    p[0].zero_row = -1;
    if (!g->bias)
        return 1;
    double bound = fan_in > 0 ? 1.0 / sqrt(fan_in) : 0.0;
    p[1].name = "bias";
    p[1].shape = sr_shape_make(1, (int64_t[]){g->cout});
    p[1].init = sr_init_uniform(-bound, bound);
    p[1].zero_row = -1;
    return 2;
}

int sr_conv_channel_dim(const sr_layer *L, const sr_shape *out) { return out->ndim - cf_nd(L) - 1; }

/* ---- shape rules ------------------------------------------------------------ */

static sr_status shape_steps(const sr_layer *L, const cf_geo *g, const sr_shape *in, sr_shape *out,
                             sr_shapeinfo *info, char *err, const cf_shape_rule *rule)
{
    if (in->ndim != g->nd + 1 && in->ndim != g->nd + 2) {
        char hint[256];
        rule->rank_hint(g, in, info, hint, sizeof hint);
        return cf_rank_error(L, g, in, info, hint, err);
    }
    cf_input x = {.given = in, .in = in, .no_channel = info->in_batch && in->ndim == g->nd + 1};
    if (x.no_channel) {
        x.with_c.ndim = in->ndim + 1;
        x.with_c.d[0] = in->d[0];
        x.with_c.d[1] = g->cin;
        for (int i = 1; i < in->ndim; i++)
            x.with_c.d[i + 1] = in->d[i];
        x.in = &x.with_c;
    }
    cf_dims_get(g, x.in, &x.d);
    info->batch_dim0 = x.d.batched; /* unbatched: dim 0 is channels, which mix */
    return rule->rest(L, g, &x, out, info, err);
}

sr_status cf_shape(const sr_layer *L, const sr_shape *in, sr_shape *out, sr_shapeinfo *info, char *err,
                   const cf_shape_rule *rule)
{
    cf_geo g;
    cf_geo_get(L, &g);
    if (!(L->type->flags & SR_LF_LAZY))
        return shape_steps(L, &g, in, out, info, err, rule);
    const char *nm = L->type->name;
    int64_t seen = -1;
    if (in->ndim == g.nd + 2)
        seen = in->d[1];
    else if (in->ndim == g.nd + 1 && !info->in_batch)
        seen = in->d[0];
    /* the first input fixes in_channels; a bad rank or a batch without
     * channels fixes nothing, and is reported by the rule */
    int64_t cin = seen > 0 ? sr_lazy_size(L, info, seen) : L->lazy_in > 0 ? L->lazy_in : g.groups > 0 ? g.groups : 1;
    cf_geo_set_cin(&g, cin);
    sr_status st = shape_steps(L, &g, in, out, info, err, rule);
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
    if (seen > 0 && g.groups > 0 && seen % g.groups)
        return sr_err(err, SR_ESHAPE, "%s(groups=%lld) needs in_channels divisible by groups, but input %s%s has "
                      "%lld channels; hint: use a groups value that divides both %lld and out_channels", nm,
                      (long long)g.groups, sr_shp(in), src, (long long)seen, (long long)seen);
    return st;
}

void cf_out_shape(const cf_geo *g, const cf_dims *d, const sr_shape *in, const int64_t *osz, sr_shape *out)
{
    *out = *in;
    out->d[d->batched] = g->cout;
    for (int i = 3 - g->nd; i < 3; i++)
        out->d[out->ndim - 3 + i] = osz[i];
}

sr_status cf_rank_error(const sr_layer *L, const cf_geo *g, const sr_shape *in, const sr_shapeinfo *info,
                        const char *hint, char *err)
{
    static const char *const unbatched[] = {"", "(C, L)", "(C, H, W)", "(C, D, H, W)"};
    char src[256];
    sr_from(info, 1, src, sizeof src);
    return sr_err(err, SR_ESHAPE, "%s expects a %d-D %s or %d-D %s input, but input %s%s is %d-D; hint: %s",
                  L->type->name, g->nd + 1, unbatched[g->nd], g->nd + 2, cf_layout(g->nd), sr_shp(in), src,
                  in->ndim, hint);
}

sr_status cf_channel_error(const sr_layer *L, const cf_geo *g, const sr_shape *in, const sr_shapeinfo *info,
                           const char *hint, char *err)
{
    char src[256];
    sr_from(info, 1, src, sizeof src);
    return sr_err(err, SR_ESHAPE, "%s expects a batch as %d-D %s, but input %s%s, whose dim 0 is the batch, has "
                  "no channel dimension; hint: %s", L->type->name, g->nd + 2, cf_layout(g->nd), sr_shp(in), src,
                  hint);
}

sr_status cf_cin_error(const sr_layer *L, const cf_geo *g, const sr_shape *in, const sr_shapeinfo *info, int64_t c,
                       const char *note, const char *extra, char *err)
{
    char src[256];
    sr_from(info, 1, src, sizeof src);
    return sr_err(err, SR_ESHAPE, "%s(in_channels=%lld) expects %lld channels, but input %s%s has %lld; hint: "
                  "in_channels should be %lld%s%s", L->type->name, (long long)g->cin, (long long)g->cin, sr_shp(in),
                  src, (long long)c, (long long)c, note, extra);
}
