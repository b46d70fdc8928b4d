/*
 * lazynorm.c - LazyBatchNorm1d/2d/3d and LazyInstanceNorm1d/2d/3d: the norm
 * with num_features taken from the first input, as PyTorch 1.13's
 * _LazyNormBase does.
 *
 * Each row runs the full type's hooks on a view of the layer with
 * num_features (the materialised size, L->lazy_in) put in front of its
 * arguments.  As in PyTorch, num_features is input.shape[1] whatever the
 * input's rank -- for an unbatched InstanceNorm input (C, L) that is L, not
 * C, which PyTorch then rejects -- and a lazy norm without weights and
 * running statistics has nothing to materialise, so it stays at 0 and
 * takes any channel count.  The lazy InstanceNorms' defaults are
 * _LazyNormBase's: affine=True, track_running_stats=True (InstanceNorm's
 * own are False).
 */
#include "layers.h"

#include <stdio.h>
#include <string.h>

/* the lazy rows' arguments: BatchNorm's without num_features */
enum { LZ_EPS, LZ_MOMENTUM, LZ_AFFINE, LZ_TRACK, LZ_NARGS };

enum { LZN_BN1D, LZN_BN2D, LZN_BN3D, LZN_IN1D, LZN_IN2D, LZN_IN3D };

typedef struct {
    const sr_layertype *full; /* the type it becomes */
    const sr_layertype *view; /* the full type's hooks and arguments, the lazy type's name */
} lazynorm_kind;

static const lazynorm_kind lazynorm_kinds[6];

static const lazynorm_kind *kind_of(const sr_layer *L) { return &lazynorm_kinds[L->type->variant]; }
static int materialises(const sr_layer *L) { return sr_argi(L, LZ_AFFINE) || sr_argi(L, LZ_TRACK); }

/* V: L as its full type, with num_features = nf in front of its arguments. */
static void lazynorm_view(const sr_layer *L, int64_t nf, sr_layer *V)
{
    *V = *L;
    V->type = kind_of(L)->view;
    memset(&V->arg[0], 0, sizeof V->arg[0]);
    V->arg[0].kind = SR_AV_INT;
    V->arg[0].i = nf;
    V->arg[0].f = (double)nf;
    memcpy(&V->arg[1], &L->arg[0], LZ_NARGS * sizeof L->arg[0]);
}

static int64_t lazynorm_nf(const sr_layer *L) { return L->lazy_in > 0 && materialises(L) ? L->lazy_in : 0; }

static SR_VALIDATE_FN(lazynorm_validate)
{
    sr_layer V;
    lazynorm_view(L, 1, &V);
    return kind_of(L)->full->validate(&V, err);
}

static SR_SHAPE_FN(lazynorm_shape)
{
    const char *nm = L->type->name;
    int64_t nf = 0, seen = in->ndim >= 2 ? in->d[1] : -1;
    /* weights or running statistics to materialise: input.shape[1] fixes
     * num_features; else it stays 0, never read */
    if (materialises(L))
        nf = seen >= 0 ? sr_lazy_size(L, info, seen) : L->lazy_in > 0 ? L->lazy_in : 0;
    sr_layer V;
    lazynorm_view(L, nf, &V);
    sr_status st = kind_of(L)->full->shape(&V, in, out, info, err);
    if (st == SR_OK || seen < 0 || !materialises(L))
        return st;
    char src[256];
    sr_from(info, 1, src, sizeof src);
    int in_kind = L->type->variant >= LZN_IN1D;
    int nd = L->type->variant - (in_kind ? LZN_IN1D : LZN_BN1D) + 1;
    if (in_kind && in->ndim == nd + 1 && in->d[0] != seen)
        return sr_err(err, SR_ESHAPE, "%s takes num_features from dim 1 of its input, as PyTorch 1.13 does even for "
                      "unbatched input, so unbatched input %s%s gives it %lld features for its %lld channels; hint: use "
                      "InstanceNorm%dd(%lld) for unbatched input, or give it a batch dimension", nm, sr_shp(in), src,
                      (long long)seen, (long long)in->d[0], nd, (long long)in->d[0]);
    if (seen != nf)
        return sr_err(err, SR_ESHAPE, "%s took num_features=%lld from its first input, but input %s%s has %lld "
                      "channels; hint: a lazy module keeps the num_features it first saw: use a separate %s for this "
                      "input", nm, (long long)nf, sr_shp(in), src, (long long)seen, nm);
    return st;
}

static SR_PARAMS_FN(lazynorm_params)
{
    sr_layer V;
    lazynorm_view(L, lazynorm_nf(L), &V);
    return kind_of(L)->full->params(&V, p);
}

static SR_FORWARD_FN(lazynorm_forward)
{
    sr_layer V;
    lazynorm_view(L, lazynorm_nf(L), &V);
    return kind_of(L)->full->forward(&V, in, out, ctx, err);
}

static int64_t lazynorm_affine(const sr_layer *L, int training, double *scale, double *shift)
{
    const sr_layertype *F = kind_of(L)->full;
    sr_layer V;
    lazynorm_view(L, lazynorm_nf(L), &V);
    return F->affine ? F->affine(&V, training, scale, shift) : 0;
}

static int lazynorm_channel_dim(const sr_layer *L, const sr_shape *s)
{
    const sr_layertype *F = kind_of(L)->full;
    sr_layer V;
    lazynorm_view(L, lazynorm_nf(L), &V);
    return F->channel_dim ? F->channel_dim(&V, s) : 1;
}

/* ---- rows ----------------------------------------------------------------- */

/* the full types' arguments (BatchNorm's order), for the views */
static const sr_argdef a_vbn[] = {
    {"num_features", T_I, NULL, NULL, 0},
    {"eps", T_F, "1e-05", NULL, 0},
    {"momentum", T_F | T_N, "0.1", NULL, 0},
    {"affine", T_B, "True", NULL, 0},
    {"track_running_stats", T_B, "True", NULL, 0},
};
/* _LazyNormBase's defaults, for every lazy norm */
static const sr_argdef a_lazynorm[LZ_NARGS] = {
    [LZ_EPS] = {"eps", T_F, "1e-05", NULL, 0},
    [LZ_MOMENTUM] = {"momentum", T_F | T_N, "0.1", NULL, 0},
    [LZ_AFFINE] = {"affine", T_B, "True", NULL, 0},
    [LZ_TRACK] = {"track_running_stats", T_B, "True", NULL, 0},
};

/* the views' variant is the full row's (InstanceNorm's spatial dims) */
#define VIEW(nm, var) \
    {.id = SR_L_##nm, .name = #nm, .args = a_vbn, .nargs = (int)(sizeof a_vbn / sizeof *a_vbn), .variant = var}
static const sr_layertype v_bn1d = VIEW(LazyBatchNorm1d, 0), v_bn2d = VIEW(LazyBatchNorm2d, 0),
                          v_bn3d = VIEW(LazyBatchNorm3d, 0), v_in1d = VIEW(LazyInstanceNorm1d, 1),
                          v_in2d = VIEW(LazyInstanceNorm2d, 2), v_in3d = VIEW(LazyInstanceNorm3d, 3);

static const lazynorm_kind lazynorm_kinds[6] = {
    [LZN_BN1D] = {&sr_row_BatchNorm1d, &v_bn1d},       [LZN_BN2D] = {&sr_row_BatchNorm2d, &v_bn2d},
    [LZN_BN3D] = {&sr_row_BatchNorm3d, &v_bn3d},       [LZN_IN1D] = {&sr_row_InstanceNorm1d, &v_in1d},
    [LZN_IN2D] = {&sr_row_InstanceNorm2d, &v_in2d},    [LZN_IN3D] = {&sr_row_InstanceNorm3d, &v_in3d},
};

#define LAZYNORM_ROW(nm, sum, kind, aff)                                                                    \
    SR_ROW(nm, .summary = sum, SR_ARGS(a_lazynorm),                                                         \
           .repr = "#@lazy, eps=, momentum=, affine=, track_running_stats=",                                \
           .flags = SR_FUSE_POST | SR_LF_TRAIN_STATE | SR_LF_LAZY, .variant = kind,                         \
           .validate = lazynorm_validate, .shape = lazynorm_shape, .params = lazynorm_params,               \
           .forward = lazynorm_forward, .affine = aff, .channel_dim = lazynorm_channel_dim)
LAZYNORM_ROW(LazyBatchNorm1d, "BatchNorm1d whose num_features is taken from its input", LZN_BN1D, lazynorm_affine);
LAZYNORM_ROW(LazyBatchNorm2d, "BatchNorm2d whose num_features is taken from its input", LZN_BN2D, lazynorm_affine);
LAZYNORM_ROW(LazyBatchNorm3d, "BatchNorm3d whose num_features is taken from its input", LZN_BN3D, lazynorm_affine);
/* folded like InstanceNorm's, where its channels are dim 1 (in_channel_dim) */
LAZYNORM_ROW(LazyInstanceNorm1d, "InstanceNorm1d whose num_features is taken from dim 1 of its input", LZN_IN1D,
             lazynorm_affine);
LAZYNORM_ROW(LazyInstanceNorm2d, "InstanceNorm2d whose num_features is taken from dim 1 of its input", LZN_IN2D,
             lazynorm_affine);
LAZYNORM_ROW(LazyInstanceNorm3d, "InstanceNorm3d whose num_features is taken from dim 1 of its input", LZN_IN3D,
             lazynorm_affine);
