/*
 * runopts.h - what the command line asks of a run: input and output,
 * formats, modes, threads.  Filled by main.c, read by the library.
 */
#ifndef SR_RUNOPTS_H
#define SR_RUNOPTS_H

#include <stdint.h>

#include "tensor.h"

typedef enum { SR_FMT_AUTO, SR_FMT_NPY, SR_FMT_RAW, SR_FMT_TEXT, SR_FMT_JSON } sr_format;

typedef struct {
    const char *input;          /* path or "-" */
    const char *output;         /* path or "-" */
    sr_format format;
    int has_input_shape;        /* --input-shape */
    sr_shape input_shape;       /* one dim may be -1 */
    const char *weights;        /* -w, else the spec's weights: */
    const char *save_state;
    int64_t batch_size;         /* 0: choose */
    int train, verbose, quiet;
    int top;                    /* text output: the K best classes per sample */
    /* Progress, for a caller that shows it (main.c draws a bar on a
     * terminal): called after each chunk with the samples done of the
     * record's total, and once more with last = 1; NULL: none. */
    void (*progress)(void *arg, int64_t done, int64_t total, int last);
    void *progress_arg;
    int threads;                /* seqrun's own worker threads; 0: all cores */
    int blas_threads;           /* OpenBLAS's; 0: leave its pool as it is */
    uint64_t seed;
} sr_runopts;

#endif
