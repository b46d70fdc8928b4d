/*
 * main.c - the command line.  The only file that talks to the user: it
 * parses options, calls the library, prints its diagnostics to stderr and
 * returns its status as the exit code.
 */
#include "check.h"
#include "layer.h"
#include "model.h"
#include "par.h"
#include "run.h"

#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SEQRUN_VERSION
#define SEQRUN_VERSION "0.1.0"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: seqrun [OPTIONS] MODEL.yaml [INPUT]          run forward passes\n"
            "       seqrun --check [OPTIONS] MODEL.yaml [INPUT]  infer shapes, report, run nothing\n"
            "\n"
            "INPUT is .npy (a stream of records is fine) or raw float32; '-' or none reads stdin.\n"
            "\n"
            "  -o, --output FILE       write the result there (.npy: NumPy, else raw float32)\n"
            "  -w, --weights FILE      safetensors parameters and buffers (overrides weights:)\n"
            "      --input-shape D,..  shape of a raw input; one D may be -1\n"
            "      --format F          npy|raw|text on stdout (default text on a terminal, else npy);\n"
            "                          with --check: text|json\n"
            "      --batch-size N      run in chunks of N samples (same results, bounded memory)\n"
            "      --train             training-mode forward (BatchNorm batch stats, Dropout on)\n"
            "      --save-state FILE   write all parameters and buffers as safetensors after the run\n"
            "      --seed N            seed for default initialisation and dropout (default 0)\n"
            "      --threads N         worker threads (default: all cores)\n"
            "      --check             shape report only\n"
            "      --top K             with text output: the K most likely classes per sample\n"
            "      --paths             read input paths from stdin, one per line; write each result\n"
            "                          beside its input (or into -o DIR) and print its path\n"
            "  -q, --quiet             nothing on stderr unless an error\n"
            "  -v, --verbose           per-layer timing on stderr\n"
            "  -h, --help, --version\n"
            "\n"
            "exit: 0 ok, 1 runtime or I/O error, 2 usage or invalid spec, 3 shape mismatch\n"
            "\nlayers:");
    int col = 80;
    for (int i = 0; i < sr_nlayer_types; i++) {
        int len = (int)strlen(sr_layer_types[i].name);
        if (col + len + 1 > 78) {
            fprintf(f, "\n ");
            col = 1;
        }
        fprintf(f, " %s", sr_layer_types[i].name);
        col += len + 1;
    }
    fprintf(f, "\n\nSee seqrun(1) for the spec format and every layer's arguments.\n");
}

static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_shape(const char *s, sr_shape *out)
{
    memset(out, 0, sizeof *out);
    int neg = 0;
    const char *p = s;
    while (*p) {
        if (out->ndim == SR_MAXDIM)
            return -1;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || end == p || (v < 0 && v != -1) || (*end && *end != ','))
            return -1;
        neg += v == -1;
        out->d[out->ndim++] = v;
        p = *end ? end + 1 : end;
        if (*end == ',' && !*p)
            return -1;
    }
    return out->ndim && neg <= 1 ? 0 : -1;
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "seqrun: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'seqrun --help'.\n");
    return SR_EUSAGE;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void print_diags(sr_diags *d, int show)
{
    for (int i = 0; i < d->n; i++)
        if (show)
            fprintf(stderr, "%s\n", d->line[i]);
    sr_diags_free(d);
}

/* Where --paths puts the result for an input: beside it, or in -o DIR,
 * with the extension replaced by .out.npy (.out.bin for raw output). */
static char *output_path(const char *input, const char *dir, sr_format fmt)
{
    const char *base = strrchr(input, '/');
    base = base ? base + 1 : input;
    size_t stem = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot != base)
        stem = (size_t)(dot - base);
    size_t dirlen = dir ? strlen(dir) : (size_t)(base - input);
    size_t n = dirlen + stem + 16;
    char *p = malloc(n);
    if (!p)
        return NULL;
    if (dir)
        snprintf(p, n, "%s%s%.*s.out.%s", dir, dirlen && dir[dirlen - 1] != '/' ? "/" : "", (int)stem, base,
                 fmt == SR_FMT_NPY ? "npy" : "bin");
    else
        snprintf(p, n, "%.*s%.*s.out.%s", (int)dirlen, input, (int)stem, base, fmt == SR_FMT_NPY ? "npy" : "bin");
    return p;
}

/* --paths: a filter for line-oriented engines (GNU parallel, Slurm arrays,
 * Spark's RDD.pipe, Hadoop Streaming).  One input path per line in, one
 * output path per line out; a failed path is reported and counted, and the
 * rest still run. */
static sr_status run_paths(sr_model *m, const sr_runopts *o, sr_diags *d)
{
    const char *dir = strcmp(o->output, "-") == 0 ? NULL : o->output;
    sr_runner *r = sr_runner_new(m, o);
    if (!r) {
        sr_diag_add(d, "out of memory");
        return SR_ERUN;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long failed = 0, done = 0;
    sr_status worst = SR_OK;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        char *out = output_path(line, dir, o->format);
        sr_diags fd = {0};
        sr_status st = out ? sr_runner_file(r, line, out, &fd) : SR_ERUN;
        if (st == SR_OK) {
            printf("%s\n", out);
            fflush(stdout);
            done++;
        } else {
            failed++;
            if (st > worst)
                worst = st;
            fprintf(stderr, "seqrun: %s: failed\n", line);
        }
        print_diags(&fd, st != SR_OK || !o->quiet);
        free(out);
    }
    free(line);
    sr_status st = sr_runner_finish(r, d);
    sr_runner_free(r);
    if (failed) {
        sr_diag_add(d, "seqrun: %ld of %ld paths failed", failed, failed + done);
        return worst;
    }
    return st;
}

/*
 * OpenBLAS starts its thread pool when it is loaded, with as many threads
 * as OPENBLAS_NUM_THREADS (or GOTO_NUM_THREADS, OMP_NUM_THREADS) say, else
 * one per core, and the extra threads then spin for about 0.1 s: all that
 * before main(), whether the run needs them or not (one sample does not).
 * When OpenBLAS is linked in statically (the Makefile's default) this
 * constructor runs before OpenBLAS's (a higher priority) and has it start
 * with one thread; main() puts the variable back, and the runner raises
 * OpenBLAS's count (creating its threads then) once the work is worth it.
 * With a shared OpenBLAS its constructor has already run, and this changes
 * nothing.
 */
static char *blas_env_saved;  /* OPENBLAS_NUM_THREADS as it was, or NULL */
static int blas_env_set;      /* this constructor set it */

__attribute__((constructor(101))) static void hold_openblas_pool(void)
{
    const char *v = getenv("OPENBLAS_NUM_THREADS");
    blas_env_saved = v ? strdup(v) : NULL;
    if (!v || blas_env_saved)
        blas_env_set = setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0;
}

/* The thread count OpenBLAS would have chosen itself. */
static int openblas_default_threads(void)
{
    if (blas_env_set) {
        if (blas_env_saved)
            setenv("OPENBLAS_NUM_THREADS", blas_env_saved, 1);
        else
            unsetenv("OPENBLAS_NUM_THREADS");
        free(blas_env_saved);
        blas_env_saved = NULL;
        blas_env_set = 0;
    }
    static const char *const vars[] = {"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        long n = v ? strtol(v, NULL, 10) : 0;
        if (n > 0)
            return n < 1024 ? (int)n : 1024;
    }
    return sr_par_cores();
}

int main(int argc, char **argv)
{
    int blas_default = openblas_default_threads();
    sr_runopts o = {.output = "-"};
    const char *pos[2] = {NULL, NULL};
    int npos = 0, check = 0, format_given = 0, paths = 0;
    long long threads = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++) {
                if (npos == 2)
                    return usage_error("unexpected argument '%s'", argv[i]);
                pos[npos++] = argv[i];
            }
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (npos == 2)
                return usage_error("unexpected argument '%s'", a);
            pos[npos++] = a;
            continue;
        }
        /* Split "--opt=value"; short options take "-oFILE" too. */
        char name[64];
        const char *val = NULL;
        if (a[1] == '-') {
            const char *eq = strchr(a, '=');
            size_t n = eq ? (size_t)(eq - a) : strlen(a);
            if (n >= sizeof name)
                return usage_error("unknown option '%s'", a);
            memcpy(name, a, n);
            name[n] = '\0';
            val = eq ? eq + 1 : NULL;
        } else {
            snprintf(name, sizeof name, "-%c", a[1]);
            val = a[2] ? a + 2 : NULL;
        }
#define IS(x) (strcmp(name, x) == 0)
        int flag = IS("--train") || IS("--check") || IS("-q") || IS("--quiet") || IS("-v") ||
                   IS("--verbose") || IS("-h") || IS("--help") || IS("--version") || IS("--paths");
        if (flag && val)
            return usage_error("option '%s' takes no value", name);
        if (!flag) {
            if (!IS("-o") && !IS("--output") && !IS("-w") && !IS("--weights") && !IS("--input-shape") &&
                !IS("--format") && !IS("--batch-size") && !IS("--save-state") && !IS("--seed") &&
                !IS("--threads") && !IS("--top"))
                return usage_error("unknown option '%s'", a);
            if (!val) {
                if (i + 1 >= argc)
                    return usage_error("option '%s' needs a value", name);
                val = argv[++i]; /* may begin with '-': --input-shape -1,3 */
            }
        }
        long long v;
        if (IS("--train"))
            o.train = 1;
        else if (IS("--check"))
            check = 1;
        else if (IS("--paths"))
            paths = 1;
        else if (IS("-q") || IS("--quiet"))
            o.quiet = 1;
        else if (IS("-v") || IS("--verbose"))
            o.verbose = 1;
        else if (IS("-h") || IS("--help")) {
            usage(stdout);
            return 0;
        } else if (IS("--version")) {
            printf("seqrun %s\n", SEQRUN_VERSION);
            return 0;
        } else if (IS("-o") || IS("--output"))
            o.output = val;
        else if (IS("-w") || IS("--weights"))
            o.weights = val;
        else if (IS("--save-state"))
            o.save_state = val;
        else if (IS("--input-shape")) {
            if (parse_shape(val, &o.input_shape) < 0)
                return usage_error("--input-shape: expected comma-separated sizes with at most one -1, got '%s'", val);
            o.has_input_shape = 1;
        } else if (IS("--format")) {
            format_given = 1;
            if (!strcmp(val, "npy"))
                o.format = SR_FMT_NPY;
            else if (!strcmp(val, "raw"))
                o.format = SR_FMT_RAW;
            else if (!strcmp(val, "text"))
                o.format = SR_FMT_TEXT;
            else if (!strcmp(val, "json"))
                o.format = SR_FMT_JSON;
            else
                return usage_error("--format: expected npy, raw, text or json, got '%s'", val);
        } else if (IS("--batch-size")) {
            if (parse_int(val, 1, (long long)1 << 40, &v) < 0)
                return usage_error("--batch-size: expected a positive integer, got '%s'", val);
            o.batch_size = v;
        } else if (IS("--seed")) {
            if (parse_int(val, 0, 0x7fffffffffffffffLL, &v) < 0)
                return usage_error("--seed: expected a non-negative integer, got '%s'", val);
            o.seed = (uint64_t)v;
        } else if (IS("--top")) {
            if (parse_int(val, 1, 1000000, &v) < 0)
                return usage_error("--top: expected a positive integer, got '%s'", val);
            o.top = (int)v;
        } else if (IS("--threads")) {
            if (parse_int(val, 1, 1024, &v) < 0)
                return usage_error("--threads: expected a positive integer, got '%s'", val);
            threads = v;
        }
#undef IS
    }
    if (npos == 0)
        return usage_error("%s", "missing MODEL.yaml");
    if (o.verbose && o.quiet)
        o.verbose = 0;
    o.input = pos[1];
    if (pos[1] && strcmp(pos[0], "-") == 0 && strcmp(pos[1], "-") == 0)
        return usage_error("%s", "the model and the input cannot both come from standard input");

    if (paths && (check || pos[1] || strcmp(pos[0], "-") == 0))
        return usage_error("%s", "--paths reads input paths from stdin: give only MODEL.yaml (a file), without --check");
    if (check) {
        if (!format_given)
            o.format = SR_FMT_TEXT;
        else if (o.format != SR_FMT_TEXT && o.format != SR_FMT_JSON)
            return usage_error("%s", "--check --format takes text or json");
    } else {
        if (o.format == SR_FMT_JSON)
            return usage_error("%s", "--format json is for --check; runs write npy, raw or text");
        if (paths && !format_given)
            o.format = SR_FMT_NPY;
        else if (!format_given) {
            if (strcmp(o.output, "-") == 0)
                o.format = isatty(STDOUT_FILENO) ? SR_FMT_TEXT : SR_FMT_NPY;
            else
                o.format = ends_with(o.output, ".npy") ? SR_FMT_NPY : SR_FMT_RAW;
        }
        if (o.top && o.format != SR_FMT_TEXT)
            return usage_error("%s", "--top prints classes as text: use it with --format text (the default on a terminal)");
        if (!o.input)
            o.input = "-";
        if (strcmp(pos[0], "-") == 0 && strcmp(o.input, "-") == 0)
            return usage_error("%s", "the model comes from standard input, so INPUT must be a file");
    }
    /* OpenBLAS's pool and seqrun's own (sr_par_for) both get --threads; by
     * default seqrun's uses every core and OpenBLAS's what it chose itself
     * (every core, or OPENBLAS_NUM_THREADS).  The runner engages them once
     * the work has shown it is worth more than one. */
    o.threads = threads ? (int)threads : sr_par_cores();
    o.blas_threads = threads ? (int)threads : blas_default;
    o.progress = !o.quiet && !check && isatty(STDERR_FILENO);
    sr_out_install_signal_cleanup();

    sr_diags d = {0};
    sr_model m;
    sr_status st = sr_spec_load(&m, pos[0], &d);
    if (st == SR_OK && paths)
        st = run_paths(&m, &o, &d);
    else if (st == SR_OK)
        st = check ? sr_check(&m, &o, stdout, &d) : sr_run(&m, &o, &d);
    print_diags(&d, st != SR_OK || !o.quiet);
    sr_diags_free(&d);
    sr_model_free(&m);
    if (fflush(stdout) != 0 && st == SR_OK) {
        fprintf(stderr, "seqrun: <stdout>: write failed: %s\n", strerror(errno));
        st = SR_ERUN;
    }
    return (int)st;
}
