/*
 * test_layers.c - unit tests for the CNN layers (conv.c, pool.c,
 * batchnorm.c) below the level of the golden cases.
 *
 * The golden cases pin a few dozen configurations to PyTorch's numbers;
 * here the im2col convolution is compared with a direct six-loop one over
 * hundreds of random configurations (every padding mode, 'same' with even
 * kernels, strides, dilations, groups), and the shape rules' edge cases and
 * diagnostics are checked one by one.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "gemm.h"
#include "layers/layers.h"
#include "layertest.h"
#include "unit.h"

/* ---- convolution against a direct reference ------------------------------ */

/* y[n, o, oh, ow] = b[o] + sum_{c, i, j} w[o, c, i, j] * xpad[n, g*Cg + c, ...]
 * written straight from the definition, in double. */
static void ref_conv(int nd, int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t G, const int64_t *k,
                     const int64_t *s, const int64_t *d, const int64_t *pb, const char *mode, const float *x,
                     const float *w, const float *b, int64_t OH, int64_t OW, float *y)
{
    int64_t Cg = C / G, Og = O / G;
    (void)nd;
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double acc = b ? b[o] : 0;
                    int64_t g = o / Og;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t i = 0; i < k[0]; i++)
                            for (int64_t j = 0; j < k[1]; j++) {
                                int64_t ih = ref_pad_src(mode, oh * s[0] - pb[0] + i * d[0], H);
                                int64_t iw = ref_pad_src(mode, ow * s[1] - pb[1] + j * d[1], W);
                                if (ih < 0 || iw < 0)
                                    continue;
                                acc += (double)w[((o * Cg + c) * k[0] + i) * k[1] + j] *
                                       x[((n * C + g * Cg + c) * H + ih) * W + iw];
                            }
                    y[((n * O + o) * OH + oh) * OW + ow] = (float)acc;
                }
}

static void test_conv_random(void)
{
    static const char *modes[] = {"zeros", "reflect", "replicate", "circular"};
    sr_layer relu;
    layer_init(&relu, "ReLU");
    int bad = 0, ran = 0;
    for (int iter = 0; iter < 400; iter++) {
        int nd = iter % 2 ? 2 : 1;
        sr_layer L;
        layer_init(&L, nd == 2 ? "Conv2d" : "Conv1d");
        /* every other case has enough output channels per group for the
         * direct kernels; some have samples and widths for several blocks
         * and segments */
        int64_t G = irand(1, 3), Cg = irand(1, 3), Og = iter % 4 < 2 ? irand(1, 3) : irand(4, 13);
        int64_t N = iter % 8 == 3 ? irand(20, 70) : irand(1, 3);
        int wide = iter % 8 == 5;
        int64_t k[2] = {1, 1}, s[2] = {1, 1}, dl[2] = {1, 1}, p[2] = {0, 0}, isz[2] = {1, 1};
        const char *mode = modes[irand(0, 3)];
        int same = urand() < 0.25, bias = urand() < 0.7;
        int unbatched = urand() < 0.15;
        if (iter % 17 == 0) /* the 1x1 direct path */
            same = 0;
        for (int i = 2 - nd; i < 2; i++) {
            k[i] = iter % 17 == 0 ? 1 : irand(1, 4);
            s[i] = same ? 1 : irand(1, 3);
            dl[i] = irand(1, 2);
            isz[i] = wide && i == 1 ? irand(10, 40) : irand(1, 9);
            p[i] = iter % 17 == 0 ? 0 : irand(0, 3);
        }
        set_int(&L, CONV_IN, G * Cg);
        set_int(&L, CONV_OUT, G * Og);
        set_tuple(&L, CONV_KERNEL, nd, k + 2 - nd);
        set_tuple(&L, CONV_STRIDE, nd, s + 2 - nd);
        set_tuple(&L, CONV_DILATION, nd, dl + 2 - nd);
        if (same)
            set_str(&L, CONV_PADDING, "same");
        else
            set_tuple(&L, CONV_PADDING, nd, p + 2 - nd);
        set_int(&L, CONV_GROUPS, G);
        set_bool(&L, CONV_BIAS, bias);
        set_str(&L, CONV_PADMODE, mode);
        char err[SR_ERRLEN];
        if (L.type->validate(&L, err) != SR_OK) {
            CHECK(0, "validate rejected a valid conv: %s", err);
            continue;
        }
        int64_t pb[2], pa[2];
        for (int i = 0; i < 2; i++) {
            int64_t tot = dl[i] * (k[i] - 1);
            pb[i] = same ? tot / 2 : p[i];
            pa[i] = same ? tot - tot / 2 : p[i];
        }
        sr_shape in = {.ndim = 0};
        if (!unbatched)
            in.d[in.ndim++] = N;
        else
            N = 1;
        in.d[in.ndim++] = G * Cg;
        if (nd == 2)
            in.d[in.ndim++] = isz[0];
        in.d[in.ndim++] = isz[1];
        sr_shape out;
        sr_shapeinfo info = {0};
        sr_status st = shape_of(&L, in, &out, &info, err);
        int64_t OH = (isz[0] + pb[0] + pa[0] - dl[0] * (k[0] - 1) - 1);
        int64_t OW = (isz[1] + pb[1] + pa[1] - dl[1] * (k[1] - 1) - 1);
        int fits = OH >= 0 && OW >= 0;
        int padok = 1;
        for (int i = 0; i < 2; i++) {
            if (!strcmp(mode, "reflect") && (pb[i] || pa[i]) && (pb[i] >= isz[i] || pa[i] >= isz[i]))
                padok = 0;
            if (!strcmp(mode, "circular") && (pb[i] > isz[i] || pa[i] > isz[i]))
                padok = 0;
        }
        if (!fits || !padok) {
            CHECK(st == SR_ESHAPE, "iter %d: expected a shape error for %s", iter, sr_shp(&in));
            free_params(&L);
            continue;
        }
        CHECK(st == SR_OK, "iter %d: %s", iter, err);
        if (st != SR_OK)
            continue;
        OH = OH / s[0] + 1;
        OW = OW / s[1] + 1;
        CHECK(out.d[out.ndim - 1] == OW && (nd == 1 || out.d[out.ndim - 2] == OH),
              "iter %d: output %s, want %lldx%lld", iter, sr_shp(&out), (long long)OH, (long long)OW);
        CHECK(info.batch_dim0 == !unbatched, "iter %d: batch_dim0", iter);
        alloc_params(&L);
        int64_t nx = sr_shape_numel(&in);
        float *x = malloc((size_t)nx * sizeof *x);
        for (int64_t i = 0; i < nx; i++)
            x[i] = (float)(urand() * 2 - 1);
        sr_shape outs;
        float *r = NULL, *first = NULL;
        int64_t ny = 0;
        /* each kernel: im2col + sgemm, AVX2, AVX-512 (those the CPU has);
         * every third case with ReLU fused and two threads */
        for (int level = 0; level <= 2; level++) {
            int fused = iter % 3 == 1;
            sr_cpu_force(level);
            float *y = fused ? run_fused(&L, &in, x, &outs, 0, 2, &relu) : run_once(&L, &in, x, &outs, 0);
            if (!r) {
                ny = sr_shape_numel(&outs);
                r = malloc((size_t)(ny ? ny : 1) * sizeof *r);
                ref_conv(nd, N, G * Cg, isz[0], isz[1], G * Og, G, k, s, dl, pb, mode, x, sr_f32(&L.param[0]),
                         bias ? sr_f32(&L.param[1]) : NULL, OH, OW, r);
                for (int64_t i = 0; fused && i < ny; i++)
                    r[i] = r[i] < 0 ? 0 : r[i];
            }
            double maxerr = 0;
            for (int64_t i = 0; y && i < ny; i++) {
                double e = fabs((double)y[i] - r[i]) / (1e-5 + 1e-4 * fabs(r[i]));
                if (e > maxerr)
                    maxerr = e;
            }
            /* the direct kernels agree bit for bit, across widths and batches
             * (with fewer than 4 output channels per group, AVX2 runs im2col
             * + sgemm, which rounds otherwise) */
            int same_bits = 1;
            if (level == 1 && y)
                first = y;
            else if (level == 2 && y && first && Og >= 4)
                same_bits = memcmp(first, y, (size_t)ny * sizeof *y) == 0;
            ran++;
            if (!y || maxerr > 1 || !same_bits) {
                bad++;
                CHECK(0, "iter %d level %d: %s %s k=(%lld,%lld) s=(%lld,%lld) d=(%lld,%lld) same=%d p=(%lld,%lld) "
                      "G=%lld Og=%lld in %s: error %.3g of tolerance%s", iter, level, L.type->name, mode,
                      (long long)k[0], (long long)k[1], (long long)s[0], (long long)s[1], (long long)dl[0],
                      (long long)dl[1], same, (long long)p[0], (long long)p[1], (long long)G, (long long)Og,
                      sr_shp(&in), maxerr, same_bits ? "" : "; AVX2 and AVX-512 results differ");
            }
            if (y != first)
                free(y);
        }
        sr_cpu_force(-1);
        free(first);
        free(x);
        free(r);
        free_params(&L);
    }
    CHECK(ran > 450, "only %d random convolution runs", ran);
    CHECK(bad == 0, "%d of %d random convolutions differ from the reference", bad, ran);
}

/* ---- layouts: one convolution writing the next one's padded input --------
 * The producer writes into the consumer's input layout (a NaN-filled buffer,
 * so a float neither writes shows), the consumer reads it and fills its
 * padding: the result must be the bits of the two run densely. */
static void conv_fwd(sr_layer *L, const sr_shape *in, const float *x, const sr_shape *out, float *y, int threads,
                     const sr_layer *post, const sr_layout *out_layout, int in_laid_out)
{
    char err[SR_ERRLEN];
    size_t wl = L->type->workspace ? L->type->workspace(L, in, out) * (size_t)threads : 0;
    float *work = malloc((wl ? wl : 1) * sizeof *work);
    sr_tensor tin = {.shape = *in, .dtype = SR_F32, .data = (void *)x};
    sr_tensor tout = {.shape = *out, .dtype = SR_F32, .data = y};
    sr_ctx ctx = {.work = work, .work_len = wl, .threads = threads, .post = post, .out_layout = out_layout,
                  .in_laid_out = in_laid_out};
    CHECK(L->type->forward(L, &tin, &tout, &ctx, err) == SR_OK, "%s: %s", L->type->name, err);
    free(work);
}

static void random_conv(sr_layer *L, int nd, int64_t cin, int64_t cout, int64_t groups, int consumer)
{
    layer_init(L, nd == 2 ? "Conv2d" : "Conv1d");
    int64_t k[2], s[2], p[2], dl[2] = {1, 1};
    for (int i = 0; i < 2; i++) {
        k[i] = irand(1, consumer ? 4 : 3);
        s[i] = irand(1, 2);
        p[i] = irand(0, consumer ? 3 : 2);
        if (consumer)
            dl[i] = irand(1, 2);
    }
    set_int(L, CONV_IN, cin);
    set_int(L, CONV_OUT, cout);
    set_tuple(L, CONV_KERNEL, nd, k + 2 - nd);
    set_tuple(L, CONV_DILATION, nd, dl + 2 - nd);
    set_int(L, CONV_GROUPS, groups);
    if (consumer && urand() < 0.2) { /* 'same', even kernels included: pad before != after */
        set_str(L, CONV_PADDING, "same");
    } else {
        set_tuple(L, CONV_STRIDE, nd, s + 2 - nd);
        set_tuple(L, CONV_PADDING, nd, p + 2 - nd);
    }
    set_bool(L, CONV_BIAS, urand() < 0.7);
}

static void test_conv_layouts(void)
{
    sr_layer relu, sig;
    layer_init(&relu, "ReLU");
    layer_init(&sig, "Sigmoid");
    int ran = 0, bad = 0;
    for (int iter = 0; iter < 300; iter++) {
        int nd = iter % 3 ? 2 : 1;
        int64_t c0 = irand(1, 4), c1 = irand(4, 12), g = c1 % 2 == 0 && urand() < 0.3 ? 2 : 1;
        int64_t c2 = g * irand(4, 9);
        sr_layer P, C;
        random_conv(&P, nd, c0, c1, 1, 0);
        random_conv(&C, nd, c1, c2, g, 1);
        const sr_layer *post = iter % 4 == 0 ? NULL : iter % 4 == 3 ? &sig : &relu;
        sr_shape in = {.ndim = 0}, mid, out;
        in.d[in.ndim++] = irand(1, 5);
        in.d[in.ndim++] = c0;
        if (nd == 2)
            in.d[in.ndim++] = irand(1, 20);
        in.d[in.ndim++] = irand(1, 45);
        char err[SR_ERRLEN];
        sr_shapeinfo info = {0};
        sr_layout lay;
        if (P.type->validate(&P, err) != SR_OK || C.type->validate(&C, err) != SR_OK ||
            shape_of(&P, in, &mid, &info, err) != SR_OK || shape_of(&C, mid, &out, &info, err) != SR_OK)
            continue;
        int ok = C.type->in_layout(&C, &mid, &lay) && P.type->out_layout_ok(&P, &in, post);
        /* Sigmoid is not applied in registers: no layout with it */
        CHECK(!ok || post != &sig, "a layout offered with Sigmoid fused");
        if (!ok)
            continue;
        alloc_params(&P);
        alloc_params(&C);
        int64_t nx = sr_shape_numel(&in), nm = sr_shape_numel(&mid), ny = sr_shape_numel(&out);
        float *x = malloc((size_t)nx * sizeof *x), *m = malloc((size_t)nm * sizeof *m);
        float *r = malloc((size_t)ny * sizeof *r), *y = malloc((size_t)ny * sizeof *y);
        size_t nb = (size_t)(mid.d[0] * lay.sample + lay.slack);
        float *buf = malloc(nb * sizeof *buf);
        for (int64_t i = 0; i < nx; i++)
            x[i] = (float)(urand() * 2 - 1);
        memset(buf, 0xff, nb * sizeof *buf);
        int threads = 1 + iter % 2;
        conv_fwd(&P, &in, x, &mid, m, threads, post, NULL, 0);
        conv_fwd(&C, &mid, m, &out, r, threads, NULL, NULL, 0);
        conv_fwd(&P, &in, x, &mid, buf, threads, post, &lay, 0);
        conv_fwd(&C, &mid, buf, &out, y, threads, NULL, NULL, 1);
        ran++;
        if (memcmp(r, y, (size_t)ny * sizeof *y)) {
            bad++;
            CHECK(0, "iter %d: %s %s -> %s -> %s through the layout (phases %d, left %lld) differs", iter,
                  P.type->name, sr_shp(&in), sr_shp(&mid), sr_shp(&out), lay.phases, (long long)lay.left);
        }
        free(x), free(m), free(r), free(y), free(buf);
        free_params(&P);
        free_params(&C);
    }
    if (sr_cpu_level() == SR_CPU_AVX512)
        CHECK(ran > 100, "only %d layout runs", ran);
    CHECK(bad == 0, "%d of %d convolution pairs differ through a layout", bad, ran);
}

static void test_conv_params(void)
{
    sr_layer L;
    layer_init(&L, "Conv2d");
    set_int(&L, CONV_IN, 6);
    set_int(&L, CONV_OUT, 4);
    set_tuple(&L, CONV_KERNEL, 2, (int64_t[]){3, 2});
    set_int(&L, CONV_GROUPS, 2);
    sr_paramdecl p[SR_MAXPARAMS];
    int n = L.type->params(&L, p);
    CHECK(n == 2, "conv params: %d", n);
    CHECK(p[0].shape.ndim == 4 && p[0].shape.d[0] == 4 && p[0].shape.d[1] == 3 && p[0].shape.d[2] == 3 &&
              p[0].shape.d[3] == 2, "conv weight shape %s", sr_shp(&p[0].shape));
    /* fan_in = in/groups * prod(k) = 3 * 6 = 18 */
    CHECK(fabs(p[1].init.b - 1.0 / sqrt(18.0)) < 1e-12 && fabs(p[1].init.a + 1.0 / sqrt(18.0)) < 1e-12,
          "conv bias bound %g", p[1].init.b);
    CHECK(p[0].init.kind == SR_INIT_KAIMING_UNIFORM && fabs(p[0].init.a - sqrt(5.0)) < 1e-12, "conv weight init");
    set_bool(&L, CONV_BIAS, 0);
    CHECK(L.type->params(&L, p) == 1, "bias=False has one parameter");

    layer_init(&L, "Conv1d");
    set_int(&L, CONV_IN, 2);
    set_int(&L, CONV_OUT, 3);
    set_int(&L, CONV_KERNEL, 5);
    n = L.type->params(&L, p);
    CHECK(p[0].shape.ndim == 3 && p[0].shape.d[2] == 5, "conv1d weight %s", sr_shp(&p[0].shape));
}

static void test_conv_validate(void)
{
    sr_layer L;
    layer_init(&L, "Conv2d");
    set_int(&L, CONV_IN, 4);
    set_int(&L, CONV_OUT, 6);
    set_int(&L, CONV_KERNEL, 3);
    set_int(&L, CONV_GROUPS, 4);
    expect_invalid(&L, "out_channels must be divisible by groups");
    set_int(&L, CONV_GROUPS, 3);
    expect_invalid(&L, "in_channels must be divisible by groups");
    set_int(&L, CONV_GROUPS, 0);
    expect_invalid(&L, "groups must be a positive integer");
    set_int(&L, CONV_GROUPS, 2);
    set_str(&L, CONV_PADDING, "same");
    set_tuple(&L, CONV_STRIDE, 2, (int64_t[]){1, 2});
    expect_invalid(&L, "padding='same' is not supported for strided convolutions");
    set_int(&L, CONV_STRIDE, 1);
    char err[SR_ERRLEN];
    CHECK(L.type->validate(&L, err) == SR_OK, "valid conv rejected: %s", err);
    set_int(&L, CONV_PADDING, -1);
    expect_invalid(&L, "negative padding");
    set_int(&L, CONV_PADDING, 0);
    set_tuple(&L, CONV_KERNEL, 2, (int64_t[]){3, 0});
    expect_invalid(&L, "kernel_size must be positive");
    set_int(&L, CONV_KERNEL, 3);
    set_int(&L, CONV_DILATION, 0);
    expect_invalid(&L, "dilation");
    set_int(&L, CONV_DILATION, 1);
    set_int(&L, CONV_STRIDE, 0);
    expect_invalid(&L, "stride must be positive");
    set_int(&L, CONV_STRIDE, 1);
    set_int(&L, CONV_IN, 0);
    expect_invalid(&L, "in_channels must be positive");
}

static void test_conv_shape_messages(void)
{
    sr_layer L;
    layer_init(&L, "Conv2d");
    set_int(&L, CONV_IN, 32);
    set_int(&L, CONV_OUT, 8);
    set_int(&L, CONV_KERNEL, 3);
    expect_shape_error(&L, sr_shape_make(4, (int64_t[]){2, 16, 10, 10}), "layer 2 (Conv2d)", 0,
                       "Conv2d(in_channels=32) expects 32 channels, but input [2, 16, 10, 10] (from layer 2 (Conv2d)) has 16; "
                       "hint: in_channels should be 16",
                       1);
    /* the guess keeps later layers checked */
    sr_shape out;
    sr_shapeinfo info = {0};
    char err[SR_ERRLEN];
    shape_of(&L, sr_shape_make(4, (int64_t[]){2, 16, 10, 10}), &out, &info, err);
    CHECK(out.ndim == 4 && out.d[1] == 8 && out.d[2] == 8 && out.d[3] == 8, "guess %s", sr_shp(&out));
    expect_shape_error(&L, sr_shape_make(2, (int64_t[]){4, 2048}), "layer 5 (Flatten)", 0,
                       "Unflatten: [1, [32, 8, 8]]", 0);
    expect_shape_error(&L, sr_shape_make(2, (int64_t[]){4, 2048}), NULL, 0, "3-D (C, H, W) or 4-D (N, C, H, W)", 0);
    expect_shape_error(&L, sr_shape_make(4, (int64_t[]){1, 32, 2, 5}), NULL, 0, "is 2x5 after padding", 0);
    expect_shape_error(&L, sr_shape_make(4, (int64_t[]){1, 32, 2, 5}), NULL, 0, "at least 3x3", 0);
    set_int(&L, CONV_PADDING, 1);
    CHECK(shape_of(&L, sr_shape_make(4, (int64_t[]){1, 32, 1, 1}), &out, &info, err) == SR_OK &&
              out.d[2] == 1 && out.d[3] == 1, "1x1 input padded by 1 fits a 3x3 kernel: %s", err);
    set_str(&L, CONV_PADMODE, "reflect");
    expect_shape_error(&L, sr_shape_make(4, (int64_t[]){1, 32, 1, 4}), NULL, 0, "padding_mode='reflect'", -1);
    set_str(&L, CONV_PADMODE, "circular");
    CHECK(shape_of(&L, sr_shape_make(4, (int64_t[]){1, 32, 1, 4}), &out, &info, err) == SR_OK,
          "circular padding 1 on size 1 is allowed: %s", err);
    set_int(&L, CONV_PADDING, 2);
    expect_shape_error(&L, sr_shape_make(4, (int64_t[]){1, 32, 1, 4}), NULL, 0, "wraps around more than once", -1);

    /* Conv1d on a batch of flat rows: read as (C, L), PyTorch-style */
    layer_init(&L, "Conv1d");
    set_int(&L, CONV_IN, 1);
    set_int(&L, CONV_OUT, 4);
    set_int(&L, CONV_KERNEL, 3);
    expect_shape_error(&L, sr_shape_make(2, (int64_t[]){8, 784}), NULL, 0, "Unflatten: [1, [1, 784]]", 1);
    CHECK(shape_of(&L, sr_shape_make(2, (int64_t[]){1, 10}), &out, &info, err) == SR_OK && out.d[0] == 4 &&
              out.d[1] == 8 && !info.batch_dim0, "unbatched Conv1d: %s %s", sr_shp(&out), err);
}

/* ---- pooling -------------------------------------------------------------- */

static int64_t pool_len(const char *type, int64_t L_in, int64_t k, int64_t s, int64_t p, int ceil)
{
    sr_layer L;
    layer_init(&L, type);
    set_int(&L, POOL_KERNEL, k);
    if (s)
        set_int(&L, POOL_STRIDE, s);
    set_int(&L, POOL_PAD, p);
    set_bool(&L, strstr(type, "Max") ? MAXPOOL_CEIL : AVGPOOL_CEIL, ceil);
    sr_shape out;
    sr_shapeinfo info = {0};
    char err[SR_ERRLEN];
    if (shape_of(&L, sr_shape_make(3, (int64_t[]){1, 1, L_in}), &out, &info, err) != SR_OK)
        return -1;
    return out.d[2];
}

static void test_pool_shapes(void)
{
    /* ceil_mode: a window that would start in the right padding is dropped */
    CHECK(pool_len("MaxPool1d", 5, 2, 2, 1, 1) == 3, "L5 k2 s2 p1 ceil: %lld",
          (long long)pool_len("MaxPool1d", 5, 2, 2, 1, 1));
    CHECK(pool_len("MaxPool1d", 6, 3, 2, 0, 1) == 3, "L6 k3 s2 ceil");
    CHECK(pool_len("MaxPool1d", 6, 3, 2, 0, 0) == 2, "L6 k3 s2 floor");
    /* PyTorch 1.13 drops it without padding too: L5 k1 s3 ceil -> 2, not 3 */
    CHECK(pool_len("MaxPool1d", 5, 1, 3, 0, 1) == 2, "L5 k1 s3 ceil: %lld",
          (long long)pool_len("MaxPool1d", 5, 1, 3, 0, 1));
    CHECK(pool_len("AvgPool1d", 5, 1, 3, 0, 1) == 2, "avg L5 k1 s3 ceil");
    CHECK(pool_len("MaxPool1d", 7, 2, 0, 0, 0) == 3, "stride None is kernel_size");
    CHECK(pool_len("AvgPool1d", 1, 2, 0, 0, 0) == -1, "too small is an error");
    /* 1.13's max_pool1d returns an empty output for 0 under no_grad, but the
     * contract (and autograd-mode PyTorch) makes a zero-size output an error */
    CHECK(pool_len("MaxPool1d", 1, 2, 0, 0, 0) == -1, "MaxPool1d output 0 is an error");
    CHECK(pool_len("MaxPool1d", 1, 4, 1, 0, 0) == -1, "MaxPool1d output -2 is an error");

    sr_layer L;
    char err[SR_ERRLEN];
    layer_init(&L, "MaxPool2d");
    set_int(&L, POOL_KERNEL, 5);
    expect_shape_error(&L, sr_shape_make(4, (int64_t[]){2, 3, 4, 4}), NULL, 0, "at least 5x5", 0);
    expect_shape_error(&L, sr_shape_make(2, (int64_t[]){2, 3}), NULL, 0, "3-D (C, H, W) or 4-D", 0);
    expect_shape_error(&L, sr_shape_make(4, (int64_t[]){2, 0, 4, 4}), NULL, 0, "size 0 in dimension 1", -1);
    set_int(&L, POOL_PAD, 3);
    expect_invalid(&L, "pad should be at most half of kernel size");
    set_int(&L, POOL_PAD, 2);
    CHECK(L.type->validate(&L, err) == SR_OK, "pad 2 with kernel 5: %s", err);
    set_bool(&L, MAXPOOL_RETIDX, 1);
    expect_invalid(&L, "return_indices=True");

    layer_init(&L, "AvgPool2d");
    set_int(&L, POOL_KERNEL, 2);
    set_int(&L, AVGPOOL_DIVISOR, 0);
    expect_invalid(&L, "divisor must be not zero");

    /* adaptive: None keeps the input's size; zero-batch inputs are fine */
    layer_init(&L, "AdaptiveAvgPool2d");
    L.arg[ADAPT_SIZE] = (sr_argval){.kind = SR_AV_TUPLE, .n = 2, .t = {0, 3}, .tnone = {1, 0}};
    sr_shape out;
    sr_shapeinfo info = {0};
    CHECK(shape_of(&L, sr_shape_make(4, (int64_t[]){0, 2, 7, 9}), &out, &info, err) == SR_OK && out.d[0] == 0 &&
              out.d[2] == 7 && out.d[3] == 3, "adaptive None: %s %s", sr_shp(&out), err);
    set_int(&L, ADAPT_SIZE, -1);
    expect_invalid(&L, "greater than or equal to 0");
}

/* Random pooling input: NaN, -0.0 and 0.0 among uniform values. */
static void maxpool_fill(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double u = urand();
        x[i] = u < 0.05 ? NAN : u < 0.1 ? -0.0f : u < 0.15 ? 0.0f : (float)(urand() * 2 - 1);
    }
}

/* Outputs of a 2x2 stride-2 max pooling of `planes` H x W planes that
 * differ from the plain loop's (NaN wins, else the first of equals). */
static int maxpool2x2_bad(const float *x, const float *y, int64_t planes, int H, int W)
{
    int bad = 0, OH = H / 2, OW = W / 2;
    for (int64_t p = 0; p < planes; p++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                const float *r = x + (p * H + 2 * oh) * W + 2 * ow;
                float v[4] = {r[0], r[1], r[W], r[W + 1]}, m = -INFINITY;
                for (int k = 0; k < 4; k++)
                    if (v[k] > m || isnan(v[k]))
                        m = v[k];
                float got = y[(p * OH + oh) * OW + ow];
                if (isnan(m) ? !isnan(got) : memcmp(&m, &got, sizeof m) != 0)
                    bad++;
            }
    return bad;
}

/* MaxPool2d(2): the vectorised paths against a plain loop, NaN and -0.0
 * included, every width from 1 to 40 (odd ones leave a column out). */
static void test_maxpool2x2(void)
{
    int bad = 0;
    for (int W = 1; W <= 40; W++) {
        int H = 1 + W % 5 + 1;
        sr_layer L;
        layer_init(&L, "MaxPool2d");
        set_int(&L, POOL_KERNEL, 2);
        sr_shape in = sr_shape_make(4, (int64_t[]){2, 3, H, W}), outs;
        int64_t n = sr_shape_numel(&in);
        float *x = malloc((size_t)n * sizeof *x);
        maxpool_fill(x, n);
        for (int level = 0; level <= 2; level++) {
            sr_cpu_force(level);
            float *y = run_once(&L, &in, x, &outs, 0);
            if (y)
                bad += maxpool2x2_bad(x, y, 6, H, W);
            free(y);
        }
        sr_cpu_force(-1);
        free(x);
    }
    CHECK(bad == 0, "maxpool 2x2: %d outputs differ from the plain loop", bad);
}

/* MaxPool2d(2) on small planes (2, 4, 8 wide: 16 outputs from 64 floats
 * by permutes) and spread over threads: plane counts that end mid-vector,
 * odd heights (another path), one and two threads, against the plain
 * loop, NaN and -0.0 included. */
static void test_maxpool2x2_small(void)
{
    int bad = 0, runs = 0;
    static const int Ws[] = {2, 4, 8, 6}, Hs[] = {2, 4, 6, 8, 3}, Ns[] = {1, 3, 37, 1100};
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 5; b++)
            for (int c = 0; c < 4; c++) {
                int W = Ws[a], H = Hs[b], np = Ns[c];
                sr_layer L;
                layer_init(&L, "MaxPool2d");
                set_int(&L, POOL_KERNEL, 2);
                sr_shape in = sr_shape_make(4, (int64_t[]){np > 1 ? 2 : 1, np > 1 ? np / 2 + np % 2 : 1, H, W});
                int64_t planes = in.d[0] * in.d[1], n = sr_shape_numel(&in), OH = H / 2, OW = W / 2;
                float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)(planes * OH * OW) * sizeof *y);
                maxpool_fill(x, n);
                sr_shape outs = sr_shape_make(4, (int64_t[]){in.d[0], in.d[1], OH, OW});
                for (int threads = 1; threads <= 2; threads++) {
                    char err[SR_ERRLEN];
                    sr_tensor tin = {.shape = in, .dtype = SR_F32, .data = x};
                    sr_tensor tout = {.shape = outs, .dtype = SR_F32, .data = y};
                    sr_ctx ctx = {.threads = threads};
                    for (int64_t i = 0; i < planes * OH * OW; i++)
                        y[i] = 12345.0f;
                    L.type->forward(&L, &tin, &tout, &ctx, err);
                    runs++;
                    bad += maxpool2x2_bad(x, y, planes, H, W);
                }
                free(x);
                free(y);
                sr_layer_clear(&L);
            }
    CHECK(bad == 0 && runs == 160, "maxpool 2x2, small planes and threads: %d outputs differ from the plain loop "
          "(%d runs)", bad, runs);
}

static void test_pool_values(void)
{
    /* MaxPool: NaN propagates; padding never wins, even over negatives */
    sr_layer L;
    layer_init(&L, "MaxPool1d");
    set_int(&L, POOL_KERNEL, 3);
    set_int(&L, POOL_STRIDE, 2);
    set_int(&L, POOL_PAD, 1);
    sr_shape in = sr_shape_make(3, (int64_t[]){1, 1, 5}), outs;
    float x[5] = {-3, -1, NAN, -7, -2};
    float *y = run_once(&L, &in, x, &outs, 0);
    CHECK(y && outs.d[2] == 3 && y[0] == -1 && isnan(y[1]) && y[2] == -2, "maxpool: %g %g %g", y[0], y[1], y[2]);
    free(y);

    /* AvgPool ceil + padding: the overhanging window's divisor counts the
     * padding but not what lies past it (PyTorch: 3, 3, 2 here) */
    layer_init(&L, "AvgPool1d");
    set_int(&L, POOL_KERNEL, 3);
    set_int(&L, POOL_STRIDE, 2);
    set_int(&L, POOL_PAD, 1);
    set_bool(&L, AVGPOOL_CEIL, 1);
    in = sr_shape_make(3, (int64_t[]){1, 1, 4});
    float x2[4] = {1, 2, 3, 4};
    y = run_once(&L, &in, x2, &outs, 0);
    CHECK(y && outs.d[2] == 3 && fabsf(y[0] - 1.0f) < 1e-6f && fabsf(y[1] - 3.0f) < 1e-6f &&
              fabsf(y[2] - 2.0f) < 1e-6f, "avgpool ceil: %g %g %g", y[0], y[1], y[2]);
    free(y);
    set_bool(&L, AVGPOOL_CIP, 0);
    y = run_once(&L, &in, x2, &outs, 0);
    CHECK(y && fabsf(y[0] - 1.5f) < 1e-6f && fabsf(y[1] - 3.0f) < 1e-6f && fabsf(y[2] - 4.0f) < 1e-6f,
          "avgpool exclude pad: %g %g %g", y[0], y[1], y[2]);
    free(y);

    /* Adaptive average, upsampling: windows floor(i*3/5) .. ceil((i+1)*3/5) */
    layer_init(&L, "AdaptiveAvgPool1d");
    set_int(&L, ADAPT_SIZE, 5);
    in = sr_shape_make(2, (int64_t[]){1, 3});
    float x3[3] = {1, 2, 4};
    y = run_once(&L, &in, x3, &outs, 0);
    float want[5] = {1, 1.5f, 2, 3, 4};
    int ok = y != NULL;
    for (int i = 0; ok && i < 5; i++)
        ok = fabsf(y[i] - want[i]) < 1e-6f;
    CHECK(ok, "adaptive up: %g %g %g %g %g", y[0], y[1], y[2], y[3], y[4]);
    free(y);
}

/* ---- batch norm ----------------------------------------------------------- */

static void test_batchnorm(void)
{
    sr_layer L;
    char err[SR_ERRLEN];
    layer_init(&L, "BatchNorm2d");
    set_int(&L, BN_NUM, 32);
    expect_shape_error(&L, sr_shape_make(4, (int64_t[]){2, 16, 3, 3}), "layer 3 (Conv2d)", 0,
                       "BatchNorm2d(num_features=32) expects 32 channels, but input [2, 16, 3, 3] (from layer 3 (Conv2d)) has 16; "
                       "hint: num_features should be 16", 1);
    expect_shape_error(&L, sr_shape_make(3, (int64_t[]){32, 3, 3}), NULL, 0, "add a batch dimension", 0);
    set_int(&L, BN_NUM, 3);
    expect_shape_error(&L, sr_shape_make(4, (int64_t[]){1, 3, 1, 1}), NULL, 1,
                       "Expected more than 1 value per channel when training", 1);
    sr_shape out;
    sr_shapeinfo info = {0};
    CHECK(shape_of(&L, sr_shape_make(4, (int64_t[]){1, 3, 1, 1}), &out, &info, err) == SR_OK && info.batch_dim0,
          "eval with one value is fine: %s", err);
    info = (sr_shapeinfo){.training = 1};
    shape_of(&L, sr_shape_make(4, (int64_t[]){4, 3, 2, 2}), &out, &info, err);
    CHECK(!info.batch_dim0, "training statistics span the batch: no chunking");

    /* no weights and no running stats: PyTorch never checks num_features */
    layer_init(&L, "BatchNorm1d");
    set_int(&L, BN_NUM, 4);
    set_bool(&L, BN_AFFINE, 0);
    set_bool(&L, BN_TRACK, 0);
    info = (sr_shapeinfo){0};
    CHECK(shape_of(&L, sr_shape_make(2, (int64_t[]){5, 3}), &out, &info, err) == SR_OK, "untracked: %s", err);
    sr_paramdecl p[SR_MAXPARAMS];
    CHECK(L.type->params(&L, p) == 0, "affine=False, track_running_stats=False: no state");

    /* state_dict order and the 0-d int64 counter */
    layer_init(&L, "BatchNorm1d");
    set_int(&L, BN_NUM, 2);
    int n = L.type->params(&L, p);
    CHECK(n == 5 && !strcmp(p[0].name, "weight") && !strcmp(p[1].name, "bias") && !strcmp(p[2].name, "running_mean") &&
              !strcmp(p[3].name, "running_var") && !strcmp(p[4].name, "num_batches_tracked") && p[4].dtype == SR_I64 &&
              p[4].shape.ndim == 0 && p[2].buffer && !p[1].buffer,
          "batchnorm params");

    /* momentum=None over three batches: the running mean is the plain
     * average of the three batch means, the variance of the unbiased ones */
    set_none(&L, BN_MOMENTUM);
    set_bool(&L, BN_AFFINE, 0);
    alloc_params(&L);
    float *rm = sr_f32(&L.param[0]), *rv = sr_f32(&L.param[1]);
    rm[0] = rm[1] = 123.0f; /* overwritten entirely by the first batch */
    rv[0] = rv[1] = 9.0f;
    sr_shape in = sr_shape_make(2, (int64_t[]){4, 2});
    float batches[3][8] = {{1, 0, 2, 0, 3, 0, 4, 8}, {0, 1, 0, 1, 0, 1, 4, 1}, {-2, 5, 2, 5, 0, 5, 0, 5}};
    double mean0 = 0, var0 = 0;
    for (int b = 0; b < 3; b++) {
        float *y = run_once(&L, &in, batches[b], &out, 1);
        double m = 0, ss = 0;
        for (int i = 0; i < 4; i++)
            m += batches[b][2 * i] / 4.0;
        for (int i = 0; i < 4; i++)
            ss += (batches[b][2 * i] - m) * (batches[b][2 * i] - m);
        mean0 += m / 3;
        var0 += ss / 3 / 3;
        if (b == 0) {
            /* normalised with the biased variance */
            double want = (1 - m) / sqrt(ss / 4 + 1e-5);
            CHECK(y && fabs(y[0] - want) < 1e-5, "train output %g, want %g", y ? y[0] : 0, want);
        }
        free(y);
    }
    CHECK(*sr_i64(&L.param[2]) == 3, "num_batches_tracked %lld", (long long)*sr_i64(&L.param[2]));
    CHECK(fabs(rm[0] - mean0) < 1e-6 && fabs(rv[0] - var0) < 1e-5, "cumulative average: %g %g, want %g %g", rm[0],
          rv[0], mean0, var0);
    /* an empty batch counts but leaves the statistics alone, as in PyTorch */
    in.d[0] = 0;
    float save = rm[0];
    float *y = run_once(&L, &in, batches[0], &out, 1);
    free(y);
    CHECK(*sr_i64(&L.param[2]) == 4 && rm[0] == save, "empty batch: %lld %g", (long long)*sr_i64(&L.param[2]), rm[0]);
    free_params(&L);
}

/* ---- Linear: the GEMV and packed GEMM kernels against a double reference ----
 * Shapes cover the GEMM's row tiles (12) and their remainders, partial
 * column panels (32), several K blocks (192), and work enough for a second
 * thread (split by panels or, for few panels, by rows). */
static void test_linear_rows(void)
{
    sr_layer relu;
    layer_init(&relu, "ReLU");
    int bad = 0, ran = 0, invariant = 0, single = 0;
    for (int iter = 0; iter < 90; iter++) {
        sr_layer L;
        layer_init(&L, "Linear");
        int big = iter % 3 == 1, wide = iter % 9 == 0; /* wide: one row, split over threads */
        int64_t K = big || wide ? irand(1, 450) : irand(1, 70), N = big ? irand(1, 100) : wide ? irand(200, 300) : irand(1, 45);
        int64_t M = big ? irand(2, 60) : iter % 3 == 2 ? irand(2, 5) : 1;
        int bias = iter % 3 != 0;
        set_int(&L, LINEAR_IN, K);
        set_int(&L, LINEAR_OUT, N);
        set_bool(&L, LINEAR_BIAS, bias);
        alloc_params(&L);
        sr_shape in = {.ndim = 2, .d = {M, K}};
        float *x = malloc((size_t)(M * K) * sizeof *x), *r = malloc((size_t)(M * N) * sizeof *r);
        for (int64_t i = 0; i < M * K; i++)
            x[i] = (float)(urand() * 2 - 1);
        int fused = iter % 2;
        for (int64_t m = 0; m < M; m++)
            for (int64_t o = 0; o < N; o++) {
                double acc = bias ? sr_f32(&L.param[1])[o] : 0;
                for (int64_t k = 0; k < K; k++)
                    acc += (double)sr_f32(&L.param[0])[o * K + k] * x[m * K + k];
                r[m * N + o] = (float)(fused && acc < 0 ? 0 : acc);
            }
        /* each kernel (cblas, AVX2, AVX-512), one and two threads, and a
         * second call in the same run, which goes through the rows backwards */
        for (int level = 0; level <= 2; level++)
            for (int threads = 1; threads <= 2; threads++) {
                sr_cpu_force(level);
                sr_shape outs;
                float *y = run_fused(&L, &in, x, &outs, 0, threads, fused ? &relu : NULL);
                double maxerr = 0;
                for (int64_t i = 0; y && i < M * N; i++) {
                    double e = fabs((double)y[i] - r[i]) / (1e-5 + 1e-5 * fabs(r[i]));
                    maxerr = e > maxerr ? e : maxerr;
                }
                ran++;
                if (!y || maxerr > 1) {
                    bad++;
                    CHECK(0, "Linear(%lld, %lld) on [%lld, %lld], level %d, %d threads, fused %d: error %.3g of tolerance",
                          (long long)K, (long long)N, (long long)M, (long long)K, level, threads, fused, maxerr);
                }
                /* a row's result does not depend on the rows around it
                 * (the contract's --batch-size promise) in the packed GEMM:
                 * the first M-1 rows alone give the same bits */
                if (y && M > 2 && threads == 2 && level == SR_CPU_AVX512 && sr_gemm_available()) {
                    sr_shape in1 = {.ndim = 2, .d = {M - 1, K}}, outs1;
                    float *y1 = run_fused(&L, &in1, x, &outs1, 0, 1, fused ? &relu : NULL);
                    CHECK(y1 && !memcmp(y, y1, (size_t)((M - 1) * N) * sizeof *y),
                          "Linear(%lld, %lld) level %d: rows 0..%lld differ between batches of %lld and %lld",
                          (long long)K, (long long)N, level, (long long)M - 2, (long long)M, (long long)M - 1);
                    invariant++;
                    free(y1);
                }
                /* one row alone (both the first, unpacked call and the
                 * packed second) gives the bits the GEMM gives it in a batch */
                if (y && M == 1 && level == SR_CPU_AVX512 && sr_gemm_available()) {
                    sr_shape in3 = {.ndim = 2, .d = {3, K}}, outs3;
                    float *x3 = malloc((size_t)(3 * K) * sizeof *x3);
                    memcpy(x3, x, (size_t)K * sizeof *x3);
                    for (int64_t i = K; i < 3 * K; i++)
                        x3[i] = (float)(urand() * 2 - 1);
                    float *y3 = run_fused(&L, &in3, x3, &outs3, 0, threads, fused ? &relu : NULL);
                    CHECK(y3 && !memcmp(y, y3, (size_t)N * sizeof *y),
                          "Linear(%lld, %lld), %d threads: one row alone differs from the same row in a batch of 3",
                          (long long)K, (long long)N, threads);
                    single++;
                    free(y3);
                    free(x3);
                }
                free(y);
            }
        sr_cpu_force(-1);
        free(x);
        free(r);
        free_params(&L);
    }
    CHECK(bad == 0, "%d of %d Linear runs differ from the reference", bad, ran);
    if (sr_gemm_available())
        CHECK(invariant > 20 && single > 40, "only %d and %d batch-invariance checks", invariant, single);
}

int main(void)
{
    test_linear_rows();
    test_conv_random();
    test_conv_layouts();
    test_conv_params();
    test_conv_validate();
    test_conv_shape_messages();
    test_pool_shapes();
    test_pool_values();
    test_maxpool2x2();
    test_maxpool2x2_small();
    test_batchnorm();
    return unit_summary();
}
