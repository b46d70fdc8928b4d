/*
 * conv_wino.c - 3x3 convolutions, stride 1, by Winograd's F(2x2, 3x3)
 * (AVX-512): CK_WG of conv_kernels.h.
 *
 * An output tile of 2x2 pixels is A^T [(G g G^T) . (B^T d B)] A, with d
 * the 4x4 input patch under it and g the 3x3 kernel: 16 multiplies per
 * input and output channel instead of 36, so the layer's multiply-adds
 * become 16 GEMMs (one per patch position) of 4/9 the direct count.
 *
 *   weights   U = G g G^T once per layer (in double, then rounded),
 *             packed per block of OB = 16 * NO output channels and
 *             position as [cin][OB] (CK_OC's packing with K = cin), and
 *             the block's OB biases;
 *   input     each block of samples padded as CK_OC pads it (ck_lay; or
 *             laid out so by the layer before), then every tile's patch
 *             of every channel transformed: V [16][cin][T] (T tiles in
 *             the block);
 *   GEMM      per output block and position, CK_OC's register tile
 *             (ck_tile_pick, NO x 16 channels by ROWS tiles) over the
 *             input channels in blocks whose weights fit L1: M
 *             [16][T][OB];
 *   output    each tile's 16 positions of 16 channels go through A^T . A,
 *             get their bias and the fused activation, and out pixel by
 *             pixel (NCHW, or the next convolution's padded layout).
 *
 * Numerics: not the direct kernels' bits (the transforms add and halve);
 * the error stays within a small multiple of theirs (test_convk checks it
 * against a double reference).  Every output's operations are fixed by
 * the geometry, the same whatever the batch, block or thread.
 */
#include "conv_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CK_X86 1
#define CK_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#else
#define CK_TARGET
#endif

#define WG_T 64        /* tiles per block of samples, at least (where they fit) */
#define WG_L1W 8192    /* floats of weights per input-channel block (32 KiB) */
#define WG_ROW 256     /* padded row floats at most (a tile row's outputs in scratch) */

int ck_wg_ok(const ck_conv *c)
{
    /* 4x4 outputs and up (at 2x2, CK_OC skips the padding's 5 of 9
     * taps: as few multiplies), enough input channels to carry the
     * transforms (see ck_choose), a whole number of tiles */
    return c->groups == 1 && c->k[0] == 3 && c->k[1] == 3 && c->s[0] == 1 && c->s[1] == 1 && c->dil[0] == 1 &&
           c->dil[1] == 1 && c->mode == CK_PAD_ZEROS && c->oh % 2 == 0 && c->ow % 2 == 0 && c->oh * c->ow >= 16 &&
           c->cin >= 64 && c->cout >= 16 && c->w + c->pb[1] + c->pa[1] <= WG_ROW &&
           c->cin * (c->h + c->pb[0] + c->pa[0]) * (c->w + c->pb[1] + c->pa[1]) < INT32_MAX; /* gather offsets */
}

typedef struct {
    int no, rows;           /* tile: NO vectors x ROWS tiles */
    int64_t th, tw, tps;    /* tiles down, across, per sample */
    int64_t nb, T;          /* samples per block, tiles per block */
    int64_t cb;             /* input channels per weight block */
    int64_t og, nob;        /* output channels; blocks of OB */
} wg_plan;

/* threads: those the blocks are shared out to (0: the most workspace any
 * number needs) */
static void wg_plan_get(const ck_conv *c, const ck_lay *l, int threads, wg_plan *p)
{
    p->no = c->cout <= 16 ? 1 : c->cout >= 64 ? 4 : 2;
    int rows = 24 / p->no;
    p->rows = rows > 8 ? 8 : rows;
    p->th = c->oh / 2;
    p->tw = c->ow / 2;
    p->tps = p->th * p->tw;
    int64_t nb = p->tps > 0 ? (WG_T + p->tps - 1) / p->tps : 1;
    /* and the padded block within 1 MiB */
    if (l->SS > 0 && nb > (1 << 18) / l->SS)
        nb = (1 << 18) / l->SS;
    nb = nb < 1 ? 1 : nb;
    /* (or up to a quarter more, where that shares the blocks out evenly) */
    p->nb = nb < c->n ? ck_balance(c->n, nb, threads) : c->n > 0 ? c->n : 1;
    p->T = p->nb * p->tps;
    int64_t cb = WG_L1W / (16 * p->no);
    p->cb = cb < c->cin ? cb : c->cin;
    p->og = c->cout;
    p->nob = (c->cout + 16 * p->no - 1) / (16 * p->no);
}

/* Packed weights (first two fields as ck_pack's: never conv.c's dc_pack). */
typedef struct {
    int level, mr;          /* -1, -1 */
    int kind, no;
    int64_t cin, nob;
    float *u;               /* [nob][16][cin][OB] */
    float *b;               /* [nob][OB] */
} wg_pack;

static size_t wg_pack_floats(const ck_conv *c, const wg_plan *p)
{
    int64_t OB = 16 * p->no;
    return (size_t)(p->nob * 16 * c->cin * OB + p->nob * OB);
}

/* U = G g G^T of 64 kernels (g[k][m]: tap k of output channel m) into
 * u[4a + b][m], in double; m innermost, a whole 64, so that it vectorises
 * (W7's packing, one kernel at a time and scalar: 48-60 ms; so: 26-29).
 * No contraction into FMAs (ISO C): the bits of the scalar code. */
static const double wg_G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};

static CK_TARGET void wg_kernels(double g[9][64], double u[16][64])
{
    double t[4][3][64];
    for (int a = 0; a < 4; a++)
        for (int j = 0; j < 3; j++)
            for (int m = 0; m < 64; m++)
                t[a][j][m] = wg_G[a][0] * g[j][m] + wg_G[a][1] * g[3 + j][m] + wg_G[a][2] * g[6 + j][m];
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            for (int m = 0; m < 64; m++)
                u[4 * a + b][m] = t[a][0][m] * wg_G[b][0] + t[a][1][m] * wg_G[b][1] + t[a][2][m] * wg_G[b][2];
}

static CK_TARGET void wg_pack_fill(wg_pack *pk, const ck_conv *c, const wg_plan *p, const float *W, const float *bias)
{
    int64_t OB = 16 * p->no, cin = c->cin;
    pk->level = pk->mr = -1;
    pk->kind = CK_WG;
    pk->no = p->no;
    pk->cin = cin;
    pk->nob = p->nob;
    pk->u = (float *)(((uintptr_t)(pk + 1) + 63) & ~(uintptr_t)63);
    pk->b = pk->u + (size_t)(p->nob * 16 * cin * OB);
    double g[9][64] = {{0}}, u[16][64];
    for (int64_t ob = 0; ob < p->nob; ob++) {
        for (int64_t ci = 0; ci < cin; ci++) {
            for (int64_t m = 0; m < OB; m++) {
                int64_t o = ob * OB + m;
                for (int k = 0; k < 9; k++)
                    g[k][m] = o < c->cout ? W[(o * cin + ci) * 9 + k] : 0.0;
            }
            wg_kernels(g, u);
            for (int q = 0; q < 16; q++)
                for (int64_t m = 0; m < OB; m++)
                    pk->u[((ob * 16 + q) * cin + ci) * OB + m] = (float)u[q][m];
        }
        for (int64_t m = 0; m < OB; m++) {
            int64_t o = ob * OB + m;
            pk->b[ob * OB + m] = o < c->cout && bias ? bias[o] : 0.0f;
        }
    }
}

static CK_UNUSED wg_pack *wg_packed(const ck_conv *c, const wg_plan *p, const float *W, const float *bias,
                                    sr_ctx *ctx, void **own)
{
    wg_pack *pk = ctx->cache ? *ctx->cache : NULL;
    if (pk && pk->level == -1 && pk->kind == CK_WG && pk->no == p->no && pk->cin == c->cin)
        return pk;
    pk = ck_alloc(sizeof(wg_pack) + 64 + wg_pack_floats(c, p) * sizeof(float));
    if (!pk)
        return NULL;
    wg_pack_fill(pk, c, p, W, bias);
    ck_keep(ctx, pk, own);
    return pk;
}

int ck_wg_prepare(const ck_conv *c, const float *W, const float *bias, sr_ctx *ctx)
{
#ifdef CK_X86
    ck_lay l;
    wg_plan p;
    ck_lay_get(c, &l);
    wg_plan_get(c, &l, 1, &p);
    return ctx->cache && !wg_packed(c, &p, W, bias, ctx, NULL) ? -1 : 0;
#else
    (void)c, (void)W, (void)bias, (void)ctx;
    return 0;
#endif
}

/* Per thread (wg_at): the padded block, V, M, the zero biases, a tile
 * row's outputs and their runs, the tiles' offsets. */
static size_t wg_area(const ck_conv *c, const ck_lay *l, const wg_plan *p)
{
    int64_t OB = 16 * p->no;
    size_t a = (size_t)(p->nb * l->SS + CK_SLACK + 16) / 16 * 16;
    a += (size_t)(16 * c->cin * p->T) + 16;
    a += (size_t)(16 * p->T * OB + p->rows * OB) + 16;
    a += (size_t)OB + 16;
    a += (size_t)(2 * c->ow * OB) + (size_t)(2 * c->ow + 1) * (sizeof(ck_run) / sizeof(float)) + 16;
    a += (size_t)p->T + 16;
    return a;
}

/* Shared: the channel offsets in V (cin int64) and their indices (cin int32). */
static size_t wg_shared(const ck_conv *c) { return (size_t)(3 * c->cin + 16) / 16 * 16 + 16; }

size_t ck_wg_workspace(const ck_conv *c)
{
    ck_lay l;
    wg_plan p;
    ck_lay_get(c, &l);
    wg_plan_get(c, &l, 0, &p);
    return wg_shared(c) + wg_area(c, &l, &p) + 16;
}

#ifdef CK_X86
typedef struct {
    const ck_conv *c;
    const ck_lay *l;
    const wg_plan *p;
    const wg_pack *pk;
    const float *x;
    float *y;
    const int64_t *taps;    /* channel ci's offset in V: ci * T */
    const int32_t *idx;     /* 0 .. cin - 1 */
    float *work;
    size_t area;
    sr_ctx *ctx;
    const sr_layout *lay;
    int laid_out;
    int64_t nbr;            /* ranges of output blocks per sample block */
    int pre;                /* blocks padded and transformed before the tasks, block b in thread b's area */
    ck_rowpad rp;
} wg_job;

/*
 * The block's patches into V [16][cin][T]: V = B^T d B, B^T = [1 0 -1 0;
 * 0 1 1 0; 0 -1 1 0; 0 1 0 -1].  Tile t = (sample, ty, tx) in that order
 * reads padded rows 2 ty .. 2 ty + 3, columns 2 tx .. 2 tx + 3: 16 tiles
 * at a time, each patch element one gather (off: the tiles' offsets in
 * a channel, T int32s, which it writes), input channels ci0 .. ci1.
 */
static CK_TARGET void wg_input(const wg_job *J, const float *xb, int64_t nn, float *V, int32_t *off, int64_t ci0,
                               int64_t ci1)
{
    const ck_conv *c = J->c;
    const ck_lay *l = J->l;
    const wg_plan *p = J->p;
    int64_t T = p->T, plane = c->cin * T, tiles = nn * p->tps;
    for (int64_t t = 0; t < tiles; t++) {
        int64_t n = t / p->tps, r = t % p->tps;
        off[t] = (int32_t)(n * l->SS + 2 * (r / p->tw) * l->RS + 2 * (r % p->tw));
    }
    for (int64_t t0 = 0; t0 < tiles; t0 += 16) {
        __mmask16 m = (__mmask16)(tiles - t0 >= 16 ? 0xffff : (1u << (tiles - t0)) - 1);
        __m512i vo = _mm512_maskz_loadu_epi32(m, off + t0);
        for (int64_t ci = ci0; ci < ci1; ci++) {
            const float *pc = xb + ci * l->PS;
            __m512 t[4][4];
            for (int j = 0; j < 4; j++) {
                __m512 d[4];
                for (int i = 0; i < 4; i++)
                    d[i] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, vo, pc + i * l->RS + j, 4);
                t[0][j] = _mm512_sub_ps(d[0], d[2]);
                t[1][j] = _mm512_add_ps(d[1], d[2]);
                t[2][j] = _mm512_sub_ps(d[2], d[1]);
                t[3][j] = _mm512_sub_ps(d[1], d[3]);
            }
            float *dst = V + ci * T + t0;
            for (int a = 0; a < 4; a++) {
                _mm512_mask_storeu_ps(dst + (4 * a) * plane, m, _mm512_sub_ps(t[a][0], t[a][2]));
                _mm512_mask_storeu_ps(dst + (4 * a + 1) * plane, m, _mm512_add_ps(t[a][1], t[a][2]));
                _mm512_mask_storeu_ps(dst + (4 * a + 2) * plane, m, _mm512_sub_ps(t[a][2], t[a][1]));
                _mm512_mask_storeu_ps(dst + (4 * a + 3) * plane, m, _mm512_sub_ps(t[a][1], t[a][3]));
            }
        }
    }
}

/* Tile row ty of sample n (n0 + n in the call) of output block ob out:
 * each tile's 16 positions through Y = A^T M A, A^T = [1 1 1 0; 0 1 -1
 * -1], plus the bias, into S [pixel][OB] (the two output rows' pixels in
 * order), the activation over it, then out through ck_store. */
static CK_TARGET void wg_output(const wg_job *J, const float *M, int64_t n, int64_t ty, int64_t n0, int64_t ob,
                                float *S, ck_run *ru)
{
    const wg_plan *p = J->p;
    int64_t OB = 16 * p->no, T = p->T, o0 = ob * OB, ov = p->og - o0 < OB ? p->og - o0 : OB, ow = J->c->ow;
    int64_t cstride = J->lay ? J->lay->chan : J->c->oh * J->c->ow, t0 = n * p->tps + ty * p->tw;
    for (int64_t tx = 0; tx < p->tw; tx++)
        for (int v = 0; v < p->no; v++) {
            __m512 m[16], s[2][4];
            for (int q = 0; q < 16; q++)
                m[q] = _mm512_load_ps(M + (q * T + t0 + tx) * OB + 16 * v);
            for (int j = 0; j < 4; j++) {
                s[0][j] = _mm512_add_ps(_mm512_add_ps(m[j], m[4 + j]), m[8 + j]);
                s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m[4 + j], m[8 + j]), m[12 + j]);
            }
            __m512 b = _mm512_load_ps(J->pk->b + ob * OB + 16 * v);
            for (int i = 0; i < 2; i++) {
                __m512 y0 = _mm512_add_ps(_mm512_add_ps(s[i][0], s[i][1]), s[i][2]);
                __m512 y1 = _mm512_sub_ps(_mm512_sub_ps(s[i][1], s[i][2]), s[i][3]);
                float *d = S + (i * ow + 2 * tx) * OB + 16 * v;
                _mm512_store_ps(d, _mm512_add_ps(b, y0));
                _mm512_store_ps(d + OB, _mm512_add_ps(b, y1));
            }
        }
    sr_post(J->ctx, S, (size_t)(2 * ow * OB));
    int64_t nr = 0, prev = -2;
    for (int64_t r = 0; r < 2 * ow; r++)
        nr = ck_run_add(ru, nr, r, ck_out_at(J->c, J->lay, n0 + n, 2 * ty + r / ow, r % ow), &prev);
    ck_store(S, 2 * ow, OB, ov, ru, nr, J->y + o0 * cstride, cstride);
}

/* A thread's area: the padded block, V, M (with a tile group's slack), the
 * zero biases, a tile row's outputs and their runs, the tiles' offsets. */
typedef struct {
    float *xp, *V, *M, *zero, *S;
    ck_run *ru;
    int32_t *off;
} wg_at;

static wg_at wg_area_of(const wg_job *J, int64_t t)
{
    const wg_plan *p = J->p;
    int64_t OB = 16 * p->no;
    wg_at a;
    a.xp = (float *)(((uintptr_t)(J->work + (size_t)t * J->area) + 63) & ~(uintptr_t)63);
    a.V = a.xp + (size_t)(p->nb * J->l->SS + CK_SLACK + 16) / 16 * 16;
    a.M = (float *)(((uintptr_t)(a.V + (size_t)(16 * J->c->cin * p->T) + 16) + 63) & ~(uintptr_t)63);
    a.zero = (float *)(((uintptr_t)(a.M + (size_t)(16 * p->T * OB + p->rows * OB) + 16) + 63) & ~(uintptr_t)63);
    a.S = a.zero + OB;
    a.ru = (ck_run *)(a.S + 2 * J->c->ow * OB);
    a.off = (int32_t *)(a.ru + 2 * J->c->ow + 1);
    return a;
}

/* Samples n0 .. n1 of block blk's padded input, at a.xp (none when the
 * layer before laid them out); where the block's input is. */
static const float *wg_pad(const wg_job *J, int64_t blk, int64_t n0, int64_t n1, const wg_at *a)
{
    const ck_conv *c = J->c;
    int64_t b0 = blk * J->p->nb;
    if (J->laid_out)
        return J->x + b0 * J->l->SS;
    for (int64_t n = n0; n < n1; n++)
        ck_pad_sample(c, J->l, &J->rp, J->x + n * c->cin * c->h * c->w, a->xp + (n - b0) * J->l->SS);
    return a->xp;
}

/*
 * With fewer sample blocks than threads, every task of a block (a range
 * of output channels) would pad and transform the whole block for itself:
 * these do it once, spread over the threads, into the block's place in
 * thread blk's area (as conv_oc16.c's oc_prepad): sample `task` padded,
 * then part task % nbr of block task / nbr's input channels transformed.
 */
static void wg_prepad(void *arg, int64_t task, int tid)
{
    const wg_job *J = arg;
    int64_t blk = task / J->p->nb;
    wg_at h = wg_area_of(J, blk);
    wg_pad(J, blk, task, task + 1, &h);
    (void)tid;
}

static void wg_pretransform(void *arg, int64_t task, int tid)
{
    const wg_job *J = arg;
    const ck_conv *c = J->c;
    int64_t blk = task / J->nbr, k = task % J->nbr, n0 = blk * J->p->nb;
    int64_t nn = J->p->nb < c->n - n0 ? J->p->nb : c->n - n0;
    wg_at h = wg_area_of(J, blk), own = wg_area_of(J, tid);
    const float *xb = J->laid_out ? J->x + n0 * J->l->SS : h.xp;
    wg_input(J, xb, nn, h.V, own.off, k * c->cin / J->nbr, (k + 1) * c->cin / J->nbr);
}

static void wg_task(void *arg, int64_t task, int tid)
{
    const wg_job *J = arg;
    const ck_conv *c = J->c;
    const wg_plan *p = J->p;
    const wg_pack *pk = J->pk;
    int64_t blk = task / J->nbr, br = task % J->nbr;
    int64_t n0 = blk * p->nb, n1 = n0 + p->nb < c->n ? n0 + p->nb : c->n;
    wg_at a = wg_area_of(J, tid);
    const float *V = a.V;
    if (J->pre) {
        V = wg_area_of(J, blk).V;
    } else {
        const float *xb = wg_pad(J, blk, n0, n1, &a);
        wg_input(J, xb, n1 - n0, a.V, a.off, 0, c->cin);
    }
    int64_t OB = 16 * p->no, T = p->T, cin = c->cin;
    float *M = a.M, *zero = a.zero, *S = a.S;
    ck_run *ru = a.ru;
    memset(zero, 0, (size_t)OB * sizeof *zero);
    int64_t tiles = (n1 - n0) * p->tps;
    int rows = p->rows;
    ck_tile_fn fn = ck_tile_pick(p->no, rows, 1);
    int64_t ob0 = br * p->nob / J->nbr, ob1 = (br + 1) * p->nob / J->nbr;
    for (int64_t ob = ob0; ob < ob1; ob++) {
        for (int q = 0; q < 16; q++) {
            const float *U = pk->u + (size_t)((ob * 16 + q) * cin * OB);
            for (int64_t c0 = 0; c0 < cin; c0 += p->cb) {
                int64_t c1 = c0 + p->cb < cin ? c0 + p->cb : cin;
                for (int64_t t = 0; t < tiles; t += rows) {
                    int64_t sin[8];
                    for (int r = 0; r < rows; r++)
                        sin[r] = q * cin * T + (t + r < tiles ? t + r : t); /* past the end: the first again */
                    fn(V, sin, J->taps, J->idx, c0, c1, U, zero, M + (q * T + t) * OB, c0 == 0);
                }
            }
        }
        for (int64_t n = 0; n < n1 - n0; n++)
            for (int64_t ty = 0; ty < p->th; ty++)
                wg_output(J, M, n, ty, n0, ob, S, ru);
    }
}
#endif

int ck_wg_forward(const ck_conv *c, const float *W, const float *bias, const float *x, float *y, sr_ctx *ctx)
{
#ifdef CK_X86
    ck_lay l;
    wg_plan p;
    ck_lay_get(c, &l);
    wg_plan_get(c, &l, ctx->threads, &p);
    void *own = NULL;
    const wg_pack *pk = wg_packed(c, &p, W, bias, ctx, &own);
    if (!pk)
        return -1;
    int64_t *taps = (int64_t *)ctx->work;
    int32_t *idx = (int32_t *)(taps + c->cin);
    for (int64_t ci = 0; ci < c->cin; ci++) {
        taps[ci] = ci * p.T;
        idx[ci] = (int32_t)ci;
    }
    wg_job J = {.c = c, .l = &l, .p = &p, .pk = pk, .x = x, .y = y, .taps = taps, .idx = idx,
                .work = ctx->work + wg_shared(c), .area = wg_area(c, &l, &p) + 16, .ctx = ctx,
                .lay = ctx->out_layout, .laid_out = ctx->in_laid_out, .nbr = 1};
    ck_pad_init(&J.rp, c, &l);
    if (J.laid_out)
        for (int64_t n = 0; n < c->n; n++)
            ck_pad_borders(c, &l, (float *)x + n * l.SS);
    int64_t blocks = (c->n + p.nb - 1) / p.nb;
    J.nbr = ck_ranges(ctx, blocks, p.nob);
    J.pre = J.nbr > 1;
    if (J.pre) {
        if (!J.laid_out)
            ck_par(ctx, c->n, wg_prepad, &J);
        ck_par(ctx, blocks * J.nbr, wg_pretransform, &J);
    }
    ck_par(ctx, blocks * J.nbr, wg_task, &J);
    free(own);
    return 0;
#else
    (void)c, (void)W, (void)bias, (void)x, (void)y, (void)ctx;
    return -1;
#endif
}
