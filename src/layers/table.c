/*
 * table.c - every layer type seqrun knows, as PyTorch 1.13 defines it.
 *
 * Argument lists are PyTorch's constructor signatures in order (device and
 * dtype factory arguments left out), with the defaults spelled as Python
 * spells them, so --help and the man page print the signature a PyTorch user
 * already knows.
 */
#include "layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_I SR_T_INT
#define T_F SR_T_FLOAT
#define T_B SR_T_BOOL
#define T_N SR_T_NONE
#define T_S SR_T_STR
#define T_T SR_T_TUPLE
#define ARGS(a) a, (int)(sizeof a / sizeof *a)
#define NOARGS NULL, 0

static const sr_argdef a_linear[] = {
    {"in_features", T_I, NULL, NULL, 0},
    {"out_features", T_I, NULL, NULL, 0},
    {"bias", T_B, "True", NULL, 0},
};
static const sr_argdef a_lazylinear[] = {
    {"out_features", T_I, NULL, NULL, 0},
    {"bias", T_B, "True", NULL, 0},
};
static const sr_argdef a_flatten[] = {
    {"start_dim", T_I, "1", NULL, 0},
    {"end_dim", T_I, "-1", NULL, 0},
};
static const sr_argdef a_unflatten[] = {
    {"dim", T_I, NULL, NULL, 0},
    {"unflattened_size", T_T, NULL, NULL, 0},
};
static const sr_argdef a_dropout[] = {
    {"p", T_F, "0.5", NULL, 0},
    {"inplace", T_B, "False", NULL, 0},
};
static const sr_argdef a_inplace[] = {{"inplace", T_B, "False", NULL, 0}};
static const sr_argdef a_leaky[] = {
    {"negative_slope", T_F, "0.01", NULL, 0},
    {"inplace", T_B, "False", NULL, 0},
};
static const sr_argdef a_elu[] = {
    {"alpha", T_F, "1.0", NULL, 0},
    {"inplace", T_B, "False", NULL, 0},
};
static const sr_argdef a_gelu[] = {{"approximate", T_S, "'none'", "none|tanh", 0}};
static const sr_argdef a_softplus[] = {
    {"beta", T_F, "1", NULL, 0},
    {"threshold", T_F, "20", NULL, 0},
};
static const sr_argdef a_hardtanh[] = {
    {"min_val", T_F, "-1.0", NULL, 0},
    {"max_val", T_F, "1.0", NULL, 0},
    {"inplace", T_B, "False", NULL, 0},
};
/* PyTorch defaults dim to None and guesses, with a deprecation warning; the
 * contract requires it. */
static const sr_argdef a_softmax[] = {{"dim", T_I, NULL, NULL, 0}};
static const sr_argdef a_layernorm[] = {
    {"normalized_shape", T_T, NULL, NULL, 0},
    {"eps", T_F, "1e-05", NULL, 0},
    {"elementwise_affine", T_B, "True", NULL, 0},
};
static const sr_argdef a_embedding[] = {
    {"num_embeddings", T_I, NULL, NULL, 0},
    {"embedding_dim", T_I, NULL, NULL, 0},
    {"padding_idx", T_I | T_N, "None", NULL, 0},
    {"max_norm", T_F | T_N, "None", NULL, 0},
    {"norm_type", T_F, "2.0", NULL, 0},
    {"scale_grad_by_freq", T_B, "False", NULL, 0},
    {"sparse", T_B, "False", NULL, 0},
};

#define CONV_ARGS(a, n)                                                     \
    static const sr_argdef a[] = {                                          \
        {"in_channels", T_I, NULL, NULL, 0},                                \
        {"out_channels", T_I, NULL, NULL, 0},                               \
        {"kernel_size", T_T, NULL, NULL, n},                                \
        {"stride", T_T, "1", NULL, n},                                      \
        {"padding", T_T | T_S, "0", "same|valid", n},                       \
        {"dilation", T_T, "1", NULL, n},                                    \
        {"groups", T_I, "1", NULL, 0},                                      \
        {"bias", T_B, "True", NULL, 0},                                     \
        {"padding_mode", T_S, "'zeros'", "zeros|reflect|replicate|circular", 0}, \
    }
CONV_ARGS(a_conv1d, 1);
CONV_ARGS(a_conv2d, 2);
#define MAXPOOL_ARGS(a, n)                                                  \
    static const sr_argdef a[] = {                                          \
        {"kernel_size", T_T, NULL, NULL, n},                                \
        {"stride", T_T | T_N, "None", NULL, n},                             \
        {"padding", T_T, "0", NULL, n},                                     \
        {"dilation", T_T, "1", NULL, n},                                    \
        {"return_indices", T_B, "False", NULL, 0},                          \
        {"ceil_mode", T_B, "False", NULL, 0},                               \
    }
MAXPOOL_ARGS(a_maxpool1d, 1);
MAXPOOL_ARGS(a_maxpool2d, 2);
static const sr_argdef a_avgpool1d[] = {
    {"kernel_size", T_T, NULL, NULL, 1},
    {"stride", T_T | T_N, "None", NULL, 1},
    {"padding", T_T, "0", NULL, 1},
    {"ceil_mode", T_B, "False", NULL, 0},
    {"count_include_pad", T_B, "True", NULL, 0},
};
static const sr_argdef a_avgpool2d[] = {
    {"kernel_size", T_T, NULL, NULL, 2},
    {"stride", T_T | T_N, "None", NULL, 2},
    {"padding", T_T, "0", NULL, 2},
    {"ceil_mode", T_B, "False", NULL, 0},
    {"count_include_pad", T_B, "True", NULL, 0},
    {"divisor_override", T_I | T_N, "None", NULL, 0},
};
static const sr_argdef a_adaptiveavg1d[] = {{"output_size", T_T, NULL, NULL, 1}};
static const sr_argdef a_adaptiveavg2d[] = {{"output_size", T_T | SR_T_TNONE, NULL, NULL, 2}};
static const sr_argdef a_adaptivemax1d[] = {
    {"output_size", T_T, NULL, NULL, 1},
    {"return_indices", T_B, "False", NULL, 0},
};
static const sr_argdef a_adaptivemax2d[] = {
    {"output_size", T_T | SR_T_TNONE, NULL, NULL, 2},
    {"return_indices", T_B, "False", NULL, 0},
};
static const sr_argdef a_batchnorm[] = {
    {"num_features", T_I, NULL, NULL, 0},
    {"eps", T_F, "1e-05", NULL, 0},
    {"momentum", T_F | T_N, "0.1", NULL, 0},
    {"affine", T_B, "True", NULL, 0},
    {"track_running_stats", T_B, "True", NULL, 0},
};

/* in_layout, out_layout_ok of a row that takes part in no layouts */
#define NOLAYOUT NULL, NULL
/* apply, affine, channel_dim, fuse and the layout hooks of a row that has none */
#define NOFUSE NULL, NULL, NULL, 0, NOLAYOUT
#define ELEMENTWISE(nm, sum, args, validate, apply) \
    {nm, sum, args, validate, sr_same_shape, NULL, sr_elementwise_forward, NULL, apply, NULL, NULL, 0, NOLAYOUT}

const sr_layertype sr_layer_types[] = {
    {"Linear", "y = x W^T + b over the last dimension", ARGS(a_linear),
     sr_linear_validate, sr_linear_shape, sr_linear_params, sr_linear_forward, NULL,
     NULL, NULL, sr_linear_channel_dim, SR_FUSE_POST | SR_FUSE_AFFINE | SR_WHOLE_BATCH, NOLAYOUT},
    {"LazyLinear", "Linear whose in_features is taken from its input", ARGS(a_lazylinear),
     sr_lazylinear_validate, sr_lazylinear_shape, sr_lazylinear_params, sr_lazylinear_forward, NULL,
     NULL, NULL, sr_linear_channel_dim, SR_FUSE_POST | SR_FUSE_AFFINE | SR_WHOLE_BATCH, NOLAYOUT},
    {"Flatten", "flattens dims start_dim..end_dim into one", ARGS(a_flatten),
     NULL, sr_flatten_shape, NULL, sr_view_forward, NULL, NOFUSE},
    {"Unflatten", "splits dim into unflattened_size", ARGS(a_unflatten),
     sr_unflatten_validate, sr_unflatten_shape, NULL, sr_view_forward, NULL, NOFUSE},
    {"Identity", "passes its input through (any arguments are ignored)", NULL, -1, NULL, sr_same_shape, NULL,
     sr_view_forward, NULL, NOFUSE},
    {"Dropout", "zeroes elements with probability p in training, scales by 1/(1-p)", ARGS(a_dropout),
     sr_dropout_validate, sr_same_shape, NULL, sr_dropout_forward, NULL, NOFUSE},
    ELEMENTWISE("ReLU", "max(0, x)", ARGS(a_inplace), NULL, sr_relu_apply),
    ELEMENTWISE("ReLU6", "min(max(0, x), 6)", ARGS(a_inplace), NULL, sr_relu6_apply),
    ELEMENTWISE("LeakyReLU", "x if x >= 0 else negative_slope * x", ARGS(a_leaky), NULL, sr_leakyrelu_apply),
    ELEMENTWISE("ELU", "x if x > 0 else alpha * (exp(x) - 1)", ARGS(a_elu), NULL, sr_elu_apply),
    ELEMENTWISE("GELU", "x * Phi(x), exact or tanh-approximated", ARGS(a_gelu), NULL, sr_gelu_apply),
    ELEMENTWISE("SiLU", "x * sigmoid(x)", ARGS(a_inplace), NULL, sr_silu_apply),
    ELEMENTWISE("Tanh", "tanh(x)", NOARGS, NULL, sr_tanh_apply),
    ELEMENTWISE("Sigmoid", "1 / (1 + exp(-x))", NOARGS, NULL, sr_sigmoid_apply),
    ELEMENTWISE("Softplus", "log(1 + exp(beta x)) / beta, linear above threshold", ARGS(a_softplus), NULL,
                sr_softplus_apply),
    ELEMENTWISE("Hardtanh", "clamp(x, min_val, max_val)", ARGS(a_hardtanh), sr_hardtanh_validate,
                sr_hardtanh_apply),
    {"Softmax", "exp(x) / sum(exp(x)) along dim", ARGS(a_softmax), NULL, sr_softmax_shape, NULL,
     sr_softmax_forward, NULL, NOFUSE},
    {"LogSoftmax", "log(softmax(x)) along dim", ARGS(a_softmax), NULL, sr_softmax_shape, NULL,
     sr_logsoftmax_forward, NULL, NOFUSE},
    {"LayerNorm", "normalises over the trailing normalized_shape dims", ARGS(a_layernorm),
     sr_layernorm_validate, sr_layernorm_shape, sr_layernorm_params, sr_layernorm_forward, NULL, NOFUSE},
    {"Embedding", "looks up rows of a table by integer index", ARGS(a_embedding),
     sr_embedding_validate, sr_embedding_shape, sr_embedding_params, sr_embedding_forward, NULL, NOFUSE},
    {"Conv1d", "1-D convolution over (N, C, L)", ARGS(a_conv1d),
     sr_conv_validate, sr_conv_shape, sr_conv_params, sr_conv_forward, sr_conv_workspace,
     NULL, NULL, sr_conv_channel_dim, SR_FUSE_POST | SR_FUSE_AFFINE, sr_conv_in_layout, sr_conv_out_layout_ok},
    {"Conv2d", "2-D convolution over (N, C, H, W)", ARGS(a_conv2d),
     sr_conv_validate, sr_conv_shape, sr_conv_params, sr_conv_forward, sr_conv_workspace,
     NULL, NULL, sr_conv_channel_dim, SR_FUSE_POST | SR_FUSE_AFFINE, sr_conv_in_layout, sr_conv_out_layout_ok},
    {"MaxPool1d", "maximum over sliding windows of (N, C, L)", ARGS(a_maxpool1d),
     sr_pool_validate, sr_pool_shape, NULL, sr_maxpool_forward, NULL, NOFUSE},
    {"MaxPool2d", "maximum over sliding windows of (N, C, H, W)", ARGS(a_maxpool2d),
     sr_pool_validate, sr_pool_shape, NULL, sr_maxpool_forward, NULL, NOFUSE},
    {"AvgPool1d", "average over sliding windows of (N, C, L)", ARGS(a_avgpool1d),
     sr_pool_validate, sr_pool_shape, NULL, sr_avgpool_forward, NULL, NOFUSE},
    {"AvgPool2d", "average over sliding windows of (N, C, H, W)", ARGS(a_avgpool2d),
     sr_pool_validate, sr_pool_shape, NULL, sr_avgpool_forward, NULL, NOFUSE},
    {"AdaptiveAvgPool1d", "average pooling to a fixed output length", ARGS(a_adaptiveavg1d),
     sr_adaptive_validate, sr_adaptive_shape, NULL, sr_adaptiveavg_forward, NULL, NOFUSE},
    {"AdaptiveAvgPool2d", "average pooling to a fixed output size (None keeps a dimension)", ARGS(a_adaptiveavg2d),
     sr_adaptive_validate, sr_adaptive_shape, NULL, sr_adaptiveavg_forward, NULL, NOFUSE},
    {"AdaptiveMaxPool1d", "max pooling to a fixed output length", ARGS(a_adaptivemax1d),
     sr_adaptive_validate, sr_adaptive_shape, NULL, sr_adaptivemax_forward, NULL, NOFUSE},
    {"AdaptiveMaxPool2d", "max pooling to a fixed output size (None keeps a dimension)", ARGS(a_adaptivemax2d),
     sr_adaptive_validate, sr_adaptive_shape, NULL, sr_adaptivemax_forward, NULL, NOFUSE},
    {"BatchNorm1d", "normalises each channel of (N, C) or (N, C, L) by batch or running statistics",
     ARGS(a_batchnorm), sr_batchnorm_validate, sr_batchnorm1d_shape, sr_batchnorm_params, sr_batchnorm_forward, NULL,
     NULL, sr_batchnorm_affine, NULL, SR_FUSE_POST, NOLAYOUT},
    {"BatchNorm2d", "normalises each channel of (N, C, H, W) by batch or running statistics",
     ARGS(a_batchnorm), sr_batchnorm_validate, sr_batchnorm2d_shape, sr_batchnorm_params, sr_batchnorm_forward, NULL,
     NULL, sr_batchnorm_affine, NULL, SR_FUSE_POST, NOLAYOUT},
    {"Sequential", "runs the listed layers in order", NOARGS, NULL, sr_sequential_shape, NULL, NULL, NULL, NOFUSE},
};
const int sr_nlayer_types = (int)(sizeof sr_layer_types / sizeof *sr_layer_types);

const sr_layertype *sr_sequential_type(void)
{
    return &sr_layer_types[sr_nlayer_types - 1];
}

const sr_layertype *sr_layertype_find(const char *name)
{
    /* "nn.Linear" and "torch.nn.Linear" are how a PyTorch user may write it */
    if (strncmp(name, "torch.", 6) == 0)
        name += 6;
    if (strncmp(name, "nn.", 3) == 0)
        name += 3;
    for (int i = 0; i < sr_nlayer_types; i++)
        if (strcmp(sr_layer_types[i].name, name) == 0)
            return &sr_layer_types[i];
    return NULL;
}

const char *sr_layertype_suggest(const char *name)
{
    const char *names[128];
    int n = sr_nlayer_types < 128 ? sr_nlayer_types : 128;
    for (int i = 0; i < n; i++)
        names[i] = sr_layer_types[i].name;
    return sr_closest(name, names, n);
}

int sr_arg_index(const sr_layertype *t, const char *name)
{
    for (int i = 0; i < t->nargs; i++)
        if (strcmp(t->args[i].name, name) == 0)
            return i;
    return -1;
}

void sr_arg_tuple(const sr_layer *L, int k, int n, int64_t *out)
{
    const sr_argval *v = &L->arg[k];
    for (int i = 0; i < n; i++)
        out[i] = v->kind == SR_AV_TUPLE ? (i < v->n ? v->t[i] : v->t[v->n - 1]) : v->i;
}

void sr_argval_parse_default(const char *def, sr_argval *v)
{
    memset(v, 0, sizeof *v);
    if (!strcmp(def, "None")) {
        v->kind = SR_AV_NONE;
    } else if (!strcmp(def, "True") || !strcmp(def, "False")) {
        v->kind = SR_AV_BOOL;
        v->i = def[0] == 'T';
    } else if (def[0] == '\'') {
        v->kind = SR_AV_STR;
        snprintf(v->s, sizeof v->s, "%.*s", (int)strlen(def) - 2, def + 1);
    } else if (strpbrk(def, ".e")) {
        v->kind = SR_AV_FLOAT;
        v->f = strtod(def, NULL);
    } else {
        v->kind = SR_AV_INT;
        v->i = strtoll(def, NULL, 10);
        v->f = (double)v->i;
    }
}

/* A float as Python's repr() writes it: the shortest digits that read back
 * to the same double, positional from 1e-4 to 1e16 with ".0" when whole,
 * scientific otherwise ("1e-05"). */
static void py_float(double f, char *buf, size_t len)
{
    if (f != f) {
        snprintf(buf, len, "nan");
        return;
    }
    if (f == 1.0 / 0.0 || f == -1.0 / 0.0) {
        snprintf(buf, len, f > 0 ? "inf" : "-inf");
        return;
    }
    char e[40];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, f);
        if (strtod(e, NULL) == f)
            break;
    }
    snprintf(e, sizeof e, "%.*e", prec - 1, f);
    int exp = atoi(strchr(e, 'e') + 1);
    if (exp < -4 || exp >= 16) {
        /* "1.5e-05": C already writes at least two exponent digits */
        char *m = e, *x = strchr(e, 'e');
        *x = '\0';
        snprintf(buf, len, "%se%c%s", m, x[1], x + 2);
        return;
    }
    int dec = prec - 1 - exp;
    snprintf(buf, len, "%.*f", dec > 0 ? dec : 0, f);
    if (!strchr(buf, '.') && strlen(buf) + 2 < len)
        strcat(buf, ".0");
}

void sr_argval_repr(const sr_argval *v, char *buf, size_t len)
{
    switch (v->kind) {
    case SR_AV_NONE: snprintf(buf, len, "None"); break;
    case SR_AV_BOOL: snprintf(buf, len, v->i ? "True" : "False"); break;
    case SR_AV_INT: snprintf(buf, len, "%lld", (long long)v->i); break;
    case SR_AV_FLOAT: py_float(v->f, buf, len); break;
    case SR_AV_STR: snprintf(buf, len, "'%s'", v->s); break;
    case SR_AV_TUPLE: {
        size_t k = (size_t)snprintf(buf, len, "(");
        for (int i = 0; i < v->n && k < len; i++) {
            if (v->tnone[i])
                k += (size_t)snprintf(buf + k, len - k, "%sNone", i ? ", " : "");
            else
                k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? ", " : "", (long long)v->t[i]);
        }
        if (k < len)
            snprintf(buf + k, len - k, v->n == 1 ? ",)" : ")");
        break;
    }
    }
}

static int argval_eq(const sr_argval *a, const sr_argval *b)
{
    if (a->kind != b->kind)
        return a->kind == SR_AV_FLOAT && b->kind == SR_AV_INT ? a->f == b->f
             : a->kind == SR_AV_INT && b->kind == SR_AV_FLOAT ? a->f == b->f : 0;
    switch (a->kind) {
    case SR_AV_NONE: return 1;
    case SR_AV_BOOL: case SR_AV_INT: return a->i == b->i;
    case SR_AV_FLOAT: return a->f == b->f;
    case SR_AV_STR: return !strcmp(a->s, b->s);
    case SR_AV_TUPLE: return a->n == b->n && !memcmp(a->t, b->t, sizeof a->t) && !memcmp(a->tnone, b->tnone, sizeof a->tnone);
    }
    return 0;
}

/*
 * How each type's extra_repr() prints, as data: PyTorch's reprs differ per
 * class in which arguments they show (positionally, always, or only when
 * not the default) and whether they widen an int to a tuple first.  Items,
 * comma-separated:
 *     #name      the value alone, positionally
 *     name=      always, as name=value
 *     name?      only when it differs from the default
 *     :N         suffix: an int is shown as an N-tuple (Conv2d's (3, 3))
 *     |other     suffix: None shows other's value (a pool's stride)
 *     !          suffix: a string without quotes (Conv's str.format)
 *     @lazy      LazyLinear's in_features, once materialised (else 0)
 * A type not listed shows every argument that differs from its default.
 */
static const struct {
    const char *type, *fmt;
} repr_fmt[] = {
    {"Linear", "in_features=, out_features=, bias="},
    {"LazyLinear", "@lazy, out_features=, bias="},
    {"Flatten", "start_dim=, end_dim="},
    {"Unflatten", "dim=, unflattened_size="},
    {"Identity", ""},
    {"Dropout", "p=, inplace="},
    {"ReLU", "inplace?"},
    {"ReLU6", "inplace?"},
    {"SiLU", "inplace?"},
    {"LeakyReLU", "negative_slope=, inplace?"},
    {"ELU", "alpha=, inplace?"},
    {"GELU", "approximate="},
    {"Tanh", ""},
    {"Sigmoid", ""},
    {"Softplus", "beta=, threshold="},
    {"Hardtanh", "min_val=, max_val=, inplace?"},
    {"Softmax", "dim="},
    {"LogSoftmax", "dim="},
    {"LayerNorm", "#normalized_shape:1, eps=, elementwise_affine="},
    {"Embedding", "#num_embeddings, #embedding_dim, padding_idx?, max_norm?, norm_type?, scale_grad_by_freq?, sparse?"},
    {"Conv1d", "#in_channels, #out_channels, kernel_size=:1, stride=:1, padding?:1!, dilation?:1, groups?, bias?, padding_mode?!"},
    {"Conv2d", "#in_channels, #out_channels, kernel_size=:2, stride=:2, padding?:2!, dilation?:2, groups?, bias?, padding_mode?!"},
    {"MaxPool1d", "kernel_size=, stride=|kernel_size, padding=, dilation=, ceil_mode="},
    {"MaxPool2d", "kernel_size=, stride=|kernel_size, padding=, dilation=, ceil_mode="},
    {"AvgPool1d", "kernel_size=:1, stride=:1|kernel_size, padding=:1"},
    {"AvgPool2d", "kernel_size=, stride=|kernel_size, padding="},
    {"AdaptiveAvgPool1d", "output_size="},
    {"AdaptiveAvgPool2d", "output_size="},
    {"AdaptiveMaxPool1d", "output_size="},
    {"AdaptiveMaxPool2d", "output_size="},
    {"BatchNorm1d", "#num_features, eps=, momentum=, affine=, track_running_stats="},
    {"BatchNorm2d", "#num_features, eps=, momentum=, affine=, track_running_stats="},
};

/* An int widened to an n-tuple, as PyTorch's _pair/_single store it. */
static sr_argval widen(sr_argval v, int n)
{
    if (n > 0 && v.kind == SR_AV_INT) {
        int64_t x = v.i;
        memset(&v, 0, sizeof v);
        v.kind = SR_AV_TUPLE;
        v.n = n;
        for (int k = 0; k < n; k++)
            v.t[k] = x;
    }
    return v;
}

static size_t repr_item(const sr_layer *L, const char *it, size_t il, int *first, char *buf, size_t len)
{
    const sr_layertype *t = L->type;
    char name[40], alt[40] = "";
    int positional = 0, when_set = 0, raw = 0, n = 0;
    if (il >= 5 && !strncmp(it, "@lazy", 5)) {
        size_t w = (size_t)snprintf(buf, len, "%sin_features=%lld", *first ? "" : ", ",
                                    (long long)(L->lazy_in < 0 ? 0 : L->lazy_in));
        *first = 0;
        return w;
    }
    if (*it == '#')
        positional = 1, it++, il--;
    size_t k = 0;
    while (k < il && (it[k] == '_' || (it[k] >= 'a' && it[k] <= 'z')) && k + 1 < sizeof name)
        name[k] = it[k], k++;
    name[k] = '\0';
    for (; k < il; k++) {
        if (it[k] == '?')
            when_set = 1;
        else if (it[k] == '!')
            raw = 1;
        else if (it[k] == ':')
            n = atoi(it + k + 1);
        else if (it[k] == '|') {
            size_t a = 0;
            for (k++; k < il && a + 1 < sizeof alt && it[k] != ':'; k++)
                alt[a++] = it[k];
            alt[a] = '\0';
            k--;
        }
    }
    int ai = sr_arg_index(t, name);
    if (ai < 0)
        return 0;
    sr_argval v = L->arg[ai];
    if (v.kind == SR_AV_NONE && alt[0] && sr_arg_index(t, alt) >= 0)
        v = L->arg[sr_arg_index(t, alt)];
    v = widen(v, n);
    if (when_set && t->args[ai].def) {
        sr_argval dv;
        sr_argval_parse_default(t->args[ai].def, &dv);
        dv = widen(dv, n);
        if (argval_eq(&dv, &v))
            return 0;
    }
    char vs[160];
    if (raw && v.kind == SR_AV_STR)
        snprintf(vs, sizeof vs, "%s", v.s);
    else
        sr_argval_repr(&v, vs, sizeof vs);
    size_t w = (size_t)snprintf(buf, len, "%s%s%s%s", *first ? "" : ", ", positional ? "" : name,
                                positional ? "" : "=", vs);
    *first = 0;
    return w;
}

/* "Linear(in_features=2048, out_features=128, bias=True)" */
void sr_layer_repr(const sr_layer *L, char *buf, size_t len)
{
    const sr_layertype *t = L->type;
    size_t k = (size_t)snprintf(buf, len, "%s(", t->name);
    int first = 1;
    const char *fmt = NULL;
    for (size_t i = 0; i < sizeof repr_fmt / sizeof *repr_fmt; i++)
        if (!strcmp(repr_fmt[i].type, t->name))
            fmt = repr_fmt[i].fmt;
    if (fmt) {
        while (*fmt && k < len) {
            size_t il = strcspn(fmt, ",");
            k += repr_item(L, fmt, il, &first, buf + k, len - k);
            fmt += il;
            while (*fmt == ',' || *fmt == ' ')
                fmt++;
        }
    } else {
        for (int i = 0; i < t->nargs && k < len; i++) {
            char v[96];
            const sr_argdef *d = &t->args[i];
            if (d->def) {
                sr_argval dv;
                sr_argval_parse_default(d->def, &dv);
                if (argval_eq(&dv, &L->arg[i]))
                    continue;
            }
            sr_argval_repr(&L->arg[i], v, sizeof v);
            k += (size_t)snprintf(buf + k, len - k, "%s%s=%s", first ? "" : ", ", d->name, v);
            first = 0;
        }
    }
    if (k < len)
        snprintf(buf + k, len - k, ")");
}

void sr_layertype_signature(const sr_layertype *t, char *buf, size_t len)
{
    if (t->nargs < 0) {
        snprintf(buf, len, "%s(*args, **kwargs)", t->name);
        return;
    }
    size_t k = (size_t)snprintf(buf, len, "%s(", t->name);
    for (int i = 0; i < t->nargs && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%s%s%s", i ? ", " : "", t->args[i].name,
                              t->args[i].def ? "=" : "", t->args[i].def ? t->args[i].def : "");
    if (k < len)
        snprintf(buf + k, len - k, ")");
}

/* ---- helpers shared by the shape rules ------------------------------------ */

int sr_norm_dim(int64_t dim, int ndim)
{
    if (dim < -ndim || dim >= ndim)
        return -1;
    return (int)(dim < 0 ? dim + ndim : dim);
}

const char *sr_from(const sr_shapeinfo *info, int input_too, char *buf, size_t len)
{
    if (info->prev)
        snprintf(buf, len, " (from %s)", info->prev);
    else
        snprintf(buf, len, "%s", input_too ? " (from the model's input)" : "");
    return buf;
}

int64_t sr_prod(const sr_shape *s, int a, int b)
{
    int64_t p = 1;
    for (int i = a; i < b; i++)
        p *= s->d[i];
    return p;
}
