/*
 * pool_common.h - what the pooling families share: pool.c (1-D and 2-D,
 * as 2-D of height 1) and pool3d.c (3-D).  ATen's window arithmetic, the
 * NaN-winning max, the fixed-order float sum, and the checks and messages
 * every pool gives alike; defined in pool_common.c.
 */
#ifndef SR_POOL_COMMON_H
#define SR_POOL_COMMON_H

#include "layers.h"

#include <string.h>

/* max that lets NaN win, as ATen's pooling does (inline: the kernels'
 * vectorised loops call it per element) */
static inline float sr_pool_nanmax(float m, float v)
{
    return v > m || v != v ? v : m;
}

/* Adaptive pooling's window [start, end) of output cell a of b over an
 * input of c: floor(a*c/b) and ceil((a+1)*c/b), written without overflow
 * as ATen does. */
static inline int64_t sr_pool_astart(int64_t a, int64_t b, int64_t c) { return (a / b) * c + ((a % b) * c) / b; }
static inline int64_t sr_pool_aend(int64_t a, int64_t b, int64_t c) { return 1 + ((a + 1) * c - 1) / b; }

/* ATen's pooling_output_shape (PyTorch 1.13) for one dimension: with
 * ceil_mode a window may overhang the right edge, but the last one must
 * start inside the input or the left padding.  Computed in 128 bits and
 * clamped to int64. */
int64_t sr_pool_out(int64_t in, int64_t k, int64_t p, int64_t s, int64_t d, int ceil);

/* The smallest input size with at least one window (at least 1). */
int64_t sr_pool_least_input(int64_t k, int64_t p, int64_t s, int64_t d, int ceil);

/*
 * Sum of x[0..n) in double, in an order fixed by n alone: 64 running float
 * sums (four vectors of 16, independent so the adds' latency does not
 * serialise the loop; each holds 1/64 of the terms, so its rounding stays
 * near a single add's), then those 64 and the tail in double, in a fixed
 * order.  Defined here, static, so that its ISA dispatch inlines into the
 * callers' window loops: called across files it cost AvgPool2d(3) about 3%
 * more instructions (callgrind), windows being a few floats wide.
 */
typedef float sr_pool_v16f __attribute__((vector_size(64)));

static __attribute__((unused)) SR_VEC_FN(double, sr_pool_sum, (const float *x, int64_t n), (x, n))
{
    sr_pool_v16f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, f0, f1, f2, f3;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        memcpy(&f0, x + i, sizeof f0);
        memcpy(&f1, x + i + 16, sizeof f1);
        memcpy(&f2, x + i + 32, sizeof f2);
        memcpy(&f3, x + i + 48, sizeof f3);
        a0 += f0;
        a1 += f1;
        a2 += f2;
        a3 += f3;
    }
    double s = 0;
    for (int l = 0; l < 16; l++)
        s += ((double)a0[l] + (double)a1[l]) + ((double)a2[l] + (double)a3[l]);
    for (; i < n; i++)
        s += (double)x[i];
    return s;
}

/* Sizes in messages: "(3, 3)" or, for n = 1, "3"; and "5x7" or "7". */
const char *sr_pool_tup(const int64_t *v, int n, char *buf, size_t len);
const char *sr_pool_ext(const int64_t *v, int n, char *buf, size_t len);

/* Adaptive pools' output_size (argument 0) as n sizes in o, for an input
 * whose last n dims are spatial; an item None keeps the input's size. */
void sr_pool_adaptive_size(const sr_layer *L, const sr_shape *in, int n, int64_t *o);

/* The errors every pool gives alike: padding past half the kernel (k and
 * p hold n sizes); return_indices=True; a size-0 channel or spatial dim of
 * an input with nd spatial dims (ATen checks; the batch may be empty); and
 * an adaptive pool's output with a size-0 spatial dim. */
sr_status sr_pool_pad_error(const int64_t *k, const int64_t *p, int n, char *err);
sr_status sr_pool_indices_error(const sr_layer *L, char *err);
sr_status sr_pool_check_nonempty(const sr_layer *L, int nd, const sr_shape *in, const sr_shapeinfo *info, char *err);
sr_status sr_pool_check_output(const sr_layer *L, int nd, const sr_shape *in, const sr_shape *out,
                               const sr_shapeinfo *info, char *err);

/* The sliding pools' arguments in PyTorch's order, n-tuples for n spatial
 * dims (pool.c's argument indices MAXPOOL_* and AVGPOOL_* name them), and
 * MaxPool's repr.  AvgPool1d alone has no divisor_override. */
#define SR_MAXPOOL_ARGS(a, n)                          \
    static const sr_argdef a[] = {                     \
        {"kernel_size", T_T, NULL, NULL, n},           \
        {"stride", T_T | T_N, "None", NULL, n},        \
        {"padding", T_T, "0", NULL, n},                \
        {"dilation", T_T, "1", NULL, n},               \
        {"return_indices", T_B, "False", NULL, 0},     \
        {"ceil_mode", T_B, "False", NULL, 0},          \
    }
#define SR_AVGPOOL_ARGS(a, n)                          \
    static const sr_argdef a[] = {                     \
        {"kernel_size", T_T, NULL, NULL, n},           \
        {"stride", T_T | T_N, "None", NULL, n},        \
        {"padding", T_T, "0", NULL, n},                \
        {"ceil_mode", T_B, "False", NULL, 0},          \
        {"count_include_pad", T_B, "True", NULL, 0},   \
        {"divisor_override", T_I | T_N, "None", NULL, 0}, \
    }
#define SR_MAXPOOL_REPR "kernel_size=, stride=|kernel_size, padding=, dilation=, ceil_mode="

#endif
