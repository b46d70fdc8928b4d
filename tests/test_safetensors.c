/* test_safetensors.c - round trips, golden files from PyTorch, and malformed
 * headers that the reader must reject as safetensors' own reader does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"
#include "unit.h"

#ifndef FIXDIR
#define FIXDIR "tests/fixtures/st"
#endif

static unsigned char buf[1 << 16];

/* Builds a file image: length prefix, header, then datalen filler bytes.
 * Single quotes in hdr become double quotes, to keep the JSON readable. */
static size_t mk(const char *hdr, size_t datalen)
{
    size_t n = strlen(hdr);
    for (int k = 0; k < 8; k++)
        buf[k] = (unsigned char)((uint64_t)n >> (8 * k));
    for (size_t k = 0; k < n; k++)
        buf[8 + k] = hdr[k] == '\'' ? '"' : (unsigned char)hdr[k];
    memset(buf + 8 + n, 0xab, datalen);
    return 8 + n + datalen;
}

static void bad_buf(size_t len, const char *want, int line)
{
    sr_safetensors st;
    char err[SR_ERRLEN] = "";
    sr_status rc = sr_st_parse(&st, buf, len, "bad.st", err);
    CHECK(rc == SR_ERUN && strncmp(err, "bad.st: ", 8) == 0 && strstr(err, want),
          "line %d: rc %d, message '%s', wanted '%s'", line, rc, err, want);
    CHECK(st.n == 0 && st.t == NULL && st.path == NULL && st.nmeta == 0,
          "line %d: st not left closed", line);
}

#define BAD(hdr, datalen, want) bad_buf(mk(hdr, datalen), want, __LINE__)

static int parses(size_t len, sr_safetensors *st)
{
    char err[SR_ERRLEN] = "";
    sr_status rc = sr_st_parse(st, buf, len, "ok.st", err);
    if (rc)
        printf("unexpected failure: %s\n", err);
    return rc == SR_OK;
}

/* Entries as the reference writer would emit them, for the layout tests. */
#define F32(name, n, b, e) "'" name "':{'dtype':'F32','shape':[" #n "],'data_offsets':[" #b "," #e "]}"

static void test_malformed(void)
{
    /* length prefix */
    bad_buf(0, "empty file", __LINE__);
    mk("{}", 0);
    bad_buf(5, "too short", __LINE__);
    mk("{}", 0);
    buf[0] = 200;
    bad_buf(10, "runs past the end of the file", __LINE__);
    mk("{}", 0);
    memcpy(buf, "\x01\xe1\xf5\x05\0\0\0\0", 8); /* 100000001 */
    bad_buf(10, "exceeds the 100000000-byte limit", __LINE__);
    memcpy(buf, "\x00\xe1\xf5\x05\0\0\0\0", 8); /* exactly the limit: allowed */
    bad_buf(10, "runs past the end of the file", __LINE__);
    mk("{}", 0);
    memset(buf, 0xff, 8);
    bad_buf(10, "exceeds", __LINE__);

    /* header start, encoding, syntax */
    BAD("", 0, "does not start with '{'");
    BAD("[]      ", 0, "does not start with '{'");
    BAD(" {}     ", 0, "does not start with '{'");
    BAD("{'\xff':1}", 0, "not valid UTF-8 (byte 2)");
    BAD("{'\xc0\xaf':1}", 0, "not valid UTF-8");     /* overlong '/' */
    BAD("{'\xed\xa0\x80':1}", 0, "not valid UTF-8"); /* encoded surrogate */
    BAD("{'\xf4\x90\x80\x80':1}", 0, "not valid UTF-8"); /* past U+10FFFF */
    BAD("{}\xe2\x82", 0, "not valid UTF-8");           /* cut sequence */
    BAD("{'a':}", 0, "invalid JSON in header at byte 5");
    BAD("{'a':1,}", 0, "expected a string key");
    BAD("{", 0, "invalid JSON");
    BAD("{'a' 1}", 0, "expected ':'");
    BAD("{'a':[1 2]}", 0, "expected ',' or ']'");
    BAD("{'a':01}", 0, "expected ',' or '}'");
    BAD("{'a':tru}", 0, "unexpected character");
    BAD("{'a':-}", 0, "invalid number");
    BAD("{'a':1.}", 0, "invalid number");
    BAD("{'a':1e}", 0, "invalid number");
    BAD("{'a\\x':1}", 0, "invalid escape");
    BAD("{'a\n':1}", 0, "control character in string");
    BAD("{'a", 0, "unterminated string");
    BAD("{'\\ud800':1}", 0, "unpaired high surrogate");
    BAD("{'\\ud800\\u0041':1}", 0, "unpaired high surrogate");
    BAD("{'\\udc00':1}", 0, "lone low surrogate");
    BAD("{'\\u12':1}", 0, "bad \\u escape");
    BAD("{'\\u0000':1}", 0, "\\u0000");
    BAD("{}x", 0, "unexpected data after the JSON object");
    BAD("{}{}", 0, "unexpected data after the JSON object");
    size_t len = mk("{}      ", 0);
    buf[len - 1] = 0; /* NUL padding is not JSON whitespace */
    bad_buf(len, "unexpected data after", __LINE__);
    {
        char deep[300] = "{'a':";
        memset(deep + 5, '[', 200);
        BAD(deep, 0, "nesting too deep");
    }

    /* entry schema */
    BAD("{'a':3}", 0, "tensor entry must be an object (key 'a')");
    BAD("{'a':{'dtype':'F7','shape':[],'data_offsets':[0,4]}}", 4, "unknown dtype 'F7' (key 'a')");
    BAD("{'a':{'dtype':'f32','shape':[],'data_offsets':[0,4]}}", 4, "unknown dtype 'f32'");
    BAD("{'a':{'dtype':4,'shape':[],'data_offsets':[0,4]}}", 4, "dtype must be a string");
    BAD("{'a':{'dtype':'F32','shape':[-1],'data_offsets':[0,4]}}", 4,
        "negative dimension in shape (key 'a')");
    BAD("{'a':{'dtype':'F32','shape':[2.0],'data_offsets':[0,8]}}", 8, "non-negative integers");
    BAD("{'a':{'dtype':'F32','shape':[1e3],'data_offsets':[0,8]}}", 8, "non-negative integers");
    BAD("{'a':{'dtype':'F32','shape':[-0],'data_offsets':[0,0]}}", 0, "non-negative integers");
    BAD("{'a':{'dtype':'F32','shape':null,'data_offsets':[0,8]}}", 8, "list of integers");
    BAD("{'a':{'dtype':'F32','shape':[4294967296,4294967296,4294967296],'data_offsets':[0,4]}}",
        4, "shape overflow");
    BAD("{'a':{'dtype':'F32','shape':[4611686018427387904],'data_offsets':[0,4]}}", 4,
        "shape overflow"); /* 2^62 elements fit; 2^64 bytes do not */
    BAD("{'a':{'dtype':'U8','shape':[9223372036854775808],'data_offsets':[0,4]}}", 4,
        "shape overflow");
    BAD("{'a':{'dtype':'U8','shape':[18446744073709551616],'data_offsets':[0,4]}}", 4,
        "shape overflow");
    BAD("{'a':{'dtype':'U8','shape':[1,1,1,1,1,1,1,1,1],'data_offsets':[0,1]}}", 1,
        "more than 8 dimensions");
    BAD("{'a':{'dtype':'F32','shape':[1]}}", 4, "missing field 'data_offsets' (key 'a')");
    BAD("{'a':{'shape':[1],'data_offsets':[0,4]}}", 4, "missing field 'dtype'");
    BAD("{'a':{'dtype':'F32','data_offsets':[0,4]}}", 4, "missing field 'shape'");
    BAD("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4],'x':1}}", 4,
        "unexpected field 'x' in tensor entry (key 'a')");
    BAD("{'a':{'dtype':'F32','dtype':'F32','shape':[1],'data_offsets':[0,4]}}", 4,
        "duplicate field 'dtype'");
    BAD("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0]}}", 4, "data_offsets must be");
    BAD("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4,8]}}", 4, "data_offsets must be");
    BAD("{'a':{'dtype':'F32','shape':[1],'data_offsets':'0,4'}}", 4, "data_offsets must be");
    BAD("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,-4]}}", 4, "data_offsets must be");
    BAD("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,18446744073709551616]}}", 4,
        "data offset too large");
    BAD("{" F32("a", 1, 0, 4) "," F32("a", 1, 4, 8) "}", 8, "duplicate key 'a'");

    /* metadata */
    BAD("{'__metadata__':{'k':1}}", 0, "__metadata__ value is not a string (key 'k')");
    BAD("{'__metadata__':{'k':null}}", 0, "not a string");
    BAD("{'__metadata__':['k']}", 0, "__metadata__ must be an object");
    BAD("{'__metadata__':{},'__metadata__':{}}", 0, "duplicate key '__metadata__'");
    BAD("{'__metadata__':{'k':'1','k':'2'}}", 0, "duplicate key 'k' in __metadata__");

    /* offsets and layout */
    BAD("{'a':{'dtype':'F32','shape':[2],'data_offsets':[0,4]}}", 4,
        "data size does not match dtype and shape: F32 [2] needs 8 bytes "
        "(key 'a', offsets [0, 4] hold 4)");
    BAD("{'a':{'dtype':'I64','shape':[2,0,3],'data_offsets':[0,8]}}", 8, "does not match");
    BAD("{'a':{'dtype':'F32','shape':[0],'data_offsets':[8,4]}}", 8,
        "end offset before begin offset (key 'a', offsets [8, 4])");
    BAD("{" F32("a", 1, 4, 8) "}", 8,
        "tensor data does not start at offset 0 (key 'a', offsets [4, 8])");
    BAD("{" F32("a", 1, 0, 4) "," F32("b", 1, 8, 12) "}", 12,
        "hole in the data: bytes [4, 8) belong to no tensor (key 'b', offsets [8, 12])");
    BAD("{" F32("a", 2, 0, 8) "," F32("b", 1, 4, 8) "}", 8,
        "overlaps that of 'a', which ends at 8 (key 'b', offsets [4, 8])");
    BAD("{" F32("a", 1, 0, 4) "," F32("b", 1, 0, 4) "}", 4, "overlaps");
    BAD("{" F32("a", 1, 0, 4) "}", 8,
        "4 unexpected bytes after the last tensor's data (key 'a', offsets [0, 4]");
    BAD("{" F32("a", 2, 0, 8) "}", 4, "runs past the end of the file");
    BAD("{}      ", 3, "3 bytes of data but no tensors");

    /* keys from the file are escaped and bounded in messages */
    BAD("{'\\u001b[2J':3}", 0, "key '\\x1b[2J'");
    {
        char big[400] = "{'";
        for (int k = 0; k < 100; k++)
            strcat(big, "\u00e9");
        strcat(big, "':3}");
        sr_safetensors st;
        char err[SR_ERRLEN] = "";
        sr_status rc = sr_st_parse(&st, buf, mk(big, 0), "bad.st", err);
        char *key = strstr(err, "(key '");
        CHECK(rc == SR_ERUN && key && strlen(key) < 110 && strstr(key, "\xc3\xa9...')"),
              "long key: %s", err);
    }
    BAD("{'a':{'dtype':'U8','shape':[4611686018427387904,0],'data_offsets':[0,0]}}", 0,
        "shape overflow");
}

static void test_accepts(void)
{
    sr_safetensors st;
    /* shuffled order, zero-size tensors sharing an offset, odd whitespace,
     * null metadata, \u escapes in keys */
    size_t len = mk("{ 'c' :{'dtype':'F32','shape':[1],'data_offsets':[4,8]},\n"
                    "\t'\\u00e9\\ud83d\\ude00':{'data_offsets':[0,4],'shape':[],'dtype':'I32'},\r\n"
                    "'z1':{'dtype':'U8','shape':[0],'data_offsets':[4,4]},"
                    "'z0':{'dtype':'F64','shape':[3,0],'data_offsets':[0,0]},"
                    "'__metadata__':null, '' :{'dtype':'BOOL','shape':[],'data_offsets':[8,9]}}   ",
                    9);
    if (parses(len, &st)) {
        CHECK(st.n == 5 && st.nmeta == 0, "n %d nmeta %d", st.n, st.nmeta);
        const char *order[] = {"", "c", "z0", "z1", "\xc3\xa9\xf0\x9f\x98\x80"};
        for (int k = 0; k < 5 && k < st.n; k++)
            CHECK(strcmp(st.t[k].name, order[k]) == 0, "entry %d is '%s'", k, st.t[k].name);
        const sr_st_entry *e = sr_st_find(&st, "c");
        CHECK(e && e->dtype == SR_ST_F32 && e->begin == 4 && e->end == 8, "find c");
        CHECK(sr_st_find(&st, "nope") == NULL, "find missing");
        CHECK(st.datalen == 9 && st.data == buf + len - 9, "data block");
        sr_st_close(&st);
    }
    CHECK(parses(mk("{}", 0), &st) && st.n == 0, "minimal header");
    sr_st_close(&st);
    sr_st_close(&st); /* closing twice is harmless */

    /* data at an odd address: every read must be unaligned-safe (UBSan) */
    len = mk("{'d':{'dtype':'F64','shape':[1],'data_offsets':[0,8]},"
             "'l':{'dtype':'I64','shape':[1],'data_offsets':[8,16]},"
             "'f':{'dtype':'F32','shape':[1],'data_offsets':[16,20]},"
             "'s':{'dtype':'I16','shape':[2],'data_offsets':[20,24]},"
             "'w':{'dtype':'U16','shape':[1],'data_offsets':[24,26]},"
             "'b':{'dtype':'I8','shape':[1],'data_offsets':[26,27]},"
             "'u':{'dtype':'U32','shape':[1],'data_offsets':[27,31]},"
             "'q':{'dtype':'U64','shape':[1],'data_offsets':[31,39]}}",
             39);
    unsigned char *d = buf + len - 39;
    double dv = 1.5;
    int64_t lv = -5;
    float fv = -0.75f;
    int16_t sv[2] = {-300, 300};
    uint16_t wv = 65535;
    uint32_t uv = 4000000000u;
    uint64_t qv = UINT64_MAX;
    memcpy(d, &dv, 8);
    memcpy(d + 8, &lv, 8);
    memcpy(d + 16, &fv, 4);
    memcpy(d + 20, sv, 4);
    memcpy(d + 24, &wv, 2);
    d[26] = 0x80;
    memcpy(d + 27, &uv, 4);
    memcpy(d + 31, &qv, 8);
    CHECK((uintptr_t)d % 2 == 1, "data deliberately misaligned");
    if (parses(len, &st)) {
        sr_tensor t;
        char err[SR_ERRLEN];
        CHECK(!sr_st_load(&st, sr_st_find(&st, "d"), SR_F32, &t, err) && sr_f32(&t)[0] == 1.5f,
              "F64 unaligned");
        sr_tensor_free(&t);
        CHECK(!sr_st_load(&st, sr_st_find(&st, "l"), SR_I64, &t, err) && sr_i64(&t)[0] == -5,
              "I64 unaligned");
        sr_tensor_free(&t);
        CHECK(!sr_st_load(&st, sr_st_find(&st, "f"), SR_F32, &t, err) && sr_f32(&t)[0] == -0.75f,
              "F32 unaligned");
        sr_tensor_free(&t);
        CHECK(!sr_st_load(&st, sr_st_find(&st, "s"), SR_I64, &t, err) &&
                  sr_i64(&t)[0] == -300 && sr_i64(&t)[1] == 300,
              "I16");
        sr_tensor_free(&t);
        CHECK(!sr_st_load(&st, sr_st_find(&st, "w"), SR_I64, &t, err) && sr_i64(&t)[0] == 65535,
              "U16");
        sr_tensor_free(&t);
        CHECK(!sr_st_load(&st, sr_st_find(&st, "b"), SR_I64, &t, err) && sr_i64(&t)[0] == -128,
              "I8");
        sr_tensor_free(&t);
        CHECK(!sr_st_load(&st, sr_st_find(&st, "u"), SR_I64, &t, err) &&
                  sr_i64(&t)[0] == 4000000000,
              "U32");
        sr_tensor_free(&t);
        sr_status rc = sr_st_load(&st, sr_st_find(&st, "q"), SR_I64, &t, err);
        CHECK(rc == SR_ERUN && strstr(err, "does not fit int64 (key 'q')") && !t.data,
              "U64 overflow: %s", err);
        sr_st_close(&st);
    }
}

/* Every truncation and many single-byte mutations of a valid image must
 * either parse or fail cleanly; the sanitizers do the real checking. */
static void test_mutations(void)
{
    static unsigned char orig[512];
    size_t len = mk("{'__metadata__':{'format':'pt'}," F32("a", 2, 0, 8) ","
                    "'b':{'dtype':'BF16','shape':[2,1],'data_offsets':[8,12]}}    ",
                    12);
    memcpy(orig, buf, len);
    int ok = 1, parsed = 0;
    static const unsigned char vals[] = {0, '"', '{', '}', '[', ']', ',', ':', '\\', '0', '9',
                                         '-', 'e', ' ', 0x80, 0xff};
    for (size_t cut = 0; cut <= len; cut++) {
        sr_safetensors st;
        char err[SR_ERRLEN] = "";
        memcpy(buf, orig, len);
        sr_status rc = sr_st_parse(&st, buf, cut, "m", err);
        ok &= cut == len ? rc == SR_OK : (rc == SR_ERUN && strncmp(err, "m: ", 3) == 0);
        sr_st_close(&st);
    }
    for (size_t pos = 0; pos < len; pos++)
        for (size_t v = 0; v < sizeof vals; v++) {
            sr_safetensors st;
            char err[SR_ERRLEN] = "";
            memcpy(buf, orig, len);
            buf[pos] = vals[v];
            sr_status rc = sr_st_parse(&st, buf, len, "m", err);
            ok &= rc == SR_OK || (rc == SR_ERUN && strncmp(err, "m: ", 3) == 0);
            parsed += rc == SR_OK;
            sr_st_close(&st);
        }
    CHECK(ok, "mutations: a failure without a proper message");
    CHECK(parsed > 0, "mutations: no mutant parsed (some only touch data or padding)");
}

/* Reads a whole stream written by sr_st_write back into memory. */
static size_t slurp(FILE *f, unsigned char *out, size_t cap)
{
    rewind(f);
    return fread(out, 1, cap, f);
}

static void test_write_golden(void)
{
    /* Byte-for-byte what the reference serializer emits for these inputs
     * (from its own unit tests). */
    static unsigned char out[1024];
    char err[SR_ERRLEN] = "";
    FILE *f = tmpfile();
    CHECK(f && sr_st_write(f, NULL, 0, NULL, 0, err) == SR_OK, "write empty: %s", err);
    CHECK(slurp(f, out, sizeof out) == 16 && memcmp(out, "\x08\0\0\0\0\0\0\0{}      ", 16) == 0,
          "empty file bytes");
    fclose(f);

    const char *meta[] = {"framework", "pt"};
    f = tmpfile();
    CHECK(f && sr_st_write(f, NULL, 0, meta, 1, err) == SR_OK, "write meta: %s", err);
    CHECK(slurp(f, out, sizeof out) == 48 &&
              memcmp(out, "\x28\0\0\0\0\0\0\0{\"__metadata__\":{\"framework\":\"pt\"}}     ", 48) ==
                  0,
          "metadata-only file bytes");
    fclose(f);

    float v[6] = {0, 1, 2, 3, 4, 5};
    sr_tensor t = {sr_shape_make(4, (int64_t[]){1, 1, 2, 3}), SR_F32, v, 0};
    sr_st_item it = {"attn0", &t};
    const char hdr[] = "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],"
                       "\"data_offsets\":[0,24]}}       ";
    f = tmpfile();
    CHECK(f && sr_st_write(f, &it, 1, NULL, 0, err) == SR_OK, "write attn0: %s", err);
    size_t n = slurp(f, out, sizeof out);
    CHECK(n == 8 + 72 + 24 && out[0] == 72 && memcmp(out + 8, hdr, 72) == 0 &&
              memcmp(out + 80, v, 24) == 0,
          "attn0 file bytes");
    fclose(f);
}

static void test_round_trip(void)
{
    float a[6] = {1.5f, -2, 0.25f, 1e-30f, -0.0f, 3e38f};
    int64_t b[3] = {-1, INT64_MIN, INT64_MAX};
    float sc = 4.25f, dummy = 0;
    int64_t idummy = 0;
    sr_tensor ta = {sr_shape_make(2, (int64_t[]){2, 3}), SR_F32, a, 0};
    sr_tensor tb = {sr_shape_make(1, (int64_t[]){3}), SR_I64, b, 0};
    sr_tensor ts = {sr_shape_make(0, NULL), SR_F32, &sc, 0};
    sr_tensor te = {sr_shape_make(2, (int64_t[]){0, 4}), SR_F32, &dummy, 0};
    sr_tensor tl = {sr_shape_make(1, (int64_t[]){0}), SR_I64, &idummy, 0};
    sr_st_item items[] = {
        {"0.weight", &ta}, {"1.num_batches_tracked", &tb}, {"sc\"al\\ar\n\x01", &ts},
        {"empty", &te},    {"\xc3\xa9mpty64", &tl},
    };
    const char *meta[] = {"format", "pt", "k\"\t", "v\\\x1f\xe2\x82\xac"};
    char err[SR_ERRLEN] = "";

    char dir[] = "/tmp/test_st_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[64];
    snprintf(path, sizeof path, "%s/rt.safetensors", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f && sr_st_write(f, items, 5, meta, 2, err) == SR_OK, "write: %s", err);
    if (f)
        fclose(f);

    sr_safetensors st;
    sr_status rc = sr_st_open(&st, path, err);
    CHECK(rc == SR_OK, "open round trip: %s", err);
    if (rc == SR_OK) {
        uint64_t hlen = 0;
        memcpy(&hlen, st.map, 8);
        CHECK((8 + hlen) % 8 == 0 && ((const char *)st.map)[8 + hlen - 1] != '\0',
              "header padded to 8");
        CHECK(st.n == 5 && st.nmeta == 2, "counts %d %d", st.n, st.nmeta);
        CHECK(sr_st_meta(&st, "format") && strcmp(sr_st_meta(&st, "format"), "pt") == 0, "meta");
        CHECK(sr_st_meta(&st, "k\"\t") && strcmp(sr_st_meta(&st, "k\"\t"), meta[3]) == 0,
              "escaped meta");
        CHECK(sr_st_meta(&st, "nope") == NULL, "missing meta");
        /* given order is file order; st.t is in name order */
        for (int k = 0; k < 5; k++) {
            const sr_st_entry *e = sr_st_find(&st, items[k].name);
            CHECK(e && (k == 0 || e->begin >= sr_st_find(&st, items[k - 1].name)->end),
                  "file order %d", k);
        }
        for (int k = 1; k < st.n; k++)
            CHECK(strcmp(st.t[k - 1].name, st.t[k].name) < 0, "name order %d", k);
        for (int k = 0; k < 5; k++) {
            const sr_st_entry *e = sr_st_find(&st, items[k].name);
            const sr_tensor *src = items[k].t;
            sr_tensor t;
            CHECK(e && e->dtype == (src->dtype == SR_F32 ? SR_ST_F32 : SR_ST_I64), "entry %d", k);
            if (!e || sr_st_load(&st, e, src->dtype, &t, err)) {
                CHECK(0, "load %d: %s", k, err);
                continue;
            }
            size_t bytes = (size_t)sr_shape_numel(&src->shape) * sr_dtype_size(src->dtype);
            CHECK(sr_shape_eq(&t.shape, &src->shape) && t.dtype == src->dtype && t.owned &&
                      memcmp(t.data, src->data, bytes) == 0,
                  "tensor %d round trip", k);
            sr_tensor_free(&t);
        }
        sr_tensor t;
        rc = sr_st_load(&st, sr_st_find(&st, "0.weight"), SR_I64, &t, err);
        CHECK(rc == SR_ERUN && strstr(err, "rt.safetensors: expected integer data, "
                                           "found floating-point dtype F32 (key '0.weight')"),
              "F32 as I64: %s", err);
        sr_st_close(&st);
    }

    /* sr_st_open's own refusals */
    rc = sr_st_open(&st, dir, err);
    CHECK(rc == SR_ERUN && strstr(err, "is a directory"), "directory: %s", err);
    rc = sr_st_open(&st, "/dev/null", err);
    CHECK(rc == SR_ERUN && strstr(err, "/dev/null: not a regular file"), "device: %s", err);
    char fifo[64];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    if (mkfifo(fifo, 0600) == 0) {
        rc = sr_st_open(&st, fifo, err); /* must not block */
        CHECK(rc == SR_ERUN && strstr(err, "not a regular file"), "fifo: %s", err);
        unlink(fifo);
    }
    char empty[64];
    snprintf(empty, sizeof empty, "%s/empty", dir);
    f = fopen(empty, "wb");
    if (f)
        fclose(f);
    rc = sr_st_open(&st, empty, err);
    CHECK(rc == SR_ERUN && strstr(err, "/empty: empty file"), "empty: %s", err);
    rc = sr_st_open(&st, "/nonexistent/x.safetensors", err);
    CHECK(rc == SR_ERUN && strstr(err, "/nonexistent/x.safetensors: cannot open"), "%s", err);
    unlink(empty);
    unlink(path);
    rmdir(dir);

    /* writer refusals */
    sr_st_item dup[] = {{"a", &ta}, {"a", &tb}};
    f = tmpfile();
    CHECK(sr_st_write(f, dup, 2, NULL, 0, err) == SR_ERUN && strstr(err, "duplicate key 'a'"),
          "dup write: %s", err);
    const char *dmeta[] = {"k", "1", "k", "2"};
    CHECK(sr_st_write(f, items, 1, dmeta, 2, err) == SR_ERUN && strstr(err, "duplicate key 'k'"),
          "dup meta write: %s", err);
    sr_st_item reserved = {"__metadata__", &ta}, badutf = {"a\xff", &ta};
    CHECK(sr_st_write(f, &reserved, 1, NULL, 0, err) == SR_ERUN && strstr(err, "invalid tensor name"),
          "reserved name: %s", err);
    CHECK(sr_st_write(f, &badutf, 1, NULL, 0, err) == SR_ERUN && strstr(err, "invalid tensor name"),
          "bad UTF-8 name: %s", err);
    fclose(f);
    f = fopen("/dev/full", "wb");
    if (f) {
        rc = sr_st_write(f, items, 5, meta, 2, err);
        CHECK(rc == SR_ERUN && strstr(err, "cannot write"), "/dev/full: %s", err);
        fclose(f);
    }
}

static sr_tensor load(const sr_safetensors *st, const char *name, sr_dtype want)
{
    sr_tensor t = {0};
    char err[SR_ERRLEN] = "";
    const sr_st_entry *e = sr_st_find(st, name);
    CHECK(e && sr_st_load(st, e, want, &t, err) == SR_OK, "load '%s': %s", name, err);
    return t;
}

static void test_fixtures(void)
{
    sr_safetensors st;
    char err[SR_ERRLEN] = "";
    if (sr_st_open(&st, FIXDIR "/mixed.safetensors", err)) {
        CHECK(0, "%s", err);
        return;
    }
    CHECK(st.n == 10 && st.nmeta == 2, "counts %d %d", st.n, st.nmeta);
    const char *note = sr_st_meta(&st, "note");
    CHECK(note && strcmp(note, "\xc3\xa9t\xc3\xa9 \"q\"") == 0, "note '%s'", note);

    sr_tensor t = load(&st, "h", SR_F32);
    const float h[8] = {1, -2.5f, 65504, ldexpf(1, -14), ldexpf(1, -24), INFINITY, -0.0f,
                        0.333251953125f};
    CHECK(t.data && t.shape.ndim == 2 && t.shape.d[0] == 2 && t.shape.d[1] == 4, "F16 shape");
    for (int k = 0; t.data && k < 8; k++)
        CHECK(sr_f32(&t)[k] == h[k] && signbit(sr_f32(&t)[k]) == signbit(h[k]),
              "F16[%d] = %g", k, sr_f32(&t)[k]);
    sr_tensor_free(&t);

    t = load(&st, "b", SR_F32);
    const float b[4] = {1, -3.140625f, ldexpf(1, 100), ldexpf(1, -133)};
    for (int k = 0; t.data && k < 4; k++)
        CHECK(sr_f32(&t)[k] == b[k], "BF16[%d] = %g", k, sr_f32(&t)[k]);
    sr_tensor_free(&t);

    t = load(&st, "d", SR_F32);
    CHECK(t.data && sr_f32(&t)[0] == (float)0.1 && sr_f32(&t)[1] == -INFINITY &&
              sr_f32(&t)[2] == 1.5f,
          "F64 values");
    sr_tensor_free(&t);

    t = load(&st, "l", SR_I64);
    CHECK(t.data && t.shape.ndim == 2 && sr_i64(&t)[0] == 0 && sr_i64(&t)[1] == -1 &&
              sr_i64(&t)[2] == (int64_t)1 << 62 && sr_i64(&t)[3] == INT64_MIN,
          "I64 values");
    sr_tensor_free(&t);

    t = load(&st, "i", SR_I64);
    CHECK(t.data && sr_i64(&t)[0] == -7 && sr_i64(&t)[1] == 2147483647, "I32 values");
    sr_tensor_free(&t);
    t = load(&st, "u", SR_I64);
    CHECK(t.data && sr_i64(&t)[0] == 0 && sr_i64(&t)[1] == 255, "U8 values");
    sr_tensor_free(&t);
    t = load(&st, "z", SR_I64);
    CHECK(t.data && sr_i64(&t)[0] == 1 && sr_i64(&t)[1] == 0 && sr_i64(&t)[2] == 1, "BOOL");
    sr_tensor_free(&t);
    t = load(&st, "s", SR_F32);
    CHECK(t.data && t.shape.ndim == 0 && sr_f32(&t)[0] == 3.5f, "0-d F32");
    sr_tensor_free(&t);
    t = load(&st, "e", SR_F32);
    CHECK(t.data && t.shape.ndim == 2 && t.shape.d[0] == 0 && t.shape.d[1] == 3, "empty F32");
    sr_tensor_free(&t);
    t = load(&st, "1.running_mean", SR_F32);
    CHECK(t.data && sr_f32(&t)[0] == 0.25f && sr_f32(&t)[1] == -8, "F32 values");
    sr_tensor_free(&t);

    sr_status rc = sr_st_load(&st, sr_st_find(&st, "d"), SR_I64, &t, err);
    CHECK(rc == SR_ERUN && strstr(err, "mixed.safetensors: expected integer data, found "
                                       "floating-point dtype F64 (key 'd')"),
          "F64 as I64: %s", err);
    rc = sr_st_load(&st, sr_st_find(&st, "l"), SR_F32, &t, err);
    CHECK(rc == SR_ERUN && strstr(err, "found integer dtype I64 (key 'l')"), "I64 as F32: %s",
          err);
    sr_st_close(&st);

    if (sr_st_open(&st, FIXDIR "/f8.safetensors", err)) {
        CHECK(0, "%s", err);
        return;
    }
    rc = sr_st_load(&st, sr_st_find(&st, "q"), SR_F32, &t, err);
    CHECK(rc == SR_ERUN && strstr(err, "unsupported dtype F8_E4M3 (key 'q')"), "F8: %s", err);
    sr_st_close(&st);
}

int main(void)
{
    test_malformed();
    test_accepts();
    test_mutations();
    test_write_golden();
    test_round_trip();
    test_fixtures();
    return unit_summary();
}
