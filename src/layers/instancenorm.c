/*
 * instancenorm.c - InstanceNorm1d, InstanceNorm2d, InstanceNorm3d.
 *
 * As torch.nn.InstanceNorm*d in PyTorch 1.13: each channel of each sample
 * is normalised by its own mean and biased variance (in training, and in
 * eval without track_running_stats), using the per-group kernel of
 * groupnorm.c with groups of one channel.  In eval with
 * track_running_stats it is the per-channel affine map of the running
 * statistics, as BatchNorm's (not yet folded into a convolution before
 * it: see in_channel_dim).
 * Training with track_running_stats updates the running statistics as
 * F.instance_norm does: each sample's statistics update a copy of them
 * (unbiased variance), and the copies are averaged over the batch, i.e.
 * running = (1 - m) * running + m * (batch average of the instance
 * statistics); num_batches_tracked is registered but never counted.
 * Unbatched input (C, *) is one sample.  Without affine and running
 * statistics PyTorch never reads num_features, so neither do we: a
 * mismatch there is a warning, not an error.
 */
#include "batchnorm.h"
#include "groupnorm.h"
#include "../init.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the arguments are BatchNorm's, in BatchNorm's order (BN_NUM, ...), so its
 * params and affine hooks serve here too */
enum { IN_NUM = BN_NUM, IN_EPS = BN_EPS, IN_MOMENTUM = BN_MOMENTUM, IN_AFFINE = BN_AFFINE, IN_TRACK = BN_TRACK };

/* the rows' arguments (in_shape tells its own rows from lazynorm.c's views by them) */
static const sr_argdef a_instancenorm[] = {
    {"num_features", T_I, NULL, NULL, 0},
    {"eps", T_F, "1e-05", NULL, 0},
    {"momentum", T_F | T_N, "0.1", NULL, 0},
    {"affine", T_B, "False", NULL, 0},
    {"track_running_stats", T_B, "False", NULL, 0},
};

static const char *const in_names[] = {"", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"};
static const char *const in_batched[] = {"", "(N, C, L)", "(N, C, H, W)", "(N, C, D, H, W)"};
static const char *const in_unbatched[] = {"", "(C, L)", "(C, H, W)", "(C, D, H, W)"};

static SR_VALIDATE_FN(in_validate)
{
    if (sr_argi(L, IN_NUM) < 0)
        return sr_err(err, SR_EUSAGE, "num_features must not be negative, got %lld; hint: num_features is the number "
                      "of channels (dim 1, or dim 0 of unbatched input)", (long long)sr_argi(L, IN_NUM));
    if (sr_arg_is_none(L, IN_MOMENTUM))
        return sr_err(err, SR_EUSAGE, "momentum=None does not run: PyTorch 1.13's F.instance_norm needs a float "
                      "(\"argument 'momentum' must be float, not NoneType\"); hint: give momentum a number (0.1 is "
                      "the default)");
    return SR_OK;
}

static SR_SHAPE_FN(in_shape)
{
    int nd = L->type->variant; /* spatial dims */
    const char *nm = L->type->name;
    int64_t nf = sr_argi(L, IN_NUM);
    int affine = (int)sr_argi(L, IN_AFFINE), track = (int)sr_argi(L, IN_TRACK);
    char src[256];
    sr_from(info, 1, src, sizeof src);
    *out = *in;
    info->out_known = 1;
    info->batch_dim0 = 1;
    if (in->ndim != nd + 1 && in->ndim != nd + 2) {
        char hint[160];
        int other = in->ndim - 2; /* the InstanceNorm whose batched input this is */
        if (in->ndim < 2)
            snprintf(hint, sizeof hint, "it normalises each channel over its positions: give it %s data",
                     in_batched[nd]);
        else if (other >= 1 && other <= 3)
            snprintf(hint, sizeof hint, "use %s for %s data", in_names[other], in_batched[other]);
        else
            snprintf(hint, sizeof hint, "give it %s or unbatched %s data", in_batched[nd], in_unbatched[nd]);
        info->out_known = in->ndim >= 2;
        return sr_err(err, SR_ESHAPE, "%s expects %d-D %s or %d-D unbatched %s input, but input %s%s is %d-D; hint: %s",
                      nm, nd + 2, in_batched[nd], nd + 1, in_unbatched[nd], sr_shp(in), src, in->ndim, hint);
    }
    int batched = in->ndim == nd + 2;
    int64_t c = batched ? in->d[1] : in->d[0];
    if (!batched && info->in_batch && (affine || track)) {
        /* dim 0 is the model's batch, so this is a batch without a channel
         * dim, not one sample whose channels are dim 0; with weights or
         * running statistics that cannot be what was meant */
        info->batch_dim0 = !(info->training && track); /* as batched input would have */
        sr_norm_layout lay = {in_batched[nd], in_batched[nd], nd >= 2 ? in_batched[nd - 1] : NULL,
                              nd >= 2 ? in_names[nd - 1] : NULL, nd == 1};
        return sr_norm_no_channel_dim(L, &lay, nf, in, out, info, err);
    }
    if (c != nf && (affine || track)) {
        info->batch_dim0 = batched;
        return sr_err(err, SR_ESHAPE, "%s(num_features=%lld) expects %lld channels, but %sinput %s%s has %lld%s; "
                      "hint: num_features should be %lld", nm, (long long)nf, (long long)nf, batched ? "" : "unbatched ",
                      sr_shp(in), src, (long long)c, batched ? "" : " (dim 0)", (long long)c);
    }
    /* Without them PyTorch never reads num_features and runs any channel
     * count, so a mismatch is only worth a word; not where the "channels"
     * are the model's batch (a batch without its channel dimension, run as
     * one sample), whose size is no fault of num_features.  A lazy view's
     * num_features (lazynorm.c's rows, with arguments of their own) is its
     * guess, not the spec's. */
    if (c != nf && info->warn && !(!batched && info->in_batch) && L->type->args == a_instancenorm)
        snprintf(info->warn, SR_ERRLEN, "%s(num_features=%lld) is given %sinput %s%s with %lld channel%s%s; "
                 "num_features is not used without affine or track_running_stats, so it runs, as in PyTorch; "
                 "hint: num_features should be %lld", nm, (long long)nf, batched ? "" : "unbatched ", sr_shp(in), src,
                 (long long)c, c == 1 ? "" : "s", batched ? "" : " (dim 0)", (long long)c);
    int stats = info->training || !track;
    if (batched)
        info->batch_dim0 = !(info->training && track); /* the update averages the whole batch */
    else
        info->batch_dim0 = !(affine || track);          /* dim 0 holds the channels */
    int64_t sp = sr_prod(in, batched ? 2 : 1, in->ndim);
    if (stats && sp == 1)
        return sr_err(err, SR_ESHAPE, "%s needs more than 1 spatial element per channel to normalise by, but input %s "
                      "has 1 (PyTorch: \"Expected more than 1 spatial element when training\"); hint: %s", nm, sr_shp(in),
                      track ? "in eval it uses its running statistics and accepts this; in training give it more "
                              "positions"
                            : "each channel is normalised over its own positions: give it more than one (or use "
                              "BatchNorm to normalise over the batch)");
    return SR_OK;
}

/* y[i] = x[i] * a + b over one plane. */
static SR_VEC_VOID(in_scale_shift, (const float *x, float *y, int64_t n, float a, float b), (x, y, n, a, b))
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * a + b;
}

static SR_FORWARD_FN(in_forward)
{
    int nd = L->type->variant;
    const sr_shape *s = &in->shape;
    int batched = s->ndim == nd + 2;
    int64_t N = batched ? s->d[0] : 1, C = s->d[batched], S = sr_prod(s, batched + 1, s->ndim);
    int affine = (int)sr_argi(L, IN_AFFINE), track = (int)sr_argi(L, IN_TRACK);
    const float *X = sr_f32(in);
    float *Y = sr_f32(out);
    if (N * C * S == 0)
        return SR_OK; /* PyTorch would set tracked statistics to NaN (a mean over no samples); we keep them */
    if (!ctx->training && track) {
        /* the running statistics' per-channel affine map */
        double *coef = malloc((size_t)(2 * C) * sizeof *coef);
        if (!coef)
            return sr_err(err, SR_ERUN, "out of memory");
        sr_batchnorm_affine(L, 0, coef, coef + C);
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < C; c++) {
                float *y = Y + (n * C + c) * S;
                in_scale_shift(X + (n * C + c) * S, y, S, (float)coef[c], (float)coef[C + c]);
                sr_post(ctx, y, (size_t)S);
            }
        free(coef);
        return SR_OK;
    }
    int update = ctx->training && track;
    double *st = NULL;
    if (update && !(st = malloc((size_t)(2 * N * C) * sizeof *st)))
        return sr_err(err, SR_ERUN, "out of memory");
    sr_gn_job J = {.x = X, .y = Y, .groups = N * C, .G = C, .cpg = 1, .S = S,
                   .w = affine ? sr_f32(&L->param[0]) : NULL, .b = affine ? sr_f32(&L->param[1]) : NULL,
                   .eps = sr_argf(L, IN_EPS), .post = ctx->post, .mean = st, .var = st ? st + N * C : NULL};
    sr_gn_run(&J, ctx->threads);
    if (update) {
        float *rm = sr_f32(&L->param[2 * affine]), *rv = sr_f32(&L->param[2 * affine + 1]);
        double m = sr_argf(L, IN_MOMENTUM), unb = (double)S / (double)(S - 1);
        for (int64_t c = 0; c < C; c++) {
            double sm = 0, sv = 0;
            for (int64_t n = 0; n < N; n++) {
                sm += st[n * C + c];
                sv += st[N * C + n * C + c] * unb;
            }
            rm[c] = (float)((1.0 - m) * rm[c] + m * (sm / (double)N));
            rv[c] = (float)((1.0 - m) * rv[c] + m * (sv / (double)N));
        }
        free(st);
    }
    return SR_OK;
}

/*
 * Which dim holds the channels: 1 for batched input, 0 for unbatched
 * (C, *).  In eval with track_running_stats InstanceNorm is a per-channel
 * affine map, which sr_batchnorm_affine describes (the arguments lie as
 * BatchNorm's), folded into a preceding convolution; unbatched input has
 * its channels in dim 0, so the planner asks this hook where they are and
 * folds only when that is dim 1 (Linear(4, 4) then InstanceNorm1d(4,
 * track_running_stats=True) on a [4, 4] record is not folded).
 */
static int in_channel_dim(const sr_layer *L, const sr_shape *s)
{
    return s->ndim == L->type->variant + 2 ? 1 : 0;
}

/* ---- rows ----------------------------------------------------------------- */

#define IN_ROW(nm, sum, nd)                                                                                       \
    SR_ROW(nm, .summary = sum, SR_ARGS(a_instancenorm),                                                           \
           .repr = "#num_features, eps=, momentum=, affine=, track_running_stats=",                               \
           .flags = SR_FUSE_POST | SR_LF_TRAIN_STATE, .variant = nd, .validate = in_validate, .shape = in_shape, \
           .params = sr_batchnorm_params, .forward = in_forward, .channel_dim = in_channel_dim,   \
           .affine = sr_batchnorm_affine)
IN_ROW(InstanceNorm1d, "normalises each channel of each sample of (N, C, L) or (C, L) over its positions", 1);
IN_ROW(InstanceNorm2d, "normalises each channel of each sample of (N, C, H, W) or (C, H, W) over its positions", 2);
IN_ROW(InstanceNorm3d, "normalises each channel of each sample of (N, C, D, H, W) or (C, D, H, W)", 3);
