/*
 * layer.h - the layer table: what every layer type is, in one place.
 *
 * A layer type is one row (an sr_layertype, defined with SR_ROW in its
 * family's file under src/layers/) and one line in src/layers/layers.def,
 * which gives it its id (SR_L_Name) and its place in sr_layer_types[].  A
 * row holds the PyTorch name, the constructor arguments in PyTorch's order
 * with accepted types and defaults, the printed (repr) form, capability
 * flags, and the hooks: validate (arguments), shape, params (parameters and
 * buffers with state_dict names and default initialisation), forward, and
 * the executor's optional ones (workspace, apply, affine, fold, layouts,
 * prepare and release).
 * The spec parser, the shape checker, the runner, --help, --list-layers,
 * the man page and the exporter all read that table, so adding a layer is
 * one row and one kernel in one file, and one line in layers.def.
 */
#ifndef SR_LAYER_H
#define SR_LAYER_H

#include <stdint.h>
#include "common.h"
#include "tensor.h"

#define SR_MAXARGS 12
#define SR_MAXPARAMS 8

/* Every layer type's id, in layers.def's order: SR_L_Linear, ... */
typedef enum {
#define SR_LAYER(name) SR_L_##name,
#include "layers/layers.def"
#undef SR_LAYER
    SR_L_COUNT
} sr_layer_id;

/* ---- argument values ---------------------------------------------------- */

typedef enum { SR_AV_NONE, SR_AV_INT, SR_AV_FLOAT, SR_AV_BOOL, SR_AV_STR, SR_AV_TUPLE } sr_avkind;

typedef struct {
    sr_avkind kind;
    int64_t i;                  /* INT, BOOL (0/1) */
    double f;                   /* FLOAT; also set for INT */
    char s[24];                 /* STR */
    int n;                      /* TUPLE length */
    int64_t t[SR_MAXDIM];       /* TUPLE items */
    uint8_t tnone[SR_MAXDIM];   /* TUPLE item is None (AdaptiveAvgPool2d((None, 7))) */
    /* Tuples of an argument that also takes SR_T_FLOAT may hold numbers
     * (Upsample's scale_factor=(2.0, 1.5)): every item's value is in tf
     * (t holds ints only), and tfloat says the tuple prints as floats. */
    double tf[SR_MAXDIM];
    uint8_t tfloat;
} sr_argval;

/* Accepted kinds, as a bit mask. */
enum {
    SR_T_INT = 1 << 0,
    SR_T_FLOAT = 1 << 1,  /* an int is accepted and converted */
    SR_T_BOOL = 1 << 2,
    SR_T_STR = 1 << 3,    /* one of choices */
    SR_T_NONE = 1 << 4,
    SR_T_TUPLE = 1 << 5,  /* a sequence of ints (an int alone stands for all);
                             with SR_T_FLOAT, of numbers (sr_argval.tf) */
    SR_T_TNONE = 1 << 6   /* tuple items may be None */
};

typedef struct {
    const char *name;
    unsigned types;
    const char *def;      /* Python spelling of the default; NULL = required */
    const char *choices;  /* SR_T_STR: "a|b|c" */
    int tlen;             /* SR_T_TUPLE: required length, 0 = any */
} sr_argdef;

/* ---- parameters and buffers --------------------------------------------- */

/* torch.nn.init schemes (used by defaults and by the spec's init:). */
typedef enum {
    SR_INIT_ZEROS, SR_INIT_ONES, SR_INIT_CONSTANT, SR_INIT_UNIFORM, SR_INIT_NORMAL,
    SR_INIT_XAVIER_UNIFORM, SR_INIT_XAVIER_NORMAL,
    SR_INIT_KAIMING_UNIFORM, SR_INIT_KAIMING_NORMAL, SR_INIT_TRUNC_NORMAL
} sr_initkind;

typedef struct {
    sr_initkind kind;
    double a, b;          /* uniform(a, b); normal(mean=a, std=b); constant(a);
                             xavier gain=a; kaiming a=a; trunc_normal mean, std */
    double c, d;          /* trunc_normal bounds */
    int fan_out;          /* kaiming mode: 0 fan_in, 1 fan_out */
    double gain;          /* kaiming: gain from nonlinearity (computed) */
} sr_init;

typedef struct {
    const char *name;     /* state_dict suffix: "weight", "running_mean" */
    sr_shape shape;
    sr_dtype dtype;
    int buffer;           /* 1: a buffer, not counted by parameters() */
    sr_init init;         /* PyTorch's reset_parameters() for this tensor */
    int64_t zero_row;     /* >= 0: default init zeroes this row (padding_idx) */
} sr_paramdecl;

/* ---- modules ------------------------------------------------------------ */

typedef struct sr_layer sr_layer;
typedef struct sr_layertype sr_layertype;

typedef struct {
    sr_layer *mod;
    int line, col;        /* where this occurrence's list item starts */
} sr_child;

struct sr_layer {
    const sr_layertype *type;
    sr_argval arg[SR_MAXARGS];
    int line, col;        /* the defining list item */
    int nparam;
    sr_paramdecl decl[SR_MAXPARAMS];
    sr_tensor param[SR_MAXPARAMS];
    sr_child *child;      /* Sequential */
    int nchild;
    int index;            /* in the model's mods[] */
    /* Lazy layers (SR_LF_LAZY): the input size the first input fixed
     * (in_features, in_channels), set by sr_shapes_materialise() after shape
     * inference; -1 before.  Shape rules never write it. */
    int64_t lazy_in;
    void *cfg;            /* the type's typed arguments (cfg_size bytes), filled
                             once by validate(); NULL for types without one */
    int visited;          /* scratch for walks over the shared-module graph */
};

/* ---- shape rules --------------------------------------------------------- */

typedef struct {
    /* out: */
    int out_known;        /* on error: out still holds a usable guess */
    int batch_dim0;       /* dim 0 of in and out is an independent batch dim */
    char *warn;           /* NULL, or where a rule that accepts its input may
                             leave a warning in its errors' form ("what; hint:
                             how", at most SR_ERRLEN bytes; "" is none): shape
                             inference reports it at the layer, once, as an
                             SR_SEV_WARNING diagnostic (not shown under -q) */
    /* in: */
    const char *prev;     /* "layer 3 (Conv2d)" that produced the input, or NULL */
    int in_integer;       /* the input holds integer indices (first layer only) */
    const char *in_batch; /* dim 0 of the input is the model input's free batch
                             dimension, by this name ("N"), so an input one dim
                             short is a batch that lacks a dim, not one unbatched
                             sample; NULL: dim 0 may be anything */
    int training;
    /* Lazy layers: this pass's materialised input size for the module
     * (starts as L->lazy_in; the rule sets it from the first input it
     * sees), or NULL outside a pass, where the rule uses L->lazy_in or,
     * if that is unset, the input's own size. */
    int64_t *lazy;
} sr_shapeinfo;

/* ---- execution ------------------------------------------------------------ */

/*
 * A layer's own input layout, which the layer before it can write directly
 * instead of the dense one (sr_layertype.in_layout): a convolution's input
 * padded, and for stride 2 split into column phases, so that it need not
 * copy its input into that shape itself.  Element (n, c, h, w) of the dense
 * input lies at
 *     n*sample + c*chan + (h + top)*row + ((w + left) % phases)*phase + (w + left) / phases
 * and nothing else of a sample is written by the producer: the consumer
 * fills the rest (its padding).  `slack` floats after the last sample
 * belong to the consumer too.
 */
typedef struct {
    int64_t sample, chan, row, phase, top, left, slack;
    int phases;           /* 1 or 2 */
} sr_layout;

typedef struct {
    int training;
    uint64_t seed;
    int64_t sample0;      /* index of this chunk's first sample in the record */
    uint64_t layer_key;   /* hash of the executing occurrence's path */
    uint64_t pass_key;    /* differs per record, so masks differ between passes */
    float *work;          /* scratch: threads x the size workspace() asked */
    size_t work_len;
    int threads;          /* worker threads forward() may use (sr_par_for); 0 or 1: one */
    /* Fusion, set by the executor for producers (types with fuse flags);
     * zero in a plain call, which must then behave as the layer alone. */
    const sr_layer *post; /* SR_FUSE_POST: elementwise layer to apply to the output */
    const float *weight;  /* SR_FUSE_AFFINE: folded param[0] and bias replacing the */
    const float *bias;    /* layer's own (bias non-NULL even if the layer has none) */
    void **cache;         /* per-occurrence slot for what prepare() built (packed
                             weights), freed by release(); NULL: none (forward
                             then builds what it needs privately) */
    /* Layouts, set by the executor inside micro-batched runs (zero elsewhere): */
    const sr_layout *out_layout; /* write the output in this layout (only when
                                    out_layout_ok said so), not dense */
    int in_laid_out;      /* the input is in this layer's in_layout(); forward()
                             writes its padding and slack there itself */
} sr_ctx;

/* Capability flags (sr_layertype.flags). */
enum {
    SR_FUSE_POST = 1 << 0,   /* applies ctx->post to its output (sr_post) */
    SR_FUSE_AFFINE = 1 << 1, /* uses ctx->weight / ctx->bias: a following per-channel
                                affine map (eval BatchNorm) folded into it by its
                                fold hook */
    SR_WHOLE_BATCH = 1 << 2, /* one GEMM over the whole batch: run it on whole chunks
                                (its rounding may depend on the batch size); every
                                other type gives each sample the same bits whatever
                                the batch, so the executor may run it on parts */
    SR_LF_INDEX_INPUT = 1 << 3, /* takes integer indices (Embedding): as the first
                                   layer, integer input is fed to it unconverted */
    SR_LF_CONTAINER = 1 << 4,   /* holds other layers (Sequential); no kernel */
    SR_LF_LAZY = 1 << 5,        /* an input size comes from the first input (lazy_in) */
    SR_LF_TRAIN_STATE = 1 << 6, /* --train updates its buffers (running statistics) */
    SR_LF_RANDOM = 1 << 7       /* --train draws random numbers (Dropout) from --seed */
};

struct sr_layertype {
    sr_layer_id id;       /* its line in layers.def; sr_layer_types[id] is this row */
    const char *name;     /* PyTorch's class name */
    const char *summary;  /* one line for --help and the man page */
    const sr_argdef *args;
    int nargs;            /* -1: takes and ignores anything, as nn.Identity(*args, **kwargs) */
    /*
     * How PyTorch's extra_repr() prints it, as data: items, comma-separated:
     *     #name      the value alone, positionally
     *     name=      always, as name=value
     *     name?      only when it differs from the default
     *     :N         suffix: an int is shown as an N-tuple (Conv2d's (3, 3))
     *     |other     suffix: None shows other's value (a pool's stride)
     *     !          suffix: a string without quotes (Conv's str.format)
     *     @lazy=NAME the materialised lazy size as NAME= (0 before)
     *     #@lazy     the same, positionally (a lazy Conv's in_channels)
     *     "text"     text as it is (UpsamplingNearest2d's fixed mode=nearest)
     * NULL: every argument that differs from its default, as name=value.
     */
    const char *repr;
    unsigned flags;       /* SR_FUSE_*, SR_WHOLE_BATCH, SR_LF_* */
    int variant;          /* the family's own: which member of it this row is
                             (a pool's kind, say), read by its shared hooks */
    size_t cfg_size;      /* bytes of the typed config validate() fills (L->cfg) */
    /* Checks argument values beyond their types (required-ness and types are
     * checked by the parser) and, with cfg_size, fills L->cfg from them.
     * err gets "what is wrong; hint: ...". */
    sr_status (*validate)(sr_layer *L, char *err);
    /* Output shape for an input shape.  On mismatch: SR_ESHAPE, a message
     * "what is wrong; hint: ..." in err, and info->out_known if out is still
     * a sensible guess for checking the layers after it.  Layers are not
     * changed by their shape rule (lazy sizes go to info->lazy). */
    sr_status (*shape)(const sr_layer *L, const sr_shape *in, sr_shape *out,
                       sr_shapeinfo *info, char *err);
    /* Parameters and buffers in state_dict order; returns their count. */
    int (*params)(const sr_layer *L, sr_paramdecl *p);
    /* out->data is preallocated for out->shape (or the kernel may point it at
     * in->data for a pure view).  Must not fail on shape; may fail on data
     * (an Embedding index out of range). */
    sr_status (*forward)(sr_layer *L, const sr_tensor *in, sr_tensor *out,
                         sr_ctx *ctx, char *err);
    /* Floats of scratch forward() needs per thread, or NULL for none. */
    size_t (*workspace)(const sr_layer *L, const sr_shape *in, const sr_shape *out);
    /* Elementwise layers: y[i] = f(x[i]) for i < n (x == y allowed).  A
     * producer with SR_FUSE_POST that this layer follows applies it to its
     * own output while that is in cache; the executor skips the node. */
    void (*apply)(const sr_layer *L, const float *x, float *y, size_t n);
    /* Layers that are, in this mode, a per-channel affine map over dim 1,
     * y = x * scale[c] + shift[c] (eval BatchNorm): fill scale and shift
     * (C each; both NULL: only asks) and return C; 0 when it is not
     * (training, batch statistics). */
    int64_t (*affine)(const sr_layer *L, int training, double *scale, double *shift);
    /* Producers (SR_FUSE_AFFINE): the output dimension that holds its output
     * channels, for an output of this shape; an affine layer is folded in
     * when that is dim 1, where it acts. */
    int (*channel_dim)(const sr_layer *L, const sr_shape *out);
    /* Producers (SR_FUSE_AFFINE): folds y = x * scale[c] + shift[c] over its
     * output channels into copies of its weight (param[0], w: as many floats)
     * and bias (b: C floats; the layer may have none).  Called with scale
     * NULL it only returns C, its output channel count; else C, or 0 when it
     * cannot fold (the executor then runs the affine layer alone).  Each
     * layer knows which weight axis holds its output channels
     * (sr_fold_out_rows: dim 0, as Linear and Conv store them). */
    int64_t (*fold)(const sr_layer *P, const double *scale, const double *shift, float *w, float *b);
    /* Consumers: 1 and *lay filled when forward() can take its input (of
     * this shape) already laid out so, with ctx->in_laid_out; else 0. */
    int (*in_layout)(const sr_layer *L, const sr_shape *in, sr_layout *lay);
    /* Producers: 1 when forward() on this input, with `post` fused (or
     * NULL), writes its output in a layout given in ctx->out_layout. */
    int (*out_layout_ok)(const sr_layer *L, const sr_shape *in, const sr_layer *post);
    /* Lifecycle (ncnn's create_pipeline / destroy_pipeline).  prepare runs
     * on the executor's thread before a chunk's threads start, once per
     * plan (the node's fusion, its folded weights in ctx->weight/bias and
     * the input shape its calls will see): it builds what forward() needs
     * beyond the parameters (weights packed for its kernel) into
     * *ctx->cache, so that forward() on every thread only reads it.  What it
     * builds must not depend on the batch dimension (a run's last
     * micro-batch is shorter).  forward() still works without it (a plain
     * call from a test builds privately): prepare changes when, not what. */
    sr_status (*prepare)(const sr_layer *L, const sr_shape *in, sr_ctx *ctx, char *err);
    /* Frees a cache slot prepare() (or forward()) filled; NULL: free(). */
    void (*release)(void *cache);
};

/* For producers: applies the fused elementwise layer, if any, to y[0..n). */
static inline void sr_post(const sr_ctx *ctx, float *y, size_t n)
{
    if (ctx->post)
        ctx->post->type->apply(ctx->post, y, y, n);
}

/* The rows, defined in the family files: sr_row_Linear, ... */
#define SR_LAYER(name) extern const sr_layertype sr_row_##name;
#include "layers/layers.def"
#undef SR_LAYER

/* sr_layer_types[id] is the row of layer id, in layers.def's order. */
extern const sr_layertype *const sr_layer_types[SR_L_COUNT];
#define sr_nlayer_types ((int)SR_L_COUNT)

const sr_layertype *sr_layertype_find(const char *name);
/* The closest known type name by edit distance (case-insensitive), or NULL. */
const char *sr_layertype_suggest(const char *name);
int sr_arg_index(const sr_layertype *t, const char *name);
static inline int sr_is_container(const sr_layer *L) { return (L->type->flags & SR_LF_CONTAINER) != 0; }

/* Argument access for kernels (by index in the type's args). */
static inline int64_t sr_argi(const sr_layer *L, int k) { return L->arg[k].i; }
static inline double sr_argf(const sr_layer *L, int k) { return L->arg[k].f; }
static inline int sr_arg_is_none(const sr_layer *L, int k) { return L->arg[k].kind == SR_AV_NONE; }
/* Tuple argument expanded to n items (an int repeats). */
void sr_arg_tuple(const sr_layer *L, int k, int n, int64_t *out);

/* A layer built by hand (tests, benchmarks): type t with its default
 * arguments and an empty typed config; 0, or -1 when out of memory.  Set
 * arguments, then call t->validate.  sr_layer_clear frees what it holds. */
int sr_layer_init(sr_layer *L, const sr_layertype *t);
void sr_layer_clear(sr_layer *L);

/* "Linear(in_features=2048, out_features=128, bias=True)" */
void sr_layer_repr(const sr_layer *L, char *buf, size_t len);
void sr_argval_repr(const sr_argval *v, char *buf, size_t len);
/* "Linear(in_features, out_features, bias=True)" */
void sr_layertype_signature(const sr_layertype *t, char *buf, size_t len);

/* Parses a default's Python spelling ("True", "1e-05", "None", "'zeros'",
 * "(1, 1)") into v. */
void sr_argval_parse_default(const char *def, sr_argval *v);

#endif
