/* sequential.c - Sequential: a container; the executor runs its children. */
#include "layers.h"

static SR_SHAPE_FN(sequential_shape)
{
    (void)L;
    (void)err;
    *out = *in;
    info->out_known = 1;
    info->batch_dim0 = 1;
    return SR_OK;
}

SR_ROW(Sequential, .summary = "runs the listed layers in order", .repr = "", .flags = SR_LF_CONTAINER,
       .shape = sequential_shape);
