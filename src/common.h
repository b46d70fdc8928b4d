/*
 * common.h - status codes, error buffers and small checked-arithmetic helpers
 * shared by every module.
 *
 * Library code never prints and never exits.  A function that can fail
 * returns an sr_status and, on failure, leaves a one-line message in a
 * caller-supplied buffer of SR_ERRLEN bytes.  The status doubles as the
 * process exit code, so main() can simply return it.
 */
#ifndef SR_COMMON_H
#define SR_COMMON_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SR_OK = 0,      /* success */
    SR_ERUN = 1,    /* runtime / I/O / bad tensor or weights data */
    SR_EUSAGE = 2,  /* bad command line or invalid model spec */
    SR_ESHAPE = 3   /* shape mismatch */
} sr_status;

#define SR_ERRLEN 1024

/* Formats into err (which may be NULL) and returns status. */
sr_status sr_err(char *err, sr_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Diagnostics are values: where a problem is found it becomes an sr_diag
 * (severity, file, line, col, layer, type, message, hint), and it is
 * rendered in two places only: as text by sr_diag_format (the compiler
 * format editors parse, "FILE:LINE:COL: layer I (Type): what; hint: how",
 * printed by main.c), and as JSON by the --check report (check.c).  Checks
 * that report every problem collect them in an sr_diags list.
 */
typedef enum {
    SR_SEV_ERROR = 0,
    SR_SEV_WARNING,   /* shown unless -q, changes no exit status */
    SR_SEV_NOTE       /* -v's per-layer timings and the like */
} sr_severity;

typedef struct {
    sr_severity sev;
    char *file;       /* the model spec's label or a tensor file; NULL: none */
    int line, col;    /* 1-based place in file; 0: none */
    char *layer;      /* the layer's state_dict path ("2.1"), or NULL */
    char *type;       /* its type ("Linear"), or NULL */
    char *msg;        /* what is wrong */
    char *hint;       /* how to fix it, or NULL */
    char *text;       /* the whole line as sr_diag_format renders it */
} sr_diag;

#define SR_DIAGS_MAX 1000 /* kept per list; the rest are only counted */

typedef struct {
    sr_diag *item;
    int n, cap;
    long dropped;     /* problems not kept (past SR_DIAGS_MAX, or no memory), counted */
    /* The text of the first error that could not be kept for want of
     * memory, "" if none: memory running out must not silence the one
     * line that says so, so this needs no allocation. */
    char lost[512];
} sr_diags;

/* A problem with no place: msg from fmt (hint split off at "; hint: "). */
void sr_diag_add(sr_diags *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A problem at a place.  The text from fmt is in the shape rules' and
 * validate hooks' form "what is wrong; hint: how to fix it", split here
 * into msg and hint; file, layer and type may be NULL, line 0. */
void sr_diag_at(sr_diags *d, sr_severity sev, const char *file, int line, int col, const char *layer,
                const char *type, const char *fmt, ...) __attribute__((format(printf, 8, 9)));
/* The text form of g into buf (len bytes); returns buf. */
char *sr_diag_format(const sr_diag *g, char *buf, size_t len);
/* Appends every diagnostic of src to d (and its count of dropped ones). */
void sr_diags_move(sr_diags *d, sr_diags *src);
/* How many errors d holds (warnings and notes not counted). */
int sr_diags_errors(const sr_diags *d);
void sr_diags_free(sr_diags *d);

/* Overflow-checked size arithmetic: return 0 on overflow, 1 on success. */
static inline int sr_mul_ok(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}
static inline int sr_add_ok(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* malloc and calloc that treat a zero-size request as one byte, so NULL
 * always means out of memory; callers check for it. */
void *sr_xmalloc(size_t n);
void *sr_xcalloc(size_t n, size_t size);
char *sr_strdup(const char *s);

/* For "did you mean": the name in names[0..n) closest to s by
 * case-insensitive edit distance, or NULL if none is close enough to be a
 * plausible typo. */
const char *sr_closest(const char *s, const char *const *names, int n);

#endif
