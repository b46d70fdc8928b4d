/*
 * conv_dw.c - depthwise convolution (groups = in_channels, any channel
 * multiplier below 4) and every other convolution with fewer than 4 output
 * channels per group, with AVX-512.
 *
 * conv.c's direct kernel needs at least 4 output channels per group; with
 * fewer, a convolution used to go to per-channel im2col and an M = 1 sgemm
 * (1-5 GF/s).  Here an output channel's plane is computed 16 outputs of one
 * row at a time, straight from the unpadded input: each tap is one masked
 * load (two and a lane shuffle for stride 2) whose mask zeroes the lanes
 * that fall in the padding, and one fused multiply-add with the tap's
 * weight broadcast.  Eight such row segments (of one channel, or of
 * several when a plane is small) are in flight, to cover the FMA latency.
 * The fused activation is applied to each finished run of output channels
 * while it is in cache.
 *
 * Every output is its bias plus its taps in (c, i, j) order, padding taps
 * included as zeros, one FMA each (conv_kernels.h).
 */
#include "conv_kernels.h"
#include "../par.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CK_X86 1
#define CK_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#endif

#define DW_IB 8     /* row segments in flight */
#define DW_CHUNK 16 /* output channels per task */

int ck_dw_ok(const ck_conv *c)
{
    /* zero padding only (the masks are the padding); stride 1 or 2 across */
    return c->cout / c->groups < 4 && c->mode == CK_PAD_ZEROS && c->s[1] <= 2;
}

size_t ck_dw_workspace(const ck_conv *c)
{
    /* a row of zeros, shared: what a tap in a padding row reads */
    return (size_t)c->w + 32;
}

typedef struct {
    const ck_conv *c;
    const float *x, *W, *bias;
    float *y;
    const float *zrow;
    sr_ctx *ctx;
    int64_t chunks; /* tasks per sample */
} dw_job;

#ifdef CK_X86
/* Lanes l whose input column col + l lies in [0, W). */
static inline __mmask16 dw_mask(int64_t col, int64_t W)
{
    int64_t lo = -col, hi = W - col;
    lo = lo < 0 ? 0 : lo;
    hi = hi > 16 ? 16 : hi;
    if (hi <= lo)
        return 0;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* Up to DW_IB row segments (output channel o[q], output row oh[q]; all at
 * output column ow0) of sample x into y; q >= nq repeat item 0 and are not
 * stored. */
static inline __attribute__((always_inline)) CK_TARGET void
dw_items(const dw_job *J, const float *x, float *y, const int64_t *o, const int64_t *oh, int nq, int64_t ow0,
         const int S1)
{
    const ck_conv *c = J->c;
    int64_t H = c->h, W = c->w, og = c->cout / c->groups, cg = c->cin / c->groups, kh = c->k[0], kw = c->k[1];
    int64_t kk = kh * kw, P = c->oh * c->ow;
    __m512 acc[DW_IB];
    const float *wq[DW_IB];
    const float *xq[DW_IB];
    int64_t ihq[DW_IB];
#pragma GCC unroll 8
    for (int q = 0; q < DW_IB; q++) {
        int64_t oq = o[q < nq ? q : 0];
        acc[q] = _mm512_set1_ps(J->bias ? J->bias[oq] : 0.0f);
        wq[q] = J->W + oq * cg * kk;
        xq[q] = x + (oq / og) * cg * H * W;
        ihq[q] = oh[q < nq ? q : 0] * c->s[0] - c->pb[0];
    }
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int64_t ch = 0; ch < cg; ch++) {
        for (int64_t i = 0; i < kh; i++) {
            uintptr_t rp[DW_IB];
#pragma GCC unroll 8
            for (int q = 0; q < DW_IB; q++) {
                int64_t ih = ihq[q] + i * c->dil[0];
                rp[q] = (uintptr_t)(ih >= 0 && ih < H ? xq[q] + (ch * H + ih) * W : J->zrow);
            }
            for (int64_t j = 0; j < kw; j++) {
                int64_t col = ow0 * S1 - c->pb[1] + j * c->dil[1], t = (ch * kh + i) * kw + j;
                uintptr_t off = (uintptr_t)col * sizeof(float);
                __mmask16 k0 = dw_mask(col, W), k1 = S1 == 2 ? dw_mask(col + 16, W) : 0;
#pragma GCC unroll 8
                for (int q = 0; q < DW_IB; q++) {
                    __m512 xv;
                    if (S1 == 1) {
                        xv = _mm512_maskz_loadu_ps(k0, (const void *)(rp[q] + off));
                    } else {
                        __m512 a = _mm512_maskz_loadu_ps(k0, (const void *)(rp[q] + off));
                        __m512 b = _mm512_maskz_loadu_ps(k1, (const void *)(rp[q] + off + 64));
                        xv = _mm512_permutex2var_ps(a, even, b);
                    }
                    acc[q] = _mm512_fmadd_ps(_mm512_set1_ps(wq[q][t]), xv, acc[q]);
                }
            }
        }
    }
    int64_t lanes = c->ow - ow0 < 16 ? c->ow - ow0 : 16;
    __mmask16 ks = (__mmask16)((1u << lanes) - 1);
#pragma GCC unroll 8
    for (int q = 0; q < DW_IB; q++)
        if (q < nq)
            _mm512_mask_storeu_ps(y + o[q] * P + oh[q] * c->ow + ow0, ks, acc[q]);
}

static CK_TARGET void dw_items1(const dw_job *J, const float *x, float *y, const int64_t *o, const int64_t *oh,
                                int nq, int64_t ow0)
{
    dw_items(J, x, y, o, oh, nq, ow0, 1);
}

static CK_TARGET void dw_items2(const dw_job *J, const float *x, float *y, const int64_t *o, const int64_t *oh,
                                int nq, int64_t ow0)
{
    dw_items(J, x, y, o, oh, nq, ow0, 2);
}

/* Output channels [o0, o1) of one sample: row segments column by column,
 * DW_IB at a time across rows and channels, then the activation. */
static void dw_task(void *arg, int64_t task, int tid)
{
    (void)tid;
    const dw_job *J = arg;
    const ck_conv *c = J->c;
    int64_t n = task / J->chunks, ck = task % J->chunks;
    int64_t o0 = ck * DW_CHUNK, o1 = o0 + DW_CHUNK < c->cout ? o0 + DW_CHUNK : c->cout;
    int64_t P = c->oh * c->ow;
    const float *x = J->x + n * c->cin * c->h * c->w;
    float *y = J->y + n * c->cout * P;
    int64_t o[DW_IB], oh[DW_IB];
    for (int64_t ow0 = 0; ow0 < c->ow; ow0 += 16) {
        int nq = 0;
        for (int64_t oc = o0; oc < o1; oc++)
            for (int64_t r = 0; r < c->oh; r++) {
                o[nq] = oc;
                oh[nq] = r;
                if (++nq == DW_IB) {
                    if (c->s[1] == 1)
                        dw_items1(J, x, y, o, oh, nq, ow0);
                    else
                        dw_items2(J, x, y, o, oh, nq, ow0);
                    nq = 0;
                }
            }
        if (nq) {
            if (c->s[1] == 1)
                dw_items1(J, x, y, o, oh, nq, ow0);
            else
                dw_items2(J, x, y, o, oh, nq, ow0);
        }
    }
    sr_post(J->ctx, y + o0 * P, (size_t)((o1 - o0) * P));
}
#endif

int ck_dw_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx)
{
#ifdef CK_X86
    float *zrow = ctx->work;
    memset(zrow, 0, (size_t)(c->w + 32) * sizeof *zrow);
    dw_job J = {.c = c, .x = x, .W = W, .bias = bias, .y = y, .zrow = zrow, .ctx = ctx,
                .chunks = (c->cout + DW_CHUNK - 1) / DW_CHUNK};
    int64_t tasks = c->n * J.chunks;
    int threads = ctx->threads > 1 ? ctx->threads : 1;
    sr_par_for(threads < tasks ? threads : (int)tasks, tasks, dw_task, &J);
    return 0;
#else
    (void)c, (void)W, (void)bias, (void)x, (void)y, (void)ctx;
    return -1;
#endif
}
