/*
 * cells.c - RNNCell and GRUCell as one Sequential step: `cell(x)` with the
 * zero initial hidden state PyTorch 1.13 uses when hx is None.
 *
 *     RNNCell: h' = act(W_ih x + b_ih + W_hh h + b_hh),  act = tanh or relu
 *     GRUCell: r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
 *              z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
 *              n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
 *              h' = (h - n) * z + n            (ATen's gru_cell, in that form)
 *
 * With h = 0 every W_hh h is 0, so weight_hh only matters through its
 * shape: it is declared, initialised and loaded (state_dict weight_ih,
 * weight_hh, bias_ih, bias_hh, rows in gate order r, z, n) but not read.
 * Each dot product is exact products summed in double in a fixed order
 * (16 lanes, then the lanes, then the tail), one sample at a time, so a
 * sample's bits do not depend on the batch size, the blocking or the
 * threads (which split the samples).
 */
#include "layers.h"
#include "../init.h"
#include "../par.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { CELL_IN, CELL_HIDDEN, CELL_BIAS, CELL_NONLIN };
enum { V_RNN = 1, V_GRU = 3 }; /* the rows' variant: gates per hidden unit */

static int gates(const sr_layer *L) { return L->type->variant; }

SR_VALIDATE_FN(cell_validate)
{
    int64_t in = sr_argi(L, CELL_IN), h = sr_argi(L, CELL_HIDDEN);
    if (in < 0 || h < 0)
        return sr_err(err, SR_EUSAGE, "input_size and hidden_size must be non-negative, got %lld and %lld",
                      (long long)in, (long long)h);
    if (in > ((int64_t)1 << 31) || h > ((int64_t)1 << 31))
        return sr_err(err, SR_EUSAGE, "input_size and hidden_size must be at most 2^31");
    return SR_OK;
}

SR_SHAPE_FN(cell_shape)
{
    const char *nm = L->type->name;
    int64_t fin = sr_argi(L, CELL_IN), H = sr_argi(L, CELL_HIDDEN);
    char src[256];
    /* the output, as a guess for the layers after a mistake too */
    if (in->ndim == 1)
        *out = sr_shape_make(1, (int64_t[]){H});
    else
        *out = sr_shape_make(2, (int64_t[]){in->ndim >= 1 ? in->d[0] : 1, H});
    info->out_known = 1;
    info->batch_dim0 = in->ndim >= 2; /* >2 is an error, but dim 0 is still the batch */
    if (info->in_integer)
        return sr_err(err, SR_ESHAPE, "%s takes float features, but input %s holds integer indices; hint: put an "
                      "Embedding before it to turn indices into features", nm, sr_shp(in));
    if (in->ndim != 1 && in->ndim != 2) {
        char hint[256];
        if (in->ndim >= 3 && sr_prod(in, 1, in->ndim) == fin)
            snprintf(hint, sizeof hint, "insert Flatten before this layer (%lld features per sample)", (long long)fin);
        else if (in->ndim >= 3)
            snprintf(hint, sizeof hint, "a cell runs one time step on [N, input_size]; a sequence [N, L, F] needs "
                     "a loop over L, which a Sequential cannot express (Flatten first to treat L*F as the features)");
        else
            snprintf(hint, sizeof hint, "give it [N, %lld] or [%lld]", (long long)fin, (long long)fin);
        return sr_err(err, SR_ESHAPE, "%s expects a 1-D [input_size] or 2-D [N, input_size] input, but input %s%s is "
                      "%d-D; hint: %s", nm, sr_shp(in), sr_from(info, 1, src, sizeof src), in->ndim, hint);
    }
    int64_t last = in->d[in->ndim - 1];
    if (last != fin) {
        char extra[200] = "";
        if (in->ndim == 2 && in->d[0] * last == fin)
            snprintf(extra, sizeof extra, "; or, if %s is one sample without its batch dimension, Flatten it "
                     "with start_dim=0 and add one", sr_shp(in));
        return sr_err(err, SR_ESHAPE, "input has inconsistent input_size: %s expects [*, %lld] (input_size=%lld), but "
                      "input %s%s has %lld features; hint: input_size should be %lld%s", nm, (long long)fin,
                      (long long)fin, sr_shp(in), sr_from(info, 1, src, sizeof src), (long long)last,
                      (long long)last, extra);
    }
    return SR_OK;
}

SR_PARAMS_FN(cell_params)
{
    int64_t I = sr_argi(L, CELL_IN), H = sr_argi(L, CELL_HIDDEN), G = gates(L);
    /* RNNCellBase.reset_parameters: every parameter uniform(-1/sqrt(H), 1/sqrt(H)) */
    double stdv = H > 0 ? 1.0 / sqrt((double)H) : 0.0;
    static const char *const names[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    int n = sr_argi(L, CELL_BIAS) ? 4 : 2;
    memset(p, 0, (size_t)n * sizeof *p);
    for (int k = 0; k < n; k++) {
        p[k].name = names[k];
        p[k].init = sr_init_uniform(-stdv, stdv);
        p[k].zero_row = -1;
    }
    p[0].shape = sr_shape_make(2, (int64_t[]){G * H, I});
    p[1].shape = sr_shape_make(2, (int64_t[]){G * H, H});
    if (n == 4) {
        p[2].shape = sr_shape_make(1, (int64_t[]){G * H});
        p[3].shape = sr_shape_make(1, (int64_t[]){G * H});
    }
    return n;
}

typedef float cell_v8f __attribute__((vector_size(32)));
typedef double cell_v8d __attribute__((vector_size(64)));

/* sum of w[k] * x[k], the products exact in double, summed in double in a
 * fixed order */
static SR_VEC_FN(double, cell_dot, (const float *w, const float *x, int64_t n), (w, x, n))
{
    cell_v8d a0 = {0}, a1 = {0};
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
        cell_v8f w0, w1, x0, x1;
        memcpy(&w0, w + k, sizeof w0);
        memcpy(&w1, w + k + 8, sizeof w1);
        memcpy(&x0, x + k, sizeof x0);
        memcpy(&x1, x + k + 8, sizeof x1);
        a0 += __builtin_convertvector(w0, cell_v8d) * __builtin_convertvector(x0, cell_v8d);
        a1 += __builtin_convertvector(w1, cell_v8d) * __builtin_convertvector(x1, cell_v8d);
    }
    double s = 0;
    for (int l = 0; l < 8; l++)
        s += a0[l] + a1[l];
    for (; k < n; k++)
        s += (double)w[k] * (double)x[k];
    return s;
}

/* cell_dot for four vectors x at once against one w (w read once): each
 * result is computed exactly as cell_dot computes it, so a sample gets the
 * same bits in a group of four or alone. */
static SR_VEC_VOID(cell_dot4, (const float *w, const float *const *x, int64_t n, double *out), (w, x, n, out))
{
    cell_v8d a[4][2] = {{{0}}};
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
        cell_v8f w0, w1;
        memcpy(&w0, w + k, sizeof w0);
        memcpy(&w1, w + k + 8, sizeof w1);
        cell_v8d d0 = __builtin_convertvector(w0, cell_v8d), d1 = __builtin_convertvector(w1, cell_v8d);
        for (int s = 0; s < 4; s++) {
            cell_v8f x0, x1;
            memcpy(&x0, x[s] + k, sizeof x0);
            memcpy(&x1, x[s] + k + 8, sizeof x1);
            a[s][0] += d0 * __builtin_convertvector(x0, cell_v8d);
            a[s][1] += d1 * __builtin_convertvector(x1, cell_v8d);
        }
    }
    for (int s = 0; s < 4; s++) {
        double r = 0;
        for (int l = 0; l < 8; l++)
            r += a[s][0][l] + a[s][1][l];
        for (int64_t j = k; j < n; j++)
            r += (double)w[j] * (double)x[s][j];
        out[s] = r;
    }
}

static inline double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

typedef struct {
    const float *W, *bi, *bh;  /* weight_ih, bias_ih, bias_hh (NULL: no bias) */
    const float *x;
    float *y;
    int64_t N, I, H;
    int gru, relu;
} cell_job;

#define CELL_SAMPLES 8  /* samples per task */
#define CELL_UNITS 32   /* hidden units per block of weight rows */

/* the gate pre-activations of unit j for samples s0..s0+ns-1 (ns <= 4):
 * g[gate][s] */
static void unit_dots(const cell_job *J, int64_t j, int64_t s0, int ns, double g[3][4])
{
    int G = J->gru ? 3 : 1;
    for (int q = 0; q < G; q++) {
        const float *w = J->W + (q * J->H + j) * J->I;
        if (ns == 4) {
            const float *x[4] = {J->x + s0 * J->I, J->x + (s0 + 1) * J->I, J->x + (s0 + 2) * J->I,
                                 J->x + (s0 + 3) * J->I};
            cell_dot4(w, x, J->I, g[q]);
        } else {
            for (int s = 0; s < ns; s++)
                g[q][s] = cell_dot(w, J->x + (s0 + s) * J->I, J->I);
        }
    }
}

static void cell_task(void *arg, int64_t t, int tid)
{
    (void)tid;
    const cell_job *J = arg;
    int64_t n0 = t * CELL_SAMPLES, n1 = n0 + CELL_SAMPLES < J->N ? n0 + CELL_SAMPLES : J->N, H = J->H;
    for (int64_t j0 = 0; j0 < H; j0 += CELL_UNITS) {
        int64_t j1 = j0 + CELL_UNITS < H ? j0 + CELL_UNITS : H;
        for (int64_t s0 = n0; s0 < n1; s0 += 4) {
            int ns = n1 - s0 < 4 ? (int)(n1 - s0) : 4;
            for (int64_t j = j0; j < j1; j++) {
                double g[3][4];
                unit_dots(J, j, s0, ns, g);
                for (int s = 0; s < ns; s++) {
                    float *y = J->y + (s0 + s) * H;
                    if (!J->gru) {
                        double v = g[0][s];
                        if (J->bi)
                            v = (v + J->bi[j]) + J->bh[j];
                        y[j] = (float)(J->relu ? (v < 0 ? 0.0 : v) : tanh(v));
                        continue;
                    }
                    double r = g[0][s], z = g[1][s], n = g[2][s], hn = 0.0;
                    if (J->bi) {
                        r = (r + J->bi[j]) + J->bh[j];
                        z = (z + J->bi[H + j]) + J->bh[H + j];
                        n += J->bi[2 * H + j];
                        hn = J->bh[2 * H + j];
                    }
                    r = sigmoid(r);
                    z = sigmoid(z);
                    n = tanh(n + r * hn);
                    y[j] = (float)((0.0 - n) * z + n);
                }
            }
        }
    }
}

#define CELL_PAR_WORK ((int64_t)1 << 16)

SR_FORWARD_FN(cell_forward)
{
    (void)err;
    int bias = (int)sr_argi(L, CELL_BIAS);
    cell_job J = {.W = sr_f32(&L->param[0]), .bi = bias ? sr_f32(&L->param[2]) : NULL,
                  .bh = bias ? sr_f32(&L->param[3]) : NULL, .x = sr_f32(in), .y = sr_f32(out),
                  .N = in->shape.ndim == 2 ? in->shape.d[0] : 1, .I = sr_argi(L, CELL_IN),
                  .H = sr_argi(L, CELL_HIDDEN), .gru = gates(L) == V_GRU,
                  .relu = gates(L) == V_RNN && !strcmp(L->arg[CELL_NONLIN].s, "relu")};
    if (J.N <= 0 || J.H <= 0)
        return SR_OK;
    int64_t tasks = (J.N + CELL_SAMPLES - 1) / CELL_SAMPLES;
    int threads = J.N * gates(L) * J.H * (J.I + 1) >= CELL_PAR_WORK && ctx->threads > 1 ? ctx->threads : 1;
    if (threads > tasks)
        threads = (int)tasks;
    sr_par_for(threads, tasks, cell_task, &J);
    return SR_OK;
}

/* ---- rows ----------------------------------------------------------------- */

static const sr_argdef a_rnncell[] = {
    {"input_size", T_I, NULL, NULL, 0},
    {"hidden_size", T_I, NULL, NULL, 0},
    {"bias", T_B, "True", NULL, 0},
    {"nonlinearity", T_S, "'tanh'", "tanh|relu", 0},
};
static const sr_argdef a_grucell[] = {
    {"input_size", T_I, NULL, NULL, 0},
    {"hidden_size", T_I, NULL, NULL, 0},
    {"bias", T_B, "True", NULL, 0},
};

SR_ROW(RNNCell, .summary = "one Elman RNN step from a zero hidden state: tanh (or relu) of W_ih x + b_ih + b_hh",
       SR_ARGS(a_rnncell), .repr = "#input_size, #hidden_size, bias?, nonlinearity?!", .variant = V_RNN,
       .validate = cell_validate, .shape = cell_shape, .params = cell_params, .forward = cell_forward);
SR_ROW(GRUCell, .summary = "one GRU step from a zero hidden state: (1 - z) * n, gates from W_ih x and the biases",
       SR_ARGS(a_grucell), .repr = "#input_size, #hidden_size, bias?", .variant = V_GRU,
       .validate = cell_validate, .shape = cell_shape, .params = cell_params, .forward = cell_forward);
