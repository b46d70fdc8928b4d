/*
 * tensor.h - shapes and dense tensors.
 *
 * Tensors are C-contiguous.  Activations are float32; integer data (indices
 * for Embedding, num_batches_tracked) is int64.  A Tensor either owns its
 * data (owned = 1) or views memory owned elsewhere (an mmap'd weights file,
 * an arena buffer).
 */
#ifndef SR_TENSOR_H
#define SR_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include "common.h"

#define SR_MAXDIM 8

typedef struct {
    int ndim;
    int64_t d[SR_MAXDIM];
} sr_shape;

typedef enum { SR_F32 = 0, SR_I64 = 1 } sr_dtype;

typedef struct {
    sr_shape shape;
    sr_dtype dtype;
    void *data;
    int owned;
} sr_tensor;

/* Element count; -1 if any dimension is negative or the product overflows
 * int64 (or exceeds SIZE_MAX / 8, so byte counts never overflow either). */
int64_t sr_shape_numel(const sr_shape *s);
int sr_shape_eq(const sr_shape *a, const sr_shape *b);
/* "[2, 3, 4]" into buf; returns buf. */
char *sr_shape_str(const sr_shape *s, char *buf, size_t len);
/* The same into a rotating static buffer (4 live at once), for messages. */
const char *sr_shp(const sr_shape *s);
sr_shape sr_shape_make(int ndim, const int64_t *d);

size_t sr_dtype_size(sr_dtype t);

/* Allocates zeroed storage for shape/dtype. SR_ERUN on overflow or OOM. */
sr_status sr_tensor_alloc(sr_tensor *t, const sr_shape *s, sr_dtype dt, char *err);
void sr_tensor_free(sr_tensor *t);

static inline float *sr_f32(const sr_tensor *t) { return (float *)t->data; }
static inline int64_t *sr_i64(const sr_tensor *t) { return (int64_t *)t->data; }

/* IEEE half and bfloat16 to float32, exact. */
float sr_half_to_float(uint16_t h);
float sr_bf16_to_float(uint16_t h);

#endif
