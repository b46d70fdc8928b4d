/*
 * npy.h - NumPy .npy records (format versions 1, 2 and 3).
 *
 * A stream may hold several records back to back, as repeated numpy.save()
 * calls to one file write them; the reader takes one header at a time and
 * then the record's elements in as many pieces as the caller likes, so a
 * large record is processed in bounded memory.
 *
 * Accepted: C order, little-endian (or byte-order-free '|'), dtypes
 * f2 f4 f8, i1 i2 i4 i8, u1 u2 u4 u8, b1.  Rejected with SR_ERUN and a
 * message naming the stream and the offending field: Fortran order,
 * big-endian, complex, object, structured, strings, bad magic or version,
 * malformed header dict, negative or overflowing shapes.
 */
#ifndef SR_NPY_H
#define SR_NPY_H

#include <stdio.h>
#include "tensor.h"
#include "io.h"

typedef enum {
    SR_NPY_F16, SR_NPY_F32, SR_NPY_F64,
    SR_NPY_I8, SR_NPY_I16, SR_NPY_I32, SR_NPY_I64,
    SR_NPY_U8, SR_NPY_U16, SR_NPY_U32, SR_NPY_U64,
    SR_NPY_BOOL
} sr_npy_dtype;

typedef struct {
    sr_shape shape;       /* a 0-d array has ndim 0 and one element */
    sr_npy_dtype dtype;
    int itemsize;
    int is_integer;       /* integer or bool dtype: feeds Embedding */
    int64_t numel;
    long long offset;     /* stream offset of the record's first data byte */
} sr_npy_header;

/* 1 if the 6 bytes are "\x93NUMPY". */
int sr_npy_is_magic(const unsigned char *b, size_t n);

/*
 * Reads the next record's header.  *got = 1 when a record follows, 0 at a
 * clean end of stream (no bytes at all).  Anything else -- including a
 * partial magic -- is an error.
 */
sr_status sr_npy_read_header(sr_stream *s, sr_npy_header *h, int *got, char *err);

/* Reads the next `count` elements of the current record, converted to dst
 * (SR_F32 or SR_I64).  Float to I64 conversion is an error (Embedding needs
 * integers); integer to F32 is exact up to 2^24.  A short read is an error
 * naming how many bytes were expected. */
sr_status sr_npy_read_elems(sr_stream *s, const sr_npy_header *h, size_t count,
                            sr_dtype dst, void *out, char *err);

/* Writes a '<f4' C-order header for shape (version 1, or 2 when the header
 * does not fit 65535 bytes), padded so the data starts at a multiple of 64. */
sr_status sr_npy_write_header(FILE *f, const sr_shape *s, char *err);
sr_status sr_npy_write_f32(FILE *f, const float *data, size_t n, char *err);

/* Whole-record convenience for tests and small files. */
sr_status sr_npy_load(const char *path, sr_tensor *t, char *err);
sr_status sr_npy_save(const char *path, const sr_tensor *t, char *err);

#endif
