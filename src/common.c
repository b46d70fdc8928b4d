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

static char *dup_or_null(const char *s) { return s ? sr_strdup(s) : NULL; }

static void diag_clear(sr_diag *g)
{
    free(g->file);
    free(g->layer);
    free(g->type);
    free(g->msg);
    free(g->hint);
    free(g->text);
}

char *sr_diag_format(const sr_diag *g, char *buf, size_t len)
{
    size_t k = 0;
#define PUT(...) (k += k < len ? (size_t)snprintf(buf + k, len - k, __VA_ARGS__) : 0)
    buf[0] = '\0';
    if (g->file && g->line > 0)
        PUT("%s:%d:%d: ", g->file, g->line, g->col);
    else if (g->file)
        PUT("%s: ", g->file);
    if (g->layer && g->type)
        PUT("layer %s (%s): ", g->layer, g->type);
    else if (g->layer)
        PUT("layer %s: ", g->layer);
    if (g->sev == SR_SEV_WARNING)
        PUT("warning: ");
    PUT("%s", g->msg ? g->msg : "");
    if (g->hint)
        PUT("; hint: %s", g->hint);
#undef PUT
    return buf;
}

/* 0 if d has room for one more item (growing it if need be). */
static int diags_room(sr_diags *d)
{
    if (d->n < d->cap)
        return 0;
    int cap = d->cap ? d->cap * 2 : 8;
    sr_diag *p = realloc(d->item, (size_t)cap * sizeof *p);
    if (!p)
        return -1;
    d->item = p;
    d->cap = cap;
    return 0;
}

/* A problem that memory did not let d keep: counted, and the first error's
 * text kept in d->lost, which needs no allocation. */
static void diag_lose(sr_diags *d, sr_severity sev, const char *text)
{
    d->dropped++;
    if (sev == SR_SEV_ERROR && !d->lost[0])
        snprintf(d->lost, sizeof d->lost, "%s", text);
}

static void diag_push(sr_diags *d, sr_severity sev, const char *file, int line, int col, const char *layer,
                      const char *type, const char *text)
{
    if (d->n >= SR_DIAGS_MAX) {
        d->dropped++;
        return;
    }
    /* The line as it will be printed (the hint still inside msg renders the
     * same; the casts drop a const no one writes through), formatted before
     * anything is allocated: kept in d->lost if the list cannot keep g. */
    sr_diag whole = {.sev = sev, .file = (char *)file, .line = line, .col = col, .layer = (char *)layer,
                     .type = (char *)type, .msg = (char *)text};
    char line_text[2 * SR_ERRLEN];
    sr_diag_format(&whole, line_text, sizeof line_text);
    if (diags_room(d) < 0) {
        diag_lose(d, sev, line_text);
        return;
    }
    sr_diag g = {.sev = sev, .line = line, .col = col};
    const char *h = strstr(text, "; hint: ");
    g.msg = h ? malloc((size_t)(h - text) + 1) : sr_strdup(text);
    if (g.msg && h) {
        memcpy(g.msg, text, (size_t)(h - text));
        g.msg[h - text] = '\0';
    }
    g.hint = h ? sr_strdup(h + 8) : NULL;
    g.file = dup_or_null(file);
    g.layer = dup_or_null(layer);
    g.type = dup_or_null(type);
    g.text = sr_strdup(line_text); /* what sr_diag_format(&g) gives */
    if (!g.msg || !g.text || (h && !g.hint) || (file && !g.file) || (layer && !g.layer) || (type && !g.type)) {
        diag_clear(&g);
        diag_lose(d, sev, line_text);
        return;
    }
    d->item[d->n++] = g;
}

void sr_diag_add(sr_diags *d, const char *fmt, ...)
{
    char buf[SR_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    diag_push(d, SR_SEV_ERROR, NULL, 0, 0, NULL, NULL, buf);
}

void sr_diag_at(sr_diags *d, sr_severity sev, const char *file, int line, int col, const char *layer,
                const char *type, const char *fmt, ...)
{
    char buf[SR_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    diag_push(d, sev, file, line, col, layer, type, buf);
}

void sr_diags_move(sr_diags *d, sr_diags *src)
{
    for (int i = 0; i < src->n; i++) {
        if (d->n >= SR_DIAGS_MAX) {
            d->dropped += src->n - i;
            break;
        }
        if (diags_room(d) < 0) {
            for (; i < src->n; i++)
                diag_lose(d, src->item[i].sev, src->item[i].text);
            break;
        }
        d->item[d->n++] = src->item[i];
        memset(&src->item[i], 0, sizeof src->item[i]);
    }
    d->dropped += src->dropped;
    if (!d->lost[0])
        memcpy(d->lost, src->lost, sizeof d->lost);
    sr_diags_free(src);
}

int sr_diags_errors(const sr_diags *d)
{
    int n = 0;
    for (int i = 0; i < d->n; i++)
        n += d->item[i].sev == SR_SEV_ERROR;
    return n;
}

void sr_diags_free(sr_diags *d)
{
    for (int i = 0; i < d->n; i++)
        diag_clear(&d->item[i]);
    free(d->item);
    d->item = NULL;
    d->n = d->cap = 0;
    d->dropped = 0;
    d->lost[0] = '\0';
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
