/* input.c - tensor sources: npy records, raw float32, pipes and files. */
#include "input.h"
#include "par.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The rest of in's stream copied to an unlinked file in $TMPDIR (or /tmp),
 * which becomes in's stream: a regular file, so its size is known. */
static sr_status spool(sr_input *in, char *err)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/seqrun-spool-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return sr_err(err, SR_ERUN, "%s: cannot spool raw input to %s: %s", in->s.name, path, strerror(errno));
    unlink(path);
    size_t cap = (size_t)1 << 20;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return sr_err(err, SR_ERUN, "%s: out of memory", in->s.name);
    }
    for (;;) {
        long long r = sr_stream_read(&in->s, buf, cap);
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return sr_err(err, SR_ERUN, "%s: read error: %s", in->s.name, strerror(e));
        }
        for (long long w = 0; w < r;) {
            ssize_t k = write(fd, buf + w, (size_t)(r - w));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                int e = errno;
                free(buf);
                close(fd);
                return sr_err(err, SR_ERUN, "%s: cannot spool raw input to %s: %s", in->s.name, path,
                              k < 0 ? strerror(e) : "no space");
            }
            w += k;
        }
        if ((size_t)r < cap)
            break;
    }
    free(buf);
    if (lseek(fd, 0, SEEK_SET) < 0) {
        close(fd);
        return sr_err(err, SR_ERUN, "%s: cannot spool raw input: %s", in->s.name, strerror(errno));
    }
    const char *name = in->s.name;
    sr_stream_close(&in->s);
    return sr_stream_fd(&in->s, fd, name, err);
}

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
    if (bytes < 0 && free_dim >= 0) {
        /* A pipe whose sample count only its end tells: spooled to an
         * unlinked temporary file, then read chunk by chunk like any file,
         * so memory stays bounded (--batch-size) whatever the pipe holds. */
        sr_status st = spool(in, err);
        if (st != SR_OK)
            return st;
        bytes = sr_stream_remaining(&in->s);
    }
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

/* float32 elements of a regular file that pread can fetch as they are:
 * nothing of them buffered by the stream, all of them in the record and
 * in the file. */
int sr_input_preadable(const sr_input *in, sr_dtype dt, size_t count)
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

/* A large chunk read by the threads together (the copy out of the page
 * cache is the slow part), in pieces of PAR_READ bytes.
 *
 * Copied, not mapped: handing the layers a read-only mapping of the file
 * instead (no copy) was measured slower here (issue 15, branch w1-mmap;
 * W1 at batch 1024, 3.2 MB chunks).  Mapping a chunk's 4 KiB page-cache
 * pages (MADV_POPULATE_READ) cost ~0.25 ms, half what the copy costs, and the
 * first Linear then read its input from the mapping ~0.7 ms slower per
 * chunk on one thread (TLB misses on 4 KiB pages, presumably; software
 * prefetches did not help), more on two: a stream over mapped page-cache pages ran
 * at ~4 GB/s against ~25 GB/s over anonymous memory, while read() copies
 * through the kernel's large-page direct map into a buffer the GEMM finds
 * in cache. */
#define PAR_READ ((size_t)128 << 10)
#define PAR_READ_MIN ((size_t)32 << 10)

typedef struct {
    int fd;
    long long off;
    char *dst;
    size_t n, piece;    /* bytes in all, per task */
    int failed;         /* atomic */
    int err;
} par_read_job;

static void par_read_piece(void *arg, int64_t k, int tid)
{
    (void)tid;
    par_read_job *J = arg;
    size_t a = (size_t)k * J->piece, b = a + J->piece < J->n ? a + J->piece : J->n;
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

int sr_input_read_parallel(sr_input *in, int threads, size_t count, void *dst, char *err)
{
    size_t n = count * sizeof(float);
    if (threads < 2 || n < 2 * PAR_READ_MIN || !sr_input_preadable(in, SR_F32, count))
        return 0;
    par_read_job J = {.fd = in->s.fd, .off = in->s.consumed, .dst = dst, .n = n};
    /* pieces of PAR_READ, or for a smaller chunk one per thread (a
     * 64-sample W1 chunk, 200 KB, in two) */
    J.piece = n >= (size_t)threads * PAR_READ ? PAR_READ : (n + (size_t)threads - 1) / (size_t)threads;
    if (J.piece < PAR_READ_MIN)
        J.piece = PAR_READ_MIN;
    sr_par_for(threads, (int64_t)((n + J.piece - 1) / J.piece), par_read_piece, &J);
    if (J.failed || lseek(in->s.fd, (off_t)n, SEEK_CUR) < 0) {
        sr_err(err, SR_ERUN, "%s: read error: %s", in->s.name,
               J.failed && !J.err ? "unexpected end of file" : strerror(J.failed ? J.err : errno));
        return -1;
    }
    in->s.consumed += (long long)n;
    return 1;
}
