/*
 * dropout.c - the rest of the dropout family: Dropout1d, Dropout2d,
 * Dropout3d (channel-wise masks), AlphaDropout and FeatureAlphaDropout
 * (SELU's self-normalising dropout, element- and channel-wise).
 *
 * Identity in eval.  Under --train, ATen's _dropout_impl: a Bernoulli(1-p)
 * mask, over whole elements or over (sample, channel) pairs; kept values
 * are scaled by 1/(1-p); the alpha variants set dropped ones to SELU's
 * saturation value alpha' = -1.7580993408473766 and map all affinely so
 * that mean and variance are kept:
 *     a = 1 / sqrt((alpha'^2 p + 1)(1 - p)),  b = -a alpha' p
 *     kept: x a + b,  dropped: x 0 + a alpha' + b
 * p = 1 multiplies by 0 (NaN stays NaN).  Each mask bit is a hash of
 * (seed, layer, pass, the mask unit's index in the record), as Dropout's,
 * so --batch-size and threads do not change it; the values need not match
 * PyTorch's random stream (the contract), the distributions do.
 */
#include "layers.h"
#include "../init.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#ifndef SR_VEC_VOID
#define SR_VEC_VOID(name, params, args) SR_KERNEL void name params
#endif

enum { DROP_1D, DROP_2D, DROP_3D, DROP_ALPHA, DROP_FALPHA };
enum { DROPF_P }; /* the arguments: p, inplace */

#define ALPHA_SELU 1.7580993408473766 /* -alpha' = SELU's alpha * scale */

/* Which leading dims one mask unit spans: the unit is one index into dims
 * [0, g); every element beyond them shares it.  As PyTorch 1.13:
 * Dropout1d (N, C, L) or (C, L); Dropout2d treats 3-D input as (N, C, L)
 * (its historical behaviour, with a warning in PyTorch) and any rank >= 2
 * as (N, C, ...); Dropout3d takes (N, C, D, H, W), and any other rank as
 * one unbatched sample whose dim 0 is the channel; FeatureAlphaDropout
 * (N, C, ...); AlphaDropout elementwise. */
static int mask_dims(const sr_layer *L, int ndim)
{
    switch (L->type->variant) {
    case DROP_1D:
        return ndim == 3 ? 2 : 1;
    case DROP_3D:
        return ndim == 5 ? 2 : 1;
    case DROP_ALPHA:
        return ndim;
    default:
        return 2;
    }
}

static SR_SHAPE_FN(dropnd_shape)
{
    char src[SR_ERRLEN / 4];
    double p = sr_argf(L, DROPF_P);
    *out = *in;
    info->out_known = 1;
    info->batch_dim0 = in->ndim >= 1;
    int v = L->type->variant;
    if (v == DROP_1D && in->ndim != 2 && in->ndim != 3)
        return sr_err(err, SR_ESHAPE, "dropout1d: Expected 2D or 3D input, but received a %dD input %s%s; hint: "
                      "Dropout1d drops whole channels of (N, C, L) or (C, L) input; use %s",
                      in->ndim, sr_shp(in), sr_from(info, 0, src, sizeof src),
                      in->ndim == 4 ? "Dropout2d for (N, C, H, W)" : in->ndim == 5 ? "Dropout3d for (N, C, D, H, W)"
                                                                    : "Dropout for elementwise dropout");
    /* training with 0 < p < 1: the mask has a channel dim (ATen's
     * make_feature_noise; Dropout3d first adds a batch dim) */
    int need = v == DROP_3D ? 1 : v == DROP_ALPHA ? 0 : 2;
    if (info->training && p > 0 && p < 1 && in->ndim < need && sr_shape_numel(in) != 0)
        return sr_err(err, SR_ESHAPE, "Feature dropout requires at least 2 dimensions in the input, but %s in training "
                      "got input %s%s; hint: %s drops whole channels of (N, C, ...) input; use Dropout or "
                      "AlphaDropout for elementwise dropout",
                      L->type->name, sr_shp(in), sr_from(info, 0, src, sizeof src), L->type->name);
    return SR_OK;
}

/* y = x s over a mask unit's elements */
static SR_VEC_VOID(drop_scale, (const float *x, float *y, size_t n, float s), (x, y, n, s))
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * s;
}

/* y = x s + b */
static SR_VEC_VOID(drop_affine, (const float *x, float *y, size_t n, float s, float b), (x, y, n, s, b))
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * s + b;
}

/* splitmix64's finaliser, as sr_hash64 (init.c), inlined */
static inline uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static SR_FORWARD_FN(dropnd_forward)
{
    (void)err;
    double p = sr_argf(L, DROPF_P);
    const sr_shape *s = &in->shape;
    int64_t n = sr_shape_numel(s);
    if (!ctx->training || p == 0 || n == 0) {
        out->data = in->data;
        return SR_OK;
    }
    const float *X = sr_f32(in);
    float *Y = sr_f32(out);
    if (p == 1) { /* ATen: input * 0 */
        drop_scale(X, Y, (size_t)n, 0.0f);
        return SR_OK;
    }
    int alpha = L->type->variant == DROP_ALPHA || L->type->variant == DROP_FALPHA;
    int g = mask_dims(L, s->ndim);
    /* units per index of dim 0, units in this chunk, elements per unit */
    int64_t per0 = g >= 1 ? sr_prod(s, 1, g) : 1, units = g >= 1 ? sr_prod(s, 0, g) : 1, inner = sr_prod(s, g, s->ndim);
    uint64_t base = sr_hash64(ctx->seed ^ ctx->layer_key) ^ ctx->pass_key;
    uint64_t off = (uint64_t)(ctx->sample0 * per0);
    double thresh = p * 18446744073709551616.0; /* dropped: hash < p 2^64 */
    /* kept: x * keep_s + keep_b; dropped: x * 0 + drop_b (floats as ATen's
     * noise and b tensors hold them) */
    float keep_s, keep_b = 0.0f, drop_b = 0.0f;
    if (alpha) {
        double a = 1.0 / sqrt((ALPHA_SELU * ALPHA_SELU * p + 1) * (1 - p));
        keep_s = (float)a;
        keep_b = (float)(ALPHA_SELU * a * p);
        drop_b = -(float)(ALPHA_SELU * a) + keep_b;
    } else {
        keep_s = 1.0f / (float)(1 - p);
    }
    if (inner == 1) { /* elementwise masks */
        for (int64_t u = 0; u < units; u++) {
            int keep = (double)mix64(base + off + (uint64_t)u) >= thresh;
            float v = X[u] * (keep ? keep_s : 0.0f);
            Y[u] = alpha ? v + (keep ? keep_b : drop_b) : v;
        }
        return SR_OK;
    }
    for (int64_t u = 0; u < units; u++) {
        int keep = (double)mix64(base + off + (uint64_t)u) >= thresh;
        const float *x = X + u * inner;
        float *y = Y + u * inner;
        if (alpha)
            drop_affine(x, y, (size_t)inner, keep ? keep_s : 0.0f, keep ? keep_b : drop_b);
        else
            drop_scale(x, y, (size_t)inner, keep ? keep_s : 0.0f);
    }
    return SR_OK;
}

/* ---- rows ----------------------------------------------------------------- */

static const sr_argdef a_dropnd[] = {
    {"p", T_F, "0.5", NULL, 0},
    {"inplace", T_B, "False", NULL, 0},
};

#define DROPOUT_ROW(nm, var, sum)                                                                            \
    SR_ROW(nm, .summary = sum, SR_ARGS(a_dropnd), .repr = "p=, inplace=", .flags = SR_LF_RANDOM, .variant = var, \
           .validate = sr_dropout_validate, .shape = dropnd_shape, .forward = dropnd_forward)

DROPOUT_ROW(Dropout1d, DROP_1D, "zeroes whole channels of (N, C, L) or (C, L) input with probability p in training, "
                                "scales by 1/(1-p)");
DROPOUT_ROW(Dropout2d, DROP_2D, "zeroes whole channels of (N, C, H, W) input with probability p in training, "
                                "scales by 1/(1-p); 3-D input is (N, C, L), as PyTorch 1.13");
DROPOUT_ROW(Dropout3d, DROP_3D, "zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability p "
                                "in training, scales by 1/(1-p)");
DROPOUT_ROW(AlphaDropout, DROP_ALPHA, "SELU-preserving dropout in training: dropped elements to SELU's saturation, "
                                      "then an affine map keeping mean and variance");
DROPOUT_ROW(FeatureAlphaDropout, DROP_FALPHA, "AlphaDropout over whole channels of (N, C, ...) input");
