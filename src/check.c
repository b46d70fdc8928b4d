/*
 * check.c - the --check report: one row per layer with its PyTorch repr,
 * output shape (the batch dimension by name) and parameter count, then
 * totals; as a text table or as one JSON object.
 */
#include "check.h"
#include "json.h"
#include "layers/layers.h"
#include "shape.h"

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
    const char *source;     /* "file", "--input-shape" or "input:" */
    int contradicted;       /* the data contradicted input:, checked instead */
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
    }
}

/*
 * INPUT's header, --input-shape, or the spec's input:, in that order; a
 * shape from data or the command line must agree with input:.  A -1 in
 * --input-shape with no data is a free dimension: input:'s size there if
 * it fixes one, else the batch, named as input: names it (or N).
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
        }
    } else {
        spec_input(m, o, ci);
        return SR_OK; /* input: agrees with itself */
    }
    ci->source = o->input ? "file" : "--input-shape";
    sr_status st = sr_check_input(m, &ci->shape, err);
    if (st != SR_OK) {
        /* The data is wrong, or input: is: check the model against what it
         * declares, so its own mistakes show in the same run. */
        sr_diag_at(d, SR_SEV_ERROR, m->label, m->input_line, m->input_col, NULL, NULL, "%s", err);
        spec_input(m, o, ci);
        ci->contradicted = 1;
    }
    return st;
}

/* ---- numbers ------------------------------------------------------------ */

static int64_t layer_params(const sr_layer *L)
{
    int64_t n = 0;
    for (int k = 0; k < L->nparam; k++)
        if (!L->decl[k].buffer)
            n += sr_shape_numel(&L->decl[k].shape);
    return n;
}

/* Parameters of node i's subtree, each module once, as PyTorch's
 * sub.parameters() counts them. */
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
        n += layer_params(L);
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

static int64_t clamp0(int64_t v) { return v < 0 ? 0 : v; }

static int64_t sym_numel(const sr_symshape *s, int64_t b)
{
    int64_t n = 1;
    for (int k = 0; k < s->ndim; k++)
        n *= clamp0(s->k[k] * b + s->c[k]);
    return n;
}

typedef struct {
    int64_t params, param_bytes, buffer_bytes;
    int64_t batch;          /* the batch size memory is counted for */
    int64_t peak;           /* bytes */
    int peak_node;          /* where it occurs, -1 if nowhere */
    int partial;            /* some layers' shapes are unknown */
    int batched;            /* the input has a batch dim to scale by */
} totals;

/* Peak activation memory: the largest input plus output of one layer,
 * since a forward pass holds both at once and nothing older. */
static void param_totals(const sr_model *m, totals *t)
{
    memset(t, 0, sizeof *t);
    t->peak_node = -1;
    t->params = sr_model_param_count(m);
    for (int i = 0; i < m->nmods; i++) {
        const sr_layer *L = m->mods[i];
        for (int k = 0; k < L->nparam; k++) {
            int64_t b = sr_shape_numel(&L->decl[k].shape) * (int64_t)sr_dtype_size(L->decl[k].dtype);
            if (L->decl[k].buffer)
                t->buffer_bytes += b;
            else
                t->param_bytes += b;
        }
    }
}

static void get_totals(sr_model *m, const sr_shapes *S, const sr_runopts *o, const check_input *ci,
                       totals *t)
{
    param_totals(m, t);
    int64_t real = ci->batch ? ci->batch : 1;
    t->batch = o->batch_size && (!ci->batch || o->batch_size < ci->batch) ? o->batch_size : real;
    t->peak_node = -1;
    t->batched = S->free_name[0] || S->batch_dim0;
    int f = first_leaf(m);
    for (int i = 0; i < m->nnode; i++) {
        if (!sr_node_is_leaf(&m->node[i]))
            continue;
        const sr_nodeshape *ns = &S->node[i];
        if (!ns->known) {
            t->partial = 1;
            continue;
        }
        int64_t isz = i == f && S->in_integer ? 8 : 4;
        int64_t b = sym_numel(&ns->sin, t->batch) * isz + sym_numel(&ns->sout, t->batch) * 4;
        if (b > t->peak) {
            t->peak = b;
            t->peak_node = i;
        }
    }
}

/* "64.3 KiB", or "" below 1 KiB where the byte count says it all. */
static const char *human(int64_t b, char *buf, size_t len)
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB"};
    buf[0] = '\0';
    if (b < 1024)
        return buf;
    double v = (double)b / 1024;
    int u = 0;
    while (v >= 1024 && u < 3)
        v /= 1024, u++;
    snprintf(buf, len, "%.1f %s", v, unit[u]);
    return buf;
}

/* ---- text --------------------------------------------------------------- */

typedef struct {
    char idx[SR_PATHLEN + 32];
    char layer[512];
    char shape[192];
    char params[32];
    char note[128];
} row;

static void text_report(sr_model *m, const sr_shapes *S, const totals *t, const check_input *ci, FILE *out)
{
    if (ci->contradicted)
        fprintf(out, "note: the given input does not match the spec's input: (see stderr); shapes below are for input: itself\n");
    int nrow = m->nnode + 1;
    row *r = calloc((size_t)nrow, sizeof *r);
    if (!r)
        return;
    snprintf(r[0].layer, sizeof r[0].layer, "input");
    sr_symshape_str(&S->sym_in, S->free_name, S->free_size, r[0].shape, sizeof r[0].shape);
    for (int i = 0; i < m->nnode; i++) {
        const sr_node *nd = &m->node[i];
        const sr_nodeshape *ns = &S->node[i];
        row *w = &r[i + 1];
        snprintf(w->idx, sizeof w->idx, "%*s%s", 2 * nd->depth, "", nd->path);
        if (sr_node_is_leaf(nd))
            sr_layer_repr(nd->mod, w->layer, sizeof w->layer);
        else
            snprintf(w->layer, sizeof w->layer, "Sequential");
        if (ns->known)
            sr_symshape_str(&ns->sout, S->free_name, S->free_size, w->shape, sizeof w->shape);
        else
            snprintf(w->shape, sizeof w->shape, "?");
        if (!sr_node_is_leaf(nd))
            continue;
        if (ns->bad)
            snprintf(w->note, sizeof w->note, ns->known ? "<- mismatch; later layers checked with this shape"
                                                        : "<- mismatch; later layers not checked");
        if (nd->first) {
            snprintf(w->params, sizeof w->params, "%lld", (long long)layer_params(nd->mod));
        } else {
            snprintf(w->params, sizeof w->params, "-");
            if (!w->note[0])
                snprintf(w->note, sizeof w->note, "shared with layer %s, counted once",
                         m->node[first_occurrence(m, i)].path);
        }
    }
    int wi = 5, wl = 5, ws = 12, wp = 6;
    for (int i = 0; i < nrow; i++) {
        int a = (int)strlen(r[i].idx), b = (int)strlen(r[i].layer), c = (int)strlen(r[i].shape),
            e = (int)strlen(r[i].params);
        wi = a > wi ? a : wi;
        wl = b > wl ? b : wl;
        ws = c > ws ? c : ws;
        wp = e > wp ? e : wp;
    }
    fprintf(out, "%-*s  %-*s  %-*s  %*s\n", wi, "index", wl, "layer", ws, "output shape", wp, "params");
    for (int i = 0; i < nrow; i++) {
        const char *note = r[i].note;
        char line[1200];
        snprintf(line, sizeof line, "%-*s  %-*s  %-*s  %*s%s%s", wi, r[i].idx, wl, r[i].layer, ws, r[i].shape, wp,
                 r[i].params, note[0] ? "  " : "", note);
        size_t n = strlen(line);
        while (n && line[n - 1] == ' ')
            line[--n] = '\0';
        fprintf(out, "%s\n", line);
    }
    free(r);
    char h[32];
    if (S->nbad + ci->contradicted)
        fprintf(out, "shape mismatches: %d (details on stderr)\n", S->nbad + ci->contradicted);
    human(t->param_bytes, h, sizeof h);
    fprintf(out, "parameter bytes: %lld (%s%sfloat32)\n", (long long)t->param_bytes, h, h[0] ? ", " : "");
    if (t->buffer_bytes) {
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
    fprintf(out, "total params: %lld\n", (long long)t->params);
}

/* ---- JSON --------------------------------------------------------------- */

/* A JSON string: quotes, backslashes and control characters escaped, valid
 * UTF-8 kept, and any other byte as U+FFFD so the output always parses. */

static void json_shape(FILE *out, const sr_symshape *s, const char *name, int64_t b)
{
    fputc('[', out);
    for (int k = 0; k < s->ndim; k++) {
        if (k)
            fputs(", ", out);
        if (s->k[k] && name[0]) {
            sr_symshape one = {.ndim = 1, .k = {s->k[k]}, .c = {s->c[k]}};
            char buf[64];
            sr_symshape_str(&one, name, b, buf, sizeof buf);
            buf[strlen(buf) - 1] = '\0'; /* drop the brackets */
            sr_json_str(out, buf + 1);
        } else {
            fprintf(out, "%lld", (long long)(s->k[k] * b + s->c[k]));
        }
    }
    fputc(']', out);
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

/* One layer object per line, so line tools can pick them out. */
static void json_report(sr_model *m, const sr_shapes *S, const totals *t, const sr_diags *d, const check_input *ci,
                        FILE *out)
{
    const char *name = S ? S->free_name : "";
    int64_t b = S ? S->free_size : 1;
    fputs("{\n  \"file\": ", out);
    sr_json_str(out, m->label);
    fputs(",\n  \"input_shape\": ", out);
    if (S)
        json_shape(out, &S->sym_in, name, b);
    else
        fputs("null", out);
    fputs(",\n  \"input_from\": ", out);
    sr_json_str(out, S ? ci->source : NULL);
    fprintf(out, ",\n  \"input_contradicts_spec\": %s", ci->contradicted ? "true" : "false");
    fputs(",\n  \"batch_dim\": ", out);
    if (S && S->free_dim >= 0 && name[0]) {
        fprintf(out, "{\"index\": %d, \"name\": ", S->free_dim);
        sr_json_str(out, name);
        fputc('}', out);
    } else {
        fputs("null", out);
    }
    fputs(",\n  \"layers\": [", out);
    for (int i = 0; S && i < m->nnode; i++) {
        const sr_node *nd = &m->node[i];
        const sr_nodeshape *ns = &S->node[i];
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
        fprintf(out, ", \"params\": %lld, \"shared\": %s, \"shared_with\": ",
                (long long)(leaf ? layer_params(nd->mod) : subtree_params(m, i)), nd->first ? "false" : "true");
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
    fprintf(out, "  \"param_bytes\": %lld,\n", (long long)t->param_bytes);
    fprintf(out, "  \"buffer_bytes\": %lld,\n", (long long)t->buffer_bytes);
    if (S && t->batched)
        fprintf(out, "  \"batch_size\": %lld,\n", (long long)t->batch);
    else
        fputs("  \"batch_size\": null,\n", out);
    if (S && t->peak_node >= 0)
        fprintf(out, "  \"peak_activation_bytes\": %lld,\n", (long long)t->peak);
    else
        fputs("  \"peak_activation_bytes\": null,\n", out);
    fprintf(out, "  \"total_params\": %lld\n}\n", (long long)t->params);
}

/* Parameter declarations as the shapes now known make them. */
static void refresh_params(sr_model *m)
{
    for (int i = 0; i < m->nmods; i++)
        if (m->mods[i]->type->params)
            m->mods[i]->nparam = m->mods[i]->type->params(m->mods[i], m->mods[i]->decl);
}

sr_status sr_check(sr_model *m, const sr_runopts *o, FILE *out, sr_diags *d)
{
    sr_runopts oo = *o;
    /* stdin only when nothing else gives the shape */
    if (!oo.input && !oo.has_input_shape && !m->has_input)
        oo.input = "-";
    int json = o->format == SR_FMT_JSON;
    refresh_params(m);
    check_input ci;
    sr_status st = get_input(m, &oo, &ci, d);
    if (st != SR_OK && !ci.contradicted) {
        if (json) {
            totals t;
            param_totals(m, &t);
            json_report(m, NULL, &t, d, &ci, out);
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
    refresh_params(m); /* LazyLinear's shapes are known only now */
    totals t;
    get_totals(m, &S, o, &ci, &t);
    if (json)
        json_report(m, &S, &t, d, &ci, out);
    else
        text_report(m, &S, &t, &ci, out);
    sr_shapes_free(&S);
    return st;
}
