/*
 * npy.c - NumPy .npy records; npy.h says what is accepted.
 *
 * The header is a Python dict literal.  Rather than evaluate Python, a small
 * strict parser accepts exactly the literals NumPy and its friends write
 * (any key order, either quote style, optional trailing commas) and names
 * the offending byte of anything else.
 */
#include "npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Records are read and written with memcpy, so the host byte order must be
 * the file's. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c assumes a little-endian host"
#endif
_Static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE float sizes");

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_HEADER (1L << 20)   /* NumPy itself stops at 10000 by default */
#define NPY_ALIGN 64                /* NumPy >= 1.24 aligns data to 64 bytes */
#define NPY_GROWTH_DIGITS 21        /* NumPy's spare room for growing shape[0] */
#define NPY_STAGE 16384             /* conversion buffer; on the stack, so
                                       kept small enough for worker threads */

static const char *sname(const sr_stream *s)
{
    return s->name ? s->name : "<stream>";
}

int sr_npy_is_magic(const unsigned char *b, size_t n)
{
    return n >= NPY_MAGIC_LEN && memcmp(b, NPY_MAGIC, NPY_MAGIC_LEN) == 0;
}

/* ---- header dict parser ------------------------------------------------ */

typedef struct {
    const unsigned char *p;
    size_t n, i;
    int py2_long;       /* v1/v2 headers from Python 2 may write 3L */
    const char *name;
    long long base;     /* stream offset of p[0] */
    char *err;
} hparse;

__attribute__((format(printf, 3, 4)))
static sr_status perr(const hparse *hp, size_t at, const char *fmt, ...)
{
    char msg[SR_ERRLEN / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sr_err(hp->err, SR_ERUN, "%s: offset %lld: %s", hp->name,
                  hp->base + (long long)at, msg);
}

/* Header text quoted back in a message: printable ASCII only, bounded. */
static const char *show(const unsigned char *s, size_t n, char *buf, size_t cap)
{
    size_t k = 0, max = cap - 4;
    for (size_t j = 0; j < n && k < max; j++)
        buf[k++] = (s[j] >= 0x20 && s[j] < 0x7f) ? (char)s[j] : '?';
    if (n > max)
        memcpy(buf + k, "...", 3), k += 3;
    buf[k] = '\0';
    return buf;
}

static void skip_ws(hparse *hp)
{
    while (hp->i < hp->n && (hp->p[hp->i] == ' ' || hp->p[hp->i] == '\t' ||
                             hp->p[hp->i] == '\r' || hp->p[hp->i] == '\n'))
        hp->i++;
}

static int peek(const hparse *hp)
{
    return hp->i < hp->n ? hp->p[hp->i] : -1;
}

static sr_status unexpected(const hparse *hp, const char *wanted)
{
    char b[48];
    if (hp->i >= hp->n)
        return perr(hp, hp->i, "header ends where %s was expected", wanted);
    return perr(hp, hp->i, "expected %s, found '%s'", wanted,
                show(hp->p + hp->i, 1, b, sizeof b));
}

/* A plain quoted string: no prefixes, escapes or triple quotes, which no
 * npy writer produces. */
static sr_status parse_string(hparse *hp, const unsigned char **s, size_t *len,
                              const char *what)
{
    int q = peek(hp);
    if (q != '\'' && q != '"')
        return unexpected(hp, what);
    size_t start = ++hp->i;
    while (hp->i < hp->n && hp->p[hp->i] != q) {
        unsigned char c = hp->p[hp->i];
        if (c == '\\')
            return perr(hp, hp->i, "escape sequences are not supported in header strings");
        if (c < 0x20)
            return perr(hp, start - 1, "unterminated string");
        hp->i++;
    }
    if (hp->i >= hp->n)
        return perr(hp, start - 1, "unterminated string");
    *s = hp->p + start;
    *len = hp->i - start;
    hp->i++;
    return SR_OK;
}

static const struct {
    char kind;
    int size;
    sr_npy_dtype dt;
} npy_types[] = {
    {'f', 2, SR_NPY_F16}, {'f', 4, SR_NPY_F32}, {'f', 8, SR_NPY_F64},
    {'i', 1, SR_NPY_I8}, {'i', 2, SR_NPY_I16}, {'i', 4, SR_NPY_I32}, {'i', 8, SR_NPY_I64},
    {'u', 1, SR_NPY_U8}, {'u', 2, SR_NPY_U16}, {'u', 4, SR_NPY_U32}, {'u', 8, SR_NPY_U64},
    {'b', 1, SR_NPY_BOOL},
};

static sr_status parse_descr(hparse *hp, sr_npy_header *h)
{
    size_t at = hp->i, n;
    const unsigned char *d;
    char b[64];
    int c = peek(hp);

    if (c == '[')
        return perr(hp, at, "descr is a list: structured arrays are not supported");
    if (c == '(')
        return perr(hp, at, "descr is a tuple: subarray dtypes are not supported");
    sr_status st = parse_string(hp, &d, &n, "a quoted descr string");
    if (st)
        return st;
    show(d, n, b, sizeof b);

    if (n < 2 || (d[0] != '<' && d[0] != '>' && d[0] != '=' && d[0] != '|'))
        return perr(hp, at, "unsupported descr '%s'", b);
    switch (d[1]) {
    case 'c': return perr(hp, at, "descr '%s' is complex, which is not supported", b);
    case 'O': return perr(hp, at, "descr '%s' is an object array, which is not supported", b);
    case 'S': case 'a': case 'U':
        return perr(hp, at, "descr '%s' is a string dtype, which is not supported", b);
    case 'V': return perr(hp, at, "descr '%s' is a raw void dtype, which is not supported", b);
    case 'M': case 'm':
        return perr(hp, at, "descr '%s' is a datetime/timedelta dtype, which is not supported", b);
    }

    int size = 0;
    for (size_t j = 2; j < n; j++) {
        if (d[j] < '0' || d[j] > '9' || size > 100)
            return perr(hp, at, "unsupported descr '%s'", b);
        size = size * 10 + (d[j] - '0');
    }
    if (d[1] == 'f' && size > 8)
        return perr(hp, at, "descr '%s' is a long double, which is not supported", b);
    size_t k;
    for (k = 0; k < sizeof npy_types / sizeof *npy_types; k++)
        if (npy_types[k].kind == d[1] && npy_types[k].size == size)
            break;
    if (k == sizeof npy_types / sizeof *npy_types)
        return perr(hp, at, "unsupported descr '%s'", b);
    /* Byte order means nothing for one-byte types, whatever is written. */
    if (size > 1 && d[0] == '>')
        return perr(hp, at, "descr '%s' is big-endian, which is not supported; "
                    "save with .astype('<%c%d')", b, d[1], size);
    if (size > 1 && d[0] == '|')
        return perr(hp, at, "descr '%s': byte order '|' is only valid for one-byte types", b);

    h->dtype = npy_types[k].dt;
    h->itemsize = size;
    h->is_integer = d[1] != 'f';
    return SR_OK;
}

static int is_ident(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

static int match_word(const hparse *hp, const char *w)
{
    size_t len = strlen(w);
    return hp->n - hp->i >= len && memcmp(hp->p + hp->i, w, len) == 0 &&
           (hp->i + len == hp->n || !is_ident(hp->p[hp->i + len]));
}

static sr_status parse_fortran(hparse *hp)
{
    if (match_word(hp, "False")) {
        hp->i += 5;
        return SR_OK;
    }
    if (match_word(hp, "True"))
        return perr(hp, hp->i, "Fortran-order arrays are not supported; "
                    "save with np.ascontiguousarray");
    return unexpected(hp, "True or False for fortran_order");
}

static sr_status parse_dim(hparse *hp, int64_t *out)
{
    size_t at = hp->i;
    if (peek(hp) == '-') {
        char b[32];
        size_t j = hp->i + 1;
        while (j < hp->n && j - at < 24 && hp->p[j] >= '0' && hp->p[j] <= '9')
            j++;
        return perr(hp, at, "negative dimension %s in shape",
                    show(hp->p + at, j - at, b, sizeof b));
    }
    if (peek(hp) < '0' || peek(hp) > '9')
        return unexpected(hp, "a dimension (non-negative integer)");
    int64_t v = 0;
    while (peek(hp) >= '0' && peek(hp) <= '9') {
        int digit = hp->p[hp->i] - '0';
        if (v > (INT64_MAX - digit) / 10)
            return perr(hp, at, "dimension too large for int64");
        v = v * 10 + digit;
        hp->i++;
    }
    if (hp->p[at] == '0' && hp->i - at > 1)
        return perr(hp, at, "dimension with leading zeros is not a Python integer");
    if (hp->py2_long && peek(hp) == 'L')
        hp->i++;
    if (is_ident(peek(hp)) || peek(hp) == '.')
        return perr(hp, at, "dimension is not an integer");
    *out = v;
    return SR_OK;
}

static sr_status parse_shape(hparse *hp, sr_shape *sh)
{
    sr_status st;
    if (peek(hp) == '[')
        return perr(hp, hp->i, "shape must be a tuple, not a list");
    if (peek(hp) != '(')
        return unexpected(hp, "a shape tuple");
    size_t open = hp->i++;
    sh->ndim = 0;
    skip_ws(hp);
    if (peek(hp) == ')') {
        hp->i++;
        return SR_OK;
    }
    for (;;) {
        if (sh->ndim == SR_MAXDIM)
            return perr(hp, hp->i, "shape has more than %d dimensions", SR_MAXDIM);
        if ((st = parse_dim(hp, &sh->d[sh->ndim])))
            return st;
        sh->ndim++;
        skip_ws(hp);
        if (peek(hp) == ',') {
            hp->i++;
            skip_ws(hp);
            if (peek(hp) == ')')
                break;
        } else if (peek(hp) == ')') {
            if (sh->ndim == 1)
                return perr(hp, open, "shape (N) is not a tuple; a 1-d shape is written (N,)");
            break;
        } else {
            return unexpected(hp, "',' or ')' in shape");
        }
    }
    hp->i++;
    return SR_OK;
}

enum { K_DESCR = 1, K_FORTRAN = 2, K_SHAPE = 4 };

static sr_status parse_dict(hparse *hp, sr_npy_header *h)
{
    static const char *const keys[] = {"descr", "fortran_order", "shape"};
    size_t shape_at = 0;
    unsigned seen = 0;
    sr_status st;

    skip_ws(hp);
    if (peek(hp) != '{')
        return unexpected(hp, "'{' starting the header dict");
    hp->i++;
    skip_ws(hp);
    while (peek(hp) != '}') {
        const unsigned char *k;
        size_t klen, at = hp->i;
        int key;
        char b[48];
        if ((st = parse_string(hp, &k, &klen, "a quoted key or '}'")))
            return st;
        for (key = 0; key < 3; key++)
            if (strlen(keys[key]) == klen && memcmp(keys[key], k, klen) == 0)
                break;
        if (key == 3)
            return perr(hp, at, "unknown key '%s' (expected 'descr', "
                        "'fortran_order' and 'shape')", show(k, klen, b, sizeof b));
        if (seen & (1u << key))
            return perr(hp, at, "duplicate key '%s'", keys[key]);
        seen |= 1u << key;
        skip_ws(hp);
        if (peek(hp) != ':')
            return unexpected(hp, "':' after the key");
        hp->i++;
        skip_ws(hp);
        if (key == 0)
            st = parse_descr(hp, h);
        else if (key == 1)
            st = parse_fortran(hp);
        else
            shape_at = hp->i, st = parse_shape(hp, &h->shape);
        if (st)
            return st;
        skip_ws(hp);
        if (peek(hp) == ',') {
            hp->i++;
            skip_ws(hp);
        } else if (peek(hp) != '}') {
            return unexpected(hp, "',' or '}' after a value");
        }
    }
    size_t close = hp->i++;
    skip_ws(hp);
    if (hp->i < hp->n)
        return perr(hp, hp->i, "unexpected text after the header dict");
    for (int key = 0; key < 3; key++)
        if (!(seen & (1u << key)))
            return perr(hp, close, "header has no '%s' key", keys[key]);

    int64_t numel = sr_shape_numel(&h->shape);
    if (numel < 0 || numel > INT64_MAX / h->itemsize) {
        char b[256];
        return perr(hp, shape_at, "shape %s has too many elements",
                    sr_shape_str(&h->shape, b, sizeof b));
    }
    h->numel = numel;
    return SR_OK;
}

/* ---- reading ------------------------------------------------------------ */

static sr_status read_error(const sr_stream *s, char *err)
{
    return sr_err(err, SR_ERUN, "%s: read error: %s", sname(s), strerror(errno));
}

sr_status sr_npy_read_header(sr_stream *s, sr_npy_header *h, int *got, char *err)
{
    const char *name = sname(s);
    long long start = s->consumed, r;
    unsigned char pre[12];

    *got = 0;
    memset(h, 0, sizeof *h);
    if ((r = sr_stream_read(s, pre, NPY_MAGIC_LEN)) < 0)
        return read_error(s, err);
    if (r == 0)
        return SR_OK;
    if (memcmp(pre, NPY_MAGIC, (size_t)r) != 0)
        return sr_err(err, SR_ERUN, "%s: offset %lld: not an npy record "
                      "(bad magic; expected \\x93NUMPY)", name, start);
    if (r < NPY_MAGIC_LEN)
        return sr_err(err, SR_ERUN, "%s: offset %lld: truncated npy magic "
                      "(%lld of %d bytes)", name, start, r, NPY_MAGIC_LEN);

    if ((r = sr_stream_read(s, pre + 6, 2)) < 0)
        return read_error(s, err);
    if (r < 2)
        return sr_err(err, SR_ERUN, "%s: offset %lld: truncated npy version",
                      name, start + 6);
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0)
        return sr_err(err, SR_ERUN, "%s: offset %lld: unsupported npy format "
                      "version %d.%d (supported: 1.0, 2.0, 3.0)",
                      name, start + 6, major, minor);

    size_t lensz = major == 1 ? 2 : 4;
    if ((r = sr_stream_read(s, pre + 8, lensz)) < 0)
        return read_error(s, err);
    if ((size_t)r < lensz)
        return sr_err(err, SR_ERUN, "%s: offset %lld: truncated npy header length",
                      name, start + 8);
    unsigned long hlen = pre[8] | (unsigned long)pre[9] << 8;
    if (lensz == 4)
        hlen |= (unsigned long)pre[10] << 16 | (unsigned long)pre[11] << 24;
    long long hstart = start + 8 + (long long)lensz;
    if (hlen > NPY_MAX_HEADER)
        return sr_err(err, SR_ERUN, "%s: offset %lld: header length %lu exceeds "
                      "the %ld-byte limit", name, start + 8, hlen, NPY_MAX_HEADER);
    long long left = sr_stream_remaining(s);
    if (left >= 0 && (long long)hlen > left)
        return sr_err(err, SR_ERUN, "%s: offset %lld: header length %lu runs past "
                      "the end of the stream (%lld bytes left)",
                      name, start + 8, hlen, left);

    unsigned char *buf = malloc(hlen ? hlen : 1);
    if (!buf)
        return sr_err(err, SR_ERUN, "%s: out of memory for a %lu-byte npy header",
                      name, hlen);
    sr_status st;
    if ((r = sr_stream_read(s, buf, hlen)) < 0) {
        st = read_error(s, err);
    } else if ((unsigned long)r < hlen) {
        st = sr_err(err, SR_ERUN, "%s: offset %lld: truncated npy header "
                    "(needs %lu bytes, got %lld)", name, hstart, hlen, r);
    } else {
        hparse hp = {buf, hlen, 0, major < 3, name, hstart, err};
        st = parse_dict(&hp, h);
    }
    free(buf);
    if (st)
        return st;
    /* When the stream's size is known, a record that cannot fit is refused
     * now, before anyone sizes a buffer by the header's shape: a 100-byte
     * file must not make its reader allocate what (1 << 40,) asks for. */
    long long need = (long long)h->numel * h->itemsize;
    left = sr_stream_remaining(s);
    if (left >= 0 && need > left)
        return sr_err(err, SR_ERUN, "%s: truncated data: record needs %lld bytes, got %lld "
                      "(data at offset %lld)", name, need, left, s->consumed);
    h->offset = s->consumed;
    *got = 1;
    return SR_OK;
}

#define EACH(T, EXPR)                                                      \
    for (size_t i = 0; i < n; i++) {                                      \
        T v;                                                              \
        memcpy(&v, b + i * sizeof v, sizeof v);                           \
        o[i] = EXPR;                                                      \
    }                                                                     \
    break

static void to_f32(const unsigned char *b, size_t n, sr_npy_dtype t, float *o)
{
    switch (t) {
    case SR_NPY_F16: EACH(uint16_t, sr_half_to_float(v));
    case SR_NPY_F32: EACH(float, v);
    case SR_NPY_F64: EACH(double, (float)v);
    case SR_NPY_I8: EACH(int8_t, (float)v);
    case SR_NPY_I16: EACH(int16_t, (float)v);
    case SR_NPY_I32: EACH(int32_t, (float)v);
    case SR_NPY_I64: EACH(int64_t, (float)v);
    case SR_NPY_U8: EACH(uint8_t, (float)v);
    case SR_NPY_U16: EACH(uint16_t, (float)v);
    case SR_NPY_U32: EACH(uint32_t, (float)v);
    case SR_NPY_U64: EACH(uint64_t, (float)v);
    case SR_NPY_BOOL: EACH(uint8_t, v != 0);
    }
}

/* Returns the index of the first value int64 cannot hold, or n. */
static size_t to_i64(const unsigned char *b, size_t n, sr_npy_dtype t, int64_t *o)
{
    switch (t) {
    case SR_NPY_I8: EACH(int8_t, v);
    case SR_NPY_I16: EACH(int16_t, v);
    case SR_NPY_I32: EACH(int32_t, v);
    case SR_NPY_I64: EACH(int64_t, v);
    case SR_NPY_U8: EACH(uint8_t, v);
    case SR_NPY_U16: EACH(uint16_t, v);
    case SR_NPY_U32: EACH(uint32_t, v);
    case SR_NPY_BOOL: EACH(uint8_t, v != 0);
    case SR_NPY_U64:
        for (size_t i = 0; i < n; i++) {
            uint64_t v;
            memcpy(&v, b + i * 8, 8);
            if (v > INT64_MAX)
                return i;
            o[i] = (int64_t)v;
        }
        break;
    default:    /* floats are refused before any byte is read */
        break;
    }
    return n;
}

static const char *npy_type_name(sr_npy_dtype t)
{
    static const char *const names[] = {
        "float16", "float32", "float64", "int8", "int16", "int32", "int64",
        "uint8", "uint16", "uint32", "uint64", "bool"};
    return names[t];
}

/* Reads exactly n bytes of the record or says how much of it there was. */
static sr_status read_data(sr_stream *s, const sr_npy_header *h, void *dst,
                           size_t n, char *err)
{
    long long r = sr_stream_read(s, dst, n);
    if (r < 0)
        return read_error(s, err);
    if ((size_t)r < n)
        return sr_err(err, SR_ERUN, "%s: truncated data: record needs %lld bytes, "
                      "got %lld", sname(s), (long long)h->numel * h->itemsize,
                      s->consumed - h->offset);
    return SR_OK;
}

sr_status sr_npy_read_elems(sr_stream *s, const sr_npy_header *h, size_t count,
                            sr_dtype dst, void *out, char *err)
{
    const char *name = sname(s);
    size_t isz = (size_t)h->itemsize;
    sr_status st;

    if (dst != SR_F32 && dst != SR_I64)
        return sr_err(err, SR_ERUN, "%s: npy data can be read only as float32 or int64",
                      name);
    if (isz == 0)
        return sr_err(err, SR_ERUN, "%s: no npy record header has been read", name);
    if (dst == SR_I64 && !h->is_integer)
        return sr_err(err, SR_ERUN, "%s: %s data where integers are needed "
                      "(Embedding input needs an integer dtype; save with "
                      ".astype(np.int64))", name, npy_type_name(h->dtype));
    /* The stream position says how far into the record we are, so the
     * header needs no mutable cursor. */
    long long done = (s->consumed - h->offset) / (long long)isz;
    if (s->consumed < h->offset || (unsigned long long)count >
                                   (unsigned long long)(h->numel - done))
        return sr_err(err, SR_ERUN, "%s: asked for %zu elements but the record has "
                      "%lld left", name, count, s->consumed < h->offset ? 0 : h->numel - done);

    if ((dst == SR_F32 && h->dtype == SR_NPY_F32) ||
        (dst == SR_I64 && h->dtype == SR_NPY_I64))
        return count ? read_data(s, h, out, count * isz, err) : SR_OK;

    unsigned char stage[NPY_STAGE];
    size_t per = NPY_STAGE / isz;
    for (size_t i = 0; i < count;) {
        size_t n = count - i < per ? count - i : per;
        if ((st = read_data(s, h, stage, n * isz, err)))
            return st;
        if (dst == SR_F32) {
            to_f32(stage, n, h->dtype, (float *)out + i);
        } else {
            size_t bad = to_i64(stage, n, h->dtype, (int64_t *)out + i);
            if (bad < n) {
                uint64_t v;
                memcpy(&v, stage + bad * 8, 8);
                return sr_err(err, SR_ERUN, "%s: offset %lld: uint64 value %llu "
                              "(element %lld) does not fit int64", name,
                              h->offset + (done + (long long)(i + bad)) * (long long)isz,
                              (unsigned long long)v, done + (long long)(i + bad));
            }
        }
        i += n;
    }
    return SR_OK;
}

/* ---- writing ------------------------------------------------------------ */

/* A short write (a full disk, `ulimit -f`) names the file when it is one of
 * sr_out's (every output seqrun writes is). */
static const char *out_label(FILE *f)
{
    const char *name = sr_out_name(f);
    return name ? name : "npy output";
}

static sr_status write_all(FILE *f, const void *p, size_t n, char *err)
{
    if (n && fwrite(p, 1, n, f) != n) {
        int e = errno ? errno : EIO;
        return sr_err(err, SR_ERUN, "%s: write failed: %s", out_label(f), strerror(e));
    }
    return SR_OK;
}

/* Byte for byte what numpy.save (1.24) writes for a C-order float32 array. */
sr_status sr_npy_write_header(FILE *f, const sr_shape *s, char *err)
{
    char buf[1024];
    _Static_assert(12 + 64 + SR_MAXDIM * 22 + NPY_GROWTH_DIGITS + NPY_ALIGN + 1 < 1024,
                   "header buffer too small for SR_MAXDIM");
    const size_t pre1 = NPY_MAGIC_LEN + 2 + 2;
    size_t n = pre1 + 2;  /* room for a v2 length; moved down for v1 */

    if (s->ndim < 0 || s->ndim > SR_MAXDIM)
        return sr_err(err, SR_ERUN, "%s: npy cannot hold a %d-dimensional array", out_label(f), s->ndim);
    n += (size_t)sprintf(buf + n, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int k = 0; k < s->ndim; k++) {
        if (s->d[k] < 0)
            return sr_err(err, SR_ERUN, "%s: npy cannot hold negative dimension %lld", out_label(f),
                          (long long)s->d[k]);
        n += (size_t)sprintf(buf + n, "%s%lld", k ? ", " : "", (long long)s->d[k]);
    }
    n += (size_t)sprintf(buf + n, "%s), }", s->ndim == 1 ? "," : "");
    if (s->ndim > 0) {
        int spaces = NPY_GROWTH_DIGITS - snprintf(NULL, 0, "%lld", (long long)s->d[0]);
        memset(buf + n, ' ', (size_t)spaces);
        n += (size_t)spaces;
    }

    size_t dict = n - (pre1 + 2);
    int v2 = 0;
    size_t pad = NPY_ALIGN - (pre1 + dict + 1) % NPY_ALIGN;
    if (dict + pad + 1 > 65535) {   /* unreachable within SR_MAXDIM, kept per spec */
        v2 = 1;
        pad = NPY_ALIGN - (pre1 + 2 + dict + 1) % NPY_ALIGN;
    }
    memset(buf + n, ' ', pad);
    n += pad;
    buf[n++] = '\n';

    size_t hlen = dict + pad + 1, off = v2 ? 0 : 2;
    unsigned char *p = (unsigned char *)buf + off;
    memcpy(p, NPY_MAGIC, NPY_MAGIC_LEN);
    p[6] = v2 ? 2 : 1;
    p[7] = 0;
    for (size_t k = 0; k < (v2 ? 4u : 2u); k++)
        p[8 + k] = (unsigned char)(hlen >> (8 * k));
    return write_all(f, p, n - off, err);
}

sr_status sr_npy_write_f32(FILE *f, const float *data, size_t n, char *err)
{
    return write_all(f, data, n * sizeof *data, err);
}

/* ---- whole records ------------------------------------------------------ */

/* Loads the first record of path; anything after it is ignored. */
sr_status sr_npy_load(const char *path, sr_tensor *t, char *err)
{
    sr_stream s;
    sr_npy_header h;
    int got, allocated = 0;

    memset(t, 0, sizeof *t);
    sr_status st = sr_stream_open(&s, path, err);
    if (st)
        return st;
    st = sr_npy_read_header(&s, &h, &got, err);
    if (!st && !got)
        st = sr_err(err, SR_ERUN, "%s: empty stream, no npy record", sname(&s));
    if (!st) {
        st = sr_tensor_alloc(t, &h.shape, h.is_integer ? SR_I64 : SR_F32, err);
        allocated = !st;
    }
    if (!st)
        st = sr_npy_read_elems(&s, &h, (size_t)h.numel, t->dtype, t->data, err);
    if (st && allocated)
        sr_tensor_free(t);
    sr_stream_close(&s);
    return st;
}

sr_status sr_npy_save(const char *path, const sr_tensor *t, char *err)
{
    sr_outfile o;
    if (t->dtype != SR_F32)
        return sr_err(err, SR_ERUN, "%s: only float32 tensors can be saved as npy", path);
    int64_t numel = sr_shape_numel(&t->shape);
    if (numel < 0)
        return sr_err(err, SR_ERUN, "%s: invalid tensor shape", path);
    sr_status st = sr_out_open(&o, path, err);
    if (st)
        return st;
    st = sr_npy_write_header(o.f, &t->shape, err);
    if (!st)
        st = sr_npy_write_f32(o.f, sr_f32(t), (size_t)numel, err);
    if (!st)
        return sr_out_commit(&o, err);
    sr_out_abort(&o);
    return st;
}
