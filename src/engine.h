/*
 * engine.h - the executor's state, shared by run.c (records, chunks, the
 * runner API) and exec.c (one chunk through the layers).  Private to them.
 */
#ifndef SR_ENGINE_H
#define SR_ENGINE_H

#include "plan.h"
#include "run.h"

struct sr_runner {
    sr_model *m;
    const sr_runopts *o;
    int prepared;           /* parameters initialised and loaded */
    int in_integer;         /* the input holds indices for an Embedding */
    uint64_t pass;          /* records run so far */
    /* Two activation buffers, each buflen floats: layer i reads one and
     * writes the other.  The chunk's input, read from the file, in inbuf. */
    float *buf[2];
    size_t buflen;
    void *inbuf;
    size_t inbuf_bytes;
    float *work;            /* per-thread scratch: threads x what the plan asked */
    size_t worklen;
    sr_plannode *plan;      /* per node, for the current chunk's shapes (plan.h) */
    /* What the layers keep across chunks, per node: */
    float **folded;         /* folded weights then bias (a BatchNorm absorbed), built once */
    void **cache;           /* 2 per node: what prepare() built (packed weights) for
                               the plain and the folded weights; freed by release() */
    int threads;            /* seqrun's threads: what the workspace is planned for */
    int active;             /* those in use: 1 until the work has taken WARM_MS */
    double busy_ms;         /* time spent in forward passes so far */
    double *ms;             /* -v: time per node */
    sr_shape *vin, *vout;   /* -v: last shapes per node */
    /* The chunk's input, when the micro-batches read it from the file
     * themselves (pread, in parallel) instead of run_record reading it: */
    int src_fd;             /* -1: the input tensor holds it */
    long long src_off;      /* file offset of the chunk's first float */
    const char *src_name;   /* the file, for messages */
};
typedef struct sr_runner engine;

/* Makes *p (scratch: the contents need not survive) at least want bytes,
 * cache-line aligned (2 MiB pages for large ones); -1 when out of memory. */
int sr_grow(void **p, size_t *have, size_t want);
double sr_now_ms(void);
/* Sizes the activation buffers and the workspace for these shapes. */
sr_status sr_exec_buffers(engine *E, const sr_shapes *S, char *err);
/* One chunk x (sample0: its first sample's index in the record; pass: a
 * key for this record's random numbers) through every layer; x becomes the
 * output, a view into one of the engine's buffers (or of the input, for a
 * model of views only). */
sr_status sr_exec_chunk(engine *E, const sr_shapes *S, sr_tensor *x, int64_t sample0, uint64_t pass,
                        sr_diags *d);
/* Before a chunk's threads start, for these shapes and the current plan:
 * folds what the plan folds and calls every node's prepare() hook. */
sr_status sr_exec_prepare(engine *E, const sr_shapes *S, sr_diags *d);
/* Counts ms of forward time; engages --threads once the work is worth it. */
void sr_exec_engage(engine *E, double ms);

#endif
