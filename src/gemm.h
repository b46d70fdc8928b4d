/*
 * gemm.h - Y = X W^T + b for a Linear layer, with W packed once.
 *
 * cblas_sgemm repacks the weight matrix on every call; at the batch sizes
 * of a forward pass (tens to a few thousand rows) that copy is a fifth of
 * the time.  Packing W once per model into column panels and running an
 * AVX-512 register-tile kernel over them saves it, and lets the bias and
 * the fused activation be applied while each output tile is in L1.
 *
 * Every output is the bias plus the products summed in order of k, one
 * fused multiply-add at a time, whatever the batch size, row blocking or
 * thread count: a row's result does not depend on the rows around it.
 */
#ifndef SR_GEMM_H
#define SR_GEMM_H

#include <stddef.h>
#include <stdint.h>

/* A GEMV (one sample's Linear) is split over threads only when each part
 * reads at least this many weight floats (128 KiB): less costs more to hand
 * out than it saves. */
#define GEMV_PAR_FLOATS ((int64_t)1 << 15)

/* 1 when this CPU runs the packed kernel (AVX-512F, within SEQRUN_ISA's
 * cap); otherwise callers use cblas_sgemm. */
int sr_gemm_available(void);

/* Floats a packed copy of a [N, K] weight takes. */
size_t sr_gemm_packed_floats(int64_t N, int64_t K);

/* Packs W [N, K] (row-major, as PyTorch stores a Linear weight) into Wp,
 * which must be 64-byte aligned and hold sr_gemm_packed_floats(N, K). */
void sr_gemm_pack(const float *W, int64_t N, int64_t K, float *Wp);

/* The same from W transposed: Wt [K, N] with row stride ldw, so W[n][k] =
 * Wt[k * ldw + n] (a sample's activations [channels, pixels] as the N
 * operand of a transposed convolution's GEMM: a copy, no transposition). */
void sr_gemm_pack_kn(const float *Wt, int64_t ldw, int64_t N, int64_t K, float *Wp);

/* Columns [c0, N) of a packed [N, K] matrix, c0 a multiple of 32 (a
 * panel's width), as a packed matrix of their own (packing is panel by
 * panel): sr_gemm over it gives those columns alone. */
const float *sr_gemm_packed_cols(const float *Wp, int64_t K, int64_t c0);

/* y[M, N] = x[M, K] W^T + b (b may be NULL), then post(post_arg, row, n)
 * on every finished piece of every row, while it is in cache; on up to
 * `threads` of seqrun's threads.  K >= 1, M >= 1, N >= 1. */
void sr_gemm(const float *Wp, const float *x, const float *b, float *y, int64_t M, int64_t N, int64_t K,
             int threads, void (*post)(const void *post_arg, float *y, size_t n), const void *post_arg);

/* The same for one row, x[K]: the same bits as sr_gemm gives that row.
 * Bound by reading Wp; `reverse` (alternate it call by call) takes the
 * panels in the opposite order, so that those read last, still cached,
 * are read first. */
void sr_gemv(const float *Wp, const float *x, const float *b, float *y, int64_t N, int64_t K, int threads,
             int reverse, void (*post)(const void *post_arg, float *y, size_t n), const void *post_arg);

/* The same bits from W unpacked ([N, K], row-major), slower (gathers): for
 * a first call, before anything is packed.  K <= INT32_MAX / 16. */
void sr_gemv_rows(const float *W, const float *x, const float *b, float *y, int64_t N, int64_t K, int threads,
                  void (*post)(const void *post_arg, float *y, size_t n), const void *post_arg);

#endif
