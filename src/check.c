/* check.c - the --check report. */
#include "check.h"
#include "shape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where --check finds the input shape: INPUT's header, --input-shape, or
 * the spec's input:, in that order. */
static sr_status input_shape(sr_model *m, const sr_runopts *o, sr_shape *s, int *integer, sr_diags *d)
{
    char err[SR_ERRLEN];
    *integer = 0;
    if (o->input) {
        sr_input in;
        sr_status st = sr_input_open(&in, m, o, err);
        if (st == SR_OK) {
            *s = in.h.shape;
            *integer = in.h.is_integer;
        } else {
            sr_diag_add(d, "%s", err);
        }
        sr_input_close(&in);
        return st;
    }
    if (o->has_input_shape) {
        *s = o->input_shape;
        return SR_OK;
    }
    if (m->has_input) {
        *s = m->input;
        if (m->input_free >= 0)
            s->d[m->input_free] = 1;
        return SR_OK;
    }
    return SR_OK; /* caller reads stdin */
}

sr_status sr_check(sr_model *m, const sr_runopts *o, FILE *out, sr_diags *d)
{
    sr_runopts oo = *o;
    if (!oo.input && !oo.has_input_shape && !m->has_input)
        oo.input = "-";
    sr_shape s;
    int integer;
    sr_status st = input_shape(m, &oo, &s, &integer, d);
    if (st != SR_OK)
        return st;
    char err[SR_ERRLEN];
    if (oo.input && (st = sr_check_input(m, &s, err)) != SR_OK) {
        sr_diag_add(d, "%s", err);
        return st;
    }
    sr_shapes S;
    st = sr_infer(m, &s, integer, o->train, &S, d);
    if (st == SR_ERUN)
        return st;
    /* parameter shapes need LazyLinear's in_features, known only now */
    for (int i = 0; i < m->nnode; i++)
        if (m->node[i].first && m->node[i].mod->type->params)
            m->node[i].mod->nparam = m->node[i].mod->type->params(m->node[i].mod, m->node[i].mod->decl);
    fprintf(out, "%-8s %-56s %-22s %12s\n", "index", "layer", "output shape", "params");
    fprintf(out, "%-8s %-56s %-22s %12s\n", "", "input", sr_shp(&s), "");
    for (int i = 0; i < m->nnode; i++) {
        const sr_node *nd = &m->node[i];
        char repr[256], idx[SR_PATHLEN + 16], shape[160];
        sr_layer_repr(nd->mod, repr, sizeof repr);
        snprintf(idx, sizeof idx, "%*s%s", 2 * nd->depth, "", nd->path);
        int64_t np = 0;
        for (int k = 0; k < nd->mod->nparam; k++)
            if (!nd->mod->decl[k].buffer)
                np += sr_shape_numel(&nd->mod->decl[k].shape);
        if (S.node[i].bad)
            snprintf(shape, sizeof shape, "error");
        else if (!S.node[i].known)
            snprintf(shape, sizeof shape, "?");
        else
            sr_shape_str(&S.node[i].out, shape, sizeof shape);
        if (!sr_node_is_leaf(nd))
            fprintf(out, "%-8s %-56s %-22s %12s\n", idx, "Sequential", shape, "");
        else
            fprintf(out, "%-8s %-56s %-22s %12lld%s\n", idx, repr, shape, (long long)np,
                    nd->first ? "" : " (shared)");
    }
    fprintf(out, "total params: %lld\n", (long long)sr_model_param_count(m));
    sr_shapes_free(&S);
    return st;
}
