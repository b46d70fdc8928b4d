/* embedding.c - Embedding: rows of a table picked by integer indices. */
#include "layers.h"
#include "../init.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

SR_VALIDATE_FN(sr_embedding_validate)
{
    int64_t n = sr_argi(L, EMB_NUM), d = sr_argi(L, EMB_DIM);
    if (n < 0 || d < 0)
        return sr_err(err, SR_EUSAGE, "num_embeddings and embedding_dim must be non-negative");
    if (!sr_arg_is_none(L, EMB_PADDING_IDX)) {
        int64_t p = sr_argi(L, EMB_PADDING_IDX);
        if (p >= n || p < -n)
            return sr_err(err, SR_EUSAGE, "padding_idx must be within num_embeddings (%lld), got %lld",
                          (long long)n, (long long)p);
        if (p < 0) /* PyTorch stores a negative padding_idx normalised */
            L->arg[EMB_PADDING_IDX].i = p + n;
    }
    return SR_OK;
}

SR_SHAPE_FN(sr_embedding_shape)
{
    if (in->ndim >= SR_MAXDIM)
        return sr_err(err, SR_ESHAPE, "input has too many dimensions");
    *out = *in;
    out->d[out->ndim++] = sr_argi(L, EMB_DIM);
    info->out_known = 1;
    info->batch_dim0 = in->ndim >= 1;
    if (!info->in_integer)
        return sr_err(err, SR_ESHAPE,
                      "Embedding needs integer indices, but input %s%s%s%s is float; "
                      "hint: %s",
                      sr_shp(in), info->prev ? " (from " : "", info->prev ? info->prev : "", info->prev ? ")" : "",
                      info->prev ? "Embedding takes token ids, so it must be the first layer"
                                 : "feed an integer .npy (int64 or int32 token ids)");
    return SR_OK;
}

SR_PARAMS_FN(sr_embedding_params)
{
    memset(p, 0, sizeof *p);
    p[0].name = "weight";
    p[0].shape = sr_shape_make(2, (int64_t[]){sr_argi(L, EMB_NUM), sr_argi(L, EMB_DIM)});
    p[0].init = sr_init_normal(0.0, 1.0);
    p[0].zero_row = sr_arg_is_none(L, EMB_PADDING_IDX) ? -1 : sr_argi(L, EMB_PADDING_IDX);
    return 1;
}

SR_FORWARD_FN(sr_embedding_forward)
{
    (void)ctx;
    int64_t n = sr_shape_numel(&in->shape), num = sr_argi(L, EMB_NUM), dim = sr_argi(L, EMB_DIM);
    const int64_t *idx = sr_i64(in);
    float *W = sr_f32(&L->param[0]), *Y = sr_f32(out);
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= num)
            return sr_err(err, SR_ERUN,
                          "index %lld at position %lld is out of range for Embedding with num_embeddings=%lld",
                          (long long)idx[i], (long long)(ctx->sample0 * (in->shape.ndim ? n / (in->shape.d[0] ? in->shape.d[0] : 1) : 0) + i),
                          (long long)num);
    }
    int renorm = !sr_arg_is_none(L, EMB_MAX_NORM);
    double max_norm = sr_argf(L, EMB_MAX_NORM), p = sr_argf(L, EMB_NORM_TYPE);
    for (int64_t i = 0; i < n; i++) {
        float *row = W + idx[i] * dim;
        if (renorm) {
            /* embedding_renorm_: rescale the looked-up rows in place */
            double norm = 0;
            for (int64_t k = 0; k < dim; k++)
                norm += p == 1 ? fabs(row[k]) : pow(fabs(row[k]), p);
            norm = p == 1 ? norm : pow(norm, 1.0 / p);
            if (norm > max_norm) {
                float scale = (float)(max_norm / (norm + 1e-7));
                for (int64_t k = 0; k < dim; k++)
                    row[k] *= scale;
            }
        }
        memcpy(Y + i * dim, row, (size_t)dim * sizeof *Y);
    }
    return SR_OK;
}

/* ---- rows ----------------------------------------------------------------- */

static const sr_argdef a_embedding[] = {
    {"num_embeddings", T_I, NULL, NULL, 0},
    {"embedding_dim", T_I, NULL, NULL, 0},
    {"padding_idx", T_I | T_N, "None", NULL, 0},
    {"max_norm", T_F | T_N, "None", NULL, 0},
    {"norm_type", T_F, "2.0", NULL, 0},
    {"scale_grad_by_freq", T_B, "False", NULL, 0},
    {"sparse", T_B, "False", NULL, 0},
};

SR_ROW(Embedding, .summary = "looks up rows of a table by integer index", SR_ARGS(a_embedding),
       .repr = "#num_embeddings, #embedding_dim, padding_idx?, max_norm?, norm_type?, scale_grad_by_freq?, sparse?",
       .flags = SR_LF_INDEX_INPUT, .validate = sr_embedding_validate, .shape = sr_embedding_shape,
       .params = sr_embedding_params, .forward = sr_embedding_forward);
