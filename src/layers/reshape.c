/* reshape.c - Flatten, Unflatten, Identity, Dropout: views and masks. */
#include "layers.h"
#include "../init.h"

#include <stdio.h>
#include <string.h>

SR_SHAPE_FN(sr_flatten_shape)
{
    int nd = in->ndim ? in->ndim : 1; /* torch.flatten treats 0-d as 1-d */
    int64_t s0 = sr_argi(L, FLATTEN_START), e0 = sr_argi(L, FLATTEN_END);
    int s = sr_norm_dim(s0, nd), e = sr_norm_dim(e0, nd);
    if (s < 0 || e < 0) {
        /* The usual cause: an unbatched input fed to a model built for batches. */
        return sr_err(err, SR_ESHAPE,
                      "start_dim=%lld, end_dim=%lld out of range for a %d-d input %s; hint: %s",
                      (long long)s0, (long long)e0, in->ndim, sr_shp(in),
                      in->ndim <= 1 ? "the input lacks a batch dimension; add one (shape [1, ...])"
                                    : "use dims within the input's rank");
    }
    if (s > e)
        return sr_err(err, SR_ESHAPE, "start_dim (%lld) comes after end_dim (%lld) for input %s",
                      (long long)s0, (long long)e0, sr_shp(in));
    if (in->ndim == 0) {
        out->ndim = 1;
        out->d[0] = 1;
    } else {
        out->ndim = 0;
        for (int i = 0; i < s; i++)
            out->d[out->ndim++] = in->d[i];
        out->d[out->ndim++] = sr_prod(in, s, e + 1);
        for (int i = e + 1; i < in->ndim; i++)
            out->d[out->ndim++] = in->d[i];
    }
    info->out_known = 1;
    info->batch_dim0 = s > 0;
    return SR_OK;
}

SR_VALIDATE_FN(sr_unflatten_validate)
{
    const sr_argval *v = &L->arg[UNFLATTEN_SIZE];
    if (v->kind != SR_AV_TUPLE)
        return sr_err(err, SR_EUSAGE, "unflattened_size must be a list such as [2, 5]; hint: Unflatten: [1, [2, 5]]");
    int neg = 0;
    for (int i = 0; i < v->n; i++) {
        if (v->t[i] == -1)
            neg++;
        else if (v->t[i] < 0)
            return sr_err(err, SR_EUSAGE, "unflattened_size entries must be non-negative (or one -1)");
    }
    if (neg > 1)
        return sr_err(err, SR_EUSAGE, "only one entry of unflattened_size can be -1");
    return SR_OK;
}

SR_SHAPE_FN(sr_unflatten_shape)
{
    const sr_argval *v = &L->arg[UNFLATTEN_SIZE];
    int d = sr_norm_dim(sr_argi(L, UNFLATTEN_DIM), in->ndim);
    if (d < 0)
        return sr_err(err, SR_ESHAPE, "dim=%lld is out of range for a %d-d input %s",
                      (long long)sr_argi(L, UNFLATTEN_DIM), in->ndim, sr_shp(in));
    if (in->ndim - 1 + v->n > SR_MAXDIM)
        return sr_err(err, SR_ESHAPE, "result would have more than %d dimensions", SR_MAXDIM);
    int64_t known = 1;
    int neg = -1;
    for (int i = 0; i < v->n; i++) {
        if (v->t[i] == -1)
            neg = i;
        else
            known *= v->t[i];
    }
    int64_t fill = -1;
    if (neg >= 0) {
        if (known == 0 || in->d[d] % known != 0)
            return sr_err(err, SR_ESHAPE, "dimension %d of size %lld cannot be split into %s: %lld is not a multiple of %lld",
                          d, (long long)in->d[d], sr_shp(&(sr_shape){0}), (long long)in->d[d], (long long)known);
        fill = in->d[d] / known;
    } else if (known != in->d[d]) {
        char want[160];
        sr_argval_repr(v, want, sizeof want);
        return sr_err(err, SR_ESHAPE,
                      "dimension %d has size %lld, but unflattened_size %s multiplies to %lld; hint: the sizes must multiply to %lld",
                      d, (long long)in->d[d], want, (long long)known, (long long)in->d[d]);
    }
    out->ndim = 0;
    for (int i = 0; i < d; i++)
        out->d[out->ndim++] = in->d[i];
    for (int i = 0; i < v->n; i++)
        out->d[out->ndim++] = v->t[i] == -1 ? fill : v->t[i];
    for (int i = d + 1; i < in->ndim; i++)
        out->d[out->ndim++] = in->d[i];
    info->out_known = 1;
    info->batch_dim0 = d > 0;
    return SR_OK;
}

SR_FORWARD_FN(sr_view_forward)
{
    (void)L;
    (void)ctx;
    (void)err;
    out->data = in->data; /* same bytes, new shape */
    return SR_OK;
}

SR_VALIDATE_FN(sr_dropout_validate)
{
    double p = sr_argf(L, DROPOUT_P);
    if (!(p >= 0 && p <= 1))
        return sr_err(err, SR_EUSAGE, "dropout probability has to be between 0 and 1, but got %g", p);
    return SR_OK;
}

SR_FORWARD_FN(sr_dropout_forward)
{
    (void)err;
    double p = sr_argf(L, DROPOUT_P);
    if (!ctx->training || p == 0) {
        out->data = in->data;
        return SR_OK;
    }
    int64_t n = sr_shape_numel(&in->shape);
    const float *X = sr_f32(in);
    float *Y = sr_f32(out);
    if (p == 1) {
        memset(Y, 0, (size_t)n * sizeof *Y);
        return SR_OK;
    }
    /* Each element's keep/drop is a hash of (seed, layer, element index in
     * the whole record), so chunking does not change which are dropped. */
    int64_t per = in->shape.ndim && in->shape.d[0] ? n / in->shape.d[0] : 0;
    uint64_t base = sr_hash64(ctx->seed ^ ctx->layer_key) ^ ctx->pass_key;
    uint64_t off = (uint64_t)(ctx->sample0 * per);
    float scale = (float)(1.0 / (1.0 - p));
    double thresh = p * 18446744073709551616.0;
    for (int64_t i = 0; i < n; i++) {
        uint64_t h = sr_hash64(base + off + (uint64_t)i);
        Y[i] = (double)h < thresh ? 0.0f : X[i] * scale;
    }
    return SR_OK;
}

SR_SHAPE_FN(sr_sequential_shape)
{
    (void)L;
    (void)err;
    *out = *in;
    info->out_known = 1;
    info->batch_dim0 = 1;
    return SR_OK;
}
