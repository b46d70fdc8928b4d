/*
 * batchnorm.c - BatchNorm1d, BatchNorm2d, BatchNorm3d and SyncBatchNorm, in
 * eval and training mode.
 *
 * Statistics are accumulated in double, two-pass (mean, then squared
 * deviations; groupnorm.c's vector kernels per plane), so an input with a
 * large common offset keeps its variance.  Channels are spread over
 * threads; each channel's arithmetic is the same whatever the threads.
 * Training mode updates the running statistics as torch.nn.BatchNorm does:
 * num_batches_tracked += 1, then running = (1 - f) * running + f * batch
 * with the unbiased batch variance, f = momentum, or 1/num_batches_tracked
 * (a cumulative average) when momentum is None.
 */
#include "batchnorm.h"
#include "groupnorm.h"
#include "../init.h"
#include "../par.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bn_affine(const sr_layer *L) { return (int)sr_argi(L, BN_AFFINE); }
static int bn_track(const sr_layer *L) { return (int)sr_argi(L, BN_TRACK); }

SR_VALIDATE_FN(sr_batchnorm_validate)
{
    if (sr_argi(L, BN_NUM) <= 0)
        return sr_err(err, SR_EUSAGE, "num_features must be positive, got %lld; hint: num_features is the number of "
                      "channels (dim 1) of the input", (long long)sr_argi(L, BN_NUM));
    return SR_OK;
}

sr_status sr_norm_no_channel_dim(const sr_layer *L, const sr_norm_layout *lay, int64_t nf, const sr_shape *in,
                                 sr_shape *out, const sr_shapeinfo *info, char *err)
{
    const char *nm = L->type->name;
    char src[256];
    sr_from(info, 1, src, sizeof src);
    if (lay->lower_name && in->d[1] == nf)
        return sr_err(err, SR_ESHAPE, "%s expects %s input, but input %s%s, whose dim 0 is the batch, is %d-D; "
                      "hint: this is %s data with C = %lld: use %s", nm, lay->expects, sr_shp(in), src, in->ndim,
                      lay->lower_layout, (long long)nf, lay->lower_name);
    out->ndim = in->ndim + 1;
    out->d[1] = nf;
    for (int k = 1; k < in->ndim; k++)
        out->d[k + 1] = in->d[k];
    char full[160], hint[400];
    size_t fl = (size_t)snprintf(full, sizeof full, "[%s, %lld", info->in_batch, (long long)nf);
    for (int k = 1; k < in->ndim && fl < sizeof full; k++)
        fl += (size_t)snprintf(full + fl, sizeof full - fl, ", %lld", (long long)in->d[k]);
    if (fl < sizeof full)
        snprintf(full + fl, sizeof full - fl, "]");
    if (nf == 1)
        snprintf(hint, sizeof hint, "insert Unflatten: [1, [1, %lld]] before this layer%s%s", (long long)in->d[1],
                 info->prev ? "" : ", or make the model's input ", info->prev ? "" : full);
    else if (lay->split_hint && nf > 0 && in->d[1] % nf == 0)
        snprintf(hint, sizeof hint, "to split the %lld features into %lld channels of %lld, insert Unflatten: "
                 "[1, [%lld, %lld]] before this layer", (long long)in->d[1], (long long)nf,
                 (long long)(in->d[1] / nf), (long long)nf, (long long)(in->d[1] / nf));
    else
        snprintf(hint, sizeof hint, "num_features=%lld needs the %lld channels as dim 1 of %s%s%s", (long long)nf,
                 (long long)nf, lay->layout, info->prev ? "" : ": make the model's input ", info->prev ? "" : full);
    return sr_err(err, SR_ESHAPE, "%s expects %s input, but input %s%s, whose dim 0 is the batch, has no channel "
                  "dimension; hint: %s", nm, lay->expects, sr_shp(in), src, hint);
}

/* The BatchNorm kinds' shape rules: 1d (2-D or 3-D input), 2d (4-D), 3d
 * (5-D), and SyncBatchNorm, which takes any input of 2 dims or more. */
enum { BN_KIND_1D, BN_KIND_2D, BN_KIND_3D, BN_KIND_SYNC };
static const char *const bn_layout[] = {"2-D (N, C) or 3-D (N, C, L)", "4-D (N, C, H, W)", "5-D (N, C, D, H, W)",
                                        "(N, C, *)"};

static sr_status bn_shape(const sr_layer *L, int kind, const sr_shape *in, sr_shape *out, sr_shapeinfo *info, char *err)
{
    const char *nm = L->type->name;
    char src[256];
    sr_from(info, 1, src, sizeof src);
    int want = kind + 3; /* BatchNorm2d's and 3d's rank */
    int ok = kind == BN_KIND_1D ? in->ndim == 2 || in->ndim == 3 : kind == BN_KIND_SYNC ? in->ndim >= 2 : in->ndim == want;
    int64_t nf = sr_argi(L, BN_NUM);
    if (!ok && (kind == BN_KIND_2D || kind == BN_KIND_3D) && in->ndim == want - 1 && info->in_batch) {
        /* dim 0 is already the batch, so [N, 28, 28] is (N, C, L) data for
         * BatchNorm1d or a batch of images without their channel dim; the
         * layers after it are checked with the shape the fix gives */
        *out = *in;
        info->out_known = 1;
        info->batch_dim0 = !info->training && bn_track(L);
        sr_norm_layout lay = {bn_layout[kind], bn_layout[kind] + 4, kind == BN_KIND_2D ? "(N, C, L)" : "(N, C, H, W)",
                              kind == BN_KIND_2D ? "BatchNorm1d" : "BatchNorm2d", 0};
        return sr_norm_no_channel_dim(L, &lay, nf, in, out, info, err);
    }
    if (!ok) {
        const char *hint = "";
        switch (kind) {
        case BN_KIND_1D:
            hint = in->ndim == 4 ? "use BatchNorm2d for (N, C, H, W) images"
                 : in->ndim == 5 ? "use BatchNorm3d for (N, C, D, H, W) volumes"
                 : in->ndim == 1 ? "add a batch dimension (shape [N, C])"
                                 : "give it (N, C) or (N, C, L) data";
            break;
        case BN_KIND_2D:
            hint = in->ndim == 3 ? "add a batch dimension (shape [1, C, H, W]); PyTorch 1.13's BatchNorm2d has no unbatched form"
                 : in->ndim == 2 ? "use BatchNorm1d for (N, C) features"
                 : in->ndim == 5 ? "use BatchNorm3d for (N, C, D, H, W) volumes"
                                 : "give it (N, C, H, W) data";
            break;
        case BN_KIND_3D:
            hint = in->ndim == 4 ? "add a batch dimension (shape [1, C, D, H, W]); PyTorch 1.13's BatchNorm3d has no "
                                   "unbatched form (or use BatchNorm2d for (N, C, H, W) images)"
                 : in->ndim == 2 || in->ndim == 3 ? "use BatchNorm1d for (N, C) or (N, C, L) data"
                                                  : "give it (N, C, D, H, W) data";
            break;
        default:
            hint = "add a batch dimension (shape [N, C]): it normalises each channel (dim 1) over the batch";
            break;
        }
        return sr_err(err, SR_ESHAPE, "%s expects %s input, but input %s%s is %d-D; hint: %s", nm,
                      kind == BN_KIND_SYNC ? "at least 2-D (N, C, *)" : bn_layout[kind], sr_shp(in), src, in->ndim,
                      hint);
    }
    *out = *in;
    info->out_known = 1;
    int batch_stats = info->training || !bn_track(L);
    /* batch statistics span the whole batch: it cannot be run in chunks */
    info->batch_dim0 = !batch_stats;
    int64_t c = in->d[1];
    if (kind == BN_KIND_SYNC && c == 0)
        return sr_err(err, SR_ESHAPE, "SyncBatchNorm number of input channels should be non-zero, but input %s%s has "
                      "none; hint: dim 1 holds the channels it normalises", sr_shp(in), src);
    /* Without weights or running statistics PyTorch never looks at
     * num_features, and runs any channel count; so do we. */
    if (c != nf && (bn_affine(L) || bn_track(L)))
        return sr_err(err, SR_ESHAPE, "%s(num_features=%lld) expects %lld channels, but input %s%s has %lld; "
                      "hint: num_features should be %lld",
                      nm, (long long)nf, (long long)nf, sr_shp(in), src, (long long)c, (long long)c);
    int64_t per = in->d[0] * sr_prod(in, 2, in->ndim);
    if (batch_stats && per == 1)
        return sr_err(err, SR_ESHAPE, "Expected more than 1 value per channel when training, got input size %s%s; "
                      "hint: %s",
                      sr_shp(in), src,
                      info->training ? "a training step needs a batch of at least 2 samples (or more than one position per channel)"
                                     : "with track_running_stats=False BatchNorm uses batch statistics even in eval; "
                                       "give it a batch of at least 2 samples");
    return SR_OK;
}

SR_SHAPE_FN(sr_batchnorm1d_shape) { return bn_shape(L, BN_KIND_1D, in, out, info, err); }
SR_SHAPE_FN(sr_batchnorm2d_shape) { return bn_shape(L, BN_KIND_2D, in, out, info, err); }
static SR_SHAPE_FN(bn3d_shape) { return bn_shape(L, BN_KIND_3D, in, out, info, err); }
static SR_SHAPE_FN(syncbn_shape) { return bn_shape(L, BN_KIND_SYNC, in, out, info, err); }

SR_PARAMS_FN(sr_batchnorm_params)
{
    sr_shape c = sr_shape_make(1, (int64_t[]){sr_argi(L, BN_NUM)});
    int n = 0;
    if (bn_affine(L)) {
        p[n++] = (sr_paramdecl){.name = "weight", .shape = c, .init = sr_init_const(SR_INIT_ONES), .zero_row = -1};
        p[n++] = (sr_paramdecl){.name = "bias", .shape = c, .init = sr_init_const(SR_INIT_ZEROS), .zero_row = -1};
    }
    if (bn_track(L)) {
        p[n++] = (sr_paramdecl){.name = "running_mean", .shape = c, .buffer = 1,
                                .init = sr_init_const(SR_INIT_ZEROS), .zero_row = -1};
        p[n++] = (sr_paramdecl){.name = "running_var", .shape = c, .buffer = 1,
                                .init = sr_init_const(SR_INIT_ONES), .zero_row = -1};
        /* a 0-d int64 tensor, as PyTorch registers it */
        p[n++] = (sr_paramdecl){.name = "num_batches_tracked", .shape = {.ndim = 0}, .dtype = SR_I64,
                                .buffer = 1, .zero_row = -1};
    }
    return n;
}

/* Eval with running statistics: y = x * scale + shift per channel, the
 * form PyTorch's inference kernel uses, with scale and shift in double. */
static void eval_coef(const sr_layer *L, int64_t c, double *scale, double *shift)
{
    int affine = bn_affine(L);
    const float *rm = sr_f32(&L->param[2 * affine]), *rv = sr_f32(&L->param[2 * affine + 1]);
    double s = 1.0 / sqrt((double)rv[c] + sr_argf(L, BN_EPS));
    if (affine)
        s *= sr_f32(&L->param[0])[c];
    *scale = s;
    *shift = (affine ? (double)sr_f32(&L->param[1])[c] : 0.0) - (double)rm[c] * s;
}

int64_t sr_batchnorm_affine(const sr_layer *L, int training, double *scale, double *shift)
{
    if (training || !bn_track(L))
        return 0;
    int64_t C = sr_argi(L, BN_NUM);
    for (int64_t c = 0; scale && c < C; c++)
        eval_coef(L, c, &scale[c], &shift[c]);
    return C;
}

/* y[i] = x[i] * a + b over one plane. */
static SR_VEC_VOID(scale_shift, (const float *x, float *y, int64_t n, float a, float b), (x, y, n, a, b))
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * a + b;
}

/* y[c] = x[c] * a[c] + b[c] over one (N, C) row. */
static SR_VEC_VOID(scale_shift_row, (const float *x, float *y, int64_t n, const float *a, const float *b),
                   (x, y, n, a, b))
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * a[i] + b[i];
}

typedef struct {
    const sr_layer *L;
    const float *X;
    float *Y;
    int64_t N, C, S;
    int update;
    double factor, eps;
    const sr_layer *post;
} bn_job;

/* Batch statistics of channel c (two passes in double: the per-plane sums
 * of groupnorm.c's kernels, or plain loops for planes too short for them),
 * the running statistics' update, and the normalised output. */
static void bn_channel(void *arg, int64_t c, int tid)
{
    (void)tid;
    const bn_job *J = arg;
    const sr_layer *L = J->L;
    int64_t N = J->N, C = J->C, S = J->S, count = N * S;
    int affine = bn_affine(L);
    double sum = 0, ss = 0;
    for (int64_t n = 0; n < N; n++) {
        const float *x = J->X + (n * C + c) * S;
        if (S >= 16) {
            sum += sr_gn_sum(x, S);
        } else {
            for (int64_t i = 0; i < S; i++)
                sum += x[i];
        }
    }
    double mean = sum / (double)count;
    for (int64_t n = 0; n < N; n++) {
        const float *x = J->X + (n * C + c) * S;
        if (S >= 16) {
            ss += sr_gn_ssd(x, S, mean);
        } else {
            for (int64_t i = 0; i < S; i++)
                ss += (x[i] - mean) * (x[i] - mean);
        }
    }
    double var = ss / (double)count; /* biased: what normalises */
    if (J->update) {
        float *rm = sr_f32(&L->param[2 * affine]), *rv = sr_f32(&L->param[2 * affine + 1]);
        double unbiased = count > 1 ? ss / (double)(count - 1) : NAN;
        rm[c] = (float)((1.0 - J->factor) * rm[c] + J->factor * mean);
        rv[c] = (float)((1.0 - J->factor) * rv[c] + J->factor * unbiased);
    }
    double scale = 1.0 / sqrt(var + J->eps), shift = 0;
    if (affine) {
        scale *= sr_f32(&L->param[0])[c];
        shift = sr_f32(&L->param[1])[c];
    }
    float mh = (float)mean, ml = (float)(mean - (double)mh), a = (float)scale, b = (float)shift;
    for (int64_t n = 0; n < N; n++) {
        const float *x = J->X + (n * C + c) * S;
        float *y = J->Y + (n * C + c) * S;
        if (S >= 16) {
            sr_gn_apply(x, y, S, mh, ml, a, b);
        } else {
            for (int64_t i = 0; i < S; i++)
                y[i] = (float)((x[i] - mean) * scale + shift);
        }
        if (J->post)
            J->post->type->apply(J->post, y, y, (size_t)S);
    }
}

/* Eval with running statistics: the per-channel affine map (what a
 * preceding Linear or Conv absorbs when the executor folds this layer into
 * it), over planes [t * per, (t + 1) * per) in memory order. */
typedef struct {
    const bn_job *J;
    const float *a, *b; /* per channel */
    int64_t per;        /* planes per task */
} bn_eval_job;

static void bn_eval_planes(void *arg, int64_t t, int tid)
{
    (void)tid;
    const bn_eval_job *E = arg;
    const bn_job *J = E->J;
    int64_t q1 = (t + 1) * E->per < J->N * J->C ? (t + 1) * E->per : J->N * J->C;
    for (int64_t q = t * E->per; q < q1; q++) {
        int64_t c = q % J->C;
        float *y = J->Y + q * J->S;
        scale_shift(J->X + q * J->S, y, J->S, E->a[c], E->b[c]);
        if (J->post)
            J->post->type->apply(J->post, y, y, (size_t)J->S);
    }
}

/* (N, C) features in training: the statistics of every channel at once,
 * row by row (each channel's sums in order over the samples, as one
 * channel alone would have them). */
static SR_VEC_VOID(bn_row_sum, (double *acc, const float *x, int64_t n), (acc, x, n))
{
    for (int64_t i = 0; i < n; i++)
        acc[i] += (double)x[i];
}

static SR_VEC_VOID(bn_row_ssd, (double *acc, const float *x, const double *m, int64_t n), (acc, x, m, n))
{
    for (int64_t i = 0; i < n; i++) {
        double d = (double)x[i] - m[i];
        acc[i] += d * d;
    }
}

static SR_VEC_VOID(bn_row_apply, (const float *x, float *y, const double *m, const double *a, const double *b,
                                  int64_t n), (x, y, m, a, b, n))
{
    for (int64_t i = 0; i < n; i++)
        y[i] = (float)(((double)x[i] - m[i]) * a[i] + b[i]);
}

static sr_status bn_features_train(const bn_job *J, char *err)
{
    const sr_layer *L = J->L;
    int64_t N = J->N, C = J->C;
    int affine = bn_affine(L);
    double *t = calloc((size_t)C * 4, sizeof *t);
    if (!t)
        return sr_err(err, SR_ERUN, "out of memory");
    double *mean = t, *ss = t + C, *scale = t + 2 * C, *shift = t + 3 * C;
    for (int64_t n = 0; n < N; n++)
        bn_row_sum(mean, J->X + n * C, C);
    for (int64_t c = 0; c < C; c++)
        mean[c] /= (double)N;
    for (int64_t n = 0; n < N; n++)
        bn_row_ssd(ss, J->X + n * C, mean, C);
    for (int64_t c = 0; c < C; c++) {
        if (J->update) {
            float *rm = sr_f32(&L->param[2 * affine]), *rv = sr_f32(&L->param[2 * affine + 1]);
            double unbiased = N > 1 ? ss[c] / (double)(N - 1) : NAN;
            rm[c] = (float)((1.0 - J->factor) * rm[c] + J->factor * mean[c]);
            rv[c] = (float)((1.0 - J->factor) * rv[c] + J->factor * unbiased);
        }
        scale[c] = 1.0 / sqrt(ss[c] / (double)N + J->eps);
        shift[c] = 0;
        if (affine) {
            scale[c] *= sr_f32(&L->param[0])[c];
            shift[c] = sr_f32(&L->param[1])[c];
        }
    }
    for (int64_t n = 0; n < N; n++) {
        bn_row_apply(J->X + n * C, J->Y + n * C, mean, scale, shift, C);
        if (J->post)
            J->post->type->apply(J->post, J->Y + n * C, J->Y + n * C, (size_t)C);
    }
    free(t);
    return SR_OK;
}

/* The least work worth a second thread. */
#define BN_PAR_FLOATS ((int64_t)1 << 16)

SR_FORWARD_FN(sr_batchnorm_forward)
{
    const sr_shape *s = &in->shape;
    int64_t N = s->d[0], C = s->d[1], S = sr_prod(s, 2, s->ndim), count = N * S;
    int track = bn_track(L);
    int64_t *nbt = track ? sr_i64(&L->param[2 * bn_affine(L) + 2]) : NULL;
    int batch_stats = ctx->training || !track;
    bn_job J = {.L = L, .X = sr_f32(in), .Y = sr_f32(out), .N = N, .C = C, .S = S,
                .update = ctx->training && track, .eps = sr_argf(L, BN_EPS), .post = ctx->post};
    if (J.update) {
        ++*nbt;
        J.factor = sr_arg_is_none(L, BN_MOMENTUM) ? 1.0 / (double)*nbt : sr_argf(L, BN_MOMENTUM);
    }
    if (count == 0 || C == 0)
        return SR_OK; /* an empty batch: PyTorch leaves the running statistics alone */
    int threads = N * C * S >= BN_PAR_FLOATS ? ctx->threads : 1;
    threads = threads < C ? threads : (int)C;
    if (batch_stats) {
        if (S == 1)
            return bn_features_train(&J, err);
        sr_par_for(threads, C, bn_channel, &J);
        return SR_OK;
    }
    double *coef = malloc((size_t)C * 2 * sizeof *coef);
    float *ab = malloc((size_t)C * 2 * sizeof *ab);
    if (!coef || !ab) {
        free(coef);
        free(ab);
        return sr_err(err, SR_ERUN, "out of memory");
    }
    sr_batchnorm_affine(L, 0, coef, coef + C);
    for (int64_t c = 0; c < 2 * C; c++)
        ab[c] = (float)coef[c];
    if (S == 1) {
        /* (N, C) features: whole rows at once */
        for (int64_t n = 0; n < N; n++) {
            scale_shift_row(J.X + n * C, J.Y + n * C, C, ab, ab + C);
            sr_post(ctx, J.Y + n * C, (size_t)C);
        }
    } else {
        bn_eval_job E = {.J = &J, .a = ab, .b = ab + C};
        int64_t planes = N * C, pf = BN_PAR_FLOATS / 4;
        E.per = S >= pf ? 1 : pf / S;
        int64_t tasks = (planes + E.per - 1) / E.per;
        int th = N * C * S >= BN_PAR_FLOATS ? ctx->threads : 1;
        sr_par_for(th < tasks ? th : (int)tasks, tasks, bn_eval_planes, &E);
    }
    free(coef);
    free(ab);
    return SR_OK;
}

/* ---- rows ----------------------------------------------------------------- */

static const sr_argdef a_batchnorm[] = {
    {"num_features", T_I, NULL, NULL, 0},
    {"eps", T_F, "1e-05", NULL, 0},
    {"momentum", T_F | T_N, "0.1", NULL, 0},
    {"affine", T_B, "True", NULL, 0},
    {"track_running_stats", T_B, "True", NULL, 0},
};

#define BN_REPR "#num_features, eps=, momentum=, affine=, track_running_stats="
SR_ROW(BatchNorm1d, .summary = "normalises each channel of (N, C) or (N, C, L) by batch or running statistics",
       SR_ARGS(a_batchnorm), .repr = BN_REPR, .flags = SR_FUSE_POST | SR_LF_TRAIN_STATE,
       .validate = sr_batchnorm_validate, .shape = sr_batchnorm1d_shape, .params = sr_batchnorm_params,
       .forward = sr_batchnorm_forward, .affine = sr_batchnorm_affine);
SR_ROW(BatchNorm2d, .summary = "normalises each channel of (N, C, H, W) by batch or running statistics",
       SR_ARGS(a_batchnorm), .repr = BN_REPR, .flags = SR_FUSE_POST | SR_LF_TRAIN_STATE,
       .validate = sr_batchnorm_validate, .shape = sr_batchnorm2d_shape, .params = sr_batchnorm_params,
       .forward = sr_batchnorm_forward, .affine = sr_batchnorm_affine);
SR_ROW(BatchNorm3d, .summary = "normalises each channel of (N, C, D, H, W) by batch or running statistics",
       SR_ARGS(a_batchnorm), .repr = BN_REPR, .flags = SR_FUSE_POST | SR_LF_TRAIN_STATE,
       .validate = sr_batchnorm_validate, .shape = bn3d_shape, .params = sr_batchnorm_params,
       .forward = sr_batchnorm_forward, .affine = sr_batchnorm_affine);

/* On one process SyncBatchNorm is the BatchNorm it equals (PyTorch's own
 * forward falls back to F.batch_norm when there is nobody to synchronise
 * with), for input of any rank from 2; process_group can only be None. */
static const sr_argdef a_syncbatchnorm[] = {
    {"num_features", T_I, NULL, NULL, 0},
    {"eps", T_F, "1e-05", NULL, 0},
    {"momentum", T_F | T_N, "0.1", NULL, 0},
    {"affine", T_B, "True", NULL, 0},
    {"track_running_stats", T_B, "True", NULL, 0},
    {"process_group", T_N, "None", NULL, 0},
};
SR_ROW(SyncBatchNorm, .summary = "BatchNorm over (N, C, *) as one process runs it (statistics of its own batch)",
       SR_ARGS(a_syncbatchnorm), .repr = BN_REPR, .flags = SR_FUSE_POST | SR_LF_TRAIN_STATE,
       .validate = sr_batchnorm_validate, .shape = syncbn_shape, .params = sr_batchnorm_params,
       .forward = sr_batchnorm_forward, .affine = sr_batchnorm_affine);
