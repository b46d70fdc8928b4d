/*
 * check.c - the --check report's driver: the input as --check sees it
 * (data, --input-shape or the spec's input:), shape inference, the
 * numbers (check_count.c), the weights checked as the run would load them
 * (loading nothing), then one of the encodings: a text table
 * (check_text.c), one JSON object (check_json.c) or a Graphviz graph
 * (check_dot.c).
 */
#include "check_report.h"
#include "layers/layers.h"
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Size for a free dimension nobody gave a size.  1 makes no size in a
 * message a product with a batch by coincidence; which layers are wrong
 * sr_infer_free decides at two other sizes.  Reports print the dim by name. */
#define FREE_PLACEHOLDER 1

/* Without data there is no dtype: assume what the first layer takes. */
static int wants_integer(const sr_model *m)
{
    int f = chk_first_leaf(m);
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
            chk_param_totals(&R);
            chk_json_report(&R, out);
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
    chk_param_totals(&R);
    chk_node_numbers(&R);
    chk_memory_totals(&R, o);
    sr_status wst = SR_OK;
    const char *weights = o->weights ? o->weights : m->weights;
    if (weights)
        wst = check_weights(&R, weights, d);
    if (c.format == SR_CHECK_JSON)
        chk_json_report(&R, out);
    else if (c.format == SR_CHECK_DOT)
        chk_dot_report(&R, out);
    else
        chk_text_report(&R, out);
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
