/*
 * shape.h - shape inference over a model, before anything runs.
 *
 * Every occurrence gets its input and output shape.  After a mismatch,
 * inference goes on with the layer's declared output shape when one can be
 * derived, so a single pass lists every independent mistake.
 *
 * The input's free (batch) dimension is followed symbolically: inference is
 * repeated with two other sizes for it, and every dimension that moves with
 * it is recorded as k*N + c, so reports can print [N, 16, 32, 32] and scale
 * memory estimates to any batch size.
 */
#ifndef SR_SHAPE_H
#define SR_SHAPE_H

#include "model.h"

/* Dimension i is k[i] * B + c[i], B being the free dimension's size. */
typedef struct {
    int ndim;
    int64_t k[SR_MAXDIM];
    int64_t c[SR_MAXDIM];
} sr_symshape;

typedef struct {
    sr_shape in, out;
    sr_symshape sin, sout;  /* as in/out, with the free dim followed */
    int known;              /* in and out are meaningful */
    int in_known;           /* in is (a mismatch may leave out unknown) */
    int bad;                /* this occurrence reported a mismatch */
} sr_nodeshape;

typedef struct {
    sr_nodeshape *node;     /* one per model node */
    sr_shape out;           /* the model's output */
    int batch_dim0;         /* every layer keeps dim 0 as an independent batch */
    int nbad;
    int free_dim;           /* the input's free dimension, or -1 */
    char free_name[32];     /* its name; "" prints it as a number */
    int64_t free_size;      /* its size in the inferred input */
    int in_integer;         /* the input holds integer indices */
    sr_symshape sym_in;     /* the model's input */
} sr_shapes;

/* Infers shapes for input `in`, following the spec's named input dimension
 * when `in` has the rank of input: (else dim 0, unnamed).  in_integer: the
 * input holds integer indices.  Diagnostics go to d as full lines; returns
 * SR_ESHAPE if any layer does not fit. */
sr_status sr_infer(sr_model *m, const sr_shape *in, int in_integer, int training,
                   sr_shapes *out, sr_diags *d);
/* The same with the free dimension given: its index in `in` (-1: none) and
 * the name to print for it ("" for none).  placeholder: its size in `in` is
 * a stand-in, not the data's, so a mismatch that only that size causes (a
 * training-mode BatchNorm on a batch of one) is not reported. */
sr_status sr_infer_free(sr_model *m, const sr_shape *in, int free_dim, const char *free_name,
                        int placeholder, int in_integer, int training, sr_shapes *out, sr_diags *d);
void sr_shapes_free(sr_shapes *s);

/* "[N, 16, 32, 32]": the free dimension by name (or as its value at batch
 * size b when name is ""). */
char *sr_symshape_str(const sr_symshape *s, const char *name, int64_t b, char *buf, size_t len);
/* The concrete shape at batch size b. */
sr_shape sr_symshape_at(const sr_symshape *s, int64_t b);

/* Resolves the spec's input: against an actual input shape; SR_ESHAPE
 * (message in err, to be located at input:'s line and column) if they
 * contradict. */
sr_status sr_check_input(const sr_model *m, const sr_shape *in, char *err);

#endif
