/*
 * plan.h - how a record's chunks run: a pure function from the model, its
 * inferred shapes and the mode to one plan node per model node.
 *
 *   fusion    a producer (Linear, Conv: SR_FUSE_AFFINE) absorbs a following
 *             per-channel affine layer (eval BatchNorm) into its weights, and
 *             a producer with SR_FUSE_POST applies a following elementwise
 *             layer (ReLU) as it writes; the absorbed nodes are skipped.
 *   runs      between layers whose rounding depends on the batch
 *             (SR_WHOLE_BATCH: Linear), two or more batch-invariant layers
 *             go through a chunk in micro-batches that stay in L2, spread
 *             over the threads (each runs the whole run of layers).
 *   layouts   inside a run, a layer may write its output straight into the
 *             next one's input layout (a convolution before a convolution).
 *
 * The executor (exec.c) reads the plan; nothing here allocates or runs.
 */
#ifndef SR_PLAN_H
#define SR_PLAN_H

#include "shape.h"

typedef struct {
    int post;         /* elementwise node applied inside this one, or -1 */
    int fold;         /* affine node folded into this one's weights, or -1 */
    int fused_into;   /* this node runs inside that one, or -1 */
    int seg_end;      /* a micro-batched run starts here: its last node, or -1 */
    size_t seg_act;   /* that run's largest activation, floats per sample */
    int lay_to;       /* the next node takes this one's output in its own layout, or -1 */
    sr_layout lay;    /* that layout */
} sr_plannode;

/* Two micro-batch activations: a core's L2 holds 2 MiB here. */
#define SR_SEG_BYTES ((size_t)1 << 20)

/* Fills P[0..m->nnode) for a chunk of these shapes (training: --train). */
void sr_plan_build(const sr_model *m, const sr_shapes *S, int training, sr_plannode *P);

/* The node whose output node i's execution produces (the last one fused
 * into it). */
int sr_plan_produced(const sr_plannode *P, int i);
/* Floats per sample of s, or 0 unless s is [B, fixed...]. */
size_t sr_plan_per_sample(const sr_symshape *s);
/* Floats rounded up to a whole number of 64-byte cache lines: a thread's
 * scratch and its two micro-batch activations each start on a line (a
 * vector load that spans two lines costs two; measured on W8's 1x1
 * 32 -> 64 at 32x32 in the run: 33.2 -> 30.1 ms per 1280 samples).  0
 * when that overflows. */
static inline size_t sr_plan_lines(size_t floats)
{
    size_t r = (floats + 15) / 16 * 16;
    return r < floats ? 0 : r;
}
/* Samples per micro-batch of the run starting at node i, for a chunk of
 * n; at least 1, also for an empty chunk. */
int64_t sr_plan_mb(const sr_plannode *P, int i, int64_t n);
/* A thread's part of the workspace for the micro-batched run starting at
 * node i0, in a chunk of n: its layers' largest scratch at micro-batch
 * shapes, then two micro-batch activations of *act floats each, every
 * piece in whole cache lines (sr_plan_lines).  -1 when the sizes
 * overflow. */
int sr_plan_seg_part(const sr_model *m, const sr_plannode *P, const sr_shapes *S, int i0, int64_t n,
                     size_t *scratch, size_t *act);
/* What a chunk of these shapes needs: floats in each of the two activation
 * buffers, and floats of workspace per thread.  SR_ERUN when the sizes
 * overflow. */
sr_status sr_plan_sizes(const sr_model *m, const sr_plannode *P, const sr_shapes *S, size_t *maxact,
                        size_t *maxwork, char *err);

#endif
