/*
 * conv_direct.h - Conv1d and Conv2d in 2-D terms (index 0 is height, 1 for
 * Conv1d, index 1 is width): what conv.c, which chooses a kernel, and its
 * direct kernel in conv_direct.c share.
 */
#ifndef SR_CONV_DIRECT_H
#define SR_CONV_DIRECT_H

#include "conv_common.h"

/* Everything forward needs, in 2-D terms. */
typedef struct {
    int nd;                    /* 1 or 2: spatial dims of the layer */
    int64_t cin, cout, groups;
    int64_t k[2], s[2], dil[2];
    int64_t pb[2], pa[2];      /* padding before / after ('same' may differ) */
    int mode;                  /* CF_PAD_* */
    int bias;
} conv_geo;

/* Spatial extent of an input (or output) shape. */
typedef struct {
    int batched;
    int64_t n, c, h, w;
} conv_dims;

/* The last two dims of the family's geometry (conv.c). */
void conv_geo_from(const cf_geo *f, conv_geo *g);
void conv_geo_get(const sr_layer *L, conv_geo *g);
void conv_dims_get(const conv_geo *g, const sr_shape *s, conv_dims *d);

/* The direct kernel's level for this layer: 2 AVX-512, 1 AVX2 + FMA, 0
 * none (the CPU, SEQRUN_ISA or the layer's shape rules it out). */
int dc_level(const conv_geo *g);
/* Floats of scratch per call dc_forward needs. */
size_t dc_workspace(const conv_geo *g, const conv_dims *di, const conv_dims *dout);
/* Before the threads: the weights packed for `level` into *ctx->cache, as
 * dc_forward's first call would; 0, or -1 when out of memory. */
int dc_prepare(const conv_geo *g, int level, const float *W, const float *bias, sr_ctx *ctx);
/* Runs the direct kernel at `level` (dc_level's answer, nonzero) on a
 * non-empty input; the packed weights are kept in *ctx->cache if there is
 * one (built there on the first call unless dc_prepare did). */
sr_status dc_forward(const sr_layer *L, const conv_geo *g, const conv_dims *di, const conv_dims *dout, int level,
                     const sr_tensor *in, sr_tensor *out, sr_ctx *ctx, char *err);

#endif
