/*
 * spec_read.h - what the two files that read a model spec share (spec.c:
 * the spec's structure and its layers; spec_args.c: binding a layer's or
 * an init: scheme's arguments).  Private to them.
 */
#ifndef SR_SPEC_READ_H
#define SR_SPEC_READ_H

#include "model.h"
#include "yamltree.h"

typedef struct {
    sr_model *m;
    sr_diags *d;
    int failed;
    int nwalk;
    int too_many;   /* the module cap was hit (reported once) */
    /* What diag() reports about: a layer (its state_dict path and type,
     * type NULL while it is unknown), or an init: rule's prefix. */
    const char *layer, *type, *who;
    int oom;        /* memory ran out: exit 1, not an invalid spec */
} reader;

/* Reports a problem at a spec node (as the layer or init: rule being read,
 * if any) and marks the spec failed; "out of memory..." marks it oom. */
void spec_diag(reader *r, const ynode *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "a list", "a mapping", "an integer", ... for messages. */
const char *spec_kind_name(const ynode *n);
/* 1 if n is a scalar that resolves to a string. */
int spec_is_str(const ynode *n);

/*
 * Binds ARGS (a mapping, a sequence or a scalar, as the contract says) to
 * the argument table defs, then fills defaults.  Shared by layers and by
 * init: schemes.  Returns 1 if every argument bound (else each problem is
 * reported at its node).
 */
int spec_bind_args(reader *r, ynode *at, const sr_argdef *defs, int ndefs, ynode *args, sr_argval *out,
                   int *given);

#endif
