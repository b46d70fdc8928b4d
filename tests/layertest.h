/*
 * layertest.h - building layers by hand in the layer unit tests
 * (test_layers.c, test_convt.c): a layer of a named type, its arguments
 * set one by one (by index, or by name through arg_index), and its
 * parameters allocated and filled from a fixed xorshift sequence; running
 * one layer's shape rule and forward (run_once, and run_fused, which also
 * checks that prepare() + forward() gives a self-preparing forward's
 * bits), and the expected-error checks (expect_invalid,
 * expect_shape_error).
 */
#ifndef SR_LAYERTEST_H
#define SR_LAYERTEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layers.h"
#include "unit.h"

static inline void layer_init(sr_layer *L, const char *type)
{
    const sr_layertype *t = sr_layertype_find(type);
    if (!t || sr_layer_init(L, t) != 0)
        abort();
}

/* The index of L's argument called name (aborts if it has none). */
static inline int arg_index(const sr_layer *L, const char *name)
{
    int k = sr_arg_index(L->type, name);
    if (k < 0)
        abort();
    return k;
}

static inline void set_int(sr_layer *L, int k, int64_t v)
{
    memset(&L->arg[k], 0, sizeof L->arg[k]);
    L->arg[k].kind = SR_AV_INT;
    L->arg[k].i = v;
    L->arg[k].f = (double)v;
}

static inline void set_bool(sr_layer *L, int k, int v)
{
    memset(&L->arg[k], 0, sizeof L->arg[k]);
    L->arg[k].kind = SR_AV_BOOL;
    L->arg[k].i = v;
}

static inline void set_none(sr_layer *L, int k)
{
    memset(&L->arg[k], 0, sizeof L->arg[k]);
    L->arg[k].kind = SR_AV_NONE;
}

static inline void set_str(sr_layer *L, int k, const char *s)
{
    memset(&L->arg[k], 0, sizeof L->arg[k]);
    L->arg[k].kind = SR_AV_STR;
    snprintf(L->arg[k].s, sizeof L->arg[k].s, "%s", s);
}

static inline void set_float(sr_layer *L, int k, double v)
{
    memset(&L->arg[k], 0, sizeof L->arg[k]);
    L->arg[k].kind = SR_AV_FLOAT;
    L->arg[k].f = v;
}

static inline void set_tuple(sr_layer *L, int k, int n, const int64_t *v)
{
    memset(&L->arg[k], 0, sizeof L->arg[k]);
    L->arg[k].kind = SR_AV_TUPLE;
    L->arg[k].n = n;
    for (int i = 0; i < n; i++)
        L->arg[k].t[i] = v[i];
}

/* xorshift64; a test file may start its own sequence by setting rng_state */
static uint64_t rng_state = 88172645463325252ull;

static inline double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static inline int64_t irand(int64_t lo, int64_t hi) { return lo + (int64_t)(urand() * (double)(hi - lo + 1)); }

/* Declares and allocates L's parameters, the float ones filled with
 * uniform(-1, 1). */
static inline void alloc_params(sr_layer *L)
{
    char err[SR_ERRLEN];
    L->nparam = L->type->params ? L->type->params(L, L->decl) : 0;
    for (int k = 0; k < L->nparam; k++) {
        sr_tensor_alloc(&L->param[k], &L->decl[k].shape, L->decl[k].dtype, err);
        if (L->decl[k].dtype == SR_F32)
            for (int64_t i = 0; i < sr_shape_numel(&L->decl[k].shape); i++)
                sr_f32(&L->param[k])[i] = (float)(urand() * 2 - 1);
    }
}

/* The input index a padded convolution reads for position i of an axis of
 * n under padding_mode mode ("zeros": -1, a zero, outside). */
static inline int64_t ref_pad_src(const char *mode, int64_t i, int64_t n)
{
    if (i >= 0 && i < n)
        return i;
    if (!strcmp(mode, "zeros"))
        return -1;
    if (!strcmp(mode, "reflect"))
        return i < 0 ? -i : 2 * (n - 1) - i;
    if (!strcmp(mode, "replicate"))
        return i < 0 ? 0 : n - 1;
    return ((i % n) + n) % n;
}

static inline void free_params(sr_layer *L)
{
    for (int k = 0; k < L->nparam; k++)
        sr_tensor_free(&L->param[k]);
    L->nparam = 0;
}

static inline sr_status shape_of(sr_layer *L, sr_shape in, sr_shape *out, sr_shapeinfo *info, char *err)
{
    *out = in;
    err[0] = '\0';
    return L->type->shape(L, &in, out, info, err);
}

static inline void release_cache(const sr_layer *L, void *cache)
{
    if (L->type->release && cache)
        L->type->release(cache);
    else
        free(cache);
}

/* Runs L's forward on x (shape in) with `threads` workers and `post` (an
 * elementwise layer, or NULL) fused; returns the output (caller frees). */
static inline float *run_fused(sr_layer *L, const sr_shape *in, const float *x, sr_shape *outs, int training, int threads,
                        const sr_layer *post)
{
    char err[SR_ERRLEN];
    sr_shapeinfo info = {.training = training};
    if (shape_of(L, *in, outs, &info, err) != SR_OK) {
        printf("unexpected shape error: %s\n", err);
        return NULL;
    }
    size_t wl = L->type->workspace ? L->type->workspace(L, in, outs) * (size_t)threads : 0;
    float *work = malloc((wl ? wl : 1) * sizeof *work);
    int64_t n = sr_shape_numel(outs);
    float *y = malloc((size_t)(n ? n : 1) * sizeof *y);
    sr_tensor tin = {.shape = *in, .dtype = SR_F32, .data = (void *)x};
    sr_tensor tout = {.shape = *outs, .dtype = SR_F32, .data = y};
    void *lazy = NULL, *cache = NULL;
    sr_ctx ctx = {.training = training, .work = work, .work_len = wl, .threads = threads, .post = post,
                  .cache = &lazy};
    /* a cache slot forward() fills itself on its first call ... */
    L->type->forward(L, &tin, &tout, &ctx, err);
    float *y0 = malloc((size_t)(n ? n : 1) * sizeof *y0);
    memcpy(y0, tout.data, (size_t)n * sizeof *y0);
    release_cache(L, lazy);
    /* ... and one prepare() filled, as the executor does before its threads
     * start: the same output */
    ctx.cache = &cache;
    if (L->type->prepare)
        CHECK(L->type->prepare(L, in, &ctx, err) == SR_OK, "%s: prepare: %s", L->type->name, err);
    L->type->forward(L, &tin, &tout, &ctx, err);
    if (memcmp(y0, tout.data, (size_t)n * sizeof *y0) != 0)
        CHECK(0, "%s: forward after prepare() differs from one that prepared itself", L->type->name);
    free(y0);
    /* again, with what the first call cached (a GEMV then runs backwards):
     * the same output */
    float *y1 = malloc((size_t)(n ? n : 1) * sizeof *y1);
    memcpy(y1, tout.data, (size_t)n * sizeof *y1);
    L->type->forward(L, &tin, &tout, &ctx, err);
    if (memcmp(y1, tout.data, (size_t)n * sizeof *y1) != 0)
        CHECK(0, "%s: a second forward with the cached state gives another output", L->type->name);
    free(y1);
    if (tout.data != y)
        memcpy(y, tout.data, (size_t)n * sizeof *y);
    release_cache(L, cache);
    free(work);
    return y;
}

/* Runs L's forward on x (shape in); returns the output (caller frees). */
static inline float *run_once(sr_layer *L, const sr_shape *in, const float *x, sr_shape *outs, int training)
{
    char err[SR_ERRLEN];
    sr_shapeinfo info = {.training = training};
    if (shape_of(L, *in, outs, &info, err) != SR_OK) {
        printf("unexpected shape error: %s\n", err);
        return NULL;
    }
    size_t wl = L->type->workspace ? L->type->workspace(L, in, outs) : 0;
    float *work = malloc((wl ? wl : 1) * sizeof *work);
    int64_t n = sr_shape_numel(outs);
    float *y = malloc((size_t)(n ? n : 1) * sizeof *y);
    sr_tensor tin = {.shape = *in, .dtype = SR_F32, .data = (void *)x};
    sr_tensor tout = {.shape = *outs, .dtype = SR_F32, .data = y};
    sr_ctx ctx = {.training = training, .work = work, .work_len = wl};
    L->type->forward(L, &tin, &tout, &ctx, err);
    if (tout.data != y)
        memcpy(y, tout.data, (size_t)n * sizeof *y);
    free(work);
    return y;
}

/* validate() fails with a usage error that contains needle. */
static inline void expect_invalid(sr_layer *L, const char *needle)
{
    char err[SR_ERRLEN] = "";
    sr_status st = L->type->validate(L, err);
    CHECK(st == SR_EUSAGE && strstr(err, needle), "%s: want an error with '%s', got %d '%s'", L->type->name,
          needle, st, err);
}

/* shape() fails with a shape error that contains needle and a hint; with
 * want_known >= 0, out_known is that. */
static inline void expect_shape_error(sr_layer *L, sr_shape in, const char *prev, int training, const char *needle,
                               int want_known)
{
    char err[SR_ERRLEN];
    sr_shape out;
    sr_shapeinfo info = {.prev = prev, .training = training};
    sr_status st = shape_of(L, in, &out, &info, err);
    CHECK(st == SR_ESHAPE && strstr(err, needle), "%s on %s: want '%s', got %d '%s'", L->type->name, sr_shp(&in),
          needle, st, err);
    CHECK(strstr(err, "; hint: ") != NULL, "%s: message without a hint: %s", L->type->name, err);
    if (want_known >= 0)
        CHECK(info.out_known == want_known, "%s on %s: out_known %d", L->type->name, sr_shp(&in), info.out_known);
}

#endif
