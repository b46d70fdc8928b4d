/*
 * test_npy.c - unit tests for src/npy.c.
 *
 * Golden files come from tests/gen_npy_fixtures.py (real NumPy) and are
 * committed, so this runs without Python.  Usage: test_npy [FIXTURE_DIR],
 * default tests/fixtures/npy (run from the repository root).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npy.h"
#include "unit.h"

static const char *fixdir = "tests/fixtures/npy";

/* ---- helpers ------------------------------------------------------------ */

static unsigned char *slurp(const char *name, const char *ext, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s%s", fixdir, name, ext);
    FILE *f = fopen(path, "rb");
    unsigned char *p = NULL;
    *len = 0;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        rewind(f);
        p = malloc((size_t)n + 1);
        if (p && fread(p, 1, (size_t)n, f) == (size_t)n)
            *len = (size_t)n;
    }
    fclose(f);
    return p;
}

/* Appends one record with the given version and header dict to buf, padded
 * as NumPy pads; returns the new length. */
static size_t rec(unsigned char *buf, size_t at, int ver, const char *dict,
                  const void *data, size_t dlen)
{
    size_t pre = ver == 1 ? 10 : 12, n = strlen(dict);
    size_t hlen = n + 1 + (64 - (pre + n + 1) % 64) % 64;
    unsigned char *p = buf + at;
    memcpy(p, "\x93NUMPY", 6);
    p[6] = (unsigned char)ver;
    p[7] = 0;
    for (size_t k = 0; k < pre - 8; k++)
        p[8 + k] = (unsigned char)(hlen >> (8 * k));
    memcpy(p + pre, dict, n);
    memset(p + pre + n, ' ', hlen - n - 1);
    p[pre + hlen - 1] = '\n';
    if (dlen)
        memcpy(p + pre + hlen, data, dlen);
    return at + pre + hlen + dlen;
}

static unsigned char B[1 << 20];

/* Reads the header and all elements of the only record in mem as dst;
 * returns the first failing status with its message in err. */
static sr_status read_one(const void *mem, size_t len, sr_dtype dst, void *out,
                          size_t outcap, sr_npy_header *h, char *err)
{
    sr_stream s;
    sr_npy_header hh;
    int got;
    if (!h)
        h = &hh;
    err[0] = '\0';
    sr_stream_mem(&s, mem, len, "t.npy");
    sr_status st = sr_npy_read_header(&s, h, &got, err);
    if (!st && !got)
        st = sr_err(err, SR_ERUN, "no record");
    if (!st && (size_t)h->numel > outcap)
        st = sr_err(err, SR_ERUN, "test buffer too small");
    if (!st)
        st = sr_npy_read_elems(&s, h, (size_t)h->numel, dst, out, err);
    sr_stream_close(&s);
    return st;
}

static void expect_err(int line, const void *mem, size_t len, sr_dtype dst,
                       const char *want)
{
    char err[SR_ERRLEN];
    static float out[4096];
    sr_status st = read_one(mem, len, dst, out, 4096, NULL, err);
    CHECK(st == SR_ERUN, "line %d: expected SR_ERUN, got %d", line, st);
    CHECK(strstr(err, want) != NULL, "line %d: message '%s' lacks '%s'", line, err, want);
    CHECK(strncmp(err, "t.npy: ", 7) == 0, "line %d: message '%s' does not name the stream",
          line, err);
}

/* A one-record stream with this dict and data, expected to fail. */
#define BAD_DICT(dict, data, dlen, dst, want)                                \
    expect_err(__LINE__, B, rec(B, 0, 1, dict, data, dlen), dst, want)

static int same_f32(float a, float b)
{
    return memcmp(&a, &b, 4) == 0 || (isnan(a) && isnan(b));
}

static char *memwrite(const sr_shape *sh, const float *data, size_t n, size_t *len)
{
    char *p = NULL, err[SR_ERRLEN];
    FILE *f = open_memstream(&p, len);
    CHECK(sr_npy_write_header(f, sh, err) == SR_OK, "write header: %s", err);
    CHECK(sr_npy_write_f32(f, data, n, err) == SR_OK, "write data: %s", err);
    fclose(f);
    return p;
}

/* ---- tests -------------------------------------------------------------- */

static void test_magic(void)
{
    CHECK(sr_npy_is_magic((const unsigned char *)"\x93NUMPY\x01", 7), "magic");
    CHECK(!sr_npy_is_magic((const unsigned char *)"\x93NUMP", 5), "short magic");
    CHECK(!sr_npy_is_magic((const unsigned char *)"\x93NUMPx", 6), "wrong magic");
}

static void test_round_trip(void)
{
    static const struct { int nd; int64_t d[SR_MAXDIM]; } shapes[] = {
        {0, {0}}, {1, {5}}, {2, {2, 3}}, {2, {0, 4}}, {3, {2, 0, 3}},
        {8, {1, 2, 1, 2, 3, 1, 2, 2}}, {1, {5000}},
    };
    static float data[5000], back[5000];
    for (int i = 0; i < 5000; i++)
        data[i] = (float)i * 0.37f - 100.0f;
    data[1] = NAN;
    data[2] = -INFINITY;
    data[3] = -0.0f;

    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        sr_shape sh = sr_shape_make(shapes[k].nd, shapes[k].d);
        size_t n = (size_t)sr_shape_numel(&sh), len;
        char *file = memwrite(&sh, data, n, &len), err[SR_ERRLEN];
        sr_npy_header h;
        CHECK((len - n * 4) % 64 == 0, "shape %zu: header size %zu not 64-aligned", k,
              len - n * 4);
        CHECK(file[6] == 1 && file[len - n * 4 - 1] == '\n', "shape %zu: v1, newline", k);
        sr_status st = read_one(file, len, SR_F32, back, 5000, &h, err);
        CHECK(st == SR_OK, "shape %zu: %s", k, err);
        CHECK(sr_shape_eq(&h.shape, &sh), "shape %zu: shape differs", k);
        CHECK(h.dtype == SR_NPY_F32 && h.itemsize == 4 && !h.is_integer, "shape %zu: dtype", k);
        CHECK(h.numel == (int64_t)n && h.offset == (long long)(len - n * 4),
              "shape %zu: numel %lld offset %lld", k, (long long)h.numel, h.offset);
        int same = 1;
        for (size_t i = 0; i < n; i++)
            same &= same_f32(data[i], back[i]);
        CHECK(same, "shape %zu: values differ", k);
        free(file);
    }
}

static void test_save_load(void)
{
    char dir[] = "/tmp/test_npy_XXXXXX", path[64], err[SR_ERRLEN];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/a.npy", dir);

    sr_tensor t, u;
    int64_t d[] = {3, 2};
    sr_shape sh = sr_shape_make(2, d);
    CHECK(sr_tensor_alloc(&t, &sh, SR_F32, err) == SR_OK, "alloc: %s", err);
    for (int i = 0; i < 6; i++)
        sr_f32(&t)[i] = (float)i - 2.5f;
    CHECK(sr_npy_save(path, &t, err) == SR_OK, "save: %s", err);
    CHECK(sr_npy_load(path, &u, err) == SR_OK, "load: %s", err);
    CHECK(u.dtype == SR_F32 && sr_shape_eq(&u.shape, &sh), "loaded shape/dtype");
    CHECK(u.data && memcmp(u.data, t.data, 24) == 0, "loaded values");
    sr_tensor_free(&u);

    /* integer records load as I64 */
    int32_t iv[3] = {-4, 0, 7};
    size_t len = rec(B, 0, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }",
                     iv, sizeof iv);
    FILE *f = fopen(path, "wb");
    fwrite(B, 1, len, f);
    fclose(f);
    CHECK(sr_npy_load(path, &u, err) == SR_OK, "load i4: %s", err);
    CHECK(u.dtype == SR_I64 && sr_i64(&u)[0] == -4 && sr_i64(&u)[2] == 7, "i4 as I64");
    sr_tensor_free(&u);

    f = fopen(path, "wb");
    fclose(f);
    CHECK(sr_npy_load(path, &u, err) == SR_ERUN && strstr(err, "no npy record"),
          "empty file: %s", err);

    t.dtype = SR_I64;
    CHECK(sr_npy_save(path, &t, err) == SR_ERUN && strstr(err, "float32"), "save I64: %s", err);
    t.dtype = SR_F32;
    sr_tensor_free(&t);
    unlink(path);
    rmdir(dir);
}

/* Every committed fixture reads as NumPy says it should. */
static void test_fixtures(void)
{
    static const struct {
        const char *name;
        int nrec;
        const char *shapes;     /* sr_shape_str of each record, joined */
        int integer;
    } fx[] = {
        {"f64_2x3", 1, "[2, 3]", 0},
        {"f16_6", 1, "[6]", 0},
        {"i32_3x2", 1, "[3, 2]", 1},
        {"u8_4", 1, "[4]", 1},
        {"bool_3", 1, "[3]", 1},
        {"i64_2x2", 1, "[2, 2]", 1},
        {"f32_v2_2x2", 1, "[2, 2]", 0},
        {"f32_v3_3", 1, "[3]", 0},
        {"f32_0d", 1, "[]", 0},
        {"f32_empty_0x4", 1, "[0, 4]", 0},
        {"stream3", 3, "[2, 3][4][1]", -1},
        {"w_f32_5", 1, "[5]", 0},
        {"w_f32_2x3x4", 1, "[2, 3, 4]", 0},
        {"w_f32_0d", 1, "[]", 0},
        {"w_f32_big0", 1, "[123456789012, 0]", 0},
        {"w_f32_8d", 1, "[1, 2, 1, 2, 1, 2, 1, 0]", 0},
    };
    for (size_t k = 0; k < sizeof fx / sizeof *fx; k++) {
        size_t len, elen;
        unsigned char *file = slurp(fx[k].name, ".npy", &len);
        unsigned char *want = slurp(fx[k].name, ".f32", &elen);
        CHECK(file && want, "%s: fixture missing in %s", fx[k].name, fixdir);
        if (!file || !want) {
            free(file);
            free(want);
            continue;
        }
        sr_stream s;
        sr_npy_header h;
        char err[SR_ERRLEN], shapes[256] = "", sb[128];
        float vals[64];
        size_t nv = 0;
        int got, nrec = 0;
        sr_stream_mem(&s, file, len, fx[k].name);
        for (;;) {
            sr_status st = sr_npy_read_header(&s, &h, &got, err);
            CHECK(st == SR_OK, "%s: %s", fx[k].name, err);
            if (st || !got)
                break;
            nrec++;
            strcat(shapes, sr_shape_str(&h.shape, sb, sizeof sb));
            if (fx[k].integer >= 0)
                CHECK(h.is_integer == fx[k].integer, "%s: is_integer", fx[k].name);
            if (nv + (size_t)h.numel > 64)
                break;
            st = sr_npy_read_elems(&s, &h, (size_t)h.numel, SR_F32, vals + nv, err);
            CHECK(st == SR_OK, "%s: %s", fx[k].name, err);
            nv += (size_t)h.numel;
        }
        CHECK(nrec == fx[k].nrec, "%s: %d records", fx[k].name, nrec);
        CHECK(strcmp(shapes, fx[k].shapes) == 0, "%s: shapes %s", fx[k].name, shapes);
        CHECK(nv * 4 == elen, "%s: %zu values, expected %zu", fx[k].name, nv, elen / 4);
        for (size_t i = 0; i < nv && nv * 4 == elen; i++) {
            float e;
            memcpy(&e, want + 4 * i, 4);
            CHECK(same_f32(vals[i], e), "%s[%zu]: %g, expected %g", fx[k].name, i,
                  (double)vals[i], (double)e);
        }
        sr_stream_close(&s);
        free(file);
        free(want);
    }

    /* A few values spelled out, in case the .f32 files were regenerated
     * wrongly along with the reader. */
    float v[8];
    int64_t iv[8];
    char err[SR_ERRLEN];
    size_t len;
    unsigned char *p = slurp("f64_2x3", ".npy", &len);
    CHECK(p && read_one(p, len, SR_F32, v, 8, NULL, err) == SR_OK, "f64: %s", err);
    CHECK(v[0] == 1.5f && v[1] == -2.25f && v[3] == (float)(1.0 / 3) && v[5] == 4e10f,
          "f64 values");
    free(p);
    p = slurp("f16_6", ".npy", &len);
    CHECK(p && read_one(p, len, SR_F32, v, 8, NULL, err) == SR_OK, "f16: %s", err);
    CHECK(v[0] == 1.0f && v[1] == -2.5f && v[2] == 65504.0f && v[3] == ldexpf(1, -24) &&
          isinf(v[4]) && isnan(v[5]), "f16 values");
    free(p);
    p = slurp("i32_3x2", ".npy", &len);
    CHECK(p && read_one(p, len, SR_I64, iv, 8, NULL, err) == SR_OK, "i32: %s", err);
    CHECK(iv[0] == 0 && iv[1] == -1 && iv[2] == 2147483647 && iv[3] == -2147483648LL &&
          iv[5] == 16777217, "i32 as I64");
    free(p);
    p = slurp("bool_3", ".npy", &len);
    CHECK(p && read_one(p, len, SR_I64, iv, 8, NULL, err) == SR_OK, "bool: %s", err);
    CHECK(iv[0] == 1 && iv[1] == 0 && iv[2] == 1, "bool as I64");
    free(p);
    p = slurp("u8_4", ".npy", &len);
    CHECK(p && read_one(p, len, SR_I64, iv, 8, NULL, err) == SR_OK, "u8: %s", err);
    CHECK(iv[2] == 128 && iv[3] == 255, "u8 as I64");
    free(p);
}

/* The writer reproduces numpy.save byte for byte. */
static void test_writer_golden(void)
{
    static const char *names[] = {"w_f32_5", "w_f32_2x3x4", "w_f32_0d", "w_f32_big0",
                                  "w_f32_8d", "w_f32_pad64"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        size_t len, mlen;
        unsigned char *file = slurp(names[k], ".npy", &len);
        CHECK(file != NULL, "%s: fixture missing", names[k]);
        if (!file)
            continue;
        sr_stream s;
        sr_npy_header h;
        char err[SR_ERRLEN];
        int got;
        sr_stream_mem(&s, file, len, names[k]);
        CHECK(sr_npy_read_header(&s, &h, &got, err) == SR_OK && got, "%s: %s", names[k], err);
        const float *data = (const float *)(file + h.offset);  /* 64-aligned */
        char *mine = memwrite(&h.shape, data, (size_t)h.numel, &mlen);
        CHECK(mlen == len && memcmp(mine, file, len) == 0, "%s: writer output differs "
              "from numpy.save (%zu vs %zu bytes)", names[k], mlen, len);
        free(mine);
        sr_stream_close(&s);
        free(file);
    }
}

/* Every accepted dtype, converted to F32 and (when integral) to I64. */
static void test_dtypes(void)
{
    char dict[160], err[SR_ERRLEN];
    float f[4];
    int64_t i[4];
    struct {
        const char *descr;
        unsigned char raw[32];
        size_t size;
        float f[4];
        int64_t i[4];
        int integer;
    } c[] = {
        {"<f2", {0x00, 0x3c, 0x00, 0xc1, 0x01, 0x00, 0x00, 0x80}, 2,
         {1.0f, -2.5f, 5.9604645e-8f, -0.0f}, {0}, 0},
        {"<f4", {0}, 4, {0, 0, 0, 0}, {0}, 0},
        {"<f8", {0}, 8, {0, 0, 0, 0}, {0}, 0},
        {"|i1", {0x80, 0x7f, 0xff, 0x00}, 1, {-128, 127, -1, 0}, {-128, 127, -1, 0}, 1},
        {"<i1", {0x80, 0x7f, 0xff, 0x00}, 1, {-128, 127, -1, 0}, {-128, 127, -1, 0}, 1},
        {"<i2", {0x00, 0x80, 0xff, 0x7f, 0xff, 0xff, 2, 0}, 2,
         {-32768, 32767, -1, 2}, {-32768, 32767, -1, 2}, 1},
        {"<i4", {0, 0, 0, 0x80, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 3, 0, 0, 0}, 4,
         {-2147483648.0f, 2147483648.0f, -1, 3}, {INT32_MIN, INT32_MAX, -1, 3}, 1},
        {"<i8", {0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 4}, 8,
         {-9223372036854775808.0f, 9223372036854775808.0f, -1, 4},
         {INT64_MIN, INT64_MAX, -1, 4}, 1},
        {"|u1", {0, 1, 128, 255}, 1, {0, 1, 128, 255}, {0, 1, 128, 255}, 1},
        {"=u1", {0, 1, 128, 255}, 1, {0, 1, 128, 255}, {0, 1, 128, 255}, 1},
        {"<u2", {0xff, 0xff, 0, 0x80, 1, 0, 0, 0}, 2, {65535, 32768, 1, 0},
         {65535, 32768, 1, 0}, 1},
        {"<u4", {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x80, 5, 0, 0, 0, 0, 0, 0, 0}, 4,
         {4294967295.0f, 2147483648.0f, 5, 0}, {4294967295LL, 2147483648LL, 5, 0}, 1},
        {"<u8", {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 6}, 8,
         {9223372036854775808.0f, 6, 0, 0}, {INT64_MAX, 6, 0, 0}, 1},
        {"|b1", {1, 0, 1, 0}, 1, {1, 0, 1, 0}, {1, 0, 1, 0}, 1},
        {"=f4", {0}, 4, {0, 0, 0, 0}, {0}, 0},
    };
    /* floats whose bytes are easiest written from values */
    float f4[4] = {1.5f, -0.0f, INFINITY, 3e-39f};
    double f8[4] = {0.1, -1e300, 1e-50, 65536.25};
    memcpy(c[1].raw, f4, 16);
    memcpy(c[1].f, f4, 16);
    memcpy(c[14].raw, f4, 16);
    memcpy(c[14].f, f4, 16);
    memcpy(c[2].raw, f8, 32);
    for (int k = 0; k < 4; k++)
        c[2].f[k] = (float)f8[k];

    for (size_t k = 0; k < sizeof c / sizeof *c; k++) {
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (4,), }",
                 c[k].descr);
        size_t len = rec(B, 0, 1, dict, c[k].raw, 4 * c[k].size);
        sr_npy_header h;
        CHECK(read_one(B, len, SR_F32, f, 4, &h, err) == SR_OK, "%s: %s", c[k].descr, err);
        CHECK(h.itemsize == (int)c[k].size && h.is_integer == c[k].integer,
              "%s: itemsize %d is_integer %d", c[k].descr, h.itemsize, h.is_integer);
        for (int j = 0; j < 4; j++)
            CHECK(same_f32(f[j], c[k].f[j]), "%s[%d] as F32: %.9g, expected %.9g",
                  c[k].descr, j, (double)f[j], (double)c[k].f[j]);
        sr_status st = read_one(B, len, SR_I64, i, 4, NULL, err);
        if (!c[k].integer) {
            CHECK(st == SR_ERUN && strstr(err, "integer dtype"), "%s as I64: %s",
                  c[k].descr, err);
            continue;
        }
        CHECK(st == SR_OK, "%s as I64: %s", c[k].descr, err);
        for (int j = 0; j < 4; j++)
            CHECK(i[j] == c[k].i[j], "%s[%d] as I64: %lld, expected %lld", c[k].descr, j,
                  (long long)i[j], (long long)c[k].i[j]);
    }

    /* bools other than 0/1 still read as truth values */
    unsigned char b2[2] = {2, 0};
    size_t len = rec(B, 0, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,)}", b2, 2);
    CHECK(read_one(B, len, SR_F32, f, 4, NULL, err) == SR_OK && f[0] == 1 && f[1] == 0,
          "bool 2: %s", err);
}

static void test_versions(void)
{
    const char *d = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    float two[2] = {7.0f, -8.0f}, out[2];
    char err[SR_ERRLEN];
    sr_npy_header h;
    for (int ver = 1; ver <= 3; ver++) {
        size_t len = rec(B, 0, ver, d, two, 8);
        CHECK(read_one(B, len, SR_F32, out, 2, &h, err) == SR_OK, "v%d: %s", ver, err);
        CHECK(out[0] == 7.0f && out[1] == -8.0f && h.offset == (long long)len - 8,
              "v%d values", ver);
    }
    /* a v2 header longer than 65535 bytes: length field needs all 4 bytes */
    static char big[70001];
    memset(big, ' ', sizeof big - 1);
    memcpy(big, d, strlen(d));
    size_t len = rec(B, 0, 2, big, two, 8);
    CHECK(B[10] != 0 || B[9] != 0, "v2 header length uses the high bytes");
    CHECK(read_one(B, len, SR_F32, out, 2, &h, err) == SR_OK && out[1] == -8.0f,
          "v2 long header: %s", err);
    /* Python 2 longs in old v1 headers; not in v3 */
    len = rec(B, 0, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }", two, 8);
    CHECK(read_one(B, len, SR_F32, out, 2, &h, err) == SR_OK && h.shape.d[0] == 2,
          "v1 2L: %s", err);
    len = rec(B, 0, 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }", two, 8);
    CHECK(read_one(B, len, SR_F32, out, 2, &h, err) == SR_ERUN, "v3 2L rejected");
}

static void test_dict_variants(void)
{
    static const char *ok[] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }",
        "{'shape': (3, 4), 'fortran_order': False, 'descr': '<f4'}",
        "{'fortran_order': False, 'shape': (3, 4), 'descr': '<f4',}",
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3, 4)}",
        "  {\n 'descr' :'<f4' ,\t'fortran_order':False,'shape':(3,4,)\n}\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': ( 3 , 4 ) }     \r\n",
    };
    static float zeros[12], out[12];
    char err[SR_ERRLEN];
    sr_npy_header h;
    for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
        size_t len = rec(B, 0, 1, ok[k], zeros, sizeof zeros);
        CHECK(read_one(B, len, SR_F32, out, 12, &h, err) == SR_OK, "variant %zu: %s", k, err);
        CHECK(h.shape.ndim == 2 && h.shape.d[0] == 3 && h.shape.d[1] == 4 && h.numel == 12,
              "variant %zu shape", k);
    }
    size_t len = rec(B, 0, 1, "{'descr':'<f4','fortran_order':False,'shape':( )}", zeros, 4);
    CHECK(read_one(B, len, SR_F32, out, 12, &h, err) == SR_OK && h.shape.ndim == 0 &&
          h.numel == 1, "empty tuple with space: %s", err);
}

static void test_stream(void)
{
    float a[6] = {1, 2, 3, 4, 5, 6}, x[6];
    int64_t ib[2] = {-9, 9}, y[2];
    static double c[5000];
    static float z[5000];
    for (int i = 0; i < 5000; i++)
        c[i] = i * 0.5;
    size_t len = rec(B, 0, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                     a, sizeof a);
    size_t second = len;
    len = rec(B, len, 2, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
              ib, sizeof ib);
    /* 40000 bytes: more than one conversion buffer */
    len = rec(B, len, 3, "{'descr': '<f8', 'fortran_order': False, 'shape': (5000,), }",
              c, sizeof c);

    sr_stream s;
    sr_npy_header h;
    char err[SR_ERRLEN];
    int got;
    sr_stream_mem(&s, B, len, "cat.npy");

    CHECK(sr_npy_read_header(&s, &h, &got, err) == SR_OK && got, "rec 1: %s", err);
    /* in pieces: 1, then 4, then 1 */
    CHECK(sr_npy_read_elems(&s, &h, 1, SR_F32, x, err) == SR_OK, "rec 1a: %s", err);
    CHECK(sr_npy_read_elems(&s, &h, 4, SR_F32, x + 1, err) == SR_OK, "rec 1b: %s", err);
    CHECK(sr_npy_read_elems(&s, &h, 2, SR_F32, x + 5, err) == SR_ERUN &&
          strstr(err, "1 left"), "reading past the record: %s", err);
    CHECK(sr_npy_read_elems(&s, &h, 1, SR_F32, x + 5, err) == SR_OK, "rec 1c: %s", err);
    CHECK(memcmp(a, x, sizeof a) == 0, "rec 1 values");
    CHECK(s.consumed == (long long)second, "positioned at record 2");

    CHECK(sr_npy_read_header(&s, &h, &got, err) == SR_OK && got, "rec 2: %s", err);
    CHECK(h.dtype == SR_NPY_I64 && h.is_integer, "rec 2 dtype");
    CHECK(sr_npy_read_elems(&s, &h, 2, SR_I64, y, err) == SR_OK && y[0] == -9 && y[1] == 9,
          "rec 2 values: %s", err);

    CHECK(sr_npy_read_header(&s, &h, &got, err) == SR_OK && got, "rec 3: %s", err);
    CHECK(sr_npy_read_elems(&s, &h, 3000, SR_F32, z, err) == SR_OK &&
          sr_npy_read_elems(&s, &h, 2000, SR_F32, z + 3000, err) == SR_OK, "rec 3: %s", err);
    int same = 1;
    for (int i = 0; i < 5000; i++)
        same &= z[i] == (float)c[i];
    CHECK(same, "rec 3 values");

    CHECK(sr_npy_read_header(&s, &h, &got, err) == SR_OK && got == 0, "clean EOF: %s", err);
    CHECK(sr_npy_read_header(&s, &h, &got, err) == SR_OK && got == 0, "EOF again: %s", err);
    sr_stream_close(&s);

    sr_stream_mem(&s, "", 0, "empty");
    got = 7;
    CHECK(sr_npy_read_header(&s, &h, &got, err) == SR_OK && got == 0, "empty stream");
    sr_stream_close(&s);

    /* junk after a good record is reported at its offset */
    sr_stream_mem(&s, B, second + 4, "junk.npy");
    memcpy(B + second, "junk", 4);
    CHECK(sr_npy_read_header(&s, &h, &got, err) == SR_OK &&
          sr_npy_read_elems(&s, &h, 6, SR_F32, x, err) == SR_OK, "junk rec 1: %s", err);
    char want[64];
    snprintf(want, sizeof want, "junk.npy: offset %zu: not an npy record", second);
    CHECK(sr_npy_read_header(&s, &h, &got, err) == SR_ERUN && strstr(err, want) && !got,
          "junk: %s", err);
    sr_stream_close(&s);
}

static void test_malformed(void)
{
    char dict[512];
    float f12[12] = {0};
    const char *tail = "'fortran_order': False, 'shape': (3,), }";

    /* framing */
    expect_err(__LINE__, "\x93NUM", 4, SR_F32, "truncated npy magic (4 of 6 bytes)");
    expect_err(__LINE__, "PK\x03\x04 zip", 8, SR_F32, "t.npy: offset 0: not an npy record");
    expect_err(__LINE__, "\x93NUMPY\x01", 7, SR_F32, "truncated npy version");
    expect_err(__LINE__, "\x93NUMPY\x04\x00\x10\x00", 10, SR_F32,
               "unsupported npy format version 4.0");
    expect_err(__LINE__, "\x93NUMPY\x01\x01\x10\x00", 10, SR_F32,
               "unsupported npy format version 1.1");
    expect_err(__LINE__, "\x93NUMPY\x02\x00\x10\x00", 10, SR_F32, "truncated npy header length");
    expect_err(__LINE__, "\x93NUMPY\x01\x00\x40\x00{'descr'", 17, SR_F32,
               "header length 64 runs past the end of the stream (7 bytes left)");
    expect_err(__LINE__, "\x93NUMPY\x02\x00\x01\x00\x10\x00", 12, SR_F32,
               "header length 1048577 exceeds");

    /* dtypes */
    BAD_DICT("{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", f12, 12, SR_F32,
             "t.npy: offset 20: descr '>f4' is big-endian");
    BAD_DICT("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", f12, 24, SR_F32,
             "is complex");
    BAD_DICT("{'descr': '<c16', 'fortran_order': False, 'shape': (3,), }", f12, 48, SR_F32,
             "is complex");
    BAD_DICT("{'descr': '|O', 'fortran_order': False, 'shape': (3,), }", f12, 24, SR_F32,
             "object array");
    BAD_DICT("{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (3,), }",
             f12, 24, SR_F32, "structured arrays are not supported");
    BAD_DICT("{'descr': '<U5', 'fortran_order': False, 'shape': (1,), }", f12, 20, SR_F32,
             "string dtype");
    BAD_DICT("{'descr': '|S3', 'fortran_order': False, 'shape': (1,), }", f12, 3, SR_F32,
             "string dtype");
    BAD_DICT("{'descr': '|V8', 'fortran_order': False, 'shape': (1,), }", f12, 8, SR_F32,
             "void");
    BAD_DICT("{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (1,), }", f12, 8, SR_F32,
             "datetime");
    BAD_DICT("{'descr': '<m8[s]', 'fortran_order': False, 'shape': (1,), }", f12, 8, SR_F32,
             "datetime/timedelta");
    BAD_DICT("{'descr': '<f16', 'fortran_order': False, 'shape': (1,), }", f12, 16, SR_F32,
             "long double");
    BAD_DICT("{'descr': '|f4', 'fortran_order': False, 'shape': (3,), }", f12, 12, SR_F32,
             "only valid for one-byte types");
    BAD_DICT("{'descr': '<i3', 'fortran_order': False, 'shape': (3,), }", f12, 12, SR_F32,
             "unsupported descr '<i3'");
    BAD_DICT("{'descr': 'f4', 'fortran_order': False, 'shape': (3,), }", f12, 12, SR_F32,
             "unsupported descr 'f4'");

    /* order and shape */
    BAD_DICT("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f12, 24, SR_F32,
             "Fortran-order arrays are not supported; save with np.ascontiguousarray");
    BAD_DICT("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }", f12, 24, SR_F32,
             "True or False");
    BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 4), }", f12, 48, SR_F32,
             "t.npy: offset 61: negative dimension -3");
    BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }",
             f12, 48, SR_F32, "has too many elements");
    BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
             f12, 48, SR_F32, "too large");
    BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }",
             f12, 4, SR_F32, "more than 8 dimensions");
    BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", f12, 12, SR_F32,
             "a 1-d shape is written (N,)");
    BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': [3], }", f12, 12, SR_F32,
             "not a list");
    BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (03,), }", f12, 12, SR_F32,
             "leading zeros");
    BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (3.0,), }", f12, 12, SR_F32,
             "not an integer");
    BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (,), }", f12, 12, SR_F32,
             "expected a dimension");

    /* dict syntax */
    BAD_DICT("hello", f12, 12, SR_F32, "t.npy: offset 10: expected '{' starting the header dict");
    BAD_DICT("", f12, 12, SR_F32, "header ends where '{'");
    BAD_DICT("{'descr': '<f4', 'fortran_order': False}", f12, 12, SR_F32,
             "header has no 'shape' key");
    BAD_DICT("{'shape': (3,), 'fortran_order': False}", f12, 12, SR_F32,
             "header has no 'descr' key");
    BAD_DICT("{'descr': '<f4', 'shape': (3,)}", f12, 12, SR_F32,
             "header has no 'fortran_order' key");
    BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}", f12, 12,
             SR_F32, "unknown key 'extra'");
    BAD_DICT("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", f12, 12,
             SR_F32, "duplicate key 'descr'");
    BAD_DICT("{'descr': '<f4' 'fortran_order': False, 'shape': (3,)}", f12, 12, SR_F32,
             "expected ',' or '}' after a value");
    BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }}", f12, 12, SR_F32,
             "unexpected text after the header dict");
    BAD_DICT("{'descr: '<f4', 'fortran_order': False, 'shape': (3,)}", f12, 12, SR_F32,
             "unknown key");
    BAD_DICT("{'descr': '<f4\\x', 'fortran_order': False, 'shape': (3,)}", f12, 12, SR_F32,
             "escape sequences");
    BAD_DICT("{'descr': '<f4", f12, 12, SR_F32, "unterminated string");
    BAD_DICT("{'descr', '<f4'}", f12, 12, SR_F32, "expected ':' after the key");
    BAD_DICT("{descr: '<f4'}", f12, 12, SR_F32, "expected a quoted key or '}', found 'd'");
    BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (3,),", f12, 12, SR_F32,
             "header ends where a quoted key");
    snprintf(dict, sizeof dict, "{'descr': '<f4', %s\x01", tail);
    BAD_DICT(dict, f12, 12, SR_F32, "unexpected text after the header dict");

    BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': 3, }", f12, 12, SR_F32,
             "expected a shape tuple, found '3'");
    BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (3 4), }", f12, 48, SR_F32,
             "expected ',' or ')' in shape");
    BAD_DICT("{'descr': ('<f4', (2,)), 'fortran_order': False, 'shape': (3,), }", f12, 24,
             SR_F32, "subarray dtypes are not supported");
    BAD_DICT("{'a_very_long_key_that_goes_on_and_on_and_on_forever': 1}", f12, 12, SR_F32,
             "unknown key 'a_very_long_key_that_goes_on_and_on_and_on_f...'");

    /* data */
    BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", f12, 20, SR_F32,
             "t.npy: truncated data: record needs 48 bytes, got 20");
    BAD_DICT("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", f12, 20, SR_F32,
             "truncated data: record needs 24 bytes, got 20");
    BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f12, 12, SR_I64,
             "float32 data where integers are needed (Embedding input needs an integer dtype");
    BAD_DICT("{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }", f12, 6, SR_I64,
             "float16 data where integers are needed");
    uint64_t big[3] = {1, 0x8000000000000000ULL, 2};
    size_t len = rec(B, 0, 1, "{'descr': '<u8', 'fortran_order': False, 'shape': (3,), }",
                     big, sizeof big);
    expect_err(__LINE__, B, len, SR_I64,
               "offset 136: uint64 value 9223372036854775808 (element 1) does not fit int64");
}

/* Pipes: the stream size is unknown, so truncation shows up only on read. */
static sr_status read_pipe(const void *bytes, size_t len, char *err)
{
    int fd[2];
    char path[64];
    sr_stream s;
    float out[16];
    if (pipe(fd) != 0)
        return sr_err(err, SR_ERUN, "pipe");
    CHECK(write(fd[1], bytes, len) == (ssize_t)len, "write to pipe");
    close(fd[1]);
    snprintf(path, sizeof path, "/dev/fd/%d", fd[0]);
    sr_status st = sr_stream_open(&s, path, err);
    if (!st) {
        sr_npy_header h;
        int got;
        while (!(st = sr_npy_read_header(&s, &h, &got, err)) && got && h.numel <= 16)
            if ((st = sr_npy_read_elems(&s, &h, (size_t)h.numel, SR_F32, out, err)))
                break;
        sr_stream_close(&s);
    }
    close(fd[0]);
    return st;
}

static void test_pipe(void)
{
    char err[SR_ERRLEN];
    float f3[3] = {1, 2, 3};
    size_t len = rec(B, 0, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                     f3, sizeof f3);
    len = rec(B, len, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
              f3, sizeof f3);
    CHECK(read_pipe(B, len, err) == SR_OK, "pipe, two records: %s", err);
    CHECK(read_pipe(B, len - 4, err) == SR_ERUN &&
          strstr(err, "truncated data: record needs 12 bytes, got 8"), "pipe data: %s", err);
    CHECK(read_pipe(B, 40, err) == SR_ERUN &&
          strstr(err, "offset 10: truncated npy header (needs 118 bytes, got 30)"),
          "pipe header: %s", err);
}

static void test_writer_errors(void)
{
    char err[SR_ERRLEN], dir[] = "/tmp/test_npy_XXXXXX", path[64];
    FILE *f = tmpfile();
    sr_shape sh = {1, {-2}};
    CHECK(sr_npy_write_header(f, &sh, err) == SR_ERUN && strstr(err, "negative"), "%s", err);
    sh.ndim = SR_MAXDIM + 1;
    CHECK(sr_npy_write_header(f, &sh, err) == SR_ERUN && strstr(err, "9-dimensional"),
          "%s", err);
    fclose(f);
    f = fopen("/dev/full", "wb");
    if (f) {
        static float many[100000];
        setvbuf(f, NULL, _IONBF, 0);
        CHECK(sr_npy_write_f32(f, many, 100000, err) == SR_ERUN && strstr(err, "write failed"),
              "/dev/full: %s", err);
        fclose(f);
    }

    /* a failed load frees what it allocated and reports the file */
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/short.npy", dir);
    float f3[3] = {1, 2, 3};
    size_t len = rec(B, 0, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                     f3, sizeof f3);
    f = fopen(path, "wb");
    fwrite(B, 1, len - 1, f);
    fclose(f);
    sr_tensor t;
    CHECK(sr_npy_load(path, &t, err) == SR_ERUN && strstr(err, "short.npy: truncated data") &&
          t.data == NULL, "load short: %s", err);
    unlink(path);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        fixdir = argv[1];
    test_magic();
    test_round_trip();
    test_save_load();
    test_fixtures();
    test_writer_golden();
    test_dtypes();
    test_versions();
    test_dict_variants();
    test_stream();
    test_malformed();
    test_pipe();
    test_writer_errors();
    return unit_summary();
}
