/* linear.c - Linear and LazyLinear: one sgemm over all rows. */
#include "layers.h"
#include "../init.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

SR_VALIDATE_FN(sr_linear_validate)
{
    if (sr_argi(L, LINEAR_IN) < 0 || sr_argi(L, LINEAR_OUT) < 0)
        return sr_err(err, SR_EUSAGE, "in_features and out_features must be non-negative, got %lld and %lld",
                      (long long)sr_argi(L, LINEAR_IN), (long long)sr_argi(L, LINEAR_OUT));
    return SR_OK;
}

SR_VALIDATE_FN(sr_lazylinear_validate)
{
    if (sr_argi(L, LAZY_OUT) < 0)
        return sr_err(err, SR_EUSAGE, "out_features must be non-negative, got %lld", (long long)sr_argi(L, LAZY_OUT));
    return SR_OK;
}

static int is_lazy(const sr_layer *L) { return L->type->params == sr_lazylinear_params; }
static int64_t in_features(const sr_layer *L) { return is_lazy(L) ? L->lazy_in : sr_argi(L, LINEAR_IN); }
static int64_t out_features(const sr_layer *L) { return sr_argi(L, is_lazy(L) ? LAZY_OUT : LINEAR_OUT); }
static int has_bias(const sr_layer *L) { return (int)sr_argi(L, is_lazy(L) ? LAZY_BIAS : LINEAR_BIAS); }

/* " (from layer 5 (Flatten))" when the layer that made the size is known */
static const char *from(const sr_shapeinfo *info, char *buf, size_t len)
{
    if (info->prev)
        snprintf(buf, len, " (from %s)", info->prev);
    else
        buf[0] = '\0';
    return buf;
}

static sr_status linear_shape(const char *nm, int64_t fin, int64_t fout, const sr_shape *in, sr_shape *out,
                              sr_shapeinfo *info, char *err)
{
    char src[SR_ERRLEN / 4];
    if (in->ndim == 0) {
        *out = sr_shape_make(1, (int64_t[]){fout});
        info->out_known = 1;
        return sr_err(err, SR_ESHAPE, "%s expects input [*, %lld], but input [] is a scalar%s; hint: give it at least one dimension",
                      nm, (long long)fin, from(info, src, sizeof src));
    }
    *out = *in;
    out->d[in->ndim - 1] = fout;
    info->out_known = 1;
    info->batch_dim0 = in->ndim >= 2;
    int64_t last = in->d[in->ndim - 1];
    if (last == fin)
        return SR_OK;
    /* The classic mistakes: a missing Flatten, or in_features off after one. */
    if (in->ndim >= 3) {
        int64_t tail = sr_prod(in, 1, in->ndim);
        char expr[128];
        size_t k = 0;
        for (int i = 1; i < in->ndim && k < sizeof expr; i++)
            k += (size_t)snprintf(expr + k, sizeof expr - k, "%s%lld", i > 1 ? "*" : "", (long long)in->d[i]);
        /* the rule's producer names dim 1, not the last dim, so leave it out */
        if (tail == fin) {
            out->ndim = 2;
            out->d[1] = fout;
            return sr_err(err, SR_ESHAPE,
                          "%s(in_features=%lld) acts on the last dimension, but input %s has %lld there; "
                          "hint: insert Flatten before this layer (%s = %lld)",
                          nm, (long long)fin, sr_shp(in), (long long)last, expr, (long long)tail);
        }
        return sr_err(err, SR_ESHAPE,
                      "%s(in_features=%lld) acts on the last dimension, but input %s has %lld there; "
                      "hint: insert Flatten before this layer and set in_features=%lld (%s), or set "
                      "in_features=%lld to act on the last dimension alone",
                      nm, (long long)fin, sr_shp(in), (long long)last, (long long)tail, expr, (long long)last);
    }
    char extra[256] = "";
    if (in->ndim == 2 && in->d[0] * last == fin)
        snprintf(extra, sizeof extra, "; or, if %s is one sample without its batch dimension, add one (shape [1, ...])",
                 sr_shp(in));
    return sr_err(err, SR_ESHAPE, "%s expects input [*, %lld] (in_features=%lld), but input %s%s has %lld features; "
                  "hint: in_features should be %lld, or use LazyLinear%s",
                  nm, (long long)fin, (long long)fin, sr_shp(in), from(info, src, sizeof src), (long long)last,
                  (long long)last, extra);
}

SR_SHAPE_FN(sr_linear_shape)
{
    return linear_shape(L->type->name, sr_argi(L, LINEAR_IN), sr_argi(L, LINEAR_OUT), in, out, info, err);
}

SR_SHAPE_FN(sr_lazylinear_shape)
{
    if (in->ndim == 0) {
        *out = sr_shape_make(1, (int64_t[]){sr_argi(L, LAZY_OUT)});
        info->out_known = 1;
        return sr_err(err, SR_ESHAPE, "LazyLinear needs at least 1-D input, but input [] is a scalar; hint: give it at least one dimension");
    }
    int64_t last = in->d[in->ndim - 1];
    if (L->lazy_in < 0)
        L->lazy_in = last; /* materialised by the first input, as in PyTorch */
    return linear_shape(L->type->name, L->lazy_in, sr_argi(L, LAZY_OUT), in, out, info, err);
}

static int linear_params(int64_t fin, int64_t fout, int bias, sr_paramdecl *p)
{
    memset(p, 0, 2 * sizeof *p);
    p[0].name = "weight";
    p[0].shape = sr_shape_make(2, (int64_t[]){fout, fin});
    p[0].init = sr_init_kaiming_uniform_a(sqrt(5.0));
    p[0].zero_row = -1;
    if (!bias)
        return 1;
    double bound = fin > 0 ? 1.0 / sqrt((double)fin) : 0.0;
    p[1].name = "bias";
    p[1].shape = sr_shape_make(1, (int64_t[]){fout});
    p[1].init = sr_init_uniform(-bound, bound);
    p[1].zero_row = -1;
    return 2;
}

SR_PARAMS_FN(sr_linear_params)
{
    return linear_params(sr_argi(L, LINEAR_IN), sr_argi(L, LINEAR_OUT), (int)sr_argi(L, LINEAR_BIAS), p);
}

SR_PARAMS_FN(sr_lazylinear_params)
{
    /* Before materialisation PyTorch has UninitializedParameters; seqrun
     * only asks once shapes are known, so lazy_in is set by then. */
    return linear_params(L->lazy_in < 0 ? 0 : L->lazy_in, sr_argi(L, LAZY_OUT), (int)sr_argi(L, LAZY_BIAS), p);
}

/* Output features are the last dimension; the executor folds a following
 * BatchNorm1d into the weights when that is dim 1, i.e. for [N, F]. */
int sr_linear_channel_dim(const sr_layer *L, const sr_shape *out)
{
    (void)L;
    return out->ndim - 1;
}

/* y[j] += b[j] */
SR_KERNEL static void add_bias(float *y, const float *b, int64_t n)
{
    for (int64_t j = 0; j < n; j++)
        y[j] += b[j];
}

/*
 * One sgemm over every row (cblas_sgemv for a single row), then one pass
 * over each output row, while it is in cache, adding the bias and applying
 * the fused activation.  Weights and bias are the executor's folded ones
 * when it folded a BatchNorm1d into this layer.
 */
SR_FORWARD_FN(sr_linear_forward)
{
    (void)err;
    int64_t K = in_features(L), N = out_features(L);
    int64_t M = K ? sr_shape_numel(&in->shape) / K : sr_shape_numel(&out->shape) / (N ? N : 1);
    const float *x = sr_f32(in);
    const float *W = ctx->weight ? ctx->weight : sr_f32(&L->param[0]);
    const float *b = ctx->weight ? ctx->bias : has_bias(L) ? sr_f32(&L->param[1]) : NULL;
    float *y = sr_f32(out);
    if (M == 0 || N == 0)
        return SR_OK;
    if (K == 0)
        memset(y, 0, (size_t)(M * N) * sizeof *y);
    else if (M == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)K, 1.0f, W, (int)K, x, 1, 0.0f, y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, x, (int)K, W,
                    (int)K, 0.0f, y, (int)N);
    if (!b && !ctx->post)
        return SR_OK;
    for (int64_t i = 0; i < M; i++) {
        float *row = y + i * N;
        if (b)
            add_bias(row, b, N);
        sr_post(ctx, row, (size_t)N);
    }
    return SR_OK;
}

SR_FORWARD_FN(sr_lazylinear_forward)
{
    return sr_linear_forward(L, in, out, ctx, err);
}
