/*
 * fold.c - Unfold (im2col) and Fold (col2im).
 *
 * Unfold: (N, C, H, W) or unbatched (C, H, W) -> (N, C*kh*kw, L) or
 * (C*kh*kw, L), L = blocks_h * blocks_w; row c*kh*kw + i*kw + j of block
 * (bh, bw) is x[c, bh*sh - ph + i*dh, bw*sw - pw + j*dw], 0 in the padding.
 * Fold sums such blocks back into (N, C, H, W) / (C, H, W) of output_size.
 * Shape checks and block counts are ATen's im2col_shape_check and
 * col2im_shape_check (PyTorch 1.13: block counts by floor division, which
 * matters when a window is one larger than the padded input), with each of
 * their errors turned into a located diagnostic with a hint.  Fold adds
 * each output pixel's contributions in ATen's order (kernel offset (i, j)
 * ascending), in float, so its bits are PyTorch's.
 */
#include "layers.h"
#include "../par.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FOLD_ARG_MAX (1 << 30)

enum { UNFOLD_KERNEL, UNFOLD_DIL, UNFOLD_PAD, UNFOLD_STRIDE };
enum { FOLD_OUT, FOLD_KERNEL, FOLD_DIL, FOLD_PAD, FOLD_STRIDE };
enum { V_UNFOLD, V_FOLD }; /* the rows' variant */

typedef struct {
    int64_t o[2];         /* Fold's output_size */
    int64_t k[2], d[2], p[2], s[2];
} fold_cfg;

static const char *pair(const int64_t *v, char *buf, size_t len)
{
    snprintf(buf, len, "(%lld, %lld)", (long long)v[0], (long long)v[1]);
    return buf;
}

SR_VALIDATE_FN(fold_validate)
{
    fold_cfg *c = L->cfg;
    memset(c, 0, sizeof *c);
    int f = L->type->variant == V_FOLD, b = f ? FOLD_KERNEL : UNFOLD_KERNEL;
    if (f)
        sr_arg_tuple(L, FOLD_OUT, 2, c->o);
    sr_arg_tuple(L, b, 2, c->k);
    sr_arg_tuple(L, b + 1, 2, c->d);
    sr_arg_tuple(L, b + 2, 2, c->p);
    sr_arg_tuple(L, b + 3, 2, c->s);
    char a[80];
    if (c->k[0] <= 0 || c->k[1] <= 0)
        return sr_err(err, SR_EUSAGE, "kernel size should be greater than zero, but got kernel_size=%s",
                      pair(c->k, a, sizeof a));
    if (c->s[0] <= 0 || c->s[1] <= 0)
        return sr_err(err, SR_EUSAGE, "stride should be greater than zero, but got stride=%s", pair(c->s, a, sizeof a));
    if (c->d[0] <= 0 || c->d[1] <= 0)
        return sr_err(err, SR_EUSAGE, "dilation should be greater than zero, but got dilation=%s",
                      pair(c->d, a, sizeof a));
    if (c->p[0] < 0 || c->p[1] < 0)
        return sr_err(err, SR_EUSAGE, "padding should be non-negative, but got padding=%s", pair(c->p, a, sizeof a));
    for (int i = 0; i < 2; i++)
        if (c->k[i] > FOLD_ARG_MAX || c->d[i] > FOLD_ARG_MAX || c->p[i] > FOLD_ARG_MAX || c->s[i] > FOLD_ARG_MAX ||
            c->o[i] > FOLD_ARG_MAX)
            return sr_err(err, SR_EUSAGE, "output_size, kernel_size, dilation, padding and stride must be at most %d",
                          FOLD_ARG_MAX);
    /* PyTorch 1.13 builds an empty image for these; later versions reject
     * them ("Expected output spatial size to be positive") */
    if (f && (c->o[0] < 1 || c->o[1] < 1))
        return sr_err(err, SR_EUSAGE, "Expected output spatial size to be positive, but got output_size=%s; hint: "
                      "output_size is the (H, W) of the image the blocks came from", pair(c->o, a, sizeof a));
    return SR_OK;
}

/* floor division, as ATen's div_rtn */
static int64_t floordiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* Sliding blocks along one dimension of size n. */
static int64_t blocks(const fold_cfg *c, int i, int64_t n)
{
    return floordiv(n + 2 * c->p[i] - (c->d[i] * (c->k[i] - 1) + 1), c->s[i]) + 1;
}

/* The smallest size with one block: n + 2p - d(k-1) - 1 > -s. */
static int64_t min_size(const fold_cfg *c, int i)
{
    int64_t need = c->d[i] * (c->k[i] - 1) + 2 - 2 * c->p[i] - c->s[i];
    return need > 1 ? need : 1;
}

SR_SHAPE_FN(unfold_shape)
{
    const fold_cfg *c = SR_CFG(L, fold_cfg);
    char src[256], a[80], b[80], e[80], f[80], g[80];
    if (in->ndim != 3 && in->ndim != 4) {
        const char *hint = in->ndim == 5 ? "Unfold takes 2-D images only (PyTorch 1.13 has no 3-D im2col)"
                         : in->ndim < 3 ? "restore the channel and spatial dimensions with Unflatten before this layer"
                                        : "give it (C, H, W) or (N, C, H, W) data";
        return sr_err(err, SR_ESHAPE, "Unfold expects a 3-D (C, H, W) or 4-D (N, C, H, W) input, but input %s%s is "
                      "%d-D; hint: %s", sr_shp(in), sr_from(info, 1, src, sizeof src), in->ndim, hint);
    }
    for (int i = in->ndim - 3; i < in->ndim; i++)
        if (in->d[i] == 0)
            return sr_err(err, SR_ESHAPE, "Unfold needs non-empty channel and spatial dimensions, but input %s%s has "
                          "size 0 in dimension %d; hint: check the layers before it", sr_shp(in),
                          sr_from(info, 1, src, sizeof src), i);
    int64_t H = in->d[in->ndim - 2], W = in->d[in->ndim - 1];
    int64_t bh = blocks(c, 0, H), bw = blocks(c, 1, W), C = in->d[in->ndim - 3];
    info->batch_dim0 = in->ndim == 4;
    int64_t kk, rows, L_;
    if (__builtin_mul_overflow(c->k[0], c->k[1], &kk) || __builtin_mul_overflow(C, kk, &rows) ||
        __builtin_mul_overflow(bh > 0 ? bh : 0, bw > 0 ? bw : 0, &L_))
        return sr_err(err, SR_ESHAPE, "Unfold's output for input %s%s would have more than 2^63 elements; hint: use "
                      "a smaller kernel_size", sr_shp(in), sr_from(info, 1, src, sizeof src));
    if (in->ndim == 4)
        *out = sr_shape_make(3, (int64_t[]){in->d[0], rows, L_});
    else
        *out = sr_shape_make(2, (int64_t[]){rows, L_});
    info->out_known = bh >= 1 && bw >= 1;
    if (info->out_known)
        return SR_OK;
    int64_t isz[2] = {H, W}, nb[2] = {bh, bw}, need[2] = {min_size(c, 0), min_size(c, 1)};
    return sr_err(err, SR_ESHAPE, "input %s%s has spatial size %s, too small for kernel_size=%s with dilation=%s and "
                  "padding=%s: the array of sliding blocks would be %s, but its components must be at least one; "
                  "hint: Unfold fits inputs of at least %lldx%lld here: remove a downsampling step before it, or use "
                  "a smaller kernel_size or more padding", sr_shp(in), sr_from(info, 1, src, sizeof src),
                  pair(isz, a, sizeof a), pair(c->k, b, sizeof b), pair(c->d, e, sizeof e), pair(c->p, f, sizeof f),
                  pair(nb, g, sizeof g), (long long)need[0], (long long)need[1]);
}

SR_SHAPE_FN(fold_shape)
{
    const fold_cfg *c = SR_CFG(L, fold_cfg);
    char src[256], a[80], b[80], e[80], f[80], g[80];
    int64_t kk = c->k[0] * c->k[1];
    int64_t bh = blocks(c, 0, c->o[0]), bw = blocks(c, 1, c->o[1]);
    /* a guess for the layers after it, whatever is wrong here */
    int bat = in->ndim == 3;
    int64_t C = in->ndim >= 2 ? in->d[in->ndim - 2] / kk : 1;
    if (bat)
        *out = sr_shape_make(4, (int64_t[]){in->d[0], C, c->o[0], c->o[1]});
    else
        *out = sr_shape_make(3, (int64_t[]){C, c->o[0], c->o[1]});
    info->batch_dim0 = bat;
    if (in->ndim != 2 && in->ndim != 3) {
        const char *hint = in->ndim == 4 ? "Fold takes blocks as Unfold makes them, (N, C*kh*kw, L); an image batch "
                                           "needs Unfold first, or Flatten(2) for blocks laid out as (N, C*kh*kw, "
                                           "bh, bw)"
                                         : "give it (C*kh*kw, L) or (N, C*kh*kw, L) blocks";
        return sr_err(err, SR_ESHAPE, "Fold expects a 2-D (C*kh*kw, L) or 3-D (N, C*kh*kw, L) input, but input %s%s "
                      "is %d-D; hint: %s", sr_shp(in), sr_from(info, 1, src, sizeof src), in->ndim, hint);
    }
    info->out_known = 1;
    for (int i = in->ndim - 2; i < in->ndim; i++)
        if (in->d[i] == 0)
            return sr_err(err, SR_ESHAPE, "Fold needs non-empty block dimensions, but input %s%s has size 0 in "
                          "dimension %d; hint: check the layers before it", sr_shp(in),
                          sr_from(info, 1, src, sizeof src), i);
    int64_t rows = in->d[in->ndim - 2], len = in->d[in->ndim - 1];
    if (rows % kk != 0) {
        int64_t lo = rows / kk * kk, hi = lo + kk;
        char alt[96] = "";
        if (lo > 0)
            snprintf(alt, sizeof alt, "%lld (C=%lld) or ", (long long)lo, (long long)(lo / kk));
        return sr_err(err, SR_ESHAPE, "expected size of input's dimension %d to be divisible by the product of "
                      "kernel_size, but input %s%s has %lld there and kernel_size=%s (product %lld); hint: the layer "
                      "before should give C*%lld rows, e.g. %s%lld (C=%lld), or set kernel_size to the one the "
                      "blocks were made with", in->ndim - 2, sr_shp(in), sr_from(info, 1, src, sizeof src),
                      (long long)rows, pair(c->k, a, sizeof a), (long long)kk, (long long)kk, alt, (long long)hi,
                      (long long)(hi / kk));
    }
    if (bh < 1 || bw < 1) {
        int64_t nb[2] = {bh, bw}, need[2] = {min_size(c, 0), min_size(c, 1)};
        info->out_known = 1;
        return sr_err(err, SR_ESHAPE, "output_size=%s with kernel_size=%s, dilation=%s and padding=%s gives an array "
                      "of sliding blocks of %s, which is too small (non-positive); hint: output_size should be at "
                      "least (%lld, %lld) here", pair(c->o, a, sizeof a), pair(c->k, b, sizeof b),
                      pair(c->d, e, sizeof e), pair(c->p, f, sizeof f), pair(nb, g, sizeof g), (long long)need[0],
                      (long long)need[1]);
    }
    int64_t nblk;
    if (__builtin_mul_overflow(bh, bw, &nblk))
        nblk = -1;
    if (len != nblk) {
        char sq[200] = "";
        /* blocks from a square image: name its size if L is a square count */
        int64_t r = (int64_t)sqrt((double)len);
        while (r > 0 && r * r > len)
            r--;
        while ((r + 1) * (r + 1) <= len)
            r++;
        if (r * r == len && c->k[0] == c->k[1] && c->d[0] == c->d[1] && c->p[0] == c->p[1] && c->s[0] == c->s[1]) {
            int64_t lo = (r - 1) * c->s[0] + c->d[0] * (c->k[0] - 1) + 1 - 2 * c->p[0];
            if (lo >= 1) {
                int64_t hi = lo + c->s[0] - 1;
                if (hi == lo)
                    snprintf(sq, sizeof sq, " (%lld = %lldx%lld blocks come from a %lldx%lld image)", (long long)len,
                             (long long)r, (long long)r, (long long)lo, (long long)lo);
                else
                    snprintf(sq, sizeof sq, " (%lld = %lldx%lld blocks come from an image of %lld to %lld square)",
                             (long long)len, (long long)r, (long long)r, (long long)lo, (long long)hi);
            }
        }
        return sr_err(err, SR_ESHAPE, "output_size=%s with kernel_size=%s, dilation=%s, padding=%s and stride=%s "
                      "makes %lld x %lld = %lld sliding blocks, but input %s%s has %lld in dimension %d; hint: set "
                      "output_size to the spatial size of the image the blocks were unfolded from%s",
                      pair(c->o, a, sizeof a), pair(c->k, b, sizeof b), pair(c->d, e, sizeof e),
                      pair(c->p, f, sizeof f), pair(c->s, g, sizeof g), (long long)bh, (long long)bw,
                      (long long)nblk, sr_shp(in), sr_from(info, 1, src, sizeof src), (long long)len,
                      in->ndim - 1, sq);
    }
    return SR_OK;
}

/* Columns [lo, hi) of blocks whose tap at offset off (= j*d - p) lands in
 * [0, W): 0 <= b*s + off < W. */
static void tap_range(int64_t off, int64_t s, int64_t W, int64_t B, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = W - off <= 0 ? 0 : (W - off - 1) / s + 1;
    *lo = a < B ? a : B;
    *hi = b < B ? b : B;
    if (*hi < *lo)
        *hi = *lo;
}

/* y[b] = row[b*s + off] for b in [lo, hi) */
static SR_VEC_VOID(gather_taps, (float *y, const float *row, int64_t off, int64_t lo, int64_t hi, int64_t s),
                   (y, row, off, lo, hi, s))
{
    for (int64_t b = lo; b < hi; b++)
        y[b] = row[b * s + off];
}

/* row[b*s + off] += y[b] for b in [lo, hi): one kernel offset's blocks
 * never overlap (s >= 1), so this vectorises */
static SR_VEC_VOID(scatter_taps, (float *row, const float *y, int64_t off, int64_t lo, int64_t hi, int64_t s),
                   (row, y, off, lo, hi, s))
{
    for (int64_t b = lo; b < hi; b++)
        row[b * s + off] += y[b];
}

typedef struct {
    const fold_cfg *c;
    const float *x;
    float *y;
    int64_t H, W, bh, bw;  /* image size, blocks */
} fold_job;

/* Unfold of one (sample, channel) plane: its kh*kw rows of the output. */
static void unfold_plane(void *arg, int64_t q, int tid)
{
    (void)tid;
    const fold_job *J = arg;
    const fold_cfg *c = J->c;
    int64_t H = J->H, W = J->W, L_ = J->bh * J->bw, kk = c->k[0] * c->k[1];
    const float *x = J->x + q * H * W;
    float *y = J->y + q * kk * L_;
    for (int64_t i = 0; i < c->k[0]; i++) {
        for (int64_t j = 0; j < c->k[1]; j++) {
            float *yr = y + (i * c->k[1] + j) * L_;
            int64_t off = j * c->d[1] - c->p[1], lo, hi;
            tap_range(off, c->s[1], W, J->bw, &lo, &hi);
            for (int64_t bh = 0; bh < J->bh; bh++) {
                float *yb = yr + bh * J->bw;
                int64_t h = bh * c->s[0] - c->p[0] + i * c->d[0];
                if (h < 0 || h >= H) {
                    memset(yb, 0, (size_t)J->bw * sizeof *yb);
                    continue;
                }
                if (lo > 0)
                    memset(yb, 0, (size_t)lo * sizeof *yb);
                gather_taps(yb, x + h * W, off, lo, hi, c->s[1]);
                if (hi < J->bw)
                    memset(yb + hi, 0, (size_t)(J->bw - hi) * sizeof *yb);
            }
        }
    }
}

/* Fold into one (sample, channel) plane, from its kh*kw rows of the input,
 * offsets in ascending order as ATen's col2im adds them. */
static void fold_plane(void *arg, int64_t q, int tid)
{
    (void)tid;
    const fold_job *J = arg;
    const fold_cfg *c = J->c;
    int64_t H = J->H, W = J->W, L_ = J->bh * J->bw, kk = c->k[0] * c->k[1];
    const float *x = J->x + q * kk * L_;
    float *y = J->y + q * H * W;
    memset(y, 0, (size_t)(H * W) * sizeof *y);
    for (int64_t i = 0; i < c->k[0]; i++) {
        for (int64_t j = 0; j < c->k[1]; j++) {
            const float *xr = x + (i * c->k[1] + j) * L_;
            int64_t off = j * c->d[1] - c->p[1], lo, hi;
            tap_range(off, c->s[1], W, J->bw, &lo, &hi);
            for (int64_t bh = 0; bh < J->bh; bh++) {
                int64_t h = bh * c->s[0] - c->p[0] + i * c->d[0];
                if (h >= 0 && h < H)
                    scatter_taps(y + h * W, xr + bh * J->bw, off, lo, hi, c->s[1]);
            }
        }
    }
}

#define FOLD_PAR_FLOATS ((int64_t)1 << 16)

static void run_planes(int64_t planes, int64_t work, const sr_ctx *ctx, void (*fn)(void *, int64_t, int), void *J)
{
    int threads = work >= FOLD_PAR_FLOATS && ctx->threads > 1 ? ctx->threads : 1;
    if (threads > planes)
        threads = (int)planes;
    sr_par_for(threads, planes, fn, J);
}

SR_FORWARD_FN(unfold_forward)
{
    (void)err;
    const fold_cfg *c = SR_CFG(L, fold_cfg);
    const sr_shape *is = &in->shape;
    fold_job J = {.c = c, .x = sr_f32(in), .y = sr_f32(out), .H = is->d[is->ndim - 2], .W = is->d[is->ndim - 1]};
    J.bh = blocks(c, 0, J.H);
    J.bw = blocks(c, 1, J.W);
    int64_t planes = sr_prod(is, 0, is->ndim - 2);
    if (planes <= 0 || sr_shape_numel(&out->shape) <= 0)
        return SR_OK;
    run_planes(planes, sr_shape_numel(&out->shape), ctx, unfold_plane, &J);
    return SR_OK;
}

SR_FORWARD_FN(fold_forward)
{
    (void)err;
    const fold_cfg *c = SR_CFG(L, fold_cfg);
    fold_job J = {.c = c, .x = sr_f32(in), .y = sr_f32(out), .H = c->o[0], .W = c->o[1]};
    J.bh = blocks(c, 0, J.H);
    J.bw = blocks(c, 1, J.W);
    const sr_shape *os = &out->shape;
    int64_t planes = sr_prod(os, 0, os->ndim - 2);
    if (planes <= 0 || sr_shape_numel(os) <= 0)
        return SR_OK;
    run_planes(planes, sr_shape_numel(&in->shape), ctx, fold_plane, &J);
    return SR_OK;
}

/* ---- rows ----------------------------------------------------------------- */

static const sr_argdef a_fold[] = {
    {"output_size", T_T, NULL, NULL, 2},
    {"kernel_size", T_T, NULL, NULL, 2},
    {"dilation", T_T, "1", NULL, 2},
    {"padding", T_T, "0", NULL, 2},
    {"stride", T_T, "1", NULL, 2},
};
static const sr_argdef a_unfold[] = {
    {"kernel_size", T_T, NULL, NULL, 2},
    {"dilation", T_T, "1", NULL, 2},
    {"padding", T_T, "0", NULL, 2},
    {"stride", T_T, "1", NULL, 2},
};

SR_ROW(Fold, .summary = "sums sliding blocks (N, C*kh*kw, L) into an image (N, C, H, W) (col2im)", SR_ARGS(a_fold),
       .repr = "output_size=, kernel_size=, dilation=, padding=, stride=", .variant = V_FOLD,
       .cfg_size = sizeof(fold_cfg), .validate = fold_validate, .shape = fold_shape, .forward = fold_forward);
SR_ROW(Unfold, .summary = "extracts sliding blocks of (N, C, H, W) as columns (N, C*kh*kw, L) (im2col)",
       SR_ARGS(a_unfold), .repr = "kernel_size=, dilation=, padding=, stride=", .variant = V_UNFOLD,
       .cfg_size = sizeof(fold_cfg), .validate = fold_validate, .shape = unfold_shape, .forward = unfold_forward);
