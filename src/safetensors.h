/*
 * safetensors.h - reading and writing the safetensors format.
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then the
 * data block.  The header maps tensor names to {dtype, shape, data_offsets}
 * and may hold "__metadata__", a map of strings to strings.
 *
 * The reader validates as safetensors' own reader does: header length within
 * the file, JSON well formed, every dtype known, every shape non-negative
 * with no overflow, data_offsets [begin, end) with end - begin equal to
 * dtype size times element count, the tensors sorted by offset covering the
 * data block from 0 with no hole and no overlap, and nothing after the last
 * tensor.  Duplicate keys are an error.
 */
#ifndef SR_SAFETENSORS_H
#define SR_SAFETENSORS_H

#include <stdio.h>
#include "tensor.h"

typedef enum {
    SR_ST_BOOL, SR_ST_U8, SR_ST_I8, SR_ST_F8_E5M2, SR_ST_F8_E4M3,
    SR_ST_I16, SR_ST_U16, SR_ST_F16, SR_ST_BF16,
    SR_ST_I32, SR_ST_U32, SR_ST_F32, SR_ST_F64, SR_ST_I64, SR_ST_U64
} sr_st_dtype;

typedef struct {
    char *name;
    sr_st_dtype dtype;
    sr_shape shape;
    size_t begin, end;      /* offsets into the data block */
} sr_st_entry;

typedef struct {
    sr_st_entry *t;
    int n;
    char **meta_key, **meta_val;
    int nmeta;
    const char *path;           /* for messages */
    void *map;                  /* mmap'd file, or NULL */
    size_t maplen;
    const unsigned char *data;  /* start of the data block */
    size_t datalen;
} sr_safetensors;

/* Maps and validates a file.  On success st->t holds the tensors sorted by
 * name (strcmp, i.e. code point order, as safetensors' keys() lists them);
 * on failure st is left closed (all zero), so sr_st_close is harmless
 * either way.  Messages start with the path. */
sr_status sr_st_open(sr_safetensors *st, const char *path, char *err);
/* Validates a file image held in caller memory (which must outlive st);
 * name (NULL: "<buffer>") stands for the path in messages. */
sr_status sr_st_parse(sr_safetensors *st, const void *buf, size_t len,
                      const char *name, char *err);
void sr_st_close(sr_safetensors *st);

const sr_st_entry *sr_st_find(const sr_safetensors *st, const char *name);
const char *sr_st_meta(const sr_safetensors *st, const char *key);
const char *sr_st_dtype_name(sr_st_dtype t);

/* Converts an entry to an owned tensor: F32/F16/BF16/F64 to SR_F32, I64 (and
 * other integer types) to SR_I64 when want == SR_I64.  Mismatched kinds
 * (float data for an integer buffer, say) are SR_ERUN with a message. */
sr_status sr_st_load(const sr_safetensors *st, const sr_st_entry *e,
                     sr_dtype want, sr_tensor *out, char *err);

/* Writes tensors (F32 as F32, I64 as I64) in the order given, header padded
 * with spaces to a multiple of 8 bytes, with optional metadata pairs:
 * meta_kv[2*i] is a key and meta_kv[2*i+1] its value, for i < nmeta.
 * Names must be UTF-8, unique, and not "__metadata__".  Flushes f, so
 * write errors are reported here; messages do not name the file. */
typedef struct {
    const char *name;
    const sr_tensor *t;
} sr_st_item;
sr_status sr_st_write(FILE *f, const sr_st_item *items, int n,
                      const char *const *meta_kv, int nmeta, char *err);

#endif
