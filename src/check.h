/*
 * check.h - seqrun --check: the layer-by-layer shape report.
 */
#ifndef SR_CHECK_H
#define SR_CHECK_H

#include <stdio.h>
#include "model.h"
#include "run.h"

/* Prints the table (text or JSON) to out and diagnostics to d.  Returns
 * SR_ESHAPE if any layer does not fit. */
sr_status sr_check(sr_model *m, const sr_runopts *o, FILE *out, sr_diags *d);

#endif
