/*
 * safetensors.c - a validating safetensors reader and a writer.
 *
 * The header is checked in two passes: a strict JSON syntax pass (so a
 * malformed file is reported as malformed JSON rather than as whatever field
 * the schema walk happened to reach), then a schema walk that may assume
 * well-formed input.  Neither builds a JSON tree.
 */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c copies little-endian file data straight into host memory"
#endif

#define MAX_HEADER 100000000u /* the reference reader's HeaderTooLarge limit */
#define MAX_DEPTH 64          /* bounds the syntax pass's recursion */
#define KEYLEN 96             /* longest key quoted in a message */

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

/* Keys come from the file: bound them and escape control bytes so that a
 * hostile header cannot garble the terminal through an error message. */
static const char *quote(char *buf, const char *s)
{
    size_t k = 0;
    for (; *s && k + 8 < KEYLEN; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            k += (size_t)snprintf(buf + k, KEYLEN - k, "\\x%02x", c);
        else
            buf[k++] = (char)c;
    }
    if (*s) /* cut at a character boundary so the message stays UTF-8 */
        while (k && ((unsigned char)buf[k - 1] & 0x80)) {
            int lead = ((unsigned char)buf[--k] & 0xc0) == 0xc0;
            if (lead)
                break;
        }
    strcpy(buf + k, *s ? "..." : "");
    return buf;
}

/* Index of the first byte that breaks strict UTF-8 (no overlongs, no
 * surrogates, nothing past U+10FFFF), or n. */
static size_t utf8_check(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        unsigned lo = 0x80, hi = 0xbf;
        int more;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return i;
        }
        if (n - i <= (size_t)more)
            return i;
        for (size_t k = 1; k <= (size_t)more; k++) {
            unsigned b = s[i + k];
            if (b < lo || b > hi)
                return i;
            lo = 0x80;
            hi = 0xbf;
        }
        i += (size_t)more + 1;
    }
    return n;
}

/* ---- JSON ---------------------------------------------------------------- */

typedef struct {
    const unsigned char *s;
    size_t n, i;
    const char *path;
    char *err;
} jp;

static int peek(const jp *p) { return p->i < p->n ? p->s[p->i] : -1; }

static void ws(jp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
                           p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int isdig(int c) { return c >= '0' && c <= '9'; }

static sr_status jerr(const jp *p, const char *what)
{
    return sr_err(p->err, SR_ERUN, "%s: invalid JSON in header at byte %zu: %s",
                  p->path, p->i, what);
}

/* Four hex digits at the cursor, or -1. */
static long hex4(jp *p)
{
    long v = 0;
    if (p->n - p->i < 4)
        return -1;
    for (int k = 0; k < 4; k++) {
        int c = p->s[p->i + (size_t)k], d;
        if (isdig(c))
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    p->i += 4;
    return v;
}

/* Reads one \u escape (the cursor just past the 'u') plus, for a high
 * surrogate, the low half that must follow; returns the code point or -1
 * with *why set. */
static long uescape(jp *p, const char **why)
{
    long u = hex4(p);
    *why = "bad \\u escape";
    if (u < 0)
        return -1;
    if (u >= 0xdc00 && u <= 0xdfff) {
        *why = "lone low surrogate in \\u escape";
        return -1;
    }
    if (u >= 0xd800 && u <= 0xdbff) {
        *why = "unpaired high surrogate in \\u escape";
        if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
            return -1;
        p->i += 2;
        long lo = hex4(p);
        if (lo < 0xdc00 || lo > 0xdfff)
            return -1;
        u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (u == 0) {
        /* names become C strings; an embedded NUL would alias another key */
        *why = "\\u0000 in a string is not supported";
        return -1;
    }
    return u;
}

static sr_status syn_string(jp *p)
{
    const char *why;
    p->i++;
    for (;;) {
        int c = peek(p);
        if (c < 0)
            return jerr(p, "unterminated string");
        if (c == '"') {
            p->i++;
            return SR_OK;
        }
        if (c < 0x20)
            return jerr(p, "control character in string");
        p->i++;
        if (c != '\\')
            continue;
        c = peek(p);
        if (c < 0)
            return jerr(p, "unterminated string");
        p->i++;
        if (c == 'u') {
            if (uescape(p, &why) < 0)
                return jerr(p, why);
        } else if (!memchr("\"\\/bfnrt", c, 8)) {
            p->i--;
            return jerr(p, "invalid escape in string");
        }
    }
}

static sr_status syn_number(jp *p)
{
    if (peek(p) == '-')
        p->i++;
    if (peek(p) == '0') {
        p->i++;
    } else if (isdig(peek(p))) {
        while (isdig(peek(p)))
            p->i++;
    } else {
        return jerr(p, "invalid number");
    }
    if (peek(p) == '.') {
        p->i++;
        if (!isdig(peek(p)))
            return jerr(p, "invalid number");
        while (isdig(peek(p)))
            p->i++;
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        p->i++;
        if (peek(p) == '+' || peek(p) == '-')
            p->i++;
        if (!isdig(peek(p)))
            return jerr(p, "invalid number");
        while (isdig(peek(p)))
            p->i++;
    }
    return SR_OK;
}

static sr_status syn_value(jp *p, int depth)
{
    sr_status rc;
    ws(p);
    int c = peek(p);
    if (c == '{' || c == '[') {
        int close = c == '{' ? '}' : ']';
        if (depth >= MAX_DEPTH)
            return jerr(p, "nesting too deep");
        p->i++;
        ws(p);
        if (peek(p) == close) {
            p->i++;
            return SR_OK;
        }
        for (;;) {
            if (close == '}') {
                ws(p);
                if (peek(p) != '"')
                    return jerr(p, "expected a string key");
                if ((rc = syn_string(p)))
                    return rc;
                ws(p);
                if (peek(p) != ':')
                    return jerr(p, "expected ':'");
                p->i++;
            }
            if ((rc = syn_value(p, depth + 1)))
                return rc;
            ws(p);
            if (peek(p) == ',') {
                p->i++;
            } else if (peek(p) == close) {
                p->i++;
                return SR_OK;
            } else {
                return jerr(p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
            }
        }
    }
    if (c == '"')
        return syn_string(p);
    if (c == '-' || isdig(c))
        return syn_number(p);
    static const char *const lit[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t len = strlen(lit[k]);
        if (p->n - p->i >= len && memcmp(p->s + p->i, lit[k], len) == 0) {
            p->i += len;
            return SR_OK;
        }
    }
    return jerr(p, c < 0 ? "unexpected end of header" : "unexpected character");
}

/* The schema pass below runs only on text the syntax pass accepted. */

static void put_utf8(char **o, long u)
{
    unsigned char *q = (unsigned char *)*o;
    if (u < 0x80) {
        *q++ = (unsigned char)u;
    } else if (u < 0x800) {
        *q++ = (unsigned char)(0xc0 | (u >> 6));
        *q++ = (unsigned char)(0x80 | (u & 0x3f));
    } else if (u < 0x10000) {
        *q++ = (unsigned char)(0xe0 | (u >> 12));
        *q++ = (unsigned char)(0x80 | ((u >> 6) & 0x3f));
        *q++ = (unsigned char)(0x80 | (u & 0x3f));
    } else {
        *q++ = (unsigned char)(0xf0 | (u >> 18));
        *q++ = (unsigned char)(0x80 | ((u >> 12) & 0x3f));
        *q++ = (unsigned char)(0x80 | ((u >> 6) & 0x3f));
        *q++ = (unsigned char)(0x80 | (u & 0x3f));
    }
    *o = (char *)q;
}

/* Decodes the string at the cursor into a new C string; NULL only on OOM.
 * No escape decodes to more bytes than it occupies, so the raw length
 * bounds the result. */
static char *get_string(jp *p)
{
    size_t end = p->i + 1;
    while (p->s[end] != '"')
        end += p->s[end] == '\\' ? 2 : 1;
    char *out = malloc(end - p->i), *o = out;
    if (!out)
        return NULL;
    const char *why;
    p->i++;
    while (p->s[p->i] != '"') {
        int c = p->s[p->i++];
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        c = p->s[p->i++];
        switch (c) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': put_utf8(&o, uescape(p, &why)); break;
        default: *o++ = (char)c; break;
        }
    }
    p->i++;
    *o = '\0';
    return out;
}

enum { NUM_OK, NUM_NEG, NUM_NOTINT, NUM_BIG, NUM_NOTNUM };

/* A non-negative integer without fraction or exponent, as the reference
 * reader's usize fields require. */
static int get_uint(jp *p, uint64_t *v)
{
    int c = peek(p);
    if (c != '-' && !isdig(c))
        return NUM_NOTNUM;
    size_t start = p->i;
    int neg = c == '-', big = 0;
    uint64_t x = 0;
    if (neg)
        p->i++;
    while (isdig(peek(p))) {
        unsigned d = (unsigned)(p->s[p->i++] - '0');
        if (x > (UINT64_MAX - d) / 10)
            big = 1;
        x = x * 10 + d;
    }
    if (peek(p) == '.' || peek(p) == 'e' || peek(p) == 'E')
        return NUM_NOTINT;
    if (neg)
        return p->i - start == 2 && x == 0 ? NUM_NOTINT : NUM_NEG;
    *v = x;
    return big ? NUM_BIG : NUM_OK;
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
    char q[KEYLEN];
    if (peek(p) != '[')
        return sr_err(p->err, SR_ERUN, "%s: shape must be a list of integers (key '%s')",
                      p->path, quote(q, key));
    p->i++;
    ws(p);
    if (peek(p) == ']') {
        p->i++;
        return SR_OK;
    }
    for (;;) {
        uint64_t v = 0;
        ws(p);
        int r = get_uint(p, &v);
        if (r == NUM_NEG)
            return sr_err(p->err, SR_ERUN, "%s: negative dimension in shape (key '%s')",
                          p->path, quote(q, key));
        if (r == NUM_BIG || (r == NUM_OK && v > INT64_MAX))
            return sr_err(p->err, SR_ERUN, "%s: shape overflow: dimension too large (key '%s')",
                          p->path, quote(q, key));
        if (r != NUM_OK)
            return sr_err(p->err, SR_ERUN,
                          "%s: shape must be a list of non-negative integers (key '%s')",
                          p->path, quote(q, key));
        if (e->shape.ndim == SR_MAXDIM)
            return sr_err(p->err, SR_ERUN, "%s: shape has more than %d dimensions (key '%s')",
                          p->path, SR_MAXDIM, quote(q, key));
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
    char q[KEYLEN];
    uint64_t v[2];
    if (peek(p) != '[')
        goto bad;
    p->i++;
    for (int k = 0; k < 2; k++) {
        ws(p);
        int r = get_uint(p, &v[k]);
        if (r == NUM_BIG || (r == NUM_OK && v[k] > SIZE_MAX))
            return sr_err(p->err, SR_ERUN, "%s: data offset too large (key '%s')", p->path,
                          quote(q, key));
        if (r != NUM_OK)
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
                  p->path, quote(q, key));
}

static sr_status parse_entry(jp *p, sr_st_entry *e)
{
    static const char *const field[] = {"dtype", "shape", "data_offsets"};
    char q[KEYLEN], qf[KEYLEN];
    int seen[3] = {0, 0, 0};
    sr_status rc = SR_OK;
    if (peek(p) != '{')
        return sr_err(p->err, SR_ERUN, "%s: tensor entry must be an object (key '%s')",
                      p->path, quote(q, e->name));
    p->i++;
    ws(p);
    while (peek(p) == '"') {
        char *f = get_string(p);
        if (!f)
            return nomem(p);
        int k = 0;
        while (k < 3 && strcmp(f, field[k]) != 0)
            k++;
        if (k == 3)
            rc = sr_err(p->err, SR_ERUN, "%s: unexpected field '%s' in tensor entry (key '%s')",
                        p->path, quote(qf, f), quote(q, e->name));
        else if (seen[k]++)
            rc = sr_err(p->err, SR_ERUN, "%s: duplicate field '%s' (key '%s')", p->path,
                        field[k], quote(q, e->name));
        free(f);
        if (rc)
            return rc;
        ws(p);
        p->i++; /* ':' */
        ws(p);
        if (k == 0) {
            if (peek(p) != '"')
                return sr_err(p->err, SR_ERUN, "%s: dtype must be a string (key '%s')",
                              p->path, quote(q, e->name));
            char *d = get_string(p);
            if (!d)
                return nomem(p);
            int t = 0;
            while (t < NDTYPES && strcmp(d, dtypes[t].name) != 0)
                t++;
            if (t < NDTYPES)
                e->dtype = (sr_st_dtype)t;
            else
                rc = sr_err(p->err, SR_ERUN, "%s: unknown dtype '%s' (key '%s')", p->path,
                            quote(qf, d), quote(q, e->name));
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
                          field[k], quote(q, e->name));

    if (e->end < e->begin)
        return sr_err(p->err, SR_ERUN,
                      "%s: end offset before begin offset (key '%s', offsets [%zu, %zu])",
                      p->path, quote(q, e->name), e->begin, e->end);
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
                      bytes, quote(q, e->name), e->begin, e->end, e->end - e->begin);
    }
    return SR_OK;
overflow:;
    char s[256];
    return sr_err(p->err, SR_ERUN, "%s: shape overflow: %s %s is too many bytes (key '%s')",
                  p->path, dtypes[e->dtype].name, sr_shape_str(&e->shape, s, sizeof s),
                  quote(q, e->name));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A string that occurs twice in v[0..n), or NULL; *failed on OOM. */
static const char *find_dup(char *const *v, int n, int *failed)
{
    const char *dup = NULL;
    char **s = malloc(((size_t)n + 1) * sizeof *s);
    *failed = !s;
    if (!s)
        return NULL;
    if (n > 1) {
        memcpy(s, v, (size_t)n * sizeof *s);
        qsort(s, (size_t)n, sizeof *s, cmp_str);
    }
    for (int k = 1; k < n && !dup; k++)
        if (strcmp(s[k - 1], s[k]) == 0)
            dup = s[k];
    free(s);
    return dup;
}

static sr_status parse_meta(jp *p, sr_safetensors *st)
{
    char q[KEYLEN];
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
        char *k = get_string(p);
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
                          p->path, quote(q, k));
        if (!(st->meta_val[st->nmeta - 1] = get_string(p)))
            return nomem(p);
        ws(p);
        if (peek(p) == ',') {
            p->i++;
            ws(p);
        }
    }
    p->i++; /* '}' */
    int failed;
    const char *dup = find_dup(st->meta_key, st->nmeta, &failed);
    if (failed)
        return nomem(p);
    if (dup)
        return sr_err(p->err, SR_ERUN, "%s: duplicate key '%s' in __metadata__", p->path,
                      quote(q, dup));
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
    char q[KEYLEN];
    int cap = 0, have_meta = 0;
    sr_status rc;
    p->i = 1; /* past the '{' the caller checked */
    ws(p);
    while (peek(p) == '"') {
        char *key = get_string(p);
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
                          quote(q, st->t[k].name));
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
    char q[KEYLEN], qp[KEYLEN];
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
                          path, quote(q, e->name), e->begin, e->end);
        if (e->begin > pos)
            return sr_err(err, SR_ERUN,
                          "%s: hole in the data: bytes [%zu, %zu) belong to no tensor (key "
                          "'%s', offsets [%zu, %zu])",
                          path, pos, e->begin, quote(q, e->name), e->begin, e->end);
        return sr_err(err, SR_ERUN,
                      "%s: tensor data overlaps that of '%s', which ends at %zu (key '%s', "
                      "offsets [%zu, %zu])",
                      path, quote(qp, st->t[k - 1].name), pos, quote(q, e->name), e->begin,
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
                      path, st->datalen, quote(q, e->name), e->begin, e->end);
    return sr_err(err, SR_ERUN,
                  "%s: %zu unexpected bytes after the last tensor's data (key '%s', offsets "
                  "[%zu, %zu], data block is %zu bytes)",
                  path, st->datalen - pos, quote(q, e->name), e->begin, e->end, st->datalen);
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
    size_t bad = utf8_check(p.s, p.n);
    if (bad < p.n)
        return sr_err(err, SR_ERUN, "%s: header is not valid UTF-8 (byte %zu)", path, bad);
    sr_status rc = syn_value(&p, 0);
    if (rc)
        return rc;
    ws(&p);
    if (p.i < p.n)
        return jerr(&p, "unexpected data after the JSON object");
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
    char q[KEYLEN];
    const char *dn = sr_st_dtype_name(e->dtype);
    sr_st_dtype dt = e->dtype;
    int is_float = dt == SR_ST_F16 || dt == SR_ST_BF16 || dt == SR_ST_F32 || dt == SR_ST_F64;
    memset(out, 0, sizeof *out);
    if (dt == SR_ST_F8_E5M2 || dt == SR_ST_F8_E4M3)
        return sr_err(err, SR_ERUN, "%s: unsupported dtype %s (key '%s')", st->path, dn,
                      quote(q, e->name));
    if (want == SR_F32 && !is_float)
        return sr_err(err, SR_ERUN,
                      "%s: expected floating-point data, found integer dtype %s (key '%s')",
                      st->path, dn, quote(q, e->name));
    if (want == SR_I64 && is_float)
        return sr_err(err, SR_ERUN,
                      "%s: expected integer data, found floating-point dtype %s (key '%s')",
                      st->path, dn, quote(q, e->name));
    if (want != SR_F32 && want != SR_I64)
        return sr_err(err, SR_ERUN, "%s: bad target dtype (key '%s')", st->path,
                      quote(q, e->name));

    char aerr[SR_ERRLEN];
    if (sr_tensor_alloc(out, &e->shape, want, aerr))
        return sr_err(err, SR_ERUN, "%s: %s (key '%s')", st->path, aerr, quote(q, e->name));
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
                              st->path, (unsigned long long)rd64(src), k, quote(q, e->name));
            }
            l[k] = (int64_t)rd64(src);
            break;
        default: break; /* excluded above */
        }
    }
    return SR_OK;
}

/* ---- writing ------------------------------------------------------------- */

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
    return utf8_check((const unsigned char *)s, n) == n;
}

sr_status sr_st_write(FILE *f, const sr_st_item *items, int n, const char *const *meta_kv,
                      int nmeta, char *err)
{
    char q[KEYLEN];
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
                          name ? quote(q, name) : "(null)");
        if (!t || (t->dtype != SR_F32 && t->dtype != SR_I64) || sr_shape_numel(&t->shape) < 0)
            return sr_err(err, SR_ERUN, "safetensors: invalid tensor (key '%s')",
                          quote(q, name));
    }
    /* The reader rejects duplicates, so refuse to write a file it cannot read. */
    if (!(names = malloc(((size_t)(n > nmeta ? n : nmeta) + 1) * sizeof *names)))
        return sr_err(err, SR_ERUN, "out of memory");
    int failed;
    for (int k = 0; k < n; k++)
        names[k] = (char *)items[k].name;
    const char *dup = find_dup(names, n, &failed);
    if (!dup && !failed) {
        for (int k = 0; k < nmeta; k++)
            names[k] = (char *)meta_kv[2 * k];
        dup = find_dup(names, nmeta, &failed);
    }
    free(names);
    if (failed)
        return sr_err(err, SR_ERUN, "out of memory");
    if (dup)
        return sr_err(err, SR_ERUN, "safetensors: duplicate key '%s'", quote(q, dup));

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
