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
 * A growable list of diagnostic lines, for checks that report every problem
 * rather than the first (shape inference, strict weight loading).
 */
typedef struct {
    char **line;
    int n, cap;
} sr_diags;

void sr_diag_add(sr_diags *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
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
