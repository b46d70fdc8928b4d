/*
 * resample_shuffle.c - PixelShuffle, PixelUnshuffle, ChannelShuffle.
 *
 * PixelShuffle, PixelUnshuffle and ChannelShuffle are pure copies, row by
 * row: their inner loops interleave, de-interleave or memcpy, with no
 * index division per element.  One deliberate difference: torch 1.13's
 * pixel_unshuffle returns an empty input unchanged ([0, 2, 4, 4] stays
 * [0, 2, 4, 4]); here an empty batch gets the shape any other batch gets
 * ([0, 8, 2, 2]), so the layers after it check and run the same.
 */
#include "layers.h"
#include "../par.h"

#include <stdio.h>
#include <string.h>

/* ---- PixelShuffle, PixelUnshuffle ------------------------------------------------ */

enum { PS_FACTOR };
enum { PSV_SHUFFLE, PSV_UNSHUFFLE };
#define PS_MAX_FACTOR (1 << 15)
/* Below this many output floats a shuffle runs on one thread (Upsample's
 * threshold too). */
#define PS_PAR_FLOATS (1 << 16)

static SR_VALIDATE_FN(ps_validate)
{
    int64_t r = sr_argi(L, PS_FACTOR);
    const char *what = L->type->variant == PSV_SHUFFLE ? "upscale_factor" : "downscale_factor";
    if (r <= 0)
        return sr_err(err, SR_EUSAGE, "%s expects a positive %s, but got %lld; hint: %s: 2 %s height and width",
                      L->type->name, what, (long long)r, what,
                      L->type->variant == PSV_SHUFFLE ? "doubles" : "halves");
    if (r > PS_MAX_FACTOR)
        return sr_err(err, SR_EUSAGE, "%s must be at most %d, got %lld; hint: use a smaller factor", what,
                      PS_MAX_FACTOR, (long long)r);
    return SR_OK;
}

static SR_SHAPE_FN(ps_shape)
{
    int64_t r = sr_argi(L, PS_FACTOR), rr = r * r;
    int shuffle = L->type->variant == PSV_SHUFFLE;
    char src[SR_ERRLEN / 4];
    sr_from(info, 1, src, sizeof src);
    const char *nm = L->type->name;
    if (in->ndim < 3)
        return sr_err(err, SR_ESHAPE, "%s(%lld) expects an input of at least 3 dimensions (*, C, H, W), but input "
                      "%s%s is %d-D; hint: %s", nm, (long long)r, sr_shp(in), src, in->ndim,
                      in->ndim == 2 ? "restore the channel and spatial dimensions with Unflatten before it"
                                    : "it rearranges (C, H, W) images");
    int nd = in->ndim;
    /* unbatched (C, H, W): dim 0 is channels, which it mixes */
    info->batch_dim0 = nd >= 4;
    *out = *in;
    int64_t C = in->d[nd - 3], H = in->d[nd - 2], W = in->d[nd - 1];
    if (shuffle) {
        int ok = C % rr == 0;
        out->d[nd - 3] = C / rr;
        info->out_known = 1;
        if (!ok) {
            int64_t lo = C / rr * rr, hi = lo + rr;
            char alt[80];
            if (lo > 0)
                snprintf(alt, sizeof alt, "%lld or %lld", (long long)lo, (long long)hi);
            else
                snprintf(alt, sizeof alt, "%lld", (long long)hi);
            return sr_err(err, SR_ESHAPE, "%s(%lld) needs channels divisible by %lld, but input %s%s has %lld; "
                          "hint: it turns each %lld channels into one channel %lldx larger: make the layer before it "
                          "give %s channels", nm, (long long)r, (long long)rr, sr_shp(in), src, (long long)C,
                          (long long)rr, (long long)r, alt);
        }
        if (H > INT64_MAX / r || W > INT64_MAX / r)
            return sr_err(err, SR_ESHAPE, "%s(%lld) makes input %s%s too large", nm, (long long)r, sr_shp(in), src);
        out->d[nd - 2] = H * r;
        out->d[nd - 1] = W * r;
        return SR_OK;
    }
    if (C > INT64_MAX / rr)
        return sr_err(err, SR_ESHAPE, "%s(%lld) makes input %s%s too large", nm, (long long)r, sr_shp(in), src);
    out->d[nd - 3] = C * rr;
    out->d[nd - 2] = H / r;
    out->d[nd - 1] = W / r;
    info->out_known = 1;
    if (H % r || W % r)
        return sr_err(err, SR_ESHAPE, "%s(%lld) needs height and width divisible by %lld, but input %s%s is "
                      "%lldx%lld; hint: crop or pad it to %lldx%lld (or %lldx%lld) before this layer",
                      nm, (long long)r, (long long)r, sr_shp(in), src, (long long)H, (long long)W,
                      (long long)(H / r * r), (long long)(W / r * r), (long long)((H + r - 1) / r * r),
                      (long long)((W + r - 1) / r * r));
    return SR_OK;
}

/* y[j*r + q] = x_q[j]: r rows interleaved into one */
static SR_VEC_VOID(zip2_row, (const float *restrict a, const float *restrict b, float *restrict y, int64_t n),
                   (a, b, y, n))
{
    for (int64_t j = 0; j < n; j++) {
        y[2 * j] = a[j];
        y[2 * j + 1] = b[j];
    }
}

static SR_VEC_VOID(unzip2_row, (const float *restrict x, float *restrict a, float *restrict b, int64_t n), (x, a, b, n))
{
    for (int64_t j = 0; j < n; j++) {
        a[j] = x[2 * j];
        b[j] = x[2 * j + 1];
    }
}

static SR_VEC_VOID(strided_put, (const float *restrict x, float *restrict y, int64_t n, int64_t r), (x, y, n, r))
{
    for (int64_t j = 0; j < n; j++)
        y[j * r] = x[j];
}

static SR_VEC_VOID(strided_get, (const float *restrict x, float *restrict y, int64_t n, int64_t r), (x, y, n, r))
{
    for (int64_t j = 0; j < n; j++)
        y[j] = x[j * r];
}

typedef struct {
    const float *x;
    float *y;
    int64_t r, C, H, W; /* C: output channels (shuffle) or input channels (unshuffle); H, W: the small side */
    int shuffle;
} ps_job;

/* One (sample, channel) of the large side: r*r planes of the small side. */
static void ps_task(void *arg, int64_t q, int tid)
{
    (void)tid;
    const ps_job *J = arg;
    int64_t r = J->r, H = J->H, W = J->W, small = H * W, big = small * r * r;
    /* the large plane (H*r x W*r) and its r*r small planes, channel c*r*r + i*r + j */
    const float *sp = J->shuffle ? J->x + q * big : NULL;
    float *bp = J->shuffle ? J->y + q * big : NULL;
    const float *bx = J->shuffle ? NULL : J->x + q * big;
    float *sy = J->shuffle ? NULL : J->y + q * big;
    for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < r; i++) {
            int64_t brow = (h * r + i) * W * r;
            if (J->shuffle) {
                const float *s0 = sp + (i * r) * small + h * W;
                if (r == 2)
                    zip2_row(s0, s0 + small, bp + brow, W);
                else
                    for (int64_t j = 0; j < r; j++)
                        strided_put(s0 + j * small, bp + brow + j, W, r);
            } else {
                float *s0 = sy + (i * r) * small + h * W;
                if (r == 2)
                    unzip2_row(bx + brow, s0, s0 + small, W);
                else
                    for (int64_t j = 0; j < r; j++)
                        strided_get(bx + brow + j, s0 + j * small, W, r);
            }
        }
}

static SR_FORWARD_FN(ps_forward)
{
    (void)err;
    int64_t r = sr_argi(L, PS_FACTOR);
    int shuffle = L->type->variant == PSV_SHUFFLE;
    const sr_shape *small = shuffle ? &in->shape : &out->shape, *big = shuffle ? &out->shape : &in->shape;
    int nd = small->ndim;
    if (r == 1) {
        out->data = in->data; /* the same tensor */
        return SR_OK;
    }
    ps_job J = {.x = sr_f32(in), .y = sr_f32(out), .r = r, .H = small->d[nd - 2], .W = small->d[nd - 1],
                .shuffle = shuffle};
    J.C = sr_prod(big, 0, nd - 2); /* every large plane: leading dims times channels */
    int64_t total = sr_shape_numel(&out->shape);
    int threads = ctx->threads > 1 && total >= PS_PAR_FLOATS ? ctx->threads : 1;
    sr_par_for(threads, J.C, ps_task, &J);
    return SR_OK;
}

/* ---- ChannelShuffle -------------------------------------------------------------- */

enum { CS_GROUPS };

static SR_VALIDATE_FN(cs_validate)
{
    int64_t g = sr_argi(L, CS_GROUPS);
    if (g <= 0)
        return sr_err(err, SR_EUSAGE, "Number of groups to divide channels in must be positive. Value of groups: %lld; "
                      "hint: groups: 2 or more (1 keeps the channels' order)", (long long)g);
    return SR_OK;
}

static SR_SHAPE_FN(cs_shape)
{
    int64_t g = sr_argi(L, CS_GROUPS);
    char src[SR_ERRLEN / 4];
    sr_from(info, 1, src, sizeof src);
    if (in->ndim <= 2)
        return sr_err(err, SR_ESHAPE, "ChannelShuffle(%lld) expects an input of more than 2 dimensions (N, C, *), "
                      "but input %s%s is %d-D; hint: it permutes the channels (dim 1) of images or sequences",
                      (long long)g, sr_shp(in), src, in->ndim);
    *out = *in;
    info->out_known = 1;
    info->batch_dim0 = 1;
    int64_t C = in->d[1];
    if (C % g) {
        /* the divisors of C either side of g */
        int64_t lo = g < C ? g : C, hi = g;
        while (lo > 1 && C % lo)
            lo--;
        while (hi < C && C % hi)
            hi++;
        char alt[80];
        if (hi < C && hi != lo)
            snprintf(alt, sizeof alt, "%lld or %lld", (long long)lo, (long long)hi);
        else
            snprintf(alt, sizeof alt, "%lld", (long long)lo);
        return sr_err(err, SR_ESHAPE, "ChannelShuffle(%lld) needs channels divisible by %lld, but input %s%s has "
                      "%lld; hint: groups must divide the %lld channels (%s would), or the layer before must give a "
                      "multiple of %lld", (long long)g, (long long)g, sr_shp(in), src, (long long)C, (long long)C, alt,
                      (long long)g);
    }
    return SR_OK;
}

static SR_FORWARD_FN(cs_forward)
{
    (void)err;
    (void)ctx;
    int64_t g = sr_argi(L, CS_GROUPS), N = in->shape.d[0], C = in->shape.d[1], per = C / (g ? g : 1);
    int64_t plane = sr_prod(&in->shape, 2, in->shape.ndim);
    if (g == 1 || per == 1 || C == 0) {
        out->data = in->data;
        return SR_OK;
    }
    const float *x = sr_f32(in);
    float *y = sr_f32(out);
    /* output channel i*g + k is input channel k*per + i */
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < per; i++)
            for (int64_t k = 0; k < g; k++)
                memcpy(y + ((n * C) + i * g + k) * plane, x + ((n * C) + k * per + i) * plane,
                       (size_t)plane * sizeof *y);
    return SR_OK;
}

/* ---- rows ------------------------------------------------------------------------ */

static const sr_argdef a_pixelshuffle[] = {{"upscale_factor", T_I, NULL, NULL, 0}};
static const sr_argdef a_pixelunshuffle[] = {{"downscale_factor", T_I, NULL, NULL, 0}};
static const sr_argdef a_channelshuffle[] = {{"groups", T_I, NULL, NULL, 0}};

SR_ROW(PixelShuffle, .summary = "(*, C*r*r, H, W) to (*, C, H*r, W*r)", SR_ARGS(a_pixelshuffle),
       .repr = "upscale_factor=", .variant = PSV_SHUFFLE, .validate = ps_validate, .shape = ps_shape,
       .forward = ps_forward);
SR_ROW(PixelUnshuffle, .summary = "(*, C, H*r, W*r) to (*, C*r*r, H, W)", SR_ARGS(a_pixelunshuffle),
       .repr = "downscale_factor=", .variant = PSV_UNSHUFFLE, .validate = ps_validate, .shape = ps_shape,
       .forward = ps_forward);
SR_ROW(ChannelShuffle, .summary = "interleaves the channels (dim 1) of groups groups", SR_ARGS(a_channelshuffle),
       .repr = "groups=", .validate = cs_validate, .shape = cs_shape, .forward = cs_forward);
