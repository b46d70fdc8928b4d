/*
 * stcmp - compares two safetensors files, for the end-to-end tests.
 *
 *   stcmp EXPECTED.safetensors ACTUAL.safetensors [--rtol R] [--atol A]
 *
 * Equal when both hold the same set of tensor names, each pair has the same
 * shape, and every element matches: floating-point tensors (F32, F16, BF16,
 * F64, compared as float32) when |a - e| <= atol + rtol * |e| (NaN matches
 * NaN, an infinity only itself); integer tensors (num_batches_tracked)
 * exactly.  A float tensor never matches an integer one.  Storage dtypes
 * (F16 against F32, say), tensor order and __metadata__ are not compared.
 * Defaults: rtol 1e-4, atol 1e-5, as the golden tests use.
 *
 * Every problem is reported (missing and extra keys, shapes, values) on
 * stderr; equal files print nothing.
 * Exit 0 equal, 1 different, 2 bad arguments or unreadable input (as cmp).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmpargs.h"
#include "safetensors.h"

#define SHOW 5  /* differing elements shown per tensor */

static int is_int(sr_st_dtype t)
{
    switch (t) {
    case SR_ST_BOOL: case SR_ST_U8: case SR_ST_I8: case SR_ST_I16:
    case SR_ST_U16: case SR_ST_I32: case SR_ST_U32: case SR_ST_I64:
    case SR_ST_U64:
        return 1;
    default:
        return 0;
    }
}

static int float_eq(double e, double a, double rtol, double atol)
{
    if (isnan(e) || isnan(a))
        return isnan(e) && isnan(a);
    if (isinf(e) || isinf(a))
        return a == e;
    return fabs(a - e) <= atol + rtol * fabs(e);
}

/* Compares one pair of entries; returns 0 equal, 1 different, 2 error. */
static int cmp_entry(const sr_safetensors *se, const sr_st_entry *e,
                     const sr_safetensors *sa, const sr_st_entry *a,
                     double rtol, double atol)
{
    char err[SR_ERRLEN], s1[256], s2[256];

    if (!sr_shape_eq(&e->shape, &a->shape)) {
        fprintf(stderr, "%s: expected shape %s, actual %s\n", e->name,
                sr_shape_str(&e->shape, s1, sizeof s1),
                sr_shape_str(&a->shape, s2, sizeof s2));
        return 1;
    }
    if (is_int(e->dtype) != is_int(a->dtype)) {
        fprintf(stderr, "%s: expected %s data, actual %s\n", e->name,
                sr_st_dtype_name(e->dtype), sr_st_dtype_name(a->dtype));
        return 1;
    }

    sr_dtype want = is_int(e->dtype) ? SR_I64 : SR_F32;
    sr_tensor te = {0}, ta = {0};
    if (sr_st_load(se, e, want, &te, err) || sr_st_load(sa, a, want, &ta, err)) {
        fprintf(stderr, "stcmp: %s\n", err);
        sr_tensor_free(&te);
        sr_tensor_free(&ta);
        return 2;
    }

    int64_t n = sr_shape_numel(&e->shape), nbad = 0;
    double max_abs = 0;
    for (int64_t i = 0; i < n; i++) {
        int ok;
        double ev, av;
        if (want == SR_I64) {
            ok = sr_i64(&te)[i] == sr_i64(&ta)[i];
            ev = (double)sr_i64(&te)[i];
            av = (double)sr_i64(&ta)[i];
        } else {
            ev = sr_f32(&te)[i];
            av = sr_f32(&ta)[i];
            ok = float_eq(ev, av, rtol, atol);
            if (isfinite(ev) && isfinite(av))
                max_abs = fmax(max_abs, fabs(av - ev));
        }
        if (!ok) {
            if (nbad < SHOW) {
                if (want == SR_I64)
                    fprintf(stderr, "%s[%lld]: expected %lld, actual %lld\n", e->name,
                            (long long)i, (long long)sr_i64(&te)[i],
                            (long long)sr_i64(&ta)[i]);
                else
                    fprintf(stderr, "%s[%lld]: expected %.9g, actual %.9g\n", e->name,
                            (long long)i, ev, av);
            }
            nbad++;
        }
    }
    if (nbad && want == SR_I64)
        fprintf(stderr, "%s: %lld of %lld elements differ (integers must be equal)\n",
                e->name, (long long)nbad, (long long)n);
    else if (nbad)
        fprintf(stderr, "%s: %lld of %lld elements differ (rtol %g, atol %g, "
                "max abs error %.3g)\n", e->name, (long long)nbad, (long long)n,
                rtol, atol, max_abs);
    sr_tensor_free(&te);
    sr_tensor_free(&ta);
    return nbad != 0;
}

int main(int argc, char **argv)
{
    const char *path[2] = {NULL, NULL};
    double rtol = 1e-4, atol = 1e-5;
    if (cmp_args(argc, argv, "usage: stcmp EXPECTED.safetensors ACTUAL.safetensors [--rtol R] [--atol A]", path, &rtol, &atol))
        return 2;

    sr_safetensors st[2];
    char err[SR_ERRLEN];
    memset(st, 0, sizeof st);
    for (int k = 0; k < 2; k++)
        if (sr_st_open(&st[k], path[k], err)) {
            fprintf(stderr, "stcmp: %s\n", err);
            sr_st_close(&st[0]);
            return 2;
        }

    int differ = 0, failed = 0;
    for (int i = 0; i < st[0].n; i++)
        if (!sr_st_find(&st[1], st[0].t[i].name)) {
            fprintf(stderr, "%s: missing from %s\n", st[0].t[i].name, path[1]);
            differ = 1;
        }
    for (int i = 0; i < st[1].n; i++)
        if (!sr_st_find(&st[0], st[1].t[i].name)) {
            fprintf(stderr, "%s: unexpected in %s\n", st[1].t[i].name, path[1]);
            differ = 1;
        }
    for (int i = 0; i < st[0].n && !failed; i++) {
        const sr_st_entry *a = sr_st_find(&st[1], st[0].t[i].name);
        if (!a)
            continue;
        int r = cmp_entry(&st[0], &st[0].t[i], &st[1], a, rtol, atol);
        if (r == 2)
            failed = 1;
        else if (r)
            differ = 1;
    }

    sr_st_close(&st[0]);
    sr_st_close(&st[1]);
    return failed ? 2 : differ;
}
