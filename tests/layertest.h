/*
 * layertest.h - building layers by hand in the layer unit tests
 * (test_layers.c, test_convt.c): a layer of a named type, its arguments
 * set one by one (by index, or by name through arg_index), and its
 * parameters allocated and filled from a fixed xorshift sequence.
 */
#ifndef SR_LAYERTEST_H
#define SR_LAYERTEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layers.h"

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

#endif
