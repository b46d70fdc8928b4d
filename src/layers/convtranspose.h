/*
 * convtranspose.h - what convtranspose.c (the rows, shape rule and choice
 * of kernel) and its kernels in convtranspose_gemm.c and
 * convtranspose_planar.c share.
 */
#ifndef SR_CONVTRANSPOSE_H
#define SR_CONVTRANSPOSE_H

#include "conv_common.h"

/* ---- prepared weights, kept in the executor's cache slot ------------------- */

#define CT_HDR 64 /* the cache block's header: keeps the prepared weights 64-byte aligned */

typedef struct {
    size_t floats;    /* prepared floats after the header */
    int kind;         /* CT_PIXEL_ROWS or CT_PLANAR: what they are */
} ct_cache;

enum { CT_PIXEL_ROWS = 1, CT_PLANAR = 2 };

/* The executor's cache slot holding `floats` prepared floats of this kind,
 * built by fill() on the first call (or a private block without a slot,
 * which *own then holds for the caller to free); NULL when out of memory. */
const float *ct_prepared(sr_ctx *ctx, int kind, size_t floats, ct_cache **own,
                         int (*fill)(const void *arg, float *dst), const void *arg);

/* ---- the kernels: W [cin, og, *kernel], x [n, cin, *in], y [n, cout, *out] --
 * The GEMM kernels read the weights prepared for them: *_weights gives
 * them from the cache slot, or builds them there (see ct_prepared). */

/* convtranspose_gemm.c: AVX-512, rows of input pixels times packed weights */
size_t ct_gemm_workspace(const cf_geo *g, const cf_dims *di, const cf_dims *dout);
const float *ct_gemm_weights(const cf_geo *g, const cf_dims *di, const cf_dims *dout, const float *W, sr_ctx *ctx,
                             ct_cache **own);
void ct_forward_gemm(const cf_geo *g, const cf_dims *di, const cf_dims *dout, const float *wp, const float *bias,
                     const float *x, float *y, sr_ctx *ctx);

/* convtranspose_planar.c: AVX-512 with few output channels per group (when
 * ct_planar says so), and cblas_sgemm without AVX-512 */
int ct_planar(const cf_geo *g, const cf_dims *di);
size_t ct_planar_workspace(const cf_geo *g, const cf_dims *di, const cf_dims *dout);
const float *ct_planar_weights(const cf_geo *g, const cf_dims *di, const cf_dims *dout, const float *W, sr_ctx *ctx,
                               ct_cache **own);
void ct_forward_planar(const cf_geo *g, const cf_dims *di, const cf_dims *dout, const float *wt, const float *bias,
                       const float *x, float *y, sr_ctx *ctx);
sr_status ct_forward_blas(const cf_geo *g, const cf_dims *di, const cf_dims *dout, const float *W, const float *bias,
                          const float *x, float *y, sr_ctx *ctx);

#endif
