/*
 * shape.h - shape inference over a model, before anything runs.
 *
 * Every occurrence gets its input and output shape.  After a mismatch,
 * inference goes on with the layer's declared output shape when one can be
 * derived, so a single pass lists every independent mistake.
 */
#ifndef SR_SHAPE_H
#define SR_SHAPE_H

#include "model.h"

typedef struct {
    sr_shape in, out;
    int known;          /* in and out are meaningful */
    int bad;            /* this occurrence reported a mismatch */
} sr_nodeshape;

typedef struct {
    sr_nodeshape *node; /* one per model node */
    sr_shape out;       /* the model's output */
    int batch_dim0;     /* every layer keeps dim 0 as an independent batch */
    int nbad;
} sr_shapes;

/* in_integer: the input holds integer indices.  Diagnostics go to d as
 * full lines; returns SR_ESHAPE if any layer does not fit. */
sr_status sr_infer(sr_model *m, const sr_shape *in, int in_integer, int training,
                   sr_shapes *out, sr_diags *d);
void sr_shapes_free(sr_shapes *s);

/* Resolves the spec's input: against an actual input shape; SR_ESHAPE
 * (message in err) if they contradict. */
sr_status sr_check_input(const sr_model *m, const sr_shape *in, char *err);

#endif
