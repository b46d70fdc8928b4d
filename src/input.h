/*
 * input.h - tensor sources: .npy files and streams of .npy records, raw
 * float32 (shape from --input-shape or the spec's input:), standard input.
 */
#ifndef SR_INPUT_H
#define SR_INPUT_H

#include "io.h"
#include "model.h"
#include "npy.h"
#include "runopts.h"

/*
 * An opened input: its format and the shape of the first record.  Raw input
 * takes its shape from --input-shape or the spec's input:, with the one free
 * dimension inferred from the size.
 */
typedef struct {
    sr_stream s;
    int is_npy;
    sr_npy_header h;        /* current npy record; for raw, a synthesised one */
    int records;            /* records opened so far */
    unsigned char *slurp;   /* raw input from a pipe, read whole */
} sr_input;

sr_status sr_input_open(sr_input *in, const sr_model *m, const sr_runopts *o, char *err);
/* Advances to the next record; *got = 0 at the end of the stream. */
sr_status sr_input_next(sr_input *in, int *got, char *err);
void sr_input_close(sr_input *in);

/* Whether count float32 elements of the current record can be fetched
 * with pread as they lie in the file (a regular file, nothing of them
 * buffered, all of them in the record and the file); dt is what the
 * caller wants them as. */
int sr_input_preadable(const sr_input *in, sr_dtype dt, size_t count);
/* Reads count float32 of the current record into dst with `threads`
 * threads (the copy out of the page cache is the slow part of a large
 * chunk); 1 if done, 0 if not attempted (read them the ordinary way), -1
 * on an error (in err). */
int sr_input_read_parallel(sr_input *in, int threads, size_t count, void *dst, char *err);

#endif
