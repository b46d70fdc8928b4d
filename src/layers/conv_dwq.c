/*
 * conv_dwq.c - depthwise 3x3 convolution with padding 1 and stride 2 on
 * planes 8 wide (MobileNet's 8x8 -> 4x4), four channels in the lanes, with
 * AVX-512: CK_DW's kernel for that shape.
 *
 * An output row of 4 fills a quarter of a vector.  conv_dw.c's channels in
 * the lanes fill them all but pay a 16 x 16 transpose for every 16 input
 * positions of 16 channels (16 shuffles a channel at 8x8) and one more for
 * the outputs; conv_dwd.c's stride-1 columns keep a quarter of its FMAs.
 * Here lanes 4k .. 4k + 3 are channel k's output row: each input row of
 * the four channels comes in by two masked loads (channel 1's and 3's
 * merged into the upper halves: no shuffle), and three permutes pick out
 * its even columns (tap j = 1), odd ones (j = 2) and odd ones a column on
 * (j = 0, the padding lane zero): 6 permutes and 9 FMAs a channel for its
 * 16 outputs (2-sample call, 256 channels, in cache: 6.3 -> 4.1 us).
 *
 * The weights come from conv_dw.c's 16-channel packing (ck_dw_lanes), one
 * permute a tap.  Every output is its bias, then its taps in (i, j) order
 * by one FMA each, padding taps as zeros (conv_kernels.h).
 */
#include "conv_kernels.h"

#include <stdlib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CK_X86 1
#define CK_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#endif

#define DWQ_ROWS 12 /* output rows, at most (one accumulator each) */

int ck_dwq_ok(const ck_conv *c)
{
    return c->groups == c->cin && c->cout == c->cin && c->mode == CK_PAD_ZEROS && c->k[0] == 3 && c->k[1] == 3 &&
           c->dil[0] == 1 && c->dil[1] == 1 && c->s[0] == 2 && c->s[1] == 2 && c->pb[0] == 1 && c->pa[0] == 1 &&
           c->pb[1] == 1 && c->pa[1] == 1 && c->w == 8 && c->oh <= DWQ_ROWS;
}

typedef struct {
    const ck_conv *c;
    const float *pw, *pb; /* weights [C / 16][9][16] and biases [C / 16][16], 16 channels in the lanes */
    const float *x;
    float *y;
    sr_ctx *ctx;
    int relu;
    int64_t chunks;       /* of 16 channels, per sample */
} dwq_job;

#ifdef CK_X86
/*
 * Channels ch .. ch + nc - 1 (nc <= 4, ch % 4 == 0): x, y their first
 * planes, P floats apart on output, HW on input; pw, pb their 16-channel
 * chunk's weights and biases, q = ch % 16 / 4.  R = oh output rows.
 */
static inline __attribute__((always_inline)) CK_TARGET void
dwq_tile(const float *x, int64_t HW, float *y, int64_t P, const float *pw, const float *pb, int q, int nc, int64_t h,
         int relu, const int R)
{
    /* lane 4k + c: channel k */
    const __m512i sel = _mm512_add_epi32(_mm512_set1_epi32(4 * q),
                                         _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3));
    __m512 wv[9], acc[DWQ_ROWS];
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++)
        wv[t] = _mm512_permutexvar_ps(sel, _mm512_load_ps(pw + 16 * t));
    __m512 b = _mm512_permutexvar_ps(sel, _mm512_load_ps(pb));
#pragma GCC unroll 12
    for (int m = 0; m < R; m++)
        acc[m] = b;
    /* lane 4k + c from channel k's row (k / 2: which of the two vectors,
     * k % 2: which half) at column 2 c + j - 1 */
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i odd1 = _mm512_setr_epi32(0, 1, 3, 5, 0, 9, 11, 13, 0, 17, 19, 21, 0, 25, 27, 29);
    uintptr_t x0 = (uintptr_t)x, step = (uintptr_t)HW * sizeof(float);
    /* input rows rho - 1 in ascending order: tap i = rho - 2 m of output row m */
#pragma GCC unroll 32
    for (int rho = 0; rho < 2 * (R - 1) + 3; rho++) {
        int64_t ih = rho - 1;
        __mmask16 lo = (__mmask16)(ih >= 0 && ih < h ? 0x00ff : 0);
        /* masked-off lanes are not read: the addresses may lie outside the planes */
        uintptr_t row = x0 + (uintptr_t)(ih * 8) * sizeof(float);
        __m512 A = _mm512_maskz_loadu_ps(lo, (const void *)row);
        A = _mm512_mask_loadu_ps(A, (__mmask16)(nc > 1 ? lo << 8 : 0), (const void *)(row + step - 32));
        __m512 B = _mm512_maskz_loadu_ps((__mmask16)(nc > 2 ? lo : 0), (const void *)(row + 2 * step));
        B = _mm512_mask_loadu_ps(B, (__mmask16)(nc > 3 ? lo << 8 : 0), (const void *)(row + 3 * step - 32));
        __m512 xj[3] = {_mm512_maskz_permutex2var_ps(0xeeee, A, odd1, B), _mm512_permutex2var_ps(A, even, B),
                        _mm512_permutex2var_ps(A, odd, B)};
        ck_dw_row_s2(acc, wv, xj, rho, R);
    }
    __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int m = 0; m < R; m++) {
        __m512 r = relu ? _mm512_max_ps(zero, acc[m]) : acc[m];
        /* lanes 4k .. 4k + 3 to channel k's output row m (the address 4k floats before it) */
        for (int k = 0; k < nc; k++)
            _mm512_mask_storeu_ps((void *)((uintptr_t)(y + k * P + 4 * m) - 16 * (uintptr_t)k),
                                  (__mmask16)(0xfu << (4 * k)), r);
    }
}

#define DWQ_FN(R)                                                                                             \
    static CK_TARGET void dwq_tile_##R(const float *x, int64_t HW, float *y, int64_t P, const float *pw,     \
                                       const float *pb, int q, int nc, int64_t h, int relu)                  \
    {                                                                                                         \
        dwq_tile(x, HW, y, P, pw, pb, q, nc, h, relu, R);                                                     \
    }
DWQ_FN(1) DWQ_FN(2) DWQ_FN(3) DWQ_FN(4) DWQ_FN(5) DWQ_FN(6) DWQ_FN(7) DWQ_FN(8) DWQ_FN(9) DWQ_FN(10) DWQ_FN(11)
DWQ_FN(12)
#undef DWQ_FN

typedef void (*dwq_fn)(const float *, int64_t, float *, int64_t, const float *, const float *, int, int, int64_t, int);
static const dwq_fn dwq_tiles[DWQ_ROWS] = {dwq_tile_1, dwq_tile_2, dwq_tile_3, dwq_tile_4,  dwq_tile_5,  dwq_tile_6,
                                           dwq_tile_7, dwq_tile_8, dwq_tile_9, dwq_tile_10, dwq_tile_11, dwq_tile_12};

/* 16 channels of one sample, four at a time. */
static void dwq_task(void *arg, int64_t task, int tid)
{
    (void)tid;
    const dwq_job *J = arg;
    const ck_conv *c = J->c;
    int64_t n = task / J->chunks, g = task % J->chunks, HW = c->h * c->w, P = c->oh * c->ow;
    for (int q = 0; q < 4 && 16 * g + 4 * q < c->cin; q++) {
        int64_t ch = 16 * g + 4 * q;
        int nc = c->cin - ch < 4 ? (int)(c->cin - ch) : 4;
        float *y = J->y + (n * c->cout + ch) * P;
        dwq_tiles[c->oh - 1](J->x + (n * c->cin + ch) * HW, HW, y, P, J->pw + g * 9 * 16, J->pb + g * 16, q, nc,
                             c->h, J->relu);
        if (J->ctx->post && !J->relu)
            sr_post(J->ctx, y, (size_t)(nc * P));
    }
}
#endif

int ck_dwq_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx)
{
#ifdef CK_X86
    void *own = NULL;
    const float *pb;
    const float *pw = ck_dw_lanes(c, W, bias, ctx, &own, &pb);
    if (!pw)
        return -1;
    dwq_job J = {.c = c, .pw = pw, .pb = pb, .x = x, .y = y, .ctx = ctx,
                 .relu = ctx->post && ctx->post->type->id == SR_L_ReLU, .chunks = (c->cin + 15) / 16};
    ck_par(ctx, c->n * J.chunks, dwq_task, &J);
    free(own);
    return 0;
#else
    (void)c, (void)W, (void)bias, (void)x, (void)y, (void)ctx;
    return -1;
#endif
}
