/*
 * vmath.h - float32 exp, expm1, log1p, tanh and erf written as plain
 * branch-free arithmetic, so that a loop calling them vectorises (SR_KERNEL,
 * SR_APPLY_VEC) instead of calling libm once per element.
 *
 * Every function is a sequence of IEEE float operations without FMA (FP
 * contraction is off under -std=c11), so the AVX-512, AVX2 and baseline
 * builds of a loop give the same bits, element by element, whatever the
 * batch or thread count.  NaN propagates; +-inf give the limits.
 *
 * Accuracy, measured against the double-precision libm function rounded to
 * float over every float in the stated range (tests/test_layers.c checks
 * erf over a dense sweep):
 *     sr_exp_f    ~1 ulp, x in [-103.97, 88.72] (0 below, +inf above)
 *     sr_expm1_f  ~1 ulp
 *     sr_log1p01_f  ~1 ulp, z in [0, 1] only
 *     sr_tanh_f   ~2 ulp
 *     sr_erf_f    ~1 ulp (see sr_erf_f)
 * The polynomials are minimax fits (Lawson's iteration in 40-digit
 * arithmetic) for these formulas, not copied from a library.
 */
#ifndef SR_VMATH_H
#define SR_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define SR_VM_INLINE static inline __attribute__((always_inline))

SR_VM_INLINE uint32_t sr_vm_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

SR_VM_INLINE float sr_vm_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* e^r - 1 - r for |r| <= ln2/2, as r^2 * Q(r) (relative error of e^r 3e-9). */
SR_VM_INLINE float sr_vm_expq(float r)
{
    float q = 0.00138146339f;
    q = q * r + 0.00836873014f;
    q = q * r + 0.0416683885f;
    q = q * r + 0.166665205f;
    q = q * r + 0.499999934f;
    return r * r * q;
}

/* Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2; n as a float and as
 * the bits of x*log2(e) + 1.5*2^23 (valid for |x| < 2^21). */
#define SR_VM_MAGIC 12582912.0f
SR_VM_INLINE float sr_vm_reduce(float x, float *nf, int32_t *n)
{
    float t = x * 1.44269504f + SR_VM_MAGIC;
    float k = t - SR_VM_MAGIC;
    *nf = k;
    *n = (int32_t)(sr_vm_bits(t) - sr_vm_bits(SR_VM_MAGIC));
    float r = x - k * 0.693359375f; /* ln2 high part: exact product for |k| < 2^15 */
    return r - k * -2.12194440e-4f; /* ln2 - 0.693359375 */
}

/* 2^n for n in [-126, 127]. */
SR_VM_INLINE float sr_vm_pow2i(int32_t n) { return sr_vm_float((uint32_t)(n + 127) << 23); }

/* e^x for x in [-87, 88] (a normal result): no range handling. */
SR_VM_INLINE float sr_exp_core_f(float x)
{
    float k;
    int32_t n;
    float r = sr_vm_reduce(x, &k, &n);
    return (1.0f + (r + sr_vm_expq(r))) * sr_vm_pow2i(n);
}

/* e^x, correct limits: subnormal results for x down to -103.97, 0 below,
 * +inf above 88.72. */
SR_VM_INLINE float sr_exp_f(float x)
{
    float c = x < -104.0f ? -104.0f : x;
    c = c > 88.8f ? 88.8f : c;
    float k;
    int32_t n;
    float r = sr_vm_reduce(c, &k, &n);
    int32_t n1 = n >> 1, n2 = n - n1; /* two steps: 2^n may not be a float */
    float y = (1.0f + (r + sr_vm_expq(r))) * sr_vm_pow2i(n1) * sr_vm_pow2i(n2);
    y = x > 88.7228394f ? INFINITY : y;
    return x < -104.0f ? 0.0f : y;
}

/* e^x - 1: (2^n - 1) + 2^n q, where q = e^r - 1, so the -1 costs no
 * precision near 0 (n = 0 gives q itself) nor where 2^n is small. */
SR_VM_INLINE float sr_expm1_f(float x)
{
    float c = x < -88.0f ? -88.0f : x; /* 2^-127 is taken as 0: e^x - 1 = -1 */
    c = c > 88.8f ? 88.8f : c;
    float k;
    int32_t n;
    float r = sr_vm_reduce(c, &k, &n);
    float q = r + sr_vm_expq(r);
    int32_t m = n > 127 ? 127 : n; /* n = 128: 2^127 (1 + q) 2 */
    float s = sr_vm_pow2i(m);
    float y = (s - 1.0f) + s * q;
    y = n > 127 ? y * 2.0f : y;
    return x > 88.7228394f ? INFINITY : y;
}

/* log(1 + z) for z in [0, 1] (NaN propagates): 2 atanh(s), s = z / (2 + z). */
SR_VM_INLINE float sr_log1p01_f(float z)
{
    float s = z / (2.0f + z), w = s * s;
    float p = 0.280133138f;
    p = p * w + 0.280015538f;
    p = p * w + 0.400215415f;
    p = p * w + 0.666664161f;
    return s * 2.0f + s * (w * p);
}

/* tanh(x): an odd polynomial below |x| = 0.625, else 1 - 2 / (e^2|x| + 1). */
SR_VM_INLINE float sr_tanh_f(float x)
{
    float a = fabsf(x);
    float z = x * x;
    float p = -0.00570456503f;
    p = p * z + 0.0206387154f;
    p = p * z + -0.0537396025f;
    p = p * z + 0.133314409f;
    p = p * z + -0.333332818f;
    float small = x + x * (z * p);
    float c = a > 10.0f ? 10.0f : a; /* tanh(x) rounds to 1 from 9.01 on */
    float big = 1.0f - 2.0f / (sr_exp_core_f(2.0f * c) + 1.0f);
    return a < 0.625f ? small : copysignf(big, x);
}

/*
 * erf(x).  |x| < 0.921875: x + x * S(x^2), S a degree-6 fit of erf(x)/x - 1
 * (relative error 4e-10).  Above: 1 - e^(-x^2) R(x), R = erfc(x) e^(x^2) a
 * degree-9 fit in u = (1/x - m) / h over [0.921875, 4] (relative error
 * 3e-8; erfc is at most 0.16 there, so this and exp's error add little).
 * |x| is clamped to 4, where erf rounds to 1.
 */
SR_VM_INLINE float sr_erf_f(float x)
{
    float a = fabsf(x);
    a = a > 4.0f ? 4.0f : a; /* NaN stays NaN */
    float z = a * a;
    float s = 8.37009631e-05f;
    s = s * z + -0.000814270868f;
    s = s * z + 0.00520103336f;
    s = s * z + -0.0268593992f;
    s = s * z + 0.112836955f;
    s = s * z + -0.376126337f;
    s = s * z + 0.128379167f;
    float lo = a + a * s;
    float u = (1.0f / a) * 2.39593909f - 1.59898477f; /* (1/a - m) / h */
    float r = 7.76080111e-06f;
    r = r * u + -8.81335239e-07f;
    r = r * u + -5.89764651e-05f;
    r = r * u + 0.000197585942f;
    r = r * u + -0.000463892715f;
    r = r * u + 0.000436308894f;
    r = r * u + 0.00341193565f;
    r = r * u + -0.0290237466f;
    r = r * u + 0.1535583f;
    r = r * u + 0.321845322f;
    float hi = 1.0f - sr_exp_core_f(-z) * r;
    return copysignf(a < 0.921875f ? lo : hi, x);
}

#endif
