/*
 * check_report.h - what the --check report is drawn from, shared by the
 * report's rooms and by nothing else: check.c (the input and the driver),
 * check_count.c (parameters, mult-adds, memory), and the three encodings
 * check_text.c, check_json.c and check_dot.c.
 */
#ifndef SR_CHECK_REPORT_H
#define SR_CHECK_REPORT_H

#include <stdio.h>

#include "check.h"
#include "shape.h"

/* The input as --check sees it. */
/* The input as --check sees it. */
typedef struct {
    sr_shape shape;
    int integer;
    int free_dim;           /* -1: none */
    char free_name[32];     /* "" prints the free dim as a number */
    int64_t batch;          /* the input's real batch size, 0 if unknown */
    int placeholder;        /* the free dim's size is FREE_PLACEHOLDER */
    int concrete;           /* every size is the data's (a file, or --input-shape
                               without -1): the table prints numbers, as torchinfo */
    const char *source;     /* "file", "--input-shape" or "input:" */
    int contradicted;       /* the data contradicts input:; checked as it is */
} check_input;

typedef struct {
    int64_t params;     /* leaf: its module's; container: its subtree's, each
                           module once; -1: past 64 bits */
    int64_t macs;       /* this call's mult-adds (a container: its leaves'); -1 unknown */
    int shown;          /* text and dot: a row of its own */
    int folded;         /* a shown container whose rows are folded into it */
    int bad_inside;     /* a folded container: its first mismatching leaf, or -1 */
} nodeinfo;

typedef struct {
    int64_t params;         /* -1: past 64 bits */
    int64_t param_bytes, buffer_bytes;
    int64_t batch;          /* the batch size memory is counted for */
    int64_t peak;           /* bytes */
    int peak_node;          /* where it occurs, -1 if nowhere */
    int partial;            /* some layers' shapes are unknown */
    int batched;            /* the input has a batch dim to scale by */
    int64_t macs;           /* every call's, as torchinfo sums them; -1 past 64 bits */
    int64_t macs_batch;     /* the batch they are counted at */
    int macs_symbolic;      /* ... which is not the data's: say so */
    int noverflow;          /* sizes past 64 bits reported */
    /* weights */
    const char *weights;    /* the file checked, or NULL */
    int wtensors, wproblems, wchecked;
    char wskipped[SR_PATHLEN + 64]; /* layers whose keys were not checked */
} totals;

/* Everything a report is drawn from. */
typedef struct {
    sr_model *m;
    const sr_shapes *S;     /* NULL: no shapes (the input's shape is unknown) */
    const check_input *ci;
    const sr_checkopts *c;
    const sr_diags *d;
    totals t;
    nodeinfo *ni;
    const char *name;       /* the free dim's printed name, "" for numbers */
    int64_t b;              /* its size */
} report;

/* ---- check_count.c: the numbers ------------------------------------------ */

/* The first leaf node, or -1. */
int chk_first_leaf(const sr_model *m);

/* The node holding the first occurrence of node i's module. */
int chk_first_occurrence(const sr_model *m, int i);

/* The last node of node i's subtree (i itself for a leaf). */
int chk_subtree_end(const sr_model *m, int i);

/* "1,048,832" */
char *chk_commas(int64_t v, char *buf, size_t len);

/* A symbolic shape with the free dim printed by the report's name for it. */
char *chk_shape_of(const report *R, const sr_symshape *s, char *buf, size_t len);

/* The totals and per-node numbers, in this order; sizes past 64 bits are
 * located errors in R->d (counted in R->t.noverflow). */
void chk_param_totals(report *R);
void chk_node_numbers(report *R);
void chk_memory_totals(report *R, const sr_runopts *o);

/* ---- the encodings ---------------------------------------------------------- */

/* check_text.c: the table and totals. */
void chk_text_report(report *R, FILE *out);

/* check_json.c: one object; R->S NULL when the input's shape is unknown. */
void chk_json_report(report *R, FILE *out);

/* check_dot.c: a Graphviz digraph. */
void chk_dot_report(report *R, FILE *out);

#endif
