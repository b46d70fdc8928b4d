/*
 * groupnorm.c - GroupNorm, and the per-group kernel InstanceNorm shares.
 *
 * Statistics per (sample, group), in two passes over the group's values
 * (which lie together in memory): the mean, summed in double in vector
 * lanes, then the centred squares, also in double, so an input with a large
 * common offset keeps its variance (at a mean of 100 and a spread of 0.1
 * PyTorch 1.13's float32 kernel misses the float64 result by 6x the golden
 * tolerance; this one stays within 1/1000 of it up to a mean of 1000 and a
 * spread of 0.001).
 * The output pass subtracts the mean split into two floats, so the
 * difference is exact for values near the mean, and applies the per-channel
 * weight and bias in the same pass.  Groups are spread over threads for
 * large inputs; each group's arithmetic is fixed (lanes in a fixed order),
 * so its bits do not depend on the batch size, the threads or the ISA.
 */
#include "groupnorm.h"
#include "../cpu.h"
#include "../init.h"
#include "../par.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { GN_GROUPS, GN_CHANNELS, GN_EPS, GN_AFFINE };

/*
 * The moments: sums over 32 double lanes (lane l takes x[32 k + l]), which
 * the AVX-512 kernels hold in four vectors, the AVX2 ones in eight and the
 * baseline in an array; the lanes are combined by one fixed tree,
 *     r[j] = (l[j] + l[j+8]) + (l[j+16] + l[j+24]),  j < 8,
 *     s = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)),
 * and the tail (n % 32 values) is added after in order.  So every ISA gives
 * the same bits, and the four (eight) independent chains keep the adds'
 * latency out of the way.
 */
static double gn_tree(const double *l)
{
    double r[8];
    for (int j = 0; j < 8; j++)
        r[j] = (l[j] + l[j + 8]) + (l[j + 16] + l[j + 24]);
    return ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
}

static double gn_sum_base(const float *x, int64_t n)
{
    double l[32] = {0};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 32; j++)
            l[j] += (double)x[i + j];
    double s = gn_tree(l);
    for (; i < n; i++)
        s += (double)x[i];
    return s;
}

static double gn_ssd_base(const float *x, int64_t n, double m)
{
    double l[32] = {0};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 32; j++) {
            double d = (double)x[i + j] - m;
            l[j] += d * d;
        }
    double s = gn_tree(l);
    for (; i < n; i++) {
        double d = (double)x[i] - m;
        s += d * d;
    }
    return s;
}

#ifdef SR_X86
#include <immintrin.h>

SR_TARGET_AVX512 static double gn_sum_avx512(const float *x, int64_t n)
{
    __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm256_loadu_ps(x + i)));
        a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8)));
        a2 = _mm512_add_pd(a2, _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 16)));
        a3 = _mm512_add_pd(a3, _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 24)));
    }
    double l[32];
    _mm512_storeu_pd(l, a0);
    _mm512_storeu_pd(l + 8, a1);
    _mm512_storeu_pd(l + 16, a2);
    _mm512_storeu_pd(l + 24, a3);
    double s = gn_tree(l);
    for (; i < n; i++)
        s += (double)x[i];
    return s;
}

SR_TARGET_AVX512 static double gn_ssd_avx512(const float *x, int64_t n, double m)
{
    __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0, mv = _mm512_set1_pd(m), d0, d1, d2, d3;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        d0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), mv);
        d1 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8)), mv);
        d2 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i + 16)), mv);
        d3 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i + 24)), mv);
        a0 = _mm512_add_pd(a0, _mm512_mul_pd(d0, d0));
        a1 = _mm512_add_pd(a1, _mm512_mul_pd(d1, d1));
        a2 = _mm512_add_pd(a2, _mm512_mul_pd(d2, d2));
        a3 = _mm512_add_pd(a3, _mm512_mul_pd(d3, d3));
    }
    double l[32];
    _mm512_storeu_pd(l, a0);
    _mm512_storeu_pd(l + 8, a1);
    _mm512_storeu_pd(l + 16, a2);
    _mm512_storeu_pd(l + 24, a3);
    double s = gn_tree(l);
    for (; i < n; i++) {
        double d = (double)x[i] - m;
        s += d * d;
    }
    return s;
}

SR_TARGET_AVX2 static double gn_sum_avx2(const float *x, int64_t n)
{
    __m256d a[8];
    for (int k = 0; k < 8; k++)
        a[k] = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 8; k++)
            a[k] = _mm256_add_pd(a[k], _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4 * k)));
    double l[32];
    for (int k = 0; k < 8; k++)
        _mm256_storeu_pd(l + 4 * k, a[k]);
    double s = gn_tree(l);
    for (; i < n; i++)
        s += (double)x[i];
    return s;
}

SR_TARGET_AVX2 static double gn_ssd_avx2(const float *x, int64_t n, double m)
{
    __m256d a[8], mv = _mm256_set1_pd(m);
    for (int k = 0; k < 8; k++)
        a[k] = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 8; k++) {
            __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i + 4 * k)), mv);
            a[k] = _mm256_add_pd(a[k], _mm256_mul_pd(d, d));
        }
    double l[32];
    for (int k = 0; k < 8; k++)
        _mm256_storeu_pd(l + 4 * k, a[k]);
    double s = gn_tree(l);
    for (; i < n; i++) {
        double d = (double)x[i] - m;
        s += d * d;
    }
    return s;
}
#endif

double sr_gn_sum(const float *x, int64_t n)
{
#ifdef SR_X86
    int lvl = sr_cpu_level();
    if (lvl == SR_CPU_AVX512)
        return gn_sum_avx512(x, n);
    if (lvl == SR_CPU_AVX2)
        return gn_sum_avx2(x, n);
#endif
    return gn_sum_base(x, n);
}

double sr_gn_ssd(const float *x, int64_t n, double m)
{
#ifdef SR_X86
    int lvl = sr_cpu_level();
    if (lvl == SR_CPU_AVX512)
        return gn_ssd_avx512(x, n, m);
    if (lvl == SR_CPU_AVX2)
        return gn_ssd_avx2(x, n, m);
#endif
    return gn_ssd_base(x, n, m);
}

/* y = ((x - mh) - ml) * a + b: mh + ml is the mean to about 2^-48 of it, and
 * x - mh is exact for x near the mean, so a large offset cancels cleanly. */
SR_VEC_VOID(sr_gn_apply, (const float *x, float *y, int64_t n, float mh, float ml, float a, float b),
            (x, y, n, mh, ml, a, b))
{
    for (int64_t i = 0; i < n; i++)
        y[i] = ((x[i] - mh) - ml) * a + b;
}

void sr_gn_moments(const float *x, int64_t n, double *mean, double *var)
{
    double m = n ? sr_gn_sum(x, n) / (double)n : 0.0;
    *mean = m;
    *var = n ? sr_gn_ssd(x, n, m) / (double)n : 0.0;
}

static void gn_group(const sr_gn_job *J, int64_t q)
{
    int64_t len = J->cpg * J->S, c0 = (q % J->G) * J->cpg;
    const float *x = J->x + q * len;
    float *y = J->y + q * len;
    double mean, var;
    sr_gn_moments(x, len, &mean, &var);
    if (J->mean)
        J->mean[q] = mean;
    if (J->var)
        J->var[q] = var;
    double rstd = 1.0 / sqrt(var + J->eps);
    float mh = (float)mean, ml = (float)(mean - (double)mh);
    for (int64_t k = 0; k < J->cpg; k++) {
        int64_t c = c0 + k;
        float a = (float)(J->w ? rstd * (double)J->w[c] : rstd), b = J->b ? J->b[c] : 0.0f;
        const float *xs = x + k * J->S;
        float *ys = y + k * J->S;
        if (J->S >= 16) {
            sr_gn_apply(xs, ys, J->S, mh, ml, a, b);
        } else {
            for (int64_t i = 0; i < J->S; i++)
                ys[i] = ((xs[i] - mh) - ml) * a + b;
        }
    }
    if (J->post)
        J->post->type->apply(J->post, y, y, (size_t)len);
}

typedef struct {
    const sr_gn_job *J;
    int64_t per; /* groups per task */
} gn_tasks;

static void gn_task(void *arg, int64_t t, int tid)
{
    (void)tid;
    const gn_tasks *T = arg;
    int64_t q1 = (t + 1) * T->per < T->J->groups ? (t + 1) * T->per : T->J->groups;
    for (int64_t q = t * T->per; q < q1; q++)
        gn_group(T->J, q);
}

/* Values per task (and the least worth a second thread). */
#define GN_TASK_FLOATS ((int64_t)1 << 15)

void sr_gn_run(const sr_gn_job *J, int threads)
{
    int64_t len = J->cpg * J->S;
    if (J->groups <= 0)
        return;
    if (threads <= 1 || J->groups * len < 2 * GN_TASK_FLOATS) {
        for (int64_t q = 0; q < J->groups; q++)
            gn_group(J, q);
        return;
    }
    gn_tasks T = {.J = J, .per = len >= GN_TASK_FLOATS ? 1 : GN_TASK_FLOATS / (len ? len : 1)};
    int64_t tasks = (J->groups + T.per - 1) / T.per;
    sr_par_for(threads < tasks ? threads : (int)tasks, tasks, gn_task, &T);
}

/* ---- GroupNorm ------------------------------------------------------------- */

/* "try num_groups=2 or 4 (divisors of 64)": the divisors of c next to g. */
static void divisors_near(int64_t c, int64_t g, char *buf, size_t len)
{
    int64_t lo = 0, hi = 0;
    for (int64_t d = g - 1; d >= 1 && !lo; d--)
        if (c % d == 0)
            lo = d;
    for (int64_t d = g + 1; d <= c && !hi; d++)
        if (c % d == 0)
            hi = d;
    if (lo && hi)
        snprintf(buf, len, "try num_groups=%lld or %lld (divisors of %lld)", (long long)lo, (long long)hi, (long long)c);
    else
        snprintf(buf, len, "try num_groups=%lld (a divisor of %lld)", (long long)(lo ? lo : hi ? hi : 1), (long long)c);
}

static SR_VALIDATE_FN(gn_validate)
{
    int64_t g = sr_argi(L, GN_GROUPS), c = sr_argi(L, GN_CHANNELS);
    if (g <= 0)
        return sr_err(err, SR_EUSAGE, "num_groups must be positive, got %lld; hint: num_groups is how many groups "
                      "the channels are split into (1 normalises all channels together)", (long long)g);
    if (c < 0)
        return sr_err(err, SR_EUSAGE, "num_channels must not be negative, got %lld; hint: num_channels is the "
                      "number of channels (dim 1) of the input", (long long)c);
    if (c % g != 0) {
        char alt[96];
        divisors_near(c, g, alt, sizeof alt);
        return sr_err(err, SR_EUSAGE, "GroupNorm(num_groups=%lld) does not divide %lld channels; hint: num_channels "
                      "must be divisible by num_groups; %s", (long long)g, (long long)c, alt);
    }
    return SR_OK;
}

static SR_SHAPE_FN(gn_shape)
{
    int64_t g = sr_argi(L, GN_GROUPS), nc = sr_argi(L, GN_CHANNELS);
    int affine = (int)sr_argi(L, GN_AFFINE);
    char src[256];
    sr_from(info, 1, src, sizeof src);
    *out = *in;
    info->out_known = 1;
    info->batch_dim0 = 1;
    if (in->ndim < 2)
        return sr_err(err, SR_ESHAPE, "GroupNorm expects (N, C, *) input, but input %s%s is %d-D; hint: %s", sr_shp(in),
                      src, in->ndim,
                      in->ndim == 1 ? "GroupNorm has no unbatched form: add a batch dimension (shape [1, C])"
                                    : "give it (N, C) or (N, C, ...) data");
    int64_t c = in->d[1];
    if (affine && c != nc) {
        char also[160] = "";
        if (c % g != 0) {
            char alt[96];
            divisors_near(c, g, alt, sizeof alt);
            snprintf(also, sizeof also, ", and num_groups=%lld does not divide it (%s)", (long long)g, alt);
        }
        return sr_err(err, SR_ESHAPE, "GroupNorm(%lld, %lld) expects %lld channels, but input %s%s has %lld; "
                      "hint: num_channels should be %lld%s",
                      (long long)g, (long long)nc, (long long)nc, sr_shp(in), src, (long long)c, (long long)c, also);
    }
    if (c % g != 0) {
        char alt[96];
        divisors_near(c, g, alt, sizeof alt);
        return sr_err(err, SR_ESHAPE, "GroupNorm(num_groups=%lld) does not divide the %lld channels of input %s%s; "
                      "hint: the channels must split into equal groups; %s", (long long)g, (long long)c, sr_shp(in),
                      src, alt);
    }
    /* PyTorch's _verify_batch_size([N * C / G, G, *spatial]), in eval too */
    int64_t per = c / g * sr_prod(in, 2, in->ndim);
    if (per == 1) {
        /* a lone value per group per sample: whether PyTorch accepts it
         * depends on the batch, so the batch must not be split */
        info->batch_dim0 = 0;
        if (in->d[0] == 1)
            return sr_err(err, SR_ESHAPE, "GroupNorm(%lld, %lld) gets 1 value per group from input %s%s, which "
                          "PyTorch rejects (\"Expected more than 1 value per channel when training\"); hint: use "
                          "fewer groups, or give it more than one sample", (long long)g, (long long)nc, sr_shp(in), src);
    }
    return SR_OK;
}

static SR_PARAMS_FN(gn_params)
{
    if (!sr_argi(L, GN_AFFINE))
        return 0;
    sr_shape c = sr_shape_make(1, (int64_t[]){sr_argi(L, GN_CHANNELS)});
    p[0] = (sr_paramdecl){.name = "weight", .shape = c, .init = sr_init_const(SR_INIT_ONES), .zero_row = -1};
    p[1] = (sr_paramdecl){.name = "bias", .shape = c, .init = sr_init_const(SR_INIT_ZEROS), .zero_row = -1};
    return 2;
}

static SR_FORWARD_FN(gn_forward)
{
    (void)err;
    const sr_shape *s = &in->shape;
    int64_t G = sr_argi(L, GN_GROUPS), N = s->d[0], C = s->d[1], S = sr_prod(s, 2, s->ndim);
    int affine = (int)sr_argi(L, GN_AFFINE);
    sr_gn_job J = {.x = sr_f32(in), .y = sr_f32(out), .groups = N * G, .G = G, .cpg = C / G, .S = S,
                   .w = affine ? sr_f32(&L->param[0]) : NULL, .b = affine ? sr_f32(&L->param[1]) : NULL,
                   .eps = sr_argf(L, GN_EPS), .post = ctx->post};
    if (C == 0) {
        J.groups = 0;
    }
    sr_gn_run(&J, ctx->threads);
    return SR_OK;
}

/* ---- rows ----------------------------------------------------------------- */

static const sr_argdef a_groupnorm[] = {
    {"num_groups", T_I, NULL, NULL, 0},
    {"num_channels", T_I, NULL, NULL, 0},
    {"eps", T_F, "1e-05", NULL, 0},
    {"affine", T_B, "True", NULL, 0},
};

SR_ROW(GroupNorm, .summary = "normalises each group of channels of each sample of (N, C, *)",
       SR_ARGS(a_groupnorm), .repr = "#num_groups, #num_channels, eps=, affine=", .flags = SR_FUSE_POST,
       .validate = gn_validate, .shape = gn_shape, .params = gn_params, .forward = gn_forward);
