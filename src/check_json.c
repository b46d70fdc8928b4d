/*
 * check_json.c - the --check report as one JSON object: the input, every
 * layer (one object per line), the diagnostics with their severity, and
 * the totals.
 */
#include "check_report.h"
#include "json.h"
#include "layers/layers.h"

#include <stdio.h>
#include <string.h>

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

/* The input: where its shape came from, and its named batch dim. */
static void json_input(const report *R, FILE *out)
{
    const sr_shapes *S = R->S;
    const check_input *ci = R->ci;
    fputs("{\n  \"file\": ", out);
    sr_json_str(out, R->m->label);
    fputs(",\n  \"input_shape\": ", out);
    if (S)
        json_shape(out, &S->sym_in, R->name, R->b);
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
}

/* Node i's object, on a line of its own. */
static void json_layer(const report *R, int i, FILE *out)
{
    const sr_model *m = R->m;
    const sr_node *nd = &m->node[i];
    const sr_nodeshape *ns = &R->S->node[i];
    const nodeinfo *ni = &R->ni[i];
    char repr[512];
    if (sr_node_is_leaf(nd))
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
        json_shape(out, &ns->sin, R->name, R->b);
    else
        fputs("null", out);
    fputs(", \"output_shape\": ", out);
    if (ns->known)
        json_shape(out, &ns->sout, R->name, R->b);
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
        sr_json_str(out, m->node[chk_first_occurrence(m, i)].path);
    fprintf(out, ", \"status\": \"%s\"}", ns->bad ? "mismatch" : ns->known ? "ok" : "unknown");
}

/* The counts after the diagnostics: mismatches, weights, mult-adds,
 * bytes, memory and parameters. */
static void json_totals(const report *R, FILE *out)
{
    const sr_shapes *S = R->S;
    const totals *t = &R->t;
    fprintf(out, "  \"mismatches\": %d,\n", (S ? S->nbad : 0) + R->ci->contradicted);
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

/* One layer object per line, so line tools can pick them out.  Every
 * layer is listed whatever --depth says (each has its depth).  Without
 * shapes (R->S NULL) there are no layers, and the driver left R->name ""
 * and R->b 1. */
void chk_json_report(report *R, FILE *out)
{
    const sr_diags *d = R->d;
    json_input(R, out);
    fputs(",\n  \"layers\": [", out);
    for (int i = 0; R->S && i < R->m->nnode; i++)
        json_layer(R, i, out);
    fputs(R->S && R->m->nnode ? "\n  ],\n  \"diagnostics\": [" : "],\n  \"diagnostics\": [", out);
    for (int i = 0; i < d->n; i++) {
        fputs(i ? ",\n" : "\n", out);
        json_diag(out, &d->item[i]);
    }
    fputs(d->n ? "\n  ],\n" : "],\n", out);
    json_totals(R, out);
}
