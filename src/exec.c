/*
 * exec.c - one chunk through the layers, top to bottom: for each plan node,
 * its kernel (with what the plan fused into it), or a micro-batched run of
 * layers spread over the threads.
 */
#include "blas_guard.h"
#include "engine.h"
#include "init.h"
#include "layers/layers.h"
#include "par.h"

#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Tests: SEQRUN_POISON set fills new scratch and activation buffers with
 * NaNs, so that a kernel reading a float nobody wrote shows in its output. */
static int poison(void)
{
    static int p = -1;
    if (p < 0)
        p = getenv("SEQRUN_POISON") != NULL;
    return p;
}

/* Makes *p (scratch: the contents need not survive) at least want bytes,
 * aligned to a cache line as the kernels' and OpenBLAS's vector loads like. */
int sr_grow(void **p, size_t *have, size_t want)
{
    if (want <= *have)
        return 0;
    void *n = NULL;
    /* buffers of a few MiB in 2 MiB pages where the kernel offers them
     * (transparent huge pages on request): fewer TLB misses in the GEMMs */
    size_t huge = (size_t)2 << 20;
    if (posix_memalign(&n, want >= huge ? huge : 64, want) != 0)
        return -1;
#ifdef MADV_HUGEPAGE
    if (want >= huge)
        madvise(n, want - want % huge, MADV_HUGEPAGE);
#endif
    if (poison())
        memset(n, 0xff, want); /* all ones: a quiet NaN in every float */
    free(*p);
    *p = n;
    *have = want;
    return 0;
}


/* The folded weights of producer node i (its fold hook applied to the
 * affine layer's scale and shift), then the bias; built once. */
static sr_status folded_weights(engine *E, int i, char *err)
{
    if (E->folded[i])
        return SR_OK;
    const sr_layer *P = E->m->node[i].mod, *A = E->m->node[E->plan[i].fold].mod;
    int64_t C = P->type->fold(P, NULL, NULL, NULL, NULL), nw = sr_shape_numel(&P->param[0].shape);
    double *coef = malloc((size_t)(2 * C + 1) * sizeof *coef);
    float *blk = malloc((size_t)(nw + C + 1) * sizeof *blk);
    if (!coef || !blk || A->type->affine(A, E->o->train, coef, coef + C) != C ||
        P->type->fold(P, coef, coef + C, blk, blk + nw) != C) {
        free(coef);
        free(blk);
        return sr_err(err, SR_ERUN, "out of memory folding layer %s into layer %s", E->m->node[E->plan[i].fold].path,
                      E->m->node[i].path);
    }
    free(coef);
    E->folded[i] = blk;
    return SR_OK;
}


/* Node i's cache slot: one for its plain weights, one for its folded ones
 * (a record's plan may fold where the last one did not). */
static void **node_cache(const engine *E, int i) { return &E->cache[2 * i + (E->plan[i].fold >= 0)]; }

static void node_ctx(const engine *E, int i, sr_ctx *ctx);

/*
 * Before the threads: every node the plan runs gets its folded weights and
 * its prepare() hook, for the input shape its calls will see (a
 * micro-batched run's nodes see micro-batches), so that a run's threads
 * only read what the layers keep: a layer that keeps something in its
 * cache slot builds it in prepare() (forward() builds privately only
 * without a slot, or under a lock of its own, as EmbeddingBag's max_norm).
 */
sr_status sr_exec_prepare(engine *E, const sr_shapes *S, sr_diags *d)
{
    sr_model *m = E->m;
    char err[SR_ERRLEN];
    int64_t mb = 0;
    int seg_last = -1;
    for (int i = 0; i < m->nnode; i++) {
        const sr_node *nd = &m->node[i];
        if (E->plan[i].seg_end >= 0) { /* as run_segment splits the chunk */
            const sr_shape *x = &S->node[i].in;
            seg_last = E->plan[i].seg_end;
            mb = sr_plan_mb(E->plan, i, x->ndim ? x->d[0] : 1);
        }
        if (!sr_node_is_leaf(nd) || E->plan[i].fused_into >= 0)
            continue;
        sr_status st = E->plan[i].fold >= 0 ? folded_weights(E, i, err) : SR_OK;
        const sr_layertype *t = nd->mod->type;
        if (st == SR_OK && t->prepare) {
            sr_ctx ctx = {.training = E->o->train, .seed = E->o->seed, .threads = 1};
            node_ctx(E, i, &ctx);
            sr_shape in = i <= seg_last ? sr_symshape_at(&S->node[i].sin, mb) : S->node[i].in;
            st = t->prepare(nd->mod, &in, &ctx, err);
        }
        if (st != SR_OK) {
            sr_diag_at(d, SR_SEV_ERROR, m->label, nd->line, nd->col, nd->path, t->name, "%s", err);
            return st;
        }
    }
    return SR_OK;
}

/* Makes the buffers big enough for every layer at this chunk's shapes. */
sr_status sr_exec_buffers(engine *E, const sr_shapes *S, char *err)
{
    size_t maxact, maxwork;
    sr_status st = sr_plan_sizes(E->m, E->plan, S, &maxact, &maxwork, err);
    if (st != SR_OK)
        return st;
    /* what the chunk size decides, so the hint names it */
    long long chunk = S->node[0].in.ndim ? (long long)S->node[0].in.d[0] : 1;
    size_t have = E->buflen * sizeof(float);
    for (int b = 0; b < 2; b++) {
        size_t h = have;
        if (sr_grow((void **)&E->buf[b], &h, maxact * sizeof(float)) < 0)
            return sr_err(err, SR_ERUN, "out of memory for the activations of a chunk of %lld samples (2 x %zu MiB); "
                          "hint: a smaller --batch-size needs less", chunk, (maxact * sizeof(float)) >> 20);
    }
    if (maxact > E->buflen)
        E->buflen = maxact;
    if (maxwork && !sr_mul_ok(maxwork, (size_t)(E->threads > 1 ? E->threads : 1), &maxwork))
        return sr_err(err, SR_ERUN, "out of memory for the layers' scratch (its size overflows); hint: a smaller "
                      "--batch-size or fewer --threads need less");
    size_t wh = E->worklen * sizeof(float);
    if (sr_grow((void **)&E->work, &wh, maxwork * sizeof(float)) < 0)
        return sr_err(err, SR_ERUN, "out of memory for the layers' scratch for a chunk of %lld samples (%zu MiB); "
                      "hint: a smaller --batch-size or fewer --threads need less", chunk,
                      (maxwork * sizeof(float)) >> 20);
    if (maxwork > E->worklen)
        E->worklen = maxwork;
    return SR_OK;
}

double sr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Node i's fusion in ctx (its folded weights must exist: sr_exec_prepare). */
static void node_ctx(const engine *E, int i, sr_ctx *ctx)
{
    const sr_node *nd = &E->m->node[i];
    ctx->layer_key = sr_hash_str(nd->path);
    ctx->post = E->plan[i].post >= 0 ? E->m->node[E->plan[i].post].mod : NULL;
    ctx->weight = ctx->bias = NULL;
    if (E->plan[i].fold >= 0) {
        ctx->weight = E->folded[i];
        ctx->bias = E->folded[i] + sr_shape_numel(&nd->mod->param[0].shape);
    }
    ctx->cache = node_cache(E, i);
}

typedef struct {
    engine *E;
    const sr_shapes *S;
    int i0, i1;                 /* first and last node */
    const sr_tensor *X;         /* the chunk's input to node i0 */
    float *Y;                   /* where node i1's output for the chunk goes */
    int64_t n, mb;              /* chunk size, micro-batch size */
    int64_t sample0;
    uint64_t pass;
    size_t wsize, acts;         /* per thread: layer scratch, one activation */
    double *tms;                /* -v: thread 0's time per node, or NULL */
    int src_fd;                 /* >= 0: read node i0's input from this file */
    long long src_off;
    int failed;                 /* atomic: the first failure's details below */
    sr_status st;
    int fnode;
    char err[SR_ERRLEN];
} seg_job;

static void seg_task(void *arg, int64_t task, int tid)
{
    seg_job *J = arg;
    engine *E = J->E;
    const sr_shapes *S = J->S;
    if (__atomic_load_n(&J->failed, __ATOMIC_ACQUIRE))
        return;
    int64_t b0 = task * J->mb, b = J->n - b0 < J->mb ? J->n - b0 : J->mb;
    float *base = E->work + (size_t)tid * (J->wsize + 2 * J->acts), *s[2] = {base + J->wsize, base + J->wsize + J->acts};
    size_t esz = sr_dtype_size(J->X->dtype), in_ps = sr_plan_per_sample(&S->node[J->i0].sin);
    sr_tensor x = {.shape = sr_symshape_at(&S->node[J->i0].sin, b), .dtype = J->X->dtype};
    sr_ctx ctx = {.training = E->o->train, .seed = E->o->seed, .sample0 = J->sample0 + b0, .pass_key = J->pass,
                  .work = base, .work_len = J->wsize, .threads = 1};
    char err[SR_ERRLEN];
    if (J->src_fd >= 0) {
        /* this micro-batch's float32 input, from the file into s[1] (the
         * first layer then writes s[0]) */
        size_t want = (size_t)b * in_ps * sizeof(float), got = 0;
        while (got < want) {
            ssize_t r = pread(J->src_fd, (char *)s[1] + got, want - got,
                              (off_t)(J->src_off + (long long)((size_t)b0 * in_ps * sizeof(float) + got)));
            if (r <= 0 && !(r < 0 && errno == EINTR)) {
                int no = 0;
                if (__atomic_compare_exchange_n(&J->failed, &no, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                    J->st = SR_ERUN;
                    J->fnode = -1;
                    snprintf(J->err, sizeof J->err, "read error: %s", r < 0 ? strerror(errno) : "unexpected end of file");
                }
                return;
            }
            if (r > 0)
                got += (size_t)r;
        }
        x.data = s[1];
    } else {
        x.data = (char *)J->X->data + (size_t)b0 * in_ps * esz;
    }
    for (int i = J->i0; i <= J->i1; i++) {
        const sr_node *nd = &E->m->node[i];
        if (!sr_node_is_leaf(nd) || E->plan[i].fused_into >= 0)
            continue;
        int p = sr_plan_produced(E->plan, i);
        sr_tensor y = {.shape = sr_symshape_at(&S->node[p].sout, b), .dtype = SR_F32};
        float *target = J->Y + (size_t)b0 * sr_plan_per_sample(&S->node[p].sout);
        y.data = i == J->i1 ? target : x.data == s[0] ? s[1] : s[0];
        node_ctx(E, i, &ctx);
        ctx.in_laid_out = ctx.out_layout != NULL; /* the node before wrote x so */
        ctx.out_layout = E->plan[i].lay_to >= 0 ? &E->plan[i].lay : NULL;
        double t0 = J->tms && tid == 0 ? sr_now_ms() : 0;
        sr_status st = nd->mod->type->forward(nd->mod, &x, &y, &ctx, err);
        if (st != SR_OK) {
            int no = 0;
            if (__atomic_compare_exchange_n(&J->failed, &no, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                J->st = st;
                J->fnode = i;
                memcpy(J->err, err, sizeof err);
            }
            return;
        }
        if (J->tms && tid == 0)
            J->tms[i] += sr_now_ms() - t0;
        if (i == J->i1 && y.data != target) /* a view at the end */
            memmove(target, y.data, (size_t)sr_shape_numel(&y.shape) * sizeof(float));
        x = y;
    }
}

/* Runs nodes i0..i1 over the chunk x in micro-batches; x becomes node i1's
 * output, in one of the activation buffers. */
static sr_status run_segment(engine *E, const sr_shapes *S, int i0, sr_tensor *x, int64_t sample0, uint64_t pass,
                             sr_diags *d)
{
    sr_model *m = E->m;
    int i1 = E->plan[i0].seg_end;
    int64_t n = x->shape.ndim ? x->shape.d[0] : 1;
    seg_job J = {.E = E, .S = S, .i0 = i0, .i1 = i1, .X = x, .n = n, .mb = sr_plan_mb(E->plan, i0, n),
                 .sample0 = sample0, .pass = pass, .src_fd = x->data ? -1 : E->src_fd, .src_off = E->src_off};
    J.Y = x->data == E->buf[0] ? E->buf[1] : E->buf[0];
    if (sr_plan_seg_part(m, E->plan, S, i0, n, &J.wsize, &J.acts) < 0) {
        sr_diag_add(d, "out of memory for workspace"); /* sr_plan_sizes sized the same parts */
        return SR_ERUN;
    }
    if (E->ms)
        J.tms = calloc((size_t)m->nnode, sizeof *J.tms);
    int64_t tasks = (n + J.mb - 1) / J.mb;
    int threads = E->active > 1 ? E->active : 1;
    if ((size_t)threads * (J.wsize + 2 * J.acts) > E->worklen)
        threads = 1; /* plan() sized the workspace for fewer threads */
    double t0 = E->ms ? sr_now_ms() : 0;
    /* every micro-batch on the threads from the first: what the layers
     * keep was built by their prepare() (sr_exec_prepare) */
    sr_par_for(threads, tasks, seg_task, &J);
    if (J.failed) {
        if (J.fnode < 0) {
            sr_diag_at(d, SR_SEV_ERROR, E->src_name, 0, 0, NULL, NULL, "%s", J.err);
        } else {
            const sr_node *nd = &m->node[J.fnode];
            sr_diag_at(d, SR_SEV_ERROR, m->label, nd->line, nd->col, nd->path, nd->mod->type->name, "%s", J.err);
        }
        free(J.tms);
        return J.st;
    }
    if (E->ms) {
        /* the run's wall time, shared out as thread 0's times were */
        double wall = sr_now_ms() - t0, sum = 0;
        for (int i = i0; i <= i1; i++)
            sum += J.tms[i];
        for (int i = i0; i <= i1; i++) {
            if (!sr_node_is_leaf(&m->node[i]))
                continue;
            if (E->plan[i].fused_into < 0)
                E->ms[i] += sum > 0 ? wall * J.tms[i] / sum : wall / (i1 - i0 + 1);
            E->vin[i] = S->node[i].in;
            E->vout[i] = S->node[i].out;
        }
        free(J.tms);
    }
    int p = sr_plan_produced(E->plan, i1);
    *x = (sr_tensor){.shape = S->node[p].out, .dtype = SR_F32, .data = J.Y};
    return SR_OK;
}

/* One chunk through every layer; returns the output tensor (a view into
 * one of the engine's buffers, or of the input for a pure-view model). */
sr_status sr_exec_chunk(engine *E, const sr_shapes *S, sr_tensor *x, int64_t sample0, uint64_t pass,
                        sr_diags *d)
{
    sr_model *m = E->m;
    sr_ctx ctx = {.training = E->o->train, .seed = E->o->seed, .sample0 = sample0, .pass_key = pass,
                  .work = E->work, .work_len = E->worklen, .threads = E->active};
    char err[SR_ERRLEN];
    for (int i = 0; i < m->nnode; i++) {
        const sr_node *nd = &m->node[i];
        if (!sr_node_is_leaf(nd))
            continue;
        if (E->plan[i].fused_into >= 0) {
            if (E->ms) {
                E->vin[i] = S->node[i].in;
                E->vout[i] = S->node[i].out;
            }
            continue;
        }
        if (E->plan[i].seg_end >= 0) {
            sr_status st = run_segment(E, S, i, x, sample0, pass, d);
            if (st != SR_OK)
                return st;
            i = E->plan[i].seg_end;
            continue;
        }
        sr_tensor y = {.shape = S->node[sr_plan_produced(E->plan, i)].out, .dtype = SR_F32};
        y.data = x->data == E->buf[0] ? E->buf[1] : E->buf[0];
        node_ctx(E, i, &ctx); /* its folded weights: sr_exec_prepare */
        double t0 = E->ms ? sr_now_ms() : 0;
        sr_status st = nd->mod->type->forward(nd->mod, x, &y, &ctx, err);
        if (st != SR_OK) {
            sr_diag_at(d, SR_SEV_ERROR, m->label, nd->line, nd->col, nd->path, nd->mod->type->name, "%s", err);
            return st;
        }
        if (E->ms) {
            E->ms[i] += sr_now_ms() - t0;
            E->vin[i] = x->shape;
            E->vout[i] = S->node[i].out;
        }
        *x = y;
    }
    return SR_OK;
}


/*
 * Threads cost something to start and to hand work to: a whole run that
 * takes a millisecond (one sample through an MLP) is faster on one.  So a
 * runner starts on one thread, OpenBLAS's pool held to one as well, and
 * engages --threads (the workspace is planned for them from the start)
 * once its forward passes have taken WARM_MS.
 */
#define WARM_MS 1.0

void sr_exec_engage(engine *E, double ms)
{
    E->busy_ms += ms;
    if (E->busy_ms < WARM_MS || E->active >= E->threads)
        return;
    E->active = E->threads;
    if (E->o->blas_threads > 1)
        openblas_set_num_threads(sr_blas_threads(E->o->blas_threads, NULL)); /* as many as have buffers */
}
