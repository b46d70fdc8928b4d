/* shape.c - shape inference and its diagnostics. */
#include "shape.h"
#include "layers/layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sr_status sr_infer(sr_model *m, const sr_shape *in, int in_integer, int training, sr_shapes *S,
                   sr_diags *d)
{
    memset(S, 0, sizeof *S);
    S->node = calloc((size_t)(m->nnode ? m->nnode : 1), sizeof *S->node);
    if (!S->node) {
        sr_diag_add(d, "out of memory");
        return SR_ERUN;
    }
    sr_shape cur = *in;
    int known = 1, integer = in_integer;
    char prev[SR_PATHLEN + 48] = "";
    S->batch_dim0 = in->ndim >= 1;
    for (int i = 0; i < m->nnode; i++) {
        sr_node *nd = &m->node[i];
        sr_nodeshape *ns = &S->node[i];
        if (!sr_node_is_leaf(nd))
            continue;
        ns->in = cur;
        if (!known)
            continue; /* nothing sensible to check against */
        sr_shapeinfo info = {.prev = prev[0] ? prev : NULL, .in_integer = integer, .training = training};
        char err[SR_ERRLEN];
        sr_shape out = cur;
        sr_status st = nd->mod->type->shape(nd->mod, &cur, &out, &info, err);
        if (st != SR_OK) {
            char label[SR_PATHLEN + 48];
            sr_node_label(m, i, label, sizeof label);
            sr_diag_add(d, "%s:%d:%d: %s: %s", m->label, nd->line, nd->col, label, err);
            ns->bad = 1;
            S->nbad++;
            known = info.out_known;
        }
        ns->out = out;
        ns->known = 1;
        cur = out;
        integer = 0;
        if (!info.batch_dim0)
            S->batch_dim0 = 0;
        sr_node_label(m, i, prev, sizeof prev);
    }
    /* A container's shapes span its first to its last leaf. */
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
        if (first < 0) {
            /* an empty Sequential is Identity */
            int j = i - 1;
            while (j >= 0 && !S->node[j].known)
                j--;
            S->node[i].in = S->node[i].out = j >= 0 ? S->node[j].out : *in;
            S->node[i].known = 1;
        } else {
            S->node[i].in = S->node[first].in;
            S->node[i].out = S->node[last].out;
            S->node[i].known = S->node[last].known;
        }
    }
    S->out = cur;
    return S->nbad ? SR_ESHAPE : SR_OK;
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
        for (int i = 0, j = 0; i < want->ndim; i++) {
            if (i == m->input_free)
                continue;
            ok &= in->d[j++] == want->d[i];
        }
        if (ok)
            return sr_err(err, SR_ESHAPE,
                          "%s:%d:%d: input %s lacks the batch dimension '%s' of input: %s; hint: add a batch dimension of 1 (shape [1, ...])",
                          m->label, m->input_line, m->input_col, sr_shp(in), m->input_free_name, ws);
    }
    int ok = in->ndim == want->ndim;
    for (int i = 0; ok && i < want->ndim; i++)
        ok = i == m->input_free || in->d[i] == want->d[i];
    if (!ok)
        return sr_err(err, SR_ESHAPE, "%s:%d:%d: input shape %s does not match the spec's input: %s",
                      m->label, m->input_line, m->input_col, sr_shp(in), ws);
    return SR_OK;
}
