/* common.c - error formatting, diagnostic lists, allocation wrappers. */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sr_status sr_err(char *err, sr_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, SR_ERRLEN, fmt, ap);
        va_end(ap);
    }
    return status;
}

void sr_diag_add(sr_diags *d, const char *fmt, ...)
{
    char buf[SR_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 8;
        char **p = realloc(d->line, (size_t)cap * sizeof *p);
        if (!p)
            return; /* dropping a diagnostic beats crashing while reporting */
        d->line = p;
        d->cap = cap;
    }
    char *s = sr_strdup(buf);
    if (s)
        d->line[d->n++] = s;
}

void sr_diags_free(sr_diags *d)
{
    for (int i = 0; i < d->n; i++)
        free(d->line[i]);
    free(d->line);
    d->line = NULL;
    d->n = d->cap = 0;
}

void *sr_xmalloc(size_t n) { return malloc(n ? n : 1); }

void *sr_xcalloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }

char *sr_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}
