/*
 * unit.h - the smallest test harness that does the job.
 *
 * CHECK(cond, fmt...) records one assertion; a test file's main() ends with
 * return unit_summary();, which prints "N passed, M failed" and returns
 * non-zero if anything failed.
 */
#ifndef SR_UNIT_H
#define SR_UNIT_H

#include <stdio.h>

static int unit_pass, unit_fail;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            unit_pass++;                                                   \
        } else {                                                           \
            unit_fail++;                                                   \
            fprintf(stdout, "FAIL %s:%d: ", __FILE__, __LINE__);           \
            fprintf(stdout, __VA_ARGS__);                                  \
            fputc('\n', stdout);                                           \
        }                                                                  \
    } while (0)

static inline int unit_summary(void)
{
    printf("%d passed, %d failed\n", unit_pass, unit_fail);
    return unit_fail != 0;
}

#endif
