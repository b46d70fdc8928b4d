/*
 * safetensors.c - a validating safetensors reader.
 *
 * The header is checked in two passes: a strict JSON syntax pass
 * (safetensors_json.c), then a schema walk (here) that may assume
 * well-formed input.  Neither builds a JSON tree.  The writer is
 * safetensors_write.c.
 */
#include "safetensors_json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HEADER 100000000u /* the reference reader's HeaderTooLarge limit */

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [SR_ST_BOOL] = {"BOOL", 1},       [SR_ST_U8] = {"U8", 1},
    [SR_ST_I8] = {"I8", 1},           [SR_ST_F8_E5M2] = {"F8_E5M2", 1},
    [SR_ST_F8_E4M3] = {"F8_E4M3", 1}, [SR_ST_I16] = {"I16", 2},
    [SR_ST_U16] = {"U16", 2},         [SR_ST_F16] = {"F16", 2},
    [SR_ST_BF16] = {"BF16", 2},       [SR_ST_I32] = {"I32", 4},
    [SR_ST_U32] = {"U32", 4},         [SR_ST_F32] = {"F32", 4},
    [SR_ST_F64] = {"F64", 8},         [SR_ST_I64] = {"I64", 8},
    [SR_ST_U64] = {"U64", 8},
};
#define NDTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

const char *sr_st_dtype_name(sr_st_dtype t)
{
    return (int)t >= 0 && (int)t < NDTYPES ? dtypes[t].name : "?";
}

/* ---- header schema ------------------------------------------------------- */

/* Room for element n: the array, possibly moved, or NULL (the old one
 * still valid).  The 100 MB header bounds n far below INT_MAX. */
static void *grow(void *v, int n, int *cap, size_t elsize)
{
    if (n < *cap)
        return v;
    int ncap = *cap ? *cap * 2 : 16;
    void *q = realloc(v, (size_t)ncap * elsize);
    if (q)
        *cap = ncap;
    return q;
}

static sr_status nomem(const jp *p)
{
    return sr_err(p->err, SR_ERUN, "%s: out of memory reading the header", p->path);
}

static sr_status parse_shape(jp *p, sr_st_entry *e)
{
    const char *key = e->name;
    char q[ST_KEYLEN];
    if (peek(p) != '[')
        return sr_err(p->err, SR_ERUN, "%s: shape must be a list of integers (key '%s')",
                      p->path, st_quote(q, key));
    p->i++;
    ws(p);
    if (peek(p) == ']') {
        p->i++;
        return SR_OK;
    }
    for (;;) {
        uint64_t v = 0;
        ws(p);
        int r = st_json_uint(p, &v);
        if (r == ST_NUM_NEG)
            return sr_err(p->err, SR_ERUN, "%s: negative dimension in shape (key '%s')",
                          p->path, st_quote(q, key));
        if (r == ST_NUM_BIG || (r == ST_NUM_OK && v > INT64_MAX))
            return sr_err(p->err, SR_ERUN, "%s: shape overflow: dimension too large (key '%s')",
                          p->path, st_quote(q, key));
        if (r != ST_NUM_OK)
            return sr_err(p->err, SR_ERUN,
                          "%s: shape must be a list of non-negative integers (key '%s')",
                          p->path, st_quote(q, key));
        if (e->shape.ndim == SR_MAXDIM)
            return sr_err(p->err, SR_ERUN, "%s: shape has more than %d dimensions (key '%s')",
                          p->path, SR_MAXDIM, st_quote(q, key));
        e->shape.d[e->shape.ndim++] = (int64_t)v;
        ws(p);
        if (peek(p) == ']') {
            p->i++;
            return SR_OK;
        }
        p->i++; /* ',' */
    }
}

static sr_status parse_offsets(jp *p, sr_st_entry *e)
{
    const char *key = e->name;
    char q[ST_KEYLEN];
    uint64_t v[2];
    if (peek(p) != '[')
        goto bad;
    p->i++;
    for (int k = 0; k < 2; k++) {
        ws(p);
        int r = st_json_uint(p, &v[k]);
        if (r == ST_NUM_BIG || (r == ST_NUM_OK && v[k] > SIZE_MAX))
            return sr_err(p->err, SR_ERUN, "%s: data offset too large (key '%s')", p->path,
                          st_quote(q, key));
        if (r != ST_NUM_OK)
            goto bad;
        ws(p);
        if (peek(p) != (k ? ']' : ','))
            goto bad;
        p->i++;
    }
    e->begin = (size_t)v[0];
    e->end = (size_t)v[1];
    return SR_OK;
bad:
    return sr_err(p->err, SR_ERUN,
                  "%s: data_offsets must be [begin, end], two non-negative integers (key '%s')",
                  p->path, st_quote(q, key));
}

static sr_status parse_entry(jp *p, sr_st_entry *e)
{
    static const char *const field[] = {"dtype", "shape", "data_offsets"};
    char q[ST_KEYLEN], qf[ST_KEYLEN];
    int seen[3] = {0, 0, 0};
    sr_status rc = SR_OK;
    if (peek(p) != '{')
        return sr_err(p->err, SR_ERUN, "%s: tensor entry must be an object (key '%s')",
                      p->path, st_quote(q, e->name));
    p->i++;
    ws(p);
    while (peek(p) == '"') {
        char *f = st_json_string(p);
        if (!f)
            return nomem(p);
        int k = 0;
        while (k < 3 && strcmp(f, field[k]) != 0)
            k++;
        if (k == 3)
            rc = sr_err(p->err, SR_ERUN, "%s: unexpected field '%s' in tensor entry (key '%s')",
                        p->path, st_quote(qf, f), st_quote(q, e->name));
        else if (seen[k]++)
            rc = sr_err(p->err, SR_ERUN, "%s: duplicate field '%s' (key '%s')", p->path,
                        field[k], st_quote(q, e->name));
        free(f);
        if (rc)
            return rc;
        ws(p);
        p->i++; /* ':' */
        ws(p);
        if (k == 0) {
            if (peek(p) != '"')
                return sr_err(p->err, SR_ERUN, "%s: dtype must be a string (key '%s')",
                              p->path, st_quote(q, e->name));
            char *d = st_json_string(p);
            if (!d)
                return nomem(p);
            int t = 0;
            while (t < NDTYPES && strcmp(d, dtypes[t].name) != 0)
                t++;
            if (t < NDTYPES)
                e->dtype = (sr_st_dtype)t;
            else
                rc = sr_err(p->err, SR_ERUN, "%s: unknown dtype '%s' (key '%s')", p->path,
                            st_quote(qf, d), st_quote(q, e->name));
            free(d);
        } else if (k == 1) {
            rc = parse_shape(p, e);
        } else {
            rc = parse_offsets(p, e);
        }
        if (rc)
            return rc;
        ws(p);
        if (peek(p) == ',') {
            p->i++;
            ws(p);
        }
    }
    p->i++; /* '}' */
    for (int k = 0; k < 3; k++)
        if (!seen[k])
            return sr_err(p->err, SR_ERUN, "%s: missing field '%s' (key '%s')", p->path,
                          field[k], st_quote(q, e->name));

    if (e->end < e->begin)
        return sr_err(p->err, SR_ERUN,
                      "%s: end offset before begin offset (key '%s', offsets [%zu, %zu])",
                      p->path, st_quote(q, e->name), e->begin, e->end);
    /* Multiply in file order, as the reference reader does, so the same
     * shapes overflow. */
    size_t bytes = 1;
    for (int k = 0; k < e->shape.ndim; k++)
        if (!sr_mul_ok(bytes, (size_t)e->shape.d[k], &bytes))
            goto overflow;
    if (!sr_mul_ok(bytes, dtypes[e->dtype].size, &bytes))
        goto overflow;
    /* Stricter than the reference ([2^62, 0] passes there): a tensor that
     * validates must also be loadable. */
    if (sr_shape_numel(&e->shape) < 0)
        goto overflow;
    if (e->end - e->begin != bytes) {
        char s[256];
        return sr_err(p->err, SR_ERUN,
                      "%s: data size does not match dtype and shape: %s %s needs %zu bytes "
                      "(key '%s', offsets [%zu, %zu] hold %zu)",
                      p->path, dtypes[e->dtype].name, sr_shape_str(&e->shape, s, sizeof s),
                      bytes, st_quote(q, e->name), e->begin, e->end, e->end - e->begin);
    }
    return SR_OK;
overflow:;
    char s[256];
    return sr_err(p->err, SR_ERUN, "%s: shape overflow: %s %s is too many bytes (key '%s')",
                  p->path, dtypes[e->dtype].name, sr_shape_str(&e->shape, s, sizeof s),
                  st_quote(q, e->name));
}

static sr_status parse_meta(jp *p, sr_safetensors *st)
{
    char q[ST_KEYLEN];
    int capk = 0, capv = 0;
    if (peek(p) == 'n') {
        p->i += 4; /* null: the reference reader treats it as absent */
        return SR_OK;
    }
    if (peek(p) != '{')
        return sr_err(p->err, SR_ERUN, "%s: __metadata__ must be an object of strings",
                      p->path);
    p->i++;
    ws(p);
    while (peek(p) == '"') {
        char **mk = grow(st->meta_key, st->nmeta, &capk, sizeof *mk);
        if (mk)
            st->meta_key = mk;
        char **mv = mk ? grow(st->meta_val, st->nmeta, &capv, sizeof *mv) : NULL;
        if (!mv)
            return nomem(p);
        st->meta_val = mv;
        char *k = st_json_string(p);
        if (!k)
            return nomem(p);
        st->meta_key[st->nmeta] = k;
        st->meta_val[st->nmeta] = NULL;
        st->nmeta++;
        ws(p);
        p->i++; /* ':' */
        ws(p);
        if (peek(p) != '"')
            return sr_err(p->err, SR_ERUN, "%s: __metadata__ value is not a string (key '%s')",
                          p->path, st_quote(q, k));
        if (!(st->meta_val[st->nmeta - 1] = st_json_string(p)))
            return nomem(p);
        ws(p);
        if (peek(p) == ',') {
            p->i++;
            ws(p);
        }
    }
    p->i++; /* '}' */
    int failed;
    const char *dup = st_find_dup(st->meta_key, st->nmeta, &failed);
    if (failed)
        return nomem(p);
    if (dup)
        return sr_err(p->err, SR_ERUN, "%s: duplicate key '%s' in __metadata__", p->path,
                      st_quote(q, dup));
    return SR_OK;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const sr_st_entry *)a)->name, ((const sr_st_entry *)b)->name);
}

/* Name order is what safetensors' keys() lists, and lets sr_st_find
 * bisect. */
static void sort_by_name(sr_safetensors *st)
{
    if (st->n > 1)
        qsort(st->t, (size_t)st->n, sizeof *st->t, cmp_name);
}

static sr_status parse_top(jp *p, sr_safetensors *st)
{
    char q[ST_KEYLEN];
    int cap = 0, have_meta = 0;
    sr_status rc;
    p->i = 1; /* past the '{' the caller checked */
    ws(p);
    while (peek(p) == '"') {
        char *key = st_json_string(p);
        if (!key)
            return nomem(p);
        ws(p);
        p->i++; /* ':' */
        ws(p);
        if (strcmp(key, "__metadata__") == 0) {
            free(key);
            if (have_meta++)
                return sr_err(p->err, SR_ERUN, "%s: duplicate key '__metadata__'", p->path);
            rc = parse_meta(p, st);
        } else {
            sr_st_entry *t = grow(st->t, st->n, &cap, sizeof *t);
            if (!t) {
                free(key);
                return nomem(p);
            }
            st->t = t;
            sr_st_entry *e = &st->t[st->n++];
            memset(e, 0, sizeof *e);
            e->name = key;
            rc = parse_entry(p, e);
        }
        if (rc)
            return rc;
        ws(p);
        if (peek(p) == ',') {
            p->i++;
            ws(p);
        }
    }

    sort_by_name(st);
    for (int k = 1; k < st->n; k++)
        if (strcmp(st->t[k - 1].name, st->t[k].name) == 0)
            return sr_err(p->err, SR_ERUN, "%s: duplicate key '%s'", p->path,
                          st_quote(q, st->t[k].name));
    return SR_OK;
}

static int cmp_offsets(const void *a, const void *b)
{
    const sr_st_entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name); /* only for a deterministic message */
}

/* The tensors, in offset order, must tile the data block exactly. */
static sr_status check_layout(sr_safetensors *st, char *err)
{
    char q[ST_KEYLEN], qp[ST_KEYLEN];
    const char *path = st->path;
    size_t pos = 0;
    if (st->n > 1)
        qsort(st->t, (size_t)st->n, sizeof *st->t, cmp_offsets);
    for (int k = 0; k < st->n; k++) {
        const sr_st_entry *e = &st->t[k];
        if (e->begin == pos) {
            pos = e->end;
            continue;
        }
        if (k == 0)
            return sr_err(err, SR_ERUN,
                          "%s: tensor data does not start at offset 0 (key '%s', offsets "
                          "[%zu, %zu])",
                          path, st_quote(q, e->name), e->begin, e->end);
        if (e->begin > pos)
            return sr_err(err, SR_ERUN,
                          "%s: hole in the data: bytes [%zu, %zu) belong to no tensor (key "
                          "'%s', offsets [%zu, %zu])",
                          path, pos, e->begin, st_quote(q, e->name), e->begin, e->end);
        return sr_err(err, SR_ERUN,
                      "%s: tensor data overlaps that of '%s', which ends at %zu (key '%s', "
                      "offsets [%zu, %zu])",
                      path, st_quote(qp, st->t[k - 1].name), pos, st_quote(q, e->name), e->begin,
                      e->end);
    }
    if (pos == st->datalen) {
        sort_by_name(st);
        return SR_OK;
    }
    if (st->n == 0)
        return sr_err(err, SR_ERUN, "%s: %zu bytes of data but no tensors", path, st->datalen);
    const sr_st_entry *e = &st->t[st->n - 1];
    if (pos > st->datalen)
        return sr_err(err, SR_ERUN,
                      "%s: tensor data runs past the end of the file, whose data block is "
                      "%zu bytes (key '%s', offsets [%zu, %zu])",
                      path, st->datalen, st_quote(q, e->name), e->begin, e->end);
    return sr_err(err, SR_ERUN,
                  "%s: %zu unexpected bytes after the last tensor's data (key '%s', offsets "
                  "[%zu, %zu], data block is %zu bytes)",
                  path, st->datalen - pos, st_quote(q, e->name), e->begin, e->end, st->datalen);
}

/* Validates buf as a whole file; st->path is already set. */
static sr_status parse_image(sr_safetensors *st, const unsigned char *buf, size_t len,
                             char *err)
{
    const char *path = st->path;
    if (len == 0)
        return sr_err(err, SR_ERUN, "%s: empty file, not a safetensors file", path);
    if (len < 8)
        return sr_err(err, SR_ERUN,
                      "%s: file too short (%zu bytes) for the 8-byte header length", path, len);
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--)
        n = n << 8 | buf[k];
    if (n > MAX_HEADER)
        return sr_err(err, SR_ERUN,
                      "%s: header length %llu exceeds the %u-byte limit (not a safetensors "
                      "file?)",
                      path, (unsigned long long)n, MAX_HEADER);
    if (n > len - 8)
        return sr_err(err, SR_ERUN,
                      "%s: header length %llu runs past the end of the file (%zu bytes)", path,
                      (unsigned long long)n, len);
    jp p = {buf + 8, (size_t)n, 0, path, err};
    if (n == 0 || p.s[0] != '{')
        return sr_err(err, SR_ERUN,
                      "%s: header does not start with '{' (not a safetensors file?)", path);
    size_t bad = st_utf8_check(p.s, p.n);
    if (bad < p.n)
        return sr_err(err, SR_ERUN, "%s: header is not valid UTF-8 (byte %zu)", path, bad);
    sr_status rc = st_json_syntax(&p);
    if (rc)
        return rc;
    st->data = p.s + p.n;
    st->datalen = len - 8 - p.n;
    if ((rc = parse_top(&p, st)))
        return rc;
    return check_layout(st, err);
}

static sr_status set_path(sr_safetensors *st, const char *name, char *err)
{
    memset(st, 0, sizeof *st);
    st->path = sr_strdup(name ? name : "<buffer>");
    return st->path ? SR_OK : sr_err(err, SR_ERUN, "%s: out of memory", name ? name : "<buffer>");
}

sr_status sr_st_parse(sr_safetensors *st, const void *buf, size_t len, const char *name,
                      char *err)
{
    sr_status rc = set_path(st, name, err);
    if (!rc && (rc = parse_image(st, buf, len, err)))
        sr_st_close(st);
    return rc;
}

sr_status sr_st_open(sr_safetensors *st, const char *path, char *err)
{
    sr_status rc = set_path(st, path, err);
    if (rc)
        return rc;
    /* O_NONBLOCK: opening a FIFO must not hang before fstat can reject it */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat sb;
    if (fd < 0) {
        rc = sr_err(err, SR_ERUN, "%s: cannot open: %s", path, strerror(errno));
    } else if (fstat(fd, &sb) != 0) {
        rc = sr_err(err, SR_ERUN, "%s: cannot stat: %s", path, strerror(errno));
    } else if (S_ISDIR(sb.st_mode)) {
        rc = sr_err(err, SR_ERUN, "%s: is a directory, not a safetensors file", path);
    } else if (!S_ISREG(sb.st_mode)) {
        /* mmap needs a regular file; a pipe would also hide truncation */
        rc = sr_err(err, SR_ERUN, "%s: not a regular file (weights must be a file on disk)",
                    path);
    } else if (sb.st_size == 0) {
        rc = sr_err(err, SR_ERUN, "%s: empty file, not a safetensors file", path);
    } else if ((uint64_t)sb.st_size > SIZE_MAX) {
        rc = sr_err(err, SR_ERUN, "%s: file too large to map", path);
    } else {
        /* writable but private: parameters that view the mapping (state.c)
         * may be changed in place (Embedding's max_norm renormalises rows)
         * without touching the file */
        void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            rc = sr_err(err, SR_ERUN, "%s: cannot map: %s", path, strerror(errno));
        } else {
            st->map = m;
            st->maplen = (size_t)sb.st_size;
            rc = parse_image(st, m, st->maplen, err);
        }
    }
    if (fd >= 0)
        close(fd);
    if (rc)
        sr_st_close(st);
    return rc;
}

void sr_st_close(sr_safetensors *st)
{
    for (int k = 0; k < st->n; k++)
        free(st->t[k].name);
    for (int k = 0; k < st->nmeta; k++) {
        free(st->meta_key[k]);
        free(st->meta_val[k]);
    }
    free(st->t);
    free(st->meta_key);
    free(st->meta_val);
    free((char *)st->path);
    if (st->map)
        munmap(st->map, st->maplen);
    memset(st, 0, sizeof *st);
}

const sr_st_entry *sr_st_find(const sr_safetensors *st, const char *name)
{
    sr_st_entry key;
    key.name = (char *)name;
    return st->n ? bsearch(&key, st->t, (size_t)st->n, sizeof *st->t, cmp_name) : NULL;
}

const char *sr_st_meta(const sr_safetensors *st, const char *key)
{
    for (int k = 0; k < st->nmeta; k++)
        if (strcmp(st->meta_key[k], key) == 0)
            return st->meta_val[k];
    return NULL;
}

/* ---- loading ------------------------------------------------------------- */

/* File data has no alignment guarantee (the header length is arbitrary), so
 * every element is read through memcpy. */
static uint16_t rd16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

sr_status sr_st_load(const sr_safetensors *st, const sr_st_entry *e, sr_dtype want,
                     sr_tensor *out, char *err)
{
    char q[ST_KEYLEN];
    const char *dn = sr_st_dtype_name(e->dtype);
    sr_st_dtype dt = e->dtype;
    int is_float = dt == SR_ST_F16 || dt == SR_ST_BF16 || dt == SR_ST_F32 || dt == SR_ST_F64;
    memset(out, 0, sizeof *out);
    if (dt == SR_ST_F8_E5M2 || dt == SR_ST_F8_E4M3)
        return sr_err(err, SR_ERUN, "%s: unsupported dtype %s (key '%s')", st->path, dn,
                      st_quote(q, e->name));
    if (want == SR_F32 && !is_float)
        return sr_err(err, SR_ERUN,
                      "%s: expected floating-point data, found integer dtype %s (key '%s')",
                      st->path, dn, st_quote(q, e->name));
    if (want == SR_I64 && is_float)
        return sr_err(err, SR_ERUN,
                      "%s: expected integer data, found floating-point dtype %s (key '%s')",
                      st->path, dn, st_quote(q, e->name));
    if (want != SR_F32 && want != SR_I64)
        return sr_err(err, SR_ERUN, "%s: bad target dtype (key '%s')", st->path,
                      st_quote(q, e->name));

    char aerr[SR_ERRLEN];
    if (sr_tensor_alloc(out, &e->shape, want, aerr))
        return sr_err(err, SR_ERUN, "%s: %s (key '%s')", st->path, aerr, st_quote(q, e->name));
    const unsigned char *src = st->data + e->begin;
    size_t size = dtypes[dt].size, n = (e->end - e->begin) / size;
    float *f = out->data;
    int64_t *l = out->data;
    if (dt == SR_ST_F32 || dt == SR_ST_I64) {
        if (n)
            memcpy(out->data, src, n * size);
        return SR_OK;
    }
    for (size_t k = 0; k < n; k++, src += size) {
        switch (dt) {
        case SR_ST_F16: f[k] = sr_half_to_float(rd16(src)); break;
        case SR_ST_BF16: f[k] = sr_bf16_to_float(rd16(src)); break;
        case SR_ST_F64: {
            double d;
            memcpy(&d, src, 8);
            f[k] = (float)d;
            break;
        }
        case SR_ST_BOOL: l[k] = *src != 0; break;
        case SR_ST_U8: l[k] = *src; break;
        case SR_ST_I8: l[k] = (int8_t)*src; break;
        case SR_ST_I16: l[k] = (int16_t)rd16(src); break;
        case SR_ST_U16: l[k] = rd16(src); break;
        case SR_ST_I32: l[k] = (int32_t)rd32(src); break;
        case SR_ST_U32: l[k] = rd32(src); break;
        case SR_ST_U64:
            if (rd64(src) > INT64_MAX) {
                sr_tensor_free(out);
                return sr_err(err, SR_ERUN,
                              "%s: U64 value %llu at element %zu does not fit int64 (key '%s')",
                              st->path, (unsigned long long)rd64(src), k, st_quote(q, e->name));
            }
            l[k] = (int64_t)rd64(src);
            break;
        default: break; /* excluded above */
        }
    }
    return SR_OK;
}

