/* activation.c - elementwise activations and (log-)softmax. */
#include "layers.h"

#include <math.h>
#include <stdio.h>

SR_SHAPE_FN(sr_same_shape)
{
    (void)L;
    (void)err;
    *out = *in;
    info->out_known = 1;
    info->batch_dim0 = in->ndim >= 1; /* elementwise: any leading dim chunks */
    return SR_OK;
}

/* Comparisons are written so that NaN propagates, as torch.clamp does. */
#define MAP(fn, expr)                                                     \
    SR_FORWARD_FN(fn)                                                     \
    {                                                                     \
        (void)L;                                                          \
        (void)ctx;                                                        \
        (void)err;                                                        \
        int64_t n = sr_shape_numel(&in->shape);                           \
        const float *X = sr_f32(in);                                      \
        float *Y = sr_f32(out);                                           \
        for (int64_t i = 0; i < n; i++) {                                 \
            float x = X[i];                                               \
            Y[i] = (expr);                                                \
        }                                                                 \
        return SR_OK;                                                     \
    }

MAP(sr_relu_forward, x < 0.0f ? 0.0f : x)
MAP(sr_relu6_forward, x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x))
MAP(sr_tanh_forward, tanhf(x))
MAP(sr_sigmoid_forward, 1.0f / (1.0f + expf(-x)))
MAP(sr_silu_forward, x / (1.0f + expf(-x)))

SR_FORWARD_FN(sr_leakyrelu_forward)
{
    (void)ctx;
    (void)err;
    int64_t n = sr_shape_numel(&in->shape);
    const float *X = sr_f32(in);
    float *Y = sr_f32(out), s = (float)sr_argf(L, LEAKY_SLOPE);
    for (int64_t i = 0; i < n; i++)
        Y[i] = X[i] > 0.0f ? X[i] : X[i] * s;
    return SR_OK;
}

SR_FORWARD_FN(sr_elu_forward)
{
    (void)ctx;
    (void)err;
    int64_t n = sr_shape_numel(&in->shape);
    const float *X = sr_f32(in);
    float *Y = sr_f32(out), a = (float)sr_argf(L, ELU_ALPHA);
    for (int64_t i = 0; i < n; i++)
        Y[i] = X[i] > 0.0f ? X[i] : a * expm1f(X[i]);
    return SR_OK;
}

SR_FORWARD_FN(sr_gelu_forward)
{
    (void)ctx;
    (void)err;
    int64_t n = sr_shape_numel(&in->shape);
    const float *X = sr_f32(in);
    float *Y = sr_f32(out);
    if (L->arg[GELU_APPROX].s[0] == 't') {
        const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
        for (int64_t i = 0; i < n; i++) {
            float x = X[i];
            Y[i] = 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
        }
    } else {
        for (int64_t i = 0; i < n; i++)
            Y[i] = 0.5f * X[i] * (1.0f + erff(X[i] * 0.7071067811865476f));
    }
    return SR_OK;
}

SR_FORWARD_FN(sr_softplus_forward)
{
    (void)ctx;
    (void)err;
    int64_t n = sr_shape_numel(&in->shape);
    const float *X = sr_f32(in);
    float *Y = sr_f32(out);
    float beta = (float)sr_argf(L, SOFTPLUS_BETA), th = (float)sr_argf(L, SOFTPLUS_THRESHOLD);
    for (int64_t i = 0; i < n; i++) {
        float bx = X[i] * beta;
        Y[i] = bx > th ? X[i] : log1pf(expf(bx)) / beta;
    }
    return SR_OK;
}

SR_VALIDATE_FN(sr_hardtanh_validate)
{
    if (sr_argf(L, HARDTANH_MAX) <= sr_argf(L, HARDTANH_MIN))
        return sr_err(err, SR_EUSAGE, "max_val (%g) must be greater than min_val (%g)",
                      sr_argf(L, HARDTANH_MAX), sr_argf(L, HARDTANH_MIN));
    return SR_OK;
}

SR_FORWARD_FN(sr_hardtanh_forward)
{
    (void)ctx;
    (void)err;
    int64_t n = sr_shape_numel(&in->shape);
    const float *X = sr_f32(in);
    float *Y = sr_f32(out), lo = (float)sr_argf(L, HARDTANH_MIN), hi = (float)sr_argf(L, HARDTANH_MAX);
    for (int64_t i = 0; i < n; i++)
        Y[i] = X[i] < lo ? lo : (X[i] > hi ? hi : X[i]);
    return SR_OK;
}

SR_SHAPE_FN(sr_softmax_shape)
{
    int64_t dim = sr_argi(L, SOFTMAX_DIM);
    int nd = in->ndim ? in->ndim : 1; /* a 0-d tensor takes dim 0 or -1 */
    *out = *in;
    info->out_known = 1;
    if (sr_norm_dim(dim, nd) < 0) {
        /* dim=1 on a vector: a model built for batches fed one sample */
        int unbatched = in->ndim == 1 && dim == 1;
        return sr_err(err, SR_ESHAPE, "%s(dim=%lld) needs an input of at least %lld dimensions, but input %s has %d; "
                      "hint: %s%s%d, %d]",
                      L->type->name, (long long)dim, (long long)(dim >= 0 ? dim + 1 : -dim), sr_shp(in), in->ndim,
                      unbatched ? "the input lacks its batch dimension; add one (shape [1, ...])" : "",
                      unbatched ? ", or use a dim in [" : "use a dim in [", -nd, nd - 1);
    }
    info->batch_dim0 = in->ndim >= 2 && sr_norm_dim(dim, nd) != 0;
    return SR_OK;
}

static void softmax(const sr_layer *L, const sr_tensor *in, sr_tensor *out, int logsm)
{
    const sr_shape *s = &in->shape;
    int nd = s->ndim ? s->ndim : 1;
    int d = sr_norm_dim(sr_argi(L, SOFTMAX_DIM), nd);
    int64_t outer = s->ndim ? sr_prod(s, 0, d) : 1, len = s->ndim ? s->d[d] : 1;
    int64_t inner = s->ndim ? sr_prod(s, d + 1, s->ndim) : 1;
    const float *X = sr_f32(in);
    float *Y = sr_f32(out);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            const float *x = X + o * len * inner + i;
            float *y = Y + o * len * inner + i;
            float mx = -INFINITY;
            for (int64_t k = 0; k < len; k++)
                mx = x[k * inner] > mx ? x[k * inner] : mx;
            double sum = 0;
            for (int64_t k = 0; k < len; k++)
                sum += expf(x[k * inner] - mx);
            if (logsm) {
                float lse = (float)log(sum);
                for (int64_t k = 0; k < len; k++)
                    y[k * inner] = x[k * inner] - mx - lse;
            } else {
                float inv = (float)(1.0 / sum);
                for (int64_t k = 0; k < len; k++)
                    y[k * inner] = expf(x[k * inner] - mx) * inv;
            }
        }
    }
}

SR_FORWARD_FN(sr_softmax_forward)
{
    (void)ctx;
    (void)err;
    softmax(L, in, out, 0);
    return SR_OK;
}

SR_FORWARD_FN(sr_logsoftmax_forward)
{
    (void)ctx;
    (void)err;
    softmax(L, in, out, 1);
    return SR_OK;
}
