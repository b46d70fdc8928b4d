/*
 * cmpargs.h - the command line npycmp and stcmp share:
 *   TOOL EXPECTED ACTUAL [--rtol R] [--atol A]   (also --rtol=R)
 * Returns 0 with the two paths and tolerances set, or 2 (the exit status
 * for bad usage) after printing what was wrong.
 */
#ifndef SR_CMPARGS_H
#define SR_CMPARGS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_parse_tol(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || v < 0)
        return 0;
    *out = v;
    return 1;
}

static int cmp_args(int argc, char **argv, const char *usage, const char *path[2], double *rtol, double *atol)
{
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        double *tol = NULL;
        if (strncmp(a, "--rtol", 6) == 0 && (a[6] == '=' || !a[6]))
            tol = rtol, val = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);
        else if (strncmp(a, "--atol", 6) == 0 && (a[6] == '=' || !a[6]))
            tol = atol, val = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);
        else if (a[0] == '-' && a[1])
            npos = 3; /* unknown option: usage below */
        else if (npos < 2)
            path[npos++] = a;
        else
            npos = 3;
        if (tol && (!val || !cmp_parse_tol(val, tol))) {
            fprintf(stderr, "%s needs a non-negative number\n", a);
            return 2;
        }
    }
    if (npos != 2) {
        fprintf(stderr, "%s\n", usage);
        return 2;
    }
    return 0;
}

#endif
