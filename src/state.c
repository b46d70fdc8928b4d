/* state.c - parameters and buffers: init, strict load, save. */
#include "state.h"
#include "init.h"
#include "io.h"
#include "safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Declares every parameter; with fill, allocates and initialises it. */
static sr_status state_init(sr_model *m, uint64_t seed, int fill, sr_diags *d)
{
    char err[SR_ERRLEN];
    /* every parameter is replaced below, so nothing views the old file */
    for (int j = 0; j < m->nmods; j++)
        for (int k = 0; k < SR_MAXPARAMS; k++)
            sr_tensor_free(&m->mods[j]->param[k]);
    if (m->weights_map) {
        munmap(m->weights_map, m->weights_maplen);
        m->weights_map = NULL;
    }
    for (int i = 0; i < m->nnode; i++) {
        sr_node *nd = &m->node[i];
        sr_layer *L = nd->mod;
        if (!nd->first || !L->type->params)
            continue;
        L->nparam = L->type->params(L, L->decl);
        for (int k = 0; k < L->nparam; k++) {
            sr_paramdecl *pd = &L->decl[k];
            sr_tensor *t = &L->param[k];
            if (!fill) {
                /* a weights file will give every tensor (the load is strict);
                 * only the init: rules' errors are still reported */
                *t = (sr_tensor){.shape = pd->shape, .dtype = pd->dtype};
                const sr_initrule *rule = NULL;
                for (int r = 0; r < m->ninit; r++)
                    if (m->init[r].type == L->type && strcmp(m->init[r].param, pd->name) == 0)
                        rule = &m->init[r];
                if (pd->dtype == SR_F32 && rule && sr_init_check(&pd->shape, &rule->init, err) != SR_OK) {
                    sr_diag_at(d, SR_SEV_ERROR, m->label, rule->line, rule->col, NULL, NULL, "init: %s.%s (%s.%s): %s",
                               L->type->name, pd->name, nd->path, pd->name, err);
                    return SR_EUSAGE;
                }
                continue;
            }
            if (sr_tensor_alloc(t, &pd->shape, pd->dtype, err) != SR_OK) {
                sr_diag_at(d, SR_SEV_ERROR, m->label, nd->line, nd->col, nd->path, L->type->name, "%s: %s", pd->name,
                           err);
                return SR_ERUN;
            }
            if (pd->dtype != SR_F32)
                continue; /* num_batches_tracked starts at 0 */
            char key[SR_PATHLEN + 40];
            snprintf(key, sizeof key, "%s.%s", nd->path, pd->name);
            sr_rng rng;
            sr_rng_seed(&rng, seed, key);
            /* The spec's init: rules play the custom _initialize_weights
             * loop: they replace the default for matching parameters. */
            const sr_initrule *rule = NULL;
            for (int r = 0; r < m->ninit; r++)
                if (m->init[r].type == L->type && strcmp(m->init[r].param, pd->name) == 0)
                    rule = &m->init[r];
            sr_status st = sr_init_fill(t, rule ? &rule->init : &pd->init, &rng, err);
            if (st != SR_OK) {
                sr_diag_at(d, SR_SEV_ERROR, m->label, rule ? rule->line : nd->line, rule ? rule->col : nd->col, NULL,
                           NULL, "init: %s.%s (%s): %s", L->type->name, pd->name, key, err);
                return st;
            }
            if (!rule && pd->zero_row >= 0 && pd->shape.ndim == 2)
                memset(sr_f32(t) + pd->zero_row * pd->shape.d[1], 0, (size_t)pd->shape.d[1] * sizeof(float));
        }
    }
    /* A rule naming a parameter the type does not have is a typo. */
    for (int r = 0; r < m->ninit; r++) {
        int found = 0, seen = 0;
        for (int j = 0; j < m->nmods; j++) {
            const sr_layer *L = m->mods[j];
            if (L->type != m->init[r].type)
                continue;
            seen = 1;
            for (int k = 0; k < L->nparam; k++)
                found |= !L->decl[k].buffer && strcmp(L->decl[k].name, m->init[r].param) == 0;
        }
        if (seen && !found) {
            sr_diag_at(d, SR_SEV_ERROR, m->label, m->init[r].line, m->init[r].col, NULL, NULL,
                       "init: %s has no parameter '%s'", m->init[r].type->name, m->init[r].param);
            return SR_EUSAGE;
        }
    }
    return SR_OK;
}

sr_status sr_state_init(sr_model *m, uint64_t seed, sr_diags *d)
{
    return state_init(m, seed, 1, d);
}

sr_status sr_state_declare(sr_model *m, sr_diags *d)
{
    return state_init(m, 0, 0, d);
}

/* The model's occurrences sorted two ways, so matching a file's keys costs
 * a binary search each instead of a pass over every layer (a model of
 * 100000 layers would otherwise take a minute to load). */
typedef struct {
    const sr_model *m;
    int *by_path;   /* node indices by path */
    int *by_mod;    /* node indices by module, then index: a module's occurrences together */
} keyindex;

static const sr_model *sort_model;

static int cmp_path(const void *a, const void *b)
{
    return strcmp(sort_model->node[*(const int *)a].path, sort_model->node[*(const int *)b].path);
}

static int cmp_mod(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    uintptr_t x = (uintptr_t)sort_model->node[i].mod, y = (uintptr_t)sort_model->node[j].mod;
    return x < y ? -1 : x > y ? 1 : (i > j) - (i < j);
}

static int keyindex_build(keyindex *ix, const sr_model *m)
{
    ix->m = m;
    ix->by_path = malloc((size_t)(m->nnode ? m->nnode : 1) * sizeof *ix->by_path);
    ix->by_mod = malloc((size_t)(m->nnode ? m->nnode : 1) * sizeof *ix->by_mod);
    if (!ix->by_path || !ix->by_mod)
        return -1;
    for (int i = 0; i < m->nnode; i++)
        ix->by_path[i] = ix->by_mod[i] = i;
    sort_model = m;
    qsort(ix->by_path, (size_t)m->nnode, sizeof *ix->by_path, cmp_path);
    qsort(ix->by_mod, (size_t)m->nnode, sizeof *ix->by_mod, cmp_mod);
    return 0;
}

static void keyindex_free(keyindex *ix)
{
    free(ix->by_path);
    free(ix->by_mod);
}

/* Where one module parameter may be found in a file: under any occurrence's
 * key, directly or through a __metadata__ alias (removed name -> kept name,
 * as safetensors' save_model writes it). */
static const sr_st_entry *find_param(const sr_safetensors *st, const keyindex *ix, const sr_layer *L,
                                     const char *pname)
{
    const sr_model *m = ix->m;
    int lo = 0, hi = m->nnode;
    while (lo < hi) { /* first occurrence of L in by_mod */
        int mid = (lo + hi) / 2;
        if ((uintptr_t)m->node[ix->by_mod[mid]].mod < (uintptr_t)L)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (int k = lo; k < m->nnode && m->node[ix->by_mod[k]].mod == L; k++) {
        char key[SR_PATHLEN + 40];
        snprintf(key, sizeof key, "%s.%s", m->node[ix->by_mod[k]].path, pname);
        const sr_st_entry *e = sr_st_find(st, key);
        if (e)
            return e;
        const char *kept = sr_st_meta(st, key);
        if (kept && (e = sr_st_find(st, kept)))
            return e;
    }
    return NULL;
}

/* Is key one of the model's state_dict keys (any occurrence)?  Parameter
 * names hold no '.', so the occurrence's path is all before the last one. */
static int known_key(const keyindex *ix, const char *key, const sr_layer **mod, int *pidx)
{
    const sr_model *m = ix->m;
    const char *dot = strrchr(key, '.');
    if (!dot || (size_t)(dot - key) >= SR_PATHLEN)
        return 0;
    char path[SR_PATHLEN];
    memcpy(path, key, (size_t)(dot - key));
    path[dot - key] = '\0';
    int lo = 0, hi = m->nnode - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const sr_node *nd = &m->node[ix->by_path[mid]];
        int c = strcmp(path, nd->path);
        if (c == 0) {
            for (int k = 0; k < nd->mod->nparam; k++) {
                if (strcmp(dot + 1, nd->mod->decl[k].name) == 0) {
                    *mod = nd->mod;
                    *pidx = k;
                    return 1;
                }
            }
            return 0;
        }
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return 0;
}

/* Can a tensor stored as dt be loaded as want (sr_st_load's rules)? */
static const char *dtype_problem(sr_st_dtype dt, sr_dtype want)
{
    int is_float = dt == SR_ST_F16 || dt == SR_ST_BF16 || dt == SR_ST_F32 || dt == SR_ST_F64;
    if (dt == SR_ST_F8_E5M2 || dt == SR_ST_F8_E4M3)
        return "seqrun reads F32, F16, BF16 and F64 parameters, not 8-bit floats";
    if (want == SR_F32 && !is_float)
        return "the model needs floating-point data (F32, F16, BF16 or F64)";
    if (want == SR_I64 && is_float)
        return "the model needs integer data (I64)";
    return NULL;
}

/*
 * Matches the file's keys against the declared parameters: every missing
 * key, unexpected key, wrong shape and wrong dtype goes to d.  With load,
 * then fills the parameters from the file (views of the mapping where the
 * data lies as F32).  skip (per module index, or NULL): modules whose sizes
 * are unknown, whose keys are neither required nor checked.
 */
static sr_status state_match(sr_model *m, const char *path, int load, const char *skip, int *ntensors,
                             sr_diags *d)
{
    char err[SR_ERRLEN];
    sr_safetensors st;
    if (sr_st_open(&st, path, err) != SR_OK) {
        sr_diag_add(d, "%s", err);
        return SR_ERUN;
    }
    if (ntensors)
        *ntensors = st.n;
    keyindex ix;
    if (keyindex_build(&ix, m) < 0) {
        keyindex_free(&ix);
        sr_st_close(&st);
        sr_diag_at(d, SR_SEV_ERROR, path, 0, 0, NULL, NULL, "out of memory");
        return SR_ERUN;
    }
    int bad = 0, viewed = 0;
    for (int i = 0; i < m->nnode; i++) {
        const sr_node *nd = &m->node[i];
        sr_layer *L = nd->mod;
        if (!nd->first || (skip && skip[L->index]))
            continue;
        for (int k = 0; k < L->nparam; k++) {
            const sr_paramdecl *pd = &L->decl[k];
            const sr_st_entry *e = find_param(&st, &ix, L, pd->name);
            if (!e) {
                sr_diag_at(d, SR_SEV_ERROR, path, 0, 0, NULL, NULL, "missing key '%s.%s' (%s %s of layer %s (%s))",
                           nd->path, pd->name,
                            pd->buffer ? "buffer" : "parameter", sr_shape_str(&pd->shape, err, sizeof err),
                            nd->path, L->type->name);
                bad = 1;
            }
        }
    }
    /* Every key in the file must belong to the model, with the right shape. */
    for (int j = 0; j < st.n; j++) {
        const sr_layer *L;
        int k;
        const sr_st_entry *e = &st.t[j];
        if (!known_key(&ix, e->name, &L, &k)) {
            sr_diag_at(d, SR_SEV_ERROR, path, 0, 0, NULL, NULL, "unexpected key '%s'", e->name);
            bad = 1;
            continue;
        }
        if (skip && skip[L->index])
            continue;
        if (!sr_shape_eq(&e->shape, &L->decl[k].shape)) {
            char a[160], b[160];
            sr_diag_at(d, SR_SEV_ERROR, path, 0, 0, NULL, NULL,
                       "size mismatch for '%s': the file has shape %s, the model needs %s", e->name, sr_shape_str(&e->shape, a, sizeof a), sr_shape_str(&L->decl[k].shape, b, sizeof b));
            bad = 1;
        }
        const char *why = dtype_problem(e->dtype, L->decl[k].dtype);
        if (why) {
            sr_diag_at(d, SR_SEV_ERROR, path, 0, 0, NULL, NULL, "wrong dtype for '%s': the file has %s, %s", e->name,
                       sr_st_dtype_name(e->dtype), why);
            bad = 1;
        }
    }
    if (!bad && load) {
        for (int i = 0; i < m->nnode && !bad; i++) {
            const sr_node *nd = &m->node[i];
            sr_layer *L = nd->mod;
            if (!nd->first)
                continue;
            for (int k = 0; k < L->nparam && !bad; k++) {
                const sr_paramdecl *pd = &L->decl[k];
                const sr_st_entry *e = find_param(&st, &ix, L, pd->name);
                sr_tensor t;
                const unsigned char *src = st.data + e->begin;
                if (!pd->buffer && pd->dtype == SR_F32 && e->dtype == SR_ST_F32 && ((uintptr_t)src & 3) == 0) {
                    /* a parameter as it lies in the file: a view of the
                     * mapping, no copy (the mapping is private, so the rare
                     * in-place change, Embedding's max_norm, copies a page) */
                    t = (sr_tensor){.shape = pd->shape, .dtype = SR_F32, .data = (void *)src};
                    viewed = 1;
                } else if (sr_st_load(&st, e, pd->dtype, &t, err) != SR_OK) {
                    sr_diag_add(d, "%s", err);
                    bad = 1;
                    break;
                }
                sr_tensor_free(&L->param[k]);
                L->param[k] = t;
            }
        }
    }
    if (viewed) {
        /* the mapping lives as long as the parameters that view it (even
         * after a failure part-way, until they are declared anew) */
        if (m->weights_map)
            munmap(m->weights_map, m->weights_maplen);
        m->weights_map = st.map;
        m->weights_maplen = st.maplen;
        st.map = NULL;
    }
    keyindex_free(&ix);
    sr_st_close(&st);
    return bad ? SR_ERUN : SR_OK;
}

sr_status sr_state_load(sr_model *m, const char *path, sr_diags *d)
{
    return state_match(m, path, 1, NULL, NULL, d);
}

sr_status sr_state_check(sr_model *m, const char *path, const char *skip, int *ntensors, sr_diags *d)
{
    return state_match(m, path, 0, skip, ntensors, d);
}

sr_status sr_state_save(const sr_model *m, const char *path, char *err)
{
    int n = 0;
    for (int i = 0; i < m->nnode; i++)
        if (m->node[i].first)
            n += m->node[i].mod->nparam;
    sr_st_item *items = calloc((size_t)(n ? n : 1), sizeof *items);
    char (*keys)[SR_PATHLEN + 40] = calloc((size_t)(n ? n : 1), sizeof *keys);
    if (!items || !keys) {
        free(items);
        free(keys);
        return sr_err(err, SR_ERUN, "%s: out of memory", path);
    }
    /* I64 buffers first: with 8-byte items at the front every tensor's
     * offset stays aligned to its own size, as safetensors' writer does
     * (some loaders refuse a misaligned int64). */
    int j = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < m->nnode; i++) {
            const sr_node *nd = &m->node[i];
            if (!nd->first)
                continue;
            for (int k = 0; k < nd->mod->nparam; k++) {
                if ((nd->mod->decl[k].dtype == SR_I64) != (pass == 0))
                    continue;
                snprintf(keys[j], sizeof keys[j], "%s.%s", nd->path, nd->mod->decl[k].name);
                items[j].name = keys[j];
                items[j].t = &nd->mod->param[k];
                j++;
            }
        }
    }
    sr_outfile o;
    sr_status st = sr_out_open(&o, path, err);
    if (st == SR_OK) {
        st = sr_st_write(o.f, items, n, NULL, 0, err);
        if (st != SR_OK) {
            char why[SR_ERRLEN];
            snprintf(why, sizeof why, "%s", err);
            sr_err(err, st, "%s: %s", path, why);
        }
        if (st == SR_OK)
            st = sr_out_commit(&o, err);
        else
            sr_out_abort(&o);
    }
    free(items);
    free(keys);
    return st;
}
