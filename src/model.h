/*
 * model.h - a parsed model spec: the module tree, its occurrences in
 * state_dict order, and the spec's input shape, weights path and init rules.
 *
 * Modules are shared by pointer: an aliased list item is the same sr_layer
 * reached from two places, as nn.Sequential(fc, fc) holds one Linear twice.
 * An sr_node is one occurrence, with the state_dict prefix ("2.1") and the
 * spec location of that occurrence.
 */
#ifndef SR_MODEL_H
#define SR_MODEL_H

#include "layer.h"

#define SR_PATHLEN 96

typedef struct {
    sr_layer *mod;
    char path[SR_PATHLEN];  /* state_dict prefix: "0", "2.1" */
    int line, col;
    int depth;              /* 0 for top-level items */
    int first;              /* first occurrence of mod in state_dict order */
    int parent;             /* index of the enclosing Sequential node, or -1 */
} sr_node;

typedef struct {
    const sr_layertype *type;
    char param[32];
    sr_init init;
    int line, col;
} sr_initrule;

typedef struct {
    char *label;            /* spec path as given, "<stdin>" for "-" */
    char *dir;              /* directory the spec's relative paths start from */
    sr_layer *root;         /* the top-level Sequential */
    sr_layer **mods;        /* every distinct module, for freeing */
    int nmods, capmods;
    sr_node *node;          /* occurrences, pre-order (containers included) */
    int nnode, capnode;
    int has_input;          /* the spec's input: */
    sr_shape input;
    int input_free;         /* index of the named (free) dim, or -1 */
    char input_free_name[32];
    int input_line, input_col;
    char *weights;          /* resolved against dir, or NULL */
    sr_initrule *init;
    int ninit;
    void *weights_map;      /* the weights file, mapped: parameters view it */
    size_t weights_maplen;
} sr_model;

/* Every problem found goes to d as a full "FILE:LINE:COL: ..." line.
 * Returns SR_EUSAGE if the spec is invalid, SR_ERUN if it cannot be read. */
sr_status sr_spec_load(sr_model *m, const char *path, sr_diags *d);
sr_status sr_spec_parse(sr_model *m, const char *text, size_t len,
                        const char *label, const char *dir, sr_diags *d);
void sr_model_free(sr_model *m);

/* "layer 2.1 (Linear)" for diagnostics. */
void sr_node_label(const sr_model *m, int i, char *buf, size_t len);
int sr_node_is_leaf(const sr_node *n);

/* Total parameter count as parameters() counts it (shared modules once). */
int64_t sr_model_param_count(const sr_model *m);

#endif
