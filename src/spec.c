/*
 * spec.c - a model spec (YAML) becomes a tree of modules.
 *
 * Every problem is reported with the spec's LINE:COL and, for a layer, its
 * state_dict index and type, and reading goes on where it can so that one
 * run lists every mistake.
 */
#include "model.h"
#include "init.h"
#include "spec_read.h"
#include "yamltree.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#define MAX_OCCURRENCES 100000

void spec_diag(reader *r, const ynode *at, const char *fmt, ...)
{
    char buf[SR_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!strncmp(buf, "out of memory", 13))
        r->oom = 1;
    if (r->who)
        sr_diag_at(r->d, SR_SEV_ERROR, r->m->label, at->line, at->col, NULL, NULL, "%s: %s", r->who, buf);
    else
        sr_diag_at(r->d, SR_SEV_ERROR, r->m->label, at->line, at->col, r->layer, r->type, "%s", buf);
    r->failed = 1;
}

const char *spec_kind_name(const ynode *n)
{
    n = yderef((ynode *)n);
    if (n->kind == Y_SEQ)
        return "a list";
    if (n->kind == Y_MAP)
        return "a mapping";
    long long i;
    double f;
    switch (yresolve(n, &i, &f)) {
    case YS_NULL: return "null";
    case YS_BOOL: return "a boolean";
    case YS_INT: case YS_BADINT: return "an integer";
    case YS_FLOAT: return "a number";
    default: return "a string";
    }
}

int spec_is_str(const ynode *n)
{
    long long i;
    double f;
    n = yderef((ynode *)n);
    return n->kind == Y_SCALAR && yresolve(n, &i, &f) == YS_STR;
}

/* ---- layers ----------------------------------------------------------------- */

/*
 * torch 1.13's torch.nn module classes (torch/nn/modules/__init__.py's
 * __all__), so that a real PyTorch class seqrun lacks is named as such
 * instead of being "corrected" to a seqrun layer of a similar name, which
 * would silently change the model (LSTM is not a typo).  Those seqrun
 * runs are found in the layer table first.  Kinds: 'l' a layer, 'L' a
 * loss, 'c' a container or base class, '2' a module of two inputs, 't' a
 * module whose forward returns a tuple.
 */
static const struct {
    const char *name;
    char kind;
} torch_nn[] = {
    {"AdaptiveAvgPool1d", 'l'}, {"AdaptiveAvgPool2d", 'l'}, {"AdaptiveAvgPool3d", 'l'},
    {"AdaptiveLogSoftmaxWithLoss", 'L'}, {"AdaptiveMaxPool1d", 'l'}, {"AdaptiveMaxPool2d", 'l'},
    {"AdaptiveMaxPool3d", 'l'}, {"AlphaDropout", 'l'}, {"AvgPool1d", 'l'}, {"AvgPool2d", 'l'}, {"AvgPool3d", 'l'},
    {"BCELoss", 'L'}, {"BCEWithLogitsLoss", 'L'}, {"BatchNorm1d", 'l'}, {"BatchNorm2d", 'l'}, {"BatchNorm3d", 'l'},
    {"Bilinear", '2'}, {"CELU", 'l'}, {"CTCLoss", 'L'}, {"ChannelShuffle", 'l'}, {"ConstantPad1d", 'l'},
    {"ConstantPad2d", 'l'}, {"ConstantPad3d", 'l'}, {"Container", 'c'}, {"Conv1d", 'l'}, {"Conv2d", 'l'},
    {"Conv3d", 'l'}, {"ConvTranspose1d", 'l'}, {"ConvTranspose2d", 'l'}, {"ConvTranspose3d", 'l'},
    {"CosineEmbeddingLoss", 'L'}, {"CosineSimilarity", '2'}, {"CrossEntropyLoss", 'L'}, {"CrossMapLRN2d", 'l'},
    {"Dropout", 'l'}, {"Dropout1d", 'l'}, {"Dropout2d", 'l'}, {"Dropout3d", 'l'}, {"ELU", 'l'}, {"Embedding", 'l'},
    {"EmbeddingBag", 'l'}, {"FeatureAlphaDropout", 'l'}, {"Flatten", 'l'}, {"Fold", 'l'},
    {"FractionalMaxPool2d", 'l'}, {"FractionalMaxPool3d", 'l'}, {"GELU", 'l'}, {"GLU", 'l'}, {"GRU", 't'},
    {"GRUCell", 'l'}, {"GaussianNLLLoss", 'L'}, {"GroupNorm", 'l'}, {"Hardshrink", 'l'}, {"Hardsigmoid", 'l'},
    {"Hardswish", 'l'}, {"Hardtanh", 'l'}, {"HingeEmbeddingLoss", 'L'}, {"HuberLoss", 'L'}, {"Identity", 'l'},
    {"InstanceNorm1d", 'l'}, {"InstanceNorm2d", 'l'}, {"InstanceNorm3d", 'l'}, {"KLDivLoss", 'L'}, {"L1Loss", 'L'},
    {"LPPool1d", 'l'}, {"LPPool2d", 'l'}, {"LSTM", 't'}, {"LSTMCell", 't'}, {"LayerNorm", 'l'},
    {"LazyBatchNorm1d", 'l'}, {"LazyBatchNorm2d", 'l'}, {"LazyBatchNorm3d", 'l'}, {"LazyConv1d", 'l'},
    {"LazyConv2d", 'l'}, {"LazyConv3d", 'l'}, {"LazyConvTranspose1d", 'l'}, {"LazyConvTranspose2d", 'l'},
    {"LazyConvTranspose3d", 'l'}, {"LazyInstanceNorm1d", 'l'}, {"LazyInstanceNorm2d", 'l'},
    {"LazyInstanceNorm3d", 'l'}, {"LazyLinear", 'l'}, {"LeakyReLU", 'l'}, {"Linear", 'l'},
    {"LocalResponseNorm", 'l'}, {"LogSigmoid", 'l'}, {"LogSoftmax", 'l'}, {"MSELoss", 'L'},
    {"MarginRankingLoss", 'L'}, {"MaxPool1d", 'l'}, {"MaxPool2d", 'l'}, {"MaxPool3d", 'l'}, {"MaxUnpool1d", '2'},
    {"MaxUnpool2d", '2'}, {"MaxUnpool3d", '2'}, {"Mish", 'l'}, {"Module", 'c'}, {"ModuleDict", 'c'},
    {"ModuleList", 'c'}, {"MultiLabelMarginLoss", 'L'}, {"MultiLabelSoftMarginLoss", 'L'},
    {"MultiMarginLoss", 'L'}, {"MultiheadAttention", 't'}, {"NLLLoss", 'L'}, {"NLLLoss2d", 'L'}, {"PReLU", 'l'},
    {"PairwiseDistance", '2'}, {"ParameterDict", 'c'}, {"ParameterList", 'c'}, {"PixelShuffle", 'l'},
    {"PixelUnshuffle", 'l'}, {"PoissonNLLLoss", 'L'}, {"RNN", 't'}, {"RNNBase", 'c'}, {"RNNCell", 'l'},
    {"RNNCellBase", 'c'}, {"RReLU", 'l'}, {"ReLU", 'l'}, {"ReLU6", 'l'}, {"ReflectionPad1d", 'l'},
    {"ReflectionPad2d", 'l'}, {"ReflectionPad3d", 'l'}, {"ReplicationPad1d", 'l'}, {"ReplicationPad2d", 'l'},
    {"ReplicationPad3d", 'l'}, {"SELU", 'l'}, {"Sequential", 'c'}, {"SiLU", 'l'}, {"Sigmoid", 'l'},
    {"SmoothL1Loss", 'L'}, {"SoftMarginLoss", 'L'}, {"Softmax", 'l'}, {"Softmax2d", 'l'}, {"Softmin", 'l'},
    {"Softplus", 'l'}, {"Softshrink", 'l'}, {"Softsign", 'l'}, {"SyncBatchNorm", 'l'}, {"Tanh", 'l'},
    {"Tanhshrink", 'l'}, {"Threshold", 'l'}, {"Transformer", '2'}, {"TransformerDecoder", '2'},
    {"TransformerDecoderLayer", '2'}, {"TransformerEncoder", 'l'}, {"TransformerEncoderLayer", 'l'},
    {"TripletMarginLoss", 'L'}, {"TripletMarginWithDistanceLoss", 'L'}, {"Unflatten", 'l'}, {"Unfold", 'l'},
    {"Upsample", 'l'}, {"UpsamplingBilinear2d", 'l'}, {"UpsamplingNearest2d", 'l'}, {"ZeroPad2d", 'l'},
};

/* torch.nn's class of that name, exactly or (a slip of the shift key,
 * "lstm") ignoring case; -1 if none. */
static int torch_nn_find(const char *name, int *exact)
{
    int n = (int)(sizeof torch_nn / sizeof *torch_nn), found = -1;
    for (int i = 0; i < n; i++) {
        if (!strcmp(torch_nn[i].name, name)) {
            *exact = 1;
            return i;
        }
        if (found < 0 && !strcasecmp(torch_nn[i].name, name))
            found = i;
    }
    *exact = 0;
    return found;
}

/* "; hint: ..." (or ": X is ...; hint: ...") for a type name seqrun does
 * not know. */
static void unknown_type(const char *name, char *buf, size_t len)
{
    int exact;
    int i = torch_nn_find(name, &exact);
    if (i < 0) {
        const char *near = sr_layertype_suggest(name);
        if (near)
            snprintf(buf, len, "; hint: did you mean '%s'?", near);
        else
            snprintf(buf, len, "; hint: 'seqrun --list-layers' lists the layers");
        return;
    }
    const char *tn = torch_nn[i].name;
    const sr_layertype *t = sr_layertype_find(tn);
    if (t) { /* "relu": seqrun has ReLU, spelt so */
        snprintf(buf, len, "; hint: did you mean '%s'? (names are case-sensitive, as in torch.nn)", tn);
        return;
    }
    char head[160];
    if (exact)
        snprintf(head, sizeof head, ": %s is", tn);
    else
        snprintf(head, sizeof head, ": %s, as torch.nn spells it, is", tn);
    switch (torch_nn[i].kind) {
    case 'L':
        snprintf(buf, len, "%s a torch.nn loss function, not a layer of a forward pass; seqrun does not run it; "
                 "hint: leave it out of layers: (apply it to seqrun's output)", head);
        break;
    case 'c':
        snprintf(buf, len, "%s a torch.nn container or base class seqrun does not support; hint: list the layers "
                 "themselves (Sequential: [...] nests them)", head);
        break;
    case '2':
        snprintf(buf, len, "%s a torch.nn layer seqrun does not support: its forward() takes more than one tensor, "
                 "so it cannot sit in an nn.Sequential; hint: 'seqrun --list-layers' lists the layers", head);
        break;
    case 't':
        snprintf(buf, len, "%s a torch.nn layer seqrun does not support: its forward() returns a tuple, so it "
                 "cannot be followed by another layer in an nn.Sequential; hint: 'seqrun --list-layers' lists "
                 "the layers", head);
        break;
    default:
        snprintf(buf, len, "%s a torch.nn layer seqrun does not support; hint: 'seqrun --list-layers' lists the "
                 "layers", head);
    }
}

static sr_layer *new_module(reader *r, const sr_layertype *t, const ynode *at)
{
    sr_model *m = r->m;
    if (m->nmods == m->capmods) {
        int cap = m->capmods ? m->capmods * 2 : 16;
        sr_layer **p = realloc(m->mods, (size_t)cap * sizeof *p);
        if (!p)
            return NULL;
        m->mods = p;
        m->capmods = cap;
    }
    sr_layer *L = calloc(1, sizeof *L);
    if (!L)
        return NULL;
    L->type = t;
    L->line = at->line;
    L->col = at->col;
    L->lazy_in = -1;
    L->index = m->nmods;
    if (t->cfg_size && !(L->cfg = calloc(1, t->cfg_size))) {
        free(L);
        return NULL;
    }
    m->mods[m->nmods++] = L;
    return L;
}

static sr_layer *build_item(reader *r, ynode *item, const char *path);

static int build_children(reader *r, sr_layer *seq, ynode *list, const char *path)
{
    ynode *l = yderef(list);
    if (!l || l->kind != Y_SEQ) {
        spec_diag(r, l ? l : list, "%s: expected a list of layers, got %s", path[0] ? "Sequential" : "layers",
             l ? spec_kind_name(l) : "nothing");
        return 0;
    }
    seq->child = calloc((size_t)(l->n ? l->n : 1), sizeof *seq->child);
    if (!seq->child) {
        spec_diag(r, l, "out of memory");
        return 0;
    }
    for (int k = 0; k < l->n; k++) {
        char sub[SR_PATHLEN];
        snprintf(sub, sizeof sub, "%s%s%d", path, path[0] ? "." : "", k);
        sr_layer *c = build_item(r, l->item[k], sub);
        if (!c)
            continue;
        seq->child[seq->nchild].mod = c;
        seq->child[seq->nchild].line = l->item[k]->line;
        seq->child[seq->nchild].col = l->item[k]->col;
        seq->nchild++;
    }
    return 1;
}

/* One list item: a bare name, or {Type: ARGS}.  An alias of an item already
 * built is that same module. */
static sr_layer *build_item(reader *r, ynode *item, const char *path)
{
    ynode *n = yderef(item);
    if (n->built)
        return n->built;
    const char *tname = NULL;
    ynode *args = NULL, *where = n;
    if (n->kind == Y_SCALAR && spec_is_str(n)) {
        tname = n->value;
    } else if (n->kind == Y_MAP && n->n == 1 && spec_is_str(n->item[0])) {
        tname = yderef(n->item[0])->value;
        args = n->item[1];
        ynode *a = yderef(args);
        long long i;
        double f;
        if (a->kind == Y_SCALAR && a->plain && yresolve(a, &i, &f) == YS_NULL)
            args = NULL; /* "- ReLU:" */
    } else {
        r->layer = path;
        spec_diag(r, n, "expected a layer type name or {Type: arguments}, got %s%s",
             n->kind == Y_MAP ? "a mapping with " : spec_kind_name(n),
             n->kind == Y_MAP ? (n->n == 1 ? "a non-string key" : "several keys") : "");
        r->layer = NULL;
        return NULL;
    }
    const sr_layertype *t = sr_layertype_find(tname);
    if (!t) {
        r->layer = path;
        char why[SR_ERRLEN];
        unknown_type(tname, why, sizeof why);
        spec_diag(r, where, "unknown layer type '%s'%s", tname, why);
        r->layer = NULL;
        return NULL;
    }
    /* Every module built has at least one occurrence, so past the walk's
     * cap the spec is refused anyway; stopping here bounds memory too (a
     * module is ~3 KB, and a few MB of "- ReLU" lines make a million). */
    if (r->m->nmods > MAX_OCCURRENCES) {
        if (!r->too_many++)
            spec_diag(r, n, "the model has more than %d layer occurrences", MAX_OCCURRENCES);
        return NULL;
    }
    sr_layer *L = new_module(r, t, n);
    if (!L) {
        spec_diag(r, n, "out of memory");
        return NULL;
    }
    n->built = L;
    if (t->flags & SR_LF_CONTAINER) {
        if (args)
            build_children(r, L, args, path);
        return L;
    }
    int given[SR_MAXARGS];
    if (t->nargs < 0)
        return L;
    r->layer = path;
    r->type = t->name;
    if (spec_bind_args(r, n, t->args, t->nargs, args, L->arg, given) && t->validate) {
        char msg[SR_ERRLEN];
        if (t->validate(L, msg) != SR_OK)
            spec_diag(r, n, "%s", msg);
    }
    r->layer = r->type = NULL;
    return L;
}

/* Pre-order walk producing one node per occurrence, with state_dict paths. */
static void walk(reader *r, sr_layer *L, const char *path, int line, int col, int depth, int parent)
{
    sr_model *m = r->m;
    if (r->nwalk++ >= MAX_OCCURRENCES) {
        if (r->nwalk == MAX_OCCURRENCES + 1)
            sr_diag_at(r->d, SR_SEV_ERROR, m->label, line, col, NULL, NULL,
                       "the model has more than %d layer occurrences (aliases of aliases?)", MAX_OCCURRENCES);
        r->failed = 1;
        return;
    }
    int me = -1;
    if (path) {
        if (m->nnode == m->capnode) {
            int cap = m->capnode ? 2 * m->capnode : 16;
            sr_node *p = realloc(m->node, (size_t)cap * sizeof *p);
            if (!p) {
                ynode at = {.line = line, .col = col};
                spec_diag(r, &at, "out of memory");
                return;
            }
            m->node = p;
            m->capnode = cap;
        }
        me = m->nnode++;
        sr_node *nd = &m->node[me];
        memset(nd, 0, sizeof *nd);
        nd->mod = L;
        snprintf(nd->path, sizeof nd->path, "%s", path);
        nd->line = line;
        nd->col = col;
        nd->depth = depth;
        nd->parent = parent;
        nd->first = !L->visited;
        L->visited = 1;
    }
    for (int k = 0; k < L->nchild; k++) {
        char sub[SR_PATHLEN];
        if (snprintf(sub, sizeof sub, "%s%s%d", path ? path : "", path ? "." : "", k) >= (int)sizeof sub) {
            sr_diag_at(r->d, SR_SEV_ERROR, m->label, L->child[k].line, L->child[k].col, NULL, NULL,
                       "layers nested too deeply");
            r->failed = 1;
            return;
        }
        walk(r, L->child[k].mod, sub, L->child[k].line, L->child[k].col, path ? depth + 1 : 0, me);
        if (r->failed) /* out of memory, or past the cap: one message */
            return;
    }
}

/* ---- top level ---------------------------------------------------------------- */

static void read_input(reader *r, ynode *v)
{
    sr_model *m = r->m;
    ynode *n = yderef(v);
    m->input_line = n->line;
    m->input_col = n->col;
    if (n->kind != Y_SEQ || n->n == 0 || n->n > SR_MAXDIM) {
        spec_diag(r, n, "input: expected a list of 1 to %d dimensions, e.g. [N, 3, 32, 32]", SR_MAXDIM);
        return;
    }
    m->input.ndim = n->n;
    for (int k = 0; k < n->n; k++) {
        ynode *it = yderef(n->item[k]);
        long long i = 0;
        double f;
        yscalar ys = it->kind == Y_SCALAR ? yresolve(it, &i, &f) : YS_STR;
        if (ys == YS_INT && i >= 0) {
            m->input.d[k] = i;
        } else if (it->kind == Y_SCALAR && ys == YS_STR && m->input_free < 0) {
            m->input_free = k;
            m->input.d[k] = -1;
            snprintf(m->input_free_name, sizeof m->input_free_name, "%s", it->value);
        } else {
            spec_diag(r, it, "input: dimension %d must be a non-negative integer or one name for the batch dimension, got %s",
                 k, spec_kind_name(it));
            return;
        }
    }
    m->has_input = 1;
}

static void read_init(reader *r, ynode *v)
{
    sr_model *m = r->m;
    ynode *n = yderef(v);
    if (n->kind != Y_MAP) {
        spec_diag(r, n, "init: expected a mapping {LayerType: {param: scheme}}");
        return;
    }
    for (int k = 0; k < n->n; k++) {
        ynode *tk = yderef(n->item[2 * k]), *tv = yderef(n->item[2 * k + 1]);
        const sr_layertype *t = spec_is_str(tk) ? sr_layertype_find(tk->value) : NULL;
        if (!t) {
            char why[SR_ERRLEN] = "";
            if (spec_is_str(tk))
                unknown_type(tk->value, why, sizeof why);
            spec_diag(r, tk, "init: unknown layer type '%s'%s", tk->kind == Y_SCALAR ? tk->value : "?", why);
            continue;
        }
        if (tv->kind != Y_MAP) {
            spec_diag(r, tv, "init: %s: expected a mapping {param: scheme}", t->name);
            continue;
        }
        for (int j = 0; j < tv->n; j++) {
            ynode *pk = yderef(tv->item[2 * j]), *pv = yderef(tv->item[2 * j + 1]);
            if (!spec_is_str(pk)) {
                spec_diag(r, pk, "init: %s: parameter names are strings", t->name);
                continue;
            }
            const char *scheme;
            ynode *sargs = NULL;
            if (spec_is_str(pv)) {
                scheme = pv->value;
            } else if (pv->kind == Y_MAP && pv->n == 1 && spec_is_str(pv->item[0])) {
                scheme = yderef(pv->item[0])->value;
                sargs = pv->item[1];
                ynode *sa = yderef(sargs);
                long long i;
                double f;
                if (sa->kind == Y_SCALAR && sa->plain && yresolve(sa, &i, &f) == YS_NULL)
                    sargs = NULL;
            } else {
                spec_diag(r, pv, "init: %s.%s: expected a scheme name or {scheme: arguments}", t->name, pk->value);
                continue;
            }
            const sr_initscheme *s = sr_initscheme_find(scheme);
            if (!s) {
                const char *near = sr_initscheme_suggest(scheme);
                spec_diag(r, pv, "init: unknown scheme '%s'%s%s%s", scheme, near ? "; hint: did you mean '" : "",
                     near ? near : "", near ? "'?" : "");
                continue;
            }
            char who[96];
            snprintf(who, sizeof who, "init: %s.%s (%s)", t->name, pk->value, s->name);
            sr_argval av[SR_MAXARGS];
            int given[SR_MAXARGS];
            r->who = who;
            int bound = spec_bind_args(r, pv, s->args, s->nargs, sargs, av, given);
            r->who = NULL;
            if (!bound)
                continue;
            sr_initrule *p = realloc(m->init, (size_t)(m->ninit + 1) * sizeof *p);
            if (!p) {
                spec_diag(r, pv, "out of memory");
                return;
            }
            m->init = p;
            sr_initrule *rule = &m->init[m->ninit++];
            memset(rule, 0, sizeof *rule);
            rule->type = t;
            snprintf(rule->param, sizeof rule->param, "%s", pk->value);
            rule->line = pk->line;
            rule->col = pk->col;
            char msg[SR_ERRLEN];
            if (sr_init_from_args(s, av, &rule->init, msg) != SR_OK) {
                r->who = who;
                spec_diag(r, pv, "%s", msg);
                r->who = NULL;
                m->ninit--;
            }
        }
    }
}

static char *dirname_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return sr_strdup(".");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 2);
    if (!d)
        return NULL;
    memcpy(d, path, n ? n : 1);
    d[n ? n : 1] = '\0';
    return d;
}

static const char *const top_keys[] = {"input", "weights", "layers", "init", "name", "description", "defs"};

sr_status sr_spec_parse(sr_model *m, const char *text, size_t len, const char *label, const char *dir,
                        sr_diags *d)
{
    memset(m, 0, sizeof *m);
    m->input_free = -1;
    m->label = sr_strdup(label);
    m->dir = sr_strdup(dir);
    if (!m->label || !m->dir) {
        sr_diag_at(d, SR_SEV_ERROR, label, 0, 0, NULL, NULL, "out of memory");
        return SR_ERUN;
    }
    reader r = {.m = m, .d = d};
    char err[SR_ERRLEN];
    ytree t;
    sr_status st = ytree_parse(&t, text, len, label, err);
    if (st != SR_OK) {
        sr_diag_add(d, "%s", err);
        return st;
    }
    ynode *root = yderef(t.root);
    ynode *layers = NULL;
    if (!root || root->kind != Y_MAP) {
        ynode z = {.line = 1, .col = 1};
        spec_diag(&r, root ? root : &z, "a model spec is a mapping with a 'layers:' list");
        goto out;
    }
    for (int k = 0; k < root->n; k++) {
        ynode *key = yderef(root->item[2 * k]), *val = root->item[2 * k + 1];
        const char *ks = spec_is_str(key) ? key->value : "";
        int known = -1;
        for (int j = 0; j < (int)(sizeof top_keys / sizeof *top_keys); j++)
            if (strcmp(ks, top_keys[j]) == 0)
                known = j;
        for (int j = 0; j < k; j++) {
            ynode *prev = yderef(root->item[2 * j]);
            if (spec_is_str(prev) && strcmp(prev->value, ks) == 0) {
                spec_diag(&r, key, "top-level key '%s' given twice", ks);
                known = -2;
            }
        }
        if (known == -1) {
            const char *near = sr_closest(ks, top_keys, (int)(sizeof top_keys / sizeof *top_keys));
            if (near)
                spec_diag(&r, key, "unknown top-level key '%s'; hint: did you mean '%s'?", ks, near);
            else
                spec_diag(&r, key, "unknown top-level key '%s'; hint: the keys are input, weights, layers, init, name, description, defs", ks);
            continue;
        }
        if (known < 0)
            continue;
        ynode *v = yderef(val);
        if (!strcmp(ks, "input")) {
            read_input(&r, v);
        } else if (!strcmp(ks, "weights")) {
            if (!spec_is_str(v)) {
                spec_diag(&r, v, "weights: expected a file path, got %s", spec_kind_name(v));
                continue;
            }
            size_t n = strlen(m->dir) + strlen(v->value) + 2;
            m->weights = malloc(n);
            if (!m->weights) /* else the run would go on with default init */
                spec_diag(&r, v, "out of memory");
            if (m->weights) {
                if (v->value[0] == '/')
                    snprintf(m->weights, n, "%s", v->value);
                else
                    snprintf(m->weights, n, "%s/%s", m->dir, v->value);
            }
        } else if (!strcmp(ks, "layers")) {
            layers = val;
        } else if (!strcmp(ks, "init")) {
            read_init(&r, v);
        } else if (!strcmp(ks, "name") || !strcmp(ks, "description")) {
            if (v->kind != Y_SCALAR)
                spec_diag(&r, v, "%s: expected a string", ks);
        }
        /* defs: only a place for anchors; nothing there runs. */
    }
    if (!layers) {
        spec_diag(&r, root, "the spec has no 'layers:' list");
        goto out;
    }
    {
        ynode fake = {.line = yderef(layers)->line, .col = yderef(layers)->col};
        m->root = new_module(&r, sr_layer_types[SR_L_Sequential], &fake);
        if (!m->root) {
            spec_diag(&r, root, "out of memory");
            goto out;
        }
        build_children(&r, m->root, layers, "");
        if (!r.failed)
            walk(&r, m->root, NULL, 0, 0, 0, -1);
    }
out:
    ytree_free(&t);
    return r.oom ? SR_ERUN : r.failed ? SR_EUSAGE : SR_OK;
}

sr_status sr_spec_load(sr_model *m, const char *path, sr_diags *d)
{
    memset(m, 0, sizeof *m);
    m->input_free = -1;
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        sr_diag_at(d, SR_SEV_ERROR, path, 0, 0, NULL, NULL, "cannot open model spec: %s", strerror(errno));
        return SR_ERUN;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            sr_diag_at(d, SR_SEV_ERROR, path, 0, 0, NULL, NULL, "out of memory");
            if (!is_stdin)
                fclose(f);
            return SR_ERUN;
        }
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        if (cap >= (size_t)64 << 20) {
            sr_diag_at(d, SR_SEV_ERROR, path, 0, 0, NULL, NULL, "model spec larger than 64 MiB");
            free(buf);
            if (!is_stdin)
                fclose(f);
            return SR_EUSAGE;
        }
        cap *= 2;
        char *nb = realloc(buf, cap);
        if (!nb)
            free(buf);
        buf = nb;
    }
    int bad = ferror(f);
    if (!is_stdin)
        fclose(f);
    if (bad) {
        sr_diag_at(d, SR_SEV_ERROR, path, 0, 0, NULL, NULL, "cannot read model spec: %s", strerror(errno));
        free(buf);
        return SR_ERUN;
    }
    /* the weights: path is relative to the spec's directory, so without
     * it the run would read another file, or none */
    char *dir = is_stdin ? sr_strdup(".") : dirname_of(path);
    if (!dir) {
        sr_diag_at(d, SR_SEV_ERROR, path, 0, 0, NULL, NULL, "out of memory");
        free(buf);
        return SR_ERUN;
    }
    sr_status st = sr_spec_parse(m, buf, len, is_stdin ? "<stdin>" : path, dir, d);
    free(dir);
    free(buf);
    return st;
}

void sr_model_free(sr_model *m)
{
    for (int i = 0; i < m->nmods; i++) {
        sr_layer *L = m->mods[i];
        for (int k = 0; k < SR_MAXPARAMS; k++)
            sr_tensor_free(&L->param[k]);
        free(L->cfg);
        free(L->child);
        free(L);
    }
    free(m->mods);
    free(m->node);
    free(m->label);
    free(m->dir);
    free(m->weights);
    free(m->init);
    if (m->weights_map)
        munmap(m->weights_map, m->weights_maplen);
    memset(m, 0, sizeof *m);
}

void sr_node_label(const sr_model *m, int i, char *buf, size_t len)
{
    snprintf(buf, len, "layer %s (%s)", m->node[i].path, m->node[i].mod->type->name);
}

int sr_node_is_leaf(const sr_node *n) { return !sr_is_container(n->mod); }

int64_t sr_model_param_count(const sr_model *m)
{
    int64_t total = 0;
    for (int i = 0; i < m->nmods; i++) {
        const sr_layer *L = m->mods[i];
        for (int k = 0; k < L->nparam; k++) {
            if (L->decl[k].buffer)
                continue;
            int64_t n = sr_shape_numel(&L->decl[k].shape);
            if (n < 0 || __builtin_add_overflow(total, n, &total))
                return -1;
        }
    }
    return total;
}
