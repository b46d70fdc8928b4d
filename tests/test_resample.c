/*
 * test_resample.c - resample.c and pad.c: Upsample's source-index rules and
 * weights (expected values from torch 1.13), argument checks, the shape
 * diagnostics, the float tuples of scale_factor and their repr, and that
 * every output element is written and gets the same bits whatever the
 * batch split and thread count.
 */
#include "../src/layers/layers.h"
#include "../src/model.h"
#include "unit.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* A layer of type name with args set by set() (NULL: defaults), validated. */
static sr_status make(sr_layer *L, const char *name, void (*set)(sr_layer *), char *err)
{
    const sr_layertype *t = sr_layertype_find(name);
    if (!t || sr_layer_init(L, t) != 0)
        return SR_ERUN;
    if (set)
        set(L);
    return t->validate ? t->validate(L, err) : SR_OK;
}

static void set_int(sr_argval *v, int64_t i) { *v = (sr_argval){.kind = SR_AV_INT, .i = i, .f = (double)i}; }
static void set_float(sr_argval *v, double f) { *v = (sr_argval){.kind = SR_AV_FLOAT, .f = f}; }
static void set_str(sr_argval *v, const char *s)
{
    *v = (sr_argval){.kind = SR_AV_STR};
    snprintf(v->s, sizeof v->s, "%s", s);
}
static void set_tuple(sr_argval *v, int n, const int64_t *t)
{
    *v = (sr_argval){.kind = SR_AV_TUPLE, .n = n};
    for (int k = 0; k < n; k++)
        v->t[k] = t[k];
}

/* Runs L on x of shape s into a fresh buffer (NaN-filled first); returns
 * it, or NULL on a shape error.  threads > 1 uses the worker pool. */
static float *run(sr_layer *L, const sr_shape *s, const float *x, sr_shape *os, int threads, char *err)
{
    sr_shapeinfo info = {0};
    if (L->type->shape(L, s, os, &info, err) != SR_OK)
        return NULL;
    int64_t n = sr_shape_numel(os);
    float *y = malloc((size_t)(n ? n : 1) * sizeof *y);
    for (int64_t i = 0; i < n; i++)
        y[i] = NAN;
    size_t w = L->type->workspace ? L->type->workspace(L, s, os) : 0;
    float *work = malloc((w ? w : 1) * (size_t)threads * sizeof *work);
    sr_ctx ctx = {.work = work, .work_len = w * (size_t)threads, .threads = threads};
    sr_tensor tin = {.shape = *s, .dtype = SR_F32, .data = (void *)x}, tout = {.shape = *os, .dtype = SR_F32, .data = y};
    L->type->forward(L, &tin, &tout, &ctx, err);
    if (tout.data != y) /* a view */
        memcpy(y, tout.data, (size_t)n * sizeof *y);
    free(work);
    return y;
}

static sr_shape shp(int nd, ...)
{
    sr_shape s = {.ndim = nd};
    va_list ap;
    va_start(ap, nd);
    for (int i = 0; i < nd; i++)
        s.d[i] = va_arg(ap, int);
    va_end(ap);
    return s;
}

static float *ramp(int64_t n)
{
    float *x = malloc((size_t)(n ? n : 1) * sizeof *x);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)i;
    return x;
}

/* ---- source indices and weights, as torch 1.13 gives them ------------------------ */

static double g_sf;
static const char *g_mode;
static int g_ac = -1;
static void set_up(sr_layer *L)
{
    set_float(&L->arg[1], g_sf);
    if (g_mode)
        set_str(&L->arg[2], g_mode);
    if (g_ac >= 0)
        L->arg[3] = (sr_argval){.kind = SR_AV_BOOL, .i = g_ac};
}

static void expect_values(const char *what, double sf, const char *mode, int ac, sr_shape s, const float *x,
                          const float *want, int nwant, int64_t stride)
{
    sr_layer L;
    char err[SR_ERRLEN] = "";
    g_sf = sf, g_mode = mode, g_ac = ac;
    CHECK(make(&L, "Upsample", set_up, err) == SR_OK, "%s: %s", what, err);
    sr_shape os;
    float *y = run(&L, &s, x, &os, 1, err);
    CHECK(y && os.d[os.ndim - 1] == nwant, "%s: %d outputs, got %lld (%s)", what, nwant,
          y ? (long long)os.d[os.ndim - 1] : -1LL, err);
    for (int i = 0; y && i < nwant && i < os.d[os.ndim - 1]; i++)
        CHECK(y[i * stride] == want[i], "%s: output %d is %.9g, torch gives %.9g", what, i, y[i * stride], want[i]);
    free(y);
    sr_layer_clear(&L);
}

static void test_indices(void)
{
    float *x = ramp(64);
    /* 1-D nearest, scale_factor 1.7: floor(dst * (float)(1/1.7)) */
    static const float n17[] = {0, 0, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6, 7, 7, 8, 8, 9, 10, 10, 11, 11, 12, 12};
    expect_values("nearest 1.7", 1.7, NULL, -1, shp(3, 1, 1, 14), x, n17, 23, 1);
    /* nearest-exact 0.6: floor((dst + 0.5) / 0.6) */
    static const float e06[] = {0, 2, 4, 5, 7, 9, 10};
    expect_values("nearest-exact 0.6", 0.6, "nearest-exact", -1, shp(3, 1, 1, 13), x, e06, 7, 1);
    /* scale_factor 2.0001, out == 2 * in: two channels, floor(dst / 2.0001);
     * one channel (channels-last kernel), dst / 2 */
    float *x2 = malloc(12 * sizeof *x2);
    for (int i = 0; i < 12; i++)
        x2[i] = (float)(i % 6);
    static const float two[] = {0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5}, one[] = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5};
    expect_values("nearest 2.0001, 2 channels", 2.0001, NULL, -1, shp(4, 1, 2, 1, 6), x2, two, 12, 1);
    expect_values("nearest 2.0001, 1 channel", 2.0001, NULL, -1, shp(4, 1, 1, 1, 6), x2, one, 12, 1);
    /* linear 1.5 on (1, 2, 4, 8): torch's float32 bits */
    static const float in4[] = {1, 2, 4, 8};
    static const float l15[] = {1.0f, 1.5f, 2.3333334922790527f, 3.6666667461395264f, 6.000000476837158f, 8.0f};
    expect_values("linear 1.5", 1.5, "linear", 0, shp(3, 1, 1, 4), in4, l15, 6, 1);
    free(x2);
    free(x);
}

/* ---- arguments ------------------------------------------------------------------------ */

static void expect_invalid(const char *name, void (*set)(sr_layer *), const char *needle)
{
    sr_layer L;
    char err[SR_ERRLEN] = "";
    sr_status st = make(&L, name, set, err);
    CHECK(st == SR_EUSAGE && strstr(err, needle) && strstr(err, "hint: "), "%s: want '%s' with a hint, got %d '%s'",
          name, needle, st, err);
    sr_layer_clear(&L);
}

static void both(sr_layer *L) { set_int(&L->arg[0], 8), set_float(&L->arg[1], 2); }
static void recompute_size(sr_layer *L)
{
    set_int(&L->arg[0], 8);
    L->arg[4] = (sr_argval){.kind = SR_AV_BOOL, .i = 1};
}
static void ac_nearest(sr_layer *L)
{
    set_float(&L->arg[1], 2);
    L->arg[3] = (sr_argval){.kind = SR_AV_BOOL, .i = 0};
}
static void size0(sr_layer *L) { set_int(&L->arg[0], 0); }
static void negscale(sr_layer *L) { set_float(&L->arg[1], -2); }
static void factor0(sr_layer *L) { set_int(&L->arg[0], 0); }

static void test_validate(void)
{
    expect_invalid("Upsample", both, "only one of size or scale_factor should be defined");
    expect_invalid("Upsample", NULL, "either size or scale_factor should be defined");
    expect_invalid("Upsample", recompute_size, "recompute_scale_factor is not meaningful with an explicit size");
    expect_invalid("Upsample", ac_nearest, "align_corners option can only be set with the interpolating modes");
    expect_invalid("Upsample", size0, "output sizes should be greater than 0");
    expect_invalid("Upsample", negscale, "scale_factor must be a positive finite number");
    expect_invalid("PixelShuffle", factor0, "positive upscale_factor");
    expect_invalid("PixelUnshuffle", factor0, "positive downscale_factor");
    expect_invalid("ChannelShuffle", factor0, "must be positive");
}

/* ---- shape diagnostics ------------------------------------------------------------------- */

static void expect_shape_error(sr_layer *L, sr_shape in, const char *needle)
{
    sr_shape out;
    sr_shapeinfo info = {0};
    char err[SR_ERRLEN] = "";
    sr_status st = L->type->shape(L, &in, &out, &info, err);
    CHECK(st == SR_ESHAPE && strstr(err, needle) && strstr(err, "hint: "), "%s on %s: want '%s', got %d '%s'",
          L->type->name, sr_shp(&in), needle, st, err);
}

static void ps2(sr_layer *L) { set_int(&L->arg[0], 2); }
static void bilinear(sr_layer *L) { set_float(&L->arg[1], 2), set_str(&L->arg[2], "bilinear"); }
static void reflect_big(sr_layer *L)
{
    static const int64_t p[4] = {1, 2, 4, 0};
    set_tuple(&L->arg[0], 4, p);
}

static void test_shape_messages(void)
{
    sr_layer L;
    char err[SR_ERRLEN];
    make(&L, "PixelShuffle", ps2, err);
    expect_shape_error(&L, shp(4, 2, 6, 8, 8), "PixelShuffle(2) needs channels divisible by 4, but input [2, 6, 8, 8]");
    expect_shape_error(&L, shp(4, 2, 6, 8, 8), "has 6; hint: ");
    sr_layer_clear(&L);
    make(&L, "Upsample", bilinear, err);
    expect_shape_error(&L, shp(3, 2, 3, 8), "mode 'bilinear' needs a 4-D (N, C, H, W) input");
    expect_shape_error(&L, shp(3, 2, 3, 8), "use mode='linear'");
    sr_layer_clear(&L);
    make(&L, "ReflectionPad2d", reflect_big, err);
    expect_shape_error(&L, shp(4, 2, 3, 4, 6), "has height 4 and top/bottom padding (4, 0)");
    expect_shape_error(&L, shp(2, 4, 6), "expects a 3-D (C, H, W) or 4-D (N, C, H, W) input");
    sr_layer_clear(&L);
}

/* ---- float tuples through the spec, and reprs ------------------------------------------ */

static void test_spec_repr(void)
{
    static const char *const spec[][2] = {
        {"Upsample: {scale_factor: [2, 1.5], mode: bilinear}", "Upsample(scale_factor=(2.0, 1.5), mode=bilinear)"},
        {"Upsample: {scale_factor: 2}", "Upsample(scale_factor=2.0, mode=nearest)"},
        {"Upsample: [[5, 6]]", "Upsample(size=(5, 6), mode=nearest)"},
        {"UpsamplingNearest2d: {scale_factor: 3}", "UpsamplingNearest2d(scale_factor=3.0, mode=nearest)"},
        {"UpsamplingBilinear2d: [7]", "UpsamplingBilinear2d(size=7, mode=bilinear)"},
        {"ConstantPad2d: [[1, 2, 3, 4], 2]", "ConstantPad2d(padding=(1, 2, 3, 4), value=2)"},
        {"ConstantPad1d: [1, 0.5]", "ConstantPad1d(padding=(1, 1), value=0.5)"},
        {"ReflectionPad2d: 1", "ReflectionPad2d((1, 1, 1, 1))"},
        {"ZeroPad2d: [[1, 0, -1, 2]]", "ZeroPad2d((1, 0, -1, 2))"},
        {"ZeroPad2d: [[1, 2]]", "ZeroPad2d((1, 2))"},
        {"ConstantPad3d: [[1, 2], 0.5]", "ConstantPad3d(padding=(1, 2), value=0.5)"},
    };
    for (size_t i = 0; i < sizeof spec / sizeof *spec; i++) {
        char text[256], repr[256] = "";
        snprintf(text, sizeof text, "layers:\n  - %s\n", spec[i][0]);
        sr_model m;
        sr_diags d;
        memset(&d, 0, sizeof d);
        sr_status st = sr_spec_parse(&m, text, strlen(text), "m.yaml", ".", &d);
        CHECK(st == SR_OK, "%s: rejected", spec[i][0]);
        if (st == SR_OK) {
            sr_layer_repr(m.node[0].mod, repr, sizeof repr);
            CHECK(!strcmp(repr, spec[i][1]), "%s: repr %s, PyTorch's is %s", spec[i][0], repr, spec[i][1]);
            sr_model_free(&m);
        }
        sr_diags_free(&d);
    }
    /* a float item where a tuple takes ints is an error; both size and scale_factor too; a
     * padding tuple of odd length (F.pad: "Padding length must be divisible by 2"), empty,
     * or of more than the 6 values seqrun pads */
    static const char *const bad[] = {"Upsample: {size: [2.5, 3]}", "ZeroPad2d: [[1, 2.0, 3, 4]]",
                                      "Upsample: {size: 4, scale_factor: 2}", "ZeroPad2d: [[1, 2, 3]]",
                                      "ConstantPad1d: [[1], 0]", "ReflectionPad2d: [[]]",
                                      "ReplicationPad3d: [[1, 1, 1, 1, 1, 1, 1, 1]]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[256];
        snprintf(text, sizeof text, "layers:\n  - %s\n", bad[i]);
        sr_model m;
        sr_diags d;
        memset(&d, 0, sizeof d);
        sr_status st = sr_spec_parse(&m, text, strlen(text), "m.yaml", ".", &d);
        CHECK(st == SR_EUSAGE, "%s: want a spec error (2), got %d", bad[i], st);
        sr_model_free(&m);
        sr_diags_free(&d);
    }
}

/* ---- every element written, the same bits per sample and per thread count ------------- */

typedef struct {
    const char *type;
    const char *args; /* name=value;... as in a spec's mapping, parsed by hand below */
    int nd;
    int d[6];
} lcase;

static void set_from(sr_layer *L, const char *args)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", args);
    for (char *tok = strtok(buf, ";"); tok; tok = strtok(NULL, ";")) {
        char *eq = strchr(tok, '=');
        *eq = '\0';
        int k = sr_arg_index(L->type, tok);
        char *v = eq + 1, *end;
        if (*v == '(') {
            int64_t t[6];
            int n = 0;
            for (char *p = v + 1; *p && *p != ')' && n < 6;) {
                t[n++] = strtoll(p, &p, 10);
                while (*p == ',' || *p == ' ')
                    p++;
            }
            set_tuple(&L->arg[k], n, t);
            continue;
        }
        long long iv = strtoll(v, &end, 10);
        if (!*end) {
            set_int(&L->arg[k], iv);
            continue;
        }
        double fv = strtod(v, &end);
        if (!*end)
            set_float(&L->arg[k], fv);
        else
            set_str(&L->arg[k], v);
    }
}

static const char *g_args;
static void set_g(sr_layer *L) { set_from(L, g_args); }

static void test_bits(void)
{
    static const lcase cases[] = {
        {"Upsample", "scale_factor=2", 4, {5, 3, 7, 37}},
        {"Upsample", "scale_factor=1.7", 3, {5, 2, 19}},
        {"Upsample", "size=(9,5);mode=nearest-exact", 4, {4, 2, 7, 8}},
        {"Upsample", "scale_factor=2;mode=bilinear", 4, {5, 3, 7, 9}},
        {"Upsample", "scale_factor=0.6;mode=bilinear;align_corners=1", 4, {3, 2, 11, 7}},
        {"Upsample", "scale_factor=1.5;mode=bicubic", 4, {3, 3, 6, 5}},
        {"Upsample", "scale_factor=2;mode=trilinear", 5, {3, 2, 3, 4, 5}},
        {"Upsample", "scale_factor=1.5;mode=linear", 3, {4, 2, 17}},
        {"Upsample", "size=(3,4);mode=area", 4, {3, 2, 7, 9}},
        {"Upsample", "scale_factor=2;mode=nearest", 5, {3, 2, 3, 4, 5}},
        {"PixelShuffle", "upscale_factor=2", 4, {3, 8, 3, 5}},
        {"PixelShuffle", "upscale_factor=3", 4, {3, 9, 2, 2}},
        {"PixelUnshuffle", "downscale_factor=2", 4, {3, 2, 4, 6}},
        {"PixelUnshuffle", "downscale_factor=3", 4, {3, 1, 6, 3}},
        {"ChannelShuffle", "groups=3", 4, {3, 6, 2, 3}},
        {"ZeroPad2d", "padding=(1,-1,2,0)", 4, {3, 2, 4, 5}},
        {"ConstantPad3d", "padding=(1,0,0,2,1,1);value=0.5", 5, {3, 2, 3, 4, 5}},
        {"ReflectionPad2d", "padding=(3,1,0,2)", 4, {3, 2, 4, 5}},
        {"ReflectionPad1d", "padding=(-1,2)", 3, {3, 2, 5}},
        {"ReplicationPad3d", "padding=(2,0,1,3,0,1)", 5, {3, 2, 2, 3, 4}},
        {"ReplicationPad2d", "padding=(9,1,-1,2)", 4, {3, 2, 4, 5}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const lcase *k = &cases[c];
        sr_layer L;
        char err[SR_ERRLEN] = "";
        g_args = k->args;
        if (make(&L, k->type, set_g, err) != SR_OK) {
            CHECK(0, "%s(%s): %s", k->type, k->args, err);
            continue;
        }
        sr_shape s = {.ndim = k->nd}, os, o1;
        for (int i = 0; i < k->nd; i++)
            s.d[i] = k->d[i];
        int64_t n = sr_shape_numel(&s);
        float *x = malloc((size_t)n * sizeof *x);
        for (int64_t i = 0; i < n; i++)
            x[i] = (float)((i * 7919) % 1000) / 100.0f - 5.0f;
        float *y1 = run(&L, &s, x, &os, 1, err), *y2 = run(&L, &s, x, &os, 2, err);
        int64_t on = sr_shape_numel(&os), per = on / s.d[0], iper = n / s.d[0];
        int nan = 0;
        for (int64_t i = 0; y1 && i < on; i++)
            nan |= isnan(y1[i]);
        CHECK(y1 && !nan, "%s(%s): an output element not written", k->type, k->args);
        CHECK(y1 && y2 && !memcmp(y1, y2, (size_t)on * sizeof *y1), "%s(%s): 2 threads give other bits", k->type,
              k->args);
        /* sample by sample (as micro-batches run it) */
        sr_shape s1 = s;
        s1.d[0] = 1;
        int same = 1;
        for (int b = 0; y1 && b < s.d[0]; b++) {
            float *yb = run(&L, &s1, x + b * iper, &o1, 1, err);
            same &= yb && !memcmp(yb, y1 + b * per, (size_t)per * sizeof *yb);
            free(yb);
        }
        CHECK(same, "%s(%s): a sample alone gives other bits", k->type, k->args);
        free(x);
        free(y1);
        free(y2);
        sr_layer_clear(&L);
    }
}

int main(void)
{
    test_indices();
    test_validate();
    test_shape_messages();
    test_spec_repr();
    test_bits();
    return unit_summary();
}
