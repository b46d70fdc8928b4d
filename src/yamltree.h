/*
 * yamltree.h - a YAML document as a tree that keeps what libyaml's own
 * document API loses: where each alias was written.  An alias is a node of
 * its own (kind Y_ALIAS) pointing at its anchored target, so the spec reader
 * can tell "the same module again" from "a copy of these values", and report
 * a reused module at the alias's line:col.
 */
#ifndef SR_YAMLTREE_H
#define SR_YAMLTREE_H

#include <stddef.h>
#include "common.h"

typedef enum { Y_SCALAR, Y_SEQ, Y_MAP, Y_ALIAS } ykind;

typedef struct ynode ynode;
struct ynode {
    ykind kind;
    int line, col;          /* 1-based */
    char *value;            /* Y_SCALAR */
    int plain;              /* scalar was unquoted and untagged: resolve it */
    int str_tag;            /* explicit !!str */
    ynode **item;           /* Y_SEQ items; Y_MAP keys and values interleaved */
    int n;                  /* Y_SEQ: items; Y_MAP: pairs */
    int cap;
    ynode *target;          /* Y_ALIAS */
    void *built;            /* spec reader's cache: the module built from it */
    ynode *next_alloc;
};

typedef struct {
    ynode *root;
    ynode *all;             /* every node, for freeing */
    int count;
} ytree;

#define YTREE_MAX_DEPTH 64
#define YTREE_MAX_NODES 1000000

/* Parses one YAML document.  On failure returns SR_EUSAGE with
 * "LABEL:LINE:COL: message" in err. */
sr_status ytree_parse(ytree *t, const char *text, size_t len, const char *label, char *err);
void ytree_free(ytree *t);

/* Follows aliases. */
static inline ynode * yderef(ynode *n)
{
    while (n && n->kind == Y_ALIAS)
        n = n->target;
    return n;
}

/* YAML 1.2 core schema resolution of a scalar. */
typedef enum { YS_NULL, YS_BOOL, YS_INT, YS_FLOAT, YS_STR, YS_BADINT } yscalar;
yscalar yresolve(const ynode *n, long long *i, double *f);

#endif
