/* plan.c - fusion, micro-batched runs and layouts for a record's chunks. */
#include "plan.h"

#include <string.h>

static void plan_fusion(const sr_model *m, const sr_shapes *S, int training, sr_plannode *P)
{
    int prev = -1; /* the leaf before, while it may still absorb what follows */
    for (int i = 0; i < m->nnode; i++) {
        const sr_node *nd = &m->node[i];
        if (!sr_node_is_leaf(nd))
            continue;
        const sr_layertype *t = nd->mod->type;
        if (prev >= 0) {
            const sr_layer *pl = m->node[prev].mod;
            const sr_shape *po = &S->node[prev].out;
            int64_t C = pl->type->fold ? pl->type->fold(pl, NULL, NULL, NULL, NULL) : 0;
            if (t->affine && P[prev].post < 0 && P[prev].fold < 0 && (pl->type->flags & SR_FUSE_AFFINE) &&
                C > 0 && po->ndim >= 2 && pl->type->channel_dim(pl, po) == 1 && po->d[1] == C &&
                (!t->channel_dim || t->channel_dim(nd->mod, po) == 1) &&
                t->affine(nd->mod, training, NULL, NULL) == C) {
                P[prev].fold = i;
                P[i].fused_into = prev;
                continue;
            }
            if (t->apply && P[prev].post < 0 && (pl->type->flags & SR_FUSE_POST)) {
                P[prev].post = i;
                P[i].fused_into = prev;
                prev = -1;
                continue;
            }
        }
        prev = t->flags & (SR_FUSE_POST | SR_FUSE_AFFINE) ? i : -1;
    }
}

size_t sr_plan_per_sample(const sr_symshape *s)
{
    if (s->ndim < 1 || s->k[0] != 1 || s->c[0] != 0)
        return 0;
    size_t n = 1;
    for (int i = 1; i < s->ndim; i++) {
        if (s->k[i] != 0 || s->c[i] < 0 || !sr_mul_ok(n, (size_t)s->c[i], &n))
            return 0;
    }
    return n;
}

int sr_plan_produced(const sr_plannode *P, int i)
{
    int last = P[i].fold >= 0 ? P[i].fold : i;
    return P[i].post >= 0 ? P[i].post : last;
}

static void plan_runs(const sr_model *m, const sr_shapes *S, sr_plannode *P)
{
    if (!S->batch_dim0)
        return;
    int start = -1, last = -1, count = 0;
    size_t act = 0;
    for (int i = 0; i <= m->nnode; i++) {
        if (i < m->nnode) {
            const sr_node *nd = &m->node[i];
            if (!sr_node_is_leaf(nd) || P[i].fused_into >= 0)
                continue;
            size_t a = sr_plan_per_sample(&S->node[i].sin);
            size_t b = sr_plan_per_sample(&S->node[sr_plan_produced(P, i)].sout);
            /* weights that outgrow L2 would be streamed again for every
             * micro-batch: such a layer runs on the whole chunk */
            size_t wbytes = 0;
            for (int k = 0; k < nd->mod->nparam; k++)
                wbytes += (size_t)sr_shape_numel(&nd->mod->param[k].shape) * sr_dtype_size(nd->mod->param[k].dtype);
            if (!(nd->mod->type->flags & SR_WHOLE_BATCH) && a && b && wbytes <= SR_SEG_BYTES) {
                if (start < 0) {
                    start = i;
                    count = 0;
                    act = 0;
                }
                act = a > act ? a : act;
                act = b > act ? b : act;
                last = i;
                count++;
                continue;
            }
        }
        if (start >= 0 && count >= 2) {
            P[start].seg_end = last;
            P[start].seg_act = act;
        }
        start = -1;
    }
}

static void plan_layouts(const sr_model *m, const sr_shapes *S, sr_plannode *P)
{
    for (int s = 0; s < m->nnode; s++) {
        if (P[s].seg_end < 0)
            continue;
        for (int i = -1, j = s; j <= P[s].seg_end; j++) {
            const sr_node *nj = &m->node[j];
            if (!sr_node_is_leaf(nj) || P[j].fused_into >= 0)
                continue;
            const sr_layer *pi = i >= 0 ? m->node[i].mod : NULL;
            const sr_layer *post = i >= 0 && P[i].post >= 0 ? m->node[P[i].post].mod : NULL;
            sr_layout lay;
            if (pi && pi->type->out_layout_ok && nj->mod->type->in_layout) {
                sr_shape a = sr_symshape_at(&S->node[i].sin, 1), b = sr_symshape_at(&S->node[j].sin, 1);
                if (nj->mod->type->in_layout(nj->mod, &b, &lay) && pi->type->out_layout_ok(pi, &a, post)) {
                    P[i].lay = lay;
                    P[i].lay_to = j;
                    if ((size_t)(lay.sample + lay.slack) > P[s].seg_act)
                        P[s].seg_act = (size_t)(lay.sample + lay.slack);
                }
            }
            i = j;
        }
    }
}

void sr_plan_build(const sr_model *m, const sr_shapes *S, int training, sr_plannode *P)
{
    for (int i = 0; i < m->nnode; i++) {
        memset(&P[i], 0, sizeof P[i]);
        P[i].post = P[i].fold = P[i].fused_into = P[i].seg_end = P[i].lay_to = -1;
    }
    plan_fusion(m, S, training, P);
    plan_runs(m, S, P);
    plan_layouts(m, S, P);
}

int64_t sr_plan_mb(const sr_plannode *P, int i, int64_t n)
{
    size_t mb = SR_SEG_BYTES / (2 * sizeof(float) * P[i].seg_act);
    if (mb < 1)
        mb = 1;
    if (n < 1)
        return 1;
    return (int64_t)mb < n ? (int64_t)mb : n;
}

int sr_plan_seg_part(const sr_model *m, const sr_plannode *P, const sr_shapes *S, int i0, int64_t n,
                     size_t *scratch, size_t *act)
{
    int64_t mb = sr_plan_mb(P, i0, n);
    size_t w = 0, a;
    for (int i = i0; i <= P[i0].seg_end; i++) {
        const sr_node *nd = &m->node[i];
        if (!sr_node_is_leaf(nd) || P[i].fused_into >= 0 || !nd->mod->type->workspace)
            continue;
        sr_shape in = sr_symshape_at(&S->node[i].sin, mb), out = sr_symshape_at(&S->node[i].sout, mb);
        size_t wi = nd->mod->type->workspace(nd->mod, &in, &out);
        w = wi > w ? wi : w;
    }
    if (!sr_mul_ok((size_t)mb, P[i0].seg_act, &a) || !(a = sr_plan_lines(a)) || (w && !(w = sr_plan_lines(w))))
        return -1;
    *scratch = w;
    *act = a;
    return 0;
}

sr_status sr_plan_sizes(const sr_model *m, const sr_plannode *P, const sr_shapes *S, size_t *maxact,
                        size_t *maxwork, char *err)
{
    size_t act = 1, work = 0;
    int64_t n = S->node[0].in.ndim ? S->node[0].in.d[0] : 1;
    for (int i = 0; i < m->nnode; i++) {
        const sr_node *nd = &m->node[i];
        if (!sr_node_is_leaf(nd) || P[i].fused_into >= 0)
            continue;
        if (P[i].seg_end >= 0) {
            /* per thread: the run's scratch, then two micro-batch
             * activations; the run's output goes to an activation buffer */
            size_t w, a, part;
            if (sr_plan_seg_part(m, P, S, i, n, &w, &a) < 0 || !sr_mul_ok(2, a, &a) || !sr_add_ok(w, a, &part))
                return sr_err(err, SR_ERUN, "out of memory for workspace");
            work = part > work ? part : work;
            i = P[i].seg_end;
            size_t last = (size_t)sr_shape_numel(&S->node[sr_plan_produced(P, i)].out);
            act = last > act ? last : act;
            continue;
        }
        size_t o = (size_t)sr_shape_numel(&S->node[i].out);
        if (o > act)
            act = o;
        if (nd->mod->type->workspace) {
            size_t w = nd->mod->type->workspace(nd->mod, &S->node[i].in, &S->node[i].out);
            if (w > work)
                work = w;
        }
    }
    *maxact = act;
    *maxwork = work;
    return SR_OK;
}
