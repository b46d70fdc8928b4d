/*
 * layers.h - the kernels and shape rules behind the layer table, one family
 * per file.  Argument indices follow each type's row in table.c, which
 * follows PyTorch's constructor order.
 */
#ifndef SR_LAYERS_H
#define SR_LAYERS_H

#include "../cpu.h"
#include "../layer.h"

/* Defines a row of the layer table: SR_ROW(Linear, .summary = ..., ...)
 * is the row sr_row_Linear with id SR_L_Linear and name "Linear" (the name
 * must have its line in layers.def). */
#define SR_ROW(nm, ...) const sr_layertype sr_row_##nm = {.id = SR_L_##nm, .name = #nm, __VA_ARGS__}
/* .args and .nargs of a row from a static sr_argdef array */
#define SR_ARGS(a) .args = (a), .nargs = (int)(sizeof(a) / sizeof *(a))
/* argument kinds, short, for the rows' sr_argdef arrays */
#define T_I SR_T_INT
#define T_F SR_T_FLOAT
#define T_B SR_T_BOOL
#define T_N SR_T_NONE
#define T_S SR_T_STR
#define T_T SR_T_TUPLE
/* a layer's typed config, filled by its validate hook */
#define SR_CFG(L, type) ((const type *)(L)->cfg)

/* Declares validate/shape/params/forward/workspace hooks for one family. */
#define SR_SHAPE_FN(name) sr_status name(const sr_layer *L, const sr_shape *in, sr_shape *out, sr_shapeinfo *info, char *err)
#define SR_FORWARD_FN(name) sr_status name(sr_layer *L, const sr_tensor *in, sr_tensor *out, sr_ctx *ctx, char *err)
#define SR_PARAMS_FN(name) int name(const sr_layer *L, sr_paramdecl *p)
#define SR_VALIDATE_FN(name) sr_status name(sr_layer *L, char *err)
#define SR_WORKSPACE_FN(name) size_t name(const sr_layer *L, const sr_shape *in, const sr_shape *out)
#define SR_IN_LAYOUT_FN(name) int name(const sr_layer *L, const sr_shape *in, sr_layout *lay)
#define SR_OUT_LAYOUT_OK_FN(name) int name(const sr_layer *L, const sr_shape *in, const sr_layer *post)

/* Simple loops the compiler vectorises: SR_VEC_VOID / SR_VEC_FN (cpu.h)
 * build them for AVX-512, AVX2 and the baseline from one body and choose by
 * sr_cpu_level(), which SEQRUN_ISA caps, so the tests reach every variant.
 * SR_APPLY_VEC(name) defines an elementwise apply hook that way.  SR_KERNEL
 * alone only asks for the baseline's vectorisation. */
#define SR_KERNEL SR_VEC_OPT
#define SR_APPLY_VEC(name) SR_VEC_VOID(name, (const sr_layer *L, const float *x, float *y, size_t n), (L, x, y, n))

/* Normalises a possibly negative dim against ndim; -1 if out of range. */
int sr_norm_dim(int64_t dim, int ndim);
/* " (from layer 2 (Conv2d))": who made the size a shape rule rejects; when
 * no layer did, " (from the model's input)" if input_too, else "". */
const char *sr_from(const sr_shapeinfo *info, int input_too, char *buf, size_t len);
/* Product of dims [a, b). */
int64_t sr_prod(const sr_shape *s, int a, int b);
/* The fold hook of producers whose param[0] holds output channel o in its
 * leading dimension and whose param[1], if any, is the [C] bias (Linear,
 * Conv): w[o, ...] = W[o, ...] * scale[o], b[o] = bias[o] * scale[o] + shift[o]. */
int64_t sr_fold_out_rows(const sr_layer *P, const double *scale, const double *shift, float *w, float *b);
/* A lazy layer's input size in this shape pass (see sr_shapeinfo.lazy):
 * fixed by the first input it sees, which is `seen`. */
int64_t sr_lazy_size(const sr_layer *L, sr_shapeinfo *info, int64_t seen);

/* linear.c */
enum { LINEAR_IN, LINEAR_OUT, LINEAR_BIAS };
enum { LAZY_OUT, LAZY_BIAS };
SR_VALIDATE_FN(sr_linear_validate);
SR_SHAPE_FN(sr_linear_shape);
SR_PARAMS_FN(sr_linear_params);
SR_FORWARD_FN(sr_linear_forward);
SR_VALIDATE_FN(sr_lazylinear_validate);
SR_SHAPE_FN(sr_lazylinear_shape);
SR_PARAMS_FN(sr_lazylinear_params);
SR_FORWARD_FN(sr_lazylinear_forward);
int sr_linear_channel_dim(const sr_layer *L, const sr_shape *out);

/* activation.c: elementwise functions, softmax */
enum { LEAKY_SLOPE };
enum { ELU_ALPHA };
enum { GELU_APPROX };
enum { SOFTPLUS_BETA, SOFTPLUS_THRESHOLD };
enum { HARDTANH_MIN, HARDTANH_MAX };
enum { SOFTMAX_DIM };
SR_SHAPE_FN(sr_same_shape);
SR_VALIDATE_FN(sr_hardtanh_validate);
SR_SHAPE_FN(sr_softmax_shape);
SR_FORWARD_FN(sr_softmax_forward);
SR_FORWARD_FN(sr_logsoftmax_forward);
/* the elementwise layers' apply hooks (x == y allowed) */
#define SR_APPLY_FN(name) void name(const sr_layer *L, const float *x, float *y, size_t n)
SR_APPLY_FN(sr_relu_apply);
SR_APPLY_FN(sr_relu6_apply);
SR_APPLY_FN(sr_leakyrelu_apply);
SR_APPLY_FN(sr_elu_apply);
SR_APPLY_FN(sr_gelu_apply);
SR_APPLY_FN(sr_silu_apply);
SR_APPLY_FN(sr_tanh_apply);
SR_APPLY_FN(sr_sigmoid_apply);
SR_APPLY_FN(sr_softplus_apply);
SR_APPLY_FN(sr_hardtanh_apply);
/* forward() of every elementwise layer: its apply hook over the tensor */
SR_FORWARD_FN(sr_elementwise_forward);

/* reshape.c: Flatten, Unflatten, Identity, Dropout */
enum { FLATTEN_START, FLATTEN_END };
enum { UNFLATTEN_DIM, UNFLATTEN_SIZE };
enum { DROPOUT_P };
SR_SHAPE_FN(sr_flatten_shape);
SR_VALIDATE_FN(sr_unflatten_validate);
SR_SHAPE_FN(sr_unflatten_shape);
SR_FORWARD_FN(sr_view_forward);
SR_VALIDATE_FN(sr_dropout_validate);
SR_FORWARD_FN(sr_dropout_forward);

/* norm.c: LayerNorm (BatchNorm joins it) */
enum { LAYERNORM_SHAPE, LAYERNORM_EPS, LAYERNORM_AFFINE };
SR_VALIDATE_FN(sr_layernorm_validate);
SR_SHAPE_FN(sr_layernorm_shape);
SR_PARAMS_FN(sr_layernorm_params);
SR_FORWARD_FN(sr_layernorm_forward);

/* embedding.c */
enum { EMB_NUM, EMB_DIM, EMB_PADDING_IDX, EMB_MAX_NORM, EMB_NORM_TYPE, EMB_SCALE_GRAD, EMB_SPARSE };
SR_VALIDATE_FN(sr_embedding_validate);
SR_SHAPE_FN(sr_embedding_shape);
SR_PARAMS_FN(sr_embedding_params);
SR_FORWARD_FN(sr_embedding_forward);

/* The convolution family (conv_common.h): Conv1d/2d/3d's arguments (a
 * row's kernel_size tlen tells its dims).  The validate, params and
 * channel_dim hooks serve every row of the family, ConvTranspose's too;
 * conv.c's shape rule serves Conv1d/2d/3d, its forward and layout hooks
 * Conv1d/2d. */
enum { CONV_IN, CONV_OUT, CONV_KERNEL, CONV_STRIDE, CONV_PADDING, CONV_DILATION, CONV_GROUPS, CONV_BIAS,
       CONV_PADMODE };
SR_VALIDATE_FN(sr_conv_validate);
SR_SHAPE_FN(sr_conv_shape);
SR_PARAMS_FN(sr_conv_params);
SR_FORWARD_FN(sr_conv_forward);
SR_WORKSPACE_FN(sr_conv_workspace);
int sr_conv_channel_dim(const sr_layer *L, const sr_shape *out);
SR_IN_LAYOUT_FN(sr_conv_in_layout);
SR_OUT_LAYOUT_OK_FN(sr_conv_out_layout_ok);

/* pool.c: MaxPool, AvgPool, adaptive pools (1d/2d by kernel_size's or
 * output_size's tlen) */
enum { POOL_KERNEL, POOL_STRIDE, POOL_PAD };
enum { MAXPOOL_DIL = POOL_PAD + 1, MAXPOOL_RETIDX, MAXPOOL_CEIL };
enum { AVGPOOL_CEIL = POOL_PAD + 1, AVGPOOL_CIP, AVGPOOL_DIVISOR };
enum { ADAPT_SIZE, ADAPT_RETIDX };
SR_VALIDATE_FN(sr_pool_validate);
SR_SHAPE_FN(sr_pool_shape);
SR_FORWARD_FN(sr_maxpool_forward);
SR_FORWARD_FN(sr_avgpool_forward);
SR_VALIDATE_FN(sr_adaptive_validate);
SR_SHAPE_FN(sr_adaptive_shape);
SR_FORWARD_FN(sr_adaptiveavg_forward);
SR_FORWARD_FN(sr_adaptivemax_forward);

/* batchnorm.c: BatchNorm1d, BatchNorm2d */
enum { BN_NUM, BN_EPS, BN_MOMENTUM, BN_AFFINE, BN_TRACK };
SR_VALIDATE_FN(sr_batchnorm_validate);
SR_SHAPE_FN(sr_batchnorm1d_shape);
SR_SHAPE_FN(sr_batchnorm2d_shape);
SR_PARAMS_FN(sr_batchnorm_params);
SR_FORWARD_FN(sr_batchnorm_forward);
int64_t sr_batchnorm_affine(const sr_layer *L, int training, double *scale, double *shift);

#endif
