/*
 * conv_common.h - what the convolution family shares: Conv1d/2d/3d,
 * ConvTranspose1d/2d/3d and their lazy rows.
 *
 * One reading of a layer's arguments (cf_geo, in 3-D terms), the checks
 * and shape-rule steps their validate and shape hooks are built from, the
 * parameters' declaration, the lazy rows' shape pass, and the im2col +
 * cblas_sgemm path every non-transposed convolution falls back to.  The
 * kernels keep their own geometry (conv.c's 2-D conv_geo, the transposed
 * kernels' plans) and build it from a cf_geo.
 *
 * A lazy row (LazyConv2d, ...) is the full type with in_channels left out
 * of its arguments and taken from its first input (L->lazy_in): cf_geo_get
 * reads either kind, so a lazy row runs the full type's hooks as they are.
 */
#ifndef SR_CONV_COMMON_H
#define SR_CONV_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "layers.h"

/* The rows' .variant: which argument list the row has. */
enum { CF_CONV = 0, CF_CONVT = 1 };

/* ConvTranspose*d's arguments, in PyTorch's constructor order (the
 * convolutions' are layers.h's CONV_*) */
enum { CT_IN, CT_OUT, CT_KERNEL, CT_STRIDE, CT_PADDING, CT_OUTPAD, CT_GROUPS, CT_BIAS, CT_DILATION, CT_PADMODE,
       CT_NARGS };

/* padding_mode (the same values as conv_kernels.h's CK_PAD_*) */
enum { CF_PAD_ZEROS, CF_PAD_REFLECT, CF_PAD_REPLICATE, CF_PAD_CIRCULAR };

/* kernel_size, stride, dilation, padding and channel counts are at most
 * this: every size computed from them stays far from int64 overflow */
#define CF_ARG_MAX (1 << 30)

/*
 * A layer in 3-D terms: index 0 is depth, 1 height, 2 width; the leading
 * dimensions a 1-D or 2-D layer lacks have kernel 1, stride 1, dilation 1
 * and no padding.
 */
typedef struct {
    int nd;                   /* spatial dims of the layer: 1, 2 or 3 */
    int transposed;           /* ConvTranspose*d: weight [in, out/groups, *kernel] */
    int64_t cin, cout, groups;
    int64_t cg, og;           /* in_channels and out_channels per group */
    int64_t k[3], s[3], d[3]; /* kernel_size, stride, dilation */
    int64_t pb[3], pa[3];     /* padding before / after ('same' may differ);
                                 a transposed layer's padding is both */
    int64_t op[3];            /* output_padding (transposed) */
    int same;                 /* padding='same' */
    int mode;                 /* CF_PAD_* */
    const char *padding_mode; /* as written */
    int bias;
} cf_geo;

/* An input's (or output's) extent in the same terms. */
typedef struct {
    int batched;
    int64_t n, c, sp[3];
} cf_dims;

/* Spatial dims of the layer (its kernel_size's length). */
int cf_nd(const sr_layer *L);
/* The layer's arguments; a lazy layer's in_channels is L->lazy_in. */
void cf_geo_get(const sr_layer *L, cf_geo *g);
/* in_channels = cin (a lazy layer's, in a hook that fixes it). */
void cf_geo_set_cin(cf_geo *g, int64_t cin);
/* s: [N, C, *spatial] or unbatched [C, *spatial] */
void cf_dims_get(const cf_geo *g, const sr_shape *s, cf_dims *d);

/* A call: the layer's geometry and the extents of its input and output. */
typedef struct {
    cf_geo g;
    cf_dims di, dout;
} cf_call;

void cf_call_get(const sr_layer *L, const sr_shape *in, const sr_shape *out, cf_call *c);
/* The weight and bias a forward call uses: the folded ones the executor
 * passes (ctx->weight), else the layer's own (bias NULL: none). */
void cf_weights(const sr_layer *L, const cf_geo *g, const sr_ctx *ctx, const float **W, const float **bias);
/* Both for a forward call; 0 when it has no samples (nothing to do). */
int cf_forward_call(const sr_layer *L, const sr_tensor *in, const sr_tensor *out, const sr_ctx *ctx, cf_call *c,
                    const float **W, const float **bias);

/* "3x3" (the layer's own dims of a vector in 3-D terms) */
const char *cf_ext(const cf_geo *g, const int64_t *v, char *buf, size_t len);
/* "(3, 3)", or "3" for a 1-D layer: the tuple as the user writes it */
const char *cf_tup(const cf_geo *g, const int64_t *v, char *buf, size_t len);
/* "(N, C, H, W)" */
const char *cf_layout(int nd);

/* Every row's validate and params hooks (layers.h): sr_conv_validate,
 * sr_conv_params; and sr_conv_channel_dim. */

/* ---- rows -------------------------------------------------------------------- */

/* Conv1d/2d/3d's arguments, in layers.h's CONV_* order */
#define CF_CONV_ARGS(a, n)                                                          \
    static const sr_argdef a[CONV_PADMODE + 1] = {                                  \
        [CONV_IN] = {"in_channels", T_I, NULL, NULL, 0},                            \
        [CONV_OUT] = {"out_channels", T_I, NULL, NULL, 0},                          \
        [CONV_KERNEL] = {"kernel_size", T_T, NULL, NULL, n},                        \
        [CONV_STRIDE] = {"stride", T_T, "1", NULL, n},                              \
        [CONV_PADDING] = {"padding", T_T | T_S, "0", "same|valid", n},              \
        [CONV_DILATION] = {"dilation", T_T, "1", NULL, n},                          \
        [CONV_GROUPS] = {"groups", T_I, "1", NULL, 0},                              \
        [CONV_BIAS] = {"bias", T_B, "True", NULL, 0},                               \
        [CONV_PADMODE] = {"padding_mode", T_S, "'zeros'", "zeros|reflect|replicate|circular", 0}, \
    }
/* their printed form after the channel counts */
#define CF_CONV_REPR(n) \
    "kernel_size=:" #n ", stride=:" #n ", padding?:" #n "!, dilation?:" #n ", groups?, bias?, padding_mode?!"
/* A lazy row's arguments: its full row's without in_channels */
#define CF_LAZY_ARGS(a) .args = (a) + 1, .nargs = (int)(sizeof(a) / sizeof *(a)) - 1

/* ---- shape-rule steps ---------------------------------------------------- */

/*
 * The input a shape rule sizes.  When `given` is a batch without its
 * channel dimension (dim 0 is the model's named batch and it is one dim
 * short), `in` is `given` with in_channels of them put back, so the output
 * is sized as the layers after it would see it once that is fixed; else
 * `in` is `given`.
 */
typedef struct {
    const sr_shape *given, *in;
    int no_channel;
    cf_dims d;             /* in's extent */
    sr_shape with_c;
} cf_input;

/* A family's shape rule: why an input of the wrong rank is one (a hint),
 * and the rest of the rule for an input of the right rank, for a
 * geometry whose in_channels is fixed. */
typedef struct {
    void (*rank_hint)(const cf_geo *g, const sr_shape *in, const sr_shapeinfo *info, char *hint, size_t len);
    sr_status (*rest)(const sr_layer *L, const cf_geo *g, const cf_input *x, sr_shape *out, sr_shapeinfo *info,
                      char *err);
} cf_shape_rule;

/* A shape hook: the rank check, then the rule's rest on the layer's
 * geometry; for a lazy layer, with the in_channels its first input fixes,
 * and the lazy rows' own errors. */
sr_status cf_shape(const sr_layer *L, const sr_shape *in, sr_shape *out, sr_shapeinfo *info, char *err,
                   const cf_shape_rule *rule);

/* out = in with cout channels and spatial sizes osz (3-D terms) */
void cf_out_shape(const cf_geo *g, const cf_dims *d, const sr_shape *in, const int64_t *osz, sr_shape *out);
/* "X expects a 3-D (C, H, W) or 4-D (N, C, H, W) input, but ...; hint: HINT" */
sr_status cf_rank_error(const sr_layer *L, const cf_geo *g, const sr_shape *in, const sr_shapeinfo *info,
                        const char *hint, char *err);
/* "X expects a batch as 4-D (N, C, H, W), but input ... has no channel
 * dimension; hint: HINT" (`in` as given, see cf_input) */
sr_status cf_channel_error(const sr_layer *L, const cf_geo *g, const sr_shape *in, const sr_shapeinfo *info,
                           const char *hint, char *err);
/* "X(in_channels=3) expects 3 channels, but input ... has C; hint:
 * in_channels should be C" + note + extra */
sr_status cf_cin_error(const sr_layer *L, const cf_geo *g, const sr_shape *in, const sr_shapeinfo *info, int64_t c,
                       const char *note, const char *extra, char *err);

/* ---- the im2col + cblas_sgemm path (conv_im2col.c) ------------------------- */

/* Source index for padded position i of an axis of size n: F.pad's modes
 * (the shape rule guarantees that one reflection or wrap suffices), -1 for
 * zero padding outside the axis. */
static inline int64_t cf_pad_src(int mode, int64_t i, int64_t n)
{
    if (i >= 0 && i < n)
        return i;
    switch (mode) {
    case CF_PAD_REFLECT: return i < 0 ? -i : 2 * (n - 1) - i;
    case CF_PAD_REPLICATE: return i < 0 ? 0 : n - 1;
    case CF_PAD_CIRCULAR: return i < 0 ? i + n : i - n;
    default: return -1;
    }
}

static inline size_t cf_up16(size_t n) { return (n + 15) & ~(size_t)15; }

/* C channels of x [C, *sp] padded by the layer's mode into xp. */
void cf_pad_copy(const float *x, int64_t C, const int64_t *sp, const cf_geo *g, float *xp);

/*
 * cols[k][q] for the output rows [r0, r1) (an output row: one (depth,
 * height) position; q: their pixels in order) and every tap k = (c, a, b,
 * e) of cg input channels, in the weight's order: the input value it
 * reads, zero outside the input.  x has extent isp and is padded by ipb
 * (the padding im2col applies itself) on the leading side.
 */
void cf_im2col_rows(const cf_geo *g, const int64_t *isp, const int64_t *ipb, const int64_t *osp, const float *x,
                    int64_t r0, int64_t r1, float *cols);

/* Floats of scratch cf_forward_blas needs. */
size_t cf_blas_workspace(const cf_geo *g, const cf_dims *di, const cf_dims *dout);
/* Per sample and group: (padded copy,) im2col and one cblas_sgemm into y,
 * which starts at the bias; the fused activation per sample.  OpenBLAS may
 * round differently at another thread count.  It keeps nothing between
 * calls. */
sr_status cf_forward_blas(const cf_geo *g, const cf_dims *di, const cf_dims *dout, const float *W, const float *bias,
                          const float *x, float *y, sr_ctx *ctx, char *err);

#endif
