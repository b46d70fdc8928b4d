/*
 * fuzz_spec.c - libFuzzer target: arbitrary bytes as a model spec.
 *
 * Runs what `seqrun --check` runs on a spec without touching the disk:
 * parse, shape inference on a few small inputs, parameter declarations,
 * the parameter count and every layer's repr.  Weights are never allocated
 * (a spec can legitimately declare a Linear(1e6, 1e6)), so the target finds
 * parser and shape-rule bugs, not the allocator's limits.
 */
#include "layer.h"
#include "model.h"
#include "shape.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void infer_on(sr_model *m, const sr_shape *in, int integer, int training)
{
    sr_diags d = {0};
    sr_shapes S;
    if (sr_infer(m, in, integer, training, &S, &d) != SR_ERUN)
        sr_shapes_free(&S);
    sr_diags_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sr_model m;
    sr_diags d = {0};
    sr_status st = sr_spec_parse(&m, (const char *)data, size, "fuzz.yaml", ".", &d);
    sr_diags_free(&d);
    if (st == SR_OK) {
        /* The spec's own input: with the batch dimension set small, then
         * the shapes a user most often feeds. */
        if (m.has_input) {
            sr_shape in = m.input;
            if (m.input_free >= 0)
                in.d[m.input_free] = 2;
            char err[SR_ERRLEN];
            (void)sr_check_input(&m, &in, err);
            infer_on(&m, &in, 0, 0);
        }
        static const sr_shape probes[] = {
            {2, {2, 4}}, {4, {2, 3, 8, 8}}, {3, {2, 3, 10}}, {1, {5}}, {0, {0}},
        };
        for (size_t k = 0; k < sizeof probes / sizeof *probes; k++)
            infer_on(&m, &probes[k], k == 0, (int)(k & 1));
        /* What --check does after inference: declare parameters (LazyLinear
         * knows its in_features only now) and describe every layer. */
        for (int i = 0; i < m.nnode; i++) {
            sr_layer *L = m.node[i].mod;
            if (m.node[i].first && L->type->params)
                L->nparam = L->type->params(L, L->decl);
            char repr[256], label[SR_PATHLEN + 48];
            sr_layer_repr(L, repr, sizeof repr);
            sr_node_label(&m, i, label, sizeof label);
        }
        (void)sr_model_param_count(&m);
    }
    sr_model_free(&m);
    return 0;
}
