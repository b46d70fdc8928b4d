/*
 * lppool.c - LPPool1d, LPPool2d: power-average pooling.
 *
 * Exactly what PyTorch 1.13's F.lp_pool1d / F.lp_pool2d compute:
 *
 *     out = avg_pool(x ** p, kernel_size, stride, padding=0, ceil_mode)
 *     y   = (sign(out) * relu(abs(out)) * prod(kernel_size)) ** (1 / p)
 *
 * avg_pool here counts the padding (count_include_pad=True, the default)
 * but there is none, so a ceil_mode window that overhangs the edge divides
 * by the taps inside and is then multiplied by the full kernel size: that
 * is PyTorch's result, kept.  sign(out) * relu(abs(out)) is out itself
 * (NaN stays NaN), so a negative average (odd p, negative inputs) gives
 * NaN for a fractional 1/p, as pow does.  norm_type = inf gives 1.0
 * everywhere (x ** (1 / inf) = x ** 0 = 1), not max pooling as the
 * docstring says; norm_type = 0 is 1 / 0, a ZeroDivisionError in PyTorch
 * and an invalid spec here.  Computed in double per window, rounded once.
 */
#include "layers.h"
#include "../par.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define LP_ARG_MAX (1 << 30)

enum { LP_NORM, LP_KERNEL, LP_STRIDE, LP_CEIL };

typedef struct {
    int nd;               /* 1 or 2 */
    double p;
    int64_t k[2], s[2];   /* 2-D terms: (1, k) for 1-D */
    int ceil;
} lp_cfg;

SR_VALIDATE_FN(lp_validate)
{
    lp_cfg *c = L->cfg;
    memset(c, 0, sizeof *c);
    c->nd = L->type->variant;
    c->p = sr_argf(L, LP_NORM);
    c->ceil = (int)sr_argi(L, LP_CEIL);
    int64_t k[2], s[2];
    sr_arg_tuple(L, LP_KERNEL, c->nd, k);
    if (sr_arg_is_none(L, LP_STRIDE))
        memcpy(s, k, sizeof s);
    else
        sr_arg_tuple(L, LP_STRIDE, c->nd, s);
    c->k[0] = c->nd == 2 ? k[0] : 1;
    c->k[1] = c->nd == 2 ? k[1] : k[0];
    c->s[0] = c->nd == 2 ? s[0] : 1;
    c->s[1] = c->nd == 2 ? s[1] : s[0];
    if (c->p == 0)
        return sr_err(err, SR_EUSAGE, "norm_type=0 divides by zero (PyTorch raises ZeroDivisionError computing "
                      "1/norm_type); hint: use a positive norm_type: 1 sums the window, 2 gives its Euclidean norm");
    for (int i = 0; i < 2; i++) {
        if (c->k[i] <= 0)
            return sr_err(err, SR_EUSAGE, "kernel_size should be greater than zero, but got %lld",
                          (long long)c->k[i]);
        if (c->s[i] <= 0)
            return sr_err(err, SR_EUSAGE, "stride should be greater than zero, but got %lld", (long long)c->s[i]);
        if (c->k[i] > LP_ARG_MAX || c->s[i] > LP_ARG_MAX)
            return sr_err(err, SR_EUSAGE, "kernel_size and stride must be at most %d", LP_ARG_MAX);
    }
    return SR_OK;
}

/* ATen's pooling_output_shape with no padding or dilation. */
static int64_t lp_out(int64_t in, int64_t k, int64_t s, int ceil)
{
    int64_t n = in - k + (ceil ? s - 1 : 0);
    int64_t o = (n >= 0 ? n / s : -((-n + s - 1) / s)) + 1;
    if (ceil && (o - 1) * s >= in)
        o--;
    return o;
}

/* the smallest input with one window: the numerator above >= 0 */
static int64_t lp_min_in(int64_t k, int64_t s, int ceil)
{
    int64_t need = k - (ceil ? s - 1 : 0);
    return need > 1 ? need : 1;
}

static const char *ext(int nd, const int64_t *v, char *buf, size_t len)
{
    if (nd == 2)
        snprintf(buf, len, "%lldx%lld", (long long)v[0], (long long)v[1]);
    else
        snprintf(buf, len, "%lld", (long long)v[1]);
    return buf;
}

SR_SHAPE_FN(lp_shape)
{
    const lp_cfg *c = SR_CFG(L, lp_cfg);
    char src[256];
    int nd = c->nd;
    if (in->ndim != nd + 1 && in->ndim != nd + 2) {
        const char *hint = nd == 2 ? (in->ndim == 2 ? "restore the spatial dimensions with Unflatten before this layer"
                                                    : "give it (C, H, W) or (N, C, H, W) data")
                                   : (in->ndim == 4 ? "this is an image batch; use LPPool2d"
                                                    : "give it (C, L) or (N, C, L) data");
        return sr_err(err, SR_ESHAPE, "%s expects a %s input, but input %s%s is %d-D; hint: %s", L->type->name,
                      nd == 2 ? "3-D (C, H, W) or 4-D (N, C, H, W)" : "2-D (C, L) or 3-D (N, C, L)", sr_shp(in),
                      sr_from(info, 1, src, sizeof src), in->ndim, hint);
    }
    info->batch_dim0 = 1; /* planes are pooled on their own */
    for (int i = in->ndim == nd + 2 ? 1 : 0; i < in->ndim; i++)
        if (in->d[i] == 0)
            return sr_err(err, SR_ESHAPE, "%s needs non-empty channel and spatial dimensions, but input %s%s has "
                          "size 0 in dimension %d; hint: check the layers before it", L->type->name, sr_shp(in),
                          sr_from(info, 1, src, sizeof src), i);
    int64_t isz[2] = {nd == 2 ? in->d[in->ndim - 2] : 1, in->d[in->ndim - 1]}, osz[2], need[2];
    int fits = 1;
    for (int i = 0; i < 2; i++) {
        osz[i] = lp_out(isz[i], c->k[i], c->s[i], c->ceil);
        need[i] = lp_min_in(c->k[i], c->s[i], c->ceil);
        fits &= osz[i] >= 1;
    }
    *out = *in;
    for (int i = 2 - nd; i < 2; i++)
        out->d[out->ndim - 2 + i] = osz[i] > 0 ? osz[i] : 0;
    info->out_known = fits;
    if (fits)
        return SR_OK;
    char a[48], b[48], e[48], f[48];
    return sr_err(err, SR_ESHAPE, "input %s%s is %s, too small for kernel_size=%s: the output would be %s (Output "
                  "size is too small); hint: %s fits inputs of at least %s here: remove a downsampling step before "
                  "it, or use a smaller kernel_size%s", sr_shp(in), sr_from(info, 1, src, sizeof src),
                  ext(nd, isz, a, sizeof a), ext(nd, c->k, b, sizeof b), ext(nd, osz, e, sizeof e), L->type->name,
                  ext(nd, need, f, sizeof f), c->ceil ? "" : " (or ceil_mode=True for windows that overhang)");
}

typedef struct {
    const lp_cfg *c;
    const float *x;
    float *y;
    int64_t H, W, OH, OW;
} lp_job;

/* x ** p as torch.pow computes it, in double (its exact special cases --
 * p = 1, 2 -- are what pow gives anyway, but cheaper) */
static inline double powp(double x, double p)
{
    return p == 2 ? x * x : p == 1 ? x : pow(x, p);
}

static void lp_plane(void *arg, int64_t q, int tid)
{
    (void)tid;
    const lp_job *J = arg;
    const lp_cfg *c = J->c;
    const float *x = J->x + q * J->H * J->W;
    float *y = J->y + q * J->OH * J->OW;
    double knum = (double)(c->k[0] * c->k[1]), inv = 1.0 / c->p;
    for (int64_t oh = 0; oh < J->OH; oh++) {
        int64_t hs = oh * c->s[0], he = hs + c->k[0] < J->H ? hs + c->k[0] : J->H;
        for (int64_t ow = 0; ow < J->OW; ow++) {
            int64_t ws = ow * c->s[1], we = ws + c->k[1] < J->W ? ws + c->k[1] : J->W;
            double sum = 0;
            for (int64_t h = hs; h < he; h++)
                for (int64_t w = ws; w < we; w++)
                    sum += powp((double)x[h * J->W + w], c->p);
            double avg = sum / (double)((he - hs) * (we - ws));
            y[oh * J->OW + ow] = (float)pow(avg * knum, inv);
        }
    }
}

#define LP_PAR_WORK ((int64_t)1 << 15)

SR_FORWARD_FN(lp_forward)
{
    (void)err;
    const lp_cfg *c = SR_CFG(L, lp_cfg);
    const sr_shape *is = &in->shape, *os = &out->shape;
    lp_job J = {.c = c, .x = sr_f32(in), .y = sr_f32(out), .H = c->nd == 2 ? is->d[is->ndim - 2] : 1,
                .W = is->d[is->ndim - 1], .OH = c->nd == 2 ? os->d[os->ndim - 2] : 1, .OW = os->d[os->ndim - 1]};
    int64_t planes = sr_prod(is, 0, is->ndim - c->nd), numel = sr_shape_numel(os);
    if (numel <= 0)
        return SR_OK;
    int threads = (double)numel * (double)c->k[0] * (double)c->k[1] >= (double)LP_PAR_WORK && ctx->threads > 1
                      ? ctx->threads : 1;
    if (threads > planes)
        threads = (int)planes;
    sr_par_for(threads, planes, lp_plane, &J);
    return SR_OK;
}

/* ---- rows ----------------------------------------------------------------- */

/* lp_pool1d multiplies by kernel_size itself, so PyTorch takes an int only
 * there (a tuple fails in Tensor.mul); stride may be a 1-tuple. */
static const sr_argdef a_lppool1d[] = {
    {"norm_type", T_I | T_F, NULL, NULL, 0},
    {"kernel_size", T_I, NULL, NULL, 0},
    {"stride", T_T | T_N, "None", NULL, 1},
    {"ceil_mode", T_B, "False", NULL, 0},
};
static const sr_argdef a_lppool2d[] = {
    {"norm_type", T_I | T_F, NULL, NULL, 0},
    {"kernel_size", T_T, NULL, NULL, 2},
    {"stride", T_T | T_N, "None", NULL, 2},
    {"ceil_mode", T_B, "False", NULL, 0},
};

#define LP_REPR "norm_type=, kernel_size=, stride=, ceil_mode="
SR_ROW(LPPool1d, .summary = "power-average pooling over (N, C, L): (sum of x^p over the window)^(1/p)",
       SR_ARGS(a_lppool1d), .repr = LP_REPR, .variant = 1, .cfg_size = sizeof(lp_cfg), .validate = lp_validate,
       .shape = lp_shape, .forward = lp_forward);
SR_ROW(LPPool2d, .summary = "power-average pooling over (N, C, H, W): (sum of x^p over the window)^(1/p)",
       SR_ARGS(a_lppool2d), .repr = LP_REPR, .variant = 2, .cfg_size = sizeof(lp_cfg), .validate = lp_validate,
       .shape = lp_shape, .forward = lp_forward);
