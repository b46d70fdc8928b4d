/*
 * conv_pad.c - the padded, column-phase-split input layout of
 * conv_kernels.h (ck_lay), and the code that fills it: a sample padded
 * row by row (AVX-512 masked loads where they can; a small plane whole, by
 * one permute per vector), or the borders of a
 * sample the layer before wrote into it.  Also the block allocator for
 * packed weights.
 */
#include "conv_kernels.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CK_X86 1
#define CK_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#endif

/* A block for packed weights (freed with free()).  Big ones are asked for
 * in transparent huge pages: each 4 KiB page's first touch costs a fault,
 * several microseconds in a VM, and W7's 37 MB of packed weights took
 * ~45 ms of faults in 4 KiB pages. */
void *ck_alloc(size_t n)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const size_t huge = (size_t)2 << 20;
    if (n >= 2 * huge) {
        void *p = NULL;
        if (posix_memalign(&p, huge, (n + huge - 1) / huge * huge))
            return NULL;
        madvise(p, (n + huge - 1) / huge * huge, MADV_HUGEPAGE);
        return p;
    }
#endif
    return malloc(n);
}

void ck_lay_get(const ck_conv *c, ck_lay *l)
{
    l->Hp = c->h + c->pb[0] + c->pa[0];
    l->Wp = c->w + c->pb[1] + c->pa[1];
    l->Wj = (l->Wp + c->s[1] - 1) / c->s[1];
    l->RS = c->s[1] * l->Wj;
    l->PS = l->Hp * l->RS;
    l->SS = c->cin * l->PS;
}

/* ---- padding ------------------------------------------------------------- */

/* Source index for padded position i of an axis of size n (PyTorch's F.pad
 * modes; the shape check guarantees one reflection or wrap suffices), or -1
 * for a zero. */
int64_t ck_src_index(int mode, int64_t i, int64_t n)
{
    if (i >= 0 && i < n)
        return i;
    switch (mode) {
    case CK_PAD_REFLECT: return i < 0 ? -i : 2 * (n - 1) - i;
    case CK_PAD_REPLICATE: return i < 0 ? 0 : n - 1;
    case CK_PAD_CIRCULAR: return i < 0 ? i + n : i - n;
    default: return -1;
    }
}

#ifdef CK_X86
/* Lanes l whose column col + l lies in [0, w). */
static inline uint16_t cols_in(int64_t col, int64_t w)
{
    int64_t lo = -col, hi = w - col;
    lo = lo < 0 ? 0 : lo;
    hi = hi > 16 ? 16 : hi;
    if (hi <= lo)
        return 0;
    return (uint16_t)(((1u << hi) - 1) & ~((1u << lo) - 1));
}
#endif

void ck_rowpad_init(ck_rowpad *rp, int64_t w, int64_t pb, int64_t s, int64_t wj, int zeros)
{
    rp->s = s;
    rp->wj = wj;
    rp->pb = pb;
    rp->nch = (wj + 15) / 16;
    rp->fast = 0;
    rp->plane = 0; /* ck_pad_init sets it */
#ifdef CK_X86
    rp->fast = zeros && s <= 2 && rp->nch <= CK_ROWPAD_MAX;
    for (int64_t v = 0; rp->fast && v < rp->nch; v++) {
        /* chunk v: phase columns 16 v + l, input columns (16 v + l) s + b - pb */
        int64_t col0 = 16 * v * s - pb;
        rp->m[3 * v] = cols_in(col0, w);
        rp->m[3 * v + 1] = cols_in(col0 + 16, w);
        rp->m[3 * v + 2] = (uint16_t)(wj - 16 * v >= 16 ? 0xffff : (1u << (wj - 16 * v)) - 1);
    }
#else
    (void)w, (void)zeros;
#endif
}

#ifdef CK_X86
CK_TARGET void ck_pad_row(const ck_rowpad *rp, const float *src, float *dst, int64_t pstride)
{
    /* masked-off lanes are not read, so the address may lie before src */
    uintptr_t base = (uintptr_t)src - (uintptr_t)rp->pb * sizeof(float);
    if (rp->s == 1) {
        for (int64_t v = 0; v < rp->nch; v++)
            _mm512_mask_storeu_ps(dst + 16 * v, rp->m[3 * v + 2],
                                  _mm512_maskz_loadu_ps(rp->m[3 * v], (const void *)(base + (uintptr_t)(64 * v))));
        return;
    }
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int64_t v = 0; v < rp->nch; v++) {
        __m512 lo = _mm512_maskz_loadu_ps(rp->m[3 * v], (const void *)(base + (uintptr_t)(128 * v)));
        __m512 hi = _mm512_maskz_loadu_ps(rp->m[3 * v + 1], (const void *)(base + (uintptr_t)(128 * v + 64)));
        _mm512_mask_storeu_ps(dst + 16 * v, rp->m[3 * v + 2], _mm512_permutex2var_ps(lo, ev, hi));
        _mm512_mask_storeu_ps(dst + pstride + 16 * v, rp->m[3 * v + 2], _mm512_permutex2var_ps(lo, od, hi));
    }
}

CK_TARGET void ck_zero_row(const ck_rowpad *rp, float *dst, int64_t pstride)
{
    for (int64_t b = 0; b < rp->s; b++)
        for (int64_t v = 0; v < rp->nch; v++)
            _mm512_mask_storeu_ps(dst + b * pstride + 16 * v, rp->m[3 * v + 2], _mm512_setzero_ps());
}
#endif

/*
 * Planes of 16 input floats or fewer, padded to 64 or fewer (stride 1,
 * zeros): each whole plane in one load, its padded plane as up to four
 * vectors of one permute each, where row by row a 2x2 plane padded to 4x4
 * was four calls of a masked load and store (W7's 512 -> 512 at 2x2, 64
 * samples: 0.55 of 2.2 ms at 2 threads, the padding before the tasks).
 */
void ck_pad_init(ck_rowpad *rp, const ck_conv *c, const ck_lay *l)
{
    ck_rowpad_init(rp, c->w, c->pb[1], c->s[1], l->Wj, c->mode == CK_PAD_ZEROS);
    int64_t H = c->h, W = c->w;
    rp->plane = rp->fast && c->s[0] == 1 && c->s[1] == 1 && H * W <= 16 && l->PS <= 64 && l->RS == l->Wp;
    rp->pin = 0;
    for (int64_t i = 0; rp->plane && i < 64; i++) {
        int64_t ph = i / l->RS - c->pb[0], pw = i % l->RS - c->pb[1];
        int inside = i < l->PS && ph >= 0 && ph < H && pw >= 0 && pw < W;
        rp->pidx[i] = inside ? (int32_t)(ph * W + pw) : 0;
        rp->pin |= (uint64_t)inside << i;
    }
}

#ifdef CK_X86
static CK_TARGET void pad_planes(const ck_conv *c, const ck_lay *l, const ck_rowpad *rp, const float *x, float *dst)
{
    int64_t HW = c->h * c->w, PS = l->PS, nv = (PS + 15) / 16;
    __m512i vi[4];
    __mmask16 keep[4], st[4];
    for (int64_t v = 0; v < nv; v++) {
        vi[v] = _mm512_loadu_si512(rp->pidx + 16 * v);
        keep[v] = (__mmask16)(rp->pin >> (16 * v));
        st[v] = (__mmask16)(PS - 16 * v >= 16 ? 0xffff : (1u << (PS - 16 * v)) - 1);
    }
    __mmask16 lm = (__mmask16)((1u << HW) - 1);
    for (int64_t ch = 0; ch < c->cin; ch++) {
        __m512 p = _mm512_maskz_loadu_ps(lm, x + ch * HW);
        float *d = dst + ch * PS;
        for (int64_t v = 0; v < nv; v++)
            _mm512_mask_storeu_ps(d + 16 * v, st[v], _mm512_maskz_permutexvar_ps(keep[v], vi[v], p));
    }
}
#endif

/* One sample x [cin, h, w] into the padded, phase-split layout at dst:
 * every one of its SS floats is written. */
void ck_pad_sample(const ck_conv *c, const ck_lay *l, const ck_rowpad *rp, const float *x, float *dst)
{
    int64_t H = c->h, W = c->w, s = c->s[1], pl = c->pb[1];
#ifdef CK_X86
    if (rp->plane) {
        pad_planes(c, l, rp, x, dst);
        return;
    }
#endif
    for (int64_t ch = 0; ch < c->cin; ch++) {
        const float *xc = x + ch * H * W;
        for (int64_t ph = 0; ph < l->Hp; ph++) {
            float *row = dst + ch * l->PS + ph * l->RS;
            int64_t ih = ck_src_index(c->mode, ph - c->pb[0], H);
#ifdef CK_X86
            if (rp->fast) {
                if (ih < 0)
                    ck_zero_row(rp, row, l->Wj);
                else
                    ck_pad_row(rp, xc + ih * W, row, l->Wj);
                continue;
            }
#else
            (void)rp;
#endif
            if (ih < 0) {
                memset(row, 0, (size_t)l->RS * sizeof *row);
                continue;
            }
            const float *src = xc + ih * W;
            if (s == 1 && c->mode == CK_PAD_ZEROS) {
                memset(row, 0, (size_t)pl * sizeof *row);
                memcpy(row + pl, src, (size_t)W * sizeof *row);
                memset(row + pl + W, 0, (size_t)(l->RS - pl - W) * sizeof *row);
                continue;
            }
            /* padded column p = j * s + q is phase q's column j */
            for (int64_t q = 0; q < s; q++) {
                float *d = row + q * l->Wj;
                for (int64_t j = 0; j < l->Wj; j++) {
                    int64_t p = j * s + q, iw = p < l->Wp ? ck_src_index(c->mode, p - pl, W) : -1;
                    d[j] = iw >= 0 ? src[iw] : 0.0f;
                }
            }
        }
    }
}

/* A sample the layer before wrote into the padded layout (zero padding):
 * zeros everywhere ck_pad_sample would put them. */
void ck_pad_borders(const ck_conv *c, const ck_lay *l, float *xp)
{
    int64_t s = c->s[1], top = c->pb[0], left = c->pb[1], end = top + c->h;
    for (int64_t ch = 0; ch < c->cin; ch++) {
        float *plane = xp + ch * l->PS;
        if (top)
            memset(plane, 0, (size_t)(top * l->RS) * sizeof *plane);
        if (l->Hp > end)
            memset(plane + end * l->RS, 0, (size_t)((l->Hp - end) * l->RS) * sizeof *plane);
    }
    for (int64_t q = 0; q < s; q++) {
        /* phase q's columns j hold input columns j * s + q - left */
        int64_t lo = left > q ? (left - q + s - 1) / s : 0;
        int64_t hi = left + c->w > q ? (left + c->w - q + s - 1) / s : 0;
        hi = hi < l->Wj ? hi : l->Wj;
        lo = lo < hi ? lo : hi;
        if (lo == 0 && hi == l->Wj)
            continue;
        for (int64_t ch = 0; ch < c->cin; ch++)
            for (int64_t ph = top; ph < end; ph++) {
                float *p = xp + ch * l->PS + ph * l->RS + q * l->Wj;
                for (int64_t j = 0; j < lo; j++)
                    p[j] = 0.0f;
                for (int64_t j = hi; j < l->Wj; j++)
                    p[j] = 0.0f;
            }
    }
}
