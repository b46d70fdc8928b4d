/* norm.c - LayerNorm. */
#include "layers.h"
#include "../par.h"
#include "../init.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void norm_shape(const sr_layer *L, sr_shape *s)
{
    const sr_argval *v = &L->arg[LAYERNORM_SHAPE];
    if (v->kind == SR_AV_TUPLE) {
        s->ndim = v->n;
        for (int i = 0; i < v->n; i++)
            s->d[i] = v->t[i];
    } else {
        s->ndim = 1;
        s->d[0] = v->i;
    }
}

SR_VALIDATE_FN(sr_layernorm_validate)
{
    sr_shape s;
    norm_shape(L, &s);
    if (s.ndim == 0)
        return sr_err(err, SR_EUSAGE, "normalized_shape must have at least one dimension");
    for (int i = 0; i < s.ndim; i++)
        if (s.d[i] < 0)
            return sr_err(err, SR_EUSAGE, "normalized_shape %s has a negative size", sr_shp(&s));
    return SR_OK;
}

SR_SHAPE_FN(sr_layernorm_shape)
{
    sr_shape s;
    norm_shape(L, &s);
    *out = *in;
    info->out_known = 1;
    info->batch_dim0 = in->ndim > s.ndim;
    int ok = in->ndim >= s.ndim;
    for (int i = 0; ok && i < s.ndim; i++)
        ok = in->d[in->ndim - s.ndim + i] == s.d[i];
    if (ok)
        return SR_OK;
    /* shape.c names the producer of the last dim only for inputs up to 2-D */
    char src[SR_ERRLEN / 4] = "";
    if (info->prev && in->ndim <= 2)
        snprintf(src, sizeof src, " (from %s)", info->prev);
    char want[96];
    sr_argval_repr(&L->arg[LAYERNORM_SHAPE], want, sizeof want);
    if (in->ndim >= s.ndim) {
        sr_shape tail = {.ndim = s.ndim};
        for (int i = 0; i < s.ndim; i++)
            tail.d[i] = in->d[in->ndim - s.ndim + i];
        char fix[96];
        sr_argval t = {.kind = SR_AV_TUPLE, .n = tail.ndim};
        for (int i = 0; i < tail.ndim; i++)
            t.t[i] = tail.d[i];
        sr_argval_repr(&t, fix, sizeof fix);
        char dims[32] = "dimension";
        if (s.ndim > 1)
            snprintf(dims, sizeof dims, "%d dimensions", s.ndim);
        return sr_err(err, SR_ESHAPE,
                      "LayerNorm(%s) normalises the last %s, but input %s%s ends in %s; "
                      "hint: normalized_shape should be %s",
                      want, dims, sr_shp(in), src, sr_shp(&tail), fix);
    }
    return sr_err(err, SR_ESHAPE,
                  "LayerNorm(%s) normalises the last %d dimensions, but input %s%s has only %d; "
                  "hint: normalized_shape lists the input's trailing sizes, at most %d of them",
                  want, s.ndim, sr_shp(in), src, in->ndim, in->ndim);
}

SR_PARAMS_FN(sr_layernorm_params)
{
    if (!sr_argi(L, LAYERNORM_AFFINE))
        return 0;
    sr_shape s;
    norm_shape(L, &s);
    memset(p, 0, 2 * sizeof *p);
    p[0] = (sr_paramdecl){.name = "weight", .shape = s, .init = sr_init_const(SR_INIT_ONES), .zero_row = -1};
    p[1] = (sr_paramdecl){.name = "bias", .shape = s, .init = sr_init_const(SR_INIT_ZEROS), .zero_row = -1};
    return 2;
}

/* Mean and biased variance of one row, two passes in double (stable for
 * any offset), summed in 8 independent lanes so the loops vectorise; the
 * order depends on the row alone, never on the batch or the threads. */
static SR_VEC_VOID(row_stats, (const float *x, int64_t len, double *mean, double *var), (x, len, mean, var))
{
    double a[8] = {0}, m = 0, v = 0;
    int64_t i = 0;
    for (; i + 8 <= len; i += 8)
        for (int l = 0; l < 8; l++)
            a[l] += (double)x[i + l];
    for (int l = 0; l < 8; l++)
        m += a[l];
    for (; i < len; i++)
        m += (double)x[i];
    m /= (double)len;
    double c[8] = {0};
    for (i = 0; i + 8 <= len; i += 8)
        for (int l = 0; l < 8; l++) {
            double d = (double)x[i + l] - m;
            c[l] += d * d;
        }
    for (int l = 0; l < 8; l++)
        v += c[l];
    for (; i < len; i++)
        v += ((double)x[i] - m) * ((double)x[i] - m);
    *mean = m;
    *var = v / (double)len;
}

static SR_VEC_VOID(row_norm, (const float *x, float *y, int64_t len, float m, float rstd, const float *w, const float *b),
                   (x, y, len, m, rstd, w, b))
{
    if (w) {
        for (int64_t i = 0; i < len; i++)
            y[i] = (x[i] - m) * rstd * w[i] + b[i];
    } else {
        for (int64_t i = 0; i < len; i++)
            y[i] = (x[i] - m) * rstd;
    }
}

typedef struct {
    const float *x, *w, *b;
    float *y;
    int64_t len, rows, per; /* per: rows per task */
    float eps;
} ln_job;

static void ln_rows(void *arg, int64_t t, int tid)
{
    (void)tid;
    const ln_job *J = arg;
    int64_t r1 = (t + 1) * J->per < J->rows ? (t + 1) * J->per : J->rows;
    for (int64_t r = t * J->per; r < r1; r++) {
        double mean, var;
        row_stats(J->x + r * J->len, J->len, &mean, &var);
        float rstd = (float)(1.0 / sqrt(var + J->eps));
        row_norm(J->x + r * J->len, J->y + r * J->len, J->len, (float)mean, rstd, J->w, J->b);
    }
}

SR_FORWARD_FN(sr_layernorm_forward)
{
    (void)err;
    sr_shape s;
    norm_shape(L, &s);
    int64_t len = sr_shape_numel(&s), total = sr_shape_numel(&in->shape);
    int64_t rows = len ? total / len : 0;
    ln_job J = {.x = sr_f32(in), .y = sr_f32(out), .len = len, .rows = rows,
                .eps = (float)sr_argf(L, LAYERNORM_EPS),
                .w = L->nparam ? sr_f32(&L->param[0]) : NULL, .b = L->nparam ? sr_f32(&L->param[1]) : NULL};
    if (rows == 0)
        return SR_OK;
    /* tasks of at least 16K floats: less is not worth a thread's hand-off */
    J.per = len >= 16384 ? 1 : 16384 / len;
    int64_t tasks = (rows + J.per - 1) / J.per;
    sr_par_for(tasks > 1 ? ctx->threads : 1, tasks, ln_rows, &J);
    return SR_OK;
}

/* ---- rows ----------------------------------------------------------------- */

static const sr_argdef a_layernorm[] = {
    {"normalized_shape", T_T, NULL, NULL, 0},
    {"eps", T_F, "1e-05", NULL, 0},
    {"elementwise_affine", T_B, "True", NULL, 0},
};

SR_ROW(LayerNorm, .summary = "normalises over the trailing normalized_shape dims", SR_ARGS(a_layernorm),
       .repr = "#normalized_shape:1, eps=, elementwise_affine=", .validate = sr_layernorm_validate,
       .shape = sr_layernorm_shape, .params = sr_layernorm_params, .forward = sr_layernorm_forward);
