/*
 * check.c - the --check report: one row per layer with its PyTorch repr,
 * input and output shape, parameter count and mult-adds (torchinfo's
 * columns), then totals; as a text table, as one JSON object, or as a
 * Graphviz graph.  With weights (-w or the spec's weights:) it checks
 * them as the run would load them, loading nothing.
 */
#include "check.h"
#include "json.h"
#include "layers/layers.h"
#include "shape.h"
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Size for a free dimension nobody gave a size.  1 makes no size in a
 * message a product with a batch by coincidence; which layers are wrong
 * sr_infer_free decides at two other sizes.  Reports print the dim by name. */
#define FREE_PLACEHOLDER 1

/* The input as --check sees it. */
typedef struct {
    sr_shape shape;
    int integer;
    int free_dim;           /* -1: none */
    char free_name[32];     /* "" prints the free dim as a number */
    int64_t batch;          /* the input's real batch size, 0 if unknown */
    int placeholder;        /* the free dim's size is FREE_PLACEHOLDER */
    int concrete;           /* every size is the data's (a file, or --input-shape
                               without -1): the table prints numbers, as torchinfo */
    const char *source;     /* "file", "--input-shape" or "input:" */
    int contradicted;       /* the data contradicts input:; checked as it is */
} check_input;

static int first_leaf(const sr_model *m)
{
    for (int i = 0; i < m->nnode; i++)
        if (sr_node_is_leaf(&m->node[i]))
            return i;
    return -1;
}

/* Without data there is no dtype: assume what the first layer takes. */
static int wants_integer(const sr_model *m)
{
    int f = first_leaf(m);
    return f >= 0 && (m->node[f].mod->type->flags & SR_LF_INDEX_INPUT);
}

/* The spec's named dimension, when the input has input:'s rank. */
static void spec_free(const sr_model *m, check_input *ci)
{
    if (m->has_input && m->input_free >= 0 && ci->shape.ndim == m->input.ndim) {
        ci->free_dim = m->input_free;
        snprintf(ci->free_name, sizeof ci->free_name, "%s", m->input_free_name);
    } else {
        ci->free_dim = ci->shape.ndim >= 1 ? 0 : -1;
        ci->free_name[0] = '\0';
    }
}

static void spec_input(const sr_model *m, const sr_runopts *o, check_input *ci)
{
    memset(ci, 0, sizeof *ci);
    ci->source = "input:";
    ci->shape = m->input;
    ci->integer = wants_integer(m);
    spec_free(m, ci);
    if (ci->free_dim >= 0 && m->input_free >= 0) {
        ci->shape.d[ci->free_dim] = o->batch_size ? o->batch_size : FREE_PLACEHOLDER;
        ci->placeholder = !o->batch_size;
    } else {
        ci->batch = ci->free_dim >= 0 ? ci->shape.d[ci->free_dim] : 0;
        ci->concrete = 1; /* input: [3, 28, 28] names no dimension */
    }
}

/* input: as written: "[N, 3, 32, 32]". */
static char *spec_input_str(const sr_model *m, char *buf, size_t len)
{
    size_t k = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < m->input.ndim && k < len; i++) {
        if (i == m->input_free)
            k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? ", " : "", m->input_free_name);
        else
            k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? ", " : "", (long long)m->input.d[i]);
    }
    if (k < len)
        snprintf(buf + k, len - k, "]");
    return buf;
}

/*
 * INPUT's header, --input-shape, or the spec's input:, in that order.  A
 * shape from data or the command line must agree with input:; when it
 * does not, the contradiction is reported and the model is checked with
 * the data as it is, so the report shows every layer where the data
 * breaks.  A -1 in --input-shape with no data is a free dimension:
 * input:'s size there if it fixes one, else the batch, named as input:
 * names it (or N).
 */
static sr_status get_input(sr_model *m, const sr_runopts *o, check_input *ci, sr_diags *d)
{
    char err[SR_ERRLEN];
    memset(ci, 0, sizeof *ci);
    ci->free_dim = -1;
    if (o->input) {
        sr_input in;
        sr_status st = sr_input_open(&in, m, o, err);
        if (st == SR_OK) {
            ci->shape = in.h.shape;
            ci->integer = in.h.is_integer;
        } else {
            sr_diag_add(d, "%s", err);
        }
        sr_input_close(&in);
        if (st != SR_OK)
            return st;
        spec_free(m, ci);
        ci->batch = ci->free_dim >= 0 ? ci->shape.d[ci->free_dim] : 0;
        ci->concrete = 1;
    } else if (o->has_input_shape) {
        ci->shape = o->input_shape;
        ci->integer = wants_integer(m);
        int neg = -1;
        for (int i = 0; i < ci->shape.ndim; i++)
            if (ci->shape.d[i] == -1)
                neg = i;
        int same_rank = m->has_input && m->input.ndim == ci->shape.ndim;
        if (neg >= 0 && same_rank && neg != m->input_free) {
            ci->shape.d[neg] = m->input.d[neg];
            neg = -1;
        }
        if (neg >= 0) {
            ci->free_dim = neg;
            snprintf(ci->free_name, sizeof ci->free_name, "%s", same_rank ? m->input_free_name : "N");
            ci->shape.d[neg] = o->batch_size ? o->batch_size : FREE_PLACEHOLDER;
            ci->placeholder = !o->batch_size;
        } else {
            spec_free(m, ci);
            ci->batch = ci->free_dim >= 0 ? ci->shape.d[ci->free_dim] : 0;
            ci->concrete = 1;
        }
    } else {
        spec_input(m, o, ci);
        return SR_OK; /* input: agrees with itself */
    }
    ci->source = o->input ? "file" : "--input-shape";
    sr_status st = sr_check_input(m, &ci->shape, err);
    if (st != SR_OK) {
        sr_diag_at(d, SR_SEV_ERROR, m->label, m->input_line, m->input_col, NULL, NULL, "%s", err);
        ci->contradicted = 1;
    }
    return st;
}

/* ---- numbers ------------------------------------------------------------ */

/* "1,048,832" */
static char *commas(int64_t v, char *buf, size_t len)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v);
    size_t k = 0;
    if (v < 0 && k + 1 < len)
        buf[k++] = '-';
    for (int i = 0; i < n && k + 2 < len; i++) {
        if (i && (n - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = '\0';
    return buf;
}

/* Parameters of one module, as parameters() counts them; -1 past 64 bits
 * (*which: the parameter whose size overflows, or -1 for the sum). */
static int64_t layer_params(const sr_layer *L, int *which)
{
    int64_t n = 0;
    if (which)
        *which = -1;
    for (int k = 0; k < L->nparam; k++) {
        if (L->decl[k].buffer)
            continue;
        int64_t e = sr_shape_numel(&L->decl[k].shape);
        if (e < 0) {
            if (which)
                *which = k;
            return -1;
        }
        if (__builtin_add_overflow(n, e, &n))
            return -1;
    }
    return n;
}

/* Parameters of node i's subtree, each module once, as PyTorch's
 * sub.parameters() counts them; -1 past 64 bits. */
static int64_t subtree_params(sr_model *m, int i)
{
    for (int k = 0; k < m->nmods; k++)
        m->mods[k]->visited = 0;
    int64_t n = 0;
    for (int j = i; j < m->nnode && (j == i || m->node[j].depth > m->node[i].depth); j++) {
        sr_layer *L = m->node[j].mod;
        if (!sr_node_is_leaf(&m->node[j]) || L->visited)
            continue;
        L->visited = 1;
        int64_t p = layer_params(L, NULL);
        if (p < 0 || __builtin_add_overflow(n, p, &n))
            return -1;
    }
    return n;
}

/* The node holding the first occurrence of node i's module. */
static int first_occurrence(const sr_model *m, int i)
{
    for (int j = 0; j < m->nnode; j++)
        if (m->node[j].mod == m->node[i].mod && m->node[j].first)
            return j;
    return i;
}

/* The last node of node i's subtree (i itself for a leaf). */
static int subtree_end(const sr_model *m, int i)
{
    int j = i + 1;
    while (j < m->nnode && m->node[j].depth > m->node[i].depth)
        j++;
    return j - 1;
}

/* prod of a shape's dims in [from, to) into *acc, in 64 bits; 0 on overflow */
static int mul_dims(const sr_shape *s, int from, int to, int64_t *acc)
{
    for (int k = from; k < to && k < s->ndim; k++)
        if (s->d[k] < 0 || __builtin_mul_overflow(*acc, s->d[k], acc))
            return 0;
    return 1;
}

/*
 * Mult-adds of one call, as torchinfo (1.8) counts them from the module's
 * parameters and its output: a parameter named weight or bias costs its
 * size times the output's dim 0 (the batch), or for a convolution
 * ("Conv" in the class name: Conv*, ConvTranspose*, their Lazy forms)
 * times dim 0 and every spatial output dim; other parameters with weight
 * or bias in the name (RNNCell's weight_ih) cost their size times dims 0
 * and 1.  Layers without parameters (activations, pools) count 0.
 * Returns -1 past 64 bits.
 */
static int64_t layer_macs(const sr_layer *L, const sr_shape *out)
{
    int conv = strstr(L->type->name, "Conv") != NULL;
    int64_t o0 = 1, sp = 1, o01 = 1, macs = 0;
    if (!mul_dims(out, 0, 1, &o0) || !mul_dims(out, 0, 2, &o01))
        return -1;
    sp = o0;
    if (conv && !mul_dims(out, 2, out->ndim, &sp))
        return -1;
    for (int k = 0; k < L->nparam; k++) {
        const sr_paramdecl *pd = &L->decl[k];
        if (pd->buffer)
            continue;
        int64_t n = sr_shape_numel(&pd->shape), f, c;
        if (n < 0)
            return -1;
        if (!strcmp(pd->name, "weight") || !strcmp(pd->name, "bias"))
            f = conv ? sp : o0;
        else if (strstr(pd->name, "weight") || strstr(pd->name, "bias"))
            f = o01;
        else
            continue;
        if (__builtin_mul_overflow(n, f, &c) || __builtin_add_overflow(macs, c, &macs))
            return -1;
    }
    return macs;
}

/* k*b + c elements of each dim, multiplied; -1 past 64 bits */
static int64_t sym_numel(const sr_symshape *s, int64_t b)
{
    sr_shape at = sr_symshape_at(s, b);
    for (int k = 0; k < at.ndim; k++)
        if (at.d[k] < 0)
            at.d[k] = 0;
    int64_t n = 1;
    return mul_dims(&at, 0, at.ndim, &n) ? n : -1;
}

typedef struct {
    int64_t params;     /* leaf: its module's; container: its subtree's, each
                           module once; -1: past 64 bits */
    int64_t macs;       /* this call's mult-adds (a container: its leaves'); -1 unknown */
    int shown;          /* text and dot: a row of its own */
    int folded;         /* a shown container whose rows are folded into it */
    int bad_inside;     /* a folded container: its first mismatching leaf, or -1 */
} nodeinfo;

typedef struct {
    int64_t params;         /* -1: past 64 bits */
    int64_t param_bytes, buffer_bytes;
    int64_t batch;          /* the batch size memory is counted for */
    int64_t peak;           /* bytes */
    int peak_node;          /* where it occurs, -1 if nowhere */
    int partial;            /* some layers' shapes are unknown */
    int batched;            /* the input has a batch dim to scale by */
    int64_t macs;           /* every call's, as torchinfo sums them; -1 past 64 bits */
    int64_t macs_batch;     /* the batch they are counted at */
    int macs_symbolic;      /* ... which is not the data's: say so */
    int noverflow;          /* sizes past 64 bits reported */
    /* weights */
    const char *weights;    /* the file checked, or NULL */
    int wtensors, wproblems, wchecked;
    char wskipped[SR_PATHLEN + 64]; /* layers whose keys were not checked */
} totals;

/* Everything a report is drawn from. */
typedef struct {
    sr_model *m;
    const sr_shapes *S;     /* NULL: no shapes (the input's shape is unknown) */
    const check_input *ci;
    const sr_checkopts *c;
    const sr_diags *d;
    totals t;
    nodeinfo *ni;
    const char *name;       /* the free dim's printed name, "" for numbers */
    int64_t b;              /* its size */
} report;

static void overflow_at(report *R, int i, const char *fmt, const char *what)
{
    const sr_node *nd = &R->m->node[i];
    char msg[SR_ERRLEN];
    snprintf(msg, sizeof msg, fmt, what);
    sr_diag_at((sr_diags *)R->d, SR_SEV_ERROR, R->m->label, nd->line, nd->col, nd->path, nd->mod->type->name, "%s",
               msg);
    R->t.noverflow++;
}

/* Parameter counts and bytes, each module once; every count past 64 bits
 * is a located error, at the layer where it passes. */
static void param_totals(report *R)
{
    sr_model *m = R->m;
    totals *t = &R->t;
    t->peak_node = -1;
    int64_t params = 0;
    int povf = 0, bovf = 0;
    for (int i = 0; i < m->nnode; i++) {
        const sr_node *nd = &m->node[i];
        if (!nd->first || !sr_node_is_leaf(nd))
            continue;
        const sr_layer *L = nd->mod;
        int which;
        int64_t p = layer_params(L, &which);
        if (p < 0) {
            char what[256], s[160];
            if (which >= 0)
                snprintf(what, sizeof what, "its parameter %s %s has more elements than a tensor can hold (the count "
                         "overflows 64-bit sizes)", L->decl[which].name,
                         sr_shape_str(&L->decl[which].shape, s, sizeof s));
            else
                snprintf(what, sizeof what, "its parameter count overflows 64 bits");
            overflow_at(R, i, "%s; hint: check the sizes in its arguments", what);
            povf = bovf = 1;
            continue;
        }
        if (!povf && __builtin_add_overflow(params, p, &params)) {
            overflow_at(R, i, "the model's parameter count passes 2^63 here (more than %s); hint: check the sizes "
                        "in the layers' arguments", "9,223,372,036,854,775,807");
            povf = 1;
        }
        for (int k = 0; k < L->nparam && !bovf; k++) {
            int64_t e = sr_shape_numel(&L->decl[k].shape), b;
            int64_t *acc = L->decl[k].buffer ? &t->buffer_bytes : &t->param_bytes;
            if (e < 0 || __builtin_mul_overflow(e, (int64_t)sr_dtype_size(L->decl[k].dtype), &b) ||
                __builtin_add_overflow(*acc, b, acc)) {
                if (!povf)
                    overflow_at(R, i, "the model's %s bytes pass 2^63 here; hint: check the sizes in the layers' "
                                "arguments", L->decl[k].buffer ? "buffer" : "parameter");
                bovf = 1;
            }
        }
    }
    t->params = povf ? -1 : params;
    if (bovf)
        t->param_bytes = t->buffer_bytes = -1;
}

/* Which rows the text and dot reports show (--depth), and each node's
 * parameters and mult-adds. */
static void node_numbers(report *R)
{
    sr_model *m = R->m;
    const sr_shapes *S = R->S;
    int depth = R->c->depth;
    int64_t mb = S->free_size; /* the batch the input has, or --batch-size, or 1 */
    int macs_bad = R->t.params < 0; /* sizes past 64 bits already reported */
    for (int i = 0; i < m->nnode; i++) {
        const sr_node *nd = &m->node[i];
        nodeinfo *ni = &R->ni[i];
        int leaf = sr_node_is_leaf(nd);
        ni->shown = depth < 0 || nd->depth < depth;
        ni->folded = !leaf && ni->shown && depth >= 0 && nd->depth == depth - 1 && subtree_end(m, i) > i;
        ni->bad_inside = -1;
        ni->params = leaf ? layer_params(nd->mod, NULL) : subtree_params(m, i);
        ni->macs = -1;
        if (leaf && S->node[i].known) {
            sr_shape out = sr_symshape_at(&S->node[i].sout, mb);
            ni->macs = layer_macs(nd->mod, &out);
            if (ni->macs < 0 && !macs_bad) {
                overflow_at(R, i, "its mult-adds pass 2^63 (%s); hint: check the sizes in its arguments",
                            "more than torchinfo's counts can hold");
                macs_bad = 1;
            }
        }
    }
    /* containers: their leaves' sums, known or not */
    for (int i = m->nnode - 1; i >= 0; i--) {
        if (sr_node_is_leaf(&m->node[i]))
            continue;
        int64_t sum = 0;
        int known = 1;
        for (int j = i + 1; j <= subtree_end(m, i); j++) {
            if (!sr_node_is_leaf(&m->node[j]))
                continue;
            if (S->node[j].bad && R->ni[i].bad_inside < 0)
                R->ni[i].bad_inside = j;
            if (R->ni[j].macs < 0 || __builtin_add_overflow(sum, R->ni[j].macs, &sum))
                known = 0;
        }
        R->ni[i].macs = known ? sum : -1;
    }
    totals *t = &R->t;
    t->macs = 0;
    t->macs_batch = mb;
    t->macs_symbolic = !R->ci->concrete && S->free_dim >= 0;
    for (int i = 0; i < m->nnode; i++) {
        if (!sr_node_is_leaf(&m->node[i]))
            continue;
        if (R->ni[i].macs < 0) {
            if (!S->node[i].known)
                t->partial = 1;
            else
                t->macs = -1;
            continue;
        }
        if (t->macs >= 0 && __builtin_add_overflow(t->macs, R->ni[i].macs, &t->macs)) {
            t->macs = -1;
            if (!macs_bad)
                overflow_at(R, i, "the model's mult-adds pass 2^63 here (%s); hint: check the sizes in the layers' "
                            "arguments", "more than torchinfo's counts can hold");
            macs_bad = 1;
        }
    }
}

/* Peak activation memory: the largest input plus output of one layer,
 * since a forward pass holds both at once and nothing older. */
static void memory_totals(report *R, const sr_runopts *o)
{
    sr_model *m = R->m;
    const sr_shapes *S = R->S;
    const check_input *ci = R->ci;
    totals *t = &R->t;
    int64_t real = ci->batch ? ci->batch : 1;
    t->batch = o->batch_size && (!ci->batch || o->batch_size < ci->batch) ? o->batch_size : real;
    t->peak_node = -1;
    t->batched = S->free_name[0] || S->batch_dim0;
    int f = first_leaf(m), reported = 0;
    for (int i = 0; i < m->nnode; i++) {
        if (!sr_node_is_leaf(&m->node[i]))
            continue;
        const sr_nodeshape *ns = &S->node[i];
        if (!ns->known) {
            t->partial = 1;
            continue;
        }
        int64_t isz = i == f && S->in_integer ? 8 : 4;
        int64_t a = sym_numel(&ns->sin, t->batch), z = sym_numel(&ns->sout, t->batch), b;
        if (a < 0 || z < 0 || __builtin_mul_overflow(a, isz, &a) || __builtin_mul_overflow(z, 4, &z) ||
            __builtin_add_overflow(a, z, &b)) {
            if (!reported++) {
                char bs[48];
                snprintf(bs, sizeof bs, "%lld", (long long)t->batch);
                overflow_at(R, i, "its input and output at batch size %s take more bytes than 64-bit sizes count; "
                            "hint: use a smaller --batch-size", bs);
            }
            continue;
        }
        if (b > t->peak) {
            t->peak = b;
            t->peak_node = i;
        }
    }
}

/* "64.3 KiB", or "" below 1 KiB where the byte count says it all. */
static const char *human(int64_t b, char *buf, size_t len)
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    buf[0] = '\0';
    if (b < 1024)
        return buf;
    double v = (double)b / 1024;
    int u = 0;
    while (v >= 1024 && u < 5)
        v /= 1024, u++;
    snprintf(buf, len, "%.1f %s", v, unit[u]);
    return buf;
}

/* " (1.23 M)" for counts of a million and more, as torchinfo's units */
static const char *count_units(int64_t v, char *buf, size_t len)
{
    buf[0] = '\0';
    if (v >= 1000000000000LL)
        snprintf(buf, len, " (%.2f T)", (double)v / 1e12);
    else if (v >= 1000000000LL)
        snprintf(buf, len, " (%.2f G)", (double)v / 1e9);
    else if (v >= 1000000LL)
        snprintf(buf, len, " (%.2f M)", (double)v / 1e6);
    return buf;
}

static char *shape_of(const report *R, const sr_symshape *s, char *buf, size_t len)
{
    return sr_symshape_str(s, R->name, R->b, buf, len);
}

/* ---- text --------------------------------------------------------------- */

enum { C_INDEX, C_LAYER, C_IN, C_OUT, C_PARAMS, C_MACS, C_NOTE, NCELL };

typedef struct {
    char cell[NCELL][512];
} row;

static int col_of(int bit)
{
    return bit == SR_COL_INPUT ? C_IN : bit == SR_COL_OUTPUT ? C_OUT : bit == SR_COL_PARAMS ? C_PARAMS : C_MACS;
}

static void text_report(report *R, FILE *out)
{
    sr_model *m = R->m;
    const sr_shapes *S = R->S;
    const check_input *ci = R->ci;
    const totals *t = &R->t;
    char a[192], b[192];
    if (ci->contradicted)
        fprintf(out, "note: the input %s does not match the spec's input: %s (see stderr); shapes below are for "
                "the input as given\n", sr_shp(&ci->shape), spec_input_str(m, b, sizeof b));
    int nrow = m->nnode + 1;
    row *r = calloc((size_t)nrow, sizeof *r);
    if (!r)
        return;
    snprintf(r[0].cell[C_LAYER], sizeof r[0].cell[C_LAYER], "input");
    shape_of(R, &S->sym_in, r[0].cell[C_OUT], sizeof r[0].cell[C_OUT]);
    for (int i = 0; i < m->nnode; i++) {
        const sr_node *nd = &m->node[i];
        const sr_nodeshape *ns = &S->node[i];
        const nodeinfo *ni = &R->ni[i];
        char(*w)[512] = r[i + 1].cell;
        if (!ni->shown)
            continue;
        int leaf = sr_node_is_leaf(nd);
        snprintf(w[C_INDEX], 512, "%*s%s", 2 * nd->depth, "", nd->path);
        if (leaf)
            sr_layer_repr(nd->mod, w[C_LAYER], 512);
        else
            snprintf(w[C_LAYER], 512, "Sequential");
        if (ns->in_known)
            shape_of(R, &ns->sin, w[C_IN], 512);
        else
            snprintf(w[C_IN], 512, "?");
        if (ns->known)
            shape_of(R, &ns->sout, w[C_OUT], 512);
        else
            snprintf(w[C_OUT], 512, "?");
        if (!leaf && !ni->folded) {
            w[C_PARAMS][0] = w[C_MACS][0] = '\0';
            continue;
        }
        if (!nd->first)
            snprintf(w[C_PARAMS], 512, "(recursive)");
        else if (ni->params < 0)
            snprintf(w[C_PARAMS], 512, "overflow");
        else
            commas(ni->params, w[C_PARAMS], 512);
        if (ni->macs >= 0)
            commas(ni->macs, w[C_MACS], 512);
        else
            snprintf(w[C_MACS], 512, "?");
        if (leaf && ns->bad)
            snprintf(w[C_NOTE], 512, ns->known ? "<- mismatch; later layers checked with this shape"
                                               : "<- mismatch; later layers not checked");
        else if (!leaf && ni->bad_inside >= 0)
            snprintf(w[C_NOTE], 512, "<- mismatch in layer %s (folded; see stderr)", m->node[ni->bad_inside].path);
        if (!nd->first && !w[C_NOTE][0])
            snprintf(w[C_NOTE], 512, "shared with layer %s, counted once", m->node[first_occurrence(m, i)].path);
    }
    /* the columns asked for, in their order */
    int cols[NCELL], nc = 0;
    cols[nc++] = C_INDEX;
    cols[nc++] = C_LAYER;
    for (int k = 0; k < R->c->ncol; k++)
        cols[nc++] = col_of(R->c->col_order[k]);
    static const char *const head[NCELL] = {"index", "layer", "input shape", "output shape", "params", "mult-adds", ""};
    static const int right[NCELL] = {0, 0, 0, 0, 1, 1, 0};
    int wd[NCELL];
    for (int k = 0; k < NCELL; k++)
        wd[k] = (int)strlen(head[k]);
    for (int i = 0; i < nrow; i++) {
        if (i && !R->ni[i - 1].shown)
            continue;
        for (int k = 0; k < NCELL; k++) {
            int l = (int)strlen(r[i].cell[k]);
            wd[k] = l > wd[k] ? l : wd[k];
        }
    }
    char line[4096];
    for (int i = -1; i < nrow; i++) {
        if (i > 0 && !R->ni[i - 1].shown)
            continue;
        size_t n = 0;
        for (int k = 0; k < nc && n < sizeof line; k++) {
            int c = cols[k];
            const char *v = i < 0 ? head[c] : r[i].cell[c];
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%*s", k ? "  " : "", right[c] ? wd[c] : -wd[c], v);
        }
        if (i >= 0 && r[i].cell[C_NOTE][0] && n < sizeof line)
            n += (size_t)snprintf(line + n, sizeof line - n, "  %s", r[i].cell[C_NOTE]);
        if (n >= sizeof line)
            n = sizeof line - 1;
        while (n && line[n - 1] == ' ')
            line[--n] = '\0';
        fprintf(out, "%s\n", line);
    }
    free(r);
    char h[48];
    if (S->nbad + ci->contradicted)
        fprintf(out, "shape mismatches: %d (details on stderr)\n", S->nbad + ci->contradicted);
    if (t->noverflow)
        fprintf(out, "sizes past 64 bits: %d (details on stderr)\n", t->noverflow);
    if (t->weights) {
        if (!t->wchecked)
            fprintf(out, "weights: %s: not checked (see stderr)\n", t->weights);
        else if (t->wproblems)
            fprintf(out, "weights: %s: %d problem%s (details on stderr)\n", t->weights, t->wproblems,
                    t->wproblems == 1 ? "" : "s");
        else
            fprintf(out, "weights: %s: %d tensor%s, every key matches the model%s%s\n", t->weights, t->wtensors,
                    t->wtensors == 1 ? "" : "s", t->wskipped[0] ? "; not checked: " : "", t->wskipped);
    }
    if (t->macs >= 0) {
        char at[64] = "";
        if (t->macs_symbolic)
            snprintf(at, sizeof at, " at batch size %lld", (long long)t->macs_batch);
        fprintf(out, "total mult-adds: %s%s%s%s\n", commas(t->macs, a, sizeof a), count_units(t->macs, h, sizeof h), at,
                t->partial ? "; layers of unknown shape not counted" : "");
    }
    human(t->param_bytes, h, sizeof h);
    if (t->param_bytes < 0)
        fprintf(out, "parameter bytes: overflow (more than 9223372036854775807)\n");
    else
        fprintf(out, "parameter bytes: %lld (%s%sfloat32)\n", (long long)t->param_bytes, h, h[0] ? ", " : "");
    if (t->buffer_bytes > 0) {
        human(t->buffer_bytes, h, sizeof h);
        fprintf(out, "buffer bytes: %lld%s%s%s\n", (long long)t->buffer_bytes, h[0] ? " (" : "", h, h[0] ? ")" : "");
    }
    if (t->peak_node >= 0) {
        char at[64] = "";
        if (t->batched)
            snprintf(at, sizeof at, " at batch size %lld", (long long)t->batch);
        human(t->peak, h, sizeof h);
        fprintf(out, "peak activation memory: %lld bytes%s%s%s%s, at layer %s (its input + output)%s\n",
                (long long)t->peak, h[0] ? " (" : "", h, h[0] ? ")" : "", at, m->node[t->peak_node].path,
                t->partial ? "; layers of unknown shape not counted" : "");
    }
    if (t->params >= 0) {
        fprintf(out, "trainable params: %s\n", commas(t->params, a, sizeof a));
        fprintf(out, "non-trainable params: 0 (a spec freezes no parameter; buffers are not parameters)\n");
        fprintf(out, "total params: %lld\n", (long long)t->params);
    } else {
        fprintf(out, "total params: overflow (more than 9223372036854775807; see stderr)\n");
    }
}

/* ---- JSON --------------------------------------------------------------- */

static void json_shape(FILE *out, const sr_symshape *s, const char *name, int64_t b)
{
    fputc('[', out);
    for (int k = 0; k < s->ndim; k++) {
        if (k)
            fputs(", ", out);
        sr_symshape one = {.ndim = 1, .k = {s->k[k]}, .c = {s->c[k]}};
        char buf[64];
        sr_symshape_str(&one, name, b, buf, sizeof buf);
        buf[strlen(buf) - 1] = '\0'; /* drop the brackets */
        if (s->k[k] && name[0])
            sr_json_str(out, buf + 1);
        else
            fputs(buf + 1, out);
    }
    fputc(']', out);
}

static void json_int(FILE *out, int64_t v)
{
    if (v < 0)
        fputs("null", out);
    else
        fprintf(out, "%lld", (long long)v);
}

/* One diagnostic as JSON: its fields, as found. */
static void json_diag(FILE *out, const sr_diag *g)
{
    static const char *const sev[] = {"error", "warning", "note"};
    fputs("    {\"file\": ", out);
    sr_json_str(out, g->file);
    if (g->line > 0)
        fprintf(out, ", \"line\": %d, \"col\": %d", g->line, g->col);
    else
        fputs(", \"line\": null, \"col\": null", out);
    fputs(", \"layer\": ", out);
    sr_json_str(out, g->layer);
    fputs(", \"type\": ", out);
    sr_json_str(out, g->type);
    fputs(", \"message\": ", out);
    sr_json_str(out, g->msg);
    fputs(", \"hint\": ", out);
    sr_json_str(out, g->hint);
    fputs(", \"severity\": ", out);
    sr_json_str(out, sev[g->sev]);
    fputc('}', out);
}

/* One layer object per line, so line tools can pick them out.  Every
 * layer is listed whatever --depth says (each has its depth). */
static void json_report(report *R, FILE *out)
{
    sr_model *m = R->m;
    const sr_shapes *S = R->S;
    const check_input *ci = R->ci;
    const totals *t = &R->t;
    const sr_diags *d = R->d;
    const char *name = S ? R->name : "";
    int64_t b = S ? R->b : 1;
    fputs("{\n  \"file\": ", out);
    sr_json_str(out, m->label);
    fputs(",\n  \"input_shape\": ", out);
    if (S)
        json_shape(out, &S->sym_in, name, b);
    else
        fputs("null", out);
    fputs(",\n  \"input_from\": ", out);
    sr_json_str(out, S ? ci->source : NULL);
    fprintf(out, ",\n  \"input_concrete\": %s", S && ci->concrete ? "true" : "false");
    fprintf(out, ",\n  \"input_contradicts_spec\": %s", ci->contradicted ? "true" : "false");
    fputs(",\n  \"batch_dim\": ", out);
    if (S && S->free_dim >= 0 && S->free_name[0]) {
        fprintf(out, "{\"index\": %d, \"name\": ", S->free_dim);
        sr_json_str(out, S->free_name);
        fputc('}', out);
    } else {
        fputs("null", out);
    }
    fputs(",\n  \"layers\": [", out);
    for (int i = 0; S && i < m->nnode; i++) {
        const sr_node *nd = &m->node[i];
        const sr_nodeshape *ns = &S->node[i];
        const nodeinfo *ni = &R->ni[i];
        int leaf = sr_node_is_leaf(nd);
        char repr[512];
        if (leaf)
            sr_layer_repr(nd->mod, repr, sizeof repr);
        else
            snprintf(repr, sizeof repr, "Sequential");
        fputs(i ? ",\n    {\"index\": " : "\n    {\"index\": ", out);
        sr_json_str(out, nd->path);
        fprintf(out, ", \"depth\": %d, \"type\": ", nd->depth);
        sr_json_str(out, nd->mod->type->name);
        fputs(", \"repr\": ", out);
        sr_json_str(out, repr);
        fprintf(out, ", \"line\": %d, \"col\": %d, \"input_shape\": ", nd->line, nd->col);
        if (ns->in_known)
            json_shape(out, &ns->sin, name, b);
        else
            fputs("null", out);
        fputs(", \"output_shape\": ", out);
        if (ns->known)
            json_shape(out, &ns->sout, name, b);
        else
            fputs("null", out);
        fputs(", \"params\": ", out);
        json_int(out, ni->params);
        fputs(", \"trainable_params\": ", out);
        json_int(out, ni->params);
        fputs(", \"mult_adds\": ", out);
        json_int(out, ni->macs);
        fprintf(out, ", \"shared\": %s, \"recursive\": %s, \"shared_with\": ", nd->first ? "false" : "true",
                nd->first ? "false" : "true");
        if (nd->first)
            fputs("null", out);
        else
            sr_json_str(out, m->node[first_occurrence(m, i)].path);
        fprintf(out, ", \"status\": \"%s\"}", ns->bad ? "mismatch" : ns->known ? "ok" : "unknown");
    }
    fputs(S && m->nnode ? "\n  ],\n  \"diagnostics\": [" : "],\n  \"diagnostics\": [", out);
    for (int i = 0; i < d->n; i++) {
        fputs(i ? ",\n" : "\n", out);
        json_diag(out, &d->item[i]);
    }
    fputs(d->n ? "\n  ],\n" : "],\n", out);
    fprintf(out, "  \"mismatches\": %d,\n", (S ? S->nbad : 0) + ci->contradicted);
    fputs("  \"weights\": ", out);
    if (t->weights) {
        fputs("{\"file\": ", out);
        sr_json_str(out, t->weights);
        fprintf(out, ", \"checked\": %s, \"tensors\": %d, \"problems\": %d}", t->wchecked ? "true" : "false",
                t->wtensors, t->wproblems);
    } else {
        fputs("null", out);
    }
    fputs(",\n  \"mult_adds\": ", out);
    json_int(out, S && !t->partial ? t->macs : -1);
    fputs(",\n  \"mult_adds_batch_size\": ", out);
    json_int(out, S ? t->macs_batch : -1);
    fputs(",\n  \"param_bytes\": ", out);
    json_int(out, t->param_bytes);
    fputs(",\n  \"buffer_bytes\": ", out);
    json_int(out, t->buffer_bytes);
    fputs(",\n", out);
    if (S && t->batched)
        fprintf(out, "  \"batch_size\": %lld,\n", (long long)t->batch);
    else
        fputs("  \"batch_size\": null,\n", out);
    if (S && t->peak_node >= 0)
        fprintf(out, "  \"peak_activation_bytes\": %lld,\n", (long long)t->peak);
    else
        fputs("  \"peak_activation_bytes\": null,\n", out);
    fputs("  \"trainable_params\": ", out);
    json_int(out, t->params);
    fputs(",\n  \"non_trainable_params\": 0,\n  \"total_params\": ", out);
    json_int(out, t->params);
    fputs("\n}\n", out);
}

/* ---- Graphviz dot ------------------------------------------------------- */

/* Text inside a dot "string": quotes and backslashes escaped, control
 * characters as spaces, bytes that are not UTF-8 as '?'. */
static void dot_text(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc((int)c, out);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            fputc(' ', out);
            p++;
        } else if (c < 0x80) {
            fputc((int)c, out);
            p++;
        } else {
            int n = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xc2 && c < 0xe0 ? 1 : -1;
            int ok = n > 0;
            for (int k = 1; ok && k <= n; k++)
                ok = (p[k] & 0xc0) == 0x80;
            if (ok) {
                fwrite(p, 1, (size_t)n + 1, out);
                p += n + 1;
            } else {
                fputc('?', out);
                p++;
            }
        }
    }
}

/* s in lines of about width characters, each ended by \l (left-aligned). */
static void dot_wrapped(FILE *out, const char *s, size_t width)
{
    char buf[SR_ERRLEN * 2];
    size_t len = strlen(s);
    while (len) {
        size_t take = len;
        if (len > width) {
            take = width;
            while (take > width / 2 && s[take] != ' ')
                take--;
            if (s[take] != ' ')
                take = width;
        }
        size_t t = take < sizeof buf ? take : sizeof buf - 1;
        memcpy(buf, s, t);
        buf[t] = '\0';
        dot_text(out, buf);
        fputs("\\l", out);
        s += take;
        len -= take;
        while (len && *s == ' ')
            s++, len--;
    }
}

/* Is node i one box of the chain: a shown leaf, a folded Sequential, or
 * an empty one (it passes its input on)? */
static int dot_box(const report *R, int i)
{
    const sr_node *nd = &R->m->node[i];
    if (!R->ni[i].shown)
        return 0;
    return sr_node_is_leaf(nd) || R->ni[i].folded || subtree_end(R->m, i) == i;
}

/* The error diagnostics about node i (or, folded, any layer in it). */
static void dot_diags(const report *R, int i, FILE *out)
{
    const sr_node *nd = &R->m->node[i];
    size_t pl = strlen(nd->path);
    int shown = 0, more = 0;
    for (int k = 0; k < R->d->n; k++) {
        const sr_diag *g = &R->d->item[k];
        if (g->sev != SR_SEV_ERROR || !g->layer)
            continue;
        if (strcmp(g->layer, nd->path) && !(R->ni[i].folded && !strncmp(g->layer, nd->path, pl) && g->layer[pl] == '.'))
            continue;
        if (shown++) {
            more++;
            continue;
        }
        char buf[SR_ERRLEN * 2];
        if (strcmp(g->layer, nd->path))
            snprintf(buf, sizeof buf, "layer %s: %s%s%s", g->layer, g->msg ? g->msg : "", g->hint ? "; hint: " : "",
                     g->hint ? g->hint : "");
        else
            snprintf(buf, sizeof buf, "%s%s%s", g->msg ? g->msg : "", g->hint ? "; hint: " : "", g->hint ? g->hint : "");
        fputs("\\n", out);
        dot_wrapped(out, buf, 60);
    }
    if (more)
        fprintf(out, "(and %d more: see stderr)\\l", more);
}

static void dot_node(const report *R, int i, FILE *out)
{
    sr_model *m = R->m;
    const sr_node *nd = &m->node[i];
    const sr_nodeshape *ns = &R->S->node[i];
    int leaf = sr_node_is_leaf(nd);
    int bad = leaf ? ns->bad : R->ni[i].bad_inside >= 0;
    for (int k = 0; k < R->d->n && !bad; k++) /* a size past 64 bits */
        bad = R->d->item[k].layer && !strcmp(R->d->item[k].layer, nd->path);
    fprintf(out, "  m%d [label=\"", nd->mod->index);
    /* every use's index */
    int uses = 0;
    for (int j = 0; j < m->nnode; j++)
        if (m->node[j].mod == nd->mod && dot_box(R, j))
            fprintf(out, "%s%s", uses++ ? ", " : "", m->node[j].path);
    char repr[512], s[192];
    if (leaf)
        sr_layer_repr(nd->mod, repr, sizeof repr);
    else if (R->ni[i].folded)
        snprintf(repr, sizeof repr, "Sequential (%d layers folded)", subtree_end(m, i) - i);
    else
        snprintf(repr, sizeof repr, "Sequential() (empty: passes its input on)");
    fputs(": ", out);
    dot_text(out, repr);
    /* the output shape of each use (one line when they agree) */
    char first[192] = "";
    int same = 1;
    for (int j = 0, n = 0; j < m->nnode; j++) {
        if (m->node[j].mod != nd->mod || !dot_box(R, j))
            continue;
        if (R->S->node[j].known)
            shape_of(R, &R->S->node[j].sout, s, sizeof s);
        else
            snprintf(s, sizeof s, "?");
        if (!n++)
            snprintf(first, sizeof first, "%s", s);
        else if (strcmp(first, s))
            same = 0;
    }
    if (same) {
        fputs("\\nout: ", out);
        dot_text(out, first);
    } else {
        for (int j = 0; j < m->nnode; j++) {
            if (m->node[j].mod != nd->mod || !dot_box(R, j))
                continue;
            if (R->S->node[j].known)
                shape_of(R, &R->S->node[j].sout, s, sizeof s);
            else
                snprintf(s, sizeof s, "?");
            fprintf(out, "\\nout (%s): ", m->node[j].path);
            dot_text(out, s);
        }
    }
    char c[48];
    if (R->ni[i].params < 0)
        fputs("\\nparams: overflow", out);
    else
        fprintf(out, "\\n%s param%s", commas(R->ni[i].params, c, sizeof c), R->ni[i].params == 1 ? "" : "s");
    if (uses > 1)
        fprintf(out, " (one module, %d uses)", uses);
    if (R->ni[i].macs >= 0 && R->ni[i].macs > 0 && uses == 1)
        fprintf(out, ", %s mult-adds", commas(R->ni[i].macs, c, sizeof c));
    if (bad) {
        /* every use's diagnostics */
        for (int j = 0; j < m->nnode; j++)
            if (m->node[j].mod == nd->mod && dot_box(R, j))
                dot_diags(R, j, out);
        fputs("\", color=\"#cc0000\", fontcolor=\"#cc0000\", fillcolor=\"#ffe5e5\", penwidth=2];\n", out);
    } else {
        fputs("\"];\n", out);
    }
}

/* Node i's Sequential as a cluster, with the boxes whose module is first
 * used inside it; its subtree ends at `end`. */
static void dot_cluster(const report *R, int i, int end, FILE *out, int indent)
{
    sr_model *m = R->m;
    for (int j = i; j <= end; j++) {
        const sr_node *nd = &m->node[j];
        if (!R->ni[j].shown)
            continue;
        if (dot_box(R, j)) {
            if (nd->first)
                dot_node(R, j, out);
            continue;
        }
        /* a shown, unfolded Sequential: a cluster, if anything of it is
         * drawn there (an alias of a whole Sequential draws nothing anew) */
        int e = subtree_end(m, j), any = 0;
        for (int k = j + 1; k <= e && !any; k++)
            any = dot_box(R, k) && m->node[k].first;
        if (any) {
            fprintf(out, "%*ssubgraph cluster_%d {\n%*s  label=\"", indent, "", j, indent, "");
            dot_text(out, nd->path);
            fprintf(out, ": Sequential%s\"; style=\"rounded,dashed\"; color=\"#888888\";\n", nd->first ? "" : " (shared)");
            dot_cluster(R, j + 1, e, out, indent + 2);
            fprintf(out, "%*s}\n", indent, "");
        }
        j = e;
    }
}

static void dot_report(report *R, FILE *out)
{
    sr_model *m = R->m;
    const sr_shapes *S = R->S;
    const totals *t = &R->t;
    char s[192], c[48];
    fputs("digraph seqrun {\n  graph [fontname=\"Helvetica\", labelloc=t, label=\"", out);
    dot_text(out, m->label);
    if (t->params >= 0)
        fprintf(out, "\\ntotal params: %s", commas(t->params, c, sizeof c));
    if (t->macs >= 0)
        fprintf(out, ", mult-adds: %s%s", commas(t->macs, c, sizeof c),
                t->macs_symbolic ? " per sample" : "");
    if (S->nbad + R->ci->contradicted)
        fprintf(out, "\\n%d shape mismatch%s (in red)", S->nbad + R->ci->contradicted,
                S->nbad + R->ci->contradicted == 1 ? "" : "es");
    if (t->weights && t->wproblems)
        fprintf(out, "\\nweights: %d problem%s (see stderr)", t->wproblems, t->wproblems == 1 ? "" : "s");
    fputs("\"];\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", fontname=\"Helvetica\", "
          "fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n", out);
    fputs("  input [shape=ellipse, fillcolor=\"#ffffff\", label=\"input\\n", out);
    dot_text(out, shape_of(R, &S->sym_in, s, sizeof s));
    if (R->ci->contradicted) {
        for (int k = 0; k < R->d->n; k++)
            if (!R->d->item[k].layer && R->d->item[k].line == m->input_line && R->d->item[k].file &&
                !strcmp(R->d->item[k].file, m->label)) {
                fputs("\\n", out);
                dot_wrapped(out, R->d->item[k].msg ? R->d->item[k].msg : "", 60);
                break;
            }
        fputs("\", color=\"#cc0000\", fontcolor=\"#cc0000\", penwidth=2];\n", out);
    } else {
        fputs("\"];\n", out);
    }
    if (m->nnode)
        dot_cluster(R, 0, m->nnode - 1, out, 2);
    /* the chain: one edge per use, labelled with the tensor it carries */
    const char *prev = "input";
    char pid[32] = "input";
    shape_of(R, &S->sym_in, s, sizeof s);
    /* with a module drawn once for several uses, the edges are numbered
     * in the order the tensor takes them */
    int shared = 0, step = 0;
    for (int i = 0; i < m->nnode; i++)
        shared |= dot_box(R, i) && !m->node[i].first;
    for (int i = 0; i < m->nnode; i++) {
        if (!dot_box(R, i))
            continue;
        fprintf(out, "  %s -> m%d [label=\"", prev, m->node[i].mod->index);
        if (shared)
            fprintf(out, "%d: ", ++step);
        dot_text(out, s);
        fputs("\"];\n", out);
        snprintf(pid, sizeof pid, "m%d", m->node[i].mod->index);
        prev = pid;
        if (S->node[i].known)
            shape_of(R, &S->node[i].sout, s, sizeof s);
        else
            snprintf(s, sizeof s, "?");
    }
    fputs("  output [shape=ellipse, fillcolor=\"#ffffff\", label=\"output\\n", out);
    dot_text(out, s);
    fprintf(out, "\"];\n  %s -> output [label=\"", prev);
    if (shared)
        fprintf(out, "%d: ", ++step);
    dot_text(out, s);
    fputs("\"];\n}\n", out);
}

/* ---- the check ------------------------------------------------------------ */

/* Parameter declarations as the shapes now known make them. */
static void refresh_params(sr_model *m)
{
    for (int i = 0; i < m->nmods; i++)
        if (m->mods[i]->type->params)
            m->mods[i]->nparam = m->mods[i]->type->params(m->mods[i], m->mods[i]->decl);
}

int sr_check_columns(const char *list, sr_checkopts *c, char *bad, size_t len)
{
    static const struct {
        const char *name;
        int bit;
    } names[] = {{"input", SR_COL_INPUT},   {"input-shape", SR_COL_INPUT}, {"output", SR_COL_OUTPUT},
                 {"output-shape", SR_COL_OUTPUT}, {"params", SR_COL_PARAMS}, {"mult-adds", SR_COL_MACS},
                 {"macs", SR_COL_MACS}};
    c->columns = 0;
    c->ncol = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        int bit = 0;
        for (size_t k = 0; k < sizeof names / sizeof *names; k++)
            if (strlen(names[k].name) == n && !strncmp(names[k].name, p, n))
                bit = names[k].bit;
        if (!bit || (c->columns & (unsigned)bit)) {
            snprintf(bad, len, "%.*s", (int)n, p);
            return -1;
        }
        c->columns |= (unsigned)bit;
        c->col_order[c->ncol++] = bit;
        p += n;
        if (*p == ',' && !*++p) {
            snprintf(bad, len, "%s", "");
            return -1;
        }
    }
    return c->ncol ? 0 : (snprintf(bad, len, "%s", ""), -1);
}

/* Checks the weights as the run would load them, after shape inference
 * (so lazy layers have their sizes); loads nothing. */
static sr_status check_weights(report *R, const char *path, sr_diags *d)
{
    sr_model *m = R->m;
    totals *t = &R->t;
    t->weights = path;
    char *skip = calloc((size_t)(m->nmods ? m->nmods : 1), 1);
    if (!skip) {
        sr_diag_add(d, "out of memory");
        return SR_ERUN;
    }
    /* a lazy layer whose input never fitted has no sizes to check against */
    size_t k = 0;
    for (int i = 0; i < m->nnode; i++) {
        const sr_node *nd = &m->node[i];
        if (!nd->first || !(nd->mod->type->flags & SR_LF_LAZY) || R->S->node[i].in_known)
            continue;
        skip[nd->mod->index] = 1;
        if (k < sizeof t->wskipped)
            k += (size_t)snprintf(t->wskipped + k, sizeof t->wskipped - k, "%slayer %s's keys (its input is unknown)",
                                  k ? ", " : "", nd->path);
    }
    int before = sr_diags_errors(d);
    sr_status st = sr_state_check(m, path, skip, &t->wtensors, d);
    t->wchecked = 1;
    t->wproblems = sr_diags_errors(d) - before;
    if (st != SR_OK && !t->wproblems)
        t->wproblems = 1;
    free(skip);
    return st;
}

sr_status sr_check_ex(sr_model *m, const sr_runopts *o, const sr_checkopts *copts, FILE *out, sr_diags *d)
{
    sr_runopts oo = *o;
    sr_checkopts c = *copts;
    if (!c.ncol) {
        c.columns = SR_COL_DEFAULT;
        c.ncol = 0;
        c.col_order[c.ncol++] = SR_COL_OUTPUT;
        c.col_order[c.ncol++] = SR_COL_PARAMS;
        c.col_order[c.ncol++] = SR_COL_MACS;
    }
    /* stdin only when nothing else gives the shape */
    if (!oo.input && !oo.has_input_shape && !m->has_input)
        oo.input = "-";
    refresh_params(m);
    check_input ci;
    report R = {.m = m, .ci = &ci, .c = &c, .d = d, .name = "", .b = 1};
    sr_status st = get_input(m, &oo, &ci, d);
    if (st != SR_OK && !ci.contradicted) {
        if (c.format == SR_CHECK_JSON) {
            param_totals(&R);
            json_report(&R, out);
        }
        return st;
    }
    sr_shapes S;
    sr_status ist = sr_infer_free(m, &ci.shape, ci.free_dim, ci.free_name, ci.placeholder, ci.integer, o->train,
                                  &S, d);
    if (ist == SR_ERUN)
        return ist;
    if (st == SR_OK)
        st = ist;
    refresh_params(m); /* lazy layers' sizes are known only now */
    R.S = &S;
    R.name = ci.concrete ? "" : S.free_name;
    R.b = S.free_size;
    R.ni = calloc((size_t)(m->nnode ? m->nnode : 1), sizeof *R.ni);
    if (!R.ni) {
        sr_shapes_free(&S);
        sr_diag_add(d, "out of memory");
        return SR_ERUN;
    }
    param_totals(&R);
    node_numbers(&R);
    memory_totals(&R, o);
    sr_status wst = SR_OK;
    const char *weights = o->weights ? o->weights : m->weights;
    if (weights)
        wst = check_weights(&R, weights, d);
    if (c.format == SR_CHECK_JSON)
        json_report(&R, out);
    else if (c.format == SR_CHECK_DOT)
        dot_report(&R, out);
    else
        text_report(&R, out);
    free(R.ni);
    sr_shapes_free(&S);
    /* as a run would stop: the sizes first, then the shapes, then the weights */
    if (R.t.noverflow)
        return SR_EUSAGE;
    if (st != SR_OK)
        return st;
    return wst;
}

sr_status sr_check(sr_model *m, const sr_runopts *o, FILE *out, sr_diags *d)
{
    sr_checkopts c = {.format = o->format == SR_FMT_JSON ? SR_CHECK_JSON : SR_CHECK_TEXT, .depth = -1};
    return sr_check_ex(m, o, &c, out, d);
}
