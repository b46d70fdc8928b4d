/*
 * table.c - every layer type seqrun knows, as PyTorch 1.13 defines it.
 *
 * Argument lists are PyTorch's constructor signatures in order (device and
 * dtype factory arguments left out), with the defaults spelled as Python
 * spells them, so --help and the man page print the signature a PyTorch user
 * already knows.
 */
#include "layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The table, in layers.def's order; each row is defined in its family's file. */
const sr_layertype *const sr_layer_types[SR_L_COUNT] = {
#define SR_LAYER(name) [SR_L_##name] = &sr_row_##name,
#include "layers.def"
#undef SR_LAYER
};
_Static_assert(sizeof sr_layer_types / sizeof *sr_layer_types == SR_L_COUNT, "one row per line of layers.def");

const sr_layertype *sr_layertype_find(const char *name)
{
    /* "nn.Linear" and "torch.nn.Linear" are how a PyTorch user may write it */
    if (strncmp(name, "torch.", 6) == 0)
        name += 6;
    if (strncmp(name, "nn.", 3) == 0)
        name += 3;
    for (int i = 0; i < sr_nlayer_types; i++)
        if (strcmp(sr_layer_types[i]->name, name) == 0)
            return sr_layer_types[i];
    return NULL;
}

const char *sr_layertype_suggest(const char *name)
{
    const char *names[SR_L_COUNT];
    for (int i = 0; i < sr_nlayer_types; i++)
        names[i] = sr_layer_types[i]->name;
    return sr_closest(name, names, sr_nlayer_types);
}

int sr_arg_index(const sr_layertype *t, const char *name)
{
    for (int i = 0; i < t->nargs; i++)
        if (strcmp(t->args[i].name, name) == 0)
            return i;
    return -1;
}

void sr_arg_tuple(const sr_layer *L, int k, int n, int64_t *out)
{
    const sr_argval *v = &L->arg[k];
    for (int i = 0; i < n; i++)
        out[i] = v->kind == SR_AV_TUPLE ? (i < v->n ? v->t[i] : v->t[v->n - 1]) : v->i;
}

void sr_argval_parse_default(const char *def, sr_argval *v)
{
    memset(v, 0, sizeof *v);
    if (!strcmp(def, "None")) {
        v->kind = SR_AV_NONE;
    } else if (!strcmp(def, "True") || !strcmp(def, "False")) {
        v->kind = SR_AV_BOOL;
        v->i = def[0] == 'T';
    } else if (def[0] == '\'') {
        v->kind = SR_AV_STR;
        snprintf(v->s, sizeof v->s, "%.*s", (int)strlen(def) - 2, def + 1);
    } else if (strpbrk(def, ".e")) {
        v->kind = SR_AV_FLOAT;
        v->f = strtod(def, NULL);
    } else {
        v->kind = SR_AV_INT;
        v->i = strtoll(def, NULL, 10);
        v->f = (double)v->i;
    }
}

/* A float as Python's repr() writes it: the shortest digits that read back
 * to the same double, positional from 1e-4 to 1e16 with ".0" when whole,
 * scientific otherwise ("1e-05"). */
static void py_float(double f, char *buf, size_t len)
{
    if (f != f) {
        snprintf(buf, len, "nan");
        return;
    }
    if (f == 1.0 / 0.0 || f == -1.0 / 0.0) {
        snprintf(buf, len, f > 0 ? "inf" : "-inf");
        return;
    }
    char e[40];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, f);
        if (strtod(e, NULL) == f)
            break;
    }
    snprintf(e, sizeof e, "%.*e", prec - 1, f);
    int exp = atoi(strchr(e, 'e') + 1);
    if (exp < -4 || exp >= 16) {
        /* "1.5e-05": C already writes at least two exponent digits */
        char *m = e, *x = strchr(e, 'e');
        *x = '\0';
        snprintf(buf, len, "%se%c%s", m, x[1], x + 2);
        return;
    }
    int dec = prec - 1 - exp;
    snprintf(buf, len, "%.*f", dec > 0 ? dec : 0, f);
    if (!strchr(buf, '.') && strlen(buf) + 2 < len)
        strcat(buf, ".0");
}

void sr_argval_repr(const sr_argval *v, char *buf, size_t len)
{
    switch (v->kind) {
    case SR_AV_NONE: snprintf(buf, len, "None"); break;
    case SR_AV_BOOL: snprintf(buf, len, v->i ? "True" : "False"); break;
    case SR_AV_INT: snprintf(buf, len, "%lld", (long long)v->i); break;
    case SR_AV_FLOAT: py_float(v->f, buf, len); break;
    case SR_AV_STR: snprintf(buf, len, "'%s'", v->s); break;
    case SR_AV_TUPLE: {
        size_t k = (size_t)snprintf(buf, len, "(");
        for (int i = 0; i < v->n && k < len; i++) {
            if (v->tnone[i]) {
                k += (size_t)snprintf(buf + k, len - k, "%sNone", i ? ", " : "");
            } else if (v->tfloat) {
                char f[40];
                py_float(v->tf[i], f, sizeof f);
                k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? ", " : "", f);
            } else
                k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? ", " : "", (long long)v->t[i]);
        }
        if (k < len)
            snprintf(buf + k, len - k, v->n == 1 ? ",)" : ")");
        break;
    }
    }
}

static int argval_eq(const sr_argval *a, const sr_argval *b)
{
    if (a->kind != b->kind)
        return a->kind == SR_AV_FLOAT && b->kind == SR_AV_INT ? a->f == b->f
             : a->kind == SR_AV_INT && b->kind == SR_AV_FLOAT ? a->f == b->f : 0;
    switch (a->kind) {
    case SR_AV_NONE: return 1;
    case SR_AV_BOOL: case SR_AV_INT: return a->i == b->i;
    case SR_AV_FLOAT: return a->f == b->f;
    case SR_AV_STR: return !strcmp(a->s, b->s);
    case SR_AV_TUPLE: return a->n == b->n && !memcmp(a->t, b->t, sizeof a->t) && !memcmp(a->tnone, b->tnone, sizeof a->tnone) &&
                             !memcmp(a->tf, b->tf, sizeof a->tf);
    }
    return 0;
}

/* An int widened to an n-tuple, as PyTorch's _pair/_single store it. */
static sr_argval widen(sr_argval v, int n)
{
    if (n > 0 && v.kind == SR_AV_INT) {
        int64_t x = v.i;
        memset(&v, 0, sizeof v);
        v.kind = SR_AV_TUPLE;
        v.n = n;
        for (int k = 0; k < n; k++)
            v.t[k] = x;
    }
    return v;
}

static size_t repr_item(const sr_layer *L, const char *it, size_t il, int *first, char *buf, size_t len)
{
    const sr_layertype *t = L->type;
    char name[40], alt[40] = "";
    int positional = 0, when_set = 0, raw = 0, n = 0;
    if (il == 6 && !strncmp(it, "#@lazy", 6)) { /* the materialised size alone, positionally */
        size_t w = (size_t)snprintf(buf, len, "%s%lld", *first ? "" : ", ", (long long)(L->lazy_in < 0 ? 0 : L->lazy_in));
        *first = 0;
        return w;
    }
    if (il >= 6 && !strncmp(it, "@lazy=", 6)) {
        size_t w = (size_t)snprintf(buf, len, "%s%.*s=%lld", *first ? "" : ", ", (int)(il - 6), it + 6,
                                    (long long)(L->lazy_in < 0 ? 0 : L->lazy_in));
        *first = 0;
        return w;
    }
    if (*it == '"') {
        /* a literal: "mode=nearest" (UpsamplingNearest2d's fixed mode) */
        size_t n = il > 1 && it[il - 1] == '"' ? il - 2 : il - 1;
        size_t w = (size_t)snprintf(buf, len, "%s%.*s", *first ? "" : ", ", (int)n, it + 1);
        *first = 0;
        return w;
    }
    if (*it == '#')
        positional = 1, it++, il--;
    size_t k = 0;
    while (k < il && (it[k] == '_' || (it[k] >= 'a' && it[k] <= 'z')) && k + 1 < sizeof name)
        name[k] = it[k], k++;
    name[k] = '\0';
    for (; k < il; k++) {
        if (it[k] == '?')
            when_set = 1;
        else if (it[k] == '!')
            raw = 1;
        else if (it[k] == ':')
            n = atoi(it + k + 1);
        else if (it[k] == '|') {
            size_t a = 0;
            for (k++; k < il && a + 1 < sizeof alt && it[k] != ':'; k++)
                alt[a++] = it[k];
            alt[a] = '\0';
            k--;
        }
    }
    int ai = sr_arg_index(t, name);
    if (ai < 0)
        return 0;
    sr_argval v = L->arg[ai];
    if (v.kind == SR_AV_NONE && alt[0] && sr_arg_index(t, alt) >= 0)
        v = L->arg[sr_arg_index(t, alt)];
    v = widen(v, n);
    if (when_set && t->args[ai].def) {
        sr_argval dv;
        sr_argval_parse_default(t->args[ai].def, &dv);
        dv = widen(dv, n);
        if (argval_eq(&dv, &v))
            return 0;
    }
    char vs[160];
    if (raw && v.kind == SR_AV_STR)
        snprintf(vs, sizeof vs, "%s", v.s);
    else
        sr_argval_repr(&v, vs, sizeof vs);
    size_t w = (size_t)snprintf(buf, len, "%s%s%s%s", *first ? "" : ", ", positional ? "" : name,
                                positional ? "" : "=", vs);
    *first = 0;
    return w;
}

/* "Linear(in_features=2048, out_features=128, bias=True)" */
void sr_layer_repr(const sr_layer *L, char *buf, size_t len)
{
    const sr_layertype *t = L->type;
    size_t k = (size_t)snprintf(buf, len, "%s(", t->name);
    int first = 1;
    const char *fmt = t->repr;
    if (fmt) {
        while (*fmt && k < len) {
            size_t il = strcspn(fmt, ",");
            k += repr_item(L, fmt, il, &first, buf + k, len - k);
            fmt += il;
            while (*fmt == ',' || *fmt == ' ')
                fmt++;
        }
    } else {
        for (int i = 0; i < t->nargs && k < len; i++) {
            char v[96];
            const sr_argdef *d = &t->args[i];
            if (d->def) {
                sr_argval dv;
                sr_argval_parse_default(d->def, &dv);
                if (argval_eq(&dv, &L->arg[i]))
                    continue;
            }
            sr_argval_repr(&L->arg[i], v, sizeof v);
            k += (size_t)snprintf(buf + k, len - k, "%s%s=%s", first ? "" : ", ", d->name, v);
            first = 0;
        }
    }
    if (k < len)
        snprintf(buf + k, len - k, ")");
}

void sr_layertype_signature(const sr_layertype *t, char *buf, size_t len)
{
    if (t->nargs < 0) {
        snprintf(buf, len, "%s(*args, **kwargs)", t->name);
        return;
    }
    size_t k = (size_t)snprintf(buf, len, "%s(", t->name);
    for (int i = 0; i < t->nargs && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%s%s%s", i ? ", " : "", t->args[i].name,
                              t->args[i].def ? "=" : "", t->args[i].def ? t->args[i].def : "");
    if (k < len)
        snprintf(buf + k, len - k, ")");
}

/* ---- helpers shared by the shape rules ------------------------------------ */

int sr_norm_dim(int64_t dim, int ndim)
{
    if (dim < -ndim || dim >= ndim)
        return -1;
    return (int)(dim < 0 ? dim + ndim : dim);
}

const char *sr_from(const sr_shapeinfo *info, int input_too, char *buf, size_t len)
{
    if (info->prev)
        snprintf(buf, len, " (from %s)", info->prev);
    else
        snprintf(buf, len, "%s", input_too ? " (from the model's input)" : "");
    return buf;
}

int64_t sr_prod(const sr_shape *s, int a, int b)
{
    int64_t p = 1;
    for (int i = a; i < b; i++)
        p *= s->d[i];
    return p;
}

int64_t sr_fold_out_rows(const sr_layer *P, const double *scale, const double *shift, float *w, float *b)
{
    if (P->nparam < 1 || P->param[0].dtype != SR_F32 || P->param[0].shape.ndim < 1)
        return 0;
    int64_t C = P->param[0].shape.d[0], per = C ? sr_shape_numel(&P->param[0].shape) / C : 0;
    if (!scale)
        return C;
    const float *W = sr_f32(&P->param[0]);
    /* the producer's own bias, if it has one: param[1] of C values */
    const float *bias = P->nparam > 1 && P->param[1].dtype == SR_F32 && P->param[1].shape.ndim == 1 &&
                        P->param[1].shape.d[0] == C ? sr_f32(&P->param[1]) : NULL;
    for (int64_t o = 0; o < C; o++) {
        for (int64_t k = 0; k < per; k++)
            w[o * per + k] = (float)((double)W[o * per + k] * scale[o]);
        b[o] = (float)((bias ? (double)bias[o] : 0.0) * scale[o] + shift[o]);
    }
    return C;
}

int64_t sr_lazy_size(const sr_layer *L, sr_shapeinfo *info, int64_t seen)
{
    if (info->lazy) {
        if (*info->lazy < 0)
            *info->lazy = seen; /* materialised by the first input, as in PyTorch */
        return *info->lazy;
    }
    return L->lazy_in >= 0 ? L->lazy_in : seen;
}

int sr_layer_init(sr_layer *L, const sr_layertype *t)
{
    memset(L, 0, sizeof *L);
    L->type = t;
    L->lazy_in = -1;
    for (int i = 0; i < t->nargs; i++)
        if (t->args[i].def)
            sr_argval_parse_default(t->args[i].def, &L->arg[i]);
    if (t->cfg_size && !(L->cfg = calloc(1, t->cfg_size)))
        return -1;
    return 0;
}

void sr_layer_clear(sr_layer *L)
{
    for (int k = 0; k < SR_MAXPARAMS; k++)
        sr_tensor_free(&L->param[k]);
    free(L->cfg);
    L->cfg = NULL;
}
