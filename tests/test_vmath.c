/*
 * test_vmath.c - the vectorised transcendental activations (vmath.h) that
 * replace libm calls: each layer's apply at every ISA level gives the same
 * bits, and stays within a few float32 ulps of the function computed in
 * double precision, over sweeps that cross every branch of the formula.
 *
 * The reference is the mathematical function (libm in double, rounded),
 * not seqrun's output; the golden suite checks the same layers against
 * PyTorch end to end.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cpu.h"
#include "layers/layers.h"
#include "layertest.h"
#include "unit.h"

/* |y - r| in units of float32's spacing at r (denormal spacing below). */
static double ulps(float y, double r)
{
    int e;
    float rf = (float)r;
    frexp(rf == 0 ? 1e-45 : fabs(rf), &e);
    double u = ldexp(1.0, e - 24);
    if (u < ldexp(1.0, -149))
        u = ldexp(1.0, -149);
    return fabs((double)y - r) / u;
}

static int same_bits(float a, float b)
{
    uint32_t u, v;
    memcpy(&u, &a, 4);
    memcpy(&v, &b, 4);
    return u == v || (isnan(a) && isnan(b));
}

static void set_float(sr_layer *L, const char *name, double v)
{
    int k = arg_index(L, name);
    memset(&L->arg[k], 0, sizeof L->arg[k]);
    L->arg[k].kind = SR_AV_FLOAT;
    L->arg[k].f = v;
}

/* Softplus(beta, threshold): x where beta x > threshold, else
 * log1p(e^(beta x)) / beta (torch.nn.Softplus). */
static double softplus_ref(double x, double beta, double th)
{
    double bx = (double)(float)(x * beta); /* seqrun, like ATen, rounds beta x to float first */
    return bx > th ? x : log1p(exp(bx)) / beta;
}

static void test_softplus(void)
{
    static const double params[][2] = {{1, 20}, {2, 5}, {0.5, 3}, {-1.5, 20}};
    size_t m = 400003;
    float *x = malloc(m * sizeof *x), *y = malloc(m * sizeof *y), *y0 = malloc(m * sizeof *y0);
    if (!x || !y || !y0)
        abort();
    for (size_t i = 0; i < m; i++) /* [-110, 110]: exp's underflow, both signs, the threshold */
        x[i] = (float)(-110.0 + 220.0 * (double)i / (double)(m - 1));
    float special[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-30f, -1e-30f};
    memcpy(x, special, sizeof special);
    size_t ns = sizeof special / sizeof *special;
    for (size_t p = 0; p < sizeof params / sizeof *params; p++) {
        double beta = params[p][0], th = params[p][1];
        sr_layer L;
        layer_init(&L, "Softplus");
        set_float(&L, "beta", beta);
        set_float(&L, "threshold", th);
        for (int level = 0; level <= 2; level++) {
            sr_cpu_force(level);
            L.type->apply(&L, x, level ? y : y0, m);
            if (!level)
                continue;
            int same = 1;
            for (size_t i = 0; i < m; i++)
                same &= same_bits(y[i], y0[i]);
            CHECK(same, "Softplus(beta=%g, threshold=%g): ISA level %d differs from level 0", beta, th, level);
        }
        sr_cpu_force(-1);
        double worst = 0;
        float wx = 0;
        for (size_t i = ns; i < m; i++) {
            double e = ulps(y0[i], softplus_ref(x[i], beta, th));
            if (e > worst)
                worst = e, wx = x[i];
        }
        printf("Softplus(beta=%g, threshold=%g): max %.3f ulp (at %.9g)\n", beta, th, worst, wx);
        CHECK(worst <= 3.5, "Softplus(beta=%g, threshold=%g): %.3f ulp at %.9g", beta, th, worst, wx);
        /* NaN stays NaN; +inf is over any threshold for beta > 0; e^(beta x) -> 0 gives 0 */
        CHECK(isnan(y0[0]), "Softplus(NaN) = %g", y0[0]);
        if (beta > 0)
            CHECK(y0[1] == INFINITY && y0[2] == 0.0f, "Softplus(+-inf) = %g, %g", y0[1], y0[2]);
        CHECK(fabs(y0[3] - log(2.0) / beta) <= 1e-6 * fabs(log(2.0) / beta), "Softplus(0) = %.9g", y0[3]);
        sr_layer_clear(&L);
    }
    free(x);
    free(y);
    free(y0);
}

int main(void)
{
    test_softplus();
    return unit_summary();
}
