/*
 * lrn.c - LocalResponseNorm and CrossMapLRN2d: each value divided by a power
 * of the mean square over a window of neighbouring channels.
 *
 * LocalResponseNorm is F.local_response_norm: for channel c the window is
 * channels c - size/2 .. c + (size-1)/2, zero-padded at the ends and always
 * divided by size; y = x / (k + alpha * mean)^beta, over (N, C, *) input of
 * 3 dims or more.
 *
 * CrossMapLRN2d (4-D input only) is torch.nn._functions.CrossMapLRN2d, the
 * Lua Torch port: its window is built by a running sum that adds channel
 * c + p - 1 and removes channel c - p only for c > p (p = (size-1)/2 + 1),
 * so it spans c - p + 1 .. c + p - 1 but channel 0, once in, is never
 * removed; y = x * (k + alpha / size * sum)^-beta.  We sum each window
 * directly (the same terms, without the running sum's cancellation).
 */
#include "layers.h"
#include "../par.h"

#include "../cpu.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { LRN_SIZE, LRN_ALPHA, LRN_BETA, LRN_K };
enum { LRN_LOCAL, LRN_CROSSMAP }; /* variant */

static SR_VALIDATE_FN(lrn_validate)
{
    if (sr_argi(L, LRN_SIZE) <= 0)
        return sr_err(err, SR_EUSAGE, "size must be positive, got %lld; hint: size is how many neighbouring channels "
                      "each value is normalised over", (long long)sr_argi(L, LRN_SIZE));
    return SR_OK;
}

static SR_SHAPE_FN(lrn_shape)
{
    char src[256];
    sr_from(info, 1, src, sizeof src);
    *out = *in;
    info->out_known = 1;
    info->batch_dim0 = 1;
    if (L->type->variant == LRN_CROSSMAP && in->ndim != 4)
        return sr_err(err, SR_ESHAPE, "CrossMapLRN2d expects 4-D (N, C, H, W) input, but input %s%s is %d-D; hint: %s",
                      sr_shp(in), src, in->ndim,
                      in->ndim == 3 ? "add a batch dimension (shape [1, C, H, W]); it has no unbatched form"
                                    : "use LocalResponseNorm, which takes (N, C, *) input of 3 dims or more");
    if (in->ndim < 3)
        return sr_err(err, SR_ESHAPE, "LocalResponseNorm expects (N, C, *) input of 3 dims or more, but input %s%s is "
                      "%d-D; hint: %s", sr_shp(in), src, in->ndim,
                      in->ndim == 2 ? "it normalises across channels at each position: give it (N, C, L) data "
                                      "(Unflatten: [1, [C, 1]] makes one position)"
                                    : "give it (N, C, L), (N, C, H, W) or deeper data");
    return SR_OK;
}

/* acc[i] += x[i]^2 */
static SR_VEC_VOID(lrn_sq_add, (float *acc, const float *x, int64_t n), (acc, x, n))
{
    for (int64_t i = 0; i < n; i++)
        acc[i] += x[i] * x[i];
}

/*
 * y = x / (acc * a + k)^0.75, as x / (r * sqrt(r)) with r = sqrt(v) (beta
 * 0.75, AlexNet's), or x / sqrt(v) (beta 0.5, sq = 0).  The compiler does
 * not vectorise sqrtf (errno), so the vector ISAs have it by hand; every
 * step is correctly rounded, so all three give the same bits.
 */
static void lrn_div_sqrt_base(const float *x, const float *acc, float *y, int64_t n, float a, float k, int sq)
{
    for (int64_t i = 0; i < n; i++) {
        float r = sqrtf(acc[i] * a + k);
        y[i] = x[i] / (sq ? r * sqrtf(r) : r);
    }
}

#ifdef SR_X86
#include <immintrin.h>

SR_TARGET_AVX512 static void lrn_div_sqrt_avx512(const float *x, const float *acc, float *y, int64_t n, float a,
                                                 float k, int sq)
{
    __m512 av = _mm512_set1_ps(a), kv = _mm512_set1_ps(k);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 r = _mm512_sqrt_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(acc + i), av), kv));
        if (sq)
            r = _mm512_mul_ps(r, _mm512_sqrt_ps(r));
        _mm512_storeu_ps(y + i, _mm512_div_ps(_mm512_loadu_ps(x + i), r));
    }
    lrn_div_sqrt_base(x + i, acc + i, y + i, n - i, a, k, sq);
}

SR_TARGET_AVX2 static void lrn_div_sqrt_avx2(const float *x, const float *acc, float *y, int64_t n, float a,
                                             float k, int sq)
{
    __m256 av = _mm256_set1_ps(a), kv = _mm256_set1_ps(k);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 r = _mm256_sqrt_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(acc + i), av), kv));
        if (sq)
            r = _mm256_mul_ps(r, _mm256_sqrt_ps(r));
        _mm256_storeu_ps(y + i, _mm256_div_ps(_mm256_loadu_ps(x + i), r));
    }
    lrn_div_sqrt_base(x + i, acc + i, y + i, n - i, a, k, sq);
}
#endif

static void lrn_div_sqrt(const float *x, const float *acc, float *y, int64_t n, float a, float k, int sq)
{
#ifdef SR_X86
    int lvl = sr_cpu_level();
    if (lvl == SR_CPU_AVX512) {
        lrn_div_sqrt_avx512(x, acc, y, n, a, k, sq);
        return;
    }
    if (lvl == SR_CPU_AVX2) {
        lrn_div_sqrt_avx2(x, acc, y, n, a, k, sq);
        return;
    }
#endif
    lrn_div_sqrt_base(x, acc, y, n, a, k, sq);
}

/* y = x / (acc * a + k) */
static SR_VEC_VOID(lrn_div1, (const float *x, const float *acc, float *y, int64_t n, float a, float k),
                   (x, acc, y, n, a, k))
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] / (acc[i] * a + k);
}

#define LRN_BLOCK 512

typedef struct {
    const float *X;
    float *Y;
    int64_t C, S, before, after;
    int cross;
    float a, k;
    double beta;
    const sr_layer *post;
} lrn_job;

/* One sample: each channel's window of squares summed per block of
 * positions, then divided out. */
static void lrn_sample(void *arg, int64_t n, int tid)
{
    (void)tid;
    const lrn_job *J = arg;
    int64_t C = J->C, S = J->S;
    const float *xn = J->X + n * C * S;
    float *yn = J->Y + n * C * S;
    float acc[LRN_BLOCK];
    for (int64_t c = 0; c < C; c++) {
        int64_t lo = c - J->before > 0 ? c - J->before : 0, hi = c + J->after < C - 1 ? c + J->after : C - 1;
        int with0 = J->cross && lo > 0;
        for (int64_t i0 = 0; i0 < S; i0 += LRN_BLOCK) {
            int64_t m = S - i0 < LRN_BLOCK ? S - i0 : LRN_BLOCK;
            memset(acc, 0, (size_t)m * sizeof *acc);
            if (with0)
                lrn_sq_add(acc, xn + i0, m);
            for (int64_t j = lo; j <= hi; j++)
                lrn_sq_add(acc, xn + j * S + i0, m);
            const float *x = xn + c * S + i0;
            float *y = yn + c * S + i0;
            if (J->beta == 0.75 || J->beta == 0.5)
                lrn_div_sqrt(x, acc, y, m, J->a, J->k, J->beta == 0.75);
            else if (J->beta == 1.0)
                lrn_div1(x, acc, y, m, J->a, J->k);
            else
                for (int64_t i = 0; i < m; i++)
                    y[i] = x[i] / powf(acc[i] * J->a + J->k, (float)J->beta);
        }
        if (J->post)
            J->post->type->apply(J->post, yn + c * S, yn + c * S, (size_t)S);
    }
}

static SR_FORWARD_FN(lrn_forward)
{
    (void)err;
    const sr_shape *s = &in->shape;
    int64_t N = s->d[0], C = s->d[1], S = sr_prod(s, 2, s->ndim), size = sr_argi(L, LRN_SIZE);
    lrn_job J = {.X = sr_f32(in), .Y = sr_f32(out), .C = C, .S = S, .before = size / 2, .after = (size - 1) / 2,
                 .cross = L->type->variant == LRN_CROSSMAP, .a = (float)(sr_argf(L, LRN_ALPHA) / (double)size),
                 .k = (float)sr_argf(L, LRN_K), .beta = sr_argf(L, LRN_BETA), .post = ctx->post};
    if (J.cross)
        J.before = J.after = (size - 1) / 2; /* p - 1 either side */
    int threads = N * C * S >= ((int64_t)1 << 15) ? ctx->threads : 1;
    sr_par_for(threads < N ? threads : (int)N, N, lrn_sample, &J);
    return SR_OK;
}

/* ---- rows ----------------------------------------------------------------- */

static const sr_argdef a_lrn[] = {
    {"size", T_I, NULL, NULL, 0},
    {"alpha", T_F, "0.0001", NULL, 0},
    {"beta", T_F, "0.75", NULL, 0},
    {"k", T_F, "1.0", NULL, 0},
};
/* k's default is the int 1 here, and prints so */
static const sr_argdef a_crossmaplrn[] = {
    {"size", T_I, NULL, NULL, 0},
    {"alpha", T_F, "0.0001", NULL, 0},
    {"beta", T_F, "0.75", NULL, 0},
    {"k", T_F, "1", NULL, 0},
};

SR_ROW(LocalResponseNorm, .summary = "divides by a power of the mean square over neighbouring channels of (N, C, *)",
       SR_ARGS(a_lrn), .repr = "#size, alpha=, beta=, k=", .flags = SR_FUSE_POST, .variant = LRN_LOCAL,
       .validate = lrn_validate, .shape = lrn_shape, .forward = lrn_forward);
SR_ROW(CrossMapLRN2d, .summary = "LocalResponseNorm of Lua Torch over (N, C, H, W), its window quirks included",
       SR_ARGS(a_crossmaplrn), .repr = "#size, alpha=, beta=, k=", .flags = SR_FUSE_POST, .variant = LRN_CROSSMAP,
       .validate = lrn_validate, .shape = lrn_shape, .forward = lrn_forward);
