/*
 * activation2.c - the rest of torch.nn's activations: PReLU (a parameter),
 * the elementwise ones (Hardswish, Hardsigmoid, SELU, CELU, Mish,
 * LogSigmoid, Softsign, Threshold, Hardshrink, Softshrink, Tanhshrink),
 * RReLU (random slopes under --train), Softmin, Softmax2d and GLU.
 *
 * Each formula is ATen's CPU kernel's (PyTorch 1.13), in float, in the same
 * order of operations; the transcendental parts come from vmath.h, so the
 * loops vectorise and every ISA level gives the same bits.
 */
#include "layers.h"
#include "vmath.h"
#include "../init.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Vectorised loops: the AVX-512 / AVX2 / baseline builds (layers.h). */
#ifndef SR_APPLY_VEC
#define SR_APPLY_VEC(name) SR_KERNEL SR_APPLY_FN(name)
#endif
#ifndef SR_VEC_VOID
#define SR_VEC_VOID(name, params, args) SR_KERNEL void name params
#endif

enum { PRELU_NUM, PRELU_INIT };
enum { CELU_ALPHA };
enum { THRESH_THRESHOLD, THRESH_VALUE };
enum { SHRINK_LAMBD };
enum { RRELU_LOWER, RRELU_UPPER };
enum { GLU_DIM };

/* SELU's constants (ATen's, from the paper) */
#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946

/* ---- elementwise ------------------------------------------------------- */

/* x * min(max(x + 3, 0), 6) / 6: a division, as ATen (not * 1/6) */
static SR_APPLY_VEC(hardswish_apply)
{
    (void)L;
    for (size_t i = 0; i < n; i++) {
        float v = x[i], t = v + 3.0f;
        t = t < 0.0f ? 0.0f : t;
        t = t > 6.0f ? 6.0f : t;
        y[i] = v * t / 6.0f;
    }
}

static SR_APPLY_VEC(hardsigmoid_apply)
{
    (void)L;
    for (size_t i = 0; i < n; i++) {
        float t = x[i] + 3.0f;
        t = t < 0.0f ? 0.0f : t;
        t = t > 6.0f ? 6.0f : t;
        y[i] = t / 6.0f;
    }
}

/* ATen's elu kernel with SELU's alpha and scale: negcoef = alpha * scale
 * rounded to float, input_scale 1 */
static SR_APPLY_VEC(selu_apply)
{
    (void)L;
    const float neg = (float)SELU_ALPHA * (float)SELU_SCALE, pos = (float)SELU_SCALE;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v <= 0.0f ? sr_expm1_f(v) * neg : v * pos;
    }
}

/* elu(x, alpha, scale=1, input_scale=1/alpha) */
static SR_APPLY_VEC(celu_apply)
{
    double alpha = sr_argf(L, CELU_ALPHA);
    const float neg = (float)alpha, in = (float)(1.0 / alpha);
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v <= 0.0f ? sr_expm1_f(v * in) * neg : v;
    }
}

/* x * tanh(log1p(e^x)) = x * n / (n + 2), n = e^x (e^x + 2): no tanh and
 * no log; above 20 tanh(softplus(x)) is 1 in float. */
static SR_APPLY_VEC(mish_apply)
{
    (void)L;
    for (size_t i = 0; i < n; i++) {
        float v = x[i], e = sr_exp_f(v), m = e * (e + 2.0f);
        y[i] = v > 20.0f ? v : v * (m / (m + 2.0f));
    }
}

/* min(x, 0) - log1p(exp(-|x|)), ATen's stable form */
static SR_APPLY_VEC(logsigmoid_apply)
{
    (void)L;
    for (size_t i = 0; i < n; i++) {
        float v = x[i], mn = 0.0f < v ? 0.0f : v;
        y[i] = mn - sr_log1p01_f(sr_exp_f(-fabsf(v)));
    }
}

static SR_APPLY_VEC(softsign_apply)
{
    (void)L;
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] / (fabsf(x[i]) + 1.0f);
}

static SR_APPLY_VEC(tanhshrink_apply)
{
    (void)L;
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] - sr_tanh_f(x[i]);
}

static SR_APPLY_VEC(threshold_apply)
{
    const float th = (float)sr_argf(L, THRESH_THRESHOLD), val = (float)sr_argf(L, THRESH_VALUE);
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] <= th ? val : x[i];
}

static SR_APPLY_VEC(hardshrink_apply)
{
    const float l = (float)sr_argf(L, SHRINK_LAMBD), nl = -l;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = ((v >= nl) & (v <= l)) ? 0.0f : v;
    }
}

/* NaN gives 0, as ATen's kernel does */
static SR_APPLY_VEC(softshrink_apply)
{
    const float l = (float)sr_argf(L, SHRINK_LAMBD), nl = -l;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float r = v < nl ? v + l : 0.0f;
        y[i] = v > l ? v - l : r;
    }
}

static SR_VALIDATE_FN(celu_validate)
{
    if (sr_argf(L, CELU_ALPHA) == 0)
        return sr_err(err, SR_EUSAGE, "alpha cannot be 0 for CELU (it divides by alpha); hint: use a non-zero alpha such as 1.0");
    return SR_OK;
}

static SR_VALIDATE_FN(softshrink_validate)
{
    if (!(sr_argf(L, SHRINK_LAMBD) >= 0))
        return sr_err(err, SR_EUSAGE, "lambda must be greater or equal to 0, but found to be %g; hint: lambd: %g",
                      sr_argf(L, SHRINK_LAMBD), fabs(sr_argf(L, SHRINK_LAMBD)));
    return SR_OK;
}

/* ---- PReLU ----------------------------------------------------------------- */

static SR_VALIDATE_FN(prelu_validate)
{
    if (sr_argi(L, PRELU_NUM) < 0)
        return sr_err(err, SR_EUSAGE, "num_parameters must be non-negative, but got %lld; hint: 1 (one shared slope) "
                      "or the channel count", (long long)sr_argi(L, PRELU_NUM));
    return SR_OK;
}

/* The channel count PyTorch checks num_parameters against: dim 1, or 1
 * for a 1-D input. */
static SR_SHAPE_FN(prelu_shape)
{
    int64_t np = sr_argi(L, PRELU_NUM);
    char src[SR_ERRLEN / 4];
    *out = *in;
    info->out_known = 1;
    info->batch_dim0 = in->ndim >= 1;
    if (np == 1)
        return SR_OK;
    if (in->ndim == 0)
        return sr_err(err, SR_ESHAPE, "PReLU(num_parameters=%lld) has one slope per channel, but the input is a 0-d "
                      "tensor (PyTorch: \"Not allow zero-dim input tensor\"); hint: num_parameters=1",
                      (long long)np);
    if (in->ndim == 1)
        return sr_err(err, SR_ESHAPE, "PReLU(num_parameters=%lld) has one slope per channel (dim 1), but input %s%s is "
                      "1-D, which PyTorch counts as 1 channel; hint: %s",
                      (long long)np, sr_shp(in), sr_from(info, 0, src, sizeof src),
                      in->d[0] == np ? "the input lacks its batch dimension; add one (shape [1, C])"
                                     : "num_parameters=1, or give it (N, C, ...) input");
    if (in->d[1] != np)
        return sr_err(err, SR_ESHAPE, "PReLU(num_parameters=%lld) expects %lld channels in dim 1, but input %s%s has "
                      "%lld; hint: num_parameters should be %lld (or 1 for one shared slope)",
                      (long long)np, (long long)np, sr_shp(in), sr_from(info, 1, src, sizeof src),
                      (long long)in->d[1], (long long)in->d[1]);
    return SR_OK;
}

static SR_PARAMS_FN(prelu_params)
{
    int64_t np = sr_argi(L, PRELU_NUM);
    p[0] = (sr_paramdecl){.name = "weight", .shape = sr_shape_make(1, &np),
                          .init = {.kind = SR_INIT_CONSTANT, .a = sr_argf(L, PRELU_INIT)}, .zero_row = -1};
    return 1;
}

/* x > 0 ? x : w x, one slope for the row */
static SR_VEC_VOID(prelu_row, (const float *x, float *y, size_t n, float w), (x, y, n, w))
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v > 0.0f ? v : w * v;
    }
}

/* the same with a slope per element (a [N, C] input's row) */
static SR_VEC_VOID(prelu_rowc, (const float *x, float *y, size_t n, const float *w), (x, y, n, w))
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v > 0.0f ? v : w[i] * v;
    }
}

static SR_FORWARD_FN(prelu_forward)
{
    (void)ctx;
    (void)err;
    const sr_shape *s = &in->shape;
    const float *X = sr_f32(in), *w = sr_f32(&L->param[0]);
    float *Y = sr_f32(out);
    int64_t n = sr_shape_numel(s);
    if (sr_argi(L, PRELU_NUM) == 1 || s->ndim < 2) {
        prelu_row(X, Y, (size_t)n, w[0]);
        return SR_OK;
    }
    int64_t C = s->d[1], inner = sr_prod(s, 2, s->ndim), outer = s->d[0];
    for (int64_t o = 0; o < outer; o++) {
        if (inner == 1) {
            prelu_rowc(X + o * C, Y + o * C, (size_t)C, w);
            continue;
        }
        for (int64_t c = 0; c < C; c++) {
            int64_t off = (o * C + c) * inner;
            prelu_row(X + off, Y + off, (size_t)inner, w[c]);
        }
    }
    return SR_OK;
}

/* ---- RReLU ----------------------------------------------------------------- */

static SR_VALIDATE_FN(rrelu_validate)
{
    double lo = sr_argf(L, RRELU_LOWER), hi = sr_argf(L, RRELU_UPPER);
    if (!(lo <= hi))
        return sr_err(err, SR_EUSAGE, "Lower bound should be less than or equal to the upper bound (lower=%g, upper=%g); "
                      "hint: swap them", lo, hi);
    return SR_OK;
}

/* eval: leaky_relu with the mean slope */
static SR_VEC_VOID(leaky_rows, (const float *x, float *y, size_t n, float s), (x, y, n, s))
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v > 0.0f ? v : v * s;
    }
}

/* splitmix64's finaliser, as sr_hash64 (init.c), inlined */
static inline uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* --train: each element x <= 0 gets its own slope uniform in [lower, upper]
 * (ATen: x * r, r drawn in double and rounded to float), a hash of (seed,
 * layer, pass, element index in the record) as Dropout's masks, so chunking
 * does not change it. */
static SR_FORWARD_FN(rrelu_forward)
{
    (void)err;
    double lo = sr_argf(L, RRELU_LOWER), hi = sr_argf(L, RRELU_UPPER);
    const float *X = sr_f32(in);
    float *Y = sr_f32(out);
    int64_t n = sr_shape_numel(&in->shape);
    if (!ctx->training) {
        leaky_rows(X, Y, (size_t)n, (float)((lo + hi) / 2));
        return SR_OK;
    }
    int64_t per = in->shape.ndim && in->shape.d[0] ? n / in->shape.d[0] : 0;
    uint64_t base = sr_hash64(ctx->seed ^ ctx->layer_key) ^ ctx->pass_key;
    uint64_t off = (uint64_t)(ctx->sample0 * per);
    double span = hi - lo;
    for (int64_t i = 0; i < n; i++) {
        float v = X[i];
        if (v <= 0.0f) {
            double u = (double)(mix64(base + off + (uint64_t)i) >> 11) * (1.0 / 9007199254740992.0);
            Y[i] = v * (float)(u * span + lo);
        } else {
            Y[i] = v;
        }
    }
    return SR_OK;
}

/* ---- Softmin, Softmax2d ---------------------------------------------------- */

/* softmin(x) = softmax(-x), as F.softmin computes it: -x into the workspace,
 * then Softmax's kernel (dim is argument 0 of both rows). */
static SR_WORKSPACE_FN(softmin_workspace)
{
    (void)L;
    (void)out;
    int64_t n = sr_shape_numel(in);
    return (size_t)(n > 0 ? n : 1);
}

static SR_VEC_VOID(neg_rows, (const float *x, float *y, size_t n), (x, y, n))
{
    for (size_t i = 0; i < n; i++)
        y[i] = -x[i];
}

static SR_FORWARD_FN(softmin_forward)
{
    sr_tensor neg = *in;
    neg.dtype = SR_F32;
    neg.data = ctx->work;
    neg_rows(sr_f32(in), ctx->work, (size_t)sr_shape_numel(&in->shape));
    return sr_softmax_forward(L, &neg, out, ctx, err);
}

static SR_SHAPE_FN(softmax2d_shape)
{
    (void)L;
    char src[SR_ERRLEN / 4];
    *out = *in;
    info->out_known = 1;
    info->batch_dim0 = in->ndim == 4;
    if (in->ndim != 3 && in->ndim != 4)
        return sr_err(err, SR_ESHAPE, "Softmax2d requires a 3D or 4D tensor as input (softmax over the channels, dim -3), "
                      "but input %s%s is %d-D; hint: %s",
                      sr_shp(in), sr_from(info, 0, src, sizeof src), in->ndim,
                      in->ndim < 3 ? "use Softmax with a dim for vectors and matrices"
                                   : "give it (N, C, H, W) or (C, H, W) input");
    return SR_OK;
}

/* Softmax's kernel with dim = -3 */
static SR_FORWARD_FN(softmax2d_forward)
{
    sr_layer tmp = *L;
    memset(&tmp.arg[SOFTMAX_DIM], 0, sizeof tmp.arg[SOFTMAX_DIM]);
    tmp.arg[SOFTMAX_DIM].kind = SR_AV_INT;
    tmp.arg[SOFTMAX_DIM].i = -3;
    tmp.arg[SOFTMAX_DIM].f = -3;
    return sr_softmax_forward(&tmp, in, out, ctx, err);
}

/* ---- GLU ---------------------------------------------------------------------- */

static SR_SHAPE_FN(glu_shape)
{
    int64_t dim = sr_argi(L, GLU_DIM);
    char src[SR_ERRLEN / 4];
    *out = *in;
    info->out_known = 0;
    if (in->ndim == 0)
        return sr_err(err, SR_ESHAPE, "glu does not support scalars because halving size must be even; hint: give GLU "
                      "an input with an even-sized dim %lld", (long long)dim);
    int d = sr_norm_dim(dim, in->ndim);
    if (d < 0)
        return sr_err(err, SR_ESHAPE, "GLU(dim=%lld) needs an input of at least %lld dimensions, but input %s%s has %d; "
                      "hint: %s",
                      (long long)dim, (long long)(dim >= 0 ? dim + 1 : -dim), sr_shp(in), sr_from(info, 0, src, sizeof src),
                      in->ndim,
                      in->ndim == dim ? "the input lacks its batch dimension; add one (shape [1, ...])"
                                      : "use a dim within the input's rank");
    info->batch_dim0 = d != 0;
    if (in->d[d] % 2) {
        out->d[d] = in->d[d] / 2;
        info->out_known = 1;
        return sr_err(err, SR_ESHAPE, "Halving dimension must be even, but dimension %d is size %lld (input %s%s); "
                      "hint: GLU splits dim %lld into two halves (values and gates), so the layer before should give "
                      "it an even size such as %lld",
                      d, (long long)in->d[d], sr_shp(in), sr_from(info, 1, src, sizeof src), (long long)dim,
                      (long long)(in->d[d] + 1));
    }
    out->d[d] = in->d[d] / 2;
    info->out_known = 1;
    return SR_OK;
}

/* a * sigmoid(b), ATen's glu kernel: a * (1 / (1 + exp(-b))) */
static SR_VEC_VOID(glu_rows, (const float *a, const float *b, float *y, size_t n), (a, b, y, n))
{
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] * (1.0f / (1.0f + sr_exp_f(-b[i])));
}

static SR_FORWARD_FN(glu_forward)
{
    (void)ctx;
    (void)err;
    const sr_shape *s = &in->shape;
    int d = sr_norm_dim(sr_argi(L, GLU_DIM), s->ndim);
    int64_t outer = sr_prod(s, 0, d), half = s->d[d] / 2, inner = sr_prod(s, d + 1, s->ndim);
    int64_t m = half * inner;
    const float *X = sr_f32(in);
    float *Y = sr_f32(out);
    for (int64_t o = 0; o < outer; o++)
        glu_rows(X + 2 * o * m, X + 2 * o * m + m, Y + o * m, (size_t)m);
    return SR_OK;
}

/* ---- rows ----------------------------------------------------------------- */

static const sr_argdef a_prelu[] = {
    {"num_parameters", T_I, "1", NULL, 0},
    {"init", T_F, "0.25", NULL, 0},
};
static const sr_argdef a_inplace[] = {{"inplace", T_B, "False", NULL, 0}};
static const sr_argdef a_celu[] = {
    {"alpha", T_F, "1.0", NULL, 0},
    {"inplace", T_B, "False", NULL, 0},
};
static const sr_argdef a_threshold[] = {
    {"threshold", T_F, NULL, NULL, 0},
    {"value", T_F, NULL, NULL, 0},
    {"inplace", T_B, "False", NULL, 0},
};
static const sr_argdef a_shrink[] = {{"lambd", T_F, "0.5", NULL, 0}};
static const sr_argdef a_rrelu[] = {
    {"lower", T_F, "0.125", NULL, 0},
    {"upper", T_F, "0.3333333333333333", NULL, 0},
    {"inplace", T_B, "False", NULL, 0},
};
/* dim required, as Softmax's */
static const sr_argdef a_softmin[] = {{"dim", T_I, NULL, NULL, 0}};
static const sr_argdef a_glu[] = {{"dim", T_I, "-1", NULL, 0}};

/* An elementwise layer: y = apply(x), fusable into the producer before it. */
#define ELEMENTWISE2(nm, sum, fmt, ...) \
    SR_ROW(nm, .summary = sum, .repr = fmt, .shape = sr_same_shape, .forward = sr_elementwise_forward, __VA_ARGS__)

SR_ROW(PReLU, .summary = "x if x >= 0 else weight[c] * x, a learned slope per channel (dim 1) or one shared",
       SR_ARGS(a_prelu), .repr = "num_parameters=", .validate = prelu_validate, .shape = prelu_shape,
       .params = prelu_params, .forward = prelu_forward);
ELEMENTWISE2(Hardswish, "x * relu6(x + 3) / 6", "", SR_ARGS(a_inplace), .apply = hardswish_apply);
ELEMENTWISE2(Hardsigmoid, "relu6(x + 3) / 6", "", SR_ARGS(a_inplace), .apply = hardsigmoid_apply);
ELEMENTWISE2(SELU, "scale * (x if x > 0 else alpha * (exp(x) - 1)), alpha 1.6733, scale 1.0507", "inplace?",
             SR_ARGS(a_inplace), .apply = selu_apply);
ELEMENTWISE2(CELU, "x if x > 0 else alpha * (exp(x / alpha) - 1)", "alpha=, inplace?", SR_ARGS(a_celu),
             .validate = celu_validate, .apply = celu_apply);
ELEMENTWISE2(Mish, "x * tanh(softplus(x))", "inplace?", SR_ARGS(a_inplace), .apply = mish_apply);
ELEMENTWISE2(LogSigmoid, "log(1 / (1 + exp(-x)))", "", .apply = logsigmoid_apply);
ELEMENTWISE2(Softsign, "x / (1 + |x|)", "", .apply = softsign_apply);
ELEMENTWISE2(Threshold, "x if x > threshold else value", "threshold=, value=, inplace?", SR_ARGS(a_threshold),
             .apply = threshold_apply);
ELEMENTWISE2(Hardshrink, "x if |x| > lambd else 0", "#lambd", SR_ARGS(a_shrink), .apply = hardshrink_apply);
ELEMENTWISE2(Softshrink, "x - lambd if x > lambd, x + lambd if x < -lambd, else 0", "#lambd", SR_ARGS(a_shrink),
             .validate = softshrink_validate, .apply = softshrink_apply);
ELEMENTWISE2(Tanhshrink, "x - tanh(x)", "", .apply = tanhshrink_apply);
SR_ROW(RReLU, .summary = "x if x >= 0 else a * x: a uniform in [lower, upper] per element in training, their mean in eval",
       SR_ARGS(a_rrelu), .repr = "lower=, upper=, inplace?", .flags = SR_LF_RANDOM, .validate = rrelu_validate,
       .shape = sr_same_shape, .forward = rrelu_forward);
SR_ROW(Softmin, .summary = "exp(-x) / sum(exp(-x)) along dim", SR_ARGS(a_softmin), .repr = "dim=",
       .shape = sr_softmax_shape, .forward = softmin_forward, .workspace = softmin_workspace);
SR_ROW(Softmax2d, .summary = "softmax over the channels (dim -3) of (N, C, H, W) or (C, H, W) input", .repr = "",
       .shape = softmax2d_shape, .forward = softmax2d_forward);
SR_ROW(GLU, .summary = "a * sigmoid(b), a and b the two halves of dim", SR_ARGS(a_glu), .repr = "dim=",
       .shape = glu_shape, .forward = glu_forward);
