/*
 * check_text.c - the --check report as a text table: one row per shown
 * node in the columns asked for, then the totals.
 */
#include "check_report.h"
#include "layers/layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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


enum { C_INDEX, C_LAYER, C_IN, C_OUT, C_PARAMS, C_MACS, C_NOTE, NCELL };

#define CELL 512

typedef struct {
    char cell[NCELL][CELL];
} row;

static int col_of(int bit)
{
    return bit == SR_COL_INPUT ? C_IN : bit == SR_COL_OUTPUT ? C_OUT : bit == SR_COL_PARAMS ? C_PARAMS : C_MACS;
}

/* Node i's cells: its index, repr and shapes; for a leaf or a folded
 * Sequential also its numbers, and a note on a mismatch or a shared module. */
static void node_row(const report *R, int i, char (*w)[CELL])
{
    const sr_model *m = R->m;
    const sr_node *nd = &m->node[i];
    const sr_nodeshape *ns = &R->S->node[i];
    const nodeinfo *ni = &R->ni[i];
    int leaf = sr_node_is_leaf(nd);
    snprintf(w[C_INDEX], CELL, "%*s%s", 2 * nd->depth, "", nd->path);
    if (leaf)
        sr_layer_repr(nd->mod, w[C_LAYER], CELL);
    else
        snprintf(w[C_LAYER], CELL, "Sequential");
    if (ns->in_known)
        chk_shape_of(R, &ns->sin, w[C_IN], CELL);
    else
        snprintf(w[C_IN], CELL, "?");
    if (ns->known)
        chk_shape_of(R, &ns->sout, w[C_OUT], CELL);
    else
        snprintf(w[C_OUT], CELL, "?");
    if (!leaf && !ni->folded) {
        w[C_PARAMS][0] = w[C_MACS][0] = '\0';
        return;
    }
    if (!nd->first)
        snprintf(w[C_PARAMS], CELL, "(recursive)");
    else if (ni->params < 0)
        snprintf(w[C_PARAMS], CELL, "overflow");
    else
        chk_commas(ni->params, w[C_PARAMS], CELL);
    if (ni->macs >= 0)
        chk_commas(ni->macs, w[C_MACS], CELL);
    else
        snprintf(w[C_MACS], CELL, "?");
    if (leaf && ns->bad)
        snprintf(w[C_NOTE], CELL, ns->known ? "<- mismatch; later layers checked with this shape"
                                            : "<- mismatch; later layers not checked");
    else if (!leaf && ni->bad_inside >= 0)
        snprintf(w[C_NOTE], CELL, "<- mismatch in layer %s (folded; see stderr)", m->node[ni->bad_inside].path);
    if (!nd->first && !w[C_NOTE][0])
        snprintf(w[C_NOTE], CELL, "shared with layer %s, counted once", m->node[chk_first_occurrence(m, i)].path);
}

/* The table: a header, then rows r[0] (the input) and r[i + 1] (node i)
 * of the shown nodes, in the columns asked for, each as wide as its
 * widest cell; trailing blanks dropped. */
static void print_table(const report *R, const row *r, int nrow, FILE *out)
{
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
}

/* The lines under the table: problems counted, the weights, mult-adds. */
static void print_checks(const report *R, FILE *out)
{
    const totals *t = &R->t;
    int mismatches = R->S->nbad + R->ci->contradicted;
    char a[192], h[48];
    if (mismatches)
        fprintf(out, "shape mismatches: %d (details on stderr)\n", mismatches);
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
        fprintf(out, "total mult-adds: %s%s%s%s\n", chk_commas(t->macs, a, sizeof a), count_units(t->macs, h, sizeof h),
                at, t->partial ? "; layers of unknown shape not counted" : "");
    }
}

/* The memory and parameter totals, last (the contract: the report ends
 * with "total params: N"). */
static void print_totals(const report *R, FILE *out)
{
    const totals *t = &R->t;
    char a[192], h[48];
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
                (long long)t->peak, h[0] ? " (" : "", h, h[0] ? ")" : "", at, R->m->node[t->peak_node].path,
                t->partial ? "; layers of unknown shape not counted" : "");
    }
    if (t->params >= 0) {
        fprintf(out, "trainable params: %s\n", chk_commas(t->params, a, sizeof a));
        fprintf(out, "non-trainable params: 0 (a spec freezes no parameter; buffers are not parameters)\n");
        fprintf(out, "total params: %lld\n", (long long)t->params);
    } else {
        fprintf(out, "total params: overflow (more than 9223372036854775807; see stderr)\n");
    }
}

void chk_text_report(report *R, FILE *out)
{
    sr_model *m = R->m;
    const check_input *ci = R->ci;
    char b[192];
    if (ci->contradicted)
        fprintf(out, "note: the input %s does not match the spec's input: %s (see stderr); shapes below are for "
                "the input as given\n", sr_shp(&ci->shape), spec_input_str(m, b, sizeof b));
    int nrow = m->nnode + 1;
    row *r = calloc((size_t)nrow, sizeof *r);
    if (!r)
        return;
    snprintf(r[0].cell[C_LAYER], CELL, "input");
    chk_shape_of(R, &R->S->sym_in, r[0].cell[C_OUT], CELL);
    for (int i = 0; i < m->nnode; i++)
        if (R->ni[i].shown)
            node_row(R, i, r[i + 1].cell);
    print_table(R, r, nrow, out);
    free(r);
    print_checks(R, out);
    print_totals(R, out);
}
