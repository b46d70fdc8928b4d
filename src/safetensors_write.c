/*
 * safetensors_write.c - the safetensors writer: a header as the reference
 * writer lays it out (metadata first, compact separators, padded to 8
 * bytes), then the data.
 */
#include "safetensors_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *p;
    size_t n, cap;
    int failed;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t len)
{
    if (b->failed)
        return;
    if (len > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < len)
            if (!sr_mul_ok(cap, 2, &cap)) {
                b->failed = 1;
                return;
            }
        char *q = realloc(b->p, cap);
        if (!q) {
            b->failed = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_fmt(sbuf *b, const char *fmt, unsigned long long v)
{
    char tmp[32];
    sb_add(b, tmp, (size_t)snprintf(tmp, sizeof tmp, fmt, v));
}

/* A JSON string, escaped as serde_json escapes (the reference writer). */
static void sb_json(sbuf *b, const char *s)
{
    sb_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b"
                        : c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t" : NULL;
        if (esc)
            sb_str(b, esc);
        else if (c < 0x20)
            sb_fmt(b, "\\u%04llx", c);
        else
            sb_add(b, s, 1);
    }
    sb_add(b, "\"", 1);
}

static int valid_utf8(const char *s)
{
    size_t n = strlen(s);
    return st_utf8_check((const unsigned char *)s, n) == n;
}

sr_status sr_st_write(FILE *f, const sr_st_item *items, int n, const char *const *meta_kv,
                      int nmeta, char *err)
{
    char q[ST_KEYLEN];
    sr_status rc = SR_OK;
    sbuf h = {0};
    size_t off = 0;
    char **names = NULL;

    if (n < 0 || nmeta < 0 || (nmeta && !meta_kv))
        return sr_err(err, SR_ERUN, "safetensors: bad item or metadata count");
    for (int k = 0; k < 2 * nmeta; k++)
        if (!meta_kv[k] || !valid_utf8(meta_kv[k]))
            return sr_err(err, SR_ERUN, "safetensors: metadata string %d is not UTF-8", k);
    for (int k = 0; k < n; k++) {
        const char *name = items[k].name;
        const sr_tensor *t = items[k].t;
        if (!name || !valid_utf8(name) || strcmp(name, "__metadata__") == 0)
            return sr_err(err, SR_ERUN, "safetensors: invalid tensor name '%s'",
                          name ? st_quote(q, name) : "(null)");
        if (!t || (t->dtype != SR_F32 && t->dtype != SR_I64) || sr_shape_numel(&t->shape) < 0)
            return sr_err(err, SR_ERUN, "safetensors: invalid tensor (key '%s')",
                          st_quote(q, name));
    }
    /* The reader rejects duplicates, so refuse to write a file it cannot read. */
    if (!(names = malloc(((size_t)(n > nmeta ? n : nmeta) + 1) * sizeof *names)))
        return sr_err(err, SR_ERUN, "out of memory");
    int failed;
    for (int k = 0; k < n; k++)
        names[k] = (char *)items[k].name;
    const char *dup = st_find_dup(names, n, &failed);
    if (!dup && !failed) {
        for (int k = 0; k < nmeta; k++)
            names[k] = (char *)meta_kv[2 * k];
        dup = st_find_dup(names, nmeta, &failed);
    }
    free(names);
    if (failed)
        return sr_err(err, SR_ERUN, "out of memory");
    if (dup)
        return sr_err(err, SR_ERUN, "safetensors: duplicate key '%s'", st_quote(q, dup));

    /* Metadata first and compact separators, like the reference writer. */
    sb_str(&h, "{");
    if (nmeta) {
        sb_str(&h, "\"__metadata__\":{");
        for (int k = 0; k < nmeta; k++) {
            sb_str(&h, k ? "," : "");
            sb_json(&h, meta_kv[2 * k]);
            sb_str(&h, ":");
            sb_json(&h, meta_kv[2 * k + 1]);
        }
        sb_str(&h, n ? "}," : "}");
    }
    for (int k = 0; k < n; k++) {
        const sr_tensor *t = items[k].t;
        size_t bytes = (size_t)sr_shape_numel(&t->shape) * sr_dtype_size(t->dtype);
        sb_str(&h, k ? "," : "");
        sb_json(&h, items[k].name);
        sb_str(&h, t->dtype == SR_F32 ? ":{\"dtype\":\"F32\",\"shape\":["
                                      : ":{\"dtype\":\"I64\",\"shape\":[");
        for (int d = 0; d < t->shape.ndim; d++)
            sb_fmt(&h, d ? ",%llu" : "%llu", (unsigned long long)t->shape.d[d]);
        sb_fmt(&h, "],\"data_offsets\":[%llu,", off);
        if (!sr_add_ok(off, bytes, &off)) {
            free(h.p);
            return sr_err(err, SR_ERUN, "safetensors: data too large");
        }
        sb_fmt(&h, "%llu]}", off);
    }
    sb_str(&h, "}");
    /* Spaces up to a multiple of 8, so 8-byte data starts aligned.  (Not a
     * loop on h.n: after a failed allocation sb_add adds nothing.) */
    sb_add(&h, "       ", (8 - h.n % 8) % 8);
    if (h.failed) {
        free(h.p);
        return sr_err(err, SR_ERUN, "out of memory");
    }

    unsigned char len[8];
    for (int k = 0; k < 8; k++)
        len[k] = (unsigned char)((uint64_t)h.n >> (8 * k));
    int ok = fwrite(len, 1, 8, f) == 8 && fwrite(h.p, 1, h.n, f) == h.n;
    free(h.p);
    for (int k = 0; k < n && ok; k++) {
        const sr_tensor *t = items[k].t;
        size_t cnt = (size_t)sr_shape_numel(&t->shape);
        ok = cnt == 0 || fwrite(t->data, sr_dtype_size(t->dtype), cnt, f) == cnt;
    }
    /* Buffered write errors (ENOSPC, EIO) surface only at flush. */
    if (!ok || fflush(f) != 0)
        rc = sr_err(err, SR_ERUN, "cannot write safetensors data: %s", strerror(errno ? errno : EIO));
    return rc;
}
