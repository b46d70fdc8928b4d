/* run.c - the executor: records, chunks, two activation buffers. */
#include "run.h"
#include "init.h"
#include "layers/layers.h"
#include "shape.h"
#include "state.h"
#include "par.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <unistd.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Default chunk: enough samples that per-call overheads vanish, few enough
 * that the two activation buffers stay near this many bytes. */
#define DEFAULT_CHUNK_BYTES ((size_t)4 << 20)

/* ---- input ------------------------------------------------------------------ */

/* Raw float32 data: synthesise an npy header so one reader serves both. */
static sr_status raw_header(sr_input *in, const sr_model *m, const sr_runopts *o, char *err)
{
    sr_shape s;
    int free_dim = -1;
    if (o->has_input_shape) {
        s = o->input_shape;
        for (int i = 0; i < s.ndim; i++)
            if (s.d[i] == -1)
                free_dim = i;
    } else if (m->has_input) {
        s = m->input;
        free_dim = m->input_free;
    } else {
        return sr_err(err, SR_EUSAGE,
                      "%s: raw input needs a shape; hint: give --input-shape D,D,... or the spec's input:, or use .npy",
                      in->s.name);
    }
    long long bytes = sr_stream_remaining(&in->s);
    int over = 0; /* a pipe held more than a fully given shape needs */
    if (bytes < 0) {
        /* A pipe: read it whole, then treat it as memory.  With every
         * dimension given, no more than one byte past what the shape needs:
         * an endless pipe then fails at once instead of filling memory. */
        size_t need = 0, limit = SIZE_MAX;
        if (free_dim < 0 && sr_mul_ok((size_t)sr_shape_numel(&s), 4, &need) && need < SIZE_MAX)
            limit = need + 1;
        size_t cap = limit < (1 << 16) ? limit : 1 << 16, len = 0;
        unsigned char *buf = malloc(cap);
        for (;;) {
            if (!buf)
                return sr_err(err, SR_ERUN, "%s: out of memory reading raw input", in->s.name);
            long long r = sr_stream_read(&in->s, buf + len, cap - len);
            if (r < 0) {
                free(buf);
                return sr_err(err, SR_ERUN, "%s: read error: %s", in->s.name, strerror(errno));
            }
            len += (size_t)r;
            if (len < cap)
                break;
            if (len == limit) {
                over = 1;
                break;
            }
            cap = cap <= limit / 2 ? cap * 2 : limit;
            unsigned char *nb = realloc(buf, cap);
            if (!nb)
                free(buf);
            buf = nb;
        }
        const char *name = in->s.name;
        sr_stream_close(&in->s);
        in->slurp = buf;
        sr_stream_mem(&in->s, buf, len, name);
        bytes = (long long)len;
    }
    if (over)
        return sr_err(err, SR_ERUN, "%s: raw input holds more than the %lld float32 values shape %s needs",
                      in->s.name, (long long)sr_shape_numel(&s), sr_shp(&s));
    if (bytes == 0)
        return sr_err(err, SR_ERUN, "%s: empty input", in->s.name);
    if (bytes % 4)
        return sr_err(err, SR_ERUN, "%s: raw input has %lld bytes, not a whole number of float32 values",
                      in->s.name, bytes);
    long long n = bytes / 4;
    if (free_dim >= 0) {
        sr_shape fixed = s;
        fixed.d[free_dim] = 1;
        int64_t per = sr_shape_numel(&fixed);
        if (per <= 0 || n % per)
            return sr_err(err, SR_ERUN, "%s: %lld float32 values do not divide into samples of %lld values (shape %s)",
                          in->s.name, n, (long long)per, sr_shp(&s));
        s.d[free_dim] = n / per;
    } else if (sr_shape_numel(&s) != n) {
        return sr_err(err, SR_ERUN, "%s: raw input holds %lld float32 values, but shape %s needs %lld",
                      in->s.name, n, sr_shp(&s), (long long)sr_shape_numel(&s));
    }
    memset(&in->h, 0, sizeof in->h);
    in->h.shape = s;
    in->h.dtype = SR_NPY_F32;
    in->h.itemsize = 4;
    in->h.numel = sr_shape_numel(&s);
    in->h.offset = in->s.consumed;
    return SR_OK;
}

sr_status sr_input_open(sr_input *in, const sr_model *m, const sr_runopts *o, char *err)
{
    memset(in, 0, sizeof *in);
    sr_status st = sr_stream_open(&in->s, o->input, err);
    if (st != SR_OK)
        return st;
    unsigned char magic[6];
    long long k = sr_stream_peek(&in->s, magic, sizeof magic);
    if (k < 0)
        return sr_err(err, SR_ERUN, "%s: read error: %s", in->s.name, strerror(errno));
    in->is_npy = sr_npy_is_magic(magic, (size_t)k);
    if (!in->is_npy) {
        if (k == 0)
            return sr_err(err, SR_ERUN, "%s: empty input", in->s.name);
        st = raw_header(in, m, o, err);
        in->records = st == SR_OK;
        return st;
    }
    int got;
    st = sr_npy_read_header(&in->s, &in->h, &got, err);
    if (st == SR_OK && !got)
        st = sr_err(err, SR_ERUN, "%s: no npy records", in->s.name);
    in->records = 1;
    return st;
}

sr_status sr_input_next(sr_input *in, int *got, char *err)
{
    *got = 0;
    if (!in->is_npy)
        return SR_OK;
    sr_status st = sr_npy_read_header(&in->s, &in->h, got, err);
    in->records += *got;
    return st;
}

void sr_input_close(sr_input *in)
{
    sr_stream_close(&in->s);
    free(in->slurp);
    in->slurp = NULL;
}

/* ---- output ------------------------------------------------------------------- */

typedef struct {
    sr_outfile o;
    sr_format fmt;
    int top;
    int64_t row;        /* text: values per printed line */
    int64_t written;
    float *rowbuf;      /* --top: the row being gathered */
} writer;

static sr_status write_header(writer *w, const sr_shape *s, char *err)
{
    if (w->fmt == SR_FMT_NPY)
        return sr_npy_write_header(w->o.f, s, err);
    if (w->fmt == SR_FMT_TEXT) {
        w->row = s->ndim ? s->d[s->ndim - 1] : 1;
        w->written = 0;
        if (w->top) {
            free(w->rowbuf);
            w->rowbuf = malloc((size_t)(w->row > 0 ? w->row : 1) * sizeof(float));
            if (!w->rowbuf)
                return sr_err(err, SR_ERUN, "out of memory");
            fprintf(w->o.f, "# shape %s; top %d classes per sample: class (probability)\n", sr_shp(s), w->top);
        } else {
            fprintf(w->o.f, "# shape %s\n", sr_shp(s));
        }
    }
    return SR_OK;
}

/* Probabilities for --top: a row that already is a distribution is taken
 * as it is (Softmax output); anything else -- logits, or LogSoftmax's
 * log-probabilities, for which softmax gives back the probabilities -- goes
 * through softmax. */
static void row_probs(float *x, int64_t n)
{
    double sum = 0;
    int dist = 1;
    for (int64_t i = 0; i < n; i++) {
        dist &= x[i] >= 0 && x[i] <= 1;
        sum += x[i];
    }
    if (dist && sum > 0.999 && sum < 1.001)
        return;
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += exp((double)x[i] - mx);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(exp((double)x[i] - mx) / sum);
}

static void write_top(writer *w)
{
    int64_t n = w->row, sample = w->written / n - 1;
    row_probs(w->rowbuf, n);
    fprintf(w->o.f, "%lld:", (long long)sample);
    /* selection by repeated scans: K is small; ties go to the lower index */
    for (int k = 0; k < w->top && k < n; k++) {
        int64_t best = -1;
        for (int64_t i = 0; i < n; i++)
            if (!(w->rowbuf[i] < 0) && (best < 0 || w->rowbuf[i] > w->rowbuf[best]))
                best = i;
        if (best < 0)
            break;
        fprintf(w->o.f, "%s%lld (%.4f)", k ? "  " : " ", (long long)best, (double)w->rowbuf[best]);
        w->rowbuf[best] = -1; /* taken */
    }
    fputc('\n', w->o.f);
}

static sr_status write_data(writer *w, const float *x, size_t n, char *err)
{
    if (w->fmt != SR_FMT_TEXT)
        return sr_npy_write_f32(w->o.f, x, n, err);
    for (size_t i = 0; i < n; i++) {
        int64_t col = w->row > 0 ? w->written % w->row : 0;
        w->written++;
        int eol = w->row <= 0 || col == w->row - 1;
        if (w->top) {
            w->rowbuf[col] = x[i];
            if (eol)
                write_top(w);
        } else {
            fprintf(w->o.f, "%12.6g%s", (double)x[i], eol ? "\n" : " ");
        }
    }
    if (ferror(w->o.f))
        return sr_err(err, SR_ERUN, "write error: %s", strerror(errno));
    return SR_OK;
}

/* ---- execution ------------------------------------------------------------------ */

struct sr_runner {
    sr_model *m;
    const sr_runopts *o;
    int prepared;           /* parameters initialised and loaded */
    int in_integer;
    uint64_t pass;          /* records run so far */
    float *buf[2];
    size_t buflen;          /* floats in each activation buffer */
    void *inbuf;
    size_t inbuf_bytes;
    float *work;
    size_t worklen;
    double *ms;             /* -v: time per node */
    sr_shape *vin, *vout;   /* -v: last shapes per node */
    double t_start, t_shown;/* progress bar */
    /* Fusion, per node (sr_ctx's post, weight, bias, cache): */
    int *post;              /* elementwise node applied inside this one, or -1 */
    int *fold;              /* affine node folded into this one's weights, or -1 */
    int *fused_into;        /* this node runs inside that one, or -1 */
    float **folded;         /* folded weights then bias, built on first use */
    void **cache;           /* 2 per node: kernel-prepared weights, plain and folded */
    int threads;            /* seqrun's threads: what the workspace is planned for */
    int active;             /* those in use: 1 until the work has taken WARM_MS */
    double busy_ms;         /* time spent in forward passes so far */
    /* Micro-batched runs of layers (seg_plan), per node where one starts: */
    int *seg_end;           /* its last node, or -1 */
    size_t *seg_act;        /* floats per sample of its largest activation */
    char *seg_warm;         /* it has run once (its caches are built) */
    /* Layouts inside a run (layout_plan), per node: */
    int *lay_to;            /* the next node takes this one's output in its own layout, or -1 */
    sr_layout *lay;         /* that layout */
    /* The chunk's input, when the micro-batches read it from the file
     * themselves (pread, in parallel) instead of run_record reading it: */
    int src_fd;             /* -1: the input tensor holds it */
    long long src_off;      /* file offset of the chunk's first float */
    const char *src_name;   /* the file, for messages */
};
typedef struct sr_runner engine;

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
static int grow(void **p, size_t *have, size_t want)
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

/*
 * Which layers run inside the layer before them, for this record's shapes:
 * a producer (Linear, Conv: SR_FUSE_AFFINE) absorbs a following layer that
 * is a per-channel affine map in this mode (eval BatchNorm) into its weights
 * when that map acts on the producer's output channels, and a producer with
 * SR_FUSE_POST applies a following elementwise layer (ReLU, ...) to its
 * output as it writes it.  The absorbed nodes are skipped.
 */
static void fuse_plan(engine *E, const sr_shapes *S)
{
    sr_model *m = E->m;
    int prev = -1; /* the leaf before, while it may still absorb what follows */
    for (int i = 0; i < m->nnode; i++)
        E->post[i] = E->fold[i] = E->fused_into[i] = -1;
    for (int i = 0; i < m->nnode; i++) {
        const sr_node *nd = &m->node[i];
        if (!sr_node_is_leaf(nd))
            continue;
        const sr_layertype *t = nd->mod->type;
        if (prev >= 0) {
            const sr_layer *P = m->node[prev].mod;
            const sr_shape *po = &S->node[prev].out;
            int64_t C = P->type->fold ? P->type->fold(P, NULL, NULL, NULL, NULL) : 0;
            if (t->affine && E->post[prev] < 0 && E->fold[prev] < 0 && (P->type->flags & SR_FUSE_AFFINE) &&
                C > 0 && po->ndim >= 2 && P->type->channel_dim(P, po) == 1 && po->d[1] == C &&
                t->affine(nd->mod, E->o->train, NULL, NULL) == C) {
                E->fold[prev] = i;
                E->fused_into[i] = prev;
                continue;
            }
            if (t->apply && E->post[prev] < 0 && (P->type->flags & SR_FUSE_POST)) {
                E->post[prev] = i;
                E->fused_into[i] = prev;
                prev = -1;
                continue;
            }
        }
        prev = t->flags & (SR_FUSE_POST | SR_FUSE_AFFINE) ? i : -1;
    }
}

/* The folded weights of producer node i (its fold hook applied to the
 * affine layer's scale and shift), then the bias; built once. */
static sr_status folded_weights(engine *E, int i, char *err)
{
    if (E->folded[i])
        return SR_OK;
    const sr_layer *P = E->m->node[i].mod, *A = E->m->node[E->fold[i]].mod;
    int64_t C = P->type->fold(P, NULL, NULL, NULL, NULL), nw = sr_shape_numel(&P->param[0].shape);
    double *coef = malloc((size_t)(2 * C + 1) * sizeof *coef);
    float *blk = malloc((size_t)(nw + C + 1) * sizeof *blk);
    if (!coef || !blk || A->type->affine(A, E->o->train, coef, coef + C) != C ||
        P->type->fold(P, coef, coef + C, blk, blk + nw) != C) {
        free(coef);
        free(blk);
        return sr_err(err, SR_ERUN, "out of memory folding layer %s into layer %s", E->m->node[E->fold[i]].path,
                      E->m->node[i].path);
    }
    free(coef);
    E->folded[i] = blk;
    return SR_OK;
}

/*
 * Micro-batches.  Between layers that run one GEMM over the whole batch
 * (SR_WHOLE_BATCH: Linear), a run of two or more layers whose kernels give
 * every sample the same bits whatever the batch (convolutions, pools,
 * activations, views) goes through the chunk in micro-batches small enough
 * that their activations stay in the core's L2 cache, instead of each layer
 * streaming the whole chunk through memory; only the run's last layer
 * writes into the chunk's activation buffer.  Micro-batches are spread over
 * the threads (each runs the whole run of layers on its own), so those
 * layers need no synchronisation between them.  The results are those of
 * the layers run on the whole chunk, bit for bit.
 */
#define SEG_BYTES ((size_t)1 << 20) /* two micro-batch activations (a core's L2 holds 2 MiB here) */

/* Floats per sample of s, or 0 unless s is [B, fixed...]. */
static size_t per_sample(const sr_symshape *s)
{
    if (s->ndim < 1 || s->k[0] != 1 || s->c[0] != 0)
        return 0;
    size_t n = 1;
    for (int i = 1; i < s->ndim; i++) {
        if (s->k[i] != 0 || s->c[i] < 0 || !sr_mul_ok(n, (size_t)s->c[i], &n))
            return 0;
    }
    return n;
}

/* The node whose output node i's execution produces (the last one fused
 * into it). */
static int produced(const engine *E, int i)
{
    int last = E->fold[i] >= 0 ? E->fold[i] : i;
    return E->post[i] >= 0 ? E->post[i] : last;
}

static void layout_plan(engine *E, const sr_shapes *S);

static void seg_plan(engine *E, const sr_shapes *S)
{
    sr_model *m = E->m;
    for (int i = 0; i < m->nnode; i++) {
        E->seg_end[i] = -1;
        E->seg_act[i] = 0;
        /* the fusions may differ from the last record's, and with them the
         * cache slots the layers fill on their first call */
        E->seg_warm[i] = 0;
        E->lay_to[i] = -1;
    }
    if (!S->batch_dim0)
        return;
    int start = -1, last = -1, count = 0;
    size_t act = 0;
    for (int i = 0; i <= m->nnode; i++) {
        int ok = 0;
        if (i < m->nnode) {
            const sr_node *nd = &m->node[i];
            if (!sr_node_is_leaf(nd) || E->fused_into[i] >= 0)
                continue;
            size_t a = per_sample(&S->node[i].sin), b = per_sample(&S->node[produced(E, i)].sout);
            ok = !(nd->mod->type->flags & SR_WHOLE_BATCH) && a && b;
            if (ok) {
                if (start < 0) {
                    start = i;
                    count = 0;
                    act = 0;
                }
                act = a > act ? a : act;
                act = b > act ? b : act;
                last = i;
                count++;
                continue;
            }
        }
        if (start >= 0 && count >= 2) {
            E->seg_end[start] = last;
            E->seg_act[start] = act;
        }
        start = -1;
    }
    layout_plan(E, S);
}

/*
 * Layouts.  Inside a run, when a layer can write its output straight into
 * the input layout the next layer would otherwise copy it into (a
 * convolution before a convolution: padded, phase-split), it does, and the
 * next layer skips the copy.  The run's activations are sized for it.
 */
static void layout_plan(engine *E, const sr_shapes *S)
{
    sr_model *m = E->m;
    for (int s = 0; s < m->nnode; s++) {
        if (E->seg_end[s] < 0)
            continue;
        for (int i = -1, j = s; j <= E->seg_end[s]; j++) {
            const sr_node *nj = &m->node[j];
            if (!sr_node_is_leaf(nj) || E->fused_into[j] >= 0)
                continue;
            const sr_layer *pi = i >= 0 ? m->node[i].mod : NULL;
            const sr_layer *post = i >= 0 && E->post[i] >= 0 ? m->node[E->post[i]].mod : NULL;
            sr_layout lay;
            if (pi && pi->type->out_layout_ok && nj->mod->type->in_layout) {
                sr_shape a = sr_symshape_at(&S->node[i].sin, 1), b = sr_symshape_at(&S->node[j].sin, 1);
                if (nj->mod->type->in_layout(nj->mod, &b, &lay) && pi->type->out_layout_ok(pi, &a, post)) {
                    E->lay[i] = lay;
                    E->lay_to[i] = j;
                    if ((size_t)(lay.sample + lay.slack) > E->seg_act[s])
                        E->seg_act[s] = (size_t)(lay.sample + lay.slack);
                }
            }
            i = j;
        }
    }
}

/* Samples per micro-batch of the run starting at node i, for a chunk of n;
 * at least 1, also for an empty chunk (n = 0: no tasks, and no division by
 * zero). */
static int64_t seg_mb(const engine *E, int i, int64_t n)
{
    size_t mb = SEG_BYTES / (2 * sizeof(float) * E->seg_act[i]);
    if (mb < 1)
        mb = 1;
    if (n < 1)
        return 1;
    return (int64_t)mb < n ? (int64_t)mb : n;
}

/* Makes the buffers big enough for every layer at this chunk's shapes. */
static sr_status plan(engine *E, const sr_shapes *S, char *err)
{
    size_t maxact = 1, maxwork = 0;
    int in_seg = -1; /* the run of micro-batched layers node i is in, if any */
    int64_t n = S->node[0].in.ndim ? S->node[0].in.d[0] : 1;
    for (int i = 0; i < E->m->nnode; i++) {
        const sr_node *nd = &E->m->node[i];
        if (!sr_node_is_leaf(nd) || E->fused_into[i] >= 0)
            continue;
        if (E->seg_end[i] >= 0)
            in_seg = i;
        if (in_seg >= 0) {
            /* per thread: the layer's scratch at micro-batch shapes, then two
             * micro-batch activations */
            int64_t mb = seg_mb(E, in_seg, n);
            size_t w = 0, acts = 2 * (size_t)mb * E->seg_act[in_seg];
            if (nd->mod->type->workspace) {
                sr_shape a = sr_symshape_at(&S->node[i].sin, mb), b = sr_symshape_at(&S->node[i].sout, mb);
                w = nd->mod->type->workspace(nd->mod, &a, &b);
            }
            if (!sr_add_ok(w, acts, &w))
                return sr_err(err, SR_ERUN, "out of memory for workspace");
            if (w > maxwork)
                maxwork = w;
            size_t last = (size_t)sr_shape_numel(&S->node[produced(E, i)].out);
            if (i == E->seg_end[in_seg] && last > maxact)
                maxact = last;
            if (i == E->seg_end[in_seg])
                in_seg = -1;
            continue;
        }
        size_t n = (size_t)sr_shape_numel(&S->node[i].out);
        if (n > maxact)
            maxact = n;
        if (nd->mod->type->workspace) {
            size_t w = nd->mod->type->workspace(nd->mod, &S->node[i].in, &S->node[i].out);
            if (w > maxwork)
                maxwork = w;
        }
    }
    size_t have = E->buflen * sizeof(float);
    for (int b = 0; b < 2; b++) {
        size_t h = have;
        if (grow((void **)&E->buf[b], &h, maxact * sizeof(float)) < 0)
            return sr_err(err, SR_ERUN, "out of memory for activations (%zu floats)", maxact);
    }
    if (maxact > E->buflen)
        E->buflen = maxact;
    if (maxwork && !sr_mul_ok(maxwork, (size_t)(E->threads > 1 ? E->threads : 1), &maxwork))
        return sr_err(err, SR_ERUN, "out of memory for workspace");
    size_t wh = E->worklen * sizeof(float);
    if (grow((void **)&E->work, &wh, maxwork * sizeof(float)) < 0)
        return sr_err(err, SR_ERUN, "out of memory for workspace");
    if (maxwork > E->worklen)
        E->worklen = maxwork;
    return SR_OK;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Node i's fusion in ctx (its folded weights must exist: folded_weights). */
static void node_ctx(const engine *E, int i, sr_ctx *ctx)
{
    const sr_node *nd = &E->m->node[i];
    ctx->layer_key = sr_hash_str(nd->path);
    ctx->post = E->post[i] >= 0 ? E->m->node[E->post[i]].mod : NULL;
    ctx->weight = ctx->bias = NULL;
    if (E->fold[i] >= 0) {
        ctx->weight = E->folded[i];
        ctx->bias = E->folded[i] + sr_shape_numel(&nd->mod->param[0].shape);
    }
    ctx->cache = &E->cache[2 * i + (E->fold[i] >= 0)];
}

typedef struct {
    engine *E;
    const sr_shapes *S;
    int i0, i1;                 /* first and last node */
    const sr_tensor *X;         /* the chunk's input to node i0 */
    float *Y;                   /* where node i1's output for the chunk goes */
    int64_t n, mb, first;       /* chunk size, micro-batch size, first task */
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
    int64_t m = J->first + task, b0 = m * J->mb, b = J->n - b0 < J->mb ? J->n - b0 : J->mb;
    float *base = E->work + (size_t)tid * (J->wsize + 2 * J->acts), *s[2] = {base + J->wsize, base + J->wsize + J->acts};
    size_t esz = sr_dtype_size(J->X->dtype), in_ps = per_sample(&S->node[J->i0].sin);
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
        if (!sr_node_is_leaf(nd) || E->fused_into[i] >= 0)
            continue;
        int p = produced(E, i);
        sr_tensor y = {.shape = sr_symshape_at(&S->node[p].sout, b), .dtype = SR_F32};
        float *target = J->Y + (size_t)b0 * per_sample(&S->node[p].sout);
        y.data = i == J->i1 ? target : x.data == s[0] ? s[1] : s[0];
        node_ctx(E, i, &ctx);
        ctx.in_laid_out = ctx.out_layout != NULL; /* the node before wrote x so */
        ctx.out_layout = E->lay_to[i] >= 0 ? &E->lay[i] : NULL;
        double t0 = J->tms && tid == 0 ? now_ms() : 0;
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
            J->tms[i] += now_ms() - t0;
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
    int i1 = E->seg_end[i0];
    int64_t n = x->shape.ndim ? x->shape.d[0] : 1;
    seg_job J = {.E = E, .S = S, .i0 = i0, .i1 = i1, .X = x, .n = n, .mb = seg_mb(E, i0, n),
                 .sample0 = sample0, .pass = pass, .src_fd = x->data ? -1 : E->src_fd, .src_off = E->src_off};
    J.Y = x->data == E->buf[0] ? E->buf[1] : E->buf[0];
    J.acts = (size_t)J.mb * E->seg_act[i0];
    for (int i = i0; i <= i1; i++) {
        const sr_node *nd = &m->node[i];
        if (!sr_node_is_leaf(nd) || E->fused_into[i] >= 0)
            continue;
        if (E->fold[i] >= 0 && (J.st = folded_weights(E, i, J.err)) != SR_OK) {
            sr_diag_add(d, "%s:%d:%d: layer %s (%s): %s", m->label, nd->line, nd->col, nd->path,
                        nd->mod->type->name, J.err);
            return J.st;
        }
        if (nd->mod->type->workspace) {
            sr_shape a = sr_symshape_at(&S->node[i].sin, J.mb), b = sr_symshape_at(&S->node[i].sout, J.mb);
            size_t w = nd->mod->type->workspace(nd->mod, &a, &b);
            J.wsize = w > J.wsize ? w : J.wsize;
        }
    }
    if (E->ms)
        J.tms = calloc((size_t)m->nnode, sizeof *J.tms);
    int64_t tasks = (n + J.mb - 1) / J.mb;
    int threads = E->active > 1 ? E->active : 1;
    if ((size_t)threads * (J.wsize + 2 * J.acts) > E->worklen)
        threads = 1; /* plan() sized the workspace for fewer threads */
    double t0 = E->ms ? now_ms() : 0;
    if (!E->seg_warm[i0] && tasks > 0) {
        /* the first micro-batch alone: it builds the layers' caches */
        seg_task(&J, 0, 0);
        J.first = 1;
        E->seg_warm[i0] = !J.failed;
    }
    sr_par_for(threads, tasks - J.first, seg_task, &J);
    if (J.failed) {
        if (J.fnode < 0) {
            sr_diag_add(d, "%s: %s", E->src_name, J.err);
        } else {
            const sr_node *nd = &m->node[J.fnode];
            sr_diag_add(d, "%s:%d:%d: layer %s (%s): %s", m->label, nd->line, nd->col, nd->path,
                        nd->mod->type->name, J.err);
        }
        free(J.tms);
        return J.st;
    }
    if (E->ms) {
        /* the run's wall time, shared out as thread 0's times were */
        double wall = now_ms() - t0, sum = 0;
        for (int i = i0; i <= i1; i++)
            sum += J.tms[i];
        for (int i = i0; i <= i1; i++) {
            if (!sr_node_is_leaf(&m->node[i]))
                continue;
            if (E->fused_into[i] < 0)
                E->ms[i] += sum > 0 ? wall * J.tms[i] / sum : wall / (i1 - i0 + 1);
            E->vin[i] = S->node[i].in;
            E->vout[i] = S->node[i].out;
        }
        free(J.tms);
    }
    int p = produced(E, i1);
    *x = (sr_tensor){.shape = S->node[p].out, .dtype = SR_F32, .data = J.Y};
    return SR_OK;
}

/* One chunk through every layer; returns the output tensor (a view into
 * one of the engine's buffers, or of the input for a pure-view model). */
static sr_status forward(engine *E, const sr_shapes *S, sr_tensor *x, int64_t sample0, uint64_t pass,
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
        if (E->fused_into[i] >= 0) {
            if (E->ms) {
                E->vin[i] = S->node[i].in;
                E->vout[i] = S->node[i].out;
            }
            continue;
        }
        if (E->seg_end[i] >= 0) {
            sr_status st = run_segment(E, S, i, x, sample0, pass, d);
            if (st != SR_OK)
                return st;
            i = E->seg_end[i];
            continue;
        }
        sr_tensor y = {.shape = S->node[produced(E, i)].out, .dtype = SR_F32};
        y.data = x->data == E->buf[0] ? E->buf[1] : E->buf[0];
        sr_status st = SR_OK;
        if (E->fold[i] >= 0)
            st = folded_weights(E, i, err);
        node_ctx(E, i, &ctx);
        double t0 = E->ms ? now_ms() : 0;
        if (st == SR_OK)
            st = nd->mod->type->forward(nd->mod, x, &y, &ctx, err);
        if (st != SR_OK) {
            sr_diag_add(d, "%s:%d:%d: layer %s (%s): %s", m->label, nd->line, nd->col, nd->path,
                        nd->mod->type->name, err);
            return st;
        }
        if (E->ms) {
            E->ms[i] += now_ms() - t0;
            E->vin[i] = x->shape;
            E->vout[i] = S->node[i].out;
        }
        *x = y;
    }
    return SR_OK;
}

/* A progress bar for runs longer than a second, redrawn ten times a
 * second on stderr (main enables it only on a terminal without -q). */
static void progress(engine *E, int64_t done, int64_t total, int last)
{
    double t = now_ms();
    if (t - E->t_start < 1000 || (!last && t - E->t_shown < 100))
        return;
    if (last && E->t_shown == 0)
        return; /* finished before the bar ever showed */
    E->t_shown = t;
    double rate = (double)done / ((t - E->t_start) / 1000);
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    int width = 30, fill = total ? (int)(width * done / total) : width;
    fprintf(stderr, "\r[%.*s%*s] %lld/%lld samples  %.0f/s  ETA %d:%02d ", fill,
            "##############################", width - fill, "", (long long)done, (long long)total, rate,
            (int)eta / 60, (int)eta % 60);
    if (last)
        fprintf(stderr, "\r%*s\r", 90, "");
    fflush(stderr);
}

static int64_t choose_chunk(const sr_runopts *o, const sr_shapes *S, const sr_model *m, int64_t n)
{
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

/*
 * Threads cost something to start and to hand work to: a whole run that
 * takes a millisecond (one sample through an MLP) is faster on one.  So a
 * runner starts on one thread, OpenBLAS's pool held to one as well, and
 * engages --threads (the workspace is planned for them from the start)
 * once its forward passes have taken WARM_MS.
 */
#define WARM_MS 1.0

static void engage(engine *E, double ms)
{
    E->busy_ms += ms;
    if (E->busy_ms < WARM_MS || E->active >= E->threads)
        return;
    E->active = E->threads;
    if (E->o->blas_threads > 1)
        openblas_set_num_threads(E->o->blas_threads);
}

/* Whether this chunk's input can be left for the micro-batches of the
 * first layers to read from the file (seg_task): float32 data in a regular
 * file, nothing of it already buffered, and a micro-batched run of layers
 * first. */
/* float32 elements of a regular file that pread can fetch as they are:
 * nothing of them buffered by the stream, all of them in the record and
 * in the file. */
static int preadable(const sr_input *in, sr_dtype dt, size_t count)
{
    const sr_stream *s = &in->s;
    if (!in->is_npy || dt != SR_F32 || in->h.dtype != SR_NPY_F32 || in->h.itemsize != 4 || s->fd < 0 ||
        s->size < 0 || s->len != s->pos || count == 0 || s->consumed < in->h.offset)
        return 0;
    long long done = (s->consumed - in->h.offset) / 4;
    return (unsigned long long)count <= (unsigned long long)(in->h.numel - done) &&
           (unsigned long long)count * 4 <= (unsigned long long)sr_stream_remaining(s);
    /* otherwise the ordinary read reports what is wrong */
}

static int direct_input(const engine *E, const sr_input *in, sr_dtype dt, size_t count)
{
    if (!preadable(in, dt, count))
        return 0;
    for (int i = 0; i < E->m->nnode; i++) {
        if (!sr_node_is_leaf(&E->m->node[i]) || E->fused_into[i] >= 0)
            continue;
        return E->seg_end[i] >= 0;
    }
    return 0;
}

/* A large chunk read by the threads together (the copy out of the page
 * cache is the slow part), in pieces of PAR_READ bytes. */
#define PAR_READ ((size_t)128 << 10)

typedef struct {
    int fd;
    long long off;
    char *dst;
    size_t n;
    int failed;         /* atomic */
    int err;
} par_read_job;

static void par_read_piece(void *arg, int64_t k, int tid)
{
    (void)tid;
    par_read_job *J = arg;
    size_t a = (size_t)k * PAR_READ, b = a + PAR_READ < J->n ? a + PAR_READ : J->n;
    while (a < b) {
        ssize_t r = pread(J->fd, J->dst + a, b - a, (off_t)(J->off + (long long)a));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int no = 0;
            if (__atomic_compare_exchange_n(&J->failed, &no, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                J->err = r < 0 ? errno : 0;
            return;
        }
        a += (size_t)r;
    }
}

/* Reads count float32 into dst with the threads; 1 if done, 0 if not
 * attempted (read them the ordinary way), -1 on an error (in err). */
static int par_read(engine *E, sr_input *in, size_t count, void *dst, char *err)
{
    size_t n = count * sizeof(float);
    if (E->active < 2 || n < 2 * PAR_READ || !preadable(in, SR_F32, count))
        return 0;
    par_read_job J = {.fd = in->s.fd, .off = in->s.consumed, .dst = dst, .n = n};
    sr_par_for(E->active, (int64_t)((n + PAR_READ - 1) / PAR_READ), par_read_piece, &J);
    if (J.failed || lseek(in->s.fd, (off_t)n, SEEK_CUR) < 0) {
        sr_err(err, SR_ERUN, "%s: read error: %s", in->s.name,
               J.failed && !J.err ? "unexpected end of file" : strerror(J.failed ? J.err : errno));
        return -1;
    }
    in->s.consumed += (long long)n;
    return 1;
}

static sr_status run_record(engine *E, sr_input *in, writer *w, uint64_t pass, sr_diags *d, int first)
{
    sr_model *m = E->m;
    char err[SR_ERRLEN];
    sr_shape full = in->h.shape;
    sr_shapes S;
    sr_status st;
    if (!first && (st = sr_check_input(m, &full, err)) != SR_OK) {
        sr_diag_add(d, "%s (record %d)", err, in->records);
        return st;
    }
    st = sr_infer(m, &full, E->in_integer, E->o->train, &S, d);
    if (st != SR_OK)
        return st;
    int64_t n = full.ndim ? full.d[0] : 1;
    int64_t chunk = choose_chunk(E->o, &S, m, n);
    sr_shape outshape = S.out;
    fuse_plan(E, &S);
    seg_plan(E, &S);
    sr_shapes_free(&S);
    if ((st = write_header(w, &outshape, err)) != SR_OK)
        goto fail;
    if (!S.batch_dim0 || full.ndim == 0)
        chunk = n = 1; /* one piece: dim 0 is not a batch */
    sr_shapes C = {0};
    int64_t cur = -1;
    for (int64_t s0 = 0; s0 < n || (n == 0 && s0 == 0); s0 += chunk) {
        int64_t b = n - s0 < chunk ? n - s0 : chunk;
        sr_shape cs = full;
        if (S.batch_dim0 && full.ndim)
            cs.d[0] = b;
        if (b != cur) {
            sr_shapes_free(&C);
            if ((st = sr_infer(m, &cs, E->in_integer, E->o->train, &C, d)) != SR_OK)
                return st;
            if ((st = plan(E, &C, err)) != SR_OK)
                goto fail_c;
            cur = b;
        }
        size_t count = (size_t)sr_shape_numel(&cs);
        sr_dtype dt = E->in_integer ? SR_I64 : SR_F32;
        sr_tensor x = {.shape = cs, .dtype = dt, .data = E->inbuf};
        E->src_fd = -1;
        if (direct_input(E, in, dt, count)) {
            /* the first layers' micro-batches read their part of the file
             * themselves: no serial copy of the whole chunk */
            E->src_fd = in->s.fd;
            E->src_off = in->s.consumed;
            E->src_name = in->s.name;
            x.data = NULL;
        } else {
            if (grow(&E->inbuf, &E->inbuf_bytes, (count ? count : 1) * sr_dtype_size(dt)) < 0) {
                st = sr_err(err, SR_ERUN, "out of memory for input");
                goto fail_c;
            }
            int pr = dt == SR_F32 ? par_read(E, in, count, E->inbuf, err) : 0;
            if (pr < 0) {
                st = SR_ERUN;
                goto fail_c;
            }
            if (!pr && (st = sr_npy_read_elems(&in->s, &in->h, count, dt, E->inbuf, err)) != SR_OK)
                goto fail_c;
            x.data = E->inbuf;
        }
        double t0 = now_ms();
        st = forward(E, &C, &x, s0, pass, d);
        if (st == SR_OK && E->src_fd >= 0) {
            /* the stream moves past what the micro-batches read */
            if (lseek(in->s.fd, (off_t)(count * sizeof(float)), SEEK_CUR) < 0) {
                st = sr_err(err, SR_ERUN, "%s: seek failed: %s", in->s.name, strerror(errno));
                E->src_fd = -1;
                goto fail_c;
            }
            in->s.consumed += (long long)(count * sizeof(float));
        }
        E->src_fd = -1;
        if (st != SR_OK) {
            sr_shapes_free(&C);
            return st;
        }
        engage(E, now_ms() - t0);
        if ((st = write_data(w, sr_f32(&x), (size_t)sr_shape_numel(&x.shape), err)) != SR_OK)
            goto fail_c;
        if (E->o->progress)
            progress(E, s0 + b, n, 0);
        if (n == 0)
            break;
    }
    if (E->o->progress)
        progress(E, n, n, 1);
    sr_shapes_free(&C);
    return SR_OK;
fail_c:
    sr_shapes_free(&C);
fail:
    sr_diag_add(d, "%s", err);
    return st;
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
    r->post = malloc(nn * sizeof *r->post);
    r->fold = malloc(nn * sizeof *r->fold);
    r->fused_into = malloc(nn * sizeof *r->fused_into);
    r->folded = calloc(nn, sizeof *r->folded);
    r->cache = calloc(2 * nn, sizeof *r->cache);
    r->seg_end = malloc(nn * sizeof *r->seg_end);
    r->seg_act = calloc(nn, sizeof *r->seg_act);
    r->seg_warm = calloc(nn, 1);
    r->lay_to = malloc(nn * sizeof *r->lay_to);
    r->lay = calloc(nn, sizeof *r->lay);
    if (!r->post || !r->fold || !r->fused_into || !r->folded || !r->cache || !r->seg_end || !r->seg_act ||
        !r->seg_warm || !r->lay_to || !r->lay) {
        sr_runner_free(r);
        return NULL;
    }
    for (int i = 0; i < m->nnode; i++)
        r->post[i] = r->fold[i] = r->fused_into[i] = r->seg_end[i] = -1;
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
    writer w = {.fmt = o.format, .top = o.top};
    int out_open = 0;
    sr_status st = sr_input_open(&in, m, &o, err);
    if (st != SR_OK) {
        sr_diag_add(d, "%s", err);
        goto out;
    }
    /* Integers feed an Embedding as indices; anything else reads as float. */
    int in_integer = in.h.is_integer && first_leaf_is_embedding(m);
    if ((st = sr_check_input(m, &in.h.shape, err)) != SR_OK) {
        sr_diag_add(d, "%s", err);
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
    E->t_start = now_ms();
    E->t_shown = 0;
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
    free(w.rowbuf);
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
            if (E->fused_into[i] >= 0) {
                sr_diag_add(d, "seqrun: layer %-6s %-14s %-20s -> %-20s  (in layer %s)", m->node[i].path,
                            m->node[i].mod->type->name, sr_shape_str(&E->vin[i], a, sizeof a),
                            sr_shape_str(&E->vout[i], b, sizeof b), m->node[E->fused_into[i]].path);
                continue;
            }
            sr_diag_add(d, "seqrun: layer %-6s %-14s %-20s -> %-20s %10.3f ms", m->node[i].path,
                        m->node[i].mod->type->name, sr_shape_str(&E->vin[i], a, sizeof a),
                        sr_shape_str(&E->vout[i], b, sizeof b), E->ms[i]);
            total += E->ms[i];
        }
        sr_diag_add(d, "seqrun: all layers %.3f ms", total);
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
    for (int i = 0; E->cache && i < 2 * E->m->nnode; i++)
        free(E->cache[i]);
    free(E->folded);
    free(E->cache);
    free(E->post);
    free(E->fold);
    free(E->fused_into);
    free(E->seg_end);
    free(E->seg_act);
    free(E->seg_warm);
    free(E->lay_to);
    free(E->lay);
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
