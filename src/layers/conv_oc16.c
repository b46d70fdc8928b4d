/*
 * conv_oc16.c - convolution vectorised over output channels (AVX-512), and
 * the dispatch of conv_kernels.h.
 *
 * conv.c's direct kernel puts up to 16 consecutive outputs of one output
 * row in a vector: at output widths 8, 4 and 2 only half, a quarter and an
 * eighth of every multiply-add is useful.  Here a vector holds 16 output
 * channels of one output pixel instead (as oneDNN's nChw16c and ONNX
 * Runtime's NCHWc kernels do), so the output width no longer matters:
 *
 *   weights   packed once per layer, per group and block of OB = 16 * NO
 *             output channels, as [K][OB] (K = cin/groups * kh * kw taps in
 *             the weight's (c, i, j) order), then the block's OB biases;
 *             channels past the group's end are zero;
 *   input     each block of samples padded (and for a horizontal stride,
 *             split into column phases) as conv.c does, so that a tap of a
 *             pixel is one float at a fixed offset from the pixel's base;
 *   tile      NO vectors of 16 output channels by ROWS x COLS pixels: ROWS
 *             segments of COLS consecutive outputs of one output row (any
 *             rows, any samples of the block), NO * ROWS * COLS <= 24
 *             accumulators; each tap is NO vector loads of the packed
 *             weights and ROWS * COLS broadcast loads of the input, each
 *             broadcast feeding NO fused multiply-adds;
 *   classes   a tile's segments all need the same taps (oc_cls): with zero
 *             padding, the taps in the padding for all their pixels are
 *             skipped (4x4 and 2x2 outputs of a 3x3 convolution with
 *             padding 1: 31% and 56% of the multiply-adds);
 *   blocking  the taps in blocks of whole input channels whose weights
 *             (KB x OB floats) stay in L1 while every tile of the sample
 *             block runs over them; a tile's running sums wait in memory
 *             between tap blocks, unchanged;
 *   output    each finished tile has the fused activation applied in its
 *             scratch (sr_post), then goes out pixel by pixel into NCHW, or
 *             into the next convolution's padded layout.
 *
 * Every output is its bias plus its taps in order, one FMA each, whatever
 * the tiles, blocks or threads (see conv_kernels.h; skipped padding taps
 * are the geometry's).
 */
#include "conv_kernels.h"
#include "../cpu.h"
#include "../par.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CK_X86 1
#define CK_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#endif

/* ---- the output-channel kernel ------------------------------------------- */

#define OC_ACC 24     /* accumulators per tile */
#define OC_L1W 8192   /* floats of packed weights per tap block (32 KiB) */
#define OC_BLOCK 65536 /* floats of padded input per block of samples (256 KiB) */
#define OC_PF 64      /* taps the weights are prefetched ahead */
#define OC_SUMS 32768 /* floats of running sums per block of samples (128 KiB) */
#define OC_PIX 256    /* output pixels per block of samples, at least, where they fit: */
#define OC_BIG (1 << 20) /* floats of padded input per block then (4 MiB) */

/* Prepared weights.  The first two fields keep conv.c's dc_pack from ever
 * taking this for its own (its level is 1 or 2) in the shared cache slot. */
typedef struct {
    int level, mr;      /* -1, -1 */
    int kind, no;
    int64_t K, og, nob, groups;
    size_t wfl;         /* floats per block: K * OB */
    float *w, *b;
} ck_pack;

typedef struct {
    int no, rows, cols;     /* tile: NO vectors x ROWS segments x COLS pixels */
    int64_t K, KB;          /* taps; taps per block (whole input channels) */
    int64_t nb;             /* samples per block */
    int64_t segs, tiles;    /* per block of nb samples (tiles: at most) */
} oc_plan;

/*
 * Classes of segments by the taps they need.  With zero padding, a tap
 * that falls in the padding for every pixel of a segment would add w * 0
 * to each of them, which changes no sum (except to make an inf or NaN
 * weight's NaN, or a -0 sum +0): the segment's tiles skip it.  A
 * segment's taps are a box of the kernel, rows [vr.lo, vr.hi) by columns
 * [hr.lo, hr.hi), set by its output row and its columns alone; a tile
 * holds segments of one class only, so the taps an output gets never
 * depend on the batch, the block or the thread.  (3x3 with padding 1:
 * an 8x8 output's border rows need 6 of the 9 taps, a 4x4's corners 4,
 * a 2x2's every pixel 4: W7's convolutions at 4x4 and 2x2 spent 31% and
 * 56% of their multiply-adds on padding.)
 */
#define OC_CLS 16 /* classes at most; past that, rows (then columns) share the union */

typedef struct {
    int32_t lo, hi;
} oc_rng;

typedef struct {
    int nv, nh;                 /* distinct row ranges and column ranges; class q = a * nh + b */
    oc_rng vr[OC_CLS], hr[OC_CLS];
    const int32_t *vc;          /* [oh]: its row range a */
    const int32_t *hc;          /* [segment column]: its column range b */
    int64_t per[OC_CLS];        /* class q's taps per input channel */
    const int32_t *idx[OC_CLS]; /* class q's taps (indices into the K), input channel by channel */
} oc_cls;

/* The taps along one axis (k of them; stride s, dilation d, padding pb
 * before an input of extent in) that outputs [o0, o1) need: with zero
 * padding those that land in the input for one of them at least (a
 * range: the valid taps of each output are one, and they only move one
 * way from output to output), otherwise all. */
static oc_rng oc_axis(int64_t o0, int64_t o1, int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int zeros)
{
    if (!zeros)
        return (oc_rng){0, (int32_t)k};
    int64_t lo = k, hi = 0;
    for (int64_t o = o0; o < o1; o++) {
        int64_t base = o * s - pb; /* input index of tap 0 */
        int64_t a = base >= 0 ? 0 : (d - 1 - base) / d, b = in - base <= 0 ? 0 : (in - base + d - 1) / d;
        a = a < k ? a : k;
        b = b < k ? b : k;
        if (a < b) {
            lo = a < lo ? a : lo;
            hi = b > hi ? b : hi;
        }
    }
    return lo < hi ? (oc_rng){(int32_t)lo, (int32_t)hi} : (oc_rng){0, 0};
}

/* Runs r < n of `len` outputs along an axis ([r * len, r * len + len),
 * cut at out) by the taps they need: the distinct ranges into rng, run
 * r's into cls[r] (when cls is not NULL).  Returns how many, or 0 when
 * more than OC_CLS. */
static int oc_axis_classes(int64_t n, int64_t len, int64_t out, int64_t in, int64_t k, int64_t s, int64_t d,
                           int64_t pb, int zeros, oc_rng *rng, int32_t *cls)
{
    int m = 0;
    for (int64_t r = 0; r < n; r++) {
        int64_t o0 = r * len, o1 = o0 + len < out ? o0 + len : out;
        oc_rng x = oc_axis(o0, o1, in, k, s, d, pb, zeros);
        int q = 0;
        while (q < m && (rng[q].lo != x.lo || rng[q].hi != x.hi))
            q++;
        if (q == m) {
            if (m == OC_CLS)
                return 0;
            rng[m++] = x;
        }
        if (cls)
            cls[r] = q;
    }
    return m;
}

/* c's classes for segments of `cols` pixels into *C, their tables (vc,
 * hc, the tap lists) into mem; returns the int32s those take (with mem
 * NULL, only that). */
static size_t oc_cls_build(const ck_conv *c, int cols, oc_cls *C, int32_t *mem)
{
    int zeros = c->mode == CK_PAD_ZEROS;
    int64_t nsc = (c->ow + cols - 1) / cols, cg = c->cin / c->groups, kw = c->k[1], kk = c->k[0] * kw;
    int32_t *vc = mem, *hc = mem ? mem + c->oh : NULL;
    C->vc = vc;
    C->hc = hc;
    C->nv = oc_axis_classes(c->oh, 1, c->oh, c->h, c->k[0], c->s[0], c->dil[0], c->pb[0], zeros, C->vr, vc);
    C->nh = oc_axis_classes(nsc, cols, c->ow, c->w, kw, c->s[1], c->dil[1], c->pb[1], zeros, C->hr, hc);
    if (!C->nh || C->nv * C->nh > OC_CLS) {
        C->nh = oc_axis_classes(1, c->ow, c->ow, c->w, kw, c->s[1], c->dil[1], c->pb[1], zeros, C->hr, NULL);
        for (int64_t r = 0; hc && r < nsc; r++)
            hc[r] = 0;
    }
    if (!C->nv || C->nv * C->nh > OC_CLS) {
        C->nv = oc_axis_classes(1, c->oh, c->oh, c->h, c->k[0], c->s[0], c->dil[0], c->pb[0], zeros, C->vr, NULL);
        for (int64_t r = 0; vc && r < c->oh; r++)
            vc[r] = 0;
    }
    size_t at = (size_t)(c->oh + nsc);
    for (int q = 0; q < C->nv * C->nh; q++) {
        oc_rng v = C->vr[q / C->nh], h = C->hr[q % C->nh];
        C->per[q] = (int64_t)(v.hi - v.lo) * (h.hi - h.lo);
        C->idx[q] = mem ? mem + at : NULL;
        for (int64_t ch = 0; mem && ch < cg; ch++)
            for (int64_t i = v.lo; i < v.hi; i++)
                for (int64_t j = h.lo; j < h.hi; j++)
                    mem[at++] = (int32_t)(ch * kk + i * kw + j);
        if (!mem)
            at += (size_t)(cg * C->per[q]);
    }
    return at;
}

/* Multiply-adds per output channel and sample with segments of `cols`
 * pixels, each taking the taps its pixels need (oc_axis). */
static int64_t oc_tapwork(const ck_conv *c, int64_t cols)
{
    int zeros = c->mode == CK_PAD_ZEROS;
    int64_t w = 0;
    for (int64_t oh = 0; oh < c->oh; oh++) {
        oc_rng v = oc_axis(oh, oh + 1, c->h, c->k[0], c->s[0], c->dil[0], c->pb[0], zeros);
        for (int64_t o = 0; o < c->ow; o += cols) {
            oc_rng h = oc_axis(o, o + cols < c->ow ? o + cols : c->ow, c->w, c->k[1], c->s[1], c->dil[1],
                               c->pb[1], zeros);
            w += cols * (int64_t)(v.hi - v.lo) * (h.hi - h.lo);
        }
    }
    return w;
}

static void oc_plan_get(const ck_conv *c, const ck_lay *l, oc_plan *p)
{
    int64_t og = c->cout / c->groups, kk = c->k[0] * c->k[1], OW = c->ow;
    /* pixels per segment: the fewest wasted slots per row, then the widest */
    static const int cand[] = {12, 6, 4, 3, 2, 1};
    int cols = 1;
    int64_t best = -1;
    for (int i = 0; i < 6; i++) {
        int64_t slots = (OW + cand[i] - 1) / cand[i] * cand[i], waste = (slots - OW) * 64 / slots;
        if (best < 0 || waste < best) {
            best = waste;
            cols = cand[i];
        }
    }
    /* a pixel to a segment where its own taps save more than such tiles
     * lose (measured on 512 -> 512 3x3, padding 1, 16 samples: 4x4 5.76
     * -> 5.34 ms, 2x2 2.43 -> 0.99 ms; at 8x8 they save 8% of the taps
     * and 256 -> 256 went 5.87 -> 6.69 ms) */
    if (cols > 1 && oc_tapwork(c, 1) * 100 < oc_tapwork(c, cols) * 85)
        cols = 1;
    p->cols = cols;
    p->no = og <= 16 ? 1 : cols == 1 && og >= 64 ? 4 : 2;
    int rows = OC_ACC / (p->no * cols);
    p->rows = rows > 8 ? 8 : rows < 1 ? 1 : rows;
    p->K = c->cin / c->groups * kk;
    int64_t cb = OC_L1W / (kk * 16 * p->no);
    p->KB = (cb < 1 ? 1 : cb) * kk;
    int64_t nb = l->SS > 0 ? OC_BLOCK / l->SS : 1;
    /* every block streams all the weights through L1: at 4x4 and 2x2 a
     * 256 KiB block held 3 and 8 samples, 48 and 32 pixels per pass over
     * W7's 9.4 MB (a pass per 1.6 MFLOP); a tap block's share of the
     * input still fits L2 with OC_PIX pixels */
    int64_t px = c->oh * c->ow, want = px > 0 ? (OC_PIX + px - 1) / px : 1, cap = l->SS > 0 ? OC_BIG / l->SS : 1;
    if (nb < want)
        nb = want < cap ? want : cap;
    /* and the block's running sums within OC_SUMS floats (few input
     * channels: many outputs per input float) */
    int64_t per = c->oh * ((OW + cols - 1) / cols) * cols * 16 * p->no;
    if (per > 0 && nb > OC_SUMS / per)
        nb = OC_SUMS / per;
    nb = nb < 1 ? 1 : nb;
    p->nb = nb < c->n ? nb : c->n > 0 ? c->n : 1;
    p->segs = p->nb * c->oh * ((OW + cols - 1) / cols);
    /* each class's tiles have (rows + 1) / 2 segments at least, but for
     * its last one */
    p->tiles = p->segs / ((p->rows + 1) / 2) + OC_CLS;
}

int ck_oc_ok(const ck_conv *c)
{
    /* at least a vector's worth of output channels per group (and taps
     * the lists of oc_cls can number) */
    return c->cout / c->groups >= 16 && c->cin / c->groups * c->k[0] * c->k[1] < INT32_MAX;
}

static CK_UNUSED size_t oc_pack_floats(const ck_conv *c, int no, int64_t K)
{
    int64_t og = c->cout / c->groups, ob = 16 * no, nob = (og + ob - 1) / ob;
    return (size_t)(c->groups * nob) * (size_t)(K * ob + ob);
}

typedef struct {
    int64_t in;        /* tap-0 input of its first pixel, in the block */
    int64_t n, oh, ow; /* its first output (n within the call) */
    int64_t len;       /* pixels: 1..cols */
} oc_seg;

typedef ck_run oc_run;

/* A tile: `rows` segments from s0 on (cnt of them real, the rest
 * repeat the first), all of class q; its running sums at sums + sum. */
typedef struct {
    int64_t s0, sum;
    int32_t rows, cnt, q, pad;
    void (*fn)(void);           /* an oc_tile_fn */
} oc_tl;

/* Per thread: the padded block, then segments, tiles, running sums and
 * runs.  A class's tiles hold rows segments each, or no fewer than
 * (rows + 1) / 2: their sums take under (segs + OC_CLS * rows) segments'. */
static size_t oc_area(const ck_conv *c, const ck_lay *l, const oc_plan *p)
{
    size_t a = (size_t)(p->nb * l->SS + CK_SLACK + 16) / 16 * 16;
    a += (size_t)p->segs * (sizeof(oc_seg) / sizeof(float)) + 16;
    a += (size_t)p->tiles * (sizeof(oc_tl) / sizeof(float)) + 16;
    a += (size_t)(p->segs + OC_CLS * p->rows) * (size_t)(p->cols * 16 * p->no) + 16;
    a += (size_t)p->tiles * (size_t)(p->rows * p->cols + 1) * (sizeof(oc_run) / sizeof(float)) + 16;
    (void)c;
    return a;
}

/* Shared by the threads: the tap offsets (K int64), then oc_cls's tables. */
static size_t oc_shared(const ck_conv *c, const oc_plan *p)
{
    oc_cls C;
    return (size_t)p->K * 2 + 16 + (oc_cls_build(c, p->cols, &C, NULL) + 15) / 16 * 16;
}

size_t ck_oc_workspace(const ck_conv *c)
{
    ck_lay l;
    oc_plan p;
    ck_lay_get(c, &l);
    oc_plan_get(c, &l, &p);
    return oc_shared(c, &p) + oc_area(c, &l, &p);
}

#ifdef CK_X86
/*
 * One tile over taps idx[k0 .. k1): NO x 16 output channels by ROWS
 * segments of COLS pixels.  sum holds the running sums ([pixel][OB]);
 * first: start from the bias instead.
 */
static inline __attribute__((always_inline)) CK_TARGET void
oc_tile(const float *xb, const int64_t *sin, const int64_t *taps, const int32_t *idx, int64_t k0, int64_t k1,
        const float *wp, const float *bp, float *sum, int first, const int NO, const int ROWS, const int COLS)
{
    __m512 acc[4][OC_ACC];
    const float *p[8];
    const int OB = 16 * NO;
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; r++)
        p[r] = xb + sin[r];
#pragma GCC unroll 4
    for (int v = 0; v < NO; v++) {
#pragma GCC unroll 24
        for (int q = 0; q < ROWS * COLS; q++)
            acc[v][q] = first ? _mm512_load_ps(bp + 16 * v) : _mm512_load_ps(sum + q * OB + 16 * v);
    }
    for (int64_t k = k0; k < k1; k++) {
        int64_t t = idx[k], o = taps[t];
        const float *w = wp + t * OB;
        /* a big layer's weights come from memory at every call (the
         * executor's micro-batches are small): fetch them ahead of the
         * hardware prefetcher (20-30% at 4x4 and 2x2) */
#pragma GCC unroll 4
        for (int v = 0; v < NO; v++)
            _mm_prefetch((const char *)(w + OC_PF * OB + 16 * v), _MM_HINT_T0);
        __m512 wv[4];
#pragma GCC unroll 4
        for (int v = 0; v < NO; v++)
            wv[v] = _mm512_load_ps(w + 16 * v);
#pragma GCC unroll 8
        for (int r = 0; r < ROWS; r++) {
#pragma GCC unroll 12
            for (int j = 0; j < COLS; j++) {
                __m512 xv = _mm512_set1_ps(p[r][o + j]);
#pragma GCC unroll 4
                for (int v = 0; v < NO; v++)
                    acc[v][r * COLS + j] = _mm512_fmadd_ps(wv[v], xv, acc[v][r * COLS + j]);
            }
        }
    }
#pragma GCC unroll 4
    for (int v = 0; v < NO; v++) {
#pragma GCC unroll 24
        for (int q = 0; q < ROWS * COLS; q++)
            _mm512_store_ps(sum + q * OB + 16 * v, acc[v][q]);
    }
}

/* The full tiles (NO * ROWS * COLS = 24 accumulators, ROWS <= 8), and
 * shorter ones down to half as many rows, for blocks with few segments (a
 * micro-batch of 2 samples at 2x2 is 4 segments of 2: 4 rows, not 6). */
#define OC_SHAPES(X)                                                                                         \
    X(1, 8, 1) X(1, 8, 2) X(1, 8, 3) X(1, 6, 4) X(1, 4, 6) X(1, 2, 12)                                        \
    X(2, 8, 1) X(2, 6, 2) X(2, 4, 3) X(2, 3, 4) X(2, 2, 6) X(2, 1, 12)                                        \
    X(4, 6, 1)                                                                                                \
    X(1, 7, 1) X(1, 6, 1) X(1, 5, 1) X(1, 4, 1) X(1, 7, 2) X(1, 6, 2) X(1, 5, 2) X(1, 4, 2)                   \
    X(1, 7, 3) X(1, 6, 3) X(1, 5, 3) X(1, 4, 3) X(1, 5, 4) X(1, 4, 4) X(1, 3, 4) X(1, 3, 6) X(1, 2, 6)        \
    X(1, 1, 12)                                                                                               \
    X(2, 7, 1) X(2, 6, 1) X(2, 5, 1) X(2, 4, 1) X(2, 5, 2) X(2, 4, 2) X(2, 3, 2) X(2, 3, 3) X(2, 2, 3)        \
    X(2, 2, 4) X(2, 1, 6)                                                                                     \
    X(4, 5, 1) X(4, 4, 1) X(4, 3, 1)

#define OC_FN(NO, ROWS, COLS)                                                                                 \
    static CK_TARGET void oc_tile_##NO##_##ROWS##_##COLS(const float *xb, const int64_t *sin,               \
                                                         const int64_t *taps, const int32_t *idx, int64_t k0, \
                                                         int64_t k1, const float *wp, const float *bp,       \
                                                         float *sum, int first)                              \
    {                                                                                                         \
        if (first)                                                                                            \
            oc_tile(xb, sin, taps, idx, k0, k1, wp, bp, sum, 1, NO, ROWS, COLS);                             \
        else                                                                                                  \
            oc_tile(xb, sin, taps, idx, k0, k1, wp, bp, sum, 0, NO, ROWS, COLS);                             \
    }
OC_SHAPES(OC_FN)
#undef OC_FN

typedef ck_tile_fn oc_tile_fn;

ck_tile_fn ck_tile_pick(int no, int rows, int cols)
{
#define OC_PICK(NO, ROWS, COLS)                                                                               \
    if (no == NO && rows == ROWS && cols == COLS)                                                             \
        return oc_tile_##NO##_##ROWS##_##COLS;
    OC_SHAPES(OC_PICK)
#undef OC_PICK
    return NULL;
}
#endif

/* dst[t * stride + m] = src[m * K + t] for the first `rows` of 16 rows m,
 * zero for the others: 16 x 16 blocks through a register transpose (a
 * big layer's packing is part of a short run's time: 9.4 M weights of
 * W7 took 60 ms with gathers). */
#ifdef CK_X86
static CK_TARGET void oc_pack_rows(const float *src, int64_t K, int64_t rows, float *dst, int64_t stride)
{
    for (int64_t t0 = 0; t0 < K; t0 += 16) {
        int64_t n = K - t0 < 16 ? K - t0 : 16;
        __mmask16 km = (__mmask16)((1u << n) - 1);
        __m512 v[16];
#pragma GCC unroll 16
        for (int m = 0; m < 16; m++)
            v[m] = _mm512_maskz_loadu_ps(m < rows ? km : 0,
                                         (const void *)((uintptr_t)src + (uintptr_t)(m * K + t0) * sizeof(float)));
        ck_tr16(v);
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++)
            if (j < n)
                _mm512_store_ps(dst + (t0 + j) * stride, v[j]);
    }
}
#else
static void oc_pack_rows(const float *src, int64_t K, int64_t rows, float *dst, int64_t stride)
{
    for (int64_t t = 0; t < K; t++)
        for (int64_t m = 0; m < 16; m++)
            dst[t * stride + m] = m < rows ? src[m * K + t] : 0.0f;
}
#endif

static CK_UNUSED void oc_pack_fill(ck_pack *pk, const ck_conv *c, int no, int64_t K, const float *W, const float *bias)
{
    int64_t og = c->cout / c->groups, ob = 16 * no, nob = (og + ob - 1) / ob;
    pk->level = pk->mr = -1;
    pk->kind = CK_OC;
    pk->no = no;
    pk->K = K;
    pk->og = og;
    pk->nob = nob;
    pk->groups = c->groups;
    pk->wfl = (size_t)(K * ob);
    pk->w = (float *)(((uintptr_t)(pk + 1) + 63) & ~(uintptr_t)63);
    pk->b = pk->w + (size_t)(c->groups * nob) * pk->wfl;
    for (int64_t g = 0; g < c->groups; g++)
        for (int64_t b = 0; b < nob; b++) {
            float *wb = pk->w + (size_t)(g * nob + b) * pk->wfl, *bb = pk->b + (g * nob + b) * ob;
            for (int64_t v = 0; v < no; v++) {
                int64_t o = b * ob + 16 * v, rows = og - o < 16 ? og - o : 16;
                oc_pack_rows(W + (g * og + (o < og ? o : 0)) * K, K, rows < 0 ? 0 : rows, wb + 16 * v, ob);
            }
            for (int64_t m = 0; m < ob; m++) {
                int64_t o = b * ob + m, oc = g * og + o;
                bb[m] = o < og && bias ? bias[oc] : 0.0f;
            }
        }
}

typedef struct {
    const ck_conv *c;
    const ck_lay *l;
    const oc_plan *p;
    const ck_pack *pk;
    const float *x;
    float *y;
    const int64_t *taps;
    const oc_cls *cls;
    float *work;            /* the threads' areas */
    size_t area;
    sr_ctx *ctx;
    const sr_layout *lay;
    int laid_out;
    int direct;             /* the dense input is the padded layout (no padding, stride 1 across) */
    int pre;                /* padded before the tasks: block b in thread b's area (oc_prepad) */
    int64_t nbr;            /* ranges of output-channel blocks per sample block */
    ck_rowpad rp;
} oc_job;


#ifdef CK_X86
/* Per 16 channels and 16 pixels one transpose, then each run of pixels
 * consecutive in the output is one compress and one masked store per
 * channel. */
CK_TARGET void ck_store(const float *sum, int64_t R, int64_t OB, int64_t ov, const ck_run *run, int64_t nrun,
                        float *y, int64_t cstride)
{
    for (int64_t v = 0; v * 16 < ov; v++) {
        int64_t nv = ov - 16 * v < 16 ? ov - 16 * v : 16, k = 0;
        for (int64_t blk = 0; blk * 16 < R; blk++) {
            __m512 T[16];
            for (int i = 0; i < 16; i++) {
                int64_t r = blk * 16 + i;
                T[i] = r < R ? _mm512_load_ps(sum + r * OB + 16 * v) : _mm512_setzero_ps();
            }
            ck_tr16(T);
            for (; k < nrun && run[k].blk == blk; k++) {
                float *d = y + run[k].dst + 16 * v * cstride;
                __mmask16 sm = (__mmask16)((1u << run[k].cnt) - 1), m = run[k].mask;
                if (m == 0xffff)
                    for (int64_t o = 0; o < nv; o++)
                        _mm512_storeu_ps(d + o * cstride, T[o]);
                else
                    for (int64_t o = 0; o < nv; o++)
                        _mm512_mask_storeu_ps(d + o * cstride, sm, _mm512_maskz_compress_ps(m, T[o]));
            }
        }
    }
}

/* The block's segments (samples n0 .. n1), class by class (class q's
 * from cs[q] to cs[q + 1]); in a class by sample, row, column. */
static void oc_segments(const oc_job *J, int64_t n0, int64_t n1, oc_seg *sg, int64_t *cs)
{
    const ck_conv *c = J->c;
    const oc_cls *C = J->cls;
    int64_t ns = 0, cols = J->p->cols, nsc = (c->ow + cols - 1) / cols, SS = J->l->SS, RS = J->l->RS;
    for (int q = 0; q < C->nv * C->nh; q++) {
        cs[q] = ns;
        for (int64_t n = n0; n < n1; n++)
            for (int64_t oh = 0; oh < c->oh; oh++) {
                if (C->vc[oh] != q / C->nh)
                    continue;
                for (int64_t sc = 0; sc < nsc; sc++) {
                    int64_t ow = sc * cols;
                    if (C->hc[sc] == q % C->nh)
                        sg[ns++] = (oc_seg){.in = (n - n0) * SS + oh * c->s[0] * RS + ow, .n = n, .oh = oh,
                                            .ow = ow, .len = c->ow - ow < cols ? c->ow - ow : cols};
                }
            }
    }
    cs[C->nv * C->nh] = ns;
}

/* Each class's segments into tiles of the height (rows down to half the
 * plan's) that wastes fewest slots (any height gives the same bits);
 * returns how many tiles. */
static int64_t oc_tiles(const oc_job *J, const int64_t *cs, oc_tl *tl)
{
    const oc_plan *p = J->p;
    int64_t nt = 0, sum = 0, seg_f = p->cols * 16 * p->no;
    for (int q = 0; q < J->cls->nv * J->cls->nh; q++) {
        int64_t m = cs[q + 1] - cs[q];
        int rows = p->rows;
        for (int64_t r = p->rows - 1, best = (m + rows - 1) / rows * rows - m; r >= (p->rows + 1) / 2; r--) {
            int64_t w = (m + r - 1) / r * r - m;
            if (w < best) {
                best = w;
                rows = (int)r;
            }
        }
        oc_tile_fn fn = ck_tile_pick(p->no, rows, p->cols);
        for (int64_t s = cs[q]; s < cs[q + 1]; s += rows) {
            int64_t cnt = cs[q + 1] - s < rows ? cs[q + 1] - s : rows;
            tl[nt++] = (oc_tl){.s0 = s, .sum = sum, .rows = rows, .cnt = (int32_t)cnt, .q = q,
                               .fn = (void (*)(void))fn};
            sum += rows * seg_f;
        }
    }
    return nt;
}

/* Tile T's runs of pixels consecutive in the output into ru (how many:
 * ru[R].dst, R = its pixels). */
static void oc_runs(const oc_job *J, const oc_seg *sg, const oc_tl *T, oc_run *ru)
{
    int64_t cols = J->p->cols, R = T->rows * cols, nr = 0, prev = -2;
    for (int64_t r = 0; r < R; r++) {
        int64_t si = T->s0 + r / cols, j = r % cols;
        int64_t d = r / cols >= T->cnt || j >= sg[si].len ? -1 : ck_out_at(J->c, J->lay, sg[si].n, sg[si].oh, sg[si].ow + j);
        nr = ck_run_add(ru, nr, r, d, &prev);
    }
    ru[R].dst = nr;
}

/* With fewer sample blocks than threads, every block's tasks (a range of
 * output channels each) would pad the block for themselves: sample `task`
 * is padded once instead, into its block's place in the block's own
 * thread area (W7's 2x2 convolutions at 2 threads ran no faster than at
 * one, each thread padding all 64 samples). */
static void oc_prepad(void *arg, int64_t task, int tid)
{
    const oc_job *J = arg;
    const ck_conv *c = J->c;
    const ck_lay *l = J->l;
    int64_t nb = J->p->nb, blk = task / nb, n1 = (blk + 1) * nb < c->n ? (blk + 1) * nb : c->n;
    float *xp = J->work + (size_t)blk * J->area;
    ck_pad_sample(c, l, &J->rp, J->x + task * c->cin * c->h * c->w, xp + (task - blk * nb) * l->SS);
    if (task == n1 - 1)
        memset(xp + (n1 - blk * nb) * l->SS, 0, CK_SLACK * sizeof *xp);
    (void)tid;
}

static void oc_task(void *arg, int64_t task, int tid)
{
    const oc_job *J = arg;
    const ck_conv *c = J->c;
    const ck_lay *l = J->l;
    const oc_plan *p = J->p;
    const ck_pack *pk = J->pk;
    const oc_cls *C = J->cls;
    int64_t blk = task / J->nbr, br = task % J->nbr;
    int64_t n0 = blk * p->nb, n1 = n0 + p->nb < c->n ? n0 + p->nb : c->n;
    float *area = J->work + (size_t)tid * J->area;
    const float *xb;
    if (J->laid_out || J->direct) {
        xb = J->x + n0 * l->SS;
    } else if (J->pre) {
        xb = J->work + (size_t)blk * J->area;
    } else {
        float *xp = area;
        for (int64_t n = n0; n < n1; n++)
            ck_pad_sample(c, l, &J->rp, J->x + n * c->cin * c->h * c->w, xp + (n - n0) * l->SS);
        memset(xp + (n1 - n0) * l->SS, 0, CK_SLACK * sizeof *xp);
        xb = xp;
    }
    oc_seg *sg = (oc_seg *)(area + (size_t)(p->nb * l->SS + CK_SLACK + 16) / 16 * 16);
    oc_tl *tl = (oc_tl *)(sg + p->segs);
    float *sums = (float *)(((uintptr_t)(tl + p->tiles) + 63) & ~(uintptr_t)63);
    int64_t cs[OC_CLS + 1], OB = 16 * pk->no, og = pk->og, Rmax = p->rows * p->cols;
    oc_segments(J, n0, n1, sg, cs);
    int64_t ntiles = oc_tiles(J, cs, tl);
    oc_run *runs = (oc_run *)(sums + (p->segs + OC_CLS * p->rows) * p->cols * OB);
    for (int64_t ti = 0; ti < ntiles; ti++)
        oc_runs(J, sg, &tl[ti], runs + ti * (Rmax + 1));
    int64_t ob0 = br * pk->nob / J->nbr, ob1 = (br + 1) * pk->nob / J->nbr;
    int64_t cstride = J->lay ? J->lay->chan : c->oh * c->ow, cg = c->cin / c->groups, kk = c->k[0] * c->k[1];
    int64_t cb = p->KB / kk; /* input channels per tap block */
    for (int64_t g = 0; g < c->groups; g++) {
        const float *xg = xb + g * cg * l->PS;
        for (int64_t b = ob0; b < ob1; b++) {
            const float *wp = pk->w + (size_t)(g * pk->nob + b) * pk->wfl;
            const float *bp = pk->b + (g * pk->nob + b) * OB;
            int64_t o0 = g * og + b * OB, ov = og - b * OB < OB ? og - b * OB : OB;
            for (int64_t c0 = 0; c0 < cg; c0 += cb) {
                int64_t c1 = c0 + cb < cg ? c0 + cb : cg;
                for (int64_t ti = 0; ti < ntiles; ti++) {
                    const oc_tl *T = &tl[ti];
                    int64_t sin[8], per = C->per[T->q];
                    for (int64_t r = 0; r < T->rows; r++)
                        sin[r] = sg[T->s0 + (r < T->cnt ? r : 0)].in; /* past the end: recompute the first */
                    float *sum = sums + T->sum;
                    ((oc_tile_fn)T->fn)(xg, sin, J->taps, C->idx[T->q], c0 * per, c1 * per, wp, bp, sum, c0 == 0);
                    if (c1 == cg) {
                        /* finished: activation, then out, while in L1 */
                        const oc_run *ru = runs + ti * (Rmax + 1);
                        int64_t R = T->rows * p->cols;
                        sr_post(J->ctx, sum, (size_t)(R * OB));
                        ck_store(sum, R, OB, ov, ru, ru[R].dst, J->y + o0 * cstride, cstride);
                    }
                }
            }
        }
    }
}
#endif

/* The packed weights for plan p: the cache's when they match, else built
 * (and kept: ck_keep); NULL when out of memory. */
static CK_UNUSED ck_pack *oc_packed(const ck_conv *c, const oc_plan *p, const float *W, const float *bias,
                                    sr_ctx *ctx, void **own)
{
    ck_pack *pk = ctx->cache ? *ctx->cache : NULL;
    if (pk && pk->level == -1 && pk->kind == CK_OC && pk->no == p->no && pk->K == p->K)
        return pk;
    pk = ck_alloc(sizeof(ck_pack) + 64 + oc_pack_floats(c, p->no, p->K) * sizeof(float));
    if (!pk)
        return NULL;
    oc_pack_fill(pk, c, p->no, p->K, W, bias);
    ck_keep(ctx, pk, own);
    return pk;
}

int ck_oc_prepare(const ck_conv *c, const float *W, const float *bias, sr_ctx *ctx)
{
#ifdef CK_X86
    ck_lay l;
    oc_plan p;
    ck_lay_get(c, &l);
    oc_plan_get(c, &l, &p);
    return ctx->cache && !oc_packed(c, &p, W, bias, ctx, NULL) ? -1 : 0;
#else
    (void)c, (void)W, (void)bias, (void)ctx;
    return 0;
#endif
}

int ck_oc_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx)
{
#ifdef CK_X86
    ck_lay l;
    oc_plan p;
    ck_lay_get(c, &l);
    oc_plan_get(c, &l, &p);
    void *own = NULL;
    const ck_pack *pk = oc_packed(c, &p, W, bias, ctx, &own);
    if (!pk)
        return -1;
    /* tap offsets, in the weights' (c, i, j) order: a channel's kh * kw,
     * then the same a plane further for each next channel */
    int64_t *taps = (int64_t *)ctx->work, kk = c->k[0] * c->k[1];
    for (int64_t i = 0; i < c->k[0]; i++)
        for (int64_t j = 0; j < c->k[1]; j++) {
            int64_t q = j * c->dil[1];
            taps[i * c->k[1] + j] = i * c->dil[0] * l.RS + (q % c->s[1]) * l.Wj + q / c->s[1];
        }
    for (int64_t t = kk; t < p.K; t++)
        taps[t] = taps[t - kk] + l.PS;
    oc_cls C;
    oc_cls_build(c, p.cols, &C, (int32_t *)(ctx->work + (size_t)p.K * 2 + 16));
    oc_job J = {.c = c, .l = &l, .p = &p, .pk = pk, .x = x, .y = y, .taps = taps, .cls = &C,
                .work = ctx->work + oc_shared(c, &p), .area = oc_area(c, &l, &p), .ctx = ctx,
                .lay = ctx->out_layout, .laid_out = ctx->in_laid_out, .nbr = 1};
    /* no padding, stride 1 across and every segment whole: the input
     * itself is the padded layout, and no load reaches past it */
    J.direct = !J.laid_out && !c->pb[0] && !c->pa[0] && !c->pb[1] && !c->pa[1] && c->s[1] == 1 &&
               c->ow % p.cols == 0;
    ck_pad_init(&J.rp, c, &l);
    if (J.laid_out) {
        for (int64_t n = 0; n < c->n; n++)
            ck_pad_borders(c, &l, (float *)x + n * l.SS);
        memset((float *)x + c->n * l.SS, 0, CK_SLACK * sizeof(float));
    }
    int64_t blocks = (c->n + p.nb - 1) / p.nb;
    J.nbr = ck_ranges(ctx, blocks, pk->nob);
    J.pre = J.nbr > 1 && !J.laid_out && !J.direct;
    if (J.pre)
        ck_par(ctx, c->n, oc_prepad, &J);
    ck_par(ctx, blocks * J.nbr, oc_task, &J);
    free(own);
    return 0;
#else
    (void)c, (void)W, (void)bias, (void)x, (void)y, (void)ctx;
    return -1;
#endif
}
