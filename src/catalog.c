/* catalog.c - `seqrun --list-layers`, read from the layer table. */
#include "catalog.h"
#include "json.h"

#include <string.h>

/* A stand-in for a required argument: 1, (1, ...), 1.0, or the first choice. */
static void stand_in(const sr_argdef *a, sr_argval *v)
{
    memset(v, 0, sizeof *v);
    if (a->types & SR_T_INT) {
        v->kind = SR_AV_INT, v->i = 1, v->f = 1.0;
    } else if (a->types & SR_T_TUPLE) {
        v->kind = SR_AV_TUPLE;
        v->n = a->tlen > 0 ? a->tlen : 1;
        for (int k = 0; k < v->n; k++)
            v->t[k] = 1;
    } else if (a->types & SR_T_FLOAT) {
        v->kind = SR_AV_FLOAT, v->f = 1.0;
    } else if (a->types & SR_T_BOOL) {
        v->kind = SR_AV_BOOL;
    } else if ((a->types & SR_T_STR) && a->choices) {
        v->kind = SR_AV_STR;
        size_t n = strcspn(a->choices, "|");
        snprintf(v->s, sizeof v->s, "%.*s", (int)(n < sizeof v->s ? n : sizeof v->s - 1), a->choices);
    } else {
        v->kind = SR_AV_NONE;
    }
}

int sr_catalog_state(const sr_layertype *t, sr_paramdecl *decl)
{
    if (!t->params)
        return 0;
    sr_layer L;
    if (sr_layer_init(&L, t) != 0)
        return -1;
    for (int i = 0; i < t->nargs; i++)
        if (!t->args[i].def)
            stand_in(&t->args[i], &L.arg[i]);
    L.lazy_in = 1;
    char err[SR_ERRLEN];
    int n = -1;
    if (!t->validate || t->validate(&L, err) == SR_OK)
        n = t->params(&L, decl);
    sr_layer_clear(&L);
    return n;
}

static const char *const kind_names[] = {"int", "float", "bool", "str", "none", "tuple"};

static void json_layer(FILE *out, const sr_layertype *t)
{
    fputs("{\"name\": ", out);
    sr_json_str(out, t->name);
    fputs(", \"summary\": ", out);
    sr_json_str(out, t->summary);
    fputs(", \"args\": [", out);
    for (int i = 0; i < t->nargs; i++) {
        const sr_argdef *a = &t->args[i];
        fprintf(out, "%s{\"name\": ", i ? ", " : "");
        sr_json_str(out, a->name);
        fputs(", \"types\": [", out);
        for (int k = 0, any = 0; k < 6; k++)
            if (a->types & (1u << k))
                fprintf(out, "%s\"%s\"", any++ ? ", " : "", kind_names[k]);
        fputs("], \"default\": ", out);
        sr_json_str(out, a->def);
        if (a->choices) {
            fputs(", \"choices\": ", out);
            sr_json_str(out, a->choices);
        }
        if (a->types & SR_T_TUPLE)
            fprintf(out, ", \"tuple_len\": %d", a->tlen);
        fputc('}', out);
    }
    fprintf(out, "], \"varargs\": %s, \"container\": %s, \"lazy\": %s, \"state\": ", t->nargs < 0 ? "true" : "false",
            t->flags & SR_LF_CONTAINER ? "true" : "false", t->flags & SR_LF_LAZY ? "true" : "false");
    sr_paramdecl decl[SR_MAXPARAMS];
    int n = sr_catalog_state(t, decl);
    if (n < 0) {
        fputs("null", out);
    } else {
        fputc('[', out);
        for (int k = 0; k < n; k++) {
            fprintf(out, "%s{\"name\": ", k ? ", " : "");
            sr_json_str(out, decl[k].name);
            fprintf(out, ", \"buffer\": %s}", decl[k].buffer ? "true" : "false");
        }
        fputc(']', out);
    }
    fputc('}', out);
}

void sr_catalog_write(FILE *out, int json)
{
    if (json)
        fputs("{\"layers\": [\n", out);
    for (int i = 0; i < sr_nlayer_types; i++) {
        const sr_layertype *t = sr_layer_types[i];
        if (json) {
            fputs("  ", out);
            json_layer(out, t);
            fputs(i + 1 < sr_nlayer_types ? ",\n" : "\n", out);
            continue;
        }
        char sig[512];
        if (t->flags & SR_LF_CONTAINER)
            snprintf(sig, sizeof sig, "%s([layer, ...])", t->name);
        else
            sr_layertype_signature(t, sig, sizeof sig);
        fprintf(out, "%s\n    %s\n", sig, t->summary);
        sr_paramdecl decl[SR_MAXPARAMS];
        int n = sr_catalog_state(t, decl);
        if (n > 0) {
            fputs("    state_dict:", out);
            for (int k = 0; k < n; k++)
                fprintf(out, "%s %s%s", k ? "," : "", decl[k].name, decl[k].buffer ? " (buffer)" : "");
            fputc('\n', out);
        }
    }
    if (json)
        fputs("]}\n", out);
    else
        fprintf(out, "%d layer types\n", sr_nlayer_types);
}
