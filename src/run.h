/*
 * run.h - forward passes over tensor files: the input is read record by
 * record and chunk by chunk, every chunk runs through the layers in two
 * reused activation buffers, and outputs stream to the output file.
 */
#ifndef SR_RUN_H
#define SR_RUN_H

#include "model.h"
#include "io.h"
#include "npy.h"

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
    int progress;               /* progress bar on stderr (a terminal) */
    int threads;                /* seqrun's own worker threads; 0: all cores */
    int blas_threads;           /* OpenBLAS's; 0: leave its pool as it is */
    uint64_t seed;
} sr_runopts;

/*
 * An opened input: its format and the shape of the first record.  Raw input
 * takes its shape from --input-shape or the spec's input:, with the one free
 * dimension inferred from the size.
 */
typedef struct {
    sr_stream s;
    int is_npy;
    sr_npy_header h;        /* current npy record; for raw, a synthesised one */
    int records;            /* records opened so far */
    unsigned char *slurp;   /* raw input from a pipe, read whole */
} sr_input;

sr_status sr_input_open(sr_input *in, const sr_model *m, const sr_runopts *o, char *err);
/* Advances to the next record; *got = 0 at the end of the stream. */
sr_status sr_input_next(sr_input *in, int *got, char *err);
void sr_input_close(sr_input *in);

/*
 * A runner holds a model made ready to run (parameters initialised and
 * loaded, buffers planned) across several input files, as --paths needs.
 * Parameters are set up by the first file, once its shape is known (so a
 * LazyLinear can materialise).  sr_runner_finish writes --save-state and
 * the -v timings.
 */
typedef struct sr_runner sr_runner;
sr_runner *sr_runner_new(sr_model *m, const sr_runopts *o);
sr_status sr_runner_file(sr_runner *r, const char *input, const char *output, sr_diags *d);
sr_status sr_runner_finish(sr_runner *r, sr_diags *d);
void sr_runner_free(sr_runner *r);

/* Runs the model over every record of o->input into o->output. */
sr_status sr_run(sr_model *m, const sr_runopts *o, sr_diags *d);

#endif
