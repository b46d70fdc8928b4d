/*
 * groupnorm.h - the per-group normalisation kernel that GroupNorm and
 * InstanceNorm (a group of one channel) share; defined in groupnorm.c.
 */
#ifndef SR_GROUPNORM_H
#define SR_GROUPNORM_H

#include "layers.h"

/*
 * Normalises `groups` independent groups of cpg channels of S values each,
 * stored one after another (group q at x + q * cpg * S): two passes in
 * double (the mean, then the centred squares), then y = (x - mean) * rstd
 * * w[c] + b[c] per channel c = (q % G) * cpg + k, with ctx->post applied
 * to each group while it is in cache.  mean/var, if not NULL, receive each
 * group's mean and biased variance.  Every group gets the same bits however
 * the groups are spread over threads.
 */
typedef struct {
    const float *x;
    float *y;
    int64_t groups;       /* groups in x: N * G */
    int64_t G;            /* groups per sample (channel numbering) */
    int64_t cpg, S;       /* channels per group, values per channel */
    const float *w, *b;   /* per channel, or NULL */
    double eps;
    const sr_layer *post; /* elementwise layer fused after it, or NULL */
    double *mean, *var;   /* per group, or NULL */
} sr_gn_job;

void sr_gn_run(const sr_gn_job *J, int threads);

/* Sum of x[0..n) and of (x[i] - m)^2, in double (the same bits at every ISA
 * level), and y = ((x - mh) - ml) * a + b for a mean split into mh + ml. */
double sr_gn_sum(const float *x, int64_t n);
double sr_gn_ssd(const float *x, int64_t n, double m);
void sr_gn_apply(const float *x, float *y, int64_t n, float mh, float ml, float a, float b);

/* Two-pass mean and biased variance of x[0..n), in double. */
void sr_gn_moments(const float *x, int64_t n, double *mean, double *var);

#endif
