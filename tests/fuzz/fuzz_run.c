/*
 * fuzz_run.c - libFuzzer target: the whole program through the library
 * API, as main() drives it: a spec, a weights file and an input become
 * parse, --check (text or JSON), shape check, weight loading, the forward
 * pass and the writers (-o in npy, raw or text, --save-state).
 *
 * Input layout:
 *
 *     FLAGS SPEC [SEP WEIGHTS [SEP INPUT]]      SEP = "\0\xffSEP\xff\0"
 *
 * FLAGS (one byte): bit 0 --train, bit 1 --save-state, bits 2-3 the output
 * format (npy, raw, text, text --top 2), bits 4-5 --batch-size (auto, 1, 2,
 * 3), bit 6 two threads, bit 7 --check --format json (else text).
 * WEIGHTS empty: default initialisation from --seed (a spec's own
 * `weights:` is never followed, so the target reads nothing outside its
 * directory).  INPUT: an npy stream or raw float32 bytes.
 *
 * Files live in a private directory under /dev/shm (else /tmp).  After each
 * run the target checks the output contract itself, trapping when it
 * breaks: on failure neither -o nor --save-state exists; on success both
 * do and read back (the npy by the npy reader, the state by the safetensors
 * reader); no temporary is left behind either way.  FUZZ_RUN_DEBUG=1 in
 * the environment prints each run's exit status and diagnostics.
 *
 * Models are bounded before they run (every activation at most 4096
 * values, at most 65536 parameters and buffers, at most 16 records) so the
 * fuzzer spends its time on code paths, not on large legitimate work.
 */
#include "check.h"
#include "layer.h"
#include "model.h"
#include "npy.h"
#include "run.h"
#include "safetensors.h"
#include "shape.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEP "\0\xffSEP\xff\0"
#define SEPLEN 7
#define MAX_ACT 4096
#define MAX_PARAMS 65536
#define MAX_RECORDS 16

static char dir[64];
static char p_in[96], p_w[96], p_npy[96], p_raw[96], p_st[96];

static void rm_dir(const char *d)
{
    DIR *dp = opendir(d);
    if (!dp)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(dp)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", d, e->d_name);
            unlink(p);
        }
    closedir(dp);
    rmdir(d);
}

static void cleanup(void)
{
    if (dir[0])
        rm_dir(dir);
}

/* Directories of fuzzing processes that died (a crash, a timeout) go. */
static void remove_stale(const char *base)
{
    DIR *dp = opendir(base);
    if (!dp)
        return;
    struct dirent *e;
    while ((e = readdir(dp))) {
        long pid;
        char p[512];
        if (sscanf(e->d_name, "fuzz_run.%ld", &pid) == 1 && pid > 0 &&
            kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            snprintf(p, sizeof p, "%s/%s", base, e->d_name);
            rm_dir(p);
        }
    }
    closedir(dp);
}

static int setup(void)
{
    if (dir[0])
        return 0;
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    remove_stale(base);
    snprintf(dir, sizeof dir, "%s/fuzz_run.%ld", base, (long)getpid());
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -1;
    snprintf(p_in, sizeof p_in, "%s/in", dir);
    snprintf(p_w, sizeof p_w, "%s/w.safetensors", dir);
    snprintf(p_npy, sizeof p_npy, "%s/out.npy", dir);
    snprintf(p_raw, sizeof p_raw, "%s/out.bin", dir);
    snprintf(p_st, sizeof p_st, "%s/state.st", dir);
    atexit(cleanup);
    return 0;
}

static int put(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Every entry in the directory is one the target knows: no temporaries. */
static void check_no_strays(void)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    struct dirent *e;
    while ((e = readdir(dp))) {
        const char *n = e->d_name;
        if (strcmp(n, ".") && strcmp(n, "..") && strcmp(n, "in") && strcmp(n, "w.safetensors") &&
            strcmp(n, "out.npy") && strcmp(n, "out.bin") && strcmp(n, "state.st")) {
            fprintf(stderr, "fuzz_run: stray file %s/%s after a run\n", dir, n);
            __builtin_trap();
        }
    }
    closedir(dp);
}

static const uint8_t *find_sep(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + SEPLEN <= n; i++)
        if (p[i] == 0 && memcmp(p + i, SEP, SEPLEN) == 0)
            return p + i;
    return NULL;
}

static int parse(sr_model *m, const uint8_t *spec, size_t len)
{
    sr_diags d = {0};
    sr_status st = sr_spec_parse(m, (const char *)spec, len, "fuzz.yaml", dir, &d);
    sr_diags_free(&d);
    if (st != SR_OK) {
        sr_model_free(m);
        return -1;
    }
    /* never follow the spec's own weights: path */
    free(m->weights);
    m->weights = NULL;
    return 0;
}

/* 1 if every record's shapes stay within the bounds (or fail the shape
 * check, which runs nothing). */
static int small_enough(sr_model *m, const sr_runopts *o)
{
    sr_input in;
    char err[SR_ERRLEN];
    int ok = 1, records = 0;
    if (sr_input_open(&in, m, o, err) != SR_OK) {
        sr_input_close(&in);
        return 1; /* fails before anything runs */
    }
    for (;;) {
        if (++records > MAX_RECORDS) {
            ok = 0;
            break;
        }
        int integer = in.h.is_integer;
        sr_diags d = {0};
        sr_shapes S;
        sr_status st = sr_infer(m, &in.h.shape, integer, o->train, &S, &d);
        sr_diags_free(&d);
        if (st == SR_ERUN)
            break;
        if (st == SR_OK) {
            if (sr_shape_numel(&in.h.shape) > MAX_ACT)
                ok = 0;
            for (int i = 0; i < m->nnode && ok; i++) {
                const sr_nodeshape *ns = &S.node[i];
                if (!ns->known)
                    continue;
                int64_t a = sr_shape_numel(&ns->in), b = sr_shape_numel(&ns->out);
                if (a < 0 || b < 0 || a > MAX_ACT || b > MAX_ACT)
                    ok = 0;
            }
            int64_t params = 0;
            for (int i = 0; i < m->nmods && ok; i++) {
                sr_layer *L = m->mods[i];
                sr_paramdecl decl[SR_MAXPARAMS];
                int np = L->type->params ? L->type->params(L, decl) : 0;
                for (int k = 0; k < np && ok; k++) {
                    int64_t n = sr_shape_numel(&decl[k].shape);
                    if (n < 0 || n > MAX_PARAMS || (params += n) > MAX_PARAMS)
                        ok = 0;
                }
                /* a lazy layer's size is known only once it runs: its
                 * input is an activation, its output size an argument */
                if (L->type->flags & SR_LF_LAZY)
                    for (int k = 0; k < SR_MAXARGS; k++)
                        if (L->arg[k].kind == SR_AV_INT && (L->arg[k].i < 0 || L->arg[k].i > 64))
                            ok = 0;
            }
        }
        sr_shapes_free(&S); /* a mismatch still fills S */
        if (!ok || st != SR_OK)
            break;
        /* skip this record's data to reach the next header */
        int64_t left = in.h.numel;
        float buf[256];
        int64_t lb[256];
        int bad = 0;
        while (left > 0 && !bad) {
            size_t n = left < 256 ? (size_t)left : 256;
            bad = sr_npy_read_elems(&in.s, &in.h, n, integer ? SR_I64 : SR_F32,
                                    integer ? (void *)lb : (void *)buf, err) != SR_OK;
            left -= (int64_t)n;
        }
        int got = 0;
        if (bad || !in.is_npy || sr_input_next(&in, &got, err) != SR_OK || !got)
            break;
    }
    sr_input_close(&in);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || setup() != 0)
        return 0;
    unsigned flags = data[0];
    const uint8_t *spec = data + 1, *end = data + size;
    const uint8_t *s1 = find_sep(spec, (size_t)(end - spec));
    const uint8_t *wts = s1 ? s1 + SEPLEN : end;
    const uint8_t *s2 = s1 ? find_sep(wts, (size_t)(end - wts)) : NULL;
    const uint8_t *inp = s2 ? s2 + SEPLEN : end;
    size_t speclen = (size_t)((s1 ? s1 : end) - spec);
    size_t wlen = (size_t)((s2 ? s2 : end) - wts);
    size_t inlen = (size_t)(end - inp);

    unlink(p_npy);
    unlink(p_raw);
    unlink(p_st);
    unlink(p_w);
    if (put(p_in, inp, inlen) != 0 || (wlen && put(p_w, wts, wlen) != 0))
        return 0;

    static const sr_format fmts[] = {SR_FMT_NPY, SR_FMT_RAW, SR_FMT_TEXT, SR_FMT_TEXT};
    static const int64_t batches[] = {0, 1, 2, 3};
    sr_runopts o = {0};
    o.input = p_in;
    o.format = fmts[flags >> 2 & 3];
    o.output = o.format == SR_FMT_NPY ? p_npy : p_raw;
    o.top = (flags >> 2 & 3) == 3 ? 2 : 0;
    o.weights = wlen ? p_w : NULL;
    o.save_state = flags & 2 ? p_st : NULL;
    o.batch_size = batches[flags >> 4 & 3];
    o.train = flags & 1;
    o.quiet = 1;
    o.threads = flags & 64 ? 2 : 1;
    o.blas_threads = 0;
    o.seed = 1;

    /* --check, as its own process would run it: a fresh model */
    sr_model m;
    if (parse(&m, spec, speclen) != 0)
        return 0;
    int small = small_enough(&m, &o);
    sr_model_free(&m);
    if (!small) {
        if (getenv("FUZZ_RUN_DEBUG"))
            fprintf(stderr, "fuzz_run: model or input over the bounds, not run\n");
        return 0;
    }

    if (parse(&m, spec, speclen) != 0)
        return 0;
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        sr_runopts co = o;
        co.format = flags & 128 ? SR_FMT_JSON : SR_FMT_TEXT;
        co.save_state = NULL;
        sr_diags d = {0};
        (void)sr_check(&m, &co, null, &d);
        sr_diags_free(&d);
        fclose(null);
    }
    sr_model_free(&m);

    /* the run */
    if (parse(&m, spec, speclen) != 0)
        return 0;
    sr_diags d = {0};
    sr_status st = sr_run(&m, &o, &d);
    if (getenv("FUZZ_RUN_DEBUG")) {
        fprintf(stderr, "fuzz_run: flags 0x%02x, run exit %d\n", flags, st);
        for (int i = 0; i < d.n; i++)
            fprintf(stderr, "  %s\n", d.item[i].text);
    }
    sr_diags_free(&d);
    sr_model_free(&m);

    int have_out = exists(o.output), have_st = exists(p_st);
    check_no_strays();
    if (st != SR_OK) {
        if (have_out || have_st) {
            fprintf(stderr, "fuzz_run: failed run (status %d) left %s%s\n", st,
                    have_out ? o.output : "", have_st ? " state.st" : "");
            __builtin_trap();
        }
        return 0;
    }
    if (!have_out || (o.save_state && !have_st)) {
        fprintf(stderr, "fuzz_run: successful run without its outputs\n");
        __builtin_trap();
    }
    char err[SR_ERRLEN];
    if (o.format == SR_FMT_NPY) {
        sr_tensor t;
        if (sr_npy_load(p_npy, &t, err) != SR_OK) {
            fprintf(stderr, "fuzz_run: output does not read back: %s\n", err);
            __builtin_trap();
        }
        sr_tensor_free(&t);
    }
    if (o.save_state) {
        sr_safetensors sf;
        if (sr_st_open(&sf, p_st, err) != SR_OK) {
            fprintf(stderr, "fuzz_run: --save-state does not read back: %s\n", err);
            __builtin_trap();
        }
        sr_st_close(&sf);
    }
    return 0;
}
