/*
 * faultinject.c - an LD_PRELOAD shim that makes the Nth call of a kind fail,
 * for tests/suite_fault.sh.
 *
 *   FAULT_MALLOC=N   the Nth malloc/calloc/realloc/aligned_alloc/
 *                    posix_memalign returns NULL (ENOMEM)
 *   FAULT_WRITE=N    the Nth output call (write, fwrite, fputs, fputc, putc,
 *                    fprintf, vfprintf, printf, puts; not to stderr) finds
 *                    the disk full: for stdio the stream's descriptor is
 *                    replaced by /dev/full first, so the failure surfaces
 *                    where buffering makes it surface, and every later
 *                    write to that file fails too; write(2) returns ENOSPC
 *   FAULT_FSYNC=N    the Nth fsync/fdatasync fails (EIO)
 *   FAULT_RENAME=N   the Nth rename/renameat fails (EPERM, as in a sticky
 *                    directory)
 *   FAULT_STICKY=1   every call of that kind from the Nth on fails
 *   FAULT_COUNT=FILE at exit, writes "malloc A\nwrite B\nfsync C\nrename D\n"
 *                    (calls seen) to FILE, so a test knows how many N to try
 *   FAULT_TRACE=1    prints the call stack of each failed call on stderr
 *                    (addresses; `addr2line -f -e seqrun 0x...` names them)
 *
 * Counts start when main() starts (the shim wraps __libc_start_main):
 * failures inside the dynamic loader or other libraries' constructors
 * would test those, not seqrun.  Calls are counted atomically across
 * threads.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { K_MALLOC, K_WRITE, K_FSYNC, K_RENAME, K_N };
static const char *const kname[K_N] = {"malloc", "write", "fsync", "rename"};
static const char *const kenv[K_N] = {"FAULT_MALLOC", "FAULT_WRITE", "FAULT_FSYNC", "FAULT_RENAME"};
static long target[K_N];
static long count[K_N];
static int sticky, armed, tracing;
static __thread int in_trace;

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

/* 1 if this call of kind k is to fail. */
static int hit(int k)
{
    if (!__atomic_load_n(&armed, __ATOMIC_ACQUIRE) || in_trace)
        return 0;
    long n = __atomic_add_fetch(&count[k], 1, __ATOMIC_ACQ_REL);
    int fail = target[k] > 0 && (n == target[k] || (sticky && n > target[k]));
    if (fail && tracing) {
        in_trace = 1;
        void *bt[40];
        int depth = backtrace(bt, 40);
        char head[64];
        int len = snprintf(head, sizeof head, "faultinject: %s %ld fails here:\n", kname[k], n);
        ssize_t w = write(STDERR_FILENO, head, (size_t)len);
        (void)w;
        backtrace_symbols_fd(bt, depth, STDERR_FILENO);
        in_trace = 0;
    }
    return fail;
}

static long envnum(const char *name)
{
    const char *v = getenv(name);
    return v ? strtol(v, NULL, 10) : 0;
}

static void report(void)
{
    const char *path = getenv("FAULT_COUNT");
    if (!path)
        return;
    armed = 0;
    char buf[256];
    int n = 0;
    for (int k = 0; k < K_N; k++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%s %ld\n", kname[k], count[k]);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        ssize_t w = write(fd, buf, (size_t)n);
        (void)w;
        close(fd);
    }
}

typedef int (*main_fn)(int, char **, char **);
static main_fn real_main;

static int wrapped_main(int argc, char **argv, char **envp)
{
    for (int k = 0; k < K_N; k++)
        target[k] = envnum(kenv[k]);
    sticky = envnum("FAULT_STICKY") != 0;
    tracing = envnum("FAULT_TRACE") != 0;
    if (tracing) { /* backtrace() loads libgcc on first use: not mid-failure */
        void *bt[2];
        backtrace(bt, 2);
    }
    atexit(report);
    __atomic_store_n(&armed, 1, __ATOMIC_RELEASE);
    return real_main(argc, argv, envp);
}

int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void), void (*fini)(void),
                      void (*rtld_fini)(void), void *stack_end)
{
    int (*real)(main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *) =
        (int (*)(main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *))
            dlsym(RTLD_NEXT, "__libc_start_main");
    real_main = main;
    return real(wrapped_main, argc, argv, init, fini, rtld_fini, stack_end);
}

/* ---- memory ---------------------------------------------------------------- */

void *malloc(size_t n)
{
    if (hit(K_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
    if (hit(K_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
    if (hit(K_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, n);
}

void *aligned_alloc(size_t al, size_t n)
{
    if (hit(K_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_memalign(al, n);
}

int posix_memalign(void **out, size_t al, size_t n)
{
    if (hit(K_MALLOC))
        return ENOMEM;
    void *p = __libc_memalign(al, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

/* ---- output ------------------------------------------------------------------ */

/* The next definition of name (libc's), looked up on first use. */
#define REAL(name)                                                   \
    static __typeof__(&name) real_##name;                            \
    if (!real_##name)                                                \
    real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

/* The disk fills up under stream f: its descriptor now leads to /dev/full. */
static void fill_disk(FILE *f)
{
    int fd = fileno(f);
    if (fd < 0)
        return;
    int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (full < 0)
        return;
    dup2(full, fd);
    close(full);
}

static int out_hit(FILE *f)
{
    return f != stderr && hit(K_WRITE);
}

ssize_t write(int fd, const void *p, size_t n)
{
    REAL(write);
    if (fd != STDERR_FILENO && hit(K_WRITE)) {
        errno = ENOSPC;
        return -1;
    }
    return real_write(fd, p, n);
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
    REAL(fwrite);
    if (out_hit(f))
        fill_disk(f);
    return real_fwrite(p, size, n, f);
}

int fputs(const char *s, FILE *f)
{
    REAL(fputs);
    if (out_hit(f))
        fill_disk(f);
    return real_fputs(s, f);
}

int fputc(int c, FILE *f)
{
    REAL(fputc);
    if (out_hit(f))
        fill_disk(f);
    return real_fputc(c, f);
}

int putc(int c, FILE *f)
{
    REAL(putc);
    if (out_hit(f))
        fill_disk(f);
    return real_putc(c, f);
}

int puts(const char *s)
{
    REAL(puts);
    if (out_hit(stdout))
        fill_disk(stdout);
    return real_puts(s);
}

int vfprintf(FILE *f, const char *fmt, va_list ap)
{
    REAL(vfprintf);
    if (out_hit(f))
        fill_disk(f);
    return real_vfprintf(f, fmt, ap);
}

int fprintf(FILE *f, const char *fmt, ...)
{
    REAL(vfprintf);
    if (out_hit(f))
        fill_disk(f);
    va_list ap;
    va_start(ap, fmt);
    int r = real_vfprintf(f, fmt, ap);
    va_end(ap);
    return r;
}

int printf(const char *fmt, ...)
{
    REAL(vfprintf);
    if (out_hit(stdout))
        fill_disk(stdout);
    va_list ap;
    va_start(ap, fmt);
    int r = real_vfprintf(stdout, fmt, ap);
    va_end(ap);
    return r;
}

/* ---- durability and replacement ------------------------------------------------ */

int fsync(int fd)
{
    REAL(fsync);
    if (hit(K_FSYNC)) {
        errno = EIO;
        return -1;
    }
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    REAL(fdatasync);
    if (hit(K_FSYNC)) {
        errno = EIO;
        return -1;
    }
    return real_fdatasync(fd);
}

int rename(const char *a, const char *b)
{
    REAL(rename);
    if (hit(K_RENAME)) {
        errno = EPERM;
        return -1;
    }
    return real_rename(a, b);
}

int renameat(int da, const char *a, int db, const char *b)
{
    REAL(renameat);
    if (hit(K_RENAME)) {
        errno = EPERM;
        return -1;
    }
    return real_renameat(da, a, db, b);
}
