/* yamltree.c - libyaml events to a tree with alias nodes and 1-based marks. */
#include "yamltree.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct {
    char *name;
    ynode *node;
} anchor;

/*
 * Anchors live in an open-addressing hash table keyed by name.  A linear
 * list made every alias a scan of every anchor, so a spec of 100000 anchors
 * and 100000 aliases (a few MB) took minutes to parse.
 */
typedef struct {
    ytree *t;
    anchor *anc;            /* hash slots; name NULL = empty */
    size_t nanc, capanc;    /* capanc is 0 or a power of two */
    const char *label;
    char *err;
} builder;

static ynode *new_node(builder *b, ykind k, yaml_mark_t m)
{
    if (b->t->count >= YTREE_MAX_NODES)
        return NULL;
    ynode *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = k;
    n->line = (int)m.line + 1;
    n->col = (int)m.column + 1;
    n->next_alloc = b->t->all;
    b->t->all = n;
    b->t->count++;
    return n;
}

static int push_item(ynode *parent, ynode *child)
{
    if (parent->n == parent->cap) {
        int cap = parent->cap ? parent->cap * 2 : 4;
        ynode **p = realloc(parent->item, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        parent->item = p;
        parent->cap = cap;
    }
    parent->item[parent->n++] = child;
    return 0;
}

static sr_status fail(builder *b, yaml_mark_t m, const char *msg, const char *arg)
{
    return sr_err(b->err, SR_EUSAGE, "%s:%d:%d: %s%s", b->label, (int)m.line + 1,
                  (int)m.column + 1, msg, arg ? arg : "");
}

static size_t hash_name(const char *s)
{
    size_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The slot holding name, or the empty slot where it would go. */
static anchor *anchor_slot(anchor *tab, size_t cap, const char *name)
{
    size_t i = hash_name(name) & (cap - 1);
    while (tab[i].name && strcmp(tab[i].name, name) != 0)
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static sr_status add_anchor(builder *b, const unsigned char *name, ynode *n)
{
    if (2 * (b->nanc + 1) > b->capanc) {
        size_t cap = b->capanc ? 2 * b->capanc : 64;
        anchor *tab = calloc(cap, sizeof *tab);
        if (!tab)
            return sr_err(b->err, SR_ERUN, "out of memory");
        for (size_t i = 0; i < b->capanc; i++)
            if (b->anc[i].name)
                *anchor_slot(tab, cap, b->anc[i].name) = b->anc[i];
        free(b->anc);
        b->anc = tab;
        b->capanc = cap;
    }
    anchor *a = anchor_slot(b->anc, b->capanc, (const char *)name);
    if (a->name) {
        a->node = n; /* a redefined anchor: the latest definition wins, as YAML says */
        return SR_OK;
    }
    if (!(a->name = sr_strdup((const char *)name)))
        return sr_err(b->err, SR_ERUN, "out of memory");
    a->node = n;
    b->nanc++;
    return SR_OK;
}

static ynode *find_anchor(builder *b, const unsigned char *name)
{
    if (!b->capanc)
        return NULL;
    return anchor_slot(b->anc, b->capanc, (const char *)name)->node;
}

/* The parser's stack of open collections, with their pending anchors. */
typedef struct {
    ynode *node[YTREE_MAX_DEPTH + 1];
    char *anchor[YTREE_MAX_DEPTH + 1];
    int depth, docs, done;
} open_stack;

#define YT_TOO_LARGE "document too large (more than 1000000 nodes)"

/* new_node failed: the node cap (an invalid spec), or memory (exit 1). */
static sr_status node_failed(builder *b, yaml_mark_t m)
{
    if (b->t->count >= YTREE_MAX_NODES)
        return fail(b, m, YT_TOO_LARGE, NULL);
    return sr_err(b->err, SR_ERUN, "out of memory reading %s", b->label);
}

static sr_status on_scalar(builder *b, yaml_event_t *ev, ynode **out, const unsigned char **anc)
{
    ynode *n = *out = new_node(b, Y_SCALAR, ev->start_mark);
    if (!n)
        return node_failed(b, ev->start_mark);
    n->value = malloc(ev->data.scalar.length + 1);
    if (!n->value)
        return sr_err(b->err, SR_ERUN, "out of memory reading %s", b->label);
    memcpy(n->value, ev->data.scalar.value, ev->data.scalar.length);
    n->value[ev->data.scalar.length] = '\0';
    if (strlen(n->value) != ev->data.scalar.length)
        return fail(b, ev->start_mark, "NUL character in a scalar", NULL);
    n->plain = ev->data.scalar.plain_implicit && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (ev->data.scalar.tag) {
        const char *tag = (const char *)ev->data.scalar.tag;
        n->plain = strcmp(tag, YAML_STR_TAG) != 0 && strcmp(tag, "!") != 0;
        n->str_tag = !n->plain;
    }
    *anc = ev->data.scalar.anchor;
    return SR_OK;
}

static sr_status on_open(builder *b, yaml_event_t *ev, open_stack *os, ynode **out)
{
    if (os->depth >= YTREE_MAX_DEPTH)
        return fail(b, ev->start_mark, "nesting is too deep (more than 64 levels)", NULL);
    int seq = ev->type == YAML_SEQUENCE_START_EVENT;
    ynode *n = *out = new_node(b, seq ? Y_SEQ : Y_MAP, ev->start_mark);
    if (!n)
        return node_failed(b, ev->start_mark);
    os->anchor[os->depth] = NULL;
    const unsigned char *anc = seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
    /* registered when the node ends, so it cannot contain itself */
    if (anc && !(os->anchor[os->depth] = sr_strdup((const char *)anc)))
        return sr_err(b->err, SR_ERUN, "out of memory reading %s", b->label);
    return SR_OK;
}

static sr_status on_close(builder *b, open_stack *os, ynode **out)
{
    sr_status st = SR_OK;
    os->depth--;
    ynode *n = *out = os->node[os->depth];
    if (os->anchor[os->depth]) {
        st = add_anchor(b, (unsigned char *)os->anchor[os->depth], n);
        free(os->anchor[os->depth]);
        os->anchor[os->depth] = NULL;
    }
    if (n->kind == Y_MAP)
        n->n /= 2;
    return st;
}

/* One parser event into the tree. */
static sr_status on_event(builder *b, yaml_event_t *ev, open_stack *os)
{
    ynode *n = NULL;
    const unsigned char *anc = NULL;
    sr_status st = SR_OK;
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        os->done = 1;
        return SR_OK;
    case YAML_DOCUMENT_START_EVENT:
        if (++os->docs > 1)
            return fail(b, ev->start_mark, "a model spec is one YAML document; found a second '---'", NULL);
        return SR_OK;
    case YAML_SCALAR_EVENT:
        st = on_scalar(b, ev, &n, &anc);
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        st = on_open(b, ev, os, &n);
        break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        st = on_close(b, os, &n);
        break;
    case YAML_ALIAS_EVENT: {
        ynode *target = find_anchor(b, ev->data.alias.anchor);
        if (!target)
            return fail(b, ev->start_mark, "unknown or unfinished anchor: *", (const char *)ev->data.alias.anchor);
        if (!(n = new_node(b, Y_ALIAS, ev->start_mark)))
            return node_failed(b, ev->start_mark);
        n->target = target;
        break;
    }
    default:
        return SR_OK;
    }
    if (st == SR_OK && anc)
        st = add_anchor(b, anc, n);
    if (st != SR_OK || !n)
        return st;
    if (ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT)
        os->node[os->depth++] = n;
    else if (os->depth == 0)
        b->t->root = n;
    else if (push_item(os->node[os->depth - 1], n) < 0)
        return sr_err(b->err, SR_ERUN, "out of memory reading %s", b->label);
    return SR_OK;
}

sr_status ytree_parse(ytree *t, const char *text, size_t len, const char *label, char *err)
{
    memset(t, 0, sizeof *t);
    builder b = {.t = t, .label = label, .err = err};
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return sr_err(err, SR_ERUN, "out of memory reading %s", label);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    open_stack os = {0};
    sr_status st = SR_OK;
    while (!os.done && st == SR_OK) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            if (p.error == YAML_MEMORY_ERROR) /* not the spec's fault: exit 1 */
                st = sr_err(err, SR_ERUN, "out of memory reading %s", label);
            else
                st = sr_err(err, SR_EUSAGE, "%s:%d:%d: invalid YAML: %s%s%s", label,
                            (int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1,
                            p.problem ? p.problem : "syntax error", p.context ? " " : "", p.context ? p.context : "");
            break;
        }
        st = on_event(&b, &ev, &os);
        yaml_event_delete(&ev);
    }
    /* On an early exit, anchors still pending on the stack must be freed. */
    for (int i = 0; i < os.depth; i++)
        free(os.anchor[i]);
    for (size_t i = 0; i < b.capanc; i++)
        free(b.anc[i].name);
    free(b.anc);
    yaml_parser_delete(&p);
    if (st != SR_OK)
        ytree_free(t);
    return st;
}

void ytree_free(ytree *t)
{
    ynode *n = t->all;
    while (n) {
        ynode *next = n->next_alloc;
        free(n->value);
        free(n->item);
        free(n);
        n = next;
    }
    memset(t, 0, sizeof *t);
}

static int all_digits(const char *s, int base)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        int c = *s;
        int ok = base == 8 ? (c >= '0' && c <= '7')
               : base == 16 ? ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
                            : (c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

static int is_core_float(const char *s)
{
    /* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
    if (*s == '-' || *s == '+')
        s++;
    int digits = 0;
    while (*s >= '0' && *s <= '9')
        s++, digits++;
    if (*s == '.') {
        s++;
        int frac = 0;
        while (*s >= '0' && *s <= '9')
            s++, frac++;
        if (!digits && !frac)
            return 0;
    } else if (!digits) {
        return 0;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

yscalar yresolve(const ynode *n, long long *i, double *f)
{
    const char *s = n->value;
    if (!n->plain)
        return YS_STR;
    if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        return YS_NULL;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
        *i = 1;
        return YS_BOOL;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
        *i = 0;
        return YS_BOOL;
    }
    int base = 10;
    const char *digits = s;
    if (s[0] == '0' && s[1] == 'o')
        base = 8, digits = s + 2;
    else if (s[0] == '0' && s[1] == 'x')
        base = 16, digits = s + 2;
    else if (*s == '-' || *s == '+')
        digits = s + 1;
    if (all_digits(digits, base)) {
        errno = 0;
        char *end;
        long long v = strtoll(base == 10 ? s : digits, &end, base);
        if (errno == ERANGE)
            return YS_BADINT;
        *i = v;
        *f = (double)v;
        return YS_INT;
    }
    if (is_core_float(s)) {
        *f = strtod(s, NULL);
        return YS_FLOAT;
    }
    const char *t = s;
    int neg = 0;
    if (*t == '-' || *t == '+')
        neg = *t++ == '-';
    if (!strcmp(t, ".inf") || !strcmp(t, ".Inf") || !strcmp(t, ".INF")) {
        *f = neg ? -INFINITY : INFINITY;
        return YS_FLOAT;
    }
    if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")) {
        *f = NAN;
        return YS_FLOAT;
    }
    return YS_STR;
}
