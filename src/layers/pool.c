/*
 * pool.c - MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d,
 * AdaptiveMaxPool1d/2d.
 *
 * As in conv.c, the 1-D layers run as 2-D ones of height 1.  Window
 * placement, output sizes and divisors follow ATen's CPU kernels
 * (Pool.h, AvgPoolKernel.cpp, AdaptivePooling.h) case by case, since the
 * edge cases (ceil_mode windows that overhang the padding, divisors with
 * count_include_pad) are where implementations differ.
 */
#include "pool_common.h"
#include "../par.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define POOL_ARG_MAX (1 << 30)

typedef struct {
    int nd;
    int is_max;
    int64_t k[2], s[2], d[2], p[2];
    int ceil, cip;
    int64_t divisor;           /* 0: none */
} pool_geo;

enum { POOL_AVG, POOL_MAX }; /* the rows' variant */
static int is_maxpool(const sr_layer *L) { return L->type->variant == POOL_MAX; }

static void pool_geo_get(const sr_layer *L, pool_geo *g)
{
    memset(g, 0, sizeof *g);
    int mx = g->is_max = is_maxpool(L);
    int nd = g->nd = L->type->args[POOL_KERNEL].tlen;
    int ks = POOL_KERNEL, ss = POOL_STRIDE, ps = POOL_PAD;
    int64_t k[2], s[2], d[2] = {1, 1}, p[2];
    sr_arg_tuple(L, ks, nd, k);
    if (sr_arg_is_none(L, ss))
        memcpy(s, k, sizeof s); /* stride=None means stride=kernel_size */
    else
        sr_arg_tuple(L, ss, nd, s);
    sr_arg_tuple(L, ps, nd, p);
    if (mx) {
        sr_arg_tuple(L, MAXPOOL_DIL, nd, d);
        g->ceil = (int)sr_argi(L, MAXPOOL_CEIL);
    } else {
        g->ceil = (int)sr_argi(L, AVGPOOL_CEIL);
        g->cip = (int)sr_argi(L, AVGPOOL_CIP);
        if (L->type->nargs > AVGPOOL_DIVISOR && !sr_arg_is_none(L, AVGPOOL_DIVISOR))
            g->divisor = sr_argi(L, AVGPOOL_DIVISOR);
    }
    for (int i = 0; i < 2; i++) {
        int j = i - (2 - nd);
        g->k[i] = j < 0 ? 1 : k[j];
        g->s[i] = j < 0 ? 1 : s[j];
        g->d[i] = j < 0 ? 1 : d[j];
        g->p[i] = j < 0 ? 0 : p[j];
    }
}

/* "(3, 3)" or "3": the last nd of a 2-D layout's two sizes */
static const char *tup(int nd, const int64_t *v, char *buf, size_t len)
{
    return sr_pool_tup(v + 2 - nd, nd, buf, len);
}

/* "5x7" or "7" */
static const char *ext(int nd, const int64_t *v, char *buf, size_t len)
{
    return sr_pool_ext(v + 2 - nd, nd, buf, len);
}

SR_VALIDATE_FN(sr_pool_validate)
{
    pool_geo g;
    pool_geo_get(L, &g);
    char a[48];
    for (int i = 0; i < 2; i++) {
        if (g.k[i] <= 0)
            return sr_err(err, SR_EUSAGE, "kernel_size must be greater than zero, got %s", tup(g.nd, g.k, a, sizeof a));
        if (g.s[i] <= 0)
            return sr_err(err, SR_EUSAGE, "stride must be greater than zero, got %s", tup(g.nd, g.s, a, sizeof a));
        if (g.d[i] <= 0)
            return sr_err(err, SR_EUSAGE, "dilation must be greater than zero, got %s", tup(g.nd, g.d, a, sizeof a));
        if (g.p[i] < 0)
            return sr_err(err, SR_EUSAGE, "padding must be non-negative, got %s", tup(g.nd, g.p, a, sizeof a));
        /* keeps every size computed from them far from int64 overflow */
        if (g.k[i] > POOL_ARG_MAX || g.s[i] > POOL_ARG_MAX || g.d[i] > POOL_ARG_MAX)
            return sr_err(err, SR_EUSAGE, "kernel_size, stride and dilation must be at most %d", POOL_ARG_MAX);
        if (g.p[i] > g.k[i] / 2)
            return sr_pool_pad_error(g.k + 2 - g.nd, g.p + 2 - g.nd, g.nd, err);
    }
    if (g.is_max && sr_argi(L, MAXPOOL_RETIDX))
        return sr_pool_indices_error(L, err);
    if (!g.is_max && g.divisor == 0 && L->type->nargs > AVGPOOL_DIVISOR && !sr_arg_is_none(L, AVGPOOL_DIVISOR))
        return sr_err(err, SR_EUSAGE, "divisor must be not zero; hint: leave divisor_override out (None) to divide by "
                      "the window size");
    return SR_OK;
}

static sr_status pool_rank_error(const sr_layer *L, int nd, const sr_shape *in, const sr_shapeinfo *info, char *err)
{
    char src[256];
    const char *hint = nd == 2 ? (in->ndim == 2 ? "restore the spatial dimensions with Unflatten before this layer"
                                                : "give it (C, H, W) or (N, C, H, W) data")
                               : (in->ndim == 4 ? "this is an image batch; use the 2d variant of this layer"
                                                : "give it (C, L) or (N, C, L) data");
    return sr_err(err, SR_ESHAPE, "%s expects a %s input, but input %s%s is %d-D; hint: %s", L->type->name,
                  nd == 2 ? "3-D (C, H, W) or 4-D (N, C, H, W)" : "2-D (C, L) or 3-D (N, C, L)", sr_shp(in),
                  sr_from(info, 1, src, sizeof src), in->ndim, hint);
}

SR_SHAPE_FN(sr_pool_shape)
{
    pool_geo g;
    pool_geo_get(L, &g);
    if (in->ndim != g.nd + 1 && in->ndim != g.nd + 2)
        return pool_rank_error(L, g.nd, in, info, err);
    /* every (batch, channel) plane is pooled on its own, so dim 0 -- batch
     * or channel -- can always be split */
    info->batch_dim0 = 1;
    sr_status st = sr_pool_check_nonempty(L, g.nd, in, info, err);
    if (st != SR_OK)
        return st;
    int64_t isz[2] = {g.nd == 2 ? in->d[in->ndim - 2] : 1, in->d[in->ndim - 1]}, osz[2];
    /* PyTorch 1.13's inference max_pool1d (MaxPooling.cpp, under no_grad)
     * returns an empty output, but with autograd on it raises "Output size
     * is too small", as every other pool does: the contract makes a
     * zero-size output a mismatch for them all */
    int64_t least = 1;
    int fits = 1;
    for (int i = 0; i < 2; i++) {
        osz[i] = sr_pool_out(isz[i], g.k[i], g.p[i], g.s[i], g.d[i], g.ceil);
        fits &= osz[i] >= least;
    }
    *out = *in;
    for (int i = 2 - g.nd; i < 2; i++)
        out->d[out->ndim - 2 + i] = osz[i] > 0 ? osz[i] : 0;
    info->out_known = fits;
    if (fits)
        return SR_OK;
    /* the smallest input that gives at least one window, per dimension */
    int64_t need[2];
    for (int i = 0; i < 2; i++)
        need[i] = sr_pool_least_input(g.k[i], g.p[i], g.s[i], g.d[i], g.ceil);
    char a[48], b[48], c[48], e[48], f[48];
    return sr_err(err, SR_ESHAPE,
                  "Output size is too small: input %s is %s, too small for kernel_size=%s with padding=%s%s: the output would be %s; "
                  "hint: %s fits inputs of at least %s here: remove a downsampling step before it, or use a smaller "
                  "kernel_size",
                  sr_shp(in), ext(g.nd, isz, a, sizeof a), tup(g.nd, g.k, b, sizeof b),
                  tup(g.nd, g.p, c, sizeof c),
                  g.is_max && (g.d[0] != 1 || g.d[1] != 1) ? " and dilation" : "",
                  ext(g.nd, osz, e, sizeof e), L->type->name, ext(g.nd, need, f, sizeof f));
}

/* Planes and their 2-D extents for a pooling layer's input and output. */
static void planes(int nd, const sr_shape *in, const sr_shape *out, int64_t *np, int64_t *H, int64_t *W,
                   int64_t *OH, int64_t *OW)
{
    *H = nd == 2 ? in->d[in->ndim - 2] : 1;
    *W = in->d[in->ndim - 1];
    *OH = nd == 2 ? out->d[out->ndim - 2] : 1;
    *OW = out->d[out->ndim - 1];
    *np = sr_prod(in, 0, in->ndim - nd);
}

/* 2x2 windows at stride 2 inside the input: the common case, one output
 * row from two input rows, in a loop that vectorises. */
static SR_VEC_VOID(maxpool2x2_row, (const float *r0, const float *r1, float *y, int64_t OW), (r0, r1, y, OW))
{
    for (int64_t ow = 0; ow < OW; ow++) {
        float m = sr_pool_nanmax(sr_pool_nanmax(r0[2 * ow], r0[2 * ow + 1]), r1[2 * ow]);
        y[ow] = sr_pool_nanmax(m, r1[2 * ow + 1]);
    }
}

#ifdef SR_X86
#include <immintrin.h>
#include "../cpu.h"
#define POOL_X86 1

/* sr_pool_nanmax on 16 lanes: v where v > m or v is NaN, else m */
__attribute__((target("avx512f"))) static inline __m512 nanmax16(__m512 m, __m512 v)
{
    __mmask16 k = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_blend_ps(k, m, v);
}

/* The 2x2 stride-2 case with AVX-512: 32 columns of two input rows in,
 * their even and odd columns apart by permutes, 16 outputs out; the same
 * comparisons in the same order as maxpool2x2_row, so the same bits. */
__attribute__((target("avx512f"))) static void maxpool2x2_512(const float *x, float *y, int64_t np, int64_t H,
                                                               int64_t W, int64_t OH, int64_t OW)
{
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int64_t q = 0; q < np; q++) {
        const float *xq = x + q * H * W;
        float *yq = y + q * OH * OW;
        for (int64_t oh = 0; oh < OH; oh++) {
            const float *r0 = xq + 2 * oh * W, *r1 = r0 + W;
            float *yr = yq + oh * OW;
            for (int64_t ow = 0; ow < OW; ow += 16) {
                int64_t n = 2 * (OW - ow < 16 ? OW - ow : 16); /* input columns used */
                __mmask16 ka = (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
                __mmask16 kb = (__mmask16)(n >= 32 ? 0xffff : n <= 16 ? 0 : (1u << (n - 16)) - 1);
                __m512 a = _mm512_maskz_loadu_ps(ka, r0 + 2 * ow), b = _mm512_maskz_loadu_ps(kb, r0 + 2 * ow + 16);
                __m512 c = _mm512_maskz_loadu_ps(ka, r1 + 2 * ow), d = _mm512_maskz_loadu_ps(kb, r1 + 2 * ow + 16);
                __m512 m = nanmax16(_mm512_permutex2var_ps(a, ev, b), _mm512_permutex2var_ps(a, od, b));
                m = nanmax16(m, _mm512_permutex2var_ps(c, ev, d));
                m = nanmax16(m, _mm512_permutex2var_ps(c, od, d));
                _mm512_mask_storeu_ps(yr + ow, (__mmask16)(n >= 32 ? 0xffff : (1u << (n / 2)) - 1), m);
            }
        }
    }
}

/*
 * The same on planes 2, 4 or 8 wide of an even height, whole rows and
 * columns pooled (VGG's 8x8, 4x4 and 2x2 ends: a row of 2 or 4 outputs
 * left most of maxpool2x2_512's lanes empty): 16 outputs come from 64
 * consecutive input floats (row pairs of 2W), each of a window's four
 * taps a permute of those four vectors; the comparisons in
 * maxpool2x2_row's order.  n outputs from x on (n a multiple of OW).
 */
__attribute__((target("avx512f"))) static void maxpool2x2_small512(const float *x, float *y, int64_t n, int64_t W)
{
    int64_t OW = W / 2;
    int32_t ix[4][16];
    for (int o = 0; o < 16; o++) {
        int32_t base = (int32_t)(o / OW * 2 * W + o % OW * 2);
        ix[0][o] = base;
        ix[1][o] = base + 1;
        ix[2][o] = base + (int32_t)W;
        ix[3][o] = base + (int32_t)W + 1;
    }
    __m512i iv[4];
    __mmask16 hi[4];
    for (int k = 0; k < 4; k++) {
        iv[k] = _mm512_loadu_si512(ix[k]);
        hi[k] = _mm512_test_epi32_mask(iv[k], _mm512_set1_epi32(32));
    }
    for (int64_t g = 0; g < n; g += 16) {
        int64_t m = n - g < 16 ? n - g : 16, f = 4 * m; /* outputs, input floats */
        const float *xg = x + 4 * g;
        __m512 v[4];
        for (int k = 0; k < 4; k++) {
            int64_t r = f - 16 * k;
            v[k] = _mm512_maskz_loadu_ps((__mmask16)(r >= 16 ? 0xffff : r <= 0 ? 0 : (1u << r) - 1), xg + 16 * k);
        }
        __m512 t[4];
        for (int k = 0; k < 4; k++)
            t[k] = _mm512_mask_blend_ps(hi[k], _mm512_permutex2var_ps(v[0], iv[k], v[1]),
                                        _mm512_permutex2var_ps(v[2], iv[k], v[3]));
        __m512 r = nanmax16(nanmax16(nanmax16(t[0], t[1]), t[2]), t[3]);
        _mm512_mask_storeu_ps(y + g, (__mmask16)(m >= 16 ? 0xffff : (1u << m) - 1), r);
    }
}
#endif

/* 2x2 stride-2 max pooling of planes q0 .. q1 */
typedef struct {
    const float *x;
    float *y;
    int64_t np, H, W, OH, OW;
} mp_job;

#define MP_TASK_FLOATS (1 << 15) /* input floats per task, at least */

static void mp_planes(const mp_job *J, int64_t q0, int64_t q1)
{
    const float *x = J->x + q0 * J->H * J->W;
    float *y = J->y + q0 * J->OH * J->OW;
    int64_t H = J->H, W = J->W, OH = J->OH, OW = J->OW;
#ifdef POOL_X86
    if (sr_cpu_level() == SR_CPU_AVX512) {
        if ((W == 2 || W == 4 || W == 8) && H == 2 * OH && W == 2 * OW)
            maxpool2x2_small512(x, y, (q1 - q0) * OH * OW, W);
        else
            maxpool2x2_512(x, y, q1 - q0, H, W, OH, OW);
        return;
    }
#endif
    for (int64_t q = 0; q < q1 - q0; q++)
        for (int64_t oh = 0; oh < OH; oh++)
            maxpool2x2_row(x + (q * H + 2 * oh) * W, x + (q * H + 2 * oh + 1) * W, y + (q * OH + oh) * OW, OW);
}

static void mp_task(void *arg, int64_t task, int tid)
{
    const mp_job *J = arg;
    int64_t per = (MP_TASK_FLOATS + J->H * J->W - 1) / (J->H * J->W);
    int64_t q0 = task * per, q1 = q0 + per < J->np ? q0 + per : J->np;
    mp_planes(J, q0, q1);
    (void)tid;
}

SR_FORWARD_FN(sr_maxpool_forward)
{
    (void)err;
    pool_geo g;
    pool_geo_get(L, &g);
    int64_t np, H, W, OH, OW;
    planes(g.nd, &in->shape, &out->shape, &np, &H, &W, &OH, &OW);
    if (g.k[0] == 2 && g.k[1] == 2 && g.s[0] == 2 && g.s[1] == 2 && !g.p[0] && !g.p[1] && g.d[0] == 1 &&
        g.d[1] == 1 && 2 * OH <= H && 2 * OW <= W) {
        /* planes spread over the threads a whole chunk has (in a
         * micro-batched run: one) */
        mp_job J = {.x = sr_f32(in), .y = sr_f32(out), .np = np, .H = H, .W = W, .OH = OH, .OW = OW};
        int64_t per = H * W > 0 ? (MP_TASK_FLOATS + H * W - 1) / (H * W) : 1, tasks = (np + per - 1) / per;
        int threads = ctx->threads > 1 ? ctx->threads : 1;
        if (threads > 1 && tasks > 1)
            sr_par_for((int)(threads < tasks ? threads : tasks), tasks, mp_task, &J);
        else
            mp_planes(&J, 0, np);
        return SR_OK;
    }
    for (int64_t q = 0; q < np; q++) {
        const float *x = sr_f32(in) + q * H * W;
        float *y = sr_f32(out) + q * OH * OW;
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t hs = oh * g.s[0] - g.p[0], he = hs + (g.k[0] - 1) * g.d[0] + 1;
            if (he > H)
                he = H;
            while (hs < 0)
                hs += g.d[0];
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t ws = ow * g.s[1] - g.p[1], we = ws + (g.k[1] - 1) * g.d[1] + 1;
                if (we > W)
                    we = W;
                while (ws < 0)
                    ws += g.d[1];
                float m = -INFINITY;
                for (int64_t h = hs; h < he; h += g.d[0])
                    for (int64_t w = ws; w < we; w += g.d[1])
                        m = sr_pool_nanmax(m, x[h * W + w]);
                y[oh * OW + ow] = m;
            }
        }
    }
    return SR_OK;
}

SR_FORWARD_FN(sr_avgpool_forward)
{
    (void)ctx;
    (void)err;
    pool_geo g;
    pool_geo_get(L, &g);
    int64_t np, H, W, OH, OW;
    planes(g.nd, &in->shape, &out->shape, &np, &H, &W, &OH, &OW);
    for (int64_t q = 0; q < np; q++) {
        const float *x = sr_f32(in) + q * H * W;
        float *y = sr_f32(out) + q * OH * OW;
        for (int64_t oh = 0; oh < OH; oh++) {
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t hs = oh * g.s[0] - g.p[0], ws = ow * g.s[1] - g.p[1];
                /* the window clipped to the padded input: what count_include_pad counts */
                int64_t he = hs + g.k[0] < H + g.p[0] ? hs + g.k[0] : H + g.p[0];
                int64_t we = ws + g.k[1] < W + g.p[1] ? ws + g.k[1] : W + g.p[1];
                int64_t pool_size = (he - hs) * (we - ws);
                if (hs < 0)
                    hs = 0;
                if (ws < 0)
                    ws = 0;
                if (he > H)
                    he = H;
                if (we > W)
                    we = W;
                if (hs >= he || ws >= we) {
                    y[oh * OW + ow] = 0.0f;
                    continue;
                }
                double sum = 0;
                for (int64_t h = hs; h < he; h++)
                    sum += sr_pool_sum(x + h * W + ws, we - ws);
                int64_t div = g.divisor ? g.divisor : g.cip ? pool_size : (he - hs) * (we - ws);
                y[oh * OW + ow] = (float)(sum / (double)div);
            }
        }
    }
    return SR_OK;
}

/* ---- adaptive pools ---------------------------------------------------------- */

/* output_size in 2-D terms (a 1-D pool's height 1); None keeps the input's size. */
static void adaptive_size(const sr_layer *L, const sr_shape *in, int64_t *o)
{
    int nd = L->type->args[ADAPT_SIZE].tlen;
    o[0] = 1;
    sr_pool_adaptive_size(L, in, nd, o + 2 - nd);
}

SR_VALIDATE_FN(sr_adaptive_validate)
{
    const sr_argval *v = &L->arg[ADAPT_SIZE];
    int n = v->kind == SR_AV_TUPLE ? v->n : 1;
    for (int j = 0; j < n; j++) {
        int64_t x = v->kind == SR_AV_TUPLE ? v->t[j] : v->i;
        if (!(v->kind == SR_AV_TUPLE && v->tnone[j]) && x > POOL_ARG_MAX)
            return sr_err(err, SR_EUSAGE, "output_size items must be at most %d, got %lld", POOL_ARG_MAX, (long long)x);
        if (!(v->kind == SR_AV_TUPLE && v->tnone[j]) && x < 0) {
            char buf[96];
            sr_argval_repr(v, buf, sizeof buf);
            return sr_err(err, SR_EUSAGE, "elements of output_size must be greater than or equal to 0, got %s", buf);
        }
    }
    if (L->type->nargs > ADAPT_RETIDX && sr_argi(L, ADAPT_RETIDX))
        return sr_pool_indices_error(L, err);
    return SR_OK;
}

SR_SHAPE_FN(sr_adaptive_shape)
{
    int nd = L->type->args[ADAPT_SIZE].tlen;
    if (in->ndim != nd + 1 && in->ndim != nd + 2)
        return pool_rank_error(L, nd, in, info, err);
    info->batch_dim0 = 1;
    sr_status st = sr_pool_check_nonempty(L, nd, in, info, err);
    if (st != SR_OK)
        return st;
    int64_t o[2];
    adaptive_size(L, in, o);
    *out = *in;
    for (int i = 2 - nd; i < 2; i++)
        out->d[out->ndim - 2 + i] = o[i];
    info->out_known = 1;
    return sr_pool_check_output(L, nd, in, out, info, err);
}

/* Global average pooling (output 1 per plane: MobileNet's and ResNet's
 * AdaptiveAvgPool2d(1)): the same double sum as sr_pool_sum for each plane,
 * without the window arithmetic (four integer divisions per output).  A
 * plane of fewer than 64 floats is summed one float after another, a
 * chain of dependent additions; eight planes at a time keep eight
 * independent chains in flight, each in its plane's order, so the bits
 * are sr_pool_sum's. */
static void global_avg(const float *x, float *y, int64_t np, int64_t n)
{
    int64_t q = 0;
    if (n < 64)
        for (; q + 8 <= np; q += 8, x += 8 * n) {
            double s[8] = {0};
            for (int64_t i = 0; i < n; i++)
                for (int j = 0; j < 8; j++)
                    s[j] += (double)x[j * n + i];
            for (int j = 0; j < 8; j++)
                y[q + j] = (float)(s[j] / (double)n);
        }
    for (; q < np; q++, x += n)
        y[q] = (float)(sr_pool_sum(x, n) / (double)n);
}

static sr_status adaptive_forward(const sr_tensor *in, sr_tensor *out, int nd, int mx)
{
    int64_t np, H, W, OH, OW;
    planes(nd, &in->shape, &out->shape, &np, &H, &W, &OH, &OW);
    if (!mx && OH == 1 && OW == 1 && H * W > 0) {
        global_avg(sr_f32(in), sr_f32(out), np, H * W);
        return SR_OK;
    }
    for (int64_t q = 0; q < np; q++) {
        const float *x = sr_f32(in) + q * H * W;
        float *y = sr_f32(out) + q * OH * OW;
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t hs = sr_pool_astart(oh, OH, H), he = sr_pool_aend(oh, OH, H);
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t ws = sr_pool_astart(ow, OW, W), we = sr_pool_aend(ow, OW, W);
                if (mx) {
                    float m = -INFINITY;
                    for (int64_t h = hs; h < he; h++)
                        for (int64_t w = ws; w < we; w++)
                            m = sr_pool_nanmax(m, x[h * W + w]);
                    y[oh * OW + ow] = m;
                } else {
                    double sum = 0;
                    if (ws == 0 && we == W) /* whole rows: one contiguous run */
                        sum = sr_pool_sum(x + hs * W, (he - hs) * W);
                    else
                        for (int64_t h = hs; h < he; h++)
                            sum += sr_pool_sum(x + h * W + ws, we - ws);
                    y[oh * OW + ow] = (float)(sum / (double)((he - hs) * (we - ws)));
                }
            }
        }
    }
    return SR_OK;
}

SR_FORWARD_FN(sr_adaptiveavg_forward)
{
    (void)ctx;
    (void)err;
    return adaptive_forward(in, out, L->type->args[ADAPT_SIZE].tlen, 0);
}

SR_FORWARD_FN(sr_adaptivemax_forward)
{
    (void)ctx;
    (void)err;
    return adaptive_forward(in, out, L->type->args[ADAPT_SIZE].tlen, 1);
}

/* ---- rows ----------------------------------------------------------------- */

SR_MAXPOOL_ARGS(a_maxpool1d, 1);
SR_MAXPOOL_ARGS(a_maxpool2d, 2);
static const sr_argdef a_avgpool1d[] = {
    {"kernel_size", T_T, NULL, NULL, 1},
    {"stride", T_T | T_N, "None", NULL, 1},
    {"padding", T_T, "0", NULL, 1},
    {"ceil_mode", T_B, "False", NULL, 0},
    {"count_include_pad", T_B, "True", NULL, 0},
};
SR_AVGPOOL_ARGS(a_avgpool2d, 2);
static const sr_argdef a_adaptiveavg1d[] = {{"output_size", T_T, NULL, NULL, 1}};
static const sr_argdef a_adaptiveavg2d[] = {{"output_size", T_T | SR_T_TNONE, NULL, NULL, 2}};
static const sr_argdef a_adaptivemax1d[] = {
    {"output_size", T_T, NULL, NULL, 1},
    {"return_indices", T_B, "False", NULL, 0},
};
static const sr_argdef a_adaptivemax2d[] = {
    {"output_size", T_T | SR_T_TNONE, NULL, NULL, 2},
    {"return_indices", T_B, "False", NULL, 0},
};

SR_ROW(MaxPool1d, .summary = "maximum over sliding windows of (N, C, L)", SR_ARGS(a_maxpool1d), .repr = SR_MAXPOOL_REPR,
       .variant = POOL_MAX,
       .validate = sr_pool_validate, .shape = sr_pool_shape, .forward = sr_maxpool_forward);
SR_ROW(MaxPool2d, .summary = "maximum over sliding windows of (N, C, H, W)", SR_ARGS(a_maxpool2d),
       .repr = SR_MAXPOOL_REPR, .variant = POOL_MAX, .validate = sr_pool_validate, .shape = sr_pool_shape, .forward = sr_maxpool_forward);
SR_ROW(AvgPool1d, .summary = "average over sliding windows of (N, C, L)", SR_ARGS(a_avgpool1d),
       .repr = "kernel_size=:1, stride=:1|kernel_size, padding=:1", .validate = sr_pool_validate,
       .shape = sr_pool_shape, .forward = sr_avgpool_forward);
SR_ROW(AvgPool2d, .summary = "average over sliding windows of (N, C, H, W)", SR_ARGS(a_avgpool2d),
       .repr = "kernel_size=, stride=|kernel_size, padding=", .validate = sr_pool_validate,
       .shape = sr_pool_shape, .forward = sr_avgpool_forward);
SR_ROW(AdaptiveAvgPool1d, .summary = "average pooling to a fixed output length", SR_ARGS(a_adaptiveavg1d),
       .repr = "output_size=", .validate = sr_adaptive_validate, .shape = sr_adaptive_shape,
       .forward = sr_adaptiveavg_forward);
SR_ROW(AdaptiveAvgPool2d, .summary = "average pooling to a fixed output size (None keeps a dimension)",
       SR_ARGS(a_adaptiveavg2d), .repr = "output_size=", .validate = sr_adaptive_validate,
       .shape = sr_adaptive_shape, .forward = sr_adaptiveavg_forward);
SR_ROW(AdaptiveMaxPool1d, .summary = "max pooling to a fixed output length", SR_ARGS(a_adaptivemax1d),
       .repr = "output_size=", .validate = sr_adaptive_validate, .shape = sr_adaptive_shape,
       .forward = sr_adaptivemax_forward);
SR_ROW(AdaptiveMaxPool2d, .summary = "max pooling to a fixed output size (None keeps a dimension)",
       SR_ARGS(a_adaptivemax2d), .repr = "output_size=", .validate = sr_adaptive_validate,
       .shape = sr_adaptive_shape, .forward = sr_adaptivemax_forward);
