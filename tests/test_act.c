/*
 * test_act.c - unit tests for the activations (activation.c,
 * activation2.c), dropout.c and the vectorised math under them (vmath.h)
 * that replaces libm calls: each layer's apply at every ISA level gives
 * the same bits, and stays within a few float32 ulps of the function
 * computed in double precision, over sweeps that cross every branch of
 * its formula; dropout's masks and RReLU's draws; the shape rules.
 *
 * The references are the mathematical functions (libm in double,
 * rounded), not seqrun's output; the golden suite checks the same layers
 * against PyTorch end to end.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cpu.h"
#include "gemm.h"
#include "layers/layers.h"
#include "layers/vmath.h"
#include "layertest.h"
#include "unit.h"

/* |y - r| in units of float32's spacing at r (denormal spacing below). */
static double ulps(float y, double r)
{
    int e;
    float rf = (float)r;
    frexp(rf == 0 ? 1e-45 : fabs(rf), &e);
    double u = ldexp(1.0, e - 24);
    if (u < ldexp(1.0, -149))
        u = ldexp(1.0, -149);
    return fabs((double)y - r) / u;
}

static int same_bits(float a, float b)
{
    uint32_t u, v;
    memcpy(&u, &a, 4);
    memcpy(&v, &b, 4);
    return u == v || (isnan(a) && isnan(b));
}

/* Softplus(beta, threshold): x where beta x > threshold, else
 * log1p(e^(beta x)) / beta (torch.nn.Softplus). */
static double softplus_ref(double x, double beta, double th)
{
    double bx = (double)(float)(x * beta); /* seqrun, like ATen, rounds beta x to float first */
    return bx > th ? x : log1p(exp(bx)) / beta;
}

static void test_softplus(void)
{
    static const double params[][2] = {{1, 20}, {2, 5}, {0.5, 3}, {-1.5, 20}};
    size_t m = 400003;
    float *x = malloc(m * sizeof *x), *y = malloc(m * sizeof *y), *y0 = malloc(m * sizeof *y0);
    if (!x || !y || !y0)
        abort();
    for (size_t i = 0; i < m; i++) /* [-110, 110]: exp's underflow, both signs, the threshold */
        x[i] = (float)(-110.0 + 220.0 * (double)i / (double)(m - 1));
    float special[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-30f, -1e-30f};
    memcpy(x, special, sizeof special);
    size_t ns = sizeof special / sizeof *special;
    for (size_t p = 0; p < sizeof params / sizeof *params; p++) {
        double beta = params[p][0], th = params[p][1];
        sr_layer L;
        layer_init(&L, "Softplus");
        set_float(&L, arg_index(&L, "beta"), beta);
        set_float(&L, arg_index(&L, "threshold"), th);
        for (int level = 0; level <= 2; level++) {
            sr_cpu_force(level);
            L.type->apply(&L, x, level ? y : y0, m);
            if (!level)
                continue;
            int same = 1;
            for (size_t i = 0; i < m; i++)
                same &= same_bits(y[i], y0[i]);
            CHECK(same, "Softplus(beta=%g, threshold=%g): ISA level %d differs from level 0", beta, th, level);
        }
        sr_cpu_force(-1);
        double worst = 0;
        float wx = 0;
        for (size_t i = ns; i < m; i++) {
            double e = ulps(y0[i], softplus_ref(x[i], beta, th));
            if (e > worst)
                worst = e, wx = x[i];
        }
        printf("Softplus(beta=%g, threshold=%g): max %.3f ulp (at %.9g)\n", beta, th, worst, wx);
        CHECK(worst <= 3.5, "Softplus(beta=%g, threshold=%g): %.3f ulp at %.9g", beta, th, worst, wx);
        /* NaN stays NaN; +inf is over any threshold for beta > 0; e^(beta x) -> 0 gives 0 */
        CHECK(isnan(y0[0]), "Softplus(NaN) = %g", y0[0]);
        if (beta > 0)
            CHECK(y0[1] == INFINITY && y0[2] == 0.0f, "Softplus(+-inf) = %g, %g", y0[1], y0[2]);
        CHECK(fabs(y0[3] - log(2.0) / beta) <= 1e-6 * fabs(log(2.0) / beta), "Softplus(0) = %.9g", y0[3]);
        sr_layer_clear(&L);
    }
    free(x);
    free(y);
    free(y0);
}

/* ---- activation2.c, dropout.c, the vectorised GELU ----------------------------- */

/* erf (vmath.h) against libm's double erf over a dense sweep of floats,
 * and GELU's apply at every ISA level against the same formula computed
 * with it here (bit for bit) and against a double reference. */
static void test_erf_gelu(void)
{
    double worst = 0, libworst = 0;
    float wx = 0;
    long n = 0;
    for (uint32_t u = 0; u <= 0x40900000u; u += 97) { /* every 97th float in [0, 4.5] */
        float x;
        memcpy(&x, &u, sizeof x);
        for (int s = 0; s < 2; s++, x = -x) {
            double r = erf((double)x), e = ulps(sr_erf_f(x), r), el = ulps(erff(x), r);
            n++;
            if (e > worst)
                worst = e, wx = x;
            libworst = el > libworst ? el : libworst;
        }
    }
    printf("erf: max %.3f ulp (at %.9g) over %ld floats in [-4.5, 4.5]; libm erff: %.3f\n", worst, wx, n, libworst);
    CHECK(worst <= 1.5, "erf: %.3f ulp at %.9g", worst, wx);
    float big[] = {4.0f, 5.0f, 10.0f, 1e30f, INFINITY};
    for (int i = 0; i < 5; i++)
        CHECK(sr_erf_f(big[i]) == 1.0f && sr_erf_f(-big[i]) == -1.0f, "erf(+-%g) = %g", big[i], sr_erf_f(big[i]));
    CHECK(isnan(sr_erf_f(NAN)) && sr_erf_f(0.0f) == 0.0f && signbit(sr_erf_f(-0.0f)), "erf of NaN and zeros");

    sr_layer L;
    layer_init(&L, "GELU");
    size_t m = 200003;
    float *x = malloc(m * sizeof *x), *y = malloc(m * sizeof *y), *want = malloc(m * sizeof *want);
    for (size_t i = 0; i < m; i++) {
        x[i] = (float)(-12.0 + 24.0 * (double)i / (double)(m - 1));
        want[i] = 0.5f * x[i] * (1.0f + sr_erf_f(x[i] * 0.7071067811865476f));
    }
    x[0] = NAN, x[1] = -0.0f, x[2] = INFINITY;
    want[0] = NAN, want[1] = -0.0f, want[2] = INFINITY;
    for (int level = 0; level <= 2; level++) {
        sr_cpu_force(level);
        L.type->apply(&L, x, y, m);
        int same = 1;
        double bad = 0;
        for (size_t i = 0; i < m; i++) {
            uint32_t a, b;
            memcpy(&a, &y[i], 4);
            memcpy(&b, &want[i], 4);
            same &= a == b || (isnan(y[i]) && isnan(want[i]));
            if (i > 2) {
                double r = 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0)));
                double t = fabs(y[i] - r) / (1e-5 + 1e-4 * fabs(r)); /* the golden tolerance */
                bad = t > bad ? t : bad;
            }
        }
        CHECK(same, "GELU at ISA level %d differs from the scalar formula", level);
        CHECK(bad < 0.1, "GELU at ISA level %d: %.3g of the golden tolerance", level, bad);
        /* in place */
        memcpy(y, x, m * sizeof *y);
        L.type->apply(&L, y, y, m);
        CHECK(!memcmp(y + 3, want + 3, (m - 3) * sizeof *y), "GELU in place at level %d", level);
    }
    sr_cpu_force(-1);
    sr_layer_clear(&L);
    free(x);
    free(y);
    free(want);
}

/* exp, expm1, tanh, log1p (vmath.h) on a sweep, against libm in double */
static void test_vmath(void)
{
    double we = 0, wm = 0, wt = 0, wl = 0;
    for (int i = 0; i <= 400000; i++) {
        float x = (float)(-104.0 + 192.0 * i / 400000.0), z = (float)(i / 400000.0);
        float t = (float)(-12.0 + 24.0 * i / 400000.0), s = (float)(-30.0 + 60.0 * i / 400000.0);
        double e = ulps(sr_exp_f(x), exp((double)x)), m = ulps(sr_expm1_f(s), expm1((double)s));
        double th = ulps(sr_tanh_f(t), tanh((double)t)), l = ulps(sr_log1p01_f(z), log1p((double)z));
        we = e > we ? e : we, wm = m > wm ? m : wm, wt = th > wt ? th : wt, wl = l > wl ? l : wl;
    }
    printf("vmath: exp %.3f, expm1 %.3f, tanh %.3f, log1p %.3f ulp\n", we, wm, wt, wl);
    CHECK(we <= 1.5 && wm <= 2 && wt <= 2 && wl <= 2.5, "vmath ulps: exp %g expm1 %g tanh %g log1p %g", we, wm, wt, wl);
    CHECK(sr_exp_f(89.0f) == INFINITY && sr_exp_f(-105.0f) == 0.0f && sr_exp_f(-INFINITY) == 0.0f &&
              isnan(sr_exp_f(NAN)) && sr_exp_f(-100.0f) > 0 && sr_exp_f(-100.0f) < 1e-43f,
          "exp limits (subnormal e^-100 %g)", sr_exp_f(-100.0f));
    CHECK(sr_expm1_f(-INFINITY) == -1.0f && sr_expm1_f(-90.0f) == -1.0f && sr_expm1_f(89.0f) == INFINITY &&
              isnan(sr_expm1_f(NAN)) && sr_expm1_f(1e-30f) == 1e-30f,
          "expm1 limits");
    CHECK(sr_tanh_f(INFINITY) == 1.0f && sr_tanh_f(-1e30f) == -1.0f && sr_tanh_f(9.5f) == 1.0f && isnan(sr_tanh_f(NAN)),
          "tanh limits");
}

/* forward with a context of our own (seed, layer, pass, first sample) */
static float *fwd_ctx(sr_layer *L, sr_shape in, const float *x, int training, uint64_t seed, int64_t sample0)
{
    char err[SR_ERRLEN];
    sr_shape out;
    sr_shapeinfo info = {.training = training};
    if (shape_of(L, in, &out, &info, err) != SR_OK) {
        printf("unexpected shape error: %s\n", err);
        return NULL;
    }
    int64_t n = sr_shape_numel(&out);
    size_t wl = L->type->workspace ? L->type->workspace(L, &in, &out) : 0;
    float *work = malloc((wl ? wl : 1) * sizeof *work), *y = malloc((size_t)(n ? n : 1) * sizeof *y);
    sr_tensor tin = {.shape = in, .dtype = SR_F32, .data = (void *)x};
    sr_tensor tout = {.shape = out, .dtype = SR_F32, .data = y};
    sr_ctx ctx = {.training = training, .seed = seed, .layer_key = 0x1234, .pass_key = 77, .sample0 = sample0,
                  .work = work, .work_len = wl, .threads = 1};
    if (L->type->forward(L, &tin, &tout, &ctx, err) != SR_OK)
        printf("forward failed: %s\n", err);
    if (tout.data != y)
        memcpy(y, tout.data, (size_t)n * sizeof *y);
    free(work);
    return y;
}

/* Under --train: the mask units (elements or (sample, channel) pairs) are
 * dropped with probability p, kept ones scaled (or mapped affinely), each
 * unit constant over its elements; the same bits for a chunk run on its
 * own with its first sample's index; different seeds, different masks. */
static void test_dropout_family(void)
{
    struct {
        const char *type;
        int ndim;
        int64_t d[5];
        int unit_dims; /* leading dims one mask unit spans */
    } cases[] = {
        {"Dropout1d", 3, {40, 30, 7}, 2},     {"Dropout1d", 2, {300, 9}, 1},
        {"Dropout2d", 4, {30, 40, 3, 3}, 2},  {"Dropout2d", 3, {40, 30, 5}, 2}, /* 3-D: (N, C, L) */
        {"Dropout2d", 2, {40, 30}, 2},        {"Dropout3d", 5, {20, 60, 2, 2, 2}, 2},
        {"Dropout3d", 4, {1200, 2, 2, 2}, 1}, {"Dropout3d", 2, {1200, 3}, 1},
        {"FeatureAlphaDropout", 4, {30, 40, 2, 3}, 2}, {"AlphaDropout", 2, {40, 30}, 2},
        {"AlphaDropout", 3, {10, 12, 10}, 3},
    };
    const double ps[] = {0.3, 0.75};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        for (int pi = 0; pi < 2; pi++) {
            sr_layer L;
            layer_init(&L, cases[k].type);
            double p = ps[pi];
            set_float(&L, 0, p);
            int alpha = strstr(cases[k].type, "Alpha") != NULL;
            sr_shape in = sr_shape_make(cases[k].ndim, cases[k].d);
            int64_t n = sr_shape_numel(&in), units = sr_prod(&in, 0, cases[k].unit_dims), inner = n / units;
            float *x = malloc((size_t)n * sizeof *x);
            double sx = 0, sxx = 0;
            for (int64_t i = 0; i < n; i++) {
                /* standard normal (Box-Muller): AlphaDropout keeps mean 0 and variance 1 */
                double u1 = urand() + 1e-12, u2 = urand();
                x[i] = alpha ? (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2)) : (float)(1.0 + urand());
                sx += x[i], sxx += (double)x[i] * x[i];
            }
            float *y = fwd_ctx(&L, in, x, 1, 5, 0);
            double a = 1 / sqrt((1.7580993408473766 * 1.7580993408473766 * p + 1) * (1 - p));
            float ks = alpha ? (float)a : 1.0f / (float)(1 - p), kb = alpha ? (float)(1.7580993408473766 * a * p) : 0;
            float db = alpha ? -(float)(1.7580993408473766 * a) + kb : 0;
            int64_t dropped = 0, wrong = 0;
            double sy = 0, syy = 0;
            for (int64_t u = 0; y && u < units; u++) {
                /* the unit's first element says kept or dropped; all its elements agree */
                int keep = y[u * inner] != db || x[u * inner] * ks + kb == db;
                dropped += !keep;
                for (int64_t j = 0; j < inner; j++) {
                    int64_t i = u * inner + j;
                    float w = keep ? (alpha ? x[i] * ks + kb : x[i] * ks) : (alpha ? x[i] * 0.0f + db : x[i] * 0.0f);
                    wrong += memcmp(&w, &y[i], sizeof w) != 0;
                    sy += y[i], syy += (double)y[i] * y[i];
                }
            }
            double frac = (double)dropped / (double)units, sd = sqrt(p * (1 - p) / (double)units);
            CHECK(y && wrong == 0, "%s p=%g %s: %lld elements off their unit's map", cases[k].type, p, sr_shp(&in),
                  (long long)wrong);
            CHECK(fabs(frac - p) < 5 * sd, "%s p=%g %s: dropped %.4f of %lld units (sd %.4f)", cases[k].type, p,
                  sr_shp(&in), frac, (long long)units, sd);
            if (alpha) {
                /* mean and variance kept (to what the sample allows) */
                double mx = sx / n, my = sy / n, vx = sxx / n - mx * mx, vy = syy / n - my * my;
                CHECK(fabs(my - mx) < 0.08 && fabs(vy / vx - 1) < 0.15, "%s p=%g: mean %.3f -> %.3f, var %.3f -> %.3f",
                      cases[k].type, p, mx, my, vx, vy);
            } else {
                /* E[y] = E[x] */
                CHECK(fabs(sy / sx - 1) < 6 * sqrt(p / (1 - p) / (double)units) + 1e-3, "%s p=%g: sum %.1f -> %.1f",
                      cases[k].type, p, sx, sy);
            }
            /* the second half of the batch alone, as chunk 2 of a --batch-size run */
            int64_t h = in.d[0] / 2;
            sr_shape in2 = in;
            in2.d[0] = in.d[0] - h;
            int64_t off = n / in.d[0] * h;
            float *y2 = fwd_ctx(&L, in2, x + off, 1, 5, h);
            CHECK(y && y2 && !memcmp(y + off, y2, (size_t)(n - off) * sizeof *y), "%s %s: a chunk's masks differ",
                  cases[k].type, sr_shp(&in));
            /* another seed: another mask */
            float *y3 = fwd_ctx(&L, in, x, 1, 6, 0);
            CHECK(y && y3 && memcmp(y, y3, (size_t)n * sizeof *y) != 0, "%s: seed does not change the mask",
                  cases[k].type);
            /* eval: the input itself */
            float *y4 = fwd_ctx(&L, in, x, 0, 5, 0);
            CHECK(y4 && !memcmp(y4, x, (size_t)n * sizeof *y), "%s eval is not the identity", cases[k].type);
            free(y), free(y2), free(y3), free(y4), free(x);
            sr_layer_clear(&L);
        }
    }
}

/* RReLU: eval slope (lower + upper) / 2; --train slopes uniform in
 * [lower, upper] per element (mean, variance, range), x > 0 kept. */
static void test_rrelu(void)
{
    sr_layer L;
    layer_init(&L, "RReLU");
    set_float(&L, 0, 0.1);
    set_float(&L, 1, 0.4);
    int64_t n = 200000;
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++)
        x[i] = i % 4 == 3 ? 2.5f : -2.0f;
    sr_shape in = sr_shape_make(2, (int64_t[]){n / 100, 100});
    float *y = fwd_ctx(&L, in, x, 0, 1, 0);
    CHECK(y && y[0] == -2.0f * (float)0.25 && y[3] == 2.5f, "RReLU eval: %g", y ? y[0] : 0);
    free(y);
    y = fwd_ctx(&L, in, x, 1, 1, 0);
    double s = 0, ss = 0, lo = 1, hi = 0;
    int64_t m = 0, pos_ok = 1;
    for (int64_t i = 0; y && i < n; i++) {
        if (x[i] > 0) {
            pos_ok &= y[i] == x[i];
            continue;
        }
        double a = y[i] / -2.0;
        s += a, ss += a * a, m++;
        lo = a < lo ? a : lo, hi = a > hi ? a : hi;
    }
    double mean = s / m, var = ss / m - mean * mean;
    CHECK(pos_ok, "RReLU train changed positive inputs");
    CHECK(fabs(mean - 0.25) < 5 * sqrt(0.0075 / m) && fabs(var / 0.0075 - 1) < 0.03 && lo >= 0.1 && hi <= 0.4 &&
              lo < 0.1001 && hi > 0.3999,
          "RReLU train slopes: mean %.5f var %.6f (want 0.25, 0.0075), range [%g, %g]", mean, var, lo, hi);
    /* chunked: the same slopes */
    sr_shape in2 = sr_shape_make(2, (int64_t[]){n / 200, 100});
    float *y2 = fwd_ctx(&L, in2, x + n / 2, 1, 1, n / 200);
    CHECK(y && y2 && !memcmp(y + n / 2, y2, (size_t)(n / 2) * sizeof *y), "RReLU: a chunk's slopes differ");
    free(y), free(y2), free(x);
    sr_layer_clear(&L);
}

/* shape rules, argument checks, PReLU's parameter */
static void test_act_shapes(void)
{
    sr_layer L;
    layer_init(&L, "PReLU");
    set_int(&L, 0, 3);
    expect_shape_error(&L, sr_shape_make(2, (int64_t[]){5, 4}), "layer 0 (Linear)", 0,
                       "PReLU(num_parameters=3) expects 3 channels in dim 1, but input [5, 4] (from layer 0 (Linear)) has 4; "
                       "hint: num_parameters should be 4",
                       1);
    expect_shape_error(&L, sr_shape_make(1, (int64_t[]){3}), NULL, 0, "add one (shape [1, C])", 1);
    expect_shape_error(&L, sr_shape_make(0, NULL), NULL, 0, "Not allow zero-dim input tensor", 1);
    sr_paramdecl p[SR_MAXPARAMS];
    set_float(&L, 1, -0.75);
    CHECK(L.type->params(&L, p) == 1 && !strcmp(p[0].name, "weight") && p[0].shape.ndim == 1 && p[0].shape.d[0] == 3 &&
              p[0].init.kind == SR_INIT_CONSTANT && p[0].init.a == -0.75,
          "PReLU weight [3], constant init");
    /* per channel over (N, C, H, W) and (N, C) */
    alloc_params(&L);
    float *w = sr_f32(&L.param[0]);
    float x[24], want[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)(i % 5) - 2.5f;
    sr_shape in4 = sr_shape_make(4, (int64_t[]){2, 3, 2, 2}), out;
    float *y = run_once(&L, &in4, x, &out, 0);
    for (int i = 0; i < 24; i++)
        want[i] = x[i] > 0 ? x[i] : w[(i / 4) % 3] * x[i];
    CHECK(y && !memcmp(y, want, sizeof want), "PReLU per channel, 4-D");
    free(y);
    sr_shape in2 = sr_shape_make(2, (int64_t[]){8, 3});
    y = run_once(&L, &in2, x, &out, 0);
    for (int i = 0; i < 24; i++)
        want[i] = x[i] > 0 ? x[i] : w[i % 3] * x[i];
    CHECK(y && !memcmp(y, want, sizeof want), "PReLU per channel, 2-D");
    free(y);
    sr_layer_clear(&L);

    layer_init(&L, "GLU");
    expect_shape_error(&L, sr_shape_make(2, (int64_t[]){4, 5}), "layer 2 (Linear)", 0,
                       "Halving dimension must be even, but dimension 1 is size 5", 1);
    set_int(&L, 0, 2);
    expect_shape_error(&L, sr_shape_make(2, (int64_t[]){4, 6}), NULL, 0, "GLU(dim=2) needs an input of at least 3", 0);
    sr_layer_clear(&L);
    layer_init(&L, "Softmax2d");
    expect_shape_error(&L, sr_shape_make(2, (int64_t[]){4, 6}), NULL, 0, "Softmax2d requires a 3D or 4D tensor", 1);
    sr_layer_clear(&L);
    layer_init(&L, "Dropout1d");
    expect_shape_error(&L, sr_shape_make(4, (int64_t[]){2, 3, 4, 5}), NULL, 0,
                       "dropout1d: Expected 2D or 3D input, but received a 4D input", 1);
    sr_layer_clear(&L);
    layer_init(&L, "FeatureAlphaDropout");
    expect_shape_error(&L, sr_shape_make(1, (int64_t[]){7}), NULL, 1, "Feature dropout requires at least 2 dimensions", 1);
    sr_shapeinfo info = {0};
    char err[SR_ERRLEN];
    CHECK(shape_of(&L, sr_shape_make(1, (int64_t[]){7}), &out, &info, err) == SR_OK, "eval takes any rank: %s", err);
    sr_layer_clear(&L);

    layer_init(&L, "CELU");
    set_float(&L, 0, 0.0);
    expect_invalid(&L, "alpha cannot be 0");
    sr_layer_clear(&L);
    layer_init(&L, "Softshrink");
    set_float(&L, 0, -0.5);
    expect_invalid(&L, "lambda must be greater or equal to 0");
    sr_layer_clear(&L);
    layer_init(&L, "RReLU");
    set_float(&L, 0, 0.5);
    set_float(&L, 1, 0.1);
    expect_invalid(&L, "Lower bound should be less than or equal to the upper bound");
    sr_layer_clear(&L);
    layer_init(&L, "Dropout2d");
    set_float(&L, 0, 1.5);
    expect_invalid(&L, "dropout probability has to be between 0 and 1");
    sr_layer_clear(&L);
}

int main(void)
{
    test_erf_gelu();
    test_vmath();
    test_softplus();
    test_dropout_family();
    test_rrelu();
    test_act_shapes();
    return unit_summary();
}
