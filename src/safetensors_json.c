/*
 * safetensors_json.c - the safetensors header's JSON: a strict syntax pass
 * (so that a malformed file is reported as malformed JSON rather than as
 * whatever field the schema walk happened to reach) and the string and
 * integer values the schema walk (safetensors.c) reads from text the syntax
 * pass accepted; neither builds a JSON tree.  Also the string helpers the
 * reader and the writer share.
 */
#include "safetensors_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64 /* bounds the syntax pass's recursion */

/* Keys come from the file: bound them and escape control bytes so that a
 * hostile header cannot garble the terminal through an error message. */
const char *st_quote(char *buf, const char *s)
{
    size_t k = 0;
    for (; *s && k + 8 < ST_KEYLEN; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            k += (size_t)snprintf(buf + k, ST_KEYLEN - k, "\\x%02x", c);
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
size_t st_utf8_check(const unsigned char *s, size_t n)
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

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A string that occurs twice in v[0..n), or NULL; *failed on OOM. */
const char *st_find_dup(char *const *v, int n, int *failed)
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

/* ---- syntax ----------------------------------------------------------------- */

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

sr_status st_json_syntax(jp *p)
{
    sr_status rc = syn_value(p, 0);
    if (rc)
        return rc;
    ws(p);
    if (p->i < p->n)
        return jerr(p, "unexpected data after the JSON object");
    return SR_OK;
}

/* ---- values, on text the syntax pass accepted ------------------------------- */

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
char *st_json_string(jp *p)
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

/* A non-negative integer without fraction or exponent, as the reference
 * reader's usize fields require. */
int st_json_uint(jp *p, uint64_t *v)
{
    int c = peek(p);
    if (c != '-' && !isdig(c))
        return ST_NUM_NOTNUM;
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
        return ST_NUM_NOTINT;
    if (neg)
        return p->i - start == 2 && x == 0 ? ST_NUM_NOTINT : ST_NUM_NEG;
    *v = x;
    return big ? ST_NUM_BIG : ST_NUM_OK;
}

