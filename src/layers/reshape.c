/* reshape.c - Flatten, Unflatten, Identity, Dropout: views and masks. */
#include "layers.h"
#include "../init.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The rank a dim argument needs: 2 for dim=1, 1 for dim=-1 (as a 64-bit
 * count: dim may be anything a spec writes, INT64_MIN included). */
static long long rank_for(int64_t dim)
{
    return dim >= 0 ? (long long)dim + 1 : dim == INT64_MIN ? LLONG_MAX : (long long)-dim;
}

SR_SHAPE_FN(sr_flatten_shape)
{
    int nd = in->ndim ? in->ndim : 1; /* torch.flatten treats 0-d as 1-d */
    int64_t s0 = sr_argi(L, FLATTEN_START), e0 = sr_argi(L, FLATTEN_END);
    int s = sr_norm_dim(s0, nd), e = sr_norm_dim(e0, nd);
    char src[SR_ERRLEN / 4];
    if (s < 0 || e < 0) {
        long long need = rank_for(s0) > rank_for(e0) ? rank_for(s0) : rank_for(e0);
        /* The usual cause: an unbatched input fed to a model built for batches. */
        char hint[160];
        if (need == in->ndim + 1 && s0 >= 1)
            snprintf(hint, sizeof hint, "the input lacks its batch dimension; add one (shape [1, ...])");
        else
            snprintf(hint, sizeof hint, "use dims in [%d, %d]", -nd, nd - 1);
        return sr_err(err, SR_ESHAPE,
                      "Flatten(start_dim=%lld, end_dim=%lld) needs an input of at least %lld dimensions, "
                      "but input %s%s has %d; hint: %s",
                      (long long)s0, (long long)e0, need, sr_shp(in), sr_from(info, 0, src, sizeof src), in->ndim, hint);
    }
    if (s > e)
        return sr_err(err, SR_ESHAPE,
                      "start_dim=%lld comes after end_dim=%lld for input %s; hint: swap them (start_dim=%lld, end_dim=%lld)",
                      (long long)s0, (long long)e0, sr_shp(in), (long long)e0, (long long)s0);
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
    int64_t prod = 1;
    for (int i = 0; i < v->n; i++)
        if (v->t[i] != -1 && __builtin_mul_overflow(prod, v->t[i], &prod))
            return sr_err(err, SR_EUSAGE, "unflattened_size's sizes multiply past 2^63, more elements than any "
                          "tensor holds; hint: check the sizes");
    return SR_OK;
}

/* A size list that multiplies to n, as close to the written one as can be
 * told: (C, H, W) keeps C and makes a square, anything else keeps all but
 * its last entry.  0 if neither works. */
static int suggest_sizes(const sr_argval *v, int64_t n, char *buf, size_t len)
{
    sr_argval t = *v;
    if (t.n == 3 && t.t[0] > 0 && n % t.t[0] == 0) {
        int64_t hw = n / t.t[0], r = 0;
        while ((r + 1) * (r + 1) <= hw)
            r++;
        if (r * r == hw && r > 0) {
            t.t[1] = t.t[2] = r;
            sr_argval_repr(&t, buf, len);
            return 1;
        }
    }
    int64_t rest = 1;
    for (int i = 0; i + 1 < t.n; i++)
        if (t.t[i] < 0 || __builtin_mul_overflow(rest, t.t[i], &rest))
            return 0;
    if (t.n >= 2 && rest > 0 && n % rest == 0) {
        t.t[t.n - 1] = n / rest;
        sr_argval_repr(&t, buf, len);
        return 1;
    }
    return 0;
}

SR_SHAPE_FN(sr_unflatten_shape)
{
    const sr_argval *v = &L->arg[UNFLATTEN_SIZE];
    int64_t d0 = sr_argi(L, UNFLATTEN_DIM);
    int d = sr_norm_dim(d0, in->ndim);
    char src[SR_ERRLEN / 4], want[160];
    sr_argval_repr(v, want, sizeof want);
    if (d < 0)
        return sr_err(err, SR_ESHAPE, "Unflatten(dim=%lld) needs an input of at least %lld dimensions, but input %s%s has %d; hint: %s",
                      (long long)d0, rank_for(d0), sr_shp(in), sr_from(info, 0, src, sizeof src), in->ndim,
                      rank_for(d0) == in->ndim + 1 && d0 >= 1 ? "the input lacks its batch dimension; add one (shape [1, ...])"
                                                              : "use a dim within the input's rank");
    if (in->ndim - 1 + v->n > SR_MAXDIM)
        return sr_err(err, SR_ESHAPE, "result would have more than %d dimensions", SR_MAXDIM);
    /* the producer shape.c names made dim 1 of an N-d input, else the last */
    char fs[SR_ERRLEN / 4] = "";
    if (d == (in->ndim >= 3 ? 1 : in->ndim - 1))
        sr_from(info, 0, fs, sizeof fs);
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
            return sr_err(err, SR_ESHAPE,
                          "input %s%s has size %lld in dim %d, which unflattened_size=%s cannot split: "
                          "%lld is not a multiple of %lld; hint: the sizes other than -1 must multiply to a divisor of %lld",
                          sr_shp(in), fs, (long long)in->d[d], d, want,
                          (long long)in->d[d], (long long)known, (long long)in->d[d]);
        fill = in->d[d] / known;
    }
    out->ndim = 0;
    for (int i = 0; i < d; i++)
        out->d[out->ndim++] = in->d[i];
    for (int i = 0; i < v->n; i++)
        out->d[out->ndim++] = v->t[i] == -1 ? fill : v->t[i];
    for (int i = d + 1; i < in->ndim; i++)
        out->d[out->ndim++] = in->d[i];
    /* after a mismatch the declared sizes are the best guess for what follows */
    info->out_known = 1;
    info->batch_dim0 = d > 0;
    if (neg < 0 && known != in->d[d]) {
        char sug[160], hint[320];
        if (suggest_sizes(v, in->d[d], sug, sizeof sug))
            snprintf(hint, sizeof hint, "the sizes must multiply to %lld, e.g. %s; or write -1 for one of them to infer it",
                     (long long)in->d[d], sug);
        else
            snprintf(hint, sizeof hint, "the sizes must multiply to %lld; or write -1 for one of them to infer it",
                     (long long)in->d[d]);
        return sr_err(err, SR_ESHAPE,
                      "input %s%s has size %lld in dim %d, but unflattened_size=%s multiplies to %lld; hint: %s",
                      sr_shp(in), fs, (long long)in->d[d], d, want, (long long)known, hint);
    }
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

/* ---- rows ----------------------------------------------------------------- */

static const sr_argdef a_flatten[] = {
    {"start_dim", T_I, "1", NULL, 0},
    {"end_dim", T_I, "-1", NULL, 0},
};
static const sr_argdef a_unflatten[] = {
    {"dim", T_I, NULL, NULL, 0},
    {"unflattened_size", T_T, NULL, NULL, 0},
};
static const sr_argdef a_dropout[] = {
    {"p", T_F, "0.5", NULL, 0},
    {"inplace", T_B, "False", NULL, 0},
};

SR_ROW(Flatten, .summary = "flattens dims start_dim..end_dim into one", SR_ARGS(a_flatten),
       .repr = "start_dim=, end_dim=", .shape = sr_flatten_shape, .forward = sr_view_forward);
SR_ROW(Unflatten, .summary = "splits dim into unflattened_size", SR_ARGS(a_unflatten),
       .repr = "dim=, unflattened_size=", .validate = sr_unflatten_validate, .shape = sr_unflatten_shape,
       .forward = sr_view_forward);
SR_ROW(Identity, .summary = "passes its input through (any arguments are ignored)", .nargs = -1, .repr = "",
       .shape = sr_same_shape, .forward = sr_view_forward);
SR_ROW(Dropout, .summary = "zeroes elements with probability p in training, scales by 1/(1-p)",
       SR_ARGS(a_dropout), .repr = "p=, inplace=", .flags = SR_LF_RANDOM, .validate = sr_dropout_validate,
       .shape = sr_same_shape, .forward = sr_dropout_forward);
