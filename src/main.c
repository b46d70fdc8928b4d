/*
 * main.c - the command line.  The only file that talks to the user: it
 * parses options, calls the library, prints its diagnostics to stderr and
 * returns its status as the exit code.
 */
#include "catalog.h"
#include "check.h"
#include "layer.h"
#include "model.h"
#include "par.h"
#include "run.h"
#include "shape.h"

#include <cblas.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef SEQRUN_VERSION
#define SEQRUN_VERSION "0.1.0"
#endif

/*
 * The options: one list, read by getopt_long, by --help and by the man
 * page's test (tests/suite_man.sh checks that seqrun(1) documents each).
 * Continuation lines of a help text start with '\n'.
 */
enum {
    OPT_INPUT_SHAPE = 256, OPT_FORMAT, OPT_BATCH_SIZE, OPT_TRAIN, OPT_SAVE_STATE, OPT_SEED, OPT_THREADS,
    OPT_CHECK, OPT_COLUMNS, OPT_DEPTH, OPT_TOP, OPT_PATHS, OPT_LIST_LAYERS, OPT_VERSION
};

typedef struct {
    const char *name;     /* long name */
    int id;               /* short letter, or OPT_* */
    const char *arg;      /* its value's name in --help, or NULL for a flag */
    const char *help;
} cli_option;

static const cli_option cli_options[] = {
    {"output", 'o', "FILE", "write the result there (.npy: NumPy, else raw float32)"},
    {"weights", 'w', "FILE", "safetensors parameters and buffers (overrides weights:)"},
    {"input-shape", OPT_INPUT_SHAPE, "D,..", "shape of a raw input; one D may be -1 (or the spec's batch name)"},
    {"format", OPT_FORMAT, "F", "npy|raw|text on stdout (default text on a terminal, else npy);\nwith --check: text|json|dot (a Graphviz graph)"},
    {"batch-size", OPT_BATCH_SIZE, "N", "run in chunks of N samples (same results, bounded memory)"},
    {"train", OPT_TRAIN, NULL, "training-mode forward (BatchNorm batch stats, Dropout on)"},
    {"save-state", OPT_SAVE_STATE, "FILE", "write all parameters and buffers as safetensors after the run"},
    {"seed", OPT_SEED, "N", "seed for default initialisation and dropout (default 0)"},
    {"threads", OPT_THREADS, "N", "worker threads (default: all cores)"},
    {"check", OPT_CHECK, NULL, "shape report only (and the weights, if given)"},
    {"columns", OPT_COLUMNS, "LIST", "the --check table's columns: input,output,params,mult-adds"},
    {"depth", OPT_DEPTH, "N", "fold --check rows nested deeper than N levels"},
    {"top", OPT_TOP, "K", "with text output: the K most likely classes per sample"},
    {"paths", OPT_PATHS, NULL, "input paths on stdin; write NAME.out.npy for each (or in -o DIR)"},
    {"list-layers", OPT_LIST_LAYERS, NULL, "each layer's arguments, defaults, state_dict keys (or json)"},
    {"quiet", 'q', NULL, "nothing on stderr unless an error"},
    {"verbose", 'v', NULL, "per-layer timing on stderr; with --check: every column"},
    {"help", 'h', NULL, "this help"},
    {"version", OPT_VERSION, NULL, "the version"},
};
#define NOPTIONS ((int)(sizeof cli_options / sizeof *cli_options))

static void usage(FILE *f)
{
    fprintf(f,
            "usage: seqrun [OPTIONS] MODEL.yaml [INPUT]          run forward passes\n"
            "       seqrun --check [OPTIONS] MODEL.yaml [INPUT]  infer shapes, report, run nothing\n"
            "       seqrun --list-layers [--format json]         the layers seqrun runs\n"
            "\n"
            "INPUT is .npy (a stream of records is fine) or raw float32; '-' or none reads stdin.\n"
            "\n");
    for (int i = 0; i < NOPTIONS; i++) {
        const cli_option *o = &cli_options[i];
        char head[48];
        int k = o->id < 256 ? snprintf(head, sizeof head, "  -%c, --%s", o->id, o->name)
                            : snprintf(head, sizeof head, "      --%s", o->name);
        if (o->arg && k > 0 && (size_t)k < sizeof head)
            snprintf(head + k, sizeof head - (size_t)k, " %s", o->arg);
        const char *h = o->help;
        size_t n = strcspn(h, "\n");
        fprintf(f, "%-26s%.*s\n", head, (int)n, h);
        while (h[n] == '\n') {
            h += n + 1;
            n = strcspn(h, "\n");
            fprintf(f, "%-26s%.*s\n", "", (int)n, h);
        }
    }
    fprintf(f, "\nexit: 0 ok, 1 runtime or I/O error, 2 usage or invalid spec, 3 shape mismatch\n"
               "\nlayers:");
    int col = 80;
    for (int i = 0; i < sr_nlayer_types; i++) {
        int len = (int)strlen(sr_layer_types[i]->name);
        if (col + len + 1 > 78) {
            fprintf(f, "\n ");
            col = 1;
        }
        fprintf(f, " %s", sr_layer_types[i]->name);
        col += len + 1;
    }
    fprintf(f, "\n\nSee seqrun(1) for the spec format, 'seqrun --list-layers' for every layer.\n");
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

/* "1,-1,28" or, with the spec's batch name, "N,3,32,32": the name stands
 * for -1 and is copied to name (checked against the spec once it is read). */
static int parse_shape(const char *s, sr_shape *out, char *name, size_t namelen)
{
    memset(out, 0, sizeof *out);
    name[0] = '\0';
    int neg = 0;
    const char *p = s;
    while (*p) {
        if (out->ndim == SR_MAXDIM)
            return -1;
        char *end;
        long long v;
        size_t id = (isalpha((unsigned char)*p) || *p == '_') ? strspn(p, "abcdefghijklmnopqrstuvwxyz"
                                                                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") : 0;
        if (id) {
            if (id >= namelen)
                return -1;
            memcpy(name, p, id);
            name[id] = '\0';
            v = -1;
            end = (char *)p + id;
        } else {
            errno = 0;
            v = strtoll(p, &end, 10);
            if (errno || end == p || (v < 0 && v != -1))
                return -1;
        }
        if (*end && *end != ',')
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

/* Whether a warning about g's layer was printed before: --paths prints
 * each file's diagnostics after it, and a layer's warning once is enough.
 * The places are kept as hashes; past WARNED_MAX of them, repeats print. */
#define WARNED_MAX 256
static int warned_before(const sr_diag *g)
{
    static uint64_t seen[WARNED_MAX];
    static int nseen;
    if (!g->layer)
        return 0;
    char key[SR_ERRLEN];
    snprintf(key, sizeof key, "%s:%d:%d:%s", g->file ? g->file : "", g->line, g->col, g->layer);
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (int k = 0; k < nseen; k++)
        if (seen[k] == h)
            return 1;
    if (nseen < WARNED_MAX)
        seen[nseen++] = h;
    return 0;
}

/*
 * The one place diagnostics become text on stderr (sr_diag_format's form).
 * show: print them at all (-q on success prints nothing); quiet: leave out
 * warnings.  A flood of errors (200k aliases of an unknown layer) is cut
 * after SHOW_MAX, with a count of the rest.
 */
#define SHOW_MAX 50
static void print_diags(sr_diags *d, int show, int quiet)
{
    long more = d->dropped;
    for (int i = 0, shown = 0; show && i < d->n; i++) {
        const sr_diag *g = &d->item[i];
        if (g->sev == SR_SEV_WARNING && (quiet || warned_before(g)))
            continue;
        if (g->sev != SR_SEV_NOTE && shown++ >= SHOW_MAX) {
            more++;
            continue;
        }
        fprintf(stderr, "%s\n", g->text);
    }
    if (show && d->lost[0]) {
        /* memory ran out while reporting: the first error not kept */
        fprintf(stderr, "%s\n", d->lost);
        more--;
    }
    if (show && more && d->n == 0 && !d->lost[0])
        /* not even one could be kept: memory ran out while reporting */
        fprintf(stderr, "seqrun: out of memory (%ld problem%s could not be reported)\n", more, more == 1 ? "" : "s");
    else if (show && more)
        fprintf(stderr, "seqrun: ... and %ld more problem%s\n", more, more == 1 ? "" : "s");
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

/* A progress bar for runs longer than a second, redrawn ten times a second
 * on stderr (only on a terminal, without -q): the runner reports samples
 * done after each chunk. */
typedef struct {
    double t_start, t_shown; /* ms: the record's first report, the last redraw */
} progress_bar;

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void draw_progress(void *arg, int64_t done, int64_t total, int last)
{
    progress_bar *P = arg;
    double t = mono_ms();
    if (P->t_start == 0)
        P->t_start = t; /* a record's first chunk */
    int show = t - P->t_start >= 1000 && (last || t - P->t_shown >= 100) && !(last && P->t_shown == 0);
    if (show) {
        P->t_shown = t;
        double rate = (double)done / ((t - P->t_start) / 1000);
        double eta = rate > 0 ? (double)(total - done) / rate : 0;
        int width = 30, fill = total ? (int)(width * done / total) : width;
        fprintf(stderr, "\r[%.*s%*s] %lld/%lld samples  %.0f/s  ETA %d:%02d ", fill,
                "##############################", width - fill, "", (long long)done, (long long)total, rate,
                (int)eta / 60, (int)eta % 60);
        if (last)
            fprintf(stderr, "\r%*s\r", 90, "");
        fflush(stderr);
    }
    if (last)
        P->t_start = P->t_shown = 0;
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
    int lost = 0; /* errno of a failed write of the list to stdout */
    sr_status worst = SR_OK;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        /* Without -o DIR results land beside their inputs, so a second run
         * over the same files would take the first run's results for inputs
         * (and write x.out.out.npy): they are skipped, not failed. */
        if (!dir && (ends_with(line, ".out.npy") || ends_with(line, ".out.bin"))) {
            if (!o->quiet)
                fprintf(stderr, "seqrun: %s: skipped: a result of --paths (without -o DIR results are written beside "
                        "their inputs; name the inputs, or give -o DIR)\n", line);
            continue;
        }
        char *out = output_path(line, dir, o->format);
        sr_diags fd = {0};
        sr_status st = out ? sr_runner_file(r, line, out, &fd) : SR_ERUN;
        if (st == SR_OK) {
            /* the list of written paths is --paths's output: a caller that
             * cannot read it cannot know what was done, so that is a failure */
            if (printf("%s\n", out) < 0 || fflush(stdout) != 0)
                lost = errno ? errno : EIO;
            done++;
        } else {
            failed++;
            if (st > worst)
                worst = st;
            fprintf(stderr, "seqrun: %s: failed\n", line);
        }
        print_diags(&fd, st != SR_OK || !o->quiet, o->quiet);
        free(out);
        if (lost)
            break;
    }
    free(line);
    sr_status st = sr_runner_finish(r, d);
    sr_runner_free(r);
    if (lost) {
        sr_diag_add(d, "seqrun: <stdout>: write failed: %s (the list of written paths is lost)", strerror(lost));
        return SR_ERUN;
    }
    if (failed) {
        sr_diag_add(d, "seqrun: %ld of %ld paths failed", failed, failed + done);
        return worst;
    }
    return st;
}

/*
 * --top K ranks the classes of each sample: it needs an output of
 * [N, classes] (or one unbatched [classes]).  Where the output's shape can
 * be known before the run (a regular file's header, --input-shape, the
 * spec's input:), anything else is refused up front, not printed as if
 * the last dimension were classes.  1 and why, or 0.
 */
static int top_refused(sr_model *m, const sr_runopts *o, char *why, size_t len)
{
    sr_shape in;
    int integer = 0;
    struct stat sb;
    if (o->input && strcmp(o->input, "-") != 0 && stat(o->input, &sb) == 0 && S_ISREG(sb.st_mode)) {
        sr_input src;
        char err[SR_ERRLEN];
        sr_status st = sr_input_open(&src, m, o, err);
        in = src.h.shape;
        integer = src.h.is_integer;
        sr_input_close(&src);
        if (st != SR_OK)
            return 0; /* the run says what is wrong with it */
    } else if (o->has_input_shape) {
        in = o->input_shape;
    } else if (m->has_input) {
        in = m->input;
    } else {
        return 0;
    }
    for (int k = 0; k < in.ndim; k++)
        if (in.d[k] < 0)
            in.d[k] = 1;
    int first_embedding = 0;
    for (int i = 0; i < m->nnode && !first_embedding; i++)
        if (sr_node_is_leaf(&m->node[i])) {
            first_embedding = (m->node[i].mod->type->flags & SR_LF_INDEX_INPUT) != 0;
            break;
        }
    sr_diags d = {0};
    sr_shapes S;
    sr_status st = sr_infer(m, &in, integer && first_embedding, o->train, &S, &d);
    sr_diags_free(&d);
    int refuse = st == SR_OK && S.out.ndim > 2;
    if (refuse) {
        char shp[160];
        sr_symshape_str(&S.node[m->nnode - 1].sout, S.free_name, S.free_size, shp, sizeof shp); /* nnode > 0: ndim > 2 */
        snprintf(why, len, "--top %d ranks the classes of each sample, so it needs an output of [N, classes], but "
                 "this model's output is %s; end the model with the layers that make class scores (Flatten, "
                 "Linear), or leave out --top", o->top, shp);
    }
    sr_shapes_free(&S);
    return refuse;
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

/* What the command line asked for, as parse_args and the checks after it
 * fill it in. */
typedef struct {
    sr_runopts o;
    sr_checkopts copts;
    const char *pos[2];         /* MODEL.yaml, INPUT */
    int npos, check, format_given, paths, dot, list_layers;
    const char *columns_arg, *depth_arg, *input_shape_arg;
    long long threads;          /* --threads, or 0 */
    char shape_name[32];        /* --input-shape's batch name, or "" */
} cli;

/* One option from getopt_long; -1 to go on, else the exit status. */
static int parse_option(cli *c, int opt, const char *val, const char *arg)
{
    long long v;
    switch (opt) {
    case '?': {
        if (optopt >= 256) { /* a flag given a value: --train=1 */
            for (int k = 0; k < NOPTIONS; k++)
                if (cli_options[k].id == optopt) {
                    char nm[64];
                    snprintf(nm, sizeof nm, "--%s", cli_options[k].name);
                    return usage_error("option '%s' takes no value", nm);
                }
        }
        if (optopt) {
            char nm[3] = {'-', (char)optopt, 0};
            return usage_error("unknown option '%s'", nm);
        }
        return usage_error("unknown option '%s'", arg);
    }
    case ':': {
        char nm[64];
        if (optopt >= 256 || arg[1] == '-') {
            size_t n = strcspn(arg, "=");
            snprintf(nm, sizeof nm, "%.*s", (int)(n < sizeof nm ? n : sizeof nm - 1), arg);
        } else {
            snprintf(nm, sizeof nm, "-%c", optopt);
        }
        return usage_error("option '%s' needs a value", nm);
    }
    case OPT_TRAIN: c->o.train = 1; break;
    case OPT_CHECK: c->check = 1; break;
    case OPT_PATHS: c->paths = 1; break;
    case OPT_LIST_LAYERS: c->list_layers = 1; break;
    case 'q': c->o.quiet = 1; break;
    case 'v': c->o.verbose = 1; break;
    case 'h': usage(stdout); return 0;
    case OPT_VERSION: printf("seqrun %s\n", SEQRUN_VERSION); return 0;
    case 'o': c->o.output = val; break;
    case 'w': c->o.weights = val; break;
    case OPT_SAVE_STATE: c->o.save_state = val; break;
    case OPT_INPUT_SHAPE:
        c->input_shape_arg = val;
        break;
    case OPT_FORMAT:
        c->format_given = 1;
        if (!strcmp(val, "npy"))
            c->o.format = SR_FMT_NPY;
        else if (!strcmp(val, "raw"))
            c->o.format = SR_FMT_RAW;
        else if (!strcmp(val, "text"))
            c->o.format = SR_FMT_TEXT;
        else if (!strcmp(val, "json"))
            c->o.format = SR_FMT_JSON;
        else if (!strcmp(val, "dot"))
            c->o.format = SR_FMT_TEXT, c->dot = 1;
        else
            return usage_error("--format: expected npy, raw, text or json (or dot, with --check), got '%s'", val);
        if (strcmp(val, "dot"))
            c->dot = 0;
        break;
    case OPT_COLUMNS:
        c->columns_arg = val;
        break;
    case OPT_DEPTH:
        c->depth_arg = val;
        if (parse_int(val, 0, 1000000, &v) < 0)
            return usage_error("--depth: expected a non-negative integer, got '%s'", val);
        c->copts.depth = (int)v;
        break;
    case OPT_BATCH_SIZE:
        if (parse_int(val, 1, (long long)1 << 40, &v) < 0)
            return usage_error("--batch-size: expected a positive integer, got '%s'", val);
        c->o.batch_size = v;
        break;
    case OPT_SEED:
        if (parse_int(val, 0, 0x7fffffffffffffffLL, &v) < 0)
            return usage_error("--seed: expected a non-negative integer, got '%s'", val);
        c->o.seed = (uint64_t)v;
        break;
    case OPT_TOP:
        if (parse_int(val, 1, 1000000, &v) < 0)
            return usage_error("--top: expected a positive integer, got '%s'", val);
        c->o.top = (int)v;
        break;
    case OPT_THREADS:
        if (parse_int(val, 1, 0x7fffffff, &v) < 0)
            return usage_error("--threads: expected a positive integer, got '%s'", val);
        if (v > SR_PAR_MAXTHREADS) {
            char m[96];
            snprintf(m, sizeof m, "--threads: at most %d, got '%%s'", SR_PAR_MAXTHREADS);
            return usage_error(m, val);
        }
        c->threads = v;
        break;
    }
    return -1;
}

/* The options and positional arguments into c; -1 to go on, else the exit
 * status (--help, --version, --list-layers, a usage error). */
static int parse_args(cli *c, int argc, char **argv)
{
    struct option longopts[NOPTIONS + 1];
    char shortopts[3 * NOPTIONS + 2] = ":";
    size_t ns = 1;
    for (int i = 0; i < NOPTIONS; i++) {
        const cli_option *co = &cli_options[i];
        longopts[i] = (struct option){co->name, co->arg ? required_argument : no_argument, NULL, co->id};
        if (co->id < 256) {
            shortopts[ns++] = (char)co->id;
            if (co->arg)
                shortopts[ns++] = ':';
        }
    }
    longopts[NOPTIONS] = (struct option){0};
    shortopts[ns] = '\0';
    opterr = 0; /* the messages are ours */
    int opt;
    while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        int rc = parse_option(c, opt, optarg, argv[optind - 1]);
        if (rc >= 0)
            return rc;
    }
    for (int i = optind; i < argc; i++) {
        if (c->npos == 2)
            return usage_error("unexpected argument '%s'", argv[i]);
        c->pos[c->npos++] = argv[i];
    }
    if (c->list_layers) {
        if (c->format_given && c->o.format != SR_FMT_TEXT && c->o.format != SR_FMT_JSON)
            return usage_error("%s", "--list-layers --format takes text or json");
        sr_catalog_write(stdout, c->o.format == SR_FMT_JSON);
        return fflush(stdout) == 0 ? 0 : SR_ERUN;
    }
    if (c->input_shape_arg) {
        if (parse_shape(c->input_shape_arg, &c->o.input_shape, c->shape_name, sizeof c->shape_name) < 0)
            return usage_error("--input-shape: expected comma-separated sizes with at most one -1 (or the spec's batch "
                               "dimension name), got '%s'", c->input_shape_arg);
        c->o.has_input_shape = 1;
    }
    return -1;
}

/* What the options mean together (formats, modes); -1 to go on, else the
 * exit status of a usage error. */
static int resolve_modes(cli *c)
{
    if (c->npos == 0)
        return usage_error("%s", "missing MODEL.yaml");
    if (c->o.verbose && c->o.quiet)
        c->o.verbose = 0;
    c->o.input = c->pos[1];
    if (c->pos[1] && strcmp(c->pos[0], "-") == 0 && strcmp(c->pos[1], "-") == 0)
        return usage_error("%s", "the model and the input cannot both come from standard input");

    if (c->paths && (c->check || c->pos[1] || strcmp(c->pos[0], "-") == 0))
        return usage_error("%s", "--paths reads input paths from stdin: give only MODEL.yaml (a file), without --check");
    if (c->check) {
        if (!c->format_given)
            c->o.format = SR_FMT_TEXT;
        else if (c->o.format != SR_FMT_TEXT && c->o.format != SR_FMT_JSON)
            return usage_error("%s", "--check --format takes text, json or dot");
        c->copts.format = c->dot ? SR_CHECK_DOT : c->o.format == SR_FMT_JSON ? SR_CHECK_JSON : SR_CHECK_TEXT;
        char badcol[64];
        if (c->columns_arg && sr_check_columns(c->columns_arg, &c->copts, badcol, sizeof badcol) < 0)
            return usage_error(badcol[0] ? "--columns: unknown or repeated column '%s'; the columns are input, output, "
                                           "params, mult-adds"
                                         : "--columns: expected a comma-separated list of input, output, params, "
                                           "mult-adds%s",
                               badcol);
        if (!c->columns_arg && c->o.verbose)
            sr_check_columns("input,output,params,mult-adds", &c->copts, badcol, sizeof badcol);
    } else {
        if (c->dot)
            return usage_error("%s", "--format dot is for --check; runs write npy, raw or text");
        if (c->columns_arg || c->depth_arg)
            return usage_error("%s", c->columns_arg ? "--columns is for --check" : "--depth is for --check");
        if (c->o.format == SR_FMT_JSON)
            return usage_error("%s", "--format json is for --check; runs write npy, raw or text");
        if (c->paths && !c->format_given)
            c->o.format = SR_FMT_NPY;
        else if (!c->format_given) {
            if (strcmp(c->o.output, "-") == 0)
                c->o.format = isatty(STDOUT_FILENO) ? SR_FMT_TEXT : SR_FMT_NPY;
            else
                c->o.format = ends_with(c->o.output, ".npy") ? SR_FMT_NPY : SR_FMT_RAW;
        }
        if (c->o.top && c->o.format != SR_FMT_TEXT)
            return usage_error("%s", "--top prints classes as text: use it with --format text (the default on a terminal)");
        if (!c->o.input)
            c->o.input = "-";
        if (strcmp(c->pos[0], "-") == 0 && strcmp(c->o.input, "-") == 0)
            return usage_error("%s", "the model comes from standard input, so INPUT must be a file");
    }
    return -1;
}

/* Checks that need the spec (the batch name, a terminal on stdin, --top's
 * output shape); -1 to go on, else the exit status (m is freed then). */
static int check_against_spec(cli *c, sr_model *m, sr_diags *d)
{
    if (c->shape_name[0] &&
        (!m->has_input || m->input_free < 0 || strcmp(c->shape_name, m->input_free_name) != 0)) {
        char msg[160];
        if (m->has_input && m->input_free >= 0)
            snprintf(msg, sizeof msg, "--input-shape: expected sizes, got '%%s' (the spec's batch dimension is '%s')",
                     m->input_free_name);
        else
            snprintf(msg, sizeof msg, "--input-shape: expected sizes, got '%%s' (a name stands for -1 only as the "
                                      "spec's batch dimension, and its input: names none)");
        sr_model_free(m);
        sr_diags_free(d);
        return usage_error(msg, c->shape_name);
    }
    /* No silent wait: standard input on a terminal gives no tensor. */
    if (!c->paths && strcmp(c->pos[0], "-") != 0 && isatty(STDIN_FILENO)) {
        int reads = c->check ? (c->o.input && !strcmp(c->o.input, "-")) || (!c->o.input && !c->o.has_input_shape && !m->has_input)
                          : !strcmp(c->o.input, "-");
        if (reads) {
            sr_model_free(m);
            sr_diags_free(d);
            return usage_error("%s", c->check ? "--check needs the input's shape, and standard input is a terminal: give "
                                             "INPUT (a .npy file), --input-shape D,D,... or an input: line in the spec"
                                           : "no INPUT given, and standard input is a terminal: give an input file, or "
                                             "pipe the data in (seqrun MODEL.yaml - < x.npy)");
        }
    }
    if (!c->check && !c->paths && c->o.top) {
        char why[SR_ERRLEN];
        if (top_refused(m, &c->o, why, sizeof why)) {
            sr_model_free(m);
            sr_diags_free(d);
            return usage_error("%s", why);
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    int blas_default = openblas_default_threads();
    cli c = {.o = {.output = "-"}, .copts = {.depth = -1}};
    int rc = parse_args(&c, argc, argv);
    if (rc < 0)
        rc = resolve_modes(&c);
    if (rc >= 0)
        return rc;
    sr_runopts *o = &c.o;
    /* OpenBLAS's pool and seqrun's own (sr_par_for) both get --threads; by
     * default seqrun's uses every core and OpenBLAS's what it chose itself
     * (every core, or OPENBLAS_NUM_THREADS).  The runner engages them once
     * the work has shown it is worth more than one. */
    o->threads = c.threads ? (int)c.threads : sr_par_cores();
    o->blas_threads = c.threads ? (int)c.threads : blas_default;
    progress_bar bar = {0};
    if (!o->quiet && !c.check && isatty(STDERR_FILENO)) {
        o->progress = draw_progress;
        o->progress_arg = &bar;
    }
    sr_out_install_signal_cleanup();

    sr_diags d = {0};
    sr_model m;
    sr_status st = sr_spec_load(&m, c.pos[0], &d);
    if (st == SR_OK && (rc = check_against_spec(&c, &m, &d)) >= 0)
        return rc;
    if (st == SR_OK && c.paths)
        st = run_paths(&m, o, &d);
    else if (st == SR_OK)
        st = c.check ? sr_check_ex(&m, o, &c.copts, stdout, &d) : sr_run(&m, o, &d);
    print_diags(&d, st != SR_OK || !o->quiet, o->quiet);
    sr_diags_free(&d);
    sr_model_free(&m);
    if (fflush(stdout) != 0 && st == SR_OK) {
        fprintf(stderr, "seqrun: <stdout>: write failed: %s\n", strerror(errno));
        st = SR_ERUN;
    }
    return (int)st;
}
