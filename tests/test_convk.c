/*
 * test_convk.c - the AVX-512 convolution kernels of src/layers/conv_kernels.h
 * against references, over many random shapes.
 *
 * Every output must be
 *   - the bits of a scalar reference that starts from the bias and adds each
 *     tap in (c, i, j) order with fmaf (padding taps as zeros), the fused
 *     activation applied after: the order the kernels promise, so a sample's
 *     result cannot depend on the batch size, the blocking or the threads;
 *   - within the rounding bound of K sequential float FMAs of a double
 *     precision reference (|error| <= (K + 2) * 2^-24 * sum of |terms|);
 *   - the same bits at batch 1 and batch N, with 1 and 2 threads, dense or
 *     through the padded input and output layouts;
 * with scratch and outputs filled with NaN first, so a float nobody wrote
 * shows.  Shapes: groups, strides 1-3, paddings (before != after too),
 * dilations, kernels 1-5, output channels not a multiple of 16, batch 1..5,
 * Conv1d as height 1, every padding mode the kernels take.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "layers/conv_kernels.h"
#include "layers/layers.h"
#include "unit.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static int64_t irand(int64_t lo, int64_t hi) { return lo + (int64_t)(urand() * (double)(hi - lo + 1)); }

static void nan_fill(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
}

/* Padded index as PyTorch's F.pad modes give it, or -1 for a zero. */
static int64_t src_at(int mode, int64_t i, int64_t n)
{
    if (i >= 0 && i < n)
        return i;
    switch (mode) {
    case CK_PAD_REFLECT: return i < 0 ? -i : 2 * (n - 1) - i;
    case CK_PAD_REPLICATE: return i < 0 ? 0 : n - 1;
    case CK_PAD_CIRCULAR: return i < 0 ? i + n : i - n;
    default: return -1;
    }
}

/* The bit-exact reference (fmaf in tap order) and the double one with each
 * output's sum of |terms|. */
static void reference(const ck_conv *c, const float *x, const float *W, const float *b, const sr_layer *post,
                      float *rf, double *rd, double *mag)
{
    int64_t og = c->cout / c->groups, cg = c->cin / c->groups, P = c->oh * c->ow;
    for (int64_t n = 0; n < c->n; n++)
        for (int64_t o = 0; o < c->cout; o++)
            for (int64_t oh = 0; oh < c->oh; oh++)
                for (int64_t ow = 0; ow < c->ow; ow++) {
                    float acc = b ? b[o] : 0.0f;
                    double d = b ? b[o] : 0.0, m = b ? fabs(b[o]) : 0.0;
                    for (int64_t ch = 0; ch < cg; ch++)
                        for (int64_t i = 0; i < c->k[0]; i++)
                            for (int64_t j = 0; j < c->k[1]; j++) {
                                int64_t ih = src_at(c->mode, oh * c->s[0] - c->pb[0] + i * c->dil[0], c->h);
                                int64_t iw = src_at(c->mode, ow * c->s[1] - c->pb[1] + j * c->dil[1], c->w);
                                float xv = ih >= 0 && iw >= 0
                                               ? x[((n * c->cin + (o / og) * cg + ch) * c->h + ih) * c->w + iw]
                                               : 0.0f;
                                float wv = W[((o * cg + ch) * c->k[0] + i) * c->k[1] + j];
                                acc = fmaf(wv, xv, acc);
                                d += (double)wv * xv;
                                m += fabs((double)wv * xv);
                            }
                    int64_t at = (n * c->cout + o) * P + oh * c->ow + ow;
                    rf[at] = acc;
                    rd[at] = d;
                    mag[at] = m;
                }
    if (post) {
        int64_t ny = c->n * c->cout * P;
        post->type->apply(post, rf, rf, (size_t)ny);
    }
}

/* One run of kernel `kind`: x dense (or laid out when lay_in), y dense (or
 * into out_lay's layout in ybuf). */
static int run(const ck_conv *c, int kind, const float *W, const float *b, const float *x, float *y, int threads,
               const sr_layer *post, void **cache, int in_laid_out, const sr_layout *out_lay)
{
    size_t wl = ck_workspace(c, kind) * (size_t)threads;
    float *work = malloc((wl ? wl : 1) * sizeof *work);
    nan_fill(work, wl);
    sr_ctx ctx = {.work = work, .work_len = wl, .threads = threads, .post = post, .cache = cache,
                  .in_laid_out = in_laid_out, .out_layout = out_lay};
    int r = ck_forward(c, kind, W, b, x, y, &ctx);
    free(work);
    return r;
}

/* x [n, cin, h, w] into the padded layout (NaN everywhere else). */
static float *lay_in(const ck_conv *c, const float *x, size_t *len)
{
    ck_lay l;
    ck_lay_get(c, &l);
    *len = (size_t)(c->n * l.SS + CK_SLACK);
    float *p = malloc(*len * sizeof *p);
    nan_fill(p, *len);
    for (int64_t n = 0; n < c->n; n++)
        for (int64_t ch = 0; ch < c->cin; ch++)
            for (int64_t ih = 0; ih < c->h; ih++)
                for (int64_t iw = 0; iw < c->w; iw++) {
                    int64_t pw = iw + c->pb[1];
                    p[n * l.SS + ch * l.PS + (ih + c->pb[0]) * l.RS + (pw % c->s[1]) * l.Wj + pw / c->s[1]] =
                        x[((n * c->cin + ch) * c->h + ih) * c->w + iw];
                }
    return p;
}

typedef struct {
    const char *what;
    int runs, bad_ref, bad_dbl, bad_bits, bad_lay, bad_prep, reordered;
} tally;

static void describe(const ck_conv *c, char *buf, size_t len)
{
    snprintf(buf, len, "n=%lld cin=%lld cout=%lld g=%lld in %lldx%lld out %lldx%lld k=(%lld,%lld) s=(%lld,%lld) "
             "d=(%lld,%lld) pb=(%lld,%lld) pa=(%lld,%lld) mode=%d",
             (long long)c->n, (long long)c->cin, (long long)c->cout, (long long)c->groups, (long long)c->h,
             (long long)c->w, (long long)c->oh, (long long)c->ow, (long long)c->k[0], (long long)c->k[1],
             (long long)c->s[0], (long long)c->s[1], (long long)c->dil[0], (long long)c->dil[1],
             (long long)c->pb[0], (long long)c->pb[1], (long long)c->pa[0], (long long)c->pa[1], c->mode);
}

/* Checks one convolution with kernel `kind` every way. */
static void check_conv(ck_conv *c, int kind, const sr_layer *post, int with_bias, tally *T)
{
    char d[400];
    describe(c, d, sizeof d);
    int64_t cg = c->cin / c->groups, K = cg * c->k[0] * c->k[1], P = c->oh * c->ow;
    int64_t nx = c->n * c->cin * c->h * c->w, ny = c->n * c->cout * P, nw = c->cout * K;
    float *x = malloc((size_t)nx * sizeof *x), *W = malloc((size_t)nw * sizeof *W), *b = malloc((size_t)c->cout * 4);
    for (int64_t i = 0; i < nx; i++)
        x[i] = (float)(urand() * 2 - 1);
    for (int64_t i = 0; i < nw; i++)
        W[i] = (float)((urand() * 2 - 1) / sqrt((double)K));
    for (int64_t i = 0; i < c->cout; i++)
        b[i] = (float)(urand() - 0.5);
    const float *bias = with_bias ? b : NULL;
    float *rf = malloc((size_t)ny * sizeof *rf), *y = malloc((size_t)ny * sizeof *y);
    double *rd = malloc((size_t)ny * sizeof *rd), *mag = malloc((size_t)ny * sizeof *mag);
    reference(c, x, W, bias, post, rf, rd, mag);
    void *cache = NULL;
    T->runs++;

    /* the whole batch, two threads: the reference's bits (where the kernel
     * keeps the tap order) */
    nan_fill(y, (size_t)ny);
    CHECK(run(c, kind, W, bias, x, y, 2, post, &cache, 0, NULL) == 0, "%s: out of memory", d);
    int exact = kind == CK_DW ? ck_dw_exact(c) : kind != CK_WG;
    if (!exact)
        T->reordered++;
    if (exact && memcmp(y, rf, (size_t)ny * sizeof *y)) {
        T->bad_ref++;
        int64_t i = 0;
        while (i < ny && !memcmp(&y[i], &rf[i], sizeof *y))
            i++;
        CHECK(0, "%s %s: %s: output %lld is %.9g, the fmaf reference %.9g", T->what, post ? post->type->name : "",
              d, (long long)i, y[i], rf[i]);
    }
    /* against double precision (without the activation, which is exact
     * or has its own tests; through ReLU too where the bits are not the
     * fmaf reference's) */
    if (!post || (!exact && !strcmp(post->type->name, "ReLU"))) {
        if (post) /* the double reference through ReLU, which adds no error */
            for (int64_t i = 0; i < ny; i++) {
                float v = (float)rd[i];
                post->type->apply(post, &v, &v, 1);
                rd[i] = v;
            }
        double worst = 0;
        for (int64_t i = 0; i < ny; i++) {
            double e = fabs((double)y[i] - rd[i]) / ((double)(K + 2) * 0x1p-24 * mag[i] + 1e-30);
            worst = e > worst ? e : worst;
        }
        /* Winograd's transforms keep it far inside the worst case (seen:
         * 0.003 of it): a twentieth, so that a lost term shows */
        if (!(worst <= (kind == CK_WG ? 0.05 : 1.0))) {
            T->bad_dbl++;
            CHECK(0, "%s: %s: error %.3g of the FMA rounding bound", T->what, d, worst);
        }
    }
    /* sample by sample, one thread, with what ck_prepare built before (as
     * a layer's prepare() does before the threads start): the same bits,
     * and forward only reads the cache (a kernel that rebuilt it there
     * would race between threads) */
    {
        ck_conv one = *c;
        one.n = 1;
        float *y1 = malloc((size_t)(c->cout * P) * sizeof *y1);
        void *prep = NULL;
        sr_ctx pctx = {.threads = 1, .post = post, .cache = &prep};
        CHECK(ck_prepare(&one, kind, W, bias, &pctx) == 0, "%s: ck_prepare: out of memory", d);
        void *built = prep;
        int same = 1;
        for (int64_t n = 0; n < c->n; n++) {
            nan_fill(y1, (size_t)(c->cout * P));
            run(&one, kind, W, bias, x + n * c->cin * c->h * c->w, y1, 1, post, &prep, 0, NULL);
            same &= !memcmp(y1, y + n * c->cout * P, (size_t)(c->cout * P) * sizeof *y1);
        }
        if (!same) {
            T->bad_bits++;
            CHECK(0, "%s: %s: batch 1 on one thread differs from batch %lld on two", T->what, d, (long long)c->n);
        }
        if (prep != built || ((kind == CK_OC || kind == CK_PW || kind == CK_WG) && !built)) {
            T->bad_prep++;
            CHECK(0, "%s: %s: forward %s what ck_prepare built", T->what, d, built ? "replaced" : "built");
        }
        free(prep);
        free(y1);
    }
    /* through the layouts (CK_OC, zero padding, stride <= 2 across, as
     * conv.c offers them): input laid out by hand in a NaN-filled buffer,
     * output into a random consumer's layout */
    if ((kind == CK_OC || kind == CK_PW || kind == CK_WG) && c->mode == CK_PAD_ZEROS && c->s[1] <= 2) {
        const float *want = exact ? rf : y; /* Winograd: its own dense bits */
        size_t ll;
        float *xl = lay_in(c, x, &ll);
        sr_layout ol = {.top = irand(0, 2), .left = irand(0, 3), .phases = (int)irand(1, 2)};
        int64_t wj = (c->ow + ol.left + irand(0, 2) + ol.phases - 1) / ol.phases;
        ol.phase = wj;
        ol.row = ol.phases * wj;
        ol.chan = (c->oh + ol.top + irand(0, 2)) * ol.row;
        ol.sample = c->cout * ol.chan;
        ol.slack = CK_SLACK;
        size_t ol_len = (size_t)(c->n * ol.sample + ol.slack);
        float *yl = malloc(ol_len * sizeof *yl);
        nan_fill(yl, ol_len);
        run(c, kind, W, bias, xl, yl, 1 + (int)(T->runs % 2), post, &cache, 1, &ol);
        int ok = 1;
        size_t written = 0;
        for (int64_t n = 0; n < c->n; n++)
            for (int64_t o = 0; o < c->cout; o++)
                for (int64_t oh = 0; oh < c->oh; oh++)
                    for (int64_t ow = 0; ow < c->ow; ow++) {
                        int64_t w = ow + ol.left;
                        float v = yl[n * ol.sample + o * ol.chan + (oh + ol.top) * ol.row + (w % ol.phases) * ol.phase +
                                     w / ol.phases];
                        ok &= !memcmp(&v, &want[(n * c->cout + o) * P + oh * c->ow + ow], sizeof v);
                        written++;
                    }
        size_t finite = 0;
        for (size_t i = 0; i < ol_len; i++)
            finite += !isnan(yl[i]);
        ok &= finite <= written; /* nothing outside the outputs' places */
        if (!ok) {
            T->bad_lay++;
            CHECK(0, "%s: %s: through the layouts (phases %d, left %lld) the bits differ", T->what, d, ol.phases,
                  (long long)ol.left);
        }
        free(xl);
        free(yl);
    }
    free(cache);
    free(x), free(W), free(b), free(rf), free(y), free(rd), free(mag);
}

/* Output extent, or 0 when the kernel does not fit. */
static int64_t out_len(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pa)
{
    int64_t span = d * (k - 1) + 1, padded = in + pb + pa;
    return padded >= span ? (padded - span) / s + 1 : 0;
}

/* A random geometry around the given channel counts; 0 if it does not fit. */
static int random_geo(ck_conv *c, int nd, int64_t cin, int64_t cout, int64_t groups, int64_t maxhw, int64_t maxk,
                      int64_t maxs1, int modes)
{
    memset(c, 0, sizeof *c);
    c->n = irand(1, 5);
    c->cin = cin;
    c->cout = cout;
    c->groups = groups;
    c->mode = modes ? (int)irand(0, 3) : CK_PAD_ZEROS;
    for (int i = 0; i < 2; i++) {
        if (i == 0 && nd == 1) {
            c->k[i] = c->s[i] = c->dil[i] = 1;
            continue;
        }
        c->k[i] = irand(1, maxk);
        c->s[i] = irand(1, i == 1 ? maxs1 : 3);
        c->dil[i] = urand() < 0.3 ? 2 : 1;
        c->pb[i] = irand(0, 3);
        c->pa[i] = urand() < 0.3 ? irand(0, 3) : c->pb[i];
    }
    c->h = nd == 1 ? 1 : irand(1, maxhw);
    c->w = irand(1, maxhw);
    int64_t isz[2] = {c->h, c->w};
    for (int i = 0; i < 2; i++) {
        if (c->mode == CK_PAD_REFLECT && (c->pb[i] >= isz[i] || c->pa[i] >= isz[i]))
            return 0;
        if (c->mode == CK_PAD_CIRCULAR && (c->pb[i] > isz[i] || c->pa[i] > isz[i]))
            return 0;
    }
    c->oh = out_len(c->h, c->k[0], c->s[0], c->dil[0], c->pb[0], c->pa[0]);
    c->ow = out_len(c->w, c->k[1], c->s[1], c->dil[1], c->pb[1], c->pa[1]);
    return c->oh > 0 && c->ow > 0;
}

static void test_oc(const sr_layer *const *posts, int nposts)
{
    tally T = {.what = "CK_OC"};
    int iter = 0;
    while (T.runs < 260 && iter++ < 5000) {
        int64_t g = urand() < 0.25 ? irand(2, 3) : 1, og = urand() < 0.5 ? irand(16, 70) : 16 * irand(1, 4);
        int64_t cg = irand(1, urand() < 0.3 ? 64 : 12);
        ck_conv c;
        /* wide rows too (all segment widths), though CK_OC is chosen for
         * narrow ones */
        if (!random_geo(&c, urand() < 0.2 ? 1 : 2, g * cg, g * og, g, urand() < 0.3 ? 40 : 10, 5, 3, 1))
            continue;
        CHECK(ck_oc_ok(&c), "ck_oc_ok refuses %lld output channels per group", (long long)og);
        check_conv(&c, CK_OC, posts[iter % nposts], urand() < 0.7, &T);
    }
    printf("CK_OC: %d random convolutions; %d differ from the fmaf reference, %d from the double one beyond "
           "rounding, %d across batch/threads, %d through layouts\n",
           T.runs, T.bad_ref, T.bad_dbl, T.bad_bits, T.bad_lay);
    CHECK(T.runs >= 200, "only %d CK_OC runs", T.runs);
}

/* 1x1 convolutions as a GEMM over pixels (CK_PW): pixel counts around
 * the tile's 64, and under it in whole vectors (a tile's vectors from
 * several samples), input channels around its blocks of 64, output
 * channels around its blocks of 6 (a last block of 1-5 rows has tiles of its own;
 * and the tiles of two blocks), wide images whose tasks take several
 * units of 64 pixels (10x64: 10 units a sample, groups across samples);
 * through a consumer's layout it hands over to
 * CK_OC, which must give the same bits. */
static void test_pw(const sr_layer *const *posts, int nposts)
{
    tally T = {.what = "CK_PW"};
    for (int k = 0; k < 400 && T.runs < 150; k++) {
        ck_conv c = {.n = irand(1, 4), .cin = urand() < 0.3 ? irand(60, 200) : irand(1, 40),
                     .cout = urand() < 0.5 ? irand(16, 40) : 16 * irand(1, 6), .groups = 1, .k = {1, 1}, .s = {1, 1},
                     .dil = {1, 1}};
        c.h = c.oh = urand() < 0.2 ? 1 : irand(1, 40);
        c.w = c.ow = urand() < 0.3 ? 16 * irand(1, 4) + irand(-1, 1) : irand(1, 70);
        if (urand() < 0.3) { /* under 64 pixels in whole vectors (4x4, 4x8, 3x16): vectors from several samples */
            static const int64_t hw[][2] = {{4, 4}, {2, 8}, {4, 8}, {8, 4}, {1, 16}, {3, 16}, {6, 8}, {1, 32}};
            int i = (int)irand(0, 7);
            c.h = c.oh = hw[i][0];
            c.w = c.ow = hw[i][1];
            c.n = irand(1, 9);
        }
        if (k % 8 == 0) { /* wide images (512 pixels and more in whole tiles): a task's tiles over several units */
            static const int64_t hw[][2] = {{32, 32}, {16, 32}, {10, 64}, {24, 40}, {8, 96}};
            int i = (int)irand(0, 4);
            c.h = c.oh = hw[i][0];
            c.w = c.ow = hw[i][1];
            c.cin = irand(1, 130);
            c.n = irand(1, 3);
        }
        if (!ck_pw_ok(&c))
            continue;
        CHECK(ck_choose(&c) == CK_PW, "a 1x1 on %lld pixels is not CK_PW", (long long)(c.oh * c.ow));
        check_conv(&c, CK_PW, posts[k % nposts], urand() < 0.7, &T);
    }
    printf("CK_PW: %d random convolutions; %d differ from the fmaf reference, %d from the double one beyond "
           "rounding, %d across batch/threads, %d through layouts\n",
           T.runs, T.bad_ref, T.bad_dbl, T.bad_bits, T.bad_lay);
    CHECK(T.runs >= 150, "only %d CK_PW runs", T.runs);
}

static void test_dw(const sr_layer *const *posts, int nposts)
{
    tally T = {.what = "CK_DW"};
    int iter = 0;
    while (T.runs < 260 && iter++ < 5000) {
        int64_t og = irand(1, 3), cg = urand() < 0.6 ? 1 : irand(2, 20), g = irand(1, 24);
        if (cg > 1 && g > 4)
            g = irand(1, 4);
        ck_conv c;
        if (!random_geo(&c, urand() < 0.2 ? 1 : 2, g * cg, g * og, g, urand() < 0.3 ? 45 : 12, 5, 3, 1))
            continue;
        CHECK(ck_dw_ok(&c), "ck_dw_ok refuses og=%lld", (long long)og);
        check_conv(&c, CK_DW, posts[iter % nposts], urand() < 0.7, &T);
    }
    /* true depthwise with zero padding (channels in lanes): channel counts
     * around multiples of 16 */
    for (int k = 0; k < 120 && iter++ < 10000;) {
        int64_t C = urand() < 0.5 ? irand(1, 40) : 16 * irand(1, 3) + irand(-1, 1);
        ck_conv c;
        if (!random_geo(&c, urand() < 0.2 ? 1 : 2, C, C, C, urand() < 0.3 ? 40 : 10, 5, 3, 0))
            continue;
        check_conv(&c, CK_DW, posts[k % nposts], urand() < 0.7, &T);
        k++;
    }
    /* depthwise 3x3 by rows (conv_dwr.c): strides 1 and 2, paddings 0-2
     * (before != after too), widths around the vectors' ends, tiles of
     * 1..12 rows */
    int rows = 0;
    for (int k = 0; k < 2000 && rows < 90; k++) {
        int64_t C = urand() < 0.5 ? irand(1, 20) : 16 * irand(1, 2) + irand(-1, 1), s = irand(1, 2);
        ck_conv c = {.n = irand(1, 4), .cin = C, .cout = C, .groups = C, .h = irand(1, 40),
                     .w = urand() < 0.5 ? irand(9, 40) : 16 * irand(1, 4) + irand(-2, 2), .k = {3, 3}, .s = {s, s},
                     .dil = {1, 1}, .pb = {irand(0, 2), irand(0, 2)}};
        c.pa[0] = urand() < 0.3 ? irand(0, 2) : c.pb[0];
        c.pa[1] = urand() < 0.3 ? irand(0, 2) : c.pb[1];
        c.oh = out_len(c.h, 3, s, 1, c.pb[0], c.pa[0]);
        c.ow = out_len(c.w, 3, s, 1, c.pb[1], c.pa[1]);
        if (c.oh <= 0 || !ck_dwr_ok(&c) || ck_dwd_ok(&c)) /* padding 1 all round: conv_dwd.c's */
            continue;
        check_conv(&c, CK_DW, posts[k % nposts], urand() < 0.7, &T);
        rows++;
    }
    CHECK(rows >= 90, "only %d depthwise convolutions by rows", rows);
    /* depthwise 3x3 with padding 1 straight from the input (conv_dwd.c):
     * strides 1 and 2, widths 8, 9..16 and 17..80 (vectors with neighbours left
     * and right in the row, partial last vectors), heights 1..40 (tiles of
     * every size, odd heights with packed rows) */
    int direct = 0;
    for (int k = 0; k < 2000 && direct < 80; k++) {
        int64_t C = urand() < 0.5 ? irand(1, 20) : 16 * irand(1, 2) + irand(-1, 1), s = irand(1, 2);
        double u = urand();
        int64_t w = u < 0.2 ? 8 : u < 0.4 ? irand(9, 16) : u < 0.7 ? irand(17, 80) : 16 * irand(1, 5) + irand(-1, 1);
        ck_conv c = {.n = irand(1, 4), .cin = C, .cout = C, .groups = C, .h = irand(1, 40), .w = w, .k = {3, 3},
                     .s = {s, s}, .dil = {1, 1}, .pb = {1, 1}, .pa = {1, 1}};
        c.oh = out_len(c.h, 3, s, 1, 1, 1);
        c.ow = out_len(c.w, 3, s, 1, 1, 1);
        if (!ck_dwd_ok(&c))
            continue;
        check_conv(&c, CK_DW, posts[k % nposts], urand() < 0.7, &T);
        direct++;
    }
    CHECK(direct >= 80, "only %d depthwise convolutions straight from the input", direct);
    /* 8 wide, stride 2, four channels in the lanes (conv_dwq.c): channel
     * counts not a multiple of 4 or 16, heights 1..24 */
    for (int k = 0; k < 40; k++) {
        int64_t C = urand() < 0.5 ? irand(1, 20) : 16 * irand(1, 3) + irand(-2, 2);
        ck_conv c = {.n = irand(1, 4), .cin = C, .cout = C, .groups = C, .h = irand(1, 24), .w = 8, .k = {3, 3},
                     .s = {2, 2}, .dil = {1, 1}, .pb = {1, 1}, .pa = {1, 1}};
        c.oh = out_len(c.h, 3, 2, 1, 1, 1);
        c.ow = 4;
        CHECK(ck_dwq_ok(&c), "ck_dwq_ok refuses 8 wide, %lld high", (long long)c.h);
        check_conv(&c, CK_DW, posts[k % nposts], urand() < 0.7, &T);
    }
    /* few output positions with long sums (vectorised over the taps):
     * kernels covering the input, padding, groups, tails of 16 taps */
    for (int k = 0; k < 60 && iter++ < 20000;) {
        int64_t g = irand(1, 3), og = irand(1, 3), cg = irand(4, 80);
        ck_conv c;
        if (!random_geo(&c, 2, g * cg, g * og, g, 4, 4, 3, 1) || c.oh * c.ow > 4 || ck_dw_exact(&c))
            continue;
        check_conv(&c, CK_DW, k % 2 ? NULL : posts[k % nposts], urand() < 0.7, &T);
        k++;
    }
    /* the shapes of the real models: MobileNet's depthwise 3x3, stride 1
     * and 2, and a DCGAN discriminator's last 512 -> 1 */
    static const int64_t real[][6] = {
        /* C, H, stride, cout, k, pad */
        {32, 32, 1, 32, 3, 1}, {64, 32, 2, 64, 3, 1}, {128, 16, 1, 128, 3, 1}, {128, 16, 2, 128, 3, 1},
        {256, 8, 1, 256, 3, 1}, {256, 8, 2, 256, 3, 1},
        {512, 4, 1, 512, 3, 1}, {512, 4, 2, 512, 3, 1}, {512, 4, 1, 1, 4, 0},
    };
    for (size_t r = 0; r < sizeof real / sizeof real[0]; r++) {
        ck_conv c = {.n = irand(1, 3), .cin = real[r][0], .cout = real[r][3],
                     .groups = real[r][3] == 1 ? 1 : real[r][0], .h = real[r][1], .w = real[r][1],
                     .k = {real[r][4], real[r][4]}, .s = {real[r][2], real[r][2]}, .dil = {1, 1},
                     .pb = {real[r][5], real[r][5]}, .pa = {real[r][5], real[r][5]}};
        c.oh = out_len(c.h, c.k[0], c.s[0], 1, c.pb[0], c.pa[0]);
        c.ow = c.oh;
        CHECK(ck_choose(&c) == CK_DW, "real shape %zu is not CK_DW", r);
        check_conv(&c, CK_DW, posts[r % nposts], 1, &T);
    }
    printf("CK_DW: %d convolutions (%d summed over the taps); %d differ from the fmaf reference, %d from the "
           "double one beyond rounding, %d across batch/threads\n", T.runs, T.reordered, T.bad_ref, T.bad_dbl,
           T.bad_bits);
    CHECK(T.reordered >= 50, "only %d CK_DW runs summed over the taps", T.reordered);
    CHECK(T.runs >= 200, "only %d CK_DW runs", T.runs);
}

/* Winograd F(2x2, 3x3) (CK_WG): 3x3 at stride 1 with even outputs of 4x4
 * and up, input channels from its least (64) past its weight blocks of
 * 128 (256 for 32 output channels or fewer), output channels not a
 * multiple of 16 too, paddings 0-2 before and after; against the double
 * reference within a twentieth of the direct kernels' rounding bound,
 * and its own bits across batch, threads and layouts. */
static void test_wg(const sr_layer *const *posts, int nposts)
{
    tally T = {.what = "CK_WG"};
    int iter = 0;
    while (T.runs < 40 && iter++ < 2000) {
        ck_conv c = {.n = irand(1, 4), .cin = irand(64, 300), .cout = urand() < 0.5 ? irand(16, 80) : 16 * irand(1, 5),
                     .groups = 1, .k = {3, 3}, .s = {1, 1}, .dil = {1, 1}, .mode = CK_PAD_ZEROS};
        for (int i = 0; i < 2; i++) {
            c.pb[i] = irand(0, 2);
            c.pa[i] = urand() < 0.7 ? c.pb[i] : irand(0, 2);
        }
        c.h = irand(2, 14);
        c.w = irand(2, 14);
        c.oh = c.h + c.pb[0] + c.pa[0] - 2;
        c.ow = c.w + c.pb[1] + c.pa[1] - 2;
        if (!ck_wg_ok(&c))
            continue;
        CHECK(ck_choose(&c) == CK_WG, "ck_choose does not take a convolution CK_WG takes");
        check_conv(&c, CK_WG, posts[iter % nposts], urand() < 0.7, &T);
    }
    /* blocks of 4 samples at 8x8: 10 samples make 3, which 2 threads
     * share out as 2 of 5 (ck_balance) */
    ck_conv b = {.n = 10, .cin = 64, .cout = 32, .groups = 1, .k = {3, 3}, .s = {1, 1}, .dil = {1, 1},
                 .pb = {1, 1}, .pa = {1, 1}, .h = 8, .w = 8, .oh = 8, .ow = 8, .mode = CK_PAD_ZEROS};
    check_conv(&b, CK_WG, posts[1], 1, &T);
    printf("CK_WG: %d random convolutions; %d from the double reference beyond rounding, %d across "
           "batch/threads, %d through layouts\n", T.runs, T.bad_dbl, T.bad_bits, T.bad_lay);
    CHECK(T.runs >= 40, "only %d CK_WG runs", T.runs);
}

/* ck_balance: rounds that share out evenly, within the workspace it
 * promises for any thread count. */
static void test_balance(void)
{
    CHECK(ck_balance(64, 14, 2) == 16, "64 samples in blocks of 14 at 2 threads: %lld", (long long)ck_balance(64, 14, 2));
    CHECK(ck_balance(64, 14, 1) == 14, "one thread changed the blocks");
    CHECK(ck_balance(64, 16, 2) == 16 && ck_balance(10, 16, 2) == 16, "even blocks changed");
    CHECK(ck_balance(70, 14, 2) == 14, "blocks grown by more than a quarter");
    for (int i = 0; i < 20000; i++) {
        int64_t n = irand(1, 5000), nb = irand(1, 300);
        int th = irand(1, 33);
        int64_t b = ck_balance(n, nb, th), most = ck_balance(n, nb, 0), blocks = (n + b - 1) / b;
        if (b < 1 || (b > most && b != nb) || (b != nb && blocks % th != 0)) {
            CHECK(0, "ck_balance(%lld, %lld, %d) = %lld (most %lld)", (long long)n, (long long)nb, th, (long long)b,
                  (long long)most);
            break;
        }
    }
}

/* What ck_choose takes, and that SEQRUN_ISA-style caps turn it off. */
static void test_choose(void)
{
    ck_conv c = {.n = 3, .cin = 256, .cout = 256, .groups = 1, .h = 4, .w = 4, .oh = 4, .ow = 4, .k = {3, 3},
                 .s = {1, 1}, .dil = {1, 1}, .pb = {1, 1}, .pa = {1, 1}};
    CHECK(ck_choose(&c) == CK_WG, "a 3x3 256 -> 256 at 4x4 is not CK_WG");
    ck_conv c2 = c;
    c2.h = c2.w = c2.oh = c2.ow = 2;
    CHECK(ck_choose(&c2) == CK_OC, "a 3x3 256 -> 256 at 2x2 is not CK_OC");
    c2 = c;
    c2.cin = 32;
    CHECK(ck_choose(&c2) == CK_OC, "a 3x3 32 -> 256 at 4x4 is not CK_OC");
    ck_conv dw = c;
    dw.groups = dw.cout = 256;
    CHECK(ck_choose(&dw) == CK_DW, "a depthwise 3x3 is not CK_DW");
    /* 1x1 at 4x4: CK_PW, a tile's vectors from several samples; at 2x2
     * (4 pixels, a quarter of a vector) CK_OC */
    ck_conv pw = c;
    pw.cout = 512;
    pw.k[0] = pw.k[1] = 1;
    pw.pb[0] = pw.pb[1] = pw.pa[0] = pw.pa[1] = 0;
    CHECK(ck_choose(&pw) == CK_PW, "a 1x1 256 -> 512 at 4x4 is not CK_PW");
    pw.h = pw.w = pw.oh = pw.ow = 2;
    CHECK(ck_choose(&pw) == CK_OC, "a 1x1 256 -> 512 at 2x2 is not CK_OC");
    ck_conv n5 = c;
    n5.n = 5;
    CHECK(ck_choose(&n5) == ck_choose(&c), "the batch size changes the kernel");
    sr_cpu_force(SR_CPU_AVX2);
    CHECK(ck_choose(&c) == CK_NONE && ck_choose(&dw) == CK_NONE, "ck_choose ignores the AVX2 cap");
    sr_cpu_force(SR_CPU_BASE);
    CHECK(ck_choose(&c) == CK_NONE && ck_choose(&dw) == CK_NONE, "ck_choose ignores the base cap");
    sr_cpu_force(-1);
}

int main(void)
{
    if (sr_cpu_level() < SR_CPU_AVX512) {
        printf("no AVX-512 here (or SEQRUN_ISA caps it): the kernels are not used; checking only that\n");
        ck_conv c = {.n = 1, .cin = 64, .cout = 64, .groups = 1, .h = 4, .w = 4, .oh = 4, .ow = 4, .k = {3, 3},
                     .s = {1, 1}, .dil = {1, 1}, .pb = {1, 1}, .pa = {1, 1}};
        CHECK(ck_choose(&c) == CK_NONE, "ck_choose takes a convolution without AVX-512");
        return unit_summary();
    }
    sr_layer relu, leaky, sig;
    if (sr_layer_init(&relu, sr_layertype_find("ReLU")) || sr_layer_init(&leaky, sr_layertype_find("LeakyReLU")) ||
        sr_layer_init(&sig, sr_layertype_find("Sigmoid")))
        return 1;
    char err[SR_ERRLEN];
    sr_layer *pl[] = {&relu, &leaky, &sig};
    for (int i = 0; i < 3; i++)
        if (pl[i]->type->validate && pl[i]->type->validate(pl[i], err) != SR_OK)
            return 1;
    const sr_layer *posts[] = {NULL, &relu, NULL, &leaky, &sig};
    test_choose();
    test_balance();
    test_oc(posts, 5);
    test_pw(posts, 5);
    test_dw(posts, 5);
    test_wg(posts, 5);
    sr_layer_clear(&relu);
    sr_layer_clear(&leaky);
    sr_layer_clear(&sig);
    return unit_summary();
}
