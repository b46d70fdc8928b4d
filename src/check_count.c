/*
 * check_count.c - the --check report's numbers: parameters as PyTorch's
 * parameters() counts them, mult-adds as torchinfo counts them, parameter
 * and buffer bytes, and peak activation memory; every count past 64 bits
 * is a located error at the layer where it passes.
 */
#include "check_report.h"
#include "layers/layers.h"

#include <stdio.h>
#include <string.h>

int chk_first_leaf(const sr_model *m)
{
    for (int i = 0; i < m->nnode; i++)
        if (sr_node_is_leaf(&m->node[i]))
            return i;
    return -1;
}

/* "1,048,832" */
char *chk_commas(int64_t v, char *buf, size_t len)
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
int chk_first_occurrence(const sr_model *m, int i)
{
    for (int j = 0; j < m->nnode; j++)
        if (m->node[j].mod == m->node[i].mod && m->node[j].first)
            return j;
    return i;
}

/* The last node of node i's subtree (i itself for a leaf). */
int chk_subtree_end(const sr_model *m, int i)
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
void chk_param_totals(report *R)
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
void chk_node_numbers(report *R)
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
        ni->folded = !leaf && ni->shown && depth >= 0 && nd->depth == depth - 1 && chk_subtree_end(m, i) > i;
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
        for (int j = i + 1; j <= chk_subtree_end(m, i); j++) {
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
void chk_memory_totals(report *R, const sr_runopts *o)
{
    sr_model *m = R->m;
    const sr_shapes *S = R->S;
    const check_input *ci = R->ci;
    totals *t = &R->t;
    int64_t real = ci->batch ? ci->batch : 1;
    t->batch = o->batch_size && (!ci->batch || o->batch_size < ci->batch) ? o->batch_size : real;
    t->peak_node = -1;
    t->batched = S->free_name[0] || S->batch_dim0;
    int f = chk_first_leaf(m), reported = 0;
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

char *chk_shape_of(const report *R, const sr_symshape *s, char *buf, size_t len)
{
    return sr_symshape_str(s, R->name, R->b, buf, len);
}

