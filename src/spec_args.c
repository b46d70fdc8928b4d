/*
 * spec_args.c - a layer's (or an init: scheme's) arguments, as the spec
 * gives them, bound to its argument table: by name or by position, each
 * value checked against the argument's types, defaults filled in.
 */
#include "spec_read.h"

#include <stdio.h>
#include <string.h>

static const char *type_word(unsigned types)
{
    if ((types & SR_T_TUPLE) && (types & SR_T_FLOAT))
        return "a number or a list of numbers";
    if (types & SR_T_TUPLE)
        return types & SR_T_STR ? "an integer, a list of integers or a string" : "an integer or a list of integers";
    if (types & SR_T_STR)
        return "a string";
    if (types & SR_T_FLOAT)
        return "a number";
    if (types & SR_T_INT)
        return "an integer";
    if (types & SR_T_BOOL)
        return "a boolean (true or false)";
    return "nothing";
}

/* A value of a kind def does not take: what it must be, what it is. */
static int wrong_kind(const sr_argdef *def, const ynode *n, char *err, size_t errlen)
{
    unsigned ty = def->types;
    snprintf(err, errlen, "argument '%s' must be %s%s, got %s%s%s%s", def->name, type_word(ty),
             ty & SR_T_NONE ? " or null" : "", spec_kind_name(n),
             n->kind == Y_SCALAR ? " '" : "", n->kind == Y_SCALAR ? n->value : "",
             n->kind == Y_SCALAR ? "'" : "");
    if ((ty & SR_T_BOOL) && n->kind == Y_SCALAR && spec_is_str(n))
        snprintf(err + strlen(err), errlen - strlen(err), "; hint: write true or false");
    return -1;
}

/* A list for a tuple argument: of its declared length (if any), each item
 * an integer, or a number or null where the types allow. */
static int bind_tuple(const sr_argdef *def, const ynode *n, sr_argval *v, char *err, size_t errlen)
{
    unsigned ty = def->types;
    if (n->n > SR_MAXDIM) {
        snprintf(err, errlen, "argument '%s' has %d items; at most %d are supported", def->name, n->n, SR_MAXDIM);
        return -1;
    }
    if (def->tlen && n->n != def->tlen) {
        snprintf(err, errlen, "argument '%s' needs %d values, got %d; hint: give one integer for all, or a list of %d",
                 def->name, def->tlen, n->n, def->tlen);
        return -1;
    }
    v->kind = SR_AV_TUPLE;
    v->n = n->n;
    for (int k = 0; k < n->n; k++) {
        ynode *it = yderef(n->item[k]);
        long long i = 0;
        double f;
        yscalar ys = it->kind == Y_SCALAR ? yresolve(it, &i, &f) : YS_STR;
        if (ys == YS_NULL && (ty & SR_T_TNONE)) {
            v->tnone[k] = 1;
            continue;
        }
        if (ys == YS_FLOAT && (ty & SR_T_FLOAT)) {
            v->tf[k] = f;
            v->tfloat = 1;
            continue;
        }
        if (ys != YS_INT) {
            snprintf(err, errlen, "argument '%s' item %d must be %s%s, got %s", def->name, k + 1,
                     ty & SR_T_FLOAT ? "a number" : "an integer", ty & SR_T_TNONE ? " or null" : "",
                     spec_kind_name(it));
            return -1;
        }
        v->t[k] = i;
        v->tf[k] = (double)i;
    }
    return 0;
}

/* A string argument: one whole entry of def's choices ("a|b|c"). */
static int bind_choice(const sr_argdef *def, const ynode *n, sr_argval *v, char *err, size_t errlen)
{
    size_t len = strlen(n->value);
    for (const char *c = len < sizeof v->s ? def->choices : NULL; c && *c;) {
        const char *bar = strchr(c, '|');
        size_t cl = bar ? (size_t)(bar - c) : strlen(c);
        if (cl == len && strncmp(c, n->value, len) == 0) {
            v->kind = SR_AV_STR;
            memcpy(v->s, n->value, len + 1);
            return 0;
        }
        c = bar ? bar + 1 : NULL;
    }
    snprintf(err, errlen, "argument '%s' must be one of %s, got '%.40s'", def->name,
             def->choices ? def->choices : "(none)", n->value);
    return -1;
}

/* A scalar: null, a boolean, an integer, a number or a string, each where
 * def's types allow it (an integer also stands for a number, or for a
 * tuple of that value repeated). */
static int bind_scalar(const sr_argdef *def, const ynode *n, sr_argval *v, char *err, size_t errlen)
{
    unsigned ty = def->types;
    long long i = 0;
    double f = 0;
    switch (yresolve(n, &i, &f)) {
    case YS_NULL:
        if (!(ty & SR_T_NONE))
            break;
        v->kind = SR_AV_NONE;
        return 0;
    case YS_BOOL:
        if (!(ty & SR_T_BOOL))
            break;
        v->kind = SR_AV_BOOL;
        v->i = i;
        return 0;
    case YS_BADINT:
        snprintf(err, errlen, "argument '%s': integer %s is out of range", def->name, n->value);
        return -1;
    case YS_INT:
        if (ty & (SR_T_INT | SR_T_TUPLE)) {
            v->kind = SR_AV_INT;
            v->i = i;
            v->f = (double)i;
            return 0;
        }
        if (!(ty & SR_T_FLOAT))
            break;
        v->kind = SR_AV_FLOAT;
        v->f = (double)i;
        return 0;
    case YS_FLOAT:
        if (!(ty & SR_T_FLOAT))
            break;
        v->kind = SR_AV_FLOAT;
        v->f = f;
        return 0;
    case YS_STR:
        if (!(ty & SR_T_STR))
            break;
        return bind_choice(def, n, v, err, errlen);
    }
    return wrong_kind(def, n, err, errlen);
}

/* Converts one YAML value to an argument of def's type; message in err. */
static int bind_value(const sr_argdef *def, ynode *vn, sr_argval *v, char *err, size_t errlen)
{
    ynode *n = yderef(vn);
    memset(v, 0, sizeof *v);
    if (n->kind == Y_SEQ && (def->types & SR_T_TUPLE))
        return bind_tuple(def, n, v, err, errlen);
    if (n->kind != Y_SCALAR)
        return wrong_kind(def, n, err, errlen);
    return bind_scalar(def, n, v, err, errlen);
}

/* spec_read.h says what it does. */
int spec_bind_args(reader *r, ynode *at, const sr_argdef *defs, int ndefs,
                     ynode *args, sr_argval *out, int *given)
{
    char msg[SR_ERRLEN];
    int ok = 1;
    memset(given, 0, sizeof(int) * (size_t)ndefs);
    ynode *a = yderef(args);
    if (!a) {
        /* no arguments */
    } else if (a->kind == Y_MAP) {
        for (int k = 0; k < a->n; k++) {
            ynode *key = yderef(a->item[2 * k]);
            ynode *val = a->item[2 * k + 1];
            if (key->kind != Y_SCALAR || !spec_is_str(key)) {
                spec_diag(r, key, "argument names must be strings, got %s", spec_kind_name(key));
                ok = 0;
                continue;
            }
            int idx = -1;
            for (int j = 0; j < ndefs; j++)
                if (strcmp(defs[j].name, key->value) == 0)
                    idx = j;
            if (idx < 0) {
                const char *names[SR_MAXARGS];
                for (int j = 0; j < ndefs && j < SR_MAXARGS; j++)
                    names[j] = defs[j].name;
                const char *near = sr_closest(key->value, names, ndefs < SR_MAXARGS ? ndefs : SR_MAXARGS);
                char sig[256] = "";
                size_t k2 = 0;
                for (int j = 0; j < ndefs && k2 < sizeof sig; j++)
                    k2 += (size_t)snprintf(sig + k2, sizeof sig - k2, "%s%s", j ? ", " : "", defs[j].name);
                if (near)
                    spec_diag(r, key, "unknown argument '%s'; hint: did you mean '%s'?", key->value, near);
                else
                    spec_diag(r, key, "unknown argument '%s'; hint: the arguments are %s", key->value,
                         ndefs ? sig : "(none)");
                ok = 0;
                continue;
            }
            if (given[idx]) {
                spec_diag(r, key, "argument '%s' given twice", key->value);
                ok = 0;
                continue;
            }
            given[idx] = 1;
            if (bind_value(&defs[idx], val, &out[idx], msg, sizeof msg) < 0) {
                spec_diag(r, yderef(val), "%s", msg);
                ok = 0;
            }
        }
    } else {
        int nitems = a->kind == Y_SEQ ? a->n : 1;
        if (nitems > ndefs) {
            spec_diag(r, a, "takes at most %d positional argument%s, got %d", ndefs,
                 ndefs == 1 ? "" : "s", nitems);
            return 0;
        }
        for (int k = 0; k < nitems; k++) {
            ynode *val = a->kind == Y_SEQ ? a->item[k] : a;
            given[k] = 1;
            if (bind_value(&defs[k], val, &out[k], msg, sizeof msg) < 0) {
                spec_diag(r, yderef(val), "%s", msg);
                ok = 0;
            }
        }
    }
    for (int j = 0; j < ndefs; j++) {
        if (given[j])
            continue;
        if (!defs[j].def) {
            spec_diag(r, at, "missing required argument '%s'", defs[j].name);
            ok = 0;
        } else {
            sr_argval_parse_default(defs[j].def, &out[j]);
        }
    }
    return ok;
}

