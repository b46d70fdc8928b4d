/*
 * npycmp - compares every record of two npy streams, for the end-to-end
 * tests.
 *
 *   npycmp EXPECTED.npy ACTUAL.npy [--rtol R] [--atol A]
 *
 * Equal when both hold the same number of records, each pair has the same
 * shape, and every element has |a - e| <= atol + rtol * |e| (NaN matches
 * NaN; an infinity matches only itself).  Defaults are torch.testing's for
 * float32 (rtol 1.3e-6, atol 1e-5), since PyTorch is the reference.
 * Values are compared as float32, whatever dtype either file stores.
 *
 * Exit 0 equal, 1 different, 2 bad arguments or unreadable input (as cmp).
 * Differences go to stderr; an equal pair prints nothing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmpargs.h"
#include "npy.h"

#define CHUNK 4096
#define SHOW 10

int main(int argc, char **argv)
{
    const char *path[2] = {NULL, NULL};
    double rtol = 1.3e-6, atol = 1e-5;
    if (cmp_args(argc, argv, "usage: npycmp EXPECTED.npy ACTUAL.npy [--rtol R] [--atol A]", path, &rtol, &atol))
        return 2;

    sr_stream s[2];
    char err[SR_ERRLEN];
    int opened = 0, rc = 0;     /* 2 once reading fails */
    for (; opened < 2; opened++)
        if (sr_stream_open(&s[opened], path[opened], err)) {
            fprintf(stderr, "npycmp: %s\n", err);
            rc = 2;
            break;
        }

    static float buf[2][CHUNK];
    long long nbad = 0, ntotal = 0;
    double max_abs = 0, max_rel = 0;
    int differ = 0;     /* values differ: keep going to count them all */
    for (int r = 0; rc == 0; r++) {
        sr_npy_header h[2];
        int got[2];
        for (int k = 0; k < 2 && rc == 0; k++)
            if (sr_npy_read_header(&s[k], &h[k], &got[k], err)) {
                fprintf(stderr, "npycmp: %s\n", err);
                rc = 2;
            }
        if (rc)
            break;
        if (!got[0] && !got[1])
            break;
        if (got[0] != got[1]) {
            fprintf(stderr, "npycmp: %s has %d record%s, %s has more\n",
                    path[got[0] ? 1 : 0], r, r == 1 ? "" : "s", path[got[0] ? 0 : 1]);
            differ = 1;
            break;
        }
        if (!sr_shape_eq(&h[0].shape, &h[1].shape)) {
            char a[256], b[256];
            fprintf(stderr, "npycmp: record %d: expected shape %s, actual %s\n", r,
                    sr_shape_str(&h[0].shape, a, sizeof a),
                    sr_shape_str(&h[1].shape, b, sizeof b));
            differ = 1;
            break;
        }
        for (int64_t done = 0; done < h[0].numel && rc != 2;) {
            size_t n = (size_t)(h[0].numel - done < CHUNK ? h[0].numel - done : CHUNK);
            for (int k = 0; k < 2 && rc != 2; k++)
                if (sr_npy_read_elems(&s[k], &h[k], n, SR_F32, buf[k], err)) {
                    fprintf(stderr, "npycmp: %s\n", err);
                    rc = 2;
                }
            for (size_t i = 0; i < n && rc != 2; i++) {
                double e = buf[0][i], a = buf[1][i], d = fabs(a - e);
                int ok;
                if (isnan(e) || isnan(a))
                    ok = isnan(e) && isnan(a);
                else if (isinf(e) || isinf(a))
                    ok = a == e;
                else {
                    ok = d <= atol + rtol * fabs(e);
                    max_abs = fmax(max_abs, d);
                    if (e != 0)
                        max_rel = fmax(max_rel, d / fabs(e));
                }
                if (!ok) {
                    if (nbad < SHOW)
                        fprintf(stderr, "record %d, index %lld: expected %.9g, actual %.9g\n",
                                r, (long long)(done + (int64_t)i), e, a);
                    nbad++;
                    differ = 1;
                }
            }
            ntotal += (long long)n;
            done += (int64_t)n;
        }
    }
    if (nbad)
        fprintf(stderr, "npycmp: %lld of %lld elements differ (rtol %g, atol %g); "
                "max abs error %.3g, max rel error %.3g\n",
                nbad, ntotal, rtol, atol, max_abs, max_rel);
    for (int k = 0; k < opened; k++)
        sr_stream_close(&s[k]);
    return rc ? rc : differ;
}
