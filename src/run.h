/*
 * run.h - forward passes over tensor files: the input is read record by
 * record and chunk by chunk, every chunk runs through the layers in two
 * reused activation buffers, and outputs stream to the output file.
 */
#ifndef SR_RUN_H
#define SR_RUN_H

#include "input.h"
#include "model.h"
#include "runopts.h"

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
