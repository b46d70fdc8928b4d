/*
 * check.h - seqrun --check: the layer-by-layer shape report.
 */
#ifndef SR_CHECK_H
#define SR_CHECK_H

#include <stdio.h>
#include "model.h"
#include "run.h"

/* The report's encodings. */
typedef enum { SR_CHECK_TEXT, SR_CHECK_JSON, SR_CHECK_DOT } sr_checkfmt;

/* The text table's optional columns (index and layer always come first). */
enum {
    SR_COL_INPUT = 1 << 0,   /* input shape */
    SR_COL_OUTPUT = 1 << 1,  /* output shape */
    SR_COL_PARAMS = 1 << 2,  /* parameter count */
    SR_COL_MACS = 1 << 3     /* mult-adds, as torchinfo counts them */
};
#define SR_COL_DEFAULT (SR_COL_OUTPUT | SR_COL_PARAMS | SR_COL_MACS)
#define SR_COL_ALL (SR_COL_INPUT | SR_COL_OUTPUT | SR_COL_PARAMS | SR_COL_MACS)

typedef struct {
    sr_checkfmt format;
    unsigned columns;   /* SR_COL_* in the order of col_order; 0: SR_COL_DEFAULT */
    int col_order[4];   /* the columns as given (SR_COL_* values), ncol of them */
    int ncol;
    int depth;          /* text and dot: rows nested deeper are folded into their
                           Sequential (1: top-level rows only); < 0: all */
} sr_checkopts;

/* Parses a --columns list ("input,output,params,mult-adds") into c;
 * 0, or -1 with the offending word in bad (len bytes). */
int sr_check_columns(const char *list, sr_checkopts *c, char *bad, size_t len);

/* Prints the table (text, JSON or Graphviz dot) to out and diagnostics to
 * d.  Returns SR_ESHAPE if any layer does not fit, SR_ERUN for a problem in
 * the weights (-w or the spec's weights:), which are checked as a run
 * would load them, and SR_EUSAGE for sizes past 64 bits. */
sr_status sr_check_ex(sr_model *m, const sr_runopts *o, const sr_checkopts *c, FILE *out, sr_diags *d);

/* The same with the default columns, every row, and text or JSON as
 * o->format says. */
sr_status sr_check(sr_model *m, const sr_runopts *o, FILE *out, sr_diags *d);

#endif
