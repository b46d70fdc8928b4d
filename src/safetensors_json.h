/*
 * safetensors_json.h - what safetensors.c (the reader), safetensors_json.c
 * (the header's JSON) and safetensors_write.c share.  Private to them.
 */
#ifndef SR_SAFETENSORS_JSON_H
#define SR_SAFETENSORS_JSON_H

#include "safetensors.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors*.c copy little-endian file data straight to and from host memory"
#endif

#define ST_KEYLEN 96 /* longest key quoted in a message */

/* A cursor over the header's JSON text; messages name path, into err. */
typedef struct {
    const unsigned char *s;
    size_t n, i;
    const char *path;
    char *err;
} jp;

static inline int peek(const jp *p) { return p->i < p->n ? p->s[p->i] : -1; }

static inline void ws(jp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

/* The whole header is one well-formed JSON value (strings strict UTF-8
 * with no \u0000, nesting bounded) and nothing after it; else SR_ERUN
 * with the byte offset.  The cursor ends at the end. */
sr_status st_json_syntax(jp *p);
/* The string at the cursor (which the syntax pass accepted), decoded into a
 * new C string; NULL only when out of memory. */
char *st_json_string(jp *p);
enum { ST_NUM_OK, ST_NUM_NEG, ST_NUM_NOTINT, ST_NUM_BIG, ST_NUM_NOTNUM };
/* A non-negative integer without fraction or exponent at the cursor into
 * *v: ST_NUM_OK, or why not. */
int st_json_uint(jp *p, uint64_t *v);

/* s for a message, bounded and with control bytes escaped, in buf. */
const char *st_quote(char *buf, const char *s); /* buf: ST_KEYLEN bytes */
/* Index of the first byte that breaks strict UTF-8 in s[0..n), or n. */
size_t st_utf8_check(const unsigned char *s, size_t n);
/* A string that occurs twice in v[0..n), or NULL; *failed when out of memory. */
const char *st_find_dup(char *const *v, int n, int *failed);

#endif
