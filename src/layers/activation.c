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

/* Elementwise layers are apply hooks (x == y allowed): their forward is
 * one apply over the tensor, and a producer (Linear, Conv) can apply them to
 * its output as it writes it.  The cheap ones are branch-free loops that
 * vectorise (SR_KERNEL); comparisons are written so that NaN propagates, as
 * torch.clamp does. */
SR_FORWARD_FN(sr_elementwise_forward)
{
    (void)ctx;
    (void)err;
    L->type->apply(L, sr_f32(in), sr_f32(out), (size_t)sr_shape_numel(&in->shape));
    return SR_OK;
}

SR_KERNEL SR_APPLY_FN(sr_relu_apply)
{
    (void)L;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v < 0.0f ? 0.0f : v;
    }
}

SR_KERNEL SR_APPLY_FN(sr_relu6_apply)
{
    (void)L;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        v = v < 0.0f ? 0.0f : v;
        y[i] = v > 6.0f ? 6.0f : v;
    }
}

SR_KERNEL SR_APPLY_FN(sr_leakyrelu_apply)
{
    float s = (float)sr_argf(L, LEAKY_SLOPE);
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v > 0.0f ? v : v * s;
    }
}

SR_KERNEL SR_APPLY_FN(sr_hardtanh_apply)
{
    float lo = (float)sr_argf(L, HARDTANH_MIN), hi = (float)sr_argf(L, HARDTANH_MAX);
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        v = v < lo ? lo : v;
        y[i] = v > hi ? hi : v;
    }
}

SR_APPLY_FN(sr_tanh_apply)
{
    (void)L;
    for (size_t i = 0; i < n; i++)
        y[i] = tanhf(x[i]);
}

SR_APPLY_FN(sr_sigmoid_apply)
{
    (void)L;
    for (size_t i = 0; i < n; i++)
        y[i] = 1.0f / (1.0f + expf(-x[i]));
}

SR_APPLY_FN(sr_silu_apply)
{
    (void)L;
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] / (1.0f + expf(-x[i]));
}

SR_APPLY_FN(sr_elu_apply)
{
    float a = (float)sr_argf(L, ELU_ALPHA);
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : a * expm1f(x[i]);
}

SR_APPLY_FN(sr_gelu_apply)
{
    if (L->arg[GELU_APPROX].s[0] == 't') {
        const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            y[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
        }
    } else {
        for (size_t i = 0; i < n; i++)
            y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.7071067811865476f));
    }
}

SR_APPLY_FN(sr_softplus_apply)
{
    float beta = (float)sr_argf(L, SOFTPLUS_BETA), th = (float)sr_argf(L, SOFTPLUS_THRESHOLD);
    for (size_t i = 0; i < n; i++) {
        float bx = x[i] * beta;
        y[i] = bx > th ? x[i] : log1pf(expf(bx)) / beta;
    }
}

SR_VALIDATE_FN(sr_hardtanh_validate)
{
    if (sr_argf(L, HARDTANH_MAX) <= sr_argf(L, HARDTANH_MIN))
        return sr_err(err, SR_EUSAGE, "max_val (%g) must be greater than min_val (%g)",
                      sr_argf(L, HARDTANH_MAX), sr_argf(L, HARDTANH_MIN));
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
