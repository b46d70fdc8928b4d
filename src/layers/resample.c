/*
 * resample.c - Upsample, UpsamplingNearest2d, UpsamplingBilinear2d (the
 * pixel and channel shuffles are in resample_shuffle.c).
 *
 * Upsample is F.interpolate as PyTorch 1.13 runs it on the CPU, mode by
 * mode, because where the source index of an output pixel lands is the
 * whole of nearest-neighbour resampling and half of the linear ones:
 *
 *   scale    compute_scales_value: (float)(1.0 / scale_factor) when a
 *            scale_factor is given and recompute_scale_factor is not True,
 *            else (float)in / (float)out; the linear modes with
 *            align_corners=True use (float)(in - 1) / (float)(out - 1)
 *            (0 for one output pixel) instead (area_pixel_compute_scale).
 *   nearest  src = min(floor(scale * (float)dst), in - 1), in float.  A 2-D
 *            or 3-D input of one channel is also channels-last contiguous,
 *            so ATen runs its channels-last kernel, whose nearest_idx takes
 *            src = dst when out == in and dst / 2 when out == 2 * in,
 *            whatever the scale (2.0001 gives 0 0 1 1 .., not 0 0 0 1 ..).
 *   nearest-exact  src = min(floor(scale * ((float)dst + 0.5)), in - 1).
 *   linear   real = scale * dst (align_corners) or scale * (dst + 0.5) - 0.5
 *            clamped at 0, in double from the float scale; i0 = (int)real,
 *            i1 = i0 + (i0 < in - 1), l1 = (float)min(real - i0, 1),
 *            l0 = 1 - l1 in float; when out == in, i0 = i1 = dst, l0 = 1,
 *            l1 = 0 (compute_source_index_and_lambda).
 *   bicubic  real as for linear but not clamped; i0 = floor((float)real),
 *            t = real - i0; taps i0-1 .. i0+2 clamped to the input (the
 *            border is replicated), weights the cubic convolution with
 *            A = -0.75 (get_cubic_upsample_coefficients).
 *   area     adaptive average pooling to the output size.
 *
 * These rules were checked against torch 1.13 on every size pair up to
 * 70 -> 140 and a few thousand random scale factors: the nearest indices
 * and the linear weights agree bit for bit.  Output sizes are
 * (int64)(in * scale_factor) in double (floor(float(in) * scale_factor)
 * for recompute_scale_factor=True, the same number).
 *
 * The separable modes interpolate along W first, then H, then D, summing
 * the taps left to right as ATen's Interpolate<> does (without its fused
 * multiply-adds: every CPU here gives the same bits).  A row interpolated
 * along W is kept while the next output rows use it (a 2x upsample
 * computes each once).  Nearest copies: a repeated source row is a
 * memcpy of the output row before it, an x2 row is a vectorised
 * duplication.
 */
#include "layers.h"
#include "../par.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- Upsample: arguments ---------------------------------------------------- */

enum { UP_SIZE, UP_SCALE, UP_MODE, UP_ALIGN, UP_RECOMPUTE };
enum { UPV_UPSAMPLE, UPV_NEAREST2D, UPV_BILINEAR2D }; /* the rows' variant */
enum { M_NEAREST, M_EXACT, M_LINEAR, M_BILINEAR, M_BICUBIC, M_TRILINEAR, M_AREA };
static const char *const mode_name[] = {"nearest", "nearest-exact", "linear", "bilinear",
                                        "bicubic", "trilinear", "area"};
#define MODE_CHOICES "nearest|nearest-exact|linear|bilinear|bicubic|trilinear|area"
/* spatial dimensions each mode needs (0: any of 1, 2, 3) */
static const int mode_nd[] = {0, 0, 1, 2, 2, 3, 0};

/* Output sizes beyond this are refused (they would not fit in memory). */
#define UP_MAX_SIZE ((int64_t)1 << 40)

typedef struct {
    int mode;
    int align;        /* align_corners (None is False) */
    int recompute;    /* recompute_scale_factor=True (always, for area) */
    int nsize;        /* size: 0 not given, -1 one int for every dim, else the tuple's length */
    int64_t size[3];
    int nscale;       /* scale_factor: the same */
    double scale[3];
} up_cfg;

static SR_VALIDATE_FN(up_validate)
{
    up_cfg *c = L->cfg;
    memset(c, 0, sizeof *c);
    int v = L->type->variant;
    if (v == UPV_NEAREST2D) {
        c->mode = M_NEAREST;
    } else if (v == UPV_BILINEAR2D) {
        c->mode = M_BILINEAR;
        c->align = 1;
    } else {
        for (int m = 0; m <= M_AREA; m++)
            if (!strcmp(L->arg[UP_MODE].s, mode_name[m]))
                c->mode = m;
        if (!sr_arg_is_none(L, UP_ALIGN)) {
            if (c->mode == M_NEAREST || c->mode == M_EXACT || c->mode == M_AREA)
                return sr_err(err, SR_EUSAGE, "align_corners option can only be set with the interpolating modes: "
                              "linear | bilinear | bicubic | trilinear, not mode='%s'; hint: remove align_corners",
                              mode_name[c->mode]);
            c->align = (int)sr_argi(L, UP_ALIGN);
        }
        c->recompute = !sr_arg_is_none(L, UP_RECOMPUTE) && sr_argi(L, UP_RECOMPUTE);
    }
    /* area is adaptive average pooling, which may make an empty output */
    int64_t least = c->mode == M_AREA ? 0 : 1;
    sr_argval *sz = &L->arg[UP_SIZE], *sf = &L->arg[UP_SCALE];
    /* Upsample keeps float(scale_factor) if scale_factor else None: 0 is
     * None, an int a float, a tuple a tuple of floats (its repr says so) */
    if ((sf->kind == SR_AV_INT || sf->kind == SR_AV_FLOAT) && sf->f == 0)
        sf->kind = SR_AV_NONE;
    if (sf->kind == SR_AV_INT)
        sf->kind = SR_AV_FLOAT;
    if (sf->kind == SR_AV_TUPLE && !sf->tfloat) {
        for (int k = 0; k < sf->n; k++)
            sf->tf[k] = (double)sf->t[k];
        sf->tfloat = 1;
    }
    int has_size = sz->kind != SR_AV_NONE, has_scale = sf->kind != SR_AV_NONE;
    if (has_size && has_scale)
        return sr_err(err, SR_EUSAGE, "only one of size or scale_factor should be defined; hint: size gives the "
                      "output's spatial size, scale_factor a multiple of the input's: keep one");
    if (!has_size && !has_scale)
        return sr_err(err, SR_EUSAGE, "either size or scale_factor should be defined; hint: e.g. scale_factor: 2");
    if (c->recompute && has_size)
        return sr_err(err, SR_EUSAGE, "recompute_scale_factor is not meaningful with an explicit size; "
                      "hint: remove recompute_scale_factor, or give scale_factor instead of size");
    char buf[160];
    if (has_size) {
        c->nsize = sz->kind == SR_AV_TUPLE ? sz->n : -1;
        if (c->nsize == 0 || c->nsize > 3)
            return sr_err(err, SR_EUSAGE, "size has %d items, but Upsample resizes 1, 2 or 3 spatial dimensions; "
                          "hint: one size per spatial dimension (L, (H, W) or (D, H, W)), or one int for all",
                          c->nsize);
        for (int k = 0; k < (c->nsize < 0 ? 1 : c->nsize); k++) {
            int64_t x = c->nsize < 0 ? sz->i : sz->t[k];
            if (x < least || x > UP_MAX_SIZE) {
                sr_argval_repr(sz, buf, sizeof buf);
                return sr_err(err, SR_EUSAGE, "output sizes should be %s%s, got size=%s; hint: size is the output's "
                              "spatial size, e.g. size: [32, 32]", least ? "greater than 0" : "non-negative",
                              x > UP_MAX_SIZE ? " and at most 2^40" : "", buf);
            }
            c->size[k] = x;
        }
    } else {
        c->nscale = sf->kind == SR_AV_TUPLE ? sf->n : -1;
        if (c->nscale == 0 || c->nscale > 3)
            return sr_err(err, SR_EUSAGE, "scale_factor has %d items, but Upsample resizes 1, 2 or 3 spatial "
                          "dimensions; hint: one factor per spatial dimension, or one number for all", c->nscale);
        for (int k = 0; k < (c->nscale < 0 ? 1 : c->nscale); k++) {
            double x = c->nscale < 0 ? sf->f : sf->tf[k];
            if (!(x > 0) || !isfinite(x)) {
                sr_argval_repr(sf, buf, sizeof buf);
                return sr_err(err, SR_EUSAGE, "scale_factor must be a positive finite number, got %s; hint: "
                              "scale_factor: 2 doubles the size, 0.5 halves it", buf);
            }
            c->scale[k] = x;
        }
    }
    if (c->mode == M_AREA)
        c->recompute = 1; /* F.interpolate: area always takes an explicit size */
    return SR_OK;
}

/* "linear" for a 3-D input and so on: the modes that fit a rank */
static const char *modes_for(int nd)
{
    return nd == 1 ? "'linear'" : nd == 2 ? "'bilinear' or 'bicubic'" : "'trilinear'";
}

static const char *rank_form(int nd)
{
    return nd == 1 ? "3-D (N, C, L)" : nd == 2 ? "4-D (N, C, H, W)" : "5-D (N, C, D, H, W)";
}

static const char *const axis_name[3][3] = {{"width"}, {"height", "width"}, {"depth", "height", "width"}};

/* The output size of spatial dimension k (of nd) for an input size isz. */
static int64_t up_out_size(const up_cfg *c, int k, int64_t isz)
{
    if (c->nsize)
        return c->size[c->nsize < 0 ? 0 : k];
    double s = c->scale[c->nscale < 0 ? 0 : k], o = (double)isz * s;
    return o >= (double)UP_MAX_SIZE ? UP_MAX_SIZE + 1 : (int64_t)o;
}

static SR_SHAPE_FN(up_shape)
{
    const up_cfg *c = SR_CFG(L, up_cfg);
    char src[SR_ERRLEN / 4], buf[160];
    const char *name = L->type->name;
    int nd = in->ndim - 2;
    sr_from(info, 1, src, sizeof src);
    if (nd < 1 || nd > 3) {
        const char *hint = in->ndim == 2 ? "Upsample has no unbatched form: add a batch dimension ([1, C, L])"
                         : in->ndim < 2  ? "Upsample needs (N, C, ...) data: batch, channels, then 1 to 3 spatial dims"
                                         : "flatten or drop the extra dimensions first";
        return sr_err(err, SR_ESHAPE, "%s expects a 3-D (N, C, L), 4-D (N, C, H, W) or 5-D (N, C, D, H, W) input, "
                      "but input %s%s is %d-D; hint: %s", name, sr_shp(in), src, in->ndim, hint);
    }
    info->batch_dim0 = 1;
    *out = *in;
    /* the guess for the layers after a mismatch: the input's size, or the
     * resized one when only the mode does not fit */
    info->out_known = 1;
    int nt = c->nsize > 0 ? c->nsize : c->nscale > 0 ? c->nscale : 0;
    if (nt && nt != nd) {
        sr_argval_repr(&L->arg[c->nsize ? UP_SIZE : UP_SCALE], buf, sizeof buf);
        return sr_err(err, SR_ESHAPE, "%s=%s has %d item%s, but input %s%s has %d spatial dimension%s; hint: give %d "
                      "(one per dimension after N and C), or a single number for all",
                      c->nsize ? "size" : "scale_factor", buf, nt, nt == 1 ? "" : "s", sr_shp(in), src, nd,
                      nd == 1 ? "" : "s", nd);
    }
    if (in->d[1] == 0 && c->mode != M_AREA)
        return sr_err(err, SR_ESHAPE, "%s needs a non-empty channel dimension, but input %s%s has 0 channels; "
                      "hint: check the layers before it", name, sr_shp(in), src);
    for (int k = 0; k < nd; k++) {
        int64_t isz = in->d[2 + k], o = up_out_size(c, k, isz);
        if (isz <= 0)
            return sr_err(err, SR_ESHAPE, "%s needs non-empty spatial dimensions, but input %s%s has %s 0; hint: "
                          "check the layers before it", name, sr_shp(in), src, axis_name[nd - 1][k]);
        if (isz > INT32_MAX) /* the source index tables are int32 */
            return sr_err(err, SR_ESHAPE, "%s takes spatial sizes below 2^31, but input %s%s has %s %lld; hint: "
                          "split the data", name, sr_shp(in), src, axis_name[nd - 1][k], (long long)isz);
        if (o > UP_MAX_SIZE)
            return sr_err(err, SR_ESHAPE, "scale_factor makes the %s of input %s%s larger than 2^40; hint: use a "
                          "smaller scale_factor", axis_name[nd - 1][k], sr_shp(in), src);
        if (o <= 0 && c->mode != M_AREA) {
            double s = c->scale[c->nscale < 0 ? 0 : k];
            return sr_err(err, SR_ESHAPE, "scale_factor %g turns the %s %lld of input %s%s into 0; hint: output sizes "
                          "must be at least 1: use a scale_factor of at least %g here, or size", s,
                          axis_name[nd - 1][k], (long long)isz, sr_shp(in), src, 1.0 / (double)isz);
        }
    }
    for (int k = 0; k < nd; k++)
        out->d[2 + k] = up_out_size(c, k, in->d[2 + k]);
    int need = mode_nd[c->mode];
    if (need && need != nd) {
        if (c->mode == M_BICUBIC)
            return sr_err(err, SR_ESHAPE, "mode 'bicubic' needs a 4-D (N, C, H, W) input, but input %s%s is %d-D; "
                          "hint: use mode=%s for %s input, or 'nearest', which takes any", sr_shp(in), src,
                          in->ndim, modes_for(nd), rank_form(nd));
        return sr_err(err, SR_ESHAPE, "mode '%s' needs a %s input, but input %s%s is %d-D; hint: use mode=%s for "
                      "%s input", mode_name[c->mode], rank_form(need), sr_shp(in), src, in->ndim, modes_for(nd),
                      rank_form(nd));
    }
    return SR_OK;
}

/* ---- Upsample: source indices and weights ----------------------------------- */

/* One spatial axis: taps source indices and weights per output position
 * (area: the window [idx[2o], idx[2o+1]) ). */
typedef struct {
    int64_t in, out;
    int taps;
    int32_t *idx;
    float *w;
} up_axis;

static int mode_taps(int mode)
{
    return mode == M_NEAREST || mode == M_EXACT ? 1 : mode == M_BICUBIC ? 4 : 2;
}

/* compute_scales_value<float> */
static float scales_value(const up_cfg *c, int k, int64_t in, int64_t out)
{
    if (c->nscale && !c->recompute) {
        double s = c->scale[c->nscale < 0 ? 0 : k];
        if (s > 0)
            return (float)(1.0 / s);
    }
    return (float)in / (float)out;
}

/* area_pixel_compute_scale<float> */
static float linear_scale(const up_cfg *c, int k, int64_t in, int64_t out)
{
    if (c->align)
        return out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    return scales_value(c, k, in, out);
}

/* cubic_convolution1 / 2 of ATen's UpSample.h, A = -0.75 */
static double cubic1(double x, double A) { return ((A + 2) * x - (A + 3)) * x * x + 1; }
static double cubic2(double x, double A) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; }

/* lastc: the input is channels-last contiguous too (2-D or 3-D, one channel) */
static void axis_fill(const up_cfg *c, int lastc, int k, up_axis *a)
{
    int64_t in = a->in, out = a->out;
    switch (c->mode) {
    case M_NEAREST:
    case M_EXACT: {
        float s = scales_value(c, k, in, out);
        /* the channels-last kernel's nearest_idx copies when out == in and
         * halves when out == 2 * in, whatever the scale */
        int same = c->mode == M_NEAREST && lastc && out == in;
        int twice = c->mode == M_NEAREST && lastc && out == 2 * in;
        for (int64_t o = 0; o < out; o++) {
            float r = c->mode == M_NEAREST ? s * (float)o : s * ((float)o + 0.5f);
            int64_t i = same ? o : twice ? o >> 1 : (int64_t)floorf(r);
            a->idx[o] = (int32_t)(i < in - 1 ? i : in - 1);
        }
        break;
    }
    case M_LINEAR:
    case M_BILINEAR:
    case M_TRILINEAR: {
        float s = linear_scale(c, k, in, out);
        for (int64_t o = 0; o < out; o++) {
            int64_t i0, i1;
            float l0, l1;
            if (out == in) {
                i0 = i1 = o;
                l0 = 1.0f;
                l1 = 0.0f;
            } else {
                double r = c->align ? (double)s * (double)o : (double)s * ((double)o + 0.5) - 0.5;
                if (r < 0)
                    r = 0;
                i0 = (int64_t)r;
                if (i0 > in - 1)
                    i0 = in - 1;
                i1 = i0 + (i0 < in - 1);
                double d = r - (double)i0;
                l1 = (float)(d < 0 ? 0 : d > 1 ? 1 : d);
                l0 = 1.0f - l1;
            }
            a->idx[2 * o] = (int32_t)i0;
            a->idx[2 * o + 1] = (int32_t)i1;
            a->w[2 * o] = l0;
            a->w[2 * o + 1] = l1;
        }
        break;
    }
    case M_BICUBIC: {
        float s = linear_scale(c, k, in, out);
        const double A = -0.75;
        for (int64_t o = 0; o < out; o++) {
            double r = c->align ? (double)s * (double)o : (double)s * ((double)o + 0.5) - 0.5;
            int64_t i0 = (int64_t)floorf((float)r);
            double t = r - (double)i0;
            double w[4] = {cubic2(t + 1, A), cubic1(t, A), cubic1(1 - t, A), cubic2(2 - t, A)};
            for (int j = 0; j < 4; j++) {
                int64_t i = i0 - 1 + j;
                a->idx[4 * o + j] = (int32_t)(i < 0 ? 0 : i > in - 1 ? in - 1 : i);
                a->w[4 * o + j] = (float)w[j];
            }
        }
        break;
    }
    case M_AREA:
        /* adaptive pooling windows: floor(o*in/out) .. ceil((o+1)*in/out) */
        for (int64_t o = 0; o < out; o++) {
            a->idx[2 * o] = (int32_t)((o / out) * in + ((o % out) * in) / out);
            a->idx[2 * o + 1] = (int32_t)(1 + ((o + 1) * in - 1) / out);
        }
        break;
    }
}

/* The input and output as planes of up to three spatial dims (D, H, W),
 * missing ones of size 1. */
typedef struct {
    int nd;
    int64_t planes, C, D, H, W, OD, OH, OW;
} up_dims;

static void up_dims_get(const sr_shape *in, const sr_shape *out, up_dims *u)
{
    int nd = u->nd = in->ndim - 2;
    u->planes = in->d[0] * in->d[1];
    u->C = in->d[1];
    u->D = nd >= 3 ? in->d[2] : 1;
    u->H = nd >= 2 ? in->d[in->ndim - 2] : 1;
    u->W = in->d[in->ndim - 1];
    u->OD = nd >= 3 ? out->d[2] : 1;
    u->OH = nd >= 2 ? out->d[out->ndim - 2] : 1;
    u->OW = out->d[out->ndim - 1];
}

/* Per-thread scratch, in floats: each axis's table, taps (at least 2, for
 * area's [start, end)) int32 indices and float weights per output
 * position, then the row cache of the separable modes. */
static int table_taps(int taps) { return taps > 2 ? taps : 2; }

static size_t up_tables(int taps, const up_dims *u)
{
    return (size_t)(2 * table_taps(taps)) * (size_t)(u->OD + u->OH + u->OW);
}

/* Row cache slots: one per (depth tap, height tap); trilinear adds two
 * for the two depth taps' H-combinations. */
static int up_slots(const up_cfg *c, const up_dims *u)
{
    int t = mode_taps(c->mode);
    if (t == 1 || c->mode == M_AREA || u->nd == 1)
        return 0;
    return u->nd == 3 ? t * t + 2 : t;
}

static SR_WORKSPACE_FN(up_workspace)
{
    const up_cfg *c = SR_CFG(L, up_cfg);
    if (in->ndim < 3 || in->ndim > 5)
        return 0;
    up_dims u;
    up_dims_get(in, out, &u);
    return up_tables(mode_taps(c->mode), &u) + (size_t)up_slots(c, &u) * (size_t)u.OW + 16;
}

/* ---- Upsample: kernels ---------------------------------------------------------- */

/* y[2i] = y[2i+1] = x[i], i < n */
static SR_VEC_VOID(dup2_row, (const float *restrict x, float *restrict y, int64_t n), (x, y, n))
{
    for (int64_t i = 0; i < n; i++) {
        y[2 * i] = x[i];
        y[2 * i + 1] = x[i];
    }
}

static SR_VEC_VOID(gather_row, (const float *restrict x, const int32_t *restrict idx, float *restrict y, int64_t n),
                   (x, idx, y, n))
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[idx[i]];
}

enum { ROW_GATHER, ROW_COPY, ROW_DUP2 };

static int row_kind(const up_axis *a)
{
    int copy = a->out == a->in, dup = 1;
    for (int64_t o = 0; o < a->out; o++) {
        copy &= a->idx[o] == o;
        dup &= a->idx[o] == (o >> 1);
    }
    return copy ? ROW_COPY : dup ? ROW_DUP2 : ROW_GATHER;
}

static void nearest_row(const float *x, const up_axis *aw, int kind, float *y)
{
    int64_t OW = aw->out;
    if (kind == ROW_COPY) {
        memcpy(y, x, (size_t)OW * sizeof *y);
    } else if (kind == ROW_DUP2) {
        dup2_row(x, y, OW >> 1);
        if (OW & 1)
            y[OW - 1] = x[OW >> 1];
    } else {
        gather_row(x, aw->idx, y, OW);
    }
}

/* Nearest (and nearest-exact): output rows are copies of input rows, and
 * a row whose source is the row before's is a copy of that output row. */
static void nearest_planes(const up_dims *u, const up_axis *ax, const float *x, float *y, int64_t p0, int64_t p1)
{
    const up_axis *ad = &ax[0], *ah = &ax[1], *aw = &ax[2];
    int kind = row_kind(aw);
    int64_t ips = u->D * u->H * u->W, ops = u->OD * u->OH * u->OW, slab = u->OH * u->OW;
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = x + p * ips;
        float *yp = y + p * ops;
        for (int64_t od = 0; od < u->OD; od++) {
            float *ys = yp + od * slab;
            if (od > 0 && ad->idx[od] == ad->idx[od - 1]) {
                memcpy(ys, ys - slab, (size_t)slab * sizeof *ys);
                continue;
            }
            const float *xs = xp + (int64_t)ad->idx[od] * u->H * u->W;
            for (int64_t oh = 0; oh < u->OH; oh++) {
                float *yr = ys + oh * u->OW;
                if (oh > 0 && ah->idx[oh] == ah->idx[oh - 1])
                    memcpy(yr, yr - u->OW, (size_t)u->OW * sizeof *yr);
                else
                    nearest_row(xs + (int64_t)ah->idx[oh] * u->W, aw, kind, yr);
            }
        }
    }
}

/* Along W: y[o] = x[i0] * w0 + x[i1] * w1 (+ x[i2] * w2 + x[i3] * w3). */
static SR_VEC_VOID(interp2_row,
                   (const float *restrict x, const int32_t *restrict idx, const float *restrict w, float *restrict y,
                    int64_t n),
                   (x, idx, w, y, n))
{
    for (int64_t o = 0; o < n; o++)
        y[o] = x[idx[2 * o]] * w[2 * o] + x[idx[2 * o + 1]] * w[2 * o + 1];
}

static SR_VEC_VOID(interp4_row,
                   (const float *restrict x, const int32_t *restrict idx, const float *restrict w, float *restrict y,
                    int64_t n),
                   (x, idx, w, y, n))
{
    for (int64_t o = 0; o < n; o++)
        y[o] = x[idx[4 * o]] * w[4 * o] + x[idx[4 * o + 1]] * w[4 * o + 1] + x[idx[4 * o + 2]] * w[4 * o + 2] +
               x[idx[4 * o + 3]] * w[4 * o + 3];
}

/* Combining rows: y = r0 * w0 + r1 * w1 (+ ...), left to right. */
static SR_VEC_VOID(comb2, (const float *restrict r0, const float *restrict r1, float w0, float w1, float *restrict y,
                           int64_t n),
                   (r0, r1, w0, w1, y, n))
{
    for (int64_t o = 0; o < n; o++)
        y[o] = r0[o] * w0 + r1[o] * w1;
}

static SR_VEC_VOID(comb4,
                   (const float *restrict r0, const float *restrict r1, const float *restrict r2,
                    const float *restrict r3, const float *restrict w, float *restrict y, int64_t n),
                   (r0, r1, r2, r3, w, y, n))
{
    float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
    for (int64_t o = 0; o < n; o++)
        y[o] = r0[o] * w0 + r1[o] * w1 + r2[o] * w2 + r3[o] * w3;
}

/* The row cache: slot (jd, jh) holds input row (id, ih) interpolated
 * along W.  The taps of one output row are consecutive source rows (or a
 * clamped repeat of one), so slot id % Td, ih % Th never evicts a row the
 * same output row needs. */
typedef struct {
    float *row;
    int64_t tag[16];
    int td, th;
    int64_t OW;
} row_cache;

static const float *cached_row(row_cache *rc, const up_dims *u, const up_axis *aw, const float *xp, int64_t id,
                               int64_t ih)
{
    int s = (int)(id % rc->td) * rc->th + (int)(ih % rc->th);
    int64_t key = id * u->H + ih;
    float *r = rc->row + (size_t)s * (size_t)rc->OW;
    if (rc->tag[s] != key) {
        const float *xr = xp + (id * u->H + ih) * u->W;
        if (aw->taps == 2)
            interp2_row(xr, aw->idx, aw->w, r, rc->OW);
        else
            interp4_row(xr, aw->idx, aw->w, r, rc->OW);
        rc->tag[s] = key;
    }
    return r;
}

static void separable_planes(const up_dims *u, const up_axis *ax, float *cache, const float *x, float *y, int64_t p0,
                             int64_t p1)
{
    const up_axis *ad = &ax[0], *ah = &ax[1], *aw = &ax[2];
    int64_t ips = u->D * u->H * u->W, ops = u->OD * u->OH * u->OW, OW = u->OW;
    row_cache rc = {.row = cache, .td = ad->taps, .th = ah->taps, .OW = OW};
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = x + p * ips;
        float *yp = y + p * ops;
        for (int s = 0; s < 16; s++)
            rc.tag[s] = -1;
        for (int64_t od = 0; od < u->OD; od++) {
            for (int64_t oh = 0; oh < u->OH; oh++) {
                float *yr = yp + (od * u->OH + oh) * OW;
                const int32_t *ih = ah->idx + oh * ah->taps;
                const float *wh = ah->w + oh * ah->taps;
                if (u->nd == 1) {
                    /* one row: W-interpolate straight into the output */
                    if (aw->taps == 2)
                        interp2_row(xp, aw->idx, aw->w, yr, OW);
                    else
                        interp4_row(xp, aw->idx, aw->w, yr, OW);
                } else if (u->nd == 2) {
                    if (ah->taps == 2)
                        comb2(cached_row(&rc, u, aw, xp, 0, ih[0]), cached_row(&rc, u, aw, xp, 0, ih[1]), wh[0],
                              wh[1], yr, OW);
                    else
                        comb4(cached_row(&rc, u, aw, xp, 0, ih[0]), cached_row(&rc, u, aw, xp, 0, ih[1]),
                              cached_row(&rc, u, aw, xp, 0, ih[2]), cached_row(&rc, u, aw, xp, 0, ih[3]), wh, yr, OW);
                } else {
                    /* trilinear: each depth tap's H-combination, then along D;
                     * the second tap's rows go in yr, the first's in the spare slot */
                    const int32_t *id = ad->idx + od * 2;
                    const float *wd = ad->w + od * 2;
                    float *t0 = rc.row + (size_t)4 * (size_t)OW, *t1 = t0 + OW;
                    comb2(cached_row(&rc, u, aw, xp, id[0], ih[0]), cached_row(&rc, u, aw, xp, id[0], ih[1]), wh[0],
                          wh[1], t0, OW);
                    comb2(cached_row(&rc, u, aw, xp, id[1], ih[0]), cached_row(&rc, u, aw, xp, id[1], ih[1]), wh[0],
                          wh[1], t1, OW);
                    comb2(t0, t1, wd[0], wd[1], yr, OW);
                }
            }
        }
    }
}

/* Area: each output pixel the mean of its window, summed in double. */
static void area_planes(const up_dims *u, const up_axis *ax, const float *x, float *y, int64_t p0, int64_t p1)
{
    const up_axis *ad = &ax[0], *ah = &ax[1], *aw = &ax[2];
    int64_t ips = u->D * u->H * u->W, ops = u->OD * u->OH * u->OW;
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = x + p * ips;
        float *yp = y + p * ops;
        for (int64_t od = 0; od < u->OD; od++) {
            int64_t d0 = ad->idx[2 * od], d1 = ad->idx[2 * od + 1];
            for (int64_t oh = 0; oh < u->OH; oh++) {
                int64_t h0 = ah->idx[2 * oh], h1 = ah->idx[2 * oh + 1];
                for (int64_t ow = 0; ow < u->OW; ow++) {
                    int64_t w0 = aw->idx[2 * ow], w1 = aw->idx[2 * ow + 1];
                    double s = 0;
                    for (int64_t d = d0; d < d1; d++)
                        for (int64_t h = h0; h < h1; h++)
                            for (int64_t w = w0; w < w1; w++)
                                s += (double)xp[(d * u->H + h) * u->W + w];
                    yp[(od * u->OH + oh) * u->OW + ow] = (float)(s / (double)((d1 - d0) * (h1 - h0) * (w1 - w0)));
                }
            }
        }
    }
}

typedef struct {
    const up_cfg *c;
    up_dims u;
    const float *x;
    float *y;
    float *work;
    size_t wsize;
    int64_t per; /* planes per task */
} up_job;

/* Task i: planes [i*per, (i+1)*per), with this thread's tables and cache. */
static void up_task(void *arg, int64_t i, int tid)
{
    up_job *J = arg;
    const up_cfg *c = J->c;
    const up_dims *u = &J->u;
    int64_t p0 = i * J->per, p1 = p0 + J->per < u->planes ? p0 + J->per : u->planes;
    float *w = J->work + (size_t)tid * J->wsize;
    int taps = mode_taps(c->mode);
    int64_t ins[3] = {u->D, u->H, u->W}, outs[3] = {u->OD, u->OH, u->OW};
    up_axis ax[3];
    for (int k = 0; k < 3; k++) {
        int sp = k - (3 - u->nd); /* the cfg's spatial index, < 0 for a missing dim */
        int t = sp < 0 ? 1 : taps;
        ax[k] = (up_axis){.in = ins[k], .out = outs[k], .taps = t};
        ax[k].idx = (int32_t *)w;
        w += outs[k] * table_taps(taps);
        ax[k].w = w;
        w += outs[k] * table_taps(taps);
        if (sp < 0) {
            /* a missing dim: one tap of weight 1 (the modes with windows: [0, 1)) */
            ax[k].idx[0] = 0;
            ax[k].idx[1] = 1;
            ax[k].w[0] = 1.0f;
        } else {
            axis_fill(c, u->nd >= 2 && u->C == 1, sp, &ax[k]);
        }
    }
    if (taps == 1)
        nearest_planes(u, ax, J->x, J->y, p0, p1);
    else if (c->mode == M_AREA)
        area_planes(u, ax, J->x, J->y, p0, p1);
    else
        separable_planes(u, ax, w, J->x, J->y, p0, p1);
}

/* Below this many output floats a layer runs on one thread. */
#define UP_PAR_FLOATS (1 << 16)

static SR_FORWARD_FN(up_forward)
{
    (void)err;
    up_job J = {.c = SR_CFG(L, up_cfg), .x = sr_f32(in), .y = sr_f32(out), .work = ctx->work};
    up_dims_get(&in->shape, &out->shape, &J.u);
    J.wsize = up_workspace(L, &in->shape, &out->shape);
    int64_t total = sr_shape_numel(&out->shape);
    if (total == 0)
        return SR_OK;
    int threads = ctx->threads > 1 && total >= UP_PAR_FLOATS ? ctx->threads : 1;
    int64_t tasks = threads > 1 ? 4 * (int64_t)threads : 1;
    if (tasks > J.u.planes)
        tasks = J.u.planes;
    J.per = (J.u.planes + tasks - 1) / tasks;
    tasks = (J.u.planes + J.per - 1) / J.per;
    sr_par_for(threads, tasks, up_task, &J);
    return SR_OK;
}


/* ---- rows ------------------------------------------------------------------------ */

static const sr_argdef a_upsample[] = {
    {"size", T_T | T_N, "None", NULL, 0},
    {"scale_factor", T_F | T_T | T_N, "None", NULL, 0},
    {"mode", T_S, "'nearest'", MODE_CHOICES, 0},
    {"align_corners", T_B | T_N, "None", NULL, 0},
    {"recompute_scale_factor", T_B | T_N, "None", NULL, 0},
};
static const sr_argdef a_upsample2d[] = {
    {"size", T_T | T_N, "None", NULL, 0},
    {"scale_factor", T_F | T_T | T_N, "None", NULL, 0},
};

SR_ROW(Upsample, .summary = "resizes (N, C, L), (N, C, H, W) or (N, C, D, H, W) by size or scale_factor: nearest, "
                            "linear, bilinear, bicubic, trilinear, area, nearest-exact",
       SR_ARGS(a_upsample), .repr = "scale_factor?, size?, mode=!", .variant = UPV_UPSAMPLE,
       .cfg_size = sizeof(up_cfg), .validate = up_validate, .shape = up_shape, .forward = up_forward,
       .workspace = up_workspace);
SR_ROW(UpsamplingNearest2d, .summary = "Upsample with mode='nearest'", SR_ARGS(a_upsample2d),
       .repr = "scale_factor?, size?, \"mode=nearest\"", .variant = UPV_NEAREST2D, .cfg_size = sizeof(up_cfg),
       .validate = up_validate, .shape = up_shape, .forward = up_forward, .workspace = up_workspace);
SR_ROW(UpsamplingBilinear2d, .summary = "Upsample with mode='bilinear', align_corners=True", SR_ARGS(a_upsample2d),
       .repr = "scale_factor?, size?, \"mode=bilinear\"", .variant = UPV_BILINEAR2D, .cfg_size = sizeof(up_cfg),
       .validate = up_validate, .shape = up_shape, .forward = up_forward, .workspace = up_workspace);
