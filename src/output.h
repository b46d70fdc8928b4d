/*
 * output.h - tensor sinks: what a run writes for each record, as .npy
 * records, raw float32, or text (values, or the --top K classes).
 */
#ifndef SR_OUTPUT_H
#define SR_OUTPUT_H

#include "io.h"
#include "npy.h"
#include "runopts.h"

/* Open sink.o (sr_out_open), set fmt and top, then per record one
 * sr_sink_header and its data in any number of sr_sink_data calls. */
typedef struct {
    sr_outfile o;
    sr_format fmt;
    int top;
    int64_t row;        /* text: values per printed line */
    int64_t written;
    float *rowbuf;      /* --top: the row being gathered */
} sr_sink;

sr_status sr_sink_header(sr_sink *w, const sr_shape *s, char *err);
sr_status sr_sink_data(sr_sink *w, const float *x, size_t n, char *err);
void sr_sink_free(sr_sink *w);

#endif
