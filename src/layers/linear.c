/* linear.c - Linear and LazyLinear: a GEMV for one row, a packed GEMM for more. */
#include "layers.h"
#include "../blas_guard.h"
#include "../cpu.h"
#include "../gemm.h"
#include "../init.h"
#include "../par.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SR_X86
#include <immintrin.h>
#define LIN_X86 1
#endif

SR_VALIDATE_FN(sr_linear_validate)
{
    if (sr_argi(L, LINEAR_IN) < 0 || sr_argi(L, LINEAR_OUT) < 0)
        return sr_err(err, SR_EUSAGE, "in_features and out_features must be non-negative, got %lld and %lld",
                      (long long)sr_argi(L, LINEAR_IN), (long long)sr_argi(L, LINEAR_OUT));
    return SR_OK;
}

SR_VALIDATE_FN(sr_lazylinear_validate)
{
    if (sr_argi(L, LAZY_OUT) < 0)
        return sr_err(err, SR_EUSAGE, "out_features must be non-negative, got %lld", (long long)sr_argi(L, LAZY_OUT));
    return SR_OK;
}

static int is_lazy(const sr_layer *L) { return L->type->id == SR_L_LazyLinear; }
static int64_t in_features(const sr_layer *L) { return is_lazy(L) ? L->lazy_in : sr_argi(L, LINEAR_IN); }
static int64_t out_features(const sr_layer *L) { return sr_argi(L, is_lazy(L) ? LAZY_OUT : LINEAR_OUT); }
static int has_bias(const sr_layer *L) { return (int)sr_argi(L, is_lazy(L) ? LAZY_BIAS : LINEAR_BIAS); }

static sr_status linear_shape(const char *nm, int64_t fin, int64_t fout, const sr_shape *in, sr_shape *out,
                              sr_shapeinfo *info, char *err)
{
    char src[SR_ERRLEN / 4];
    if (in->ndim == 0) {
        *out = sr_shape_make(1, (int64_t[]){fout});
        info->out_known = 1;
        return sr_err(err, SR_ESHAPE, "%s expects input [*, %lld], but input [] is a scalar%s; hint: give it at least one dimension",
                      nm, (long long)fin, sr_from(info, 0, src, sizeof src));
    }
    *out = *in;
    out->d[in->ndim - 1] = fout;
    info->out_known = 1;
    info->batch_dim0 = in->ndim >= 2;
    int64_t last = in->d[in->ndim - 1];
    if (last == fin)
        return SR_OK;
    /* The classic mistakes: a missing Flatten, or in_features off after one. */
    if (in->ndim >= 3) {
        int64_t tail = sr_prod(in, 1, in->ndim);
        char expr[128];
        size_t k = 0;
        for (int i = 1; i < in->ndim && k < sizeof expr; i++)
            k += (size_t)snprintf(expr + k, sizeof expr - k, "%s%lld", i > 1 ? "*" : "", (long long)in->d[i]);
        /* the rule's producer names dim 1, not the last dim, so leave it out */
        if (tail == fin) {
            out->ndim = 2;
            out->d[1] = fout;
            return sr_err(err, SR_ESHAPE,
                          "%s(in_features=%lld) acts on the last dimension, but input %s has %lld there; "
                          "hint: insert Flatten before this layer (%s = %lld)",
                          nm, (long long)fin, sr_shp(in), (long long)last, expr, (long long)tail);
        }
        return sr_err(err, SR_ESHAPE,
                      "%s(in_features=%lld) acts on the last dimension, but input %s has %lld there; "
                      "hint: insert Flatten before this layer and set in_features=%lld (%s), or set "
                      "in_features=%lld to act on the last dimension alone",
                      nm, (long long)fin, sr_shp(in), (long long)last, (long long)tail, expr, (long long)last);
    }
    char extra[256] = "";
    if (in->ndim == 2 && in->d[0] * last == fin)
        snprintf(extra, sizeof extra, "; or, if %s is one sample without its batch dimension, add one (shape [1, ...])",
                 sr_shp(in));
    return sr_err(err, SR_ESHAPE, "%s expects input [*, %lld] (in_features=%lld), but input %s%s has %lld features; "
                  "hint: in_features should be %lld, or use LazyLinear%s",
                  nm, (long long)fin, (long long)fin, sr_shp(in), sr_from(info, 0, src, sizeof src), (long long)last,
                  (long long)last, extra);
}

SR_SHAPE_FN(sr_linear_shape)
{
    return linear_shape(L->type->name, sr_argi(L, LINEAR_IN), sr_argi(L, LINEAR_OUT), in, out, info, err);
}

SR_SHAPE_FN(sr_lazylinear_shape)
{
    if (in->ndim == 0) {
        *out = sr_shape_make(1, (int64_t[]){sr_argi(L, LAZY_OUT)});
        info->out_known = 1;
        return sr_err(err, SR_ESHAPE, "LazyLinear needs at least 1-D input, but input [] is a scalar; hint: give it at least one dimension");
    }
    int64_t fin = sr_lazy_size(L, info, in->d[in->ndim - 1]);
    return linear_shape(L->type->name, fin, sr_argi(L, LAZY_OUT), in, out, info, err);
}

static int linear_params(int64_t fin, int64_t fout, int bias, sr_paramdecl *p)
{
    memset(p, 0, 2 * sizeof *p);
    p[0].name = "weight";
    p[0].shape = sr_shape_make(2, (int64_t[]){fout, fin});
    p[0].init = sr_init_kaiming_uniform_a(sqrt(5.0));
    p[0].zero_row = -1;
    if (!bias)
        return 1;
    double bound = fin > 0 ? 1.0 / sqrt((double)fin) : 0.0;
    p[1].name = "bias";
    p[1].shape = sr_shape_make(1, (int64_t[]){fout});
    p[1].init = sr_init_uniform(-bound, bound);
    p[1].zero_row = -1;
    return 2;
}

SR_PARAMS_FN(sr_linear_params)
{
    return linear_params(sr_argi(L, LINEAR_IN), sr_argi(L, LINEAR_OUT), (int)sr_argi(L, LINEAR_BIAS), p);
}

SR_PARAMS_FN(sr_lazylinear_params)
{
    /* Before materialisation PyTorch has UninitializedParameters; seqrun
     * only asks once shapes are known, so lazy_in is set by then. */
    return linear_params(L->lazy_in < 0 ? 0 : L->lazy_in, sr_argi(L, LAZY_OUT), (int)sr_argi(L, LAZY_BIAS), p);
}

/* Output features are the last dimension; the executor folds a following
 * BatchNorm1d into the weights when that is dim 1, i.e. for [N, F]. */
int sr_linear_channel_dim(const sr_layer *L, const sr_shape *out)
{
    (void)L;
    return out->ndim - 1;
}

/* y[j] += b[j] */
static SR_VEC_VOID(add_bias, (float *y, const float *b, int64_t n), (y, b, n))
{
    for (int64_t j = 0; j < n; j++)
        y[j] += b[j];
}

/*
 * What a Linear occurrence keeps between calls, in the executor's cache
 * slot (one block, freed with free()): the GEMV's call count and the
 * weights packed for sr_gemm and sr_gemv, from the first call with two
 * rows or more, or the second with one.
 */
typedef struct {
    unsigned calls;
    size_t packed;    /* floats of packed weights after the header; 0: none yet */
} lin_cache;

#define LIN_HDR 64    /* header size: keeps the packed weights 64-byte aligned */

static float *packed_of(lin_cache *c) { return (float *)((char *)c + LIN_HDR); }

/* The slot's block, with the weights packed when `packed` floats are asked
 * for; NULL without a slot or memory (the caller then does without). */
static lin_cache *cache(const sr_ctx *ctx, size_t packed)
{
    if (!ctx->cache)
        return NULL;
    lin_cache *c = *ctx->cache;
    if (c && c->packed >= packed)
        return c;
    size_t bytes = LIN_HDR + packed * sizeof(float);
    lin_cache *n = aligned_alloc(LIN_HDR, (bytes + LIN_HDR - 1) / LIN_HDR * LIN_HDR);
    if (!n)
        return packed ? NULL : c;
    n->calls = c ? c->calls : 0;
    n->packed = 0;
    free(c);
    *ctx->cache = n;
    return n;
}

/* A packed copy is a second copy of the weights in memory; past this size
 * (a 256 MiB layer) the layer runs on OpenBLAS, which packs in blocks. */
#define PACK_MAX_FLOATS ((size_t)64 << 20)

/* W packed for sr_gemm / sr_gemv (packed at the first call that asks);
 * NULL without that kernel, a cache slot or the memory, or for a layer too
 * big to keep twice. */
static const float *packed_weights(const sr_ctx *ctx, const float *W, int64_t N, int64_t K)
{
    if (!sr_gemm_available())
        return NULL;
    size_t nf = sr_gemm_packed_floats(N, K);
    if (nf > PACK_MAX_FLOATS)
        return NULL;
    lin_cache *c = cache(ctx, nf);
    if (!c)
        return NULL;
    if (!c->packed) {
        sr_gemm_pack(W, N, K, packed_of(c));
        c->packed = nf;
    }
    return packed_of(c);
}

static void post(const void *ctx, float *y, size_t n) { sr_post(ctx, y, n); }

/*
 * One row (a single sample): y = W x, N dot products of length K.  Batch 1
 * is bound by reading W, which for a model like W1 (2.7 MB) outgrows the
 * core's L2, so a forward pass in one order would evict each layer's
 * weights just before the next pass needs them.  Every other call runs the
 * rows in reverse, so it starts with those read last, still cached.  With
 * threads, each takes the same share of rows every call, and a core's L2
 * keeps its share.  With AVX-512 that is sr_gemv over the packed panels;
 * below are the kernels for W as it lies, for the rest (AVX2, or a layer
 * too big to pack): four rows at once, each dot product's order fixed
 * (vector lanes, then their sum), whatever the direction or thread count.
 */
typedef struct {
    const float *W, *x, *b;
    float *y;
    int64_t N, K;
    int parts, reverse, level;
    const sr_ctx *ctx;
    uint64_t redo;          /* atomic: parts whose worker's OpenBLAS buffer did not
                               fit, for the calling thread to run after */
} gemv_job;

#ifdef LIN_X86
__attribute__((target("avx512f"))) static void gemv16(const float *W, const float *x, float *y, int64_t i0,
                                                       int64_t i1, int64_t K, int reverse)
{
    __mmask16 tail = (__mmask16)((1u << (K % 16)) - 1);
    int64_t kk = K - K % 16, nq = (i1 - i0) / 4;
    for (int64_t q = 0; q < nq; q++) {
        int64_t i = i0 + 4 * (reverse ? nq - 1 - q : q);
        const float *w0 = W + i * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t k = 0; k < kk; k += 16) {
            __m512 xv = _mm512_loadu_ps(x + k);
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + k), xv, a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + k), xv, a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + k), xv, a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + k), xv, a3);
        }
        if (tail) {
            __m512 xv = _mm512_maskz_loadu_ps(tail, x + kk);
            a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w0 + kk), xv, a0);
            a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w1 + kk), xv, a1);
            a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w2 + kk), xv, a2);
            a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w3 + kk), xv, a3);
        }
        y[i] = _mm512_reduce_add_ps(a0);
        y[i + 1] = _mm512_reduce_add_ps(a1);
        y[i + 2] = _mm512_reduce_add_ps(a2);
        y[i + 3] = _mm512_reduce_add_ps(a3);
    }
    for (int64_t i = i0 + 4 * nq; i < i1; i++) {
        __m512 a = _mm512_setzero_ps();
        for (int64_t k = 0; k < kk; k += 16)
            a = _mm512_fmadd_ps(_mm512_loadu_ps(W + i * K + k), _mm512_loadu_ps(x + k), a);
        if (tail)
            a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, W + i * K + kk), _mm512_maskz_loadu_ps(tail, x + kk), a);
        y[i] = _mm512_reduce_add_ps(a);
    }
}

/* sum of the 8 lanes, as _mm512_reduce_add_ps pairs them: halves, then again */
__attribute__((target("avx2,fma"))) static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) static void gemv8(const float *W, const float *x, float *y, int64_t i0,
                                                      int64_t i1, int64_t K, int reverse)
{
    int64_t kk = K - K % 8, nq = (i1 - i0) / 4;
    __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(K % 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int64_t q = 0; q < nq; q++) {
        int64_t i = i0 + 4 * (reverse ? nq - 1 - q : q);
        const float *w0 = W + i * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t k = 0; k < kk; k += 8) {
            __m256 xv = _mm256_loadu_ps(x + k);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + k), xv, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + k), xv, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + k), xv, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + k), xv, a3);
        }
        if (K % 8) {
            __m256 xv = _mm256_maskload_ps(x + kk, tail);
            a0 = _mm256_fmadd_ps(_mm256_maskload_ps(w0 + kk, tail), xv, a0);
            a1 = _mm256_fmadd_ps(_mm256_maskload_ps(w1 + kk, tail), xv, a1);
            a2 = _mm256_fmadd_ps(_mm256_maskload_ps(w2 + kk, tail), xv, a2);
            a3 = _mm256_fmadd_ps(_mm256_maskload_ps(w3 + kk, tail), xv, a3);
        }
        y[i] = hsum8(a0);
        y[i + 1] = hsum8(a1);
        y[i + 2] = hsum8(a2);
        y[i + 3] = hsum8(a3);
    }
    for (int64_t i = i0 + 4 * nq; i < i1; i++) {
        __m256 a = _mm256_setzero_ps();
        for (int64_t k = 0; k < kk; k += 8)
            a = _mm256_fmadd_ps(_mm256_loadu_ps(W + i * K + k), _mm256_loadu_ps(x + k), a);
        if (K % 8)
            a = _mm256_fmadd_ps(_mm256_maskload_ps(W + i * K + kk, tail), _mm256_maskload_ps(x + kk, tail), a);
        y[i] = hsum8(a);
    }
}
#endif

/* One part's rows as cblas_sgemv computes them (no AVX2). */
typedef struct {
    const gemv_job *J;
    int64_t i0, i1;
} sgemv_part;

static void sgemv_rows(void *arg)
{
    const sgemv_part *P = arg;
    const gemv_job *J = P->J;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)(P->i1 - P->i0), (int)J->K, 1.0f, J->W + P->i0 * J->K, (int)J->K,
                J->x, 1, 0.0f, J->y + P->i0, 1);
}

static void gemv_part(void *arg, int64_t t, int tid)
{
    (void)tid;
    gemv_job *J = arg;
    /* shares in multiples of 4 rows, so the 4-row kernels see whole blocks */
    int64_t per = (J->N / J->parts + 3) & ~(int64_t)3;
    int64_t i0 = t * per < J->N ? t * per : J->N, i1 = i0 + per < J->N ? i0 + per : J->N;
    if (i0 >= i1)
        return;
#ifdef LIN_X86
    if (J->level == SR_CPU_AVX512)
        gemv16(J->W, J->x, J->y, i0, i1, J->K, J->reverse);
    else if (J->level == SR_CPU_AVX2)
        gemv8(J->W, J->x, J->y, i0, i1, J->K, J->reverse);
    else
#endif
    {
        /* each worker's first BLAS call maps it a buffer: checked first */
        sgemv_part P = {J, i0, i1};
        char err[SR_ERRLEN];
        if (!sr_blas_call(sgemv_rows, &P, err)) {
            __atomic_fetch_or(&J->redo, (uint64_t)1 << t, __ATOMIC_ACQ_REL);
            return;
        }
    }
    if (J->b)
        add_bias(J->y + i0, J->b + i0, i1 - i0);
    sr_post(J->ctx, J->y + i0, (size_t)(i1 - i0));
}

/* Rows of W worth a second thread (64 KiB of weights each, at least). */

static sr_status gemv(const float *W, const float *x, const float *b, float *y, int64_t N, int64_t K,
                      const sr_ctx *ctx, char *err)
{
    /* per occurrence: calls so far, for the direction (no cache: forward) */
    lin_cache *c = cache(ctx, 0);
    unsigned call = c ? c->calls++ : 0;
    /* With the packed GEMM's kernel: the same bits as it gives this row in
     * a batch, from the packed weights (aligned, read at the memory's
     * pace) from the second call on; the first call reads W as it lies,
     * so that a one-sample run does not pay for packing (it would double
     * that run's time). */
    if (c && sr_gemm_available() && K <= INT32_MAX / 16 && sr_gemm_packed_floats(N, K) <= PACK_MAX_FLOATS) {
        const float *Wp = call > 0 || c->packed ? packed_weights(ctx, W, N, K) : NULL;
        if (Wp)
            sr_gemv(Wp, x, b, y, N, K, ctx->threads, (int)(call & 1), ctx->post ? post : NULL, ctx);
        else
            sr_gemv_rows(W, x, b, y, N, K, ctx->threads, ctx->post ? post : NULL, ctx);
        return SR_OK;
    }
    gemv_job J = {.W = W, .x = x, .b = b, .y = y, .N = N, .K = K, .parts = 1, .ctx = ctx,
                  .reverse = (int)(call & 1), .level = sr_cpu_level()};
    int threads = ctx->threads > 1 ? ctx->threads : 1;
    while (J.parts < threads && N * K / (J.parts + 1) >= GEMV_PAR_FLOATS && N / (J.parts + 1) >= 4)
        J.parts++;
    /* without AVX2 each part is a cblas_sgemv: this thread's buffer must
     * fit; a worker whose own does not leaves its part to this thread */
    if (J.level < SR_CPU_AVX2 && !sr_blas_threads(1, err))
        return SR_ERUN;
    sr_par_run(J.parts, gemv_part, &J);
    for (int t = 0; t < J.parts; t++)
        if (J.redo & ((uint64_t)1 << t))
            gemv_part(&J, t, 0);
    return SR_OK;
}

/* The epilogue: bias and fused activation, row by row while the row is in
 * L1, over blocks of rows; a large output's blocks go to seqrun's threads
 * (OpenBLAS's are done with the GEMM by then). */
typedef struct {
    float *y;
    const float *b;
    int64_t N, M;
    const sr_ctx *ctx;
} epi_job;

#define EPI_ROWS 64
#define EPI_PAR_FLOATS ((int64_t)1 << 18)

static void epilogue(void *arg, int64_t blk, int tid)
{
    (void)tid;
    const epi_job *J = arg;
    int64_t i1 = (blk + 1) * EPI_ROWS < J->M ? (blk + 1) * EPI_ROWS : J->M;
    for (int64_t i = blk * EPI_ROWS; i < i1; i++) {
        float *row = J->y + i * J->N;
        if (J->b)
            add_bias(row, J->b, J->N);
        sr_post(J->ctx, row, (size_t)J->N);
    }
}

/*
 * A GEMV for a single row; for more, sr_gemm over weights packed at the
 * first call (bias and fused activation applied tile by tile), or, where
 * that kernel does not run, one cblas_sgemm and then one pass over the
 * output adding the bias and applying the activation.  Weights and bias
 * are the executor's folded ones when it folded a BatchNorm1d into this
 * layer.
 */
SR_FORWARD_FN(sr_linear_forward)
{
    (void)err;
    int64_t K = in_features(L), N = out_features(L);
    int64_t M = K ? sr_shape_numel(&in->shape) / K : sr_shape_numel(&out->shape) / (N ? N : 1);
    const float *x = sr_f32(in);
    const float *W = ctx->weight ? ctx->weight : sr_f32(&L->param[0]);
    const float *b = ctx->weight ? ctx->bias : has_bias(L) ? sr_f32(&L->param[1]) : NULL;
    float *y = sr_f32(out);
    if (M == 0 || N == 0)
        return SR_OK;
    if (M == 1 && K > 0)
        return gemv(W, x, b, y, N, K, ctx, err);
    const float *Wp = K > 0 ? packed_weights(ctx, W, N, K) : NULL;
    if (Wp) {
        sr_gemm(Wp, x, b, y, M, N, K, ctx->threads, ctx->post ? post : NULL, ctx);
        return SR_OK;
    }
    if (K == 0) {
        memset(y, 0, (size_t)(M * N) * sizeof *y);
    } else {
        /* OpenBLAS retries a work buffer it cannot map forever: only as many
         * threads as can have theirs, none when even ours cannot */
        int have = openblas_get_num_threads(), can = sr_blas_threads(have, err);
        if (!can)
            return SR_ERUN;
        if (can < have)
            openblas_set_num_threads(can);
        /* beta = 0: OpenBLAS's threads clear C, each its own part */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, x, (int)K, W,
                    (int)K, 0.0f, y, (int)N);
    }
    if (!b && !ctx->post)
        return SR_OK;
    epi_job J = {.y = y, .b = b, .N = N, .M = M, .ctx = ctx};
    int64_t tasks = (M + EPI_ROWS - 1) / EPI_ROWS;
    sr_par_for(M * N >= EPI_PAR_FLOATS ? ctx->threads : 1, tasks, epilogue, &J);
    return SR_OK;
}

/* Before the threads: the packed weights sr_gemm reads, for calls of two
 * rows or more.  A one-row call (a single sample) is left to pack at its
 * second call (gemv): a one-sample run would pay more to pack than it
 * reads. */
static sr_status linear_prepare(const sr_layer *L, const sr_shape *in, sr_ctx *ctx, char *err)
{
    (void)err;
    int64_t K = in_features(L), N = out_features(L);
    if (K == 0 || N == 0 || sr_shape_numel(in) / K < 2)
        return SR_OK;
    packed_weights(ctx, ctx->weight ? ctx->weight : sr_f32(&L->param[0]), N, K); /* NULL: forward does without */
    return SR_OK;
}

SR_FORWARD_FN(sr_lazylinear_forward)
{
    return sr_linear_forward(L, in, out, ctx, err);
}

/* ---- rows ----------------------------------------------------------------- */

static const sr_argdef a_linear[] = {
    {"in_features", T_I, NULL, NULL, 0},
    {"out_features", T_I, NULL, NULL, 0},
    {"bias", T_B, "True", NULL, 0},
};
static const sr_argdef a_lazylinear[] = {
    {"out_features", T_I, NULL, NULL, 0},
    {"bias", T_B, "True", NULL, 0},
};

SR_ROW(Linear, .summary = "y = x W^T + b over the last dimension", SR_ARGS(a_linear),
       .repr = "in_features=, out_features=, bias=",
       .flags = SR_FUSE_POST | SR_FUSE_AFFINE | SR_WHOLE_BATCH,
       .validate = sr_linear_validate, .shape = sr_linear_shape, .params = sr_linear_params,
       .forward = sr_linear_forward, .channel_dim = sr_linear_channel_dim, .fold = sr_fold_out_rows,
       .prepare = linear_prepare);
SR_ROW(LazyLinear, .summary = "Linear whose in_features is taken from its input", SR_ARGS(a_lazylinear),
       .repr = "@lazy=in_features, out_features=, bias=",
       .flags = SR_FUSE_POST | SR_FUSE_AFFINE | SR_WHOLE_BATCH | SR_LF_LAZY,
       .validate = sr_lazylinear_validate, .shape = sr_lazylinear_shape, .params = sr_lazylinear_params,
       .forward = sr_lazylinear_forward, .channel_dim = sr_linear_channel_dim, .fold = sr_fold_out_rows,
       .prepare = linear_prepare);
