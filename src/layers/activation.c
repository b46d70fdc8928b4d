/* activation.c - elementwise activations and (log-)softmax. */
#include "layers.h"
#include "vmath.h"

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

SR_APPLY_VEC(sr_relu_apply)
{
    (void)L;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v < 0.0f ? 0.0f : v;
    }
}

SR_APPLY_VEC(sr_relu6_apply)
{
    (void)L;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        v = v < 0.0f ? 0.0f : v;
        y[i] = v > 6.0f ? 6.0f : v;
    }
}

SR_APPLY_VEC(sr_leakyrelu_apply)
{
    float s = (float)sr_argf(L, LEAKY_SLOPE);
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v > 0.0f ? v : v * s;
    }
}

SR_APPLY_VEC(sr_hardtanh_apply)
{
    float lo = (float)sr_argf(L, HARDTANH_MIN), hi = (float)sr_argf(L, HARDTANH_MAX);
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        v = v < lo ? lo : v;
        y[i] = v > hi ? hi : v;
    }
}

/* The transcendental ones on vmath.h's branch-free exp/expm1/tanh (within
 * ~2 ulp of libm's), so they vectorise at every ISA level with the same
 * bits, instead of calling libm once per element. */
SR_APPLY_VEC(sr_tanh_apply)
{
    (void)L;
    for (size_t i = 0; i < n; i++)
        y[i] = sr_tanh_f(x[i]);
}

SR_APPLY_VEC(sr_sigmoid_apply)
{
    (void)L;
    for (size_t i = 0; i < n; i++)
        y[i] = 1.0f / (1.0f + sr_exp_f(-x[i]));
}

SR_APPLY_VEC(sr_silu_apply)
{
    (void)L;
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] / (1.0f + sr_exp_f(-x[i]));
}

SR_APPLY_VEC(sr_elu_apply)
{
    float a = (float)sr_argf(L, ELU_ALPHA);
    for (size_t i = 0; i < n; i++) {
        float v = x[i], e = a * sr_expm1_f(v);
        y[i] = v > 0.0f ? v : e;
    }
}

/* GELU, ATen's formulas, vectorised: erf and tanh from vmath.h (erf within
 * ~1 ulp of libm's; see test_layers.c's sweep). */
#ifndef SR_VEC_VOID
#define SR_VEC_VOID(name, params, args) SR_KERNEL void name params
#endif
static SR_VEC_VOID(gelu_erf_rows, (const float *x, float *y, size_t n), (x, y, n))
{
    for (size_t i = 0; i < n; i++)
        y[i] = 0.5f * x[i] * (1.0f + sr_erf_f(x[i] * 0.7071067811865476f));
}

static SR_VEC_VOID(gelu_tanh_rows, (const float *x, float *y, size_t n), (x, y, n))
{
    const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
    for (size_t i = 0; i < n; i++) {
        float v = x[i], cube = v * v * v;
        y[i] = 0.5f * v * (1.0f + sr_tanh_f(k * (v + 0.044715f * cube)));
    }
}

SR_APPLY_FN(sr_gelu_apply)
{
    if (L->arg[GELU_APPROX].s[0] == 't')
        gelu_tanh_rows(x, y, n);
    else
        gelu_erf_rows(x, y, n);
}

/* Softplus, ATen's formula (x where beta x > threshold, else
 * log1p(e^(beta x)) / beta), vectorised: log1p(e^b) = max(b, 0) +
 * log1p(e^-|b|), whose log1p argument lies in [0, 1] (vmath.h). */
static SR_VEC_VOID(softplus_rows, (const float *x, float *y, size_t n, float beta, float th), (x, y, n, beta, th))
{
    for (size_t i = 0; i < n; i++) {
        float bx = x[i] * beta;
        float v = (bx > 0.0f ? bx : 0.0f) + sr_log1p01_f(sr_exp_f(-fabsf(bx)));
        y[i] = bx > th ? x[i] : v / beta;
    }
}

SR_APPLY_FN(sr_softplus_apply)
{
    softplus_rows(x, y, n, (float)sr_argf(L, SOFTPLUS_BETA), (float)sr_argf(L, SOFTPLUS_THRESHOLD));
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

/* One contiguous row (softmax over the last dim, the usual case): exp from
 * vmath.h, the sum in 8 double lanes, so the loops vectorise; the order
 * depends on the row alone. */
static SR_VEC_VOID(softmax_row, (const float *x, float *y, int64_t len, int logsm), (x, y, len, logsm))
{
    float mx = -INFINITY;
    for (int64_t k = 0; k < len; k++)
        mx = x[k] > mx ? x[k] : mx;
    double a[8] = {0}, sum = 0;
    int64_t k = 0;
    for (; k + 8 <= len; k += 8)
        for (int l = 0; l < 8; l++)
            a[l] += (double)sr_exp_f(x[k + l] - mx);
    for (int l = 0; l < 8; l++)
        sum += a[l];
    for (; k < len; k++)
        sum += (double)sr_exp_f(x[k] - mx);
    if (logsm) {
        float lse = (float)log(sum);
        for (k = 0; k < len; k++)
            y[k] = x[k] - mx - lse;
    } else {
        float inv = (float)(1.0 / sum);
        for (k = 0; k < len; k++)
            y[k] = sr_exp_f(x[k] - mx) * inv;
    }
}

/* Softmax over a dimension that is not the last (Softmax(dim=1) on
 * [N, C, H, W]): nc neighbouring columns x[k * inner + c], k < len, at
 * once, so each step over k is a contiguous load of nc floats.  Each
 * column's max, and its double sum of exp in k order, depend on that
 * column alone. */
#define SOFTMAX_COLS 64
static SR_VEC_VOID(softmax_cols, (const float *x, float *y, int64_t len, int64_t inner, int64_t nc, int logsm),
                   (x, y, len, inner, nc, logsm))
{
    float mx[SOFTMAX_COLS];
    double sum[SOFTMAX_COLS];
    for (int64_t c = 0; c < nc; c++)
        mx[c] = -INFINITY, sum[c] = 0;
    for (int64_t k = 0; k < len; k++)
        for (int64_t c = 0; c < nc; c++)
            mx[c] = x[k * inner + c] > mx[c] ? x[k * inner + c] : mx[c];
    for (int64_t k = 0; k < len; k++) {
        float e[SOFTMAX_COLS]; /* two loops: each of them vectorises */
        for (int64_t c = 0; c < nc; c++)
            e[c] = sr_exp_f(x[k * inner + c] - mx[c]);
        for (int64_t c = 0; c < nc; c++)
            sum[c] += (double)e[c];
    }
    if (logsm) {
        float lse[SOFTMAX_COLS];
        for (int64_t c = 0; c < nc; c++)
            lse[c] = (float)log(sum[c]);
        for (int64_t k = 0; k < len; k++)
            for (int64_t c = 0; c < nc; c++)
                y[k * inner + c] = x[k * inner + c] - mx[c] - lse[c];
    } else {
        float inv[SOFTMAX_COLS];
        for (int64_t c = 0; c < nc; c++)
            inv[c] = (float)(1.0 / sum[c]);
        for (int64_t k = 0; k < len; k++)
            for (int64_t c = 0; c < nc; c++)
                y[k * inner + c] = sr_exp_f(x[k * inner + c] - mx[c]) * inv[c];
    }
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
    if (inner == 1) {
        for (int64_t o = 0; o < outer; o++)
            softmax_row(X + o * len, Y + o * len, len, logsm);
        return;
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i += SOFTMAX_COLS)
            softmax_cols(X + o * len * inner + i, Y + o * len * inner + i, len, inner,
                         inner - i < SOFTMAX_COLS ? inner - i : SOFTMAX_COLS, logsm);
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

/* ---- rows ----------------------------------------------------------------- */

static const sr_argdef a_inplace[] = {{"inplace", T_B, "False", NULL, 0}};
static const sr_argdef a_leaky[] = {
    {"negative_slope", T_F, "0.01", NULL, 0},
    {"inplace", T_B, "False", NULL, 0},
};
static const sr_argdef a_elu[] = {
    {"alpha", T_F, "1.0", NULL, 0},
    {"inplace", T_B, "False", NULL, 0},
};
static const sr_argdef a_gelu[] = {{"approximate", T_S, "'none'", "none|tanh", 0}};
static const sr_argdef a_softplus[] = {
    {"beta", T_F, "1", NULL, 0},
    {"threshold", T_F, "20", NULL, 0},
};
static const sr_argdef a_hardtanh[] = {
    {"min_val", T_F, "-1.0", NULL, 0},
    {"max_val", T_F, "1.0", NULL, 0},
    {"inplace", T_B, "False", NULL, 0},
};
/* PyTorch defaults dim to None and guesses, with a deprecation warning; the
 * contract requires it. */
static const sr_argdef a_softmax[] = {{"dim", T_I, NULL, NULL, 0}};

/* An elementwise layer: y = apply(x), fusable into the producer before it. */
#define ELEMENTWISE(nm, sum, fmt, ...) \
    SR_ROW(nm, .summary = sum, .repr = fmt, .shape = sr_same_shape, .forward = sr_elementwise_forward, __VA_ARGS__)

ELEMENTWISE(ReLU, "max(0, x)", "inplace?", SR_ARGS(a_inplace), .apply = sr_relu_apply);
ELEMENTWISE(ReLU6, "min(max(0, x), 6)", "inplace?", SR_ARGS(a_inplace), .apply = sr_relu6_apply);
ELEMENTWISE(LeakyReLU, "x if x >= 0 else negative_slope * x", "negative_slope=, inplace?", SR_ARGS(a_leaky),
            .apply = sr_leakyrelu_apply);
ELEMENTWISE(ELU, "x if x > 0 else alpha * (exp(x) - 1)", "alpha=, inplace?", SR_ARGS(a_elu), .apply = sr_elu_apply);
ELEMENTWISE(GELU, "x * Phi(x), exact or tanh-approximated", "approximate=", SR_ARGS(a_gelu), .apply = sr_gelu_apply);
ELEMENTWISE(SiLU, "x * sigmoid(x)", "inplace?", SR_ARGS(a_inplace), .apply = sr_silu_apply);
ELEMENTWISE(Tanh, "tanh(x)", "", .apply = sr_tanh_apply);
ELEMENTWISE(Sigmoid, "1 / (1 + exp(-x))", "", .apply = sr_sigmoid_apply);
ELEMENTWISE(Softplus, "log(1 + exp(beta x)) / beta, linear above threshold", "beta=, threshold=",
            SR_ARGS(a_softplus), .apply = sr_softplus_apply);
ELEMENTWISE(Hardtanh, "clamp(x, min_val, max_val)", "min_val=, max_val=, inplace?", SR_ARGS(a_hardtanh),
            .validate = sr_hardtanh_validate, .apply = sr_hardtanh_apply);
SR_ROW(Softmax, .summary = "exp(x) / sum(exp(x)) along dim", SR_ARGS(a_softmax), .repr = "dim=",
       .shape = sr_softmax_shape, .forward = sr_softmax_forward);
SR_ROW(LogSoftmax, .summary = "log(softmax(x)) along dim", SR_ARGS(a_softmax), .repr = "dim=",
       .shape = sr_softmax_shape, .forward = sr_logsoftmax_forward);
