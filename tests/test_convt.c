/*
 * test_convt.c - ConvTranspose1d/2d/3d, Conv3d and the lazy convolutions
 * against direct double-precision references: random geometries through
 * every kernel path (GEMM by border class, GEMM over all taps, the planar
 * path for few output channels, and cblas with the AVX-512 kernels held
 * back), the same bits for a sample alone, in a batch and on two threads,
 * a following BatchNorm folded over the right weight axis, PyTorch's
 * default initialisation bounds, the argument and shape diagnostics, and
 * (with Conv1d/Conv2d) that prepare() builds what forward() keeps.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "init.h"
#include "layers/layers.h"
#include "layertest.h"
#include "unit.h"

/* ---- building layers by hand ------------------------------------------------ */

/* the last nd of v[3] as the layer's tuple */
static void set_tuple3(sr_layer *L, const char *name, int nd, const int64_t *v)
{
    set_tuple(L, arg_index(L, name), nd, v + 3 - nd);
}

static int prepared_packs; /* prepare() calls that built something */

/* L's forward on x [in] with `threads` workers, `post` fused and folded
 * weights w/b if given; NaN-filled scratch and output, as SEQRUN_POISON
 * does, so a float nobody wrote shows.  The output (caller frees). */
static float *run(sr_layer *L, const sr_shape *in, const float *x, const sr_shape *out, int threads,
                  const sr_layer *post, const float *w, const float *b)
{
    char err[SR_ERRLEN];
    size_t wl = L->type->workspace ? L->type->workspace(L, in, out) * (size_t)threads : 0;
    float *work = malloc((wl ? wl : 1) * sizeof *work);
    for (size_t i = 0; i < wl; i++)
        work[i] = NAN;
    int64_t n = sr_shape_numel(out);
    float *y = malloc((size_t)(n ? n : 1) * sizeof *y);
    for (int64_t i = 0; i < n; i++)
        y[i] = NAN;
    sr_tensor tin = {.shape = *in, .dtype = SR_F32, .data = (void *)x};
    sr_tensor tout = {.shape = *out, .dtype = SR_F32, .data = y};
    void *cache = NULL;
    sr_ctx ctx = {.work = work, .work_len = wl, .threads = threads, .post = post, .cache = &cache, .weight = w,
                  .bias = b};
    sr_status st = L->type->forward(L, &tin, &tout, &ctx, err);
    CHECK(st == SR_OK, "%s forward: %s", L->type->name, err);
    /* again, with what the first call cached: the same output */
    float *y2 = malloc((size_t)(n ? n : 1) * sizeof *y2);
    memcpy(y2, y, (size_t)n * sizeof *y);
    L->type->forward(L, &tin, &tout, &ctx, err);
    CHECK(!memcmp(y, y2, (size_t)n * sizeof *y), "%s: a second forward with the cached weights differs",
          L->type->name);
    /* what prepare() builds before the threads is what forward() keeps:
     * forward then reads it as it is (replacing it would race between
     * threads) and gives the same bits */
    if (L->type->prepare) {
        void *prepared = NULL;
        ctx.cache = &prepared;
        CHECK(L->type->prepare(L, in, &ctx, err) == SR_OK, "%s prepare: %s", L->type->name, err);
        void *kept = prepared;
        L->type->forward(L, &tin, &tout, &ctx, err);
        CHECK(prepared == kept, "%s: forward() replaced what prepare() built (%s)", L->type->name,
              kept ? "another pack" : "nothing");
        CHECK(!memcmp(y, y2, (size_t)n * sizeof *y), "%s: forward after prepare() differs", L->type->name);
        prepared_packs += kept != NULL;
        free(prepared);
    }
    free(y2);
    free(cache);
    free(work);
    return y;
}

/* ---- references ----------------------------------------------------------------- */

typedef struct {
    int nd;
    int64_t cin, cout, groups, k[3], s[3], p[3], op[3], d[3];
    int64_t n, isp[3], osp[3];
    int bias, transposed;
    const char *mode; /* Conv3d's padding_mode */
} geo;

/* the transposed convolution, scattered, in double; |terms| summed into mag */
static void ref_convt(const geo *G, const float *W, const float *b, const float *x, double *y, double *mag)
{
    int64_t cg = G->cin / G->groups, og = G->cout / G->groups, T = G->k[0] * G->k[1] * G->k[2];
    int64_t Pin = G->isp[0] * G->isp[1] * G->isp[2], Pout = G->osp[0] * G->osp[1] * G->osp[2];
    for (int64_t n = 0; n < G->n; n++)
        for (int64_t o = 0; o < G->cout; o++)
            for (int64_t q = 0; q < Pout; q++) {
                y[(n * G->cout + o) * Pout + q] = b ? b[o] : 0.0;
                mag[(n * G->cout + o) * Pout + q] = b ? fabs(b[o]) : 0.0;
            }
    for (int64_t n = 0; n < G->n; n++)
        for (int64_t c = 0; c < G->cin; c++)
            for (int64_t q = 0; q < Pin; q++) {
                int64_t i0 = q / (G->isp[1] * G->isp[2]), i1 = q / G->isp[2] % G->isp[1], i2 = q % G->isp[2];
                double xv = x[(n * G->cin + c) * Pin + q];
                for (int64_t j = 0; j < og; j++) {
                    int64_t o = c / cg * og + j;
                    for (int64_t a = 0; a < G->k[0]; a++)
                        for (int64_t bb = 0; bb < G->k[1]; bb++)
                            for (int64_t e = 0; e < G->k[2]; e++) {
                                int64_t o0 = i0 * G->s[0] - G->p[0] + a * G->d[0];
                                int64_t o1 = i1 * G->s[1] - G->p[1] + bb * G->d[1];
                                int64_t o2 = i2 * G->s[2] - G->p[2] + e * G->d[2];
                                if (o0 < 0 || o0 >= G->osp[0] || o1 < 0 || o1 >= G->osp[1] || o2 < 0 ||
                                    o2 >= G->osp[2])
                                    continue;
                                double t = xv * W[(c * og + j) * T + (a * G->k[1] + bb) * G->k[2] + e];
                                int64_t idx = (n * G->cout + o) * Pout + (o0 * G->osp[1] + o1) * G->osp[2] + o2;
                                y[idx] += t;
                                mag[idx] += fabs(t);
                            }
                }
            }
}

/* Conv3d, directly, in double (G->p: padding on both sides) */
static void ref_conv3d(const geo *G, const float *W, const float *b, const float *x, double *y, double *mag)
{
    int64_t cg = G->cin / G->groups, og = G->cout / G->groups;
    int64_t Pin = G->isp[0] * G->isp[1] * G->isp[2], Pout = G->osp[0] * G->osp[1] * G->osp[2];
    for (int64_t n = 0; n < G->n; n++)
        for (int64_t o = 0; o < G->cout; o++)
            for (int64_t q = 0; q < Pout; q++) {
                int64_t o0 = q / (G->osp[1] * G->osp[2]), o1 = q / G->osp[2] % G->osp[1], o2 = q % G->osp[2];
                double acc = b ? b[o] : 0.0, m = fabs(acc);
                for (int64_t c = 0; c < cg; c++)
                    for (int64_t a = 0; a < G->k[0]; a++)
                        for (int64_t bb = 0; bb < G->k[1]; bb++)
                            for (int64_t e = 0; e < G->k[2]; e++) {
                                int64_t i0 = ref_pad_src(G->mode, o0 * G->s[0] - G->p[0] + a * G->d[0], G->isp[0]);
                                int64_t i1 = ref_pad_src(G->mode, o1 * G->s[1] - G->p[1] + bb * G->d[1], G->isp[1]);
                                int64_t i2 = ref_pad_src(G->mode, o2 * G->s[2] - G->p[2] + e * G->d[2], G->isp[2]);
                                if (i0 < 0 || i1 < 0 || i2 < 0)
                                    continue;
                                double t = (double)x[(n * G->cin + o / og * cg + c) * Pin +
                                                     (i0 * G->isp[1] + i1) * G->isp[2] + i2] *
                                           W[(((o * cg + c) * G->k[0] + a) * G->k[1] + bb) * G->k[2] + e];
                                acc += t;
                                m += fabs(t);
                            }
                y[(n * G->cout + o) * Pout + q] = acc;
                mag[(n * G->cout + o) * Pout + q] = m;
            }
}

/* ---- the layer for a geometry ----------------------------------------------------- */

static const char *const convt_names[] = {"", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"};

static void build(sr_layer *L, const geo *G)
{
    if (G->transposed) {
        layer_init(L, convt_names[G->nd]);
        set_tuple3(L, "output_padding", G->nd, G->op);
    } else {
        layer_init(L, "Conv3d");
        set_str(L, arg_index(L, "padding_mode"), G->mode);
    }
    set_int(L, arg_index(L, "in_channels"), G->cin);
    set_int(L, arg_index(L, "out_channels"), G->cout);
    set_tuple3(L, "kernel_size", G->nd, G->k);
    set_tuple3(L, "stride", G->nd, G->s);
    set_tuple3(L, "padding", G->nd, G->p);
    set_tuple3(L, "dilation", G->nd, G->d);
    set_int(L, arg_index(L, "groups"), G->groups);
    set_bool(L, arg_index(L, "bias"), G->bias);
}

static sr_shape in_shape(const geo *G, int64_t n)
{
    sr_shape s = {.ndim = G->nd + 2};
    s.d[0] = n;
    s.d[1] = G->cin;
    for (int i = 0; i < G->nd; i++)
        s.d[2 + i] = G->isp[3 - G->nd + i];
    return s;
}

static void apply_relu(double *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = y[i] > 0 ? y[i] : 0;
}

/* One geometry through L: the output against the reference, and the same
 * bits per sample alone, in the batch and on two threads. */
static void check_geometry(const geo *Gin, int relu, const char *what)
{
    geo G = *Gin;
    sr_layer L, R;
    build(&L, &G);
    layer_init(&R, "ReLU");
    char err[SR_ERRLEN];
    if (L.type->validate(&L, err) != SR_OK) {
        CHECK(0, "%s: validate: %s", what, err);
        sr_layer_clear(&L);
        sr_layer_clear(&R);
        return;
    }
    sr_shape in = in_shape(&G, G.n), out = in;
    sr_shapeinfo info = {0};
    if (L.type->shape(&L, &in, &out, &info, err) != SR_OK) {
        CHECK(0, "%s: shape: %s", what, err);
        sr_layer_clear(&L);
        sr_layer_clear(&R);
        return;
    }
    for (int i = 0; i < 3; i++)
        G.osp[i] = i < 3 - G.nd ? 1 : out.d[2 + i - (3 - G.nd)];
    alloc_params(&L);
    int64_t nin = sr_shape_numel(&in), nout = sr_shape_numel(&out), ps = nout / G.n, pin = nin / G.n;
    float *x = malloc((size_t)nin * sizeof *x);
    for (int64_t i = 0; i < nin; i++)
        x[i] = (float)(urand() * 2 - 1);
    const float *W = sr_f32(&L.param[0]), *b = G.bias ? sr_f32(&L.param[1]) : NULL;
    double *ref = malloc((size_t)nout * sizeof *ref), *mag = malloc((size_t)nout * sizeof *mag);
    if (G.transposed)
        ref_convt(&G, W, b, x, ref, mag);
    else
        ref_conv3d(&G, W, b, x, ref, mag);
    if (relu)
        apply_relu(ref, nout);
    const sr_layer *post = relu ? &R : NULL;
    float *y1 = run(&L, &in, x, &out, 1, post, NULL, NULL);
    float *y2 = run(&L, &in, x, &out, 2, post, NULL, NULL);
    int bad = -1;
    for (int64_t i = 0; i < nout && bad < 0; i++)
        if (!(fabs((double)y1[i] - ref[i]) <= 1e-5 * mag[i] + 1e-6))
            bad = (int)i;
    CHECK(bad < 0, "%s: output %d is %.8g, reference %.8g", what, bad, bad >= 0 ? y1[bad] : 0.0,
          bad >= 0 ? ref[bad] : 0.0);
    CHECK(!memcmp(y1, y2, (size_t)nout * sizeof *y1), "%s: 2 threads give other bits than 1", what);
    int same = 1;
    for (int64_t n = 0; n < G.n; n++) {
        sr_shape i1 = in_shape(&G, 1), o1 = out;
        o1.d[0] = 1;
        float *ys = run(&L, &i1, x + n * pin, &o1, 1, post, NULL, NULL);
        same &= !memcmp(ys, y1 + n * ps, (size_t)ps * sizeof *ys);
        free(ys);
    }
    CHECK(same, "%s: a sample alone gets other bits than in a batch of %lld", what, (long long)G.n);
    /* without AVX-512: cblas and im2col / col2im */
    if (sr_cpu_level() == SR_CPU_AVX512) {
        sr_cpu_force(SR_CPU_AVX2);
        float *yb = run(&L, &in, x, &out, 1, post, NULL, NULL);
        sr_cpu_force(-1);
        bad = -1;
        for (int64_t i = 0; i < nout && bad < 0; i++)
            if (!(fabs((double)yb[i] - ref[i]) <= 1e-5 * mag[i] + 1e-6))
                bad = (int)i;
        CHECK(bad < 0, "%s (cblas): output %d is %.8g, reference %.8g", what, bad, bad >= 0 ? yb[bad] : 0.0,
              bad >= 0 ? ref[bad] : 0.0);
        free(yb);
    }
    free(y1);
    free(y2);
    free(ref);
    free(mag);
    free(x);
    free_params(&L);
    sr_layer_clear(&L);
    sr_layer_clear(&R);
}

/* A random valid transposed convolution; og picks the kernel path. */
static geo random_convt(int64_t og)
{
    geo G = {.transposed = 1, .nd = (int)irand(1, 3), .mode = "zeros"};
    G.groups = irand(1, 3);
    G.cin = G.groups * irand(1, 9);
    G.cout = G.groups * og;
    G.bias = urand() < 0.7;
    G.n = irand(1, 5);
    for (int i = 0; i < 3; i++) {
        if (i < 3 - G.nd) {
            G.k[i] = G.s[i] = G.d[i] = G.isp[i] = 1;
            continue;
        }
        G.k[i] = irand(1, G.nd == 3 ? 3 : 5);
        G.s[i] = irand(1, 3);
        G.d[i] = irand(1, 2);
        G.p[i] = irand(0, (G.d[i] * (G.k[i] - 1)) / 2 + 1);
        int64_t lim = (G.s[i] > G.d[i] ? G.s[i] : G.d[i]) - 1;
        G.op[i] = irand(0, lim);
        G.isp[i] = irand(1, G.nd == 3 ? 5 : G.nd == 2 ? 9 : 20);
        /* make sure there is an output */
        while ((G.isp[i] - 1) * G.s[i] - 2 * G.p[i] + G.d[i] * (G.k[i] - 1) + G.op[i] + 1 < 1)
            G.isp[i]++;
    }
    return G;
}

static void test_random_convt(void)
{
    /* og < 16: the planar path (at width >= 8); 32, 64: the border-class
     * GEMM; 40, 20: a partial block over all taps */
    static const int64_t ogs[] = {1, 3, 5, 13, 16, 20, 32, 40, 64};
    char what[200];
    for (int t = 0; t < 90; t++) {
        int64_t og = ogs[t % (int)(sizeof ogs / sizeof *ogs)];
        geo G = random_convt(og);
        if (og < 16 && urand() < 0.5 && G.nd >= 2)
            G.isp[2] = irand(8, 40); /* wide enough for the planar path */
        snprintf(what, sizeof what, "ConvTranspose%dd #%d (cin %lld, og %lld, groups %lld, k %lld/%lld/%lld, s %lld/%lld/%lld, in %lldx%lldx%lld)",
                 G.nd, t, (long long)G.cin, (long long)og, (long long)G.groups, (long long)G.k[0], (long long)G.k[1],
                 (long long)G.k[2], (long long)G.s[0], (long long)G.s[1], (long long)G.s[2], (long long)G.isp[0],
                 (long long)G.isp[1], (long long)G.isp[2]);
        check_geometry(&G, t % 3 == 0, what);
    }
    /* W11's shapes, batch 3: stride 1 from 1x1, stride 2 padding 1 */
    geo w = {.transposed = 1, .nd = 2, .mode = "zeros", .cin = 20, .cout = 64, .groups = 1, .n = 3,
             .k = {1, 4, 4}, .s = {1, 1, 1}, .d = {1, 1, 1}, .isp = {1, 1, 1}};
    check_geometry(&w, 1, "DCGAN layer 1");
    w.cin = 64, w.cout = 32, w.s[1] = w.s[2] = 2, w.p[1] = w.p[2] = 1, w.isp[1] = w.isp[2] = 4;
    check_geometry(&w, 1, "DCGAN 4x4 stride 2");
    w.cin = 16, w.cout = 3, w.isp[1] = w.isp[2] = 16;
    check_geometry(&w, 0, "DCGAN to RGB");
    /* a large input: GEMM calls over part of one sample's rows */
    geo big = {.transposed = 1, .nd = 2, .mode = "zeros", .cin = 8, .cout = 40, .groups = 1, .n = 2, .bias = 1,
               .k = {1, 3, 3}, .s = {1, 2, 2}, .d = {1, 1, 1}, .isp = {1, 30, 37}};
    check_geometry(&big, 0, "400+ input pixels");
}

static void test_random_conv3d(void)
{
    static const char *const modes[] = {"zeros", "reflect", "replicate", "circular"};
    char what[160];
    for (int t = 0; t < 40; t++) {
        geo G = {.nd = 3, .mode = modes[t % 4]};
        G.groups = irand(1, 2);
        G.cin = G.groups * irand(1, 4);
        G.cout = G.groups * irand(1, 9);
        G.bias = urand() < 0.7;
        G.n = irand(1, 3);
        for (int i = 0; i < 3; i++) {
            G.k[i] = irand(1, 3);
            G.s[i] = irand(1, 2);
            G.d[i] = irand(1, 2);
            G.isp[i] = irand(3, 7);
            G.p[i] = irand(0, 2);
            if (G.p[i] >= G.isp[i])
                G.p[i] = G.isp[i] - 1;
            while (G.isp[i] + 2 * G.p[i] < G.d[i] * (G.k[i] - 1) + 1)
                G.isp[i]++;
        }
        snprintf(what, sizeof what, "Conv3d #%d (%s, cin %lld, cout %lld, groups %lld)", t, G.mode,
                 (long long)G.cin, (long long)G.cout, (long long)G.groups);
        check_geometry(&G, t % 2, what);
    }
}

/* ---- BatchNorm folded in: output channel o = g*og + j scales weight[g*cg + i, j] -------- */

static void test_fold(void)
{
    for (int t = 0; t < 6; t++) {
        geo G = random_convt(t < 3 ? 4 : 33);
        G.groups = 2;
        G.cin = 2 * irand(1, 4);
        G.cout = 2 * (t < 3 ? 4 : 33);
        G.bias = t % 2;
        sr_layer L;
        build(&L, &G);
        char err[SR_ERRLEN];
        sr_shape in = in_shape(&G, G.n), out = in;
        sr_shapeinfo info = {0};
        if (L.type->validate(&L, err) != SR_OK || L.type->shape(&L, &in, &out, &info, err) != SR_OK) {
            CHECK(0, "fold #%d: %s", t, err);
            sr_layer_clear(&L);
            continue;
        }
        alloc_params(&L);
        int64_t C = L.type->fold(&L, NULL, NULL, NULL, NULL), nw = sr_shape_numel(&L.param[0].shape);
        CHECK(C == G.cout, "fold asks for %lld channels, the layer has %lld", (long long)C, (long long)G.cout);
        CHECK(L.type->channel_dim(&L, &out) == 1, "channel_dim of a batched output is 1");
        double *sc = malloc((size_t)(2 * C) * sizeof *sc);
        for (int64_t o = 0; o < 2 * C; o++)
            sc[o] = urand() * 2 - 0.5;
        float *w = malloc((size_t)(nw + C) * sizeof *w);
        CHECK(L.type->fold(&L, sc, sc + C, w, w + nw) == C, "fold");
        int64_t nin = sr_shape_numel(&in), nout = sr_shape_numel(&out), P = nout / G.n / C;
        float *x = malloc((size_t)nin * sizeof *x);
        for (int64_t i = 0; i < nin; i++)
            x[i] = (float)(urand() * 2 - 1);
        float *y = run(&L, &in, x, &out, 1, NULL, NULL, NULL), *yf = run(&L, &in, x, &out, 1, NULL, w, w + nw);
        int ok = 1;
        for (int64_t n = 0; n < G.n; n++)
            for (int64_t o = 0; o < C; o++)
                for (int64_t q = 0; q < P; q++) {
                    int64_t i = (n * C + o) * P + q;
                    double want = y[i] * sc[o] + sc[C + o];
                    ok &= fabs(yf[i] - want) <= 1e-4 * (fabs(want) + 1);
                }
        CHECK(ok, "fold #%d (og %lld): folded weights differ from the affine map after the layer", t,
              (long long)(G.cout / 2));
        free(x);
        free(y);
        free(yf);
        free(w);
        free(sc);
        free_params(&L);
        sr_layer_clear(&L);
    }
}

/* ---- default initialisation: PyTorch's fan_in is weight.size(1) * prod(kernel) ---- */

static void test_init(void)
{
    sr_layer L;
    layer_init(&L, "ConvTranspose2d");
    set_int(&L, arg_index(&L, "in_channels"), 6);
    set_int(&L, arg_index(&L, "out_channels"), 4);
    set_tuple3(&L, "kernel_size", 2, (int64_t[]){1, 3, 2});
    set_int(&L, arg_index(&L, "groups"), 2);
    char err[SR_ERRLEN];
    CHECK(L.type->validate(&L, err) == SR_OK, "validate: %s", err);
    sr_paramdecl p[SR_MAXPARAMS];
    int np = L.type->params(&L, p);
    CHECK(np == 2 && !strcmp(p[0].name, "weight") && !strcmp(p[1].name, "bias"), "weight, bias");
    CHECK(p[0].shape.ndim == 4 && p[0].shape.d[0] == 6 && p[0].shape.d[1] == 2 && p[0].shape.d[2] == 3 &&
          p[0].shape.d[3] == 2, "weight [in, out/groups, kh, kw]: %s", sr_shp(&p[0].shape));
    /* fan_in = 2 * 3 * 2 = 12 */
    double bound = 1.0 / sqrt(12.0);
    CHECK(p[1].init.kind == SR_INIT_UNIFORM && fabs(p[1].init.b - bound) < 1e-12 && fabs(p[1].init.a + bound) < 1e-12,
          "bias bound 1/sqrt(12), got %g", p[1].init.b);
    sr_tensor w;
    sr_tensor_alloc(&w, &p[0].shape, SR_F32, err);
    sr_rng r;
    sr_rng_seed(&r, 1, "0.weight");
    CHECK(sr_init_fill(&w, &p[0].init, &r, err) == SR_OK, "fill: %s", err);
    double mx = 0;
    for (int64_t i = 0; i < sr_shape_numel(&w.shape); i++)
        mx = fabs(sr_f32(&w)[i]) > mx ? fabs(sr_f32(&w)[i]) : mx;
    /* kaiming_uniform(a=sqrt(5)) over fan_in 12 is U(-1/sqrt(12), 1/sqrt(12)) */
    CHECK(mx <= bound && mx > 0.8 * bound, "weight within U(-1/sqrt(12), +): max %g", mx);
    sr_tensor_free(&w);
    sr_layer_clear(&L);
    layer_init(&L, "ConvTranspose3d");
    set_int(&L, arg_index(&L, "in_channels"), 3);
    set_int(&L, arg_index(&L, "out_channels"), 5);
    set_int(&L, arg_index(&L, "kernel_size"), 2);
    np = L.type->params(&L, p);
    CHECK(np == 2 && p[0].shape.ndim == 5 && fabs(p[1].init.b - 1.0 / sqrt(40.0)) < 1e-12,
          "ConvTranspose3d: weight [3, 5, 2, 2, 2], bias bound 1/sqrt(40)");
    set_bool(&L, arg_index(&L, "bias"), 0);
    CHECK(L.type->params(&L, p) == 1, "bias=False: weight alone");
    sr_layer_clear(&L);
    layer_init(&L, "Conv3d");
    set_int(&L, arg_index(&L, "in_channels"), 4);
    set_int(&L, arg_index(&L, "out_channels"), 6);
    set_tuple3(&L, "kernel_size", 3, (int64_t[]){1, 2, 3});
    set_int(&L, arg_index(&L, "groups"), 2);
    np = L.type->params(&L, p);
    CHECK(np == 2 && p[0].shape.d[0] == 6 && p[0].shape.d[1] == 2 && fabs(p[1].init.b - 1.0 / sqrt(12.0)) < 1e-12,
          "Conv3d: weight [6, 2, 1, 2, 3], bias bound 1/sqrt(12)");
    sr_layer_clear(&L);
}

/* ---- diagnostics ------------------------------------------------------------------ */

static int has(const char *s, const char *part) { return strstr(s, part) != NULL; }

static void test_errors(void)
{
    sr_layer L;
    char err[SR_ERRLEN];
    layer_init(&L, "ConvTranspose2d");
    set_int(&L, arg_index(&L, "in_channels"), 8);
    set_int(&L, arg_index(&L, "out_channels"), 4);
    set_int(&L, arg_index(&L, "kernel_size"), 3);
    set_int(&L, arg_index(&L, "stride"), 2);
    set_int(&L, arg_index(&L, "output_padding"), 2);
    CHECK(L.type->validate(&L, err) == SR_EUSAGE && has(err, "smaller than either stride or dilation") &&
          has(err, "output_padding=(1, 1) at most"), "output_padding >= stride: %s", err);
    set_int(&L, arg_index(&L, "dilation"), 3);
    CHECK(L.type->validate(&L, err) == SR_OK, "output_padding below the dilation is fine: %s", err);
    set_int(&L, arg_index(&L, "dilation"), 1);
    set_int(&L, arg_index(&L, "output_padding"), -1);
    CHECK(L.type->validate(&L, err) == SR_EUSAGE && has(err, "negative output_padding"), "%s", err);
    set_int(&L, arg_index(&L, "output_padding"), 1);
    set_str(&L, arg_index(&L, "padding_mode"), "reflect");
    CHECK(L.type->validate(&L, err) == SR_EUSAGE && has(err, "Only \"zeros\" padding mode"), "%s", err);
    set_str(&L, arg_index(&L, "padding_mode"), "zeros");
    set_int(&L, arg_index(&L, "groups"), 3);
    CHECK(L.type->validate(&L, err) == SR_EUSAGE && has(err, "divisible by groups"), "%s", err);
    set_int(&L, arg_index(&L, "groups"), 1);
    CHECK(L.type->validate(&L, err) == SR_OK, "%s", err);

    sr_shape in = {.ndim = 4, .d = {2, 6, 5, 5}}, out;
    sr_shapeinfo info = {0};
    CHECK(L.type->shape(&L, &in, &out, &info, err) == SR_ESHAPE && has(err, "in_channels should be 6") &&
          info.out_known && out.d[1] == 4 && out.d[2] == 12, "in_channels mismatch: %s", err);
    in = (sr_shape){.ndim = 2, .d = {2, 8}};
    CHECK(L.type->shape(&L, &in, &out, &info, err) == SR_ESHAPE && has(err, "Unflatten: [1, [8, 1, 1]]"),
          "latent vector: %s", err);
    set_int(&L, arg_index(&L, "padding"), 4);
    set_int(&L, arg_index(&L, "output_padding"), 0);
    in = (sr_shape){.ndim = 4, .d = {2, 8, 2, 2}};
    info = (sr_shapeinfo){0};
    /* (2 - 1) * 2 - 8 + 2 + 1 = -3 */
    CHECK(L.type->shape(&L, &in, &out, &info, err) == SR_ESHAPE && !info.out_known && has(err, "-3x-3") &&
          has(err, "padding=(2, 2) or less") && has(err, "at least 4x4"), "empty output: %s", err);
    in.d[2] = in.d[3] = 4;
    CHECK(L.type->shape(&L, &in, &out, &info, err) == SR_OK && out.d[2] == 1, "4x4 gives 1x1: %s", err);
    sr_layer_clear(&L);
}

/* ---- lazy convolutions: the full type's bits ---------------------------------------- */

static void test_lazy(void)
{
    static const char *const pairs[][2] = {{"LazyConvTranspose2d", "ConvTranspose2d"}, {"LazyConv2d", "Conv2d"},
                                           {"LazyConv1d", "Conv1d"}, {"LazyConv3d", "Conv3d"},
                                           {"LazyConvTranspose1d", "ConvTranspose1d"},
                                           {"LazyConvTranspose3d", "ConvTranspose3d"}};
    for (int t = 0; t < 6; t++) {
        sr_layer Z, F;
        layer_init(&Z, pairs[t][0]);
        layer_init(&F, pairs[t][1]);
        int nd = Z.type->args[arg_index(&Z, "kernel_size")].tlen;
        set_int(&Z, arg_index(&Z, "out_channels"), 6);
        set_int(&Z, arg_index(&Z, "kernel_size"), 3);
        set_int(&Z, arg_index(&Z, "stride"), 2);
        set_int(&Z, arg_index(&Z, "groups"), 2);
        set_int(&F, arg_index(&F, "in_channels"), 4);
        set_int(&F, arg_index(&F, "out_channels"), 6);
        set_int(&F, arg_index(&F, "kernel_size"), 3);
        set_int(&F, arg_index(&F, "stride"), 2);
        set_int(&F, arg_index(&F, "groups"), 2);
        char err[SR_ERRLEN];
        CHECK(Z.type->validate(&Z, err) == SR_OK && F.type->validate(&F, err) == SR_OK, "%s: %s", pairs[t][0], err);
        CHECK(Z.type->flags & SR_LF_LAZY, "%s is lazy", pairs[t][0]);
        sr_shape in = {.ndim = nd + 2, .d = {3, 4, 7, 7, 7}}, out, fout;
        int64_t lazy = -1;
        sr_shapeinfo info = {.lazy = &lazy};
        CHECK(Z.type->shape(&Z, &in, &out, &info, err) == SR_OK && lazy == 4, "%s takes 4 channels: %s",
              pairs[t][0], err);
        Z.lazy_in = lazy;
        sr_shapeinfo fi = {0};
        F.type->shape(&F, &in, &fout, &fi, err);
        CHECK(sr_shape_eq(&out, &fout), "%s: the full type's output shape", pairs[t][0]);
        alloc_params(&F);
        Z.nparam = Z.type->params(&Z, Z.decl);
        CHECK(Z.nparam == F.nparam && sr_shape_eq(&Z.decl[0].shape, &F.decl[0].shape), "%s: the full type's weight",
              pairs[t][0]);
        for (int k = 0; k < Z.nparam; k++)
            Z.param[k] = F.param[k]; /* shared, not owned */
        char r[256];
        sr_layer_repr(&Z, r, sizeof r);
        CHECK(!strncmp(r, pairs[t][0], strlen(pairs[t][0])) && has(r, "(4, 6, kernel_size="), "repr %s", r);
        int64_t nin = sr_shape_numel(&in);
        float *x = malloc((size_t)nin * sizeof *x);
        for (int64_t i = 0; i < nin; i++)
            x[i] = (float)(urand() * 2 - 1);
        float *yz = run(&Z, &in, x, &out, 2, NULL, NULL, NULL), *yf = run(&F, &in, x, &out, 2, NULL, NULL, NULL);
        CHECK(!memcmp(yz, yf, (size_t)sr_shape_numel(&out) * sizeof *yz), "%s: the full type's bits", pairs[t][0]);
        /* a second input with other channels: the first fixed them */
        sr_shape in5 = in;
        in5.d[1] = 5;
        info = (sr_shapeinfo){.lazy = &lazy};
        CHECK(Z.type->shape(&Z, &in5, &out, &info, err) == SR_ESHAPE && has(err, "took in_channels=4"),
              "%s reused: %s", pairs[t][0], err);
        lazy = -1;
        Z.lazy_in = -1;
        info = (sr_shapeinfo){.lazy = &lazy};
        CHECK(Z.type->shape(&Z, &in5, &out, &info, err) == SR_ESHAPE && has(err, "divisible by groups"),
              "%s: 5 channels in 2 groups: %s", pairs[t][0], err);
        free(x);
        free(yz);
        free(yf);
        free_params(&F);
        Z.nparam = 0;
        sr_layer_clear(&F);
        memset(Z.param, 0, sizeof Z.param);
        sr_layer_clear(&Z);
    }
}

/* ---- prepare: Conv1d and Conv2d through every kernel ------------------------------
 * run() checks that what prepare() builds is what forward() keeps.  Here
 * the geometries reach each kernel conv.c chooses: output-channel vectors
 * (16+ per group, narrow outputs, many taps), 1x1 on 64+ pixels,
 * depthwise and few channels per group (few outputs with long sums too),
 * the direct kernel (AVX-512 and AVX2), im2col and cblas; plain, with ReLU
 * fused and with folded weights. */
static void test_prepare_conv(void)
{
    static const char *const modes[] = {"zeros", "zeros", "reflect", "replicate", "circular"};
    static const int levels[] = {SR_CPU_AVX512, SR_CPU_AVX2, SR_CPU_BASE};
    sr_layer R;
    layer_init(&R, "ReLU");
    int before = prepared_packs;
    for (int lv = 0; lv < 3; lv++) {
        if (levels[lv] > sr_cpu_level())
            continue;
        sr_cpu_force(levels[lv]);
        for (int t = 0; t < 60; t++) {
            int nd = t % 4 == 3 ? 1 : 2;
            sr_layer L;
            layer_init(&L, nd == 2 ? "Conv2d" : "Conv1d");
            /* every third depthwise, else 1..40 output channels per group */
            int64_t groups = t % 3 == 0 ? irand(1, 24) : irand(1, 2), cg = t % 3 == 0 ? 1 : irand(1, 12);
            int64_t og = t % 3 == 0 ? 1 : irand(1, 40), k[3] = {1, 1, 1}, st[3] = {1, 1, 1}, pd[3] = {0, 0, 0};
            int64_t dl[3] = {1, 1, 1}, isp[3] = {1, 1, 1};
            for (int i = 3 - nd; i < 3; i++) {
                k[i] = irand(1, 5);
                st[i] = irand(1, 2);
                dl[i] = irand(1, 2);
                isp[i] = irand(dl[i] * (k[i] - 1) + 1, 20);
                pd[i] = irand(0, isp[i] - 1 < 2 ? isp[i] - 1 : 2);
            }
            if (t % 10 == 8) { /* few outputs with long sums (W10's 512 -> 1 at 4x4) */
                groups = 1, cg = irand(16, 64), og = irand(1, 3);
                for (int i = 3 - nd; i < 3; i++)
                    k[i] = isp[i] = 4, st[i] = dl[i] = 1, pd[i] = 0;
            }
            if (t % 10 == 4) /* 1x1 over 64+ pixels */
                for (int i = 3 - nd; i < 3; i++)
                    k[i] = st[i] = dl[i] = 1, pd[i] = 0, isp[i] = irand(8, 16);
            set_int(&L, arg_index(&L, "in_channels"), groups * cg);
            set_int(&L, arg_index(&L, "out_channels"), groups * og);
            set_int(&L, arg_index(&L, "groups"), groups);
            set_tuple3(&L, "kernel_size", nd, k);
            set_tuple3(&L, "stride", nd, st);
            set_tuple3(&L, "padding", nd, pd);
            set_tuple3(&L, "dilation", nd, dl);
            set_str(&L, arg_index(&L, "padding_mode"), t % 10 == 4 ? "zeros" : modes[t % 5]);
            set_bool(&L, arg_index(&L, "bias"), t % 2);
            char err[SR_ERRLEN];
            sr_shape in = {.ndim = nd + 2, .d = {irand(1, 3), groups * cg}}, out;
            for (int i = 0; i < nd; i++)
                in.d[2 + i] = isp[3 - nd + i];
            sr_shapeinfo info = {0};
            if (L.type->validate(&L, err) != SR_OK || L.type->shape(&L, &in, &out, &info, err) != SR_OK) {
                CHECK(0, "%s #%d: %s", L.type->name, t, err);
                sr_layer_clear(&L);
                continue;
            }
            alloc_params(&L);
            int64_t nin = sr_shape_numel(&in), nw = sr_shape_numel(&L.param[0].shape), C = groups * og;
            float *x = malloc((size_t)nin * sizeof *x), *fw = malloc((size_t)(nw + C) * sizeof *fw);
            for (int64_t i = 0; i < nin; i++)
                x[i] = (float)(urand() * 2 - 1);
            for (int64_t i = 0; i < nw + C; i++)
                fw[i] = (float)(urand() * 2 - 1);
            int folded = t % 4 == 1;
            free(run(&L, &in, x, &out, 1 + t % 2, t % 3 == 2 ? &R : NULL, folded ? fw : NULL,
                     folded ? fw + nw : NULL));
            free(x);
            free(fw);
            free_params(&L);
            sr_layer_clear(&L);
        }
        sr_cpu_force(-1);
    }
    /* the checks saw packed weights (else they prove nothing) */
    CHECK(sr_cpu_level() < SR_CPU_AVX2 || prepared_packs - before > 20,
          "only %d Conv prepare() calls packed weights", prepared_packs - before);
    sr_layer_clear(&R);
}

int main(void)
{
    rng_state = 0x9e3779b97f4a7c15ull; /* this file's own sequence */
    test_random_convt();
    test_random_conv3d();
    test_fold();
    test_init();
    test_errors();
    test_lazy();
    test_prepare_conv();
    return unit_summary();
}
