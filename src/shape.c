/* shape.c - shape inference, its diagnostics, and symbolic dims. */
#include "shape.h"
#include "layers/layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest spatial size tried when looking for an input the layers fit. */
#define FIT_MAX_1D 4096
#define FIT_MAX_2D 1024
#define FIT_MAX_ND 128
/* ... and how many times larger or smaller than the given size a fit may
 * be and still be offered as a hint */
#define FIT_PLAUSIBLE 4

typedef struct {
    sr_model *m;
    int training;
    sr_nodeshape *ns;
    char **msg;         /* per node, or NULL when only shapes matter */
    char **warn;        /* per node: a rule's warning, or NULL: none asked for */
    int nbad;
    int batch_dim0;
    const char *batch;  /* dim 0 of the model's input is the free batch dim, so named */
    int64_t *lazy;      /* per module: a lazy layer's size as this pass fixed it */
} pass_t;

/*
 * Whether a layer decides the size of dimension d of its output rather than
 * carrying it over from its input.  A layer that changes the size does; one
 * that keeps it may still (Linear(10, 10)), which shows as an output size
 * that stays put when the input's size moves.  Asking the shape rule itself
 * keeps this right for every layer type without a list of them.
 */
static int produces_dim(const sr_layer *L, const sr_shape *in, const sr_shape *out, int d, int training,
                        const int64_t *lazy)
{
    if (in->ndim != out->ndim)
        return 1;
    if (out->d[d] != in->d[d])
        return 1;
    sr_shape in2 = *in, out2 = *in;
    if (in->d[d] < 0 || __builtin_mul_overflow(in->d[d], 2, &in2.d[d]) || __builtin_add_overflow(in2.d[d], 1, &in2.d[d]))
        return 1; /* no room to move it: take the layer as the producer */
    int64_t lz = lazy ? *lazy : -1; /* a copy: asking must not fix it */
    sr_shapeinfo info = {.training = training, .lazy = lazy ? &lz : NULL};
    char err[SR_ERRLEN];
    sr_status st = L->type->shape(L, &in2, &out2, &info, err);
    if (st != SR_OK && !info.out_known)
        return 0; /* no guess to compare: the earlier producer still stands */
    return out2.ndim == out->ndim && out2.d[d] == out->d[d];
}

/* The dimension shape rules most often complain about: channels of a
 * batched N-d tensor, features (the last dim) of a vector or matrix. */
static int key_dim(const sr_shape *s)
{
    return s->ndim >= 3 ? 1 : s->ndim - 1;
}

/*
 * Runs the shape rules of nodes [0, upto).  With P->msg set, records each
 * mismatch and which layer produced each dimension, so a rule can name the
 * layer that made the size it rejects rather than a ReLU in between.
 */
static void run_pass(pass_t *P, const sr_shape *in, int in_integer, int upto)
{
    sr_model *m = P->m;
    sr_shape cur = *in;
    int known = 1, integer = in_integer;
    int producer[SR_MAXDIM];
    for (int k = 0; k < SR_MAXDIM; k++)
        producer[k] = -1;
    char prev[SR_PATHLEN + 48];
    P->nbad = 0;
    P->batch_dim0 = in->ndim >= 1;
    /* dim 0 of the input is still the free batch dim: every layer so far
     * kept it as its batch */
    int batched = P->batch && in->ndim >= 1;
    for (int i = 0; i < m->nmods; i++)
        P->lazy[i] = m->mods[i]->lazy_in;
    for (int i = 0; i < upto; i++) {
        sr_node *nd = &m->node[i];
        sr_nodeshape *ns = &P->ns[i];
        ns->known = ns->in_known = ns->bad = 0;
        if (!sr_node_is_leaf(nd))
            continue;
        ns->in = cur;
        if (!known)
            continue; /* nothing sensible to check against */
        ns->in_known = 1;
        /* The key dim's producer; if the model's input made that one, the
         * layer that last made any dim, since "from the model's input" is
         * wrong for a tensor a layer has reshaped (an unbatched (C, H, W)
         * image, whose channels are dim 0, not the key dim 1). */
        const char *pv = NULL;
        int pi = cur.ndim > 0 ? producer[key_dim(&cur)] : -1;
        if (pi < 0)
            for (int k = 0; k < cur.ndim; k++)
                pi = producer[k] > pi ? producer[k] : pi;
        if (P->msg && pi >= 0) {
            sr_node_label(m, pi, prev, sizeof prev);
            pv = prev;
        }
        int64_t *lazy = &P->lazy[nd->mod->index];
        char err[SR_ERRLEN], warn[SR_ERRLEN] = "";
        sr_shapeinfo info = {.prev = pv, .in_integer = integer, .training = P->training,
                             .in_batch = batched ? P->batch : NULL, .lazy = lazy, .warn = P->warn ? warn : NULL};
        sr_shape out = cur;
        sr_status st = nd->mod->type->shape(nd->mod, &cur, &out, &info, err);
        if (st == SR_OK && warn[0] && P->warn && !P->warn[i])
            P->warn[i] = sr_strdup(warn);
        if (st != SR_OK) {
            ns->bad = 1;
            P->nbad++;
            if (P->msg && !P->msg[i])
                P->msg[i] = sr_strdup(err);
            known = info.out_known;
        }
        if ((st == SR_OK || known) && sr_shape_numel(&out) < 0) {
            /* sizes past what 64-bit counts of elements and bytes hold:
             * nothing after it can be sized either */
            if (st == SR_OK) {
                ns->bad = 1;
                P->nbad++;
                if (P->msg && !P->msg[i]) {
                    int neg = 0;
                    for (int k = 0; k < out.ndim; k++)
                        neg |= out.d[k] < 0;
                    char e[SR_ERRLEN];
                    if (neg)
                        snprintf(e, sizeof e, "its output %s would have a negative size; hint: check the sizes in "
                                 "its arguments", sr_shp(&out));
                    else
                        snprintf(e, sizeof e, "its output %s would have more elements than a tensor can hold "
                                 "(at most %lld: the count overflows 64-bit sizes); hint: check the sizes in its "
                                 "arguments", sr_shp(&out), (long long)(INT64_MAX / 8));
                    P->msg[i] = sr_strdup(e);
                }
            }
            known = 0;
        }
        if (P->msg && known) {
            int np[SR_MAXDIM];
            for (int k = 0; k < out.ndim; k++) {
                np[k] = producer[k];
                if (out.ndim != cur.ndim || produces_dim(nd->mod, &cur, &out, k, P->training, lazy))
                    np[k] = i;
            }
            memcpy(producer, np, sizeof np);
        }
        ns->out = out;
        ns->known = known;
        batched = batched && known && info.batch_dim0 && out.ndim >= 1 && out.d[0] == cur.d[0];
        cur = out;
        integer = 0;
        if (!info.batch_dim0)
            P->batch_dim0 = 0;
    }
}

static sr_symshape sym_const(const sr_shape *s)
{
    sr_symshape y = {.ndim = s->ndim};
    for (int k = 0; k < s->ndim; k++)
        y.c[k] = s->d[k];
    return y;
}

/* Fits k*B + c through the sizes at B = 2 and 3, and keeps it only if it
 * also gives the size at the real B (a dim that is not affine in B, or a
 * layer that behaves differently per size, stays a plain number). */
static sr_symshape sym_fit(const sr_shape *s, const sr_shape *s2, const sr_shape *s3, int64_t b)
{
    sr_symshape y = sym_const(s);
    if (s2->ndim != s->ndim || s3->ndim != s->ndim)
        return y;
    for (int k = 0; k < s->ndim; k++) {
        int64_t kk, c, kb, v;
        if (__builtin_sub_overflow(s3->d[k], s2->d[k], &kk) || __builtin_mul_overflow(kk, 2, &c) ||
            __builtin_sub_overflow(s2->d[k], c, &c) || __builtin_mul_overflow(kk, b, &kb) ||
            __builtin_add_overflow(kb, c, &v))
            continue; /* no affine fit in 64 bits: a plain number */
        if (kk != 0 && v == s->d[k]) {
            y.k[k] = kk;
            y.c[k] = c;
        }
    }
    return y;
}

/* k*b + c, or -1 where it does not fit in 64 bits (a size no tensor has,
 * which sr_shape_numel refuses). */
static int64_t sym_at(int64_t k, int64_t c, int64_t b)
{
    int64_t kb, v;
    if (__builtin_mul_overflow(k, b, &kb) || __builtin_add_overflow(kb, c, &v))
        return -1;
    return v;
}

sr_shape sr_symshape_at(const sr_symshape *s, int64_t b)
{
    sr_shape r = {.ndim = s->ndim};
    for (int k = 0; k < s->ndim; k++)
        r.d[k] = sym_at(s->k[k], s->c[k], b);
    return r;
}

char *sr_symshape_str(const sr_symshape *s, const char *name, int64_t b, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < s->ndim && n < len; i++) {
        const char *sep = i ? ", " : "";
        int64_t k = s->k[i], c = s->c[i];
        if (k == 0 || !name || !name[0]) {
            n += (size_t)snprintf(buf + n, len - n, "%s%lld", sep, (long long)sym_at(k, c, b));
            continue;
        }
        char term[48];
        if (k == 1)
            snprintf(term, sizeof term, "%s", name);
        else if (k > 0)
            snprintf(term, sizeof term, "%s*%lld", name, (long long)k);
        else
            snprintf(term, sizeof term, "%s*(%lld)", name, (long long)k);
        if (c > 0)
            n += (size_t)snprintf(buf + n, len - n, "%s%s+%lld", sep, term, (long long)c);
        else if (c < 0)
            n += (size_t)snprintf(buf + n, len - n, "%s%s-%llu", sep, term, 0ULL - (unsigned long long)c);
        else
            n += (size_t)snprintf(buf + n, len - n, "%s%s", sep, term);
    }
    if (n < len)
        snprintf(buf + n, len - n, "]");
    return buf;
}

/*
 * Rules print the shape they were given as "input [1, 3, 20, 20]" (or "dim
 * 0 of [...]"); the user gave [N, 3, 20, 20].  Rewrites those mentions, and
 * only those, since
 * another list of numbers in the message (a normalized_shape, a suggested
 * unflattened_size) is not the input however alike it looks.
 */
static char *symbolise(const char *msg, const char *conc, const char *sym)
{
    static const char *const lead[] = {"input ", "input is ", "dim 0 of "};
    size_t cl = strlen(conc), sl = strlen(sym), ml = strlen(msg);
    char *out = malloc(ml * (sl / (cl ? cl : 1) + 2) + sl + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < ml;) {
        int hit = 0;
        if (strncmp(msg + i, conc, cl) == 0) {
            for (size_t j = 0; j < sizeof lead / sizeof *lead; j++) {
                size_t ll = strlen(lead[j]);
                if (i >= ll && strncmp(msg + i - ll, lead[j], ll) == 0)
                    hit = 1;
            }
        }
        if (hit) {
            memcpy(out + o, sym, sl);
            o += sl;
            i += cl;
        } else {
            out[o++] = msg[i++];
        }
    }
    out[o] = '\0';
    return out;
}

/*
 * For the first mismatch of a model with spatial input dims: which input
 * sizes would the layers up to it accept?  Answers "layers 0 to 6 fit an
 * input of [N, 1, 28]" for a network sized for another input, and "from
 * [N, 3, 7, 7] up" for a kernel larger than the input.  Tries every size
 * (all spatial dims equal, as the real input's are) up to a bound: shape
 * rules are cheap, and a closed form would need one per layer type.
 */
static void fit_hint(pass_t *P, const sr_shapes *S, const sr_shape *in, int in_integer, int bad,
                     char *hint, size_t len)
{
    hint[0] = '\0';
    sr_model *m = P->m;
    if (in->ndim < 3 || S->free_dim != 0 || in_integer)
        return;
    /* Dim 1 must be channels, dims 2.. spatial: so dim 0 must be a batch,
     * declared as one or carried as one by every layer before this. */
    for (int i = 0; i < bad && !S->free_name[0]; i++)
        if (sr_node_is_leaf(&m->node[i]) && (!S->node[i].known || S->node[i].sout.ndim == 0 ||
                                             S->node[i].sout.k[0] != 1 || S->node[i].sout.c[0] != 0))
            return;
    for (int k = 3; k < in->ndim; k++)
        if (in->d[k] != in->d[2])
            return;
    int smax = in->ndim == 3 ? FIT_MAX_1D : in->ndim == 4 ? FIT_MAX_2D : FIT_MAX_ND;
    int64_t fits[4], given = in->d[2], near = -1;
    int nfit = 0, last = 0;
    for (int s = 1; s <= smax; s++) {
        sr_shape t = *in;
        for (int k = 2; k < t.ndim; k++)
            t.d[k] = s;
        run_pass(P, &t, in_integer, bad + 1);
        if (P->nbad)
            continue;
        if (nfit < 4)
            fits[nfit] = s;
        nfit++;
        last = s;
        if (near < 0 || llabs(s - given) < llabs(near - given))
            near = s;
    }
    if (!nfit)
        return;
    /* Only a plausible input is worth naming: one a few times the given
     * size at most, either way ([N, 1, 290, 290] for 8x8 digits is a model
     * built for other data, not a size to change the data to). */
    if (given < 1 || near > FIT_PLAUSIBLE * given || given > FIT_PLAUSIBLE * near)
        return;
    /* every size from the first fit through the bound: "or larger" */
    int run = nfit == last - fits[0] + 1, open = run && last == smax;
    int first = -1;
    for (int i = 0; i < m->nnode; i++)
        if (sr_node_is_leaf(&m->node[i])) {
            first = i;
            break;
        }
    size_t n;
    if (first == bad)
        n = (size_t)snprintf(hint, len, "as written, this layer fits ");
    else
        n = (size_t)snprintf(hint, len, "as written, layers %s to %s fit ", m->node[first].path, m->node[bad].path);
    char a[160], z[160];
    sr_symshape y = S->sym_in;
    for (int k = 2; k < y.ndim; k++)
        y.k[k] = 0, y.c[k] = fits[0];
    sr_symshape_str(&y, S->free_name, S->free_size, a, sizeof a);
    for (int k = 2; k < y.ndim; k++)
        y.c[k] = nfit == 2 || !run ? fits[1] : last;
    sr_symshape_str(&y, S->free_name, S->free_size, z, sizeof z);
    if (n >= len)
        return;
    if (open)
        snprintf(hint + n, len - n, "an input of %s or larger", a);
    else if (nfit == 1)
        snprintf(hint + n, len - n, "an input of %s", a);
    else if (nfit == 2)
        snprintf(hint + n, len - n, "an input of %s or %s", a, z);
    else if (run)
        snprintf(hint + n, len - n, "inputs from %s to %s", a, z);
    else
        snprintf(hint + n, len - n, "an input of %s or %s (and %d other sizes)", a, z, nfit - 2);
}

/*
 * An input that may be one unbatched sample (dim 0 not the named batch)
 * whose first mismatch goes away with a batch dimension in front: then the
 * missing batch dimension is the likely mistake (an unbatched [3, 16, 16]
 * image whose Flatten keeps the 8 channels apart gives Linear [8, 256]), so
 * the hint leads with it, before the layer's own advice.  Returns the new
 * message (malloc'd) or NULL.
 */
static char *batch_lead(pass_t *Q, const sr_shapes *S, const sr_shape *in, int in_integer, const char *batch,
                        int bad, const char *text)
{
    if (batch || in->ndim < 1 || in->ndim >= SR_MAXDIM)
        return NULL;
    sr_shape b1 = {.ndim = in->ndim + 1};
    b1.d[0] = 1;
    for (int k = 0; k < in->ndim; k++)
        b1.d[k + 1] = in->d[k];
    run_pass(Q, &b1, in_integer, Q->m->nnode);
    if (Q->ns[bad].bad || Q->nbad >= S->nbad)
        return NULL;
    const char *h = strstr(text, "; hint: ");
    size_t what = h ? (size_t)(h - text) : strlen(text);
    const char *rest = h ? h + 8 : "";
    char lead[400];
    if (Q->nbad)
        snprintf(lead, sizeof lead, "the input %s looks like one sample without its batch dimension: layers up to %s "
                 "fit %s (a batch of one)", sr_shp(in), Q->m->node[bad].path, sr_shp(&b1));
    else
        snprintf(lead, sizeof lead, "the input %s looks like one sample without its batch dimension: every layer "
                 "fits %s (a batch of one)", sr_shp(in), sr_shp(&b1));
    size_t n = strlen(text) + strlen(lead) + 32;
    char *out = malloc(n);
    if (!out)
        return NULL;
    size_t o = (size_t)snprintf(out, n, "%.*s; hint: %s", (int)what, text, lead);
    /* The rule's own advice stays as the alternative, but not where it
     * says the same ("add a batch dimension", "or, if ... is one sample
     * without its batch dimension, ..."): an alternative starts with "or",
     * and the "; "-separated parts after it up to the next belong to it. */
    while (*rest && o < n) {
        const char *alt = rest;
        size_t al = 0;
        do {
            const char *e = strstr(alt + al, "; ");
            al = e ? (size_t)(e - alt) : strlen(alt);
            if (!e || strncmp(e + 2, "or", 2) == 0)
                break;
            al += 2;
        } while (1);
        if (!memmem(alt, al, "batch dimension", 15))
            o += (size_t)snprintf(out + o, n - o, "; %s%.*s", strncmp(alt, "or", 2) ? "or " : "", (int)al, alt);
        rest = alt + al;
        if (*rest)
            rest += 2;
    }
    return out;
}

/* What sr_infer_free works with besides its result. */
typedef struct {
    sr_model *m;
    sr_shapes *S;
    const sr_shape *in;
    int in_integer;
    int placeholder;       /* the free dim's size is a stand-in nobody gave */
    const char *batch;     /* dim 0 is the free batch dim, so named; else NULL */
    pass_t Q;              /* the probes' pass */
    sr_nodeshape *probe;   /* 2 per node: the shapes at free size 2, then 3 */
    char **msg, **msg2;    /* per node: the data's error, and the probe at 2's */
    char **warn;           /* per node: the data's warning */
    sr_shape *msg_in;      /* per node: the input its message saw */
} infer_t;

/*
 * The passes at free sizes 2 and 3: from them every shape as k*B + c, and,
 * for a size nobody gave, which mismatches are mistakes: what fails for
 * every size is, what fails for the stand-in alone is not (BatchNorm
 * training on one sample), and what passes for it alone is (Flatten: [0]
 * makes [N, 28] 28 features for Linear(28) only at N=1).
 */
static void probe_free_dim(infer_t *I)
{
    sr_model *m = I->m;
    sr_shapes *S = I->S;
    size_t nn = (size_t)(m->nnode ? m->nnode : 1);
    sr_nodeshape *p2 = I->probe, *p3 = I->probe + nn;
    sr_shape in2 = *I->in, in3 = *I->in;
    in2.d[S->free_dim] = 2;
    in3.d[S->free_dim] = 3;
    I->Q.ns = p2;
    I->Q.msg = I->placeholder ? I->msg2 : NULL;
    run_pass(&I->Q, &in2, I->in_integer, m->nnode);
    I->Q.msg = NULL;
    I->Q.ns = p3;
    run_pass(&I->Q, &in3, I->in_integer, m->nnode);
    S->sym_in = sym_fit(I->in, &in2, &in3, S->free_size);
    for (int i = 0; i < m->nnode; i++) {
        sr_nodeshape *ns = &S->node[i];
        if (I->placeholder && ns->bad != (p2[i].bad && p3[i].bad)) {
            ns->bad = !ns->bad;
            S->nbad += ns->bad ? 1 : -1;
            if (!ns->bad) {
                free(I->msg[i]);
                I->msg[i] = NULL;
            } else if (I->msg2[i]) {
                /* its numbers are the probe's: say which size that was */
                size_t l = strlen(I->msg2[i]) + strlen(S->free_name) + 32;
                I->msg[i] = malloc(l);
                if (I->msg[i])
                    snprintf(I->msg[i], l, "with %s=2: %s", S->free_name, I->msg2[i]);
                I->msg_in[i] = p2[i].in;
            }
        }
        if (ns->in_known && p2[i].in_known && p3[i].in_known)
            ns->sin = sym_fit(&ns->in, &p2[i].in, &p3[i].in, S->free_size);
        if (ns->known && p2[i].known && p3[i].known)
            ns->sout = sym_fit(&ns->out, &p2[i].out, &p3[i].out, S->free_size);
    }
}

/* A container's shapes span its first to its last leaf; the model's
 * output is its last leaf's. */
static void container_shapes(const sr_model *m, sr_shapes *S, const sr_shape *in)
{
    for (int i = m->nnode - 1; i >= 0; i--) {
        if (sr_node_is_leaf(&m->node[i]))
            continue;
        int first = -1, last = -1;
        for (int j = i + 1; j < m->nnode && m->node[j].depth > m->node[i].depth; j++) {
            if (!sr_node_is_leaf(&m->node[j]))
                continue;
            if (first < 0)
                first = j;
            last = j;
        }
        sr_nodeshape *ns = &S->node[i];
        if (first < 0) {
            /* an empty Sequential is Identity */
            int j = i - 1;
            while (j >= 0 && !S->node[j].known)
                j--;
            if (j >= 0) {
                ns->in = ns->out = S->node[j].out;
                ns->sin = ns->sout = S->node[j].sout;
            } else {
                ns->in = ns->out = *in;
                ns->sin = ns->sout = S->sym_in;
            }
            ns->known = ns->in_known = 1;
        } else {
            ns->in_known = S->node[first].in_known;
            ns->in = S->node[first].in;
            ns->sin = S->node[first].sin;
            ns->out = S->node[last].out;
            ns->sout = S->node[last].sout;
            ns->known = S->node[last].known;
        }
    }
    S->out = *in;
    for (int i = m->nnode - 1; i >= 0; i--)
        if (sr_node_is_leaf(&m->node[i])) {
            S->out = S->node[i].out;
            break;
        }
}

/* Node i's message with the input it saw written as the user gave it
 * ([N, 3, 20, 20]); malloc'd, or NULL where nothing changes. */
static char *symbolic_text(const infer_t *I, int i, const char *text)
{
    char conc[160], sym[160];
    sr_shape_str(&I->msg_in[i], conc, sizeof conc);
    sr_symshape_str(&I->S->node[i].sin, I->S->free_name, I->S->free_size, sym, sizeof sym);
    return strcmp(conc, sym) ? symbolise(text, conc, sym) : NULL;
}

/* Node i's error, with hints: for the first mismatch a missing batch
 * dimension or the inputs the layers before it fit, and for a reused
 * module that every use must fit it. */
static void report_error(infer_t *I, int i, int firstbad, sr_diags *d)
{
    sr_model *m = I->m;
    sr_node *nd = &m->node[i];
    char *text = I->msg[i];
    char *t = symbolic_text(I, i, text);
    if (t)
        text = t;
    char fit[400] = "";
    char *led = NULL;
    if (i == firstbad) {
        I->Q.ns = I->probe;
        led = batch_lead(&I->Q, I->S, I->in, I->in_integer, I->batch, i, text);
        if (led)
            text = led;
        /* the search must see the sizes that decided what is wrong */
        sr_shape fin = *I->in;
        if (I->placeholder && I->S->free_dim >= 0)
            fin.d[I->S->free_dim] = 2;
        if (!led)
            fit_hint(&I->Q, I->S, &fin, I->in_integer, i, fit, sizeof fit);
    }
    /* "in_features should be 20" would break the other uses */
    if (!nd->first) {
        size_t f = strlen(fit);
        for (int j = 0; j < m->nnode; j++)
            if (m->node[j].mod == nd->mod && m->node[j].first) {
                snprintf(fit + f, sizeof fit - f, "%sthis is layer %s's module reused through a YAML alias, "
                         "so every use must fit it", f ? "; " : "", m->node[j].path);
                break;
            }
    }
    sr_diag_at(d, SR_SEV_ERROR, m->label, nd->line, nd->col, nd->path, nd->mod->type->name, "%s%s%s", text,
               !fit[0] ? "" : strstr(text, "; hint: ") ? "; " : "; hint: ", fit);
    free(t);
    free(led);
}

/* Node i's warning, once per layer in d however often its shapes are
 * inferred (a run infers them again for every record and chunk size). */
static void report_warning(infer_t *I, int i, sr_diags *d)
{
    const sr_model *m = I->m;
    const sr_node *nd = &m->node[i];
    for (int k = 0; k < d->n; k++) {
        const sr_diag *g = &d->item[k];
        if (g->sev == SR_SEV_WARNING && g->line == nd->line && g->col == nd->col && g->layer &&
            !strcmp(g->layer, nd->path) && g->file && !strcmp(g->file, m->label))
            return;
    }
    char *t = symbolic_text(I, i, I->warn[i]);
    sr_diag_at(d, SR_SEV_WARNING, m->label, nd->line, nd->col, nd->path, nd->mod->type->name, "%s",
               t ? t : I->warn[i]);
    free(t);
}

sr_status sr_infer_free(sr_model *m, const sr_shape *in, int free_dim, const char *free_name,
                        int placeholder, int in_integer, int training, sr_shapes *S, sr_diags *d)
{
    memset(S, 0, sizeof *S);
    size_t nn = (size_t)(m->nnode ? m->nnode : 1);
    S->node = calloc(nn, sizeof *S->node);
    sr_nodeshape *probe = calloc(2 * nn, sizeof *probe);
    char **msg = calloc(3 * nn, sizeof *msg);
    sr_shape *msg_in = calloc(nn, sizeof *msg_in);
    int64_t *lazy = calloc(2 * (size_t)(m->nmods ? m->nmods : 1), sizeof *lazy);
    if (!S->node || !probe || !msg || !msg_in || !lazy) {
        free(S->node);
        S->node = NULL;
        free(probe);
        free(msg);
        free(msg_in);
        free(lazy);
        sr_diag_add(d, "out of memory");
        return SR_ERUN;
    }
    if (free_dim >= in->ndim)
        free_dim = -1;
    S->free_dim = free_dim;
    snprintf(S->free_name, sizeof S->free_name, "%s", free_dim >= 0 && free_name ? free_name : "");
    S->free_size = free_dim >= 0 ? in->d[free_dim] : 1;
    S->in_integer = in_integer;

    /* A named dim 0 is the batch, so a layer never takes it for channels
     * (Conv2d on [N, 28, 28]); an unnamed one (data without input:, a
     * fixed input: [3, 28, 28]) may be one unbatched sample. */
    const char *batch = free_dim == 0 && S->free_name[0] ? S->free_name : NULL;
    infer_t I = {.m = m, .S = S, .in = in, .in_integer = in_integer, .placeholder = placeholder, .batch = batch,
                 .probe = probe, .msg = msg, .msg2 = msg + nn, .warn = msg + 2 * nn, .msg_in = msg_in};
    pass_t P = {.m = m, .training = training, .ns = S->node, .msg = I.msg, .warn = I.warn, .batch = batch,
                .lazy = lazy};
    run_pass(&P, in, in_integer, m->nnode);
    /* Materialisation, a step of its own: lazy layers keep the sizes the
     * data's pass fixed, as PyTorch's do after their first forward (the
     * probes below start from them too). */
    for (int i = 0; i < m->nmods; i++)
        if (m->mods[i]->type->flags & SR_LF_LAZY)
            m->mods[i]->lazy_in = lazy[i];
    S->nbad = P.nbad;
    S->batch_dim0 = P.batch_dim0;
    S->sym_in = sym_const(in);
    for (int i = 0; i < m->nnode; i++) {
        S->node[i].sin = sym_const(&S->node[i].in);
        S->node[i].sout = sym_const(&S->node[i].out);
        msg_in[i] = S->node[i].in;
    }

    /* The probes have their own lazy sizes: they may not materialise a
     * LazyLinear the real input did not. */
    I.Q = (pass_t){.m = m, .training = training, .batch = batch, .lazy = lazy + m->nmods};
    if (free_dim >= 0)
        probe_free_dim(&I);
    container_shapes(m, S, in);

    int firstbad = -1;
    for (int i = 0; i < m->nnode && firstbad < 0; i++)
        if (msg[i])
            firstbad = i;
    for (int i = 0; i < m->nnode; i++) {
        if (msg[i])
            report_error(&I, i, firstbad, d);
        else if (I.warn[i] && !S->node[i].bad)
            report_warning(&I, i, d);
    }
    for (size_t i = 0; i < 3 * nn; i++)
        free(msg[i]);
    free(msg);
    free(msg_in);
    free(probe);
    free(lazy);
    return S->nbad ? SR_ESHAPE : SR_OK;
}

sr_status sr_infer(sr_model *m, const sr_shape *in, int in_integer, int training, sr_shapes *S,
                   sr_diags *d)
{
    if (m->has_input && m->input_free >= 0 && in->ndim == m->input.ndim)
        return sr_infer_free(m, in, m->input_free, m->input_free_name, 0, in_integer, training, S, d);
    return sr_infer_free(m, in, in->ndim >= 1 ? 0 : -1, "", 0, in_integer, training, S, d);
}

void sr_shapes_free(sr_shapes *s)
{
    free(s->node);
    s->node = NULL;
}

sr_status sr_check_input(const sr_model *m, const sr_shape *in, char *err)
{
    if (!m->has_input)
        return SR_OK;
    const sr_shape *want = &m->input;
    char ws[160];
    /* show the named dim by name */
    size_t k = (size_t)snprintf(ws, sizeof ws, "[");
    for (int i = 0; i < want->ndim && k < sizeof ws; i++) {
        if (i == m->input_free)
            k += (size_t)snprintf(ws + k, sizeof ws - k, "%s%s", i ? ", " : "", m->input_free_name);
        else
            k += (size_t)snprintf(ws + k, sizeof ws - k, "%s%lld", i ? ", " : "", (long long)want->d[i]);
    }
    if (k < sizeof ws)
        snprintf(ws + k, sizeof ws - k, "]");
    if (in->ndim == want->ndim - 1 && m->input_free >= 0) {
        int ok = 1;
        sr_shape fix = {.ndim = want->ndim};
        for (int i = 0, j = 0; i < want->ndim; i++) {
            if (i == m->input_free) {
                fix.d[i] = 1;
                continue;
            }
            fix.d[i] = in->d[j];
            ok &= in->d[j++] == want->d[i];
        }
        if (ok)
            return sr_err(err, SR_ESHAPE,
                          "input %s lacks the batch dimension '%s' of input: %s; hint: add a batch dimension of 1 (shape %s)",
                          sr_shp(in), m->input_free_name, ws, sr_shp(&fix));
    }
    int ok = in->ndim == want->ndim;
    for (int i = 0; ok && i < want->ndim; i++)
        ok = i == m->input_free || in->d[i] == want->d[i];
    if (ok)
        return SR_OK;
    char hint[SR_ERRLEN / 2];
    if (in->ndim == want->ndim) {
        size_t h = 0;
        for (int i = 0; i < want->ndim && h < sizeof hint; i++)
            if (i != m->input_free && in->d[i] != want->d[i])
                h += (size_t)snprintf(hint + h, sizeof hint - h, "%sdim %d is %lld where input: has %lld", h ? ", " : "",
                                      i, (long long)in->d[i], (long long)want->d[i]);
        if (h < sizeof hint)
            snprintf(hint + h, sizeof hint - h, "; give data of that shape, or change input:");
    } else {
        snprintf(hint, sizeof hint, "the data has %d dimensions, input: declares %d", in->ndim, want->ndim);
    }
    return sr_err(err, SR_ESHAPE, "input shape %s does not match the spec's input: %s; hint: %s", sr_shp(in), ws, hint);
}
