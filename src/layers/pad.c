/*
 * pad.c - ZeroPad2d, ConstantPad1d/2d/3d, ReflectionPad1d/2d/3d,
 * ReplicationPad1d/2d/3d (PyTorch 1.13 has no ZeroPad1d or ZeroPad3d).
 *
 * padding is (left, right[, top, bottom[, front, back]]): the first pair
 * pads the last dimension, the next the one before it, as F.pad reads it.
 * An int pads every side by it; a tuple pads as many trailing dimensions as
 * it has pairs, whatever the class (torch 1.13 hands it to F.pad as it is).  Negative padding crops, as PyTorch lets
 * it for every mode, down to an output size of 0 for constant padding and
 * of 1 for the others.
 *
 * What each mode accepts is F.pad's (PadNd.cpp, ReflectionPad.cpp,
 * ReplicationPadding.cpp in 1.13): constant padding takes any input with at
 * least as many dimensions as it pads and leaves the ones before alone;
 * reflection and replication take exactly one or two more (unbatched or
 * batched), need every non-batch dimension non-empty, and reflection needs
 * each pad smaller than the dimension it reflects in.
 *
 * The kernel builds every output row from one input row (or the fill
 * value): the part inside is one memcpy, the few pad floats either side are
 * set one by one, and a row or slab whose source is the one before's (a
 * replicated border) is a copy of that output.
 */
#include "layers.h"
#include "../par.h"

#include <stdio.h>
#include <string.h>

enum { PAD_PADDING, PAD_VALUE };
enum { PK_CONSTANT, PK_REFLECT, PK_REPLICATE };
/* the rows' variant: kind * 4 + padded dimensions */
#define PADV(kind, n) ((kind) * 4 + (n))
static int pad_kind(const sr_layer *L) { return L->type->variant / 4; }
static int pad_nd(const sr_layer *L) { return L->type->variant % 4; }

#define PAD_MAX ((int64_t)1 << 40)

typedef struct {
    int kind, nd;
    int64_t p[6];   /* (left, right, top, bottom, front, back) as given */
    float value;
} pad_cfg;

static SR_VALIDATE_FN(pad_validate)
{
    pad_cfg *c = L->cfg;
    memset(c, 0, sizeof *c);
    c->kind = pad_kind(L);
    c->nd = pad_nd(L);
    /* A tuple is handed to F.pad as it is (torch 1.13's _ntuple returns
     * any sequence unchanged): its length, not the class, says how many
     * dimensions are padded, so ZeroPad2d((1, 2)) pads only the width. */
    const sr_argval *pv = &L->arg[PAD_PADDING];
    if (pv->kind == SR_AV_TUPLE) {
        if (pv->n == 0 || pv->n % 2)
            return sr_err(err, SR_EUSAGE, "%s padding must have an even number of values (left, right[, top, bottom"
                          "[, front, back]]), got %d; hint: one integer pads every side", L->type->name, pv->n);
        if (pv->n > 6)
            return sr_err(err, SR_EUSAGE, "%s padding has %d values, but seqrun pads at most 3 dimensions (6 "
                          "values); hint: pad fewer dimensions", L->type->name, pv->n);
        c->nd = pv->n / 2;
    }
    sr_arg_tuple(L, PAD_PADDING, 2 * c->nd, c->p);
    for (int k = 0; k < 2 * c->nd; k++)
        if (c->p[k] > PAD_MAX || c->p[k] < -PAD_MAX)
            return sr_err(err, SR_EUSAGE, "padding values must be within +-2^40, got %lld; hint: pad by less",
                          (long long)c->p[k]);
    if (c->kind == PK_CONSTANT && L->type->nargs > PAD_VALUE)
        c->value = (float)sr_argf(L, PAD_VALUE);
    return SR_OK;
}

static const char *const side_name[3][2] = {{"left", "right"}, {"top", "bottom"}, {"front", "back"}};
static const char *const dim_name[3] = {"width", "height", "depth"};

/* Reflection and replication take exactly one or two dimensions more than
 * they pad (unbatched or batched): the error, with the output the layers
 * after are checked with. */
static sr_status pad_rank_error(const sr_layer *L, const sr_shape *in, sr_shape *out, sr_shapeinfo *info,
                                const char *src, char *err)
{
    const pad_cfg *c = SR_CFG(L, pad_cfg);
    const char *nm = L->type->name;
    int nd = c->nd, r = in->ndim;
    const char *form = nd == 1 ? "2-D (C, W) or 3-D (N, C, W)"
                     : nd == 2 ? "3-D (C, H, W) or 4-D (N, C, H, W)"
                               : "4-D (C, D, H, W) or 5-D (N, C, D, H, W)";
    char hint[200];
    if (nd != pad_nd(L) && (r == pad_nd(L) + 1 || r == pad_nd(L) + 2))
        snprintf(hint, sizeof hint, "give padding %d values (or one integer) to pad the last %d dimensions",
                 2 * pad_nd(L), pad_nd(L));
    else if (r == nd)
        snprintf(hint, sizeof hint, "add a channel dimension (Unflatten or [1, ...] data)");
    else if (r == nd + 3 && nd < 3)
        snprintf(hint, sizeof hint, "this is %d-D data: use the %dd variant, or ConstantPad%dd, which takes "
                 "any leading dimensions", r - 2, nd + 1, nd);
    else
        snprintf(hint, sizeof hint, "ConstantPad%dd takes any leading dimensions", nd);
    /* checking goes on with the last dims padded, as intended */
    *out = *in;
    info->out_known = r >= nd;
    for (int k = 0; k < nd && k < r; k++) {
        int64_t o = in->d[r - 1 - k] + c->p[2 * k] + c->p[2 * k + 1];
        out->d[r - 1 - k] = o > 0 ? o : 0;
        info->out_known &= o > 0;
    }
    char why[80] = "";
    if (nd != pad_nd(L))
        snprintf(why, sizeof why, " (its padding has %d values, so it pads %d dimension%s)", 2 * nd, nd,
                 nd > 1 ? "s" : "");
    return sr_err(err, SR_ESHAPE, "%s%s expects a %s input, but input %s%s is %d-D; hint: %s", nm, why, form,
                  sr_shp(in), src, r, hint);
}

static SR_SHAPE_FN(pad_shape)
{
    const pad_cfg *c = SR_CFG(L, pad_cfg);
    const char *nm = L->type->name;
    char src[SR_ERRLEN / 4];
    sr_from(info, 1, src, sizeof src);
    int nd = c->nd, r = in->ndim;
    if (c->kind == PK_CONSTANT) {
        if (r < nd)
            return sr_err(err, SR_ESHAPE, "%s pads the last %d dimensions, but input %s%s has %d; hint: %s", nm, nd,
                          sr_shp(in), src, r, nd == 2 ? "use ConstantPad1d for 1-D data" : "use a padding layer "
                          "for as many dimensions as the data has");
        info->batch_dim0 = r > nd;
    } else {
        if (r != nd + 1 && r != nd + 2)
            return pad_rank_error(L, in, out, info, src, err);
        info->batch_dim0 = 1;
        /* non-empty dims; the batch dim (and reflection's 1-D/2-D dim 0) may be 0 */
        int first = r == nd + 2 || (c->kind == PK_REFLECT && nd < 3) ? 1 : 0;
        for (int i = first; i < r; i++)
            if (in->d[i] == 0)
                return sr_err(err, SR_ESHAPE, "%s needs non-empty dimensions after the batch, but input %s%s has size "
                              "0 in dimension %d; hint: check the layers before it", nm, sr_shp(in), src, i);
    }
    *out = *in;
    info->out_known = 1;
    int positive = 0;
    for (int k = 0; k < 2 * nd; k++)
        positive |= c->p[k] > 0;
    int64_t o[3];
    int any = 0;
    for (int k = 0; k < nd; k++) {
        int d = r - 1 - k;
        int64_t isz = in->d[d], lo = c->p[2 * k], hi = c->p[2 * k + 1];
        if (c->kind == PK_REFLECT && (lo >= isz || hi >= isz)) {
            /* the layers after are checked with the size it would give */
            for (int j = 0; j < nd; j++)
                out->d[r - 1 - j] = in->d[r - 1 - j] + c->p[2 * j] + c->p[2 * j + 1];
            return sr_err(err, SR_ESHAPE, "%s pads by reflection, so each pad must be smaller than the dimension it "
                          "reflects in, but input %s%s has %s %lld and %s/%s padding (%lld, %lld); hint: at most "
                          "%lld here, or ReplicationPad%dd / ConstantPad%dd, which pad by any amount",
                          nm, sr_shp(in), src, dim_name[k], (long long)isz, side_name[k][0], side_name[k][1],
                          (long long)lo, (long long)hi, (long long)(isz - 1), nd, nd);
        }
        int64_t kept = isz + (lo < 0 ? lo : 0) + (hi < 0 ? hi : 0);
        if (c->kind == PK_CONSTANT && kept < 0) {
            info->out_known = 0;
            return sr_err(err, SR_ESHAPE, "%s with %s/%s padding (%lld, %lld) crops %lld from the %s %lld of input %s%s; "
                          "hint: negative padding can crop at most what is there", nm, side_name[k][0],
                          side_name[k][1], (long long)lo, (long long)hi, (long long)(isz - kept), dim_name[k],
                          (long long)isz, sr_shp(in), src);
        }
        o[k] = isz + lo + hi;
        any |= o[k] >= 1;
        /* constant padding narrows first (any pad positive: the result must
         * be non-empty); the others need each size >= 0, and one >= 1 (the
         * 1-D ones: that one) */
        int64_t least = c->kind == PK_CONSTANT ? (positive ? 1 : 0) : nd == 1 ? 1 : 0;
        if (o[k] < least) {
            out->d[d] = 0;
            info->out_known = 0;
            return sr_err(err, SR_ESHAPE, "%s with %s/%s padding (%lld, %lld) turns the %s %lld of input %s%s into %lld; "
                          "hint: the output %s must be at least %lld%s: crop less", nm, side_name[k][0],
                          side_name[k][1], (long long)lo, (long long)hi, dim_name[k], (long long)isz, sr_shp(in),
                          src, (long long)o[k], dim_name[k], (long long)least,
                          c->kind == PK_CONSTANT && least ? " when any padding is positive" : "");
        }
        out->d[d] = o[k];
    }
    if (c->kind != PK_CONSTANT && !any) {
        info->out_known = 0;
        return sr_err(err, SR_ESHAPE, "%s crops input %s%s to nothing: every padded dimension would be empty; hint: "
                      "crop less", nm, sr_shp(in), src);
    }
    return SR_OK;
}

/* ---- kernel ------------------------------------------------------------------------ */

typedef struct {
    const pad_cfg *c;
    const float *x;
    float *y;
    int64_t planes, D, H, W, OD, OH, OW;
    int64_t lo[3]; /* before-padding of (W, H, D) */
} pad_job;

/* The source index of output position o (lo before it) in a dimension of
 * n, or -1 for the constant fill. */
static inline int64_t pad_src(int kind, int64_t o, int64_t lo, int64_t n)
{
    int64_t i = o - lo;
    if (i >= 0 && i < n)
        return i;
    if (kind == PK_CONSTANT)
        return -1;
    if (kind == PK_REPLICATE)
        return i < 0 ? 0 : n - 1;
    return i < 0 ? -i : 2 * (n - 1) - i; /* reflection, without the edge */
}

static void fill(float *y, int64_t n, float v)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = v;
}

/* One output row from input row x (NULL: the fill value). */
static void pad_row(const pad_job *J, const float *x, float *y)
{
    int kind = J->c->kind;
    int64_t W = J->W, OW = J->OW, lo = J->lo[0];
    if (!x) {
        fill(y, OW, J->c->value);
        return;
    }
    /* output [a, b) is input [a - lo, b - lo) */
    int64_t a = lo > 0 ? lo : 0, b = W + lo < OW ? W + lo : OW;
    if (b > a)
        memcpy(y + a, x + (a - lo), (size_t)(b - a) * sizeof *y);
    else
        a = b = OW; /* nothing inside: every position below is padding */
    if (kind == PK_CONSTANT) {
        fill(y, a < OW ? a : OW, J->c->value);
        if (b < OW)
            fill(y + b, OW - b, J->c->value);
        return;
    }
    for (int64_t o = 0; o < a && o < OW; o++)
        y[o] = x[pad_src(kind, o, lo, W)];
    for (int64_t o = b > a ? b : a; o < OW; o++)
        y[o] = x[pad_src(kind, o, lo, W)];
}

static void pad_task(void *arg, int64_t p, int tid)
{
    (void)tid;
    const pad_job *J = arg;
    int kind = J->c->kind;
    int64_t HW = J->H * J->W, OHW = J->OH * J->OW;
    const float *xp = J->x + p * J->D * HW;
    float *yp = J->y + p * J->OD * OHW;
    int64_t pd = -2; /* the previous slab's source depth */
    for (int64_t od = 0; od < J->OD; od++) {
        int64_t id = pad_src(kind, od, J->lo[2], J->D);
        float *ys = yp + od * OHW;
        if (od > 0 && id == pd) {
            memcpy(ys, ys - OHW, (size_t)OHW * sizeof *ys);
            continue;
        }
        pd = id;
        int64_t ph = -2;
        for (int64_t oh = 0; oh < J->OH; oh++) {
            int64_t ih = id < 0 ? -1 : pad_src(kind, oh, J->lo[1], J->H);
            float *yr = ys + oh * J->OW;
            if (oh > 0 && ih == ph) {
                memcpy(yr, yr - J->OW, (size_t)J->OW * sizeof *yr);
                continue;
            }
            ph = ih;
            pad_row(J, ih < 0 ? NULL : xp + id * HW + ih * J->W, yr);
        }
    }
}

#define PAD_PAR_FLOATS (1 << 16)

static SR_FORWARD_FN(pad_forward)
{
    (void)err;
    const pad_cfg *c = SR_CFG(L, pad_cfg);
    const sr_shape *is = &in->shape, *os = &out->shape;
    int nd = c->nd, r = is->ndim;
    pad_job J = {.c = c, .x = sr_f32(in), .y = sr_f32(out)};
    int64_t ins[3] = {1, 1, 1}, outs[3] = {1, 1, 1};
    for (int k = 0; k < nd; k++) {
        ins[k] = is->d[r - 1 - k];
        outs[k] = os->d[r - 1 - k];
        J.lo[k] = c->p[2 * k];
    }
    J.W = ins[0], J.H = ins[1], J.D = ins[2];
    J.OW = outs[0], J.OH = outs[1], J.OD = outs[2];
    J.planes = sr_prod(is, 0, r - nd);
    int64_t total = sr_shape_numel(os);
    if (J.planes == 0 || total == 0)
        return SR_OK;
    int threads = ctx->threads > 1 && total >= PAD_PAR_FLOATS ? ctx->threads : 1;
    sr_par_for(threads, J.planes, pad_task, &J);
    return SR_OK;
}

/* ---- rows ------------------------------------------------------------------------ */

#define CONSTPAD_ARGS(a)                                                 \
    static const sr_argdef a[] = {                                          \
        {"padding", T_T, NULL, NULL, 0},                                    \
        {"value", T_I | T_F, NULL, NULL, 0},                                \
    }
CONSTPAD_ARGS(a_constpad);
/* padding: an int, or a tuple of any even length up to 6 (pad_validate) */
static const sr_argdef a_pad[] = {{"padding", T_T, NULL, NULL, 0}};

#define PAD_HOOKS .cfg_size = sizeof(pad_cfg), .validate = pad_validate, .shape = pad_shape, .forward = pad_forward

SR_ROW(ZeroPad2d, .summary = "pads the last 2 dims with zeros (left, right, top, bottom)", SR_ARGS(a_pad),
       .repr = "#padding:4", .variant = PADV(PK_CONSTANT, 2), PAD_HOOKS);
SR_ROW(ConstantPad1d, .summary = "pads the last dim with value (left, right)", SR_ARGS(a_constpad),
       .repr = "padding=:2, value=", .variant = PADV(PK_CONSTANT, 1), PAD_HOOKS);
SR_ROW(ConstantPad2d, .summary = "pads the last 2 dims with value (left, right, top, bottom)",
       SR_ARGS(a_constpad), .repr = "padding=:4, value=", .variant = PADV(PK_CONSTANT, 2), PAD_HOOKS);
SR_ROW(ConstantPad3d, .summary = "pads the last 3 dims with value (left, right, top, bottom, front, back)",
       SR_ARGS(a_constpad), .repr = "padding=:6, value=", .variant = PADV(PK_CONSTANT, 3), PAD_HOOKS);
SR_ROW(ReflectionPad1d, .summary = "pads (C, W) or (N, C, W) with the reflection of the input", SR_ARGS(a_pad),
       .repr = "#padding:2", .variant = PADV(PK_REFLECT, 1), PAD_HOOKS);
SR_ROW(ReflectionPad2d, .summary = "pads (C, H, W) or (N, C, H, W) with the reflection of the input",
       SR_ARGS(a_pad), .repr = "#padding:4", .variant = PADV(PK_REFLECT, 2), PAD_HOOKS);
SR_ROW(ReflectionPad3d, .summary = "pads (C, D, H, W) or (N, C, D, H, W) with the reflection of the input",
       SR_ARGS(a_pad), .repr = "#padding:6", .variant = PADV(PK_REFLECT, 3), PAD_HOOKS);
SR_ROW(ReplicationPad1d, .summary = "pads (C, W) or (N, C, W) by repeating the edge", SR_ARGS(a_pad),
       .repr = "#padding:2", .variant = PADV(PK_REPLICATE, 1), PAD_HOOKS);
SR_ROW(ReplicationPad2d, .summary = "pads (C, H, W) or (N, C, H, W) by repeating the edge", SR_ARGS(a_pad),
       .repr = "#padding:4", .variant = PADV(PK_REPLICATE, 2), PAD_HOOKS);
SR_ROW(ReplicationPad3d, .summary = "pads (C, D, H, W) or (N, C, D, H, W) by repeating the edge", SR_ARGS(a_pad),
       .repr = "#padding:6", .variant = PADV(PK_REPLICATE, 3), PAD_HOOKS);
