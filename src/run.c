/*
 * run.c - the runner: a model made ready to run (parameters initialised and
 * loaded), fed record by record and chunk by chunk from an input (input.c)
 * to a sink (output.c); each chunk is planned (plan.c) and executed
 * (exec.c).
 */
#include "engine.h"
#include "init.h"
#include "output.h"
#include "state.h"

#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Default chunk: enough samples that per-call overheads vanish, few enough
 * that the two activation buffers stay near this many bytes. */
#define DEFAULT_CHUNK_BYTES ((size_t)4 << 20)

/*
 * Samples per chunk.  --batch-size B is a DataLoader's batch size: under
 * --train each chunk of B samples is one training-mode forward (batch
 * statistics per chunk, running statistics updated chunk after chunk), even
 * though batch statistics couple a chunk's samples (S->batch_dim0 is 0 then;
 * train_batch says dim 0 is still the batch).  Without it a training record
 * is one batch; in eval the chunk only bounds memory.
 */
static int64_t choose_chunk(const sr_runopts *o, const sr_shapes *S, const sr_model *m, int64_t n, int train_batch)
{
    if (train_batch && n > 0)
        return o->batch_size < n ? o->batch_size : n;
    if (!S->batch_dim0 || n == 0)
        return n;
    if (o->batch_size > 0)
        return o->batch_size < n ? o->batch_size : n;
    if (o->train)
        return n; /* a training step's batch statistics span the whole batch */
    size_t per = 1;
    for (int i = 0; i < m->nnode; i++) {
        size_t v = (size_t)(sr_shape_numel(&S->node[i].out) / n);
        if (v > per)
            per = v;
    }
    int64_t c = (int64_t)(DEFAULT_CHUNK_BYTES / (per * sizeof(float)));
    if (c < 1)
        c = 1;
    return c < n ? c : n;
}

/* Whether this chunk's input can be left for the micro-batches of the
 * first layers to read from the file (exec.c): float32 data in a regular
 * file, nothing of it already buffered, and a micro-batched run of layers
 * first. */
static int direct_input(const engine *E, const sr_input *in, sr_dtype dt, size_t count)
{
    if (!sr_input_preadable(in, dt, count))
        return 0;
    for (int i = 0; i < E->m->nnode; i++) {
        if (!sr_node_is_leaf(&E->m->node[i]) || E->plan[i].fused_into >= 0)
            continue;
        return E->plan[i].seg_end >= 0;
    }
    return 0;
}

/*
 * How a record of shape full (S: its shapes) is cut: *n samples in chunks of
 * *chunk; returns 0 when dim 0 is not a batch (one piece, *n = 1).
 */
static int record_chunks(engine *E, const sr_shape *full, const sr_shapes *S, int64_t *n, int64_t *chunk)
{
    *n = full->ndim ? full->d[0] : 1;
    /* --train --batch-size: dim 0 is the batch if it is one in eval */
    int train_batch = 0;
    if (E->o->train && E->o->batch_size > 0 && !S->batch_dim0 && full->ndim >= 1) {
        sr_shapes ev;
        sr_diags quiet = {0};
        train_batch = sr_infer(E->m, full, E->in_integer, 0, &ev, &quiet) == SR_OK && ev.batch_dim0;
        sr_shapes_free(&ev);
        sr_diags_free(&quiet);
    }
    *chunk = choose_chunk(E->o, S, E->m, *n, train_batch);
    int batched = (S->batch_dim0 || train_batch) && full->ndim >= 1;
    if (!batched)
        *chunk = *n = 1; /* one piece: dim 0 is not a batch */
    else if (sr_shape_numel(full) == 0 && *n > 0)
        *chunk = *n; /* no data at all ([10^18, 0]): one empty chunk, not 10^12 */
    return batched;
}

/* The chunk's count elements into x: read into the engine's input buffer,
 * or, where the first layers' micro-batches can read their parts of the
 * file themselves (no serial copy of the whole chunk), left to them
 * (x->data NULL, E->src_fd set). */
static sr_status read_chunk(engine *E, sr_input *in, sr_tensor *x, size_t count, char *err)
{
    E->src_fd = -1;
    if (direct_input(E, in, x->dtype, count)) {
        E->src_fd = in->s.fd;
        E->src_off = in->s.consumed;
        E->src_name = in->s.name;
        x->data = NULL;
        return SR_OK;
    }
    if (sr_grow(&E->inbuf, &E->inbuf_bytes, (count ? count : 1) * sr_dtype_size(x->dtype)) < 0)
        return sr_err(err, SR_ERUN, "%s: out of memory for a chunk of %lld samples (%zu MiB); hint: a smaller "
                      "--batch-size needs less", in->s.name, x->shape.ndim ? (long long)x->shape.d[0] : 1LL,
                      (count * sr_dtype_size(x->dtype)) >> 20);
    int pr = x->dtype == SR_F32 ? sr_input_read_parallel(in, E->active, count, E->inbuf, err) : 0;
    if (pr < 0)
        return SR_ERUN;
    sr_status st = SR_OK;
    if (!pr)
        st = sr_npy_read_elems(&in->s, &in->h, count, x->dtype, E->inbuf, err);
    x->data = E->inbuf;
    return st;
}

/* After a chunk the micro-batches read from the file: the stream moves
 * past it. */
static sr_status skip_read_chunk(engine *E, sr_input *in, size_t count, char *err)
{
    if (E->src_fd < 0)
        return SR_OK;
    E->src_fd = -1;
    if (lseek(in->s.fd, (off_t)(count * sizeof(float)), SEEK_CUR) < 0)
        return sr_err(err, SR_ERUN, "%s: seek failed: %s", in->s.name, strerror(errno));
    in->s.consumed += (long long)(count * sizeof(float));
    return SR_OK;
}

/* One input record through the model into the sink, chunk by chunk. */
static sr_status run_record(engine *E, sr_input *in, sr_sink *w, uint64_t pass, sr_diags *d, int first)
{
    sr_model *m = E->m;
    char err[SR_ERRLEN];
    sr_shape full = in->h.shape;
    sr_shapes S, C = {0};
    sr_status st;
    if (!first && (st = sr_check_input(m, &full, err)) != SR_OK) {
        sr_diag_at(d, SR_SEV_ERROR, m->label, m->input_line, m->input_col, NULL, NULL, "%s (record %d)", err,
                   in->records);
        return st;
    }
    st = sr_infer(m, &full, E->in_integer, E->o->train, &S, d);
    if (st != SR_OK) {
        sr_shapes_free(&S); /* a later record's mismatch: its shapes too */
        return st;
    }
    int64_t n, chunk;
    int batched = record_chunks(E, &full, &S, &n, &chunk);
    sr_plan_build(m, &S, E->o->train, E->plan); /* sr_exec_prepare follows it */
    st = sr_sink_header(w, &S.out, err);
    sr_shapes_free(&S);
    int64_t cur = -1;
    for (int64_t s0 = 0; st == SR_OK && (s0 < n || (n == 0 && s0 == 0)); s0 += chunk) {
        int64_t b = n - s0 < chunk ? n - s0 : chunk;
        sr_shape cs = full;
        if (batched)
            cs.d[0] = b;
        if (b != cur) {
            sr_shapes_free(&C);
            if ((st = sr_infer(m, &cs, E->in_integer, E->o->train, &C, d)) != SR_OK) {
                sr_shapes_free(&C);
                return st; /* reported by sr_infer */
            }
            if ((st = sr_exec_buffers(E, &C, err)) != SR_OK)
                break;
            if ((st = sr_exec_prepare(E, &C, d)) != SR_OK) {
                sr_shapes_free(&C);
                return st; /* reported by sr_exec_prepare */
            }
            cur = b;
        }
        size_t count = (size_t)sr_shape_numel(&cs);
        sr_tensor x = {.shape = cs, .dtype = E->in_integer ? SR_I64 : SR_F32};
        if ((st = read_chunk(E, in, &x, count, err)) != SR_OK)
            break;
        double t0 = sr_now_ms();
        st = sr_exec_chunk(E, &C, &x, s0, pass, d);
        if (st != SR_OK) {
            E->src_fd = -1;
            sr_shapes_free(&C);
            return st; /* reported by sr_exec_chunk */
        }
        if ((st = skip_read_chunk(E, in, count, err)) != SR_OK)
            break;
        sr_exec_engage(E, sr_now_ms() - t0);
        if ((st = sr_sink_data(w, sr_f32(&x), (size_t)sr_shape_numel(&x.shape), err)) != SR_OK)
            break;
        if (E->o->progress)
            E->o->progress(E->o->progress_arg, s0 + b, n, 0);
        if (n == 0)
            break;
    }
    sr_shapes_free(&C);
    if (st != SR_OK) {
        sr_diag_add(d, "%s", err);
        return st;
    }
    if (E->o->progress)
        E->o->progress(E->o->progress_arg, n, n, 1);
    return SR_OK;
}

static int first_leaf_is_embedding(const sr_model *m)
{
    for (int i = 0; i < m->nnode; i++)
        if (sr_node_is_leaf(&m->node[i]))
            return (m->node[i].mod->type->flags & SR_LF_INDEX_INPUT) != 0;
    return 0;
}

sr_runner *sr_runner_new(sr_model *m, const sr_runopts *o)
{
    sr_runner *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->m = m;
    r->o = o;
    r->threads = o->threads > 1 ? o->threads : 1;
    r->src_fd = -1;
    r->active = 1;
    if (openblas_get_num_threads() != 1)
        openblas_set_num_threads(1);
    size_t nn = (size_t)(m->nnode ? m->nnode : 1);
    r->plan = calloc(nn, sizeof *r->plan);
    r->folded = calloc(nn, sizeof *r->folded);
    r->cache = calloc(2 * nn, sizeof *r->cache);
    if (!r->plan || !r->folded || !r->cache) {
        sr_runner_free(r);
        return NULL;
    }
    for (int i = 0; i < m->nnode; i++)
        r->plan[i] = (sr_plannode){.post = -1, .fold = -1, .fused_into = -1, .seg_end = -1, .lay_to = -1};
    if (o->verbose) {
        r->ms = calloc((size_t)(m->nnode ? m->nnode : 1), sizeof *r->ms);
        r->vin = calloc((size_t)(m->nnode ? m->nnode : 1), sizeof *r->vin);
        r->vout = calloc((size_t)(m->nnode ? m->nnode : 1), sizeof *r->vout);
        if (!r->ms || !r->vin || !r->vout) {
            sr_runner_free(r);
            return NULL;
        }
    }
    return r;
}

/* Parameters are set up once the first input's shape is known, so that a
 * LazyLinear has its in_features. */
static sr_status prepare(sr_runner *E, sr_diags *d)
{
    if (E->prepared)
        return SR_OK;
    const char *weights = E->o->weights ? E->o->weights : E->m->weights;
    /* a weights file replaces every tensor: no default initialisation */
    sr_status st = weights ? sr_state_declare(E->m, d) : sr_state_init(E->m, E->o->seed, d);
    if (st == SR_OK && weights)
        st = sr_state_load(E->m, weights, d);
    E->prepared = st == SR_OK;
    return st;
}

sr_status sr_runner_file(sr_runner *E, const char *input, const char *output, sr_diags *d)
{
    char err[SR_ERRLEN];
    sr_model *m = E->m;
    sr_runopts o = *E->o;
    o.input = input;
    sr_input in;
    sr_sink w = {.fmt = o.format, .top = o.top};
    int out_open = 0;
    sr_status st = sr_input_open(&in, m, &o, err);
    if (st != SR_OK) {
        sr_diag_add(d, "%s", err);
        goto out;
    }
    /* Integers feed an Embedding as indices; anything else reads as float. */
    int in_integer = in.h.is_integer && first_leaf_is_embedding(m);
    if ((st = sr_check_input(m, &in.h.shape, err)) != SR_OK) {
        sr_diag_at(d, SR_SEV_ERROR, m->label, m->input_line, m->input_col, NULL, NULL, "%s", err);
        goto out;
    }
    /* The whole check comes first: nothing runs, nothing is written, if
     * the model does not fit its input. */
    sr_shapes S;
    st = sr_infer(m, &in.h.shape, in_integer, o.train, &S, d);
    sr_shapes_free(&S);
    if (st != SR_OK || (st = prepare(E, d)) != SR_OK)
        goto out;
    if ((st = sr_out_open(&w.o, output, err)) != SR_OK) {
        sr_diag_add(d, "%s", err);
        goto out;
    }
    out_open = 1;
    E->in_integer = in_integer;
    for (int first = 1;; first = 0) {
        E->pass++;
        if ((st = run_record(E, &in, &w, sr_hash64(E->pass), d, first)) != SR_OK)
            goto out;
        int got;
        if ((st = sr_input_next(&in, &got, err)) != SR_OK) {
            sr_diag_add(d, "%s", err);
            goto out;
        }
        if (!got)
            break;
    }
    out_open = 0;
    if ((st = sr_out_commit(&w.o, err)) != SR_OK)
        sr_diag_add(d, "%s", err);
out:
    if (out_open)
        sr_out_abort(&w.o);
    sr_input_close(&in);
    sr_sink_free(&w);
    return st;
}

sr_status sr_runner_finish(sr_runner *E, sr_diags *d)
{
    char err[SR_ERRLEN];
    sr_model *m = E->m;
    if (E->o->save_state && E->prepared && sr_state_save(m, E->o->save_state, err) != SR_OK) {
        sr_diag_add(d, "%s", err);
        return SR_ERUN;
    }
    if (E->ms) {
        double total = 0;
        for (int i = 0; i < m->nnode; i++) {
            if (!sr_node_is_leaf(&m->node[i]))
                continue;
            char a[160], b[160];
            if (E->plan[i].fused_into >= 0) {
                sr_diag_at(d, SR_SEV_NOTE, NULL, 0, 0, NULL, NULL, "seqrun: layer %-6s %-14s %-20s -> %-20s  (in layer %s)", m->node[i].path,
                            m->node[i].mod->type->name, sr_shape_str(&E->vin[i], a, sizeof a),
                            sr_shape_str(&E->vout[i], b, sizeof b), m->node[E->plan[i].fused_into].path);
                continue;
            }
            sr_diag_at(d, SR_SEV_NOTE, NULL, 0, 0, NULL, NULL, "seqrun: layer %-6s %-14s %-20s -> %-20s %10.3f ms", m->node[i].path,
                        m->node[i].mod->type->name, sr_shape_str(&E->vin[i], a, sizeof a),
                        sr_shape_str(&E->vout[i], b, sizeof b), E->ms[i]);
            total += E->ms[i];
        }
        sr_diag_at(d, SR_SEV_NOTE, NULL, 0, 0, NULL, NULL, "seqrun: all layers %.3f ms", total);
    }
    return SR_OK;
}

void sr_runner_free(sr_runner *E)
{
    if (!E)
        return;
    free(E->buf[0]);
    free(E->buf[1]);
    free(E->inbuf);
    free(E->work);
    free(E->ms);
    free(E->vin);
    free(E->vout);
    for (int i = 0; E->folded && i < E->m->nnode; i++)
        free(E->folded[i]);
    for (int i = 0; E->cache && i < 2 * E->m->nnode; i++) {
        void (*release)(void *) = E->m->node[i / 2].mod->type->release;
        if (release && E->cache[i])
            release(E->cache[i]);
        else
            free(E->cache[i]);
    }
    free(E->folded);
    free(E->cache);
    free(E->plan);
    free(E);
}

sr_status sr_run(sr_model *m, const sr_runopts *o, sr_diags *d)
{
    sr_runner *r = sr_runner_new(m, o);
    if (!r) {
        sr_diag_add(d, "out of memory");
        return SR_ERUN;
    }
    /* -o and --save-state appear together or not at all: a state file that
     * cannot be written must not leave a fresh -o behind. */
    sr_out_defer_begin();
    sr_status st = sr_runner_file(r, o->input, o->output, d);
    if (st == SR_OK)
        st = sr_runner_finish(r, d);
    char err[SR_ERRLEN];
    if (sr_out_defer_end(st == SR_OK, err) != SR_OK && st == SR_OK) {
        sr_diag_add(d, "%s", err);
        st = SR_ERUN;
    }
    sr_runner_free(r);
    return st;
}
