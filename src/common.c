/* common.c - error formatting, diagnostic lists, allocation wrappers. */
#include "common.h"

#include <ctype.h>
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

static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    int row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int prev = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cur = row[j];
            int v = prev + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            if (row[j] + 1 < v)
                v = row[j] + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            row[j] = v;
            prev = cur;
        }
    }
    return row[lb];
}

const char *sr_closest(const char *s, const char *const *names, int n)
{
    const char *best = NULL;
    int bd = 99;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(s, names[i]);
        if (d < bd)
            bd = d, best = names[i];
    }
    size_t len = strlen(s);
    return bd <= (len < 5 ? 1 : len < 9 ? 2 : 3) ? best : NULL;
}
