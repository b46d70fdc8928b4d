/* tensor.c - shapes, tensor storage, half-precision conversion. */
#include "tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t sr_shape_numel(const sr_shape *s)
{
    /* Bounded so that numel * 8 bytes still fits in size_t and int64. */
    const uint64_t limit = (uint64_t)INT64_MAX / 8;
    uint64_t n = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (s->d[i] < 0)
            return -1;
        if (s->d[i] == 0)
            n = 0; /* keep validating the remaining dims */
        else if (n && (uint64_t)s->d[i] > limit / n)
            return -1;
        else
            n *= (uint64_t)s->d[i];
    }
    return (int64_t)n;
}

int sr_shape_eq(const sr_shape *a, const sr_shape *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->d[i] != b->d[i])
            return 0;
    return 1;
}

char *sr_shape_str(const sr_shape *s, char *buf, size_t len)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, len - k, "[");
    for (int i = 0; i < s->ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? ", %lld" : "%lld", (long long)s->d[i]);
    if (k < len)
        snprintf(buf + k, len - k, "]");
    return buf;
}

const char *sr_shp(const sr_shape *s)
{
    static _Thread_local char buf[4][160];
    static _Thread_local int k;
    k = (k + 1) & 3;
    return sr_shape_str(s, buf[k], sizeof buf[k]);
}

sr_shape sr_shape_make(int ndim, const int64_t *d)
{
    sr_shape s;
    memset(&s, 0, sizeof s);
    s.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        s.d[i] = d[i];
    return s;
}

size_t sr_dtype_size(sr_dtype t) { return t == SR_I64 ? 8 : 4; }

sr_status sr_tensor_alloc(sr_tensor *t, const sr_shape *s, sr_dtype dt, char *err)
{
    int64_t n = sr_shape_numel(s);
    memset(t, 0, sizeof *t);
    if (n < 0)
        return sr_err(err, SR_ERUN, "tensor too large");
    t->shape = *s;
    t->dtype = dt;
    t->data = sr_xcalloc((size_t)n, sr_dtype_size(dt));
    if (!t->data)
        return sr_err(err, SR_ERUN, "out of memory allocating %lld elements", (long long)n);
    t->owned = 1;
    return SR_OK;
}

void sr_tensor_free(sr_tensor *t)
{
    if (t->owned)
        free(t->data);
    t->data = NULL;
    t->owned = 0;
}

float sr_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man) {
        /* subnormal half: normalise into a float32 normal */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    } else {
        bits = sign;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float sr_bf16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}
