/*
 * embeddingbag.c - EmbeddingBag over 2-D index input [B, N]: B bags of N
 * indices each (offsets=None, as F.embedding_bag makes them for 2-D input),
 * reduced by mode sum, mean or max into [B, embedding_dim].
 *
 * PyTorch 1.13's semantics: entries equal to padding_idx are left out of
 * their bag (mean divides by the entries that remain; a bag of padding
 * only gives zeros in every mode); max keeps the first entry's value and
 * replaces it only by a greater one, so a NaN in the first entry stays
 * and a later NaN is ignored, as embedding_bag_cpu_max_out does; max_norm
 * renormalises the looked-up rows of the weight in place first, as
 * embedding_renorm_ does.  Indices out of [0, num_embeddings) are a
 * runtime error naming the index and its place.
 */
#include "layers.h"
#include "../init.h"
#include "../par.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EB_NUM, EB_DIM, EB_MAX_NORM, EB_NORM_TYPE, EB_SCALE_GRAD, EB_MODE, EB_SPARSE, EB_LAST_OFFSET, EB_PADDING_IDX };
enum { EB_SUM, EB_MEAN, EB_MAX };

typedef struct {
    int mode;
    int64_t pad;   /* normalised padding_idx, -1: none */
} eb_cfg;

SR_VALIDATE_FN(eb_validate)
{
    eb_cfg *c = L->cfg;
    int64_t n = sr_argi(L, EB_NUM), d = sr_argi(L, EB_DIM);
    if (n < 0 || d < 0)
        return sr_err(err, SR_EUSAGE, "num_embeddings and embedding_dim must be non-negative, got %lld and %lld",
                      (long long)n, (long long)d);
    const char *m = L->arg[EB_MODE].s;
    c->mode = !strcmp(m, "sum") ? EB_SUM : !strcmp(m, "mean") ? EB_MEAN : EB_MAX;
    c->pad = -1;
    if (!sr_arg_is_none(L, EB_PADDING_IDX)) {
        int64_t p = sr_argi(L, EB_PADDING_IDX);
        if (p >= n || p < -n)
            return sr_err(err, SR_EUSAGE, "padding_idx must be within num_embeddings (%lld), got %lld",
                          (long long)n, (long long)p);
        if (p < 0) /* PyTorch stores a negative padding_idx normalised */
            L->arg[EB_PADDING_IDX].i = p = p + n;
        c->pad = p;
    }
    if (c->mode == EB_MAX && sr_argi(L, EB_SCALE_GRAD))
        return sr_err(err, SR_EUSAGE, "max mode does not support scaling the gradient by the frequency; hint: "
                      "remove scale_grad_by_freq, or use mode sum or mean");
    if (c->mode == EB_MAX && sr_argi(L, EB_SPARSE))
        return sr_err(err, SR_EUSAGE, "max mode does not support sparse weights; hint: remove sparse, or use mode "
                      "sum or mean");
    if (sr_argi(L, EB_LAST_OFFSET))
        return sr_err(err, SR_EUSAGE, "include_last_offset=True takes the last of 1-D input's offsets as the end of "
                      "the last bag, but seqrun feeds 2-D input, where PyTorch 1.13 then drops the last bag, divides "
                      "the new last bag's mean by the wrong count and corrupts memory in max mode; hint: remove "
                      "include_last_offset (2-D input makes one bag per row)");
    return SR_OK;
}

SR_SHAPE_FN(eb_shape)
{
    int64_t D = sr_argi(L, EB_DIM);
    char src[256];
    *out = sr_shape_make(2, (int64_t[]){in->ndim >= 1 ? in->d[0] : 1, D});
    info->out_known = 1;
    info->batch_dim0 = 1;
    if (!info->in_integer)
        return sr_err(err, SR_ESHAPE, "EmbeddingBag needs integer indices, but input %s%s is float; hint: %s",
                      sr_shp(in), sr_from(info, 0, src, sizeof src),
                      info->prev ? "EmbeddingBag takes token ids, so it must be the first layer"
                                 : "feed an integer .npy (int64 or int32 token ids), shape [bags, indices per bag]");
    if (in->ndim != 2) {
        const char *hint = in->ndim == 1 ? "1-D input needs offsets, which a Sequential cannot pass; give it "
                                           "[bags, indices per bag] (a single bag as [1, L])"
                                         : "give it [bags, indices per bag]; Flatten(1) merges the trailing "
                                           "dimensions into one bag per sample";
        return sr_err(err, SR_ESHAPE, "EmbeddingBag takes 2-D index input [B, N] (B bags of N indices), but input "
                      "%s%s is %d-D; hint: %s", sr_shp(in), sr_from(info, 0, src, sizeof src), in->ndim, hint);
    }
    if (in->d[1] == 0)
        return sr_err(err, SR_ESHAPE, "EmbeddingBag needs at least one index per bag, but input %s%s has bags of "
                      "length 0 (PyTorch 1.13 fails: step must be nonzero); hint: give every bag at least one index "
                      "(pad with padding_idx)", sr_shp(in), sr_from(info, 0, src, sizeof src));
    return SR_OK;
}

SR_PARAMS_FN(eb_params)
{
    memset(p, 0, sizeof *p);
    p[0].name = "weight";
    p[0].shape = sr_shape_make(2, (int64_t[]){sr_argi(L, EB_NUM), sr_argi(L, EB_DIM)});
    p[0].init = sr_init_normal(0.0, 1.0);
    p[0].zero_row = sr_arg_is_none(L, EB_PADDING_IDX) ? -1 : sr_argi(L, EB_PADDING_IDX);
    return 1;
}

/* acc[k] += row[k] */
static SR_VEC_VOID(eb_add, (double *acc, const float *row, int64_t n), (acc, row, n))
{
    for (int64_t k = 0; k < n; k++)
        acc[k] += (double)row[k];
}

/* y[k] = row[k] if it is greater, else y[k] (a NaN in y stays, one in row
 * does not enter), as embedding_bag_cpu_max_out */
static SR_VEC_VOID(eb_max, (float *y, const float *row, int64_t n), (y, row, n))
{
    for (int64_t k = 0; k < n; k++)
        y[k] = row[k] > y[k] ? row[k] : y[k];
}

typedef struct {
    const float *W;
    const int64_t *idx;
    float *y;
    int64_t B, N, D, pad;
    int mode;
} eb_job;

#define EB_BAGS 16 /* bags per task */

static void eb_task(void *arg, int64_t t, int tid)
{
    (void)tid;
    const eb_job *J = arg;
    int64_t b0 = t * EB_BAGS, b1 = b0 + EB_BAGS < J->B ? b0 + EB_BAGS : J->B, D = J->D;
    double acc[256];
    for (int64_t b = b0; b < b1; b++) {
        const int64_t *ix = J->idx + b * J->N;
        float *y = J->y + b * D;
        if (J->mode == EB_MAX) {
            int first = 1;
            for (int64_t i = 0; i < J->N; i++) {
                if (ix[i] == J->pad)
                    continue;
                const float *row = J->W + ix[i] * D;
                if (first)
                    memcpy(y, row, (size_t)D * sizeof *y);
                else
                    eb_max(y, row, D);
                first = 0;
            }
            if (first)
                memset(y, 0, (size_t)D * sizeof *y);
            continue;
        }
        /* sum and mean: the rows added in order, in double, 256 columns at a time */
        for (int64_t k0 = 0; k0 < D; k0 += 256) {
            int64_t n = D - k0 < 256 ? D - k0 : 256, cnt = 0;
            for (int64_t k = 0; k < n; k++)
                acc[k] = 0.0;
            for (int64_t i = 0; i < J->N; i++) {
                if (ix[i] == J->pad)
                    continue;
                eb_add(acc, J->W + ix[i] * D + k0, n);
                cnt++;
            }
            double div = J->mode == EB_MEAN && cnt > 0 ? (double)cnt : 1.0;
            for (int64_t k = 0; k < n; k++)
                y[k0 + k] = (float)(acc[k] / div);
        }
    }
}

#define EB_PAR_WORK ((int64_t)1 << 16)

/*
 * max_norm: embedding_renorm_ scales each distinct looked-up row whose norm
 * exceeds max_norm to it, in place, once per forward call.  A record run
 * in chunks or micro-batches (on several threads) must give the unchunked
 * call's result, so each distinct row is renormalised once per record:
 * the occurrence's cache slot keeps a bitmap of the rows done in the
 * current record (ctx->pass_key), and one lock serialises the scaling
 * (a thread reads a row only after its own pass over its indices, under
 * the lock, found it done).  A later record is a later forward call and
 * renormalises again, as PyTorch does.
 */
typedef struct {
    uint64_t pass;
    int64_t num;
    unsigned char bits[];
} eb_done;

static pthread_mutex_t eb_lock = PTHREAD_MUTEX_INITIALIZER;

static double row_norm(const float *row, int64_t D, double p)
{
    double norm = 0;
    if (isinf(p)) {
        norm = p > 0 ? 0 : INFINITY;
        for (int64_t k = 0; k < D; k++)
            norm = p > 0 ? fmax(norm, fabs(row[k])) : fmin(norm, fabs(row[k]));
        return norm;
    }
    if (p == 0) { /* the count of non-zero entries */
        for (int64_t k = 0; k < D; k++)
            norm += row[k] != 0;
        return norm;
    }
    for (int64_t k = 0; k < D; k++)
        norm += p == 1 ? fabs(row[k]) : p == 2 ? (double)row[k] * row[k] : pow(fabs(row[k]), p);
    return p == 1 ? norm : p == 2 ? sqrt(norm) : pow(norm, 1.0 / p);
}

static sr_status eb_renorm(sr_layer *L, const int64_t *idx, int64_t n, int64_t num, int64_t D, const sr_ctx *ctx,
                           char *err)
{
    double max_norm = sr_argf(L, EB_MAX_NORM), p = sr_argf(L, EB_NORM_TYPE);
    float *W = sr_f32(&L->param[0]);
    size_t bytes = (size_t)(num + 7) / 8;
    eb_done *done = NULL, *own = NULL;
    pthread_mutex_lock(&eb_lock);
    if (ctx->cache) {
        done = *ctx->cache;
        if (!done || done->num != num) {
            free(done);
            done = *ctx->cache = sr_xcalloc(1, sizeof *done + bytes);
            if (done)
                done->pass = ctx->pass_key + 1; /* not this record's */
        }
    } else {
        done = own = sr_xcalloc(1, sizeof *done + bytes);
    }
    if (!done) {
        pthread_mutex_unlock(&eb_lock);
        return sr_err(err, SR_ERUN, "out of memory");
    }
    if (ctx->cache && done->pass != ctx->pass_key) {
        memset(done->bits, 0, bytes);
        done->pass = ctx->pass_key;
    }
    done->num = num;
    for (int64_t i = 0; i < n; i++) {
        int64_t r = idx[i];
        if (done->bits[r / 8] & (1u << (r % 8)))
            continue;
        done->bits[r / 8] |= (unsigned char)(1u << (r % 8));
        float *row = W + r * D;
        double norm = row_norm(row, D, p);
        if (norm > max_norm) {
            float scale = (float)(max_norm / (norm + 1e-7));
            for (int64_t k = 0; k < D; k++)
                row[k] *= scale;
        }
    }
    pthread_mutex_unlock(&eb_lock);
    free(own);
    return SR_OK;
}

SR_FORWARD_FN(eb_forward)
{
    const eb_cfg *c = SR_CFG(L, eb_cfg);
    int64_t B = in->shape.d[0], N = in->shape.d[1], num = sr_argi(L, EB_NUM), D = sr_argi(L, EB_DIM);
    const int64_t *idx = sr_i64(in);
    for (int64_t i = 0; i < B * N; i++)
        if (idx[i] < 0 || idx[i] >= num)
            return sr_err(err, SR_ERUN, "index %lld at input[%lld, %lld] is out of range for EmbeddingBag with "
                          "num_embeddings=%lld; hint: indices must be in [0, %lld)", (long long)idx[i],
                          (long long)(ctx->sample0 + i / N), (long long)(i % N), (long long)num, (long long)num);
    float *W = sr_f32(&L->param[0]);
    if (!sr_arg_is_none(L, EB_MAX_NORM) && B * N > 0) {
        sr_status st = eb_renorm(L, idx, B * N, num, D, ctx, err);
        if (st != SR_OK)
            return st;
    }
    eb_job J = {.W = W, .idx = idx, .y = sr_f32(out), .B = B, .N = N, .D = D, .pad = c->pad, .mode = c->mode};
    if (B <= 0 || D <= 0)
        return SR_OK;
    int64_t tasks = (B + EB_BAGS - 1) / EB_BAGS;
    int threads = B * N * D >= EB_PAR_WORK && ctx->threads > 1 ? ctx->threads : 1;
    if (threads > tasks)
        threads = (int)tasks;
    sr_par_for(threads, tasks, eb_task, &J);
    return SR_OK;
}

/* ---- rows ----------------------------------------------------------------- */

/* PyTorch's constructor has _weight between sparse and include_last_offset;
 * it is no module attribute, so it is not an argument here (pass weights
 * with -w), and the arguments after it are best given by keyword. */
static const sr_argdef a_embeddingbag[] = {
    {"num_embeddings", T_I, NULL, NULL, 0},
    {"embedding_dim", T_I, NULL, NULL, 0},
    {"max_norm", T_I | T_F | T_N, "None", NULL, 0},
    {"norm_type", T_I | T_F, "2.0", NULL, 0},
    {"scale_grad_by_freq", T_B, "False", NULL, 0},
    {"mode", T_S, "'mean'", "sum|mean|max", 0},
    {"sparse", T_B, "False", NULL, 0},
    {"include_last_offset", T_B, "False", NULL, 0},
    {"padding_idx", T_I | T_N, "None", NULL, 0},
};

SR_ROW(EmbeddingBag, .summary = "sums, averages or maxes the table rows of each bag of indices (2-D input [B, N])",
       SR_ARGS(a_embeddingbag),
       .repr = "#num_embeddings, #embedding_dim, max_norm?, norm_type?, scale_grad_by_freq?, mode=!, padding_idx?",
       .flags = SR_LF_INDEX_INPUT, .cfg_size = sizeof(eb_cfg), .validate = eb_validate, .shape = eb_shape,
       .params = eb_params, .forward = eb_forward);
